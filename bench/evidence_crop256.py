"""Does FD act, and does warmup matter, when the crop has room for things? The record of ``cpu-demo`` at 256² crops.

The runs (each an ordinary ``Trainer`` run that ``bench/ablate.py`` resumes from its checkpoint when killed)::

    OMP_NUM_THREADS=1 python bench/ablate.py --preset cpu-demo --set image_size=256x512 crop_size=256x256 \\
        --variants uda uda-fd uda-warmup --seeds 0 1 --out runs/crop256

This script reads what has been run so far and prints (or writes, ``--out FILE``) the record: per run the
target-val mIoU, the mean IoU of the ten thing classes (``THING_CLASSES``: the classes FD acts on) and of the nine
stuff classes, at the last evaluation reached (a run that did not reach its last iteration says so), and the share
of the crops' stride-32 cells that are thing cells (``fd_cells`` in ``log.jsonl``: the fraction of cells of the
thing mask, Hoyer et al. 2022 Eq. 8, over the source crops of each iteration), beside the 128² record
(``bench/results/cpu-demo/ablation.json``).

    python bench/evidence_crop256.py --runs runs/crop256 --out bench/results/cpu-demo-crop256/record.md
"""

from __future__ import annotations

import argparse
import json
import statistics
from datetime import date
from pathlib import Path

from daformer_edu.data.classes import CLASSES, THING_CLASSES

VARIANTS = {"uda": "uda (DAFormer)", "uda-fd": "uda − FD", "uda-warmup": "uda − warmup"}
THINGS = [CLASSES[c] for c in THING_CLASSES]
STUFF = [name for c, name in enumerate(CLASSES) if c not in THING_CLASSES]
RECORD_128 = Path(__file__).resolve().parent / "results" / "cpu-demo" / "ablation.json"


def mean_iou(per_class: dict, names: list[str]) -> float:
    """The mean of the IoUs (percent) of the named classes: mIoU restricted to a class subset. A class that neither
    occurs nor is predicted has no IoU (``None``, 0/0) and is skipped, as ``metrics`` skips it."""
    return statistics.mean(per_class[n] for n in names if per_class[n] is not None)


def read_run(folder: Path) -> dict | None:
    """The last evaluation of one run folder, its iteration, the planned total and the mean thing-cell share."""
    log = folder / "log.jsonl"
    if not log.exists():
        return None
    records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    evals = [r for r in records if r.get("split") == "val"]
    train = [r for r in records if r.get("split") == "train"]
    total = json.loads((folder / "config.json").read_text())["iterations"]
    cells = [r["fd_cells"] for r in train if "fd_cells" in r]
    if not evals:
        return {"iteration": train[-1]["iteration"] if train else 0, "total": total, "evals": []}
    last = evals[-1]
    return {
        "iteration": last["iteration"],
        "total": total,
        "finished": (folder / "metrics.json").exists(),
        "miou": last["miou"],
        "thing": mean_iou(last["per_class_iou"], THINGS),
        "stuff": mean_iou(last["per_class_iou"], STUFF),
        "thing_cells": statistics.mean(cells) if cells else None,
        "evals": [(r["iteration"], r["miou"]) for r in evals],
    }


def record_128() -> list[str]:
    """The same three variants at 128² crops (3 seeds each, the committed ablation)."""
    if not RECORD_128.exists():
        return []
    data = json.loads(RECORD_128.read_text())
    lines = ["| variant | seeds | mIoU (per seed) | thing-class IoU (per seed) |", "|---|---|---|---|"]
    for v, label in VARIANTS.items():
        if v not in data:
            continue
        seeds = sorted(data[v]["per_class_iou"])
        miou = ", ".join(f"{data[v]['per_seed'][s]:.1f}" for s in seeds)
        thing = ", ".join(f"{mean_iou(data[v]['per_class_iou'][s], THINGS):.1f}" for s in seeds)
        lines.append(f"| {label} | {len(seeds)} | {miou} | {thing} |")
    return lines


def build(runs: Path) -> str:
    lines = [
        "| variant | seed | iteration reached | target mIoU | thing-class IoU | stuff-class IoU | thing cells |",
        "|---|---|---|---|---|---|---|",
    ]
    curves = []
    for v, label in VARIANTS.items():
        for seed_dir in sorted((runs / v).glob("seed*")):
            r = read_run(seed_dir)
            if r is None or not r["evals"]:
                reached = f"{r['iteration']} of {r['total']}, no evaluation yet" if r else "not started"
                lines.append(f"| {label} | {seed_dir.name[4:]} | {reached} | – | – | – | – |")
                continue
            reached = f"{r['iteration']} of {r['total']}" + ("" if r["finished"] else " (stopped)")
            cells = "–" if r["thing_cells"] is None else f"{r['thing_cells']:.1%}"
            lines.append(
                f"| {label} | {seed_dir.name[4:]} | {reached} | {r['miou']:.1f} | {r['thing']:.1f} | "
                f"{r['stuff']:.1f} | {cells} |"
            )
            curves.append(f"- {label}, seed {seed_dir.name[4:]}: " + ", ".join(f"{i}: {m:.1f}" for i, m in r["evals"]))
    header = [
        f"# Does FD act, and does warmup matter, when the crop has room for things? (cpu-demo at 256², {date.today()})",
        "",
        "`cpu-demo` (MiT-B0 from the embedded weights, 1,500 iterations) with 256² crops of 256×512 renders instead",
        "of 128² of 128×256: uda vs uda − FD vs uda − warmup. Runs: one thread each (`OMP_NUM_THREADS=1`) on a",
        "2-core x86-64 VM (AMD EPYC) shared with other jobs, so run times say nothing about speed. Command:",
        "",
        "    OMP_NUM_THREADS=1 python bench/ablate.py --preset cpu-demo --set image_size=256x512 crop_size=256x256 \\",
        "        --variants uda uda-fd uda-warmup --seeds 0 1 --out runs/crop256",
        "    python bench/evidence_crop256.py --runs runs/crop256 --out THIS_FILE",
        "",
        "A run marked *stopped* did not reach its last iteration (`bench/ablate.py` resumes it from its last",
        "checkpoint); compare variants at the same iteration (the learning rate at iteration t depends on t and the",
        "1,500 total only, so a stopped run is the full run up to t). Thing-class IoU: the mean IoU of the ten thing",
        "classes FD acts on; thing cells: the share of the source crops' stride-32 cells in FD's thing mask (r = 0.75),",
        "averaged over the logged iterations (FD off logs none). The runs were made with the library at commit",
        "ada11f1, whose training runs are bit-identical to this version's (30-iteration cpu-demo runs compared).",
        "",
    ]
    out = [
        *header,
        "## 256² crops of 256×512 renders",
        "",
        *lines,
        "",
        "Target-val mIoU at each evaluation:",
        "",
        *curves,
    ]
    old = record_128()
    if old:
        out += [
            "",
            "## For comparison: 128² crops of 128×256 renders (`bench/results/cpu-demo/ablation.json`)",
            "",
            *old,
        ]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=Path, default=Path("runs/crop256"), help="the --out folder of bench/ablate.py")
    p.add_argument("--out", type=Path, default=None, help="write the tables here instead of printing them")
    args = p.parse_args(argv)
    text = build(args.runs)
    if args.out:
        args.out.write_text(text)
    else:
        print(text, end="")


if __name__ == "__main__":
    main()
