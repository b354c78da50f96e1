#!/bin/bash
# The GPU checks of the adaptation run, in one short script (≈ 2 min on an H200):
#   1. seconds per gpu-full iteration (MiT-B5, 512², bf16) and where they go, peak GPU memory;
#   2. predict() with a CUDA model and a CPU image;
#   3. notebook 09 headless with papermill, preset auto (→ gpu-full on CUDA), a few iterations.
# Usage (from the repository root, package and papermill installed):  bash bench/gpu_checks.sh [OUT]
set -euo pipefail
OUT=${1:-${OUT:-runs/gpu_checks}}
mkdir -p "$OUT"
export TQDM_DISABLE=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python bench/bench_uda_step.py --preset gpu-full --iters 30 --warmup 10 --workers 8 --images 100 | tee "$OUT/gpu_full_bench.txt"
python - <<'P' | tee "$OUT/predict_check.txt"
import torch
from daformer_edu.metrics import predict
model, x = torch.nn.Conv2d(3, 4, 1).eval(), torch.randn(2, 3, 8, 8)
cpu, out = predict(model, x), predict(model.cuda(), x)
print("predict(cuda model, cpu image):", out.device, "| equal to the CPU result:", torch.equal(out, cpu))
assert out.device.type == "cpu" and torch.equal(out, cpu)
P
python -m papermill notebooks/09_full_uda.ipynb "$OUT/09_full_uda.ipynb" -k python3 -p preset auto \
    -p iterations 20 -p val_length 50 -p run_modes "source-only,uda" -p out_dir "$OUT/09_runs"
echo "all GPU checks passed; outputs in $OUT"
