"""Benchmark: our MiT encoder against HF transformers' SegformerModel, and efficient attention vs resolution.

    OMP_NUM_THREADS=2 python bench/bench_encoder.py            # full run (a few minutes on 2 cores)
    OMP_NUM_THREADS=2 python bench/bench_encoder.py --quick    # about a minute

1. Forward time of MiT-B0 and MiT-B2 (batch 2, 512×512, CPU, float32, torch.no_grad) for our encoder and
   HF's ``SegformerModel`` holding the *same* weights (HF random init, converted with
   ``load_encoder_weights``; outputs are checked to agree first). The two run interleaved, alternating
   which goes first, after a warm-up; we print the median time of each and the median of the per-round
   ratios ours/HF (goal ≤ 1.0).
2. Peak memory of one forward: each model runs in a fresh subprocess (glibc ``MALLOC_MMAP_THRESHOLD_``
   fixed at 128 KiB so freed tensors leave the resident set), after one warm-up forward; just before the
   measured forward the kernel's resident-set high-water mark is reset (``/proc/self/clear_refs``), and we
   report ``VmHWM − VmRSS``: the largest increase of resident memory during the forward (activations +
   allocator slack; weights and input excluded). Fallback where that file is not writable: ``ru_maxrss``
   after minus resident size before (an upper bound, marked ``*``).
3. ``EfficientSelfAttention`` alone (C = 64, 1 head, batch 1, the shape of stage 1 of MiT-B2) for image
   sides 128 … 512 (token grids 32² … 128²) with R = 1 and R = 8, timed interleaved (min and median),
   measured memory as above, and the size the N × N/R² score matrix would have if it were stored
   (SDPA's fused CPU kernel never stores it).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time
import warnings

import torch

HF_CONFIGS = {
    "mit_b0": dict(hidden_sizes=[32, 64, 160, 256], depths=[2, 2, 2, 2]),
    "mit_b2": dict(hidden_sizes=[64, 128, 320, 512], depths=[3, 4, 6, 3]),
}


# --------------------------------------------------------------------------------------------- memory probe
def _status_kb(field: str) -> int:
    return int(re.search(rf"{field}:\s+(\d+)", open("/proc/self/status").read()).group(1))


def _measure_peak(fn) -> tuple[float, bool]:
    """Run ``fn()`` once; return (peak increase of resident memory in MiB, exact?)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM to the current VmRSS
        exact = True
    except OSError:
        exact = False
    before_rss = _status_kb("VmRSS")
    fn()
    peak = _status_kb("VmHWM") if exact else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return (peak - before_rss) / 1024, exact


def _child(args: list[str]) -> None:
    """Subprocess entry: measure one configuration and print one JSON line."""
    warnings.filterwarnings("ignore")
    torch.manual_seed(0)
    kind = args[0]
    if kind == "encoder":
        impl, name, side = args[1], args[2], int(args[3])
        if impl == "ours":
            from daformer_edu.models import mit

            model = getattr(mit, name)(layer_norm_eps=1e-5).eval()
        else:
            from transformers import SegformerConfig, SegformerModel

            model = SegformerModel(SegformerConfig(**HF_CONFIGS[name])).eval()
        x = torch.randn(2, 3, side, side)
        with torch.no_grad():
            model(x)  # warm-up: one-time allocations (thread pools, kernel caches) are not the model's
            mem, exact = _measure_peak(lambda: model(x))
        print(json.dumps({"mem_mib": mem, "exact": exact}))
    elif kind == "attn":
        from daformer_edu.models.mit import EfficientSelfAttention

        side, reps = int(args[1]), int(args[2])
        grid = side // 4
        x = torch.randn(1, grid * grid, 64)
        layers = {R: EfficientSelfAttention(64, 1, R).eval() for R in (1, 8)}
        result = {}
        with torch.no_grad():
            for R, attn in layers.items():
                attn(x, (grid, grid))  # warm-up
                mem, exact = _measure_peak(lambda: attn(x, (grid, grid)))
                result[R] = {"mem_mib": mem, "exact": exact, "times": []}
            for _ in range(reps):  # interleaved, so both see the same machine load
                for R, attn in layers.items():
                    t0 = time.perf_counter()
                    attn(x, (grid, grid))
                    result[R]["times"].append(time.perf_counter() - t0)
        for r in result.values():
            r["ms_min"], r["ms_median"] = 1e3 * min(r["times"]), 1e3 * statistics.median(r.pop("times"))
        print(json.dumps(result))


def _run_child(*args) -> dict:
    # Fixed mmap threshold: glibc then returns every large freed block to the OS, so resident memory
    # follows what the tensors really occupy instead of what malloc happened to keep cached.
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="131072")
    out = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--child", *map(str, args)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------- timing
