#!/bin/bash
# The GPU checks of the adaptation run, in one short script for one lent GPU (about 10 min on an H200):
#   1. seconds per gpu-full iteration (MiT-B5, 512²) in fp32 (TF32 matmuls allowed) and bf16, and where they go;
#   2. peak memory and time for MiT-B3/B4/B5 × crop 512/384 × fp32/bf16 (10 timed iterations each): what fits
#      11 / 16 / 24 GB — compare with bench/results/gpu_estimates_2026-12-03.md, which estimated them on a CPU;
#   3. gpu-demo (the embedded world at the paper's geometry, MiT-B0 from the embedded weights) seconds per iteration,
#      and the expected time of its three runs;
#   4. predict() with a CUDA model and a CPU image;
#   5. notebook 09 headless with papermill, preset auto (→ gpu-demo on CUDA without real data), a few iterations.
# Usage (from the repository root, package and papermill installed):  bash bench/gpu_checks.sh [OUT]
# The full gpu-demo runs (about an hour) are a separate command:
#   papermill notebooks/09_full_uda.ipynb OUT/09_gpu_demo.ipynb -k python3 --log-output -p preset gpu-demo
set -euo pipefail
OUT=${1:-${OUT:-runs/gpu_checks}}
mkdir -p "$OUT"
export TQDM_DISABLE=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
for amp in fp32 bf16; do
    python bench/bench_uda_step.py --preset gpu-full --iters 30 --warmup 10 --workers 8 --images 100 \
        --set amp=$amp | tee "$OUT/gpu_full_$amp.txt"
done
for enc in mit_b3 mit_b4 mit_b5; do
    for crop in 512 384; do
        for amp in fp32 bf16; do
            python bench/bench_uda_step.py --preset gpu-full --iters 10 --warmup 5 --workers 8 --images 40 \
                --set encoder=$enc crop_size=${crop}x${crop} amp=$amp 2>&1 | grep -E "seconds per iteration|peak GPU" \
                | sed "s/^/$enc $crop $amp: /" | tee -a "$OUT/memory_table.txt" || echo "$enc $crop $amp: failed (out of memory?)" | tee -a "$OUT/memory_table.txt"
        done
    done
done
python bench/bench_uda_step.py --preset gpu-demo --iters 30 --warmup 10 --workers 12 --images 100 | tee "$OUT/gpu_demo.txt"
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
