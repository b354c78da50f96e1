"""The ablation table of DAFormer's strategies on one preset: seeds × {source-only, uda, uda − RCS, − FD, − warmup,
− ClassMix, − strong augmentation, oracle}.

    python bench/ablate.py                                   # cpu-demo, seeds 0 1 2, all eight rows
    python bench/ablate.py --seeds 0 --variants source-only uda
    python bench/ablate.py --table-only                      # print the table of what has finished
    python bench/ablate.py --seeds 0 --jobs 12 --set device=cuda amp=fp32 --variants source-only uda \\
        uda-tau0.968 uda-lr1e-3 source-only-lr1e-3 ...       # many small runs side by side on one GPU

Every run is an ordinary ``Trainer`` run in ``--out/<variant>/seed<k>`` (``log.jsonl``, ``checkpoint.pt``,
``metrics.json``). A finished run (``metrics.json`` present) is not repeated; a killed one resumes from its
checkpoint — so the table can be filled by several invocations, one after the other. The table (target-val mIoU, mean ± sample std
over the seeds that finished, and each seed's value; the JSON also keeps every run's per-class IoU and minutes)
is printed and written to ``--out/ablation.md`` and
``--out/ablation.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from daformer_edu.config import make_config, parse_overrides
from daformer_edu.trainer import Trainer

# variant → (mode, overrides): each "uda − X" switches exactly one strategy off.
VARIANTS: dict[str, tuple[str, dict]] = {
    "source-only": ("source-only", {}),
    "uda": ("uda", {}),
    "uda-rcs": ("uda", {"rcs": False}),
    "uda-fd": ("uda", {"fd": False}),
    "uda-warmup": ("uda", {"warmup": False}),
    "uda-classmix": ("uda", {"classmix": False}),
    "uda-strong-aug": ("uda", {"strong_augment": False}),  # ClassMix kept, colour jitter + blur off
    "uda-batch-qt": ("uda", {"pseudo_weight_form": "official"}),
    "oracle": ("oracle", {}),
    # Hyper-parameter probes of the cpu-demo preset (not the paper's ablations): does any of them widen the gap?
    "uda-tau0.968": ("uda", {"pseudo_threshold": 0.968}),
    "uda-ema0.999": ("uda", {"ema_alpha": 0.999}),
    "uda-bonnet": ("uda", {"ignore_bottom": 17}),  # the target's ego bonnet: 8–13 % of 128 rows
    "uda-lr1e-3": ("uda", {"lr": 1e-3}),
    "source-only-lr1e-3": ("source-only", {"lr": 1e-3}),
    "uda-2k": ("uda", {"iterations": 2000}),
    "source-only-2k": ("source-only", {"iterations": 2000}),
}
DEFAULT = ["source-only", "uda", "uda-rcs", "uda-fd", "uda-warmup", "uda-classmix", "uda-strong-aug", "oracle"]


def run_one(preset: str, variant: str, seed: int, out: Path, extra: dict) -> dict:
    folder = out / variant / f"seed{seed}"
    done = folder / "metrics.json"
    if done.exists():
        return json.loads(done.read_text())
    mode, overrides = VARIANTS[variant]
    resume = str(folder) if (folder / "checkpoint.pt").exists() else None
    cfg = make_config(
        preset, **{**extra, **overrides, "mode": mode, "seed": seed, "out": str(folder), "resume": resume}
    )
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = Trainer(cfg).fit()
    print(
        f"{variant:<14} seed {seed}: target mIoU {result['final_miou']:6.2f}  ({time.perf_counter() - t:.0f} s)",
        flush=True,
    )
    return result


def table(out: Path, variants: list[str], seeds: list[int]) -> str:
    rows, data = [], {}
    for v in variants:
        vals, per_class, minutes = {}, {}, {}
        for s in seeds:
            f = out / v / f"seed{s}" / "metrics.json"
            if f.exists():
                m = json.loads(f.read_text())
                vals[s], per_class[s] = m["final_miou"], m["per_class_iou"]
                minutes[s] = round(m["wall_time_s"] / 60, 1)
        if not vals:
            continue
        xs = list(vals.values())
        mean = statistics.fmean(xs)
        std = statistics.stdev(xs) if len(xs) > 1 else None
        data[v] = {"mean": mean, "std": std, "per_seed": vals, "per_class_iou": per_class, "minutes": minutes}
        per = ", ".join(f"{vals[s]:.1f}" for s in sorted(vals))
        spread = f" ± {std:.1f}" if len(xs) > 1 else ""
        rows.append(f"| {v} | {mean:.1f}{spread} | {len(xs)} | {per} |")
    head = "| variant | target mIoU (mean ± std) | seeds | per seed |\n|---|---|---|---|"
    text = head + "\n" + "\n".join(rows)
    (out / "ablation.md").write_text(text + "\n")
    (out / "ablation.json").write_text(json.dumps(data, indent=2) + "\n")
    return text


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default="cpu-demo")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--variants", nargs="+", default=DEFAULT, choices=list(VARIANTS))
    p.add_argument("--iterations", type=int, default=None, help="override the preset's iterations")
    p.add_argument("--out", default=None, help="default: runs/ablate-<preset>")
    p.add_argument(
        "--set", nargs="*", default=[], metavar="FIELD=VALUE", help="overrides for every run, e.g. device=cuda amp=fp32"
    )
    p.add_argument("--jobs", type=int, default=1, help="runs side by side, each in its own process (default 1)")
    p.add_argument("--table-only", action="store_true")
    args = p.parse_args(argv)
    out = Path(args.out or f"runs/ablate-{args.preset}")
    out.mkdir(parents=True, exist_ok=True)
    extra = {"progress": False}
    try:
        extra.update(parse_overrides(args.set))
    except ValueError as err:
        p.error(str(err))
    if args.iterations is not None:
        extra["iterations"] = args.iterations
    jobs = [(seed, v) for seed in args.seeds for v in args.variants]  # seed-major: a partial table already compares

    def child(job):  # one run in its own process: this script again, with one seed and one variant
        seed, v = job
        cmd = [
            sys.executable,
            __file__,
            "--preset",
            args.preset,
            "--seeds",
            str(seed),
            "--variants",
            v,
            "--out",
            str(out),
            "--set",
            *args.set,
        ]
        if args.iterations is not None:
            cmd += ["--iterations", str(args.iterations)]
        # one thread per run unless told otherwise: two-thread runs side by side on two cores wait on each other
        env = {**os.environ}
        env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // args.jobs)))
        subprocess.run(cmd, check=False, env=env)

    if not args.table_only and args.jobs <= 1:
        for seed, v in jobs:
            run_one(args.preset, v, seed, out, extra)
    elif not args.table_only:
        with ThreadPoolExecutor(args.jobs) as pool:
            list(pool.map(child, jobs))
    print(table(out, args.variants, args.seeds))


if __name__ == "__main__":
    main()