def _time_encoders(name: str, side: int, rounds: int) -> dict:
    from transformers import SegformerConfig, SegformerModel

    from daformer_edu.models import load_encoder_weights, mit

    torch.manual_seed(0)
    hf = SegformerModel(SegformerConfig(**HF_CONFIGS[name])).eval()
    ours = load_encoder_weights(getattr(mit, name)(layer_norm_eps=1e-5), hf.state_dict()).eval()
    x = torch.randn(2, 3, side, side)
    with torch.no_grad():
        ref = hf(pixel_values=x, output_hidden_states=True).hidden_states  # warm-up + check
        mine = ours(x)
        diff = max((a - b).abs().max().item() for a, b in zip(mine, ref))
        t = {"ours": [], "hf": []}  # wall-clock seconds
        cpu = {"ours": [], "hf": []}  # CPU seconds of this process (less sensitive to being descheduled)
        runners = {"ours": lambda: ours(x), "hf": lambda: hf(pixel_values=x, output_hidden_states=True)}
        for r in range(rounds):
            order = ("ours", "hf") if r % 2 == 0 else ("hf", "ours")
            for key in order:
                t0, c0 = time.perf_counter(), time.process_time()
                runners[key]()
                t[key].append(time.perf_counter() - t0)
                cpu[key].append(time.process_time() - c0)
    ratios = [a / b for a, b in zip(t["ours"], t["hf"])]
    return {
        "ours_s": statistics.median(t["ours"]),
        "hf_s": statistics.median(t["hf"]),
        "ratio": statistics.median(ratios),
        "ratio_min": min(t["ours"]) / min(t["hf"]),
        "ratio_cpu": statistics.median(cpu["ours"]) / statistics.median(cpu["hf"]),
        "max_abs_diff": diff,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and resolutions (about a minute)")
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child)
        return
    warnings.filterwarnings("ignore")
    side = 512
    rounds = {"mit_b0": 3, "mit_b2": 2} if args.quick else {"mit_b0": 9, "mit_b2": 7}
    sides = [128, 256] if args.quick else [128, 256, 384, 512]
    print(
        f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, {'quick' if args.quick else 'full'} run, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (other processes make timings noisy)"
    )

    print(f"\n== MiT forward, batch 2, {side}x{side}, float32, no_grad: ours vs HF SegformerModel (same weights) ==")
    print(
        f"{'model':<8}{'rounds':>7}{'ours [s]':>10}{'HF [s]':>10}{'ours/HF':>9}{'min/min':>9}{'cpu':>7}"
        f"{'ours MiB':>10}{'HF MiB':>9}{'max|diff|':>11}"
    )
    for name in ("mit_b0", "mit_b2"):
        r = _time_encoders(name, side, rounds[name])
        m_ours = _run_child("encoder", "ours", name, side)
        m_hf = _run_child("encoder", "hf", name, side)
        star = "" if m_ours["exact"] and m_hf["exact"] else "*"
        print(
            f"{name:<8}{rounds[name]:>7}{r['ours_s']:>10.3f}{r['hf_s']:>10.3f}{r['ratio']:>9.3f}"
            f"{r['ratio_min']:>9.3f}{r['ratio_cpu']:>7.3f}"
            f"{m_ours['mem_mib']:>9.0f}{star}{m_hf['mem_mib']:>8.0f}{star}"
            f"{r['max_abs_diff']:>11.1e}"
        )
    print(
        "(ours/HF = median of per-round wall-clock ratios; min/min = ratio of the fastest rounds; cpu = ratio of "
        "median CPU time;\n MiB = peak increase of resident memory during one forward, fresh process each)"
    )

    print("\n== EfficientSelfAttention alone: C=64, 1 head, batch 1 (stage-1 shape), time and memory vs resolution ==")
    print(
        f"{'image':>7}{'tokens N':>10}{'R':>3}{'keys M':>8}{'min [ms]':>10}{'median [ms]':>13}{'mem MiB':>9}"
        f"{'N*M scores MiB':>16}"
    )
    for s in sides:
        reps = {128: 50, 256: 20, 384: 5}.get(s, 3)  # small calls are the most exposed to scheduling noise
        res = _run_child("attn", s, reps)
        for R in (1, 8):
            r = res[str(R)]
            N, M = (s // 4) ** 2, ((s // 4) // R) ** 2
            star = "" if r["exact"] else "*"
            print(
                f"{s:>7}{N:>10}{R:>3}{M:>8}{r['ms_min']:>10.1f}{r['ms_median']:>13.1f}{r['mem_mib']:>8.1f}{star}"
                f"{N * M * 4 / 2**20:>16.1f}"
            )
    print(
        "(R = 1 and R = 8 timed interleaved in one process; N*M scores MiB = the float32 attention matrix a naive "
        "softmax(QK^T)V would store;\n SDPA's fused CPU kernel works in tiles and never stores it, so measured "
        "memory grows like N, not N*M)"
    )


if __name__ == "__main__":
    main()
