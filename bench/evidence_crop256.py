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

The answer is read from the numbers, not written by hand: per seed, what each component adds, Δ = IoU(uda) −
IoU(uda − component) at the last iteration both runs evaluated, set against the seed-to-seed spread of DAFormer
itself (the largest |IoU(uda, seed 0) − IoU(uda, seed 1)| over their common evaluations in the run's second
half). A component *helps* (or *hurts*) when its Δ is above the spread (or below minus the spread) for every seed;
otherwise its effect is within the seed-to-seed spread. ``--figure`` draws the evaluations of every run (mIoU and thing-class IoU against iteration).

    python bench/evidence_crop256.py --runs runs/crop256 --out bench/results/cpu-demo-crop256/record.md \
        --figure bench/results/cpu-demo-crop256/curves.png --json bench/results/cpu-demo-crop256/evaluations.json
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
    """One run folder: the iteration it reached, its planned total, whether it finished, its wall time, the mean
    thing-cell share, its evaluations as logged (``val_records``) and, per evaluated iteration, mIoU and the
    thing- and stuff-class means (``by_iteration``). ``None`` when it has no log yet."""
    log = folder / "log.jsonl"
    if not log.exists():
        return None
    records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    evals = [r for r in records if r.get("split") == "val"]
    cells = [r["fd_cells"] for r in records if r.get("split") == "train" and "fd_cells" in r]
    metrics = folder / "metrics.json"
    return {
        "iteration": max((r["iteration"] for r in records), default=0),
        "total": json.loads((folder / "config.json").read_text())["iterations"],
        "finished": metrics.exists(),
        "wall_time_s": json.loads(metrics.read_text()).get("wall_time_s") if metrics.exists() else None,
        "thing_cells": statistics.mean(cells) if cells else None,
        "val_records": evals,
        "by_iteration": {
            r["iteration"]: {
                "miou": r["miou"],
                "thing": mean_iou(r["per_class_iou"], THINGS),
                "stuff": mean_iou(r["per_class_iou"], STUFF),
            }
            for r in evals
        },
    }


def read_runs(runs: Path) -> dict[tuple[str, int], dict]:
    """Every run folder under ``runs`` (``VARIANT/seedS``) that has a log, by ``(variant, seed)``."""
    found = {}
    for v in VARIANTS:
        for seed_dir in sorted((runs / v).glob("seed*")):
            r = read_run(seed_dir)
            if r is not None:
                found[(v, int(seed_dir.name[4:]))] = r
    return found


def compare(a: dict, b: dict) -> tuple[int, dict] | None:
    """``a`` minus ``b`` at the last iteration both runs evaluated: ``(iteration, {"miou", "thing", "stuff"})``,
    or ``None`` when they share no evaluation."""
    common = sorted(set(a["by_iteration"]) & set(b["by_iteration"]))
    if not common:
        return None
    it = common[-1]
    return it, {k: a["by_iteration"][it][k] - b["by_iteration"][it][k] for k in ("miou", "thing", "stuff")}


def signed(x: float) -> str:
    """``x`` with its sign at one decimal; a value that rounds to zero prints ``+0.0``, never ``-0.0``."""
    return f"{round(x, 1) + 0.0:+.1f}"


def verdict(deltas: list[float], spread: float | None) -> str:
    """``helps`` / ``hurts`` when every seed's Δ lies above ``spread`` / below ``-spread``; otherwise the effect is
    within the seed-to-seed spread. Fewer than two seeds or no spread: no verdict."""
    if len(deltas) < 2 or spread is None:
        return "no verdict yet (fewer than two seeds compared)"
    if all(d > spread for d in deltas):
        return f"helps (every seed's Δ above the seed-to-seed spread {spread:.1f})"
    if all(d < -spread for d in deltas):
        return f"hurts (every seed's Δ below minus the seed-to-seed spread {spread:.1f})"
    return f"within the seed-to-seed spread ({spread:.1f}): no effect this experiment can tell apart from noise"


def seed_spread(found: dict, seeds: list[int]) -> tuple[dict | None, list[int]]:
    """How far two DAFormer seeds lie apart: per quantity the largest |uda seed a − uda seed b| over their common
    evaluations in the second half of the run (one difference alone is a poor measure of noise), and those
    iterations; ``(None, [])`` before two seeds share such an evaluation."""
    if len(seeds) < 2:
        return None, []
    a, b = found[("uda", seeds[0])], found[("uda", seeds[1])]
    at = sorted(i for i in set(a["by_iteration"]) & set(b["by_iteration"]) if i >= a["total"] / 2)
    if not at:
        return None, []
    keys = ("miou", "thing", "stuff")
    return {k: max(abs(a["by_iteration"][i][k] - b["by_iteration"][i][k]) for i in at) for k in keys}, at


def differences(found: dict) -> list[str]:
    """The section that answers the question: per component and seed, Δ = uda − (uda − component)."""
    seeds = sorted({s for (v, s) in found if v == "uda"})
    spread, at = seed_spread(found, seeds)
    lines = [
        "Δ = IoU(uda) − IoU(uda − component) at the last iteration both runs evaluated (positive: the component",
        "helps). The seed-to-seed spread is the largest |uda seed 0 − uda seed 1| over their common evaluations in the",
        "second half of the run"
        + (
            f" (iterations {', '.join(map(str, at))}): mIoU {spread['miou']:.1f}, thing-class IoU {spread['thing']:.1f}."
            if spread
            else ": not yet measured."
        ),
        "",
        "| component | seed | compared at iteration | Δ mIoU | Δ thing-class IoU | Δ stuff-class IoU |",
        "|---|---|---|---|---|---|",
    ]
    verdicts = []
    for v, component in (("uda-fd", "FD"), ("uda-warmup", "warmup")):
        deltas = {"miou": [], "thing": []}
        for s in seeds:
            if (v, s) not in found or (c := compare(found[("uda", s)], found[(v, s)])) is None:
                lines.append(f"| {component} | {s} | no common evaluation yet | – | – | – |")
                continue
            it, d = c
            deltas["miou"].append(d["miou"])
            deltas["thing"].append(d["thing"])
            lines.append(
                f"| {component} | {s} | {it} | {signed(d['miou'])} | {signed(d['thing'])} | {signed(d['stuff'])} |"
            )
        verdicts.append(
            f"- **{component}**, thing-class IoU: {verdict(deltas['thing'], spread and spread['thing'])}; "
            f"mIoU: {verdict(deltas['miou'], spread and spread['miou'])}."
        )
    return [*lines, "", "Verdicts (the rule in `bench/evidence_crop256.py`):", "", *verdicts]


def plot_curves(found: dict):
    """Target-val mIoU and thing-class IoU at each evaluation of every run: colour = variant, line style = seed."""
    from daformer_edu.viz.common import SERIES_COLOURS, finish_figure, label_axes, new_figure, place_legend

    fig, axes = new_figure(1, 2, panel=(3.6, 2.8), extra=1.6)
    styles = ("-", "--", ":")
    for (v, s), r in sorted(found.items()):
        its = sorted(r["by_iteration"])
        if not its:
            continue
        colour = SERIES_COLOURS[list(VARIANTS).index(v)]
        for ax, key in zip(axes[0], ("miou", "thing")):
            ax.plot(
                its,
                [r["by_iteration"][i][key] for i in its],
                styles[s % 3],
                color=colour,
                marker="o",
                markersize=3,
                label=f"{VARIANTS[v]}, seed {s}",
            )
    label_axes(axes[0, 0], "iteration", "target-val mIoU (%)", "all 19 classes")
    label_axes(axes[0, 1], "iteration", "thing-class IoU (%)", "the ten thing classes")
    place_legend(axes[0, 1], "right")
    return finish_figure(fig)


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
    if "uda" in data:
        seeds = sorted(data["uda"]["per_class_iou"])
        uda_thing = {s: mean_iou(data["uda"]["per_class_iou"][s], THINGS) for s in seeds}
        lines += ["", "Δ thing-class IoU = uda − (uda − component) per seed at 128²:", ""]
        for v, component in (("uda-fd", "FD"), ("uda-warmup", "warmup")):
            if v in data:
                d = [
                    uda_thing[s] - mean_iou(data[v]["per_class_iou"][s], THINGS)
                    for s in seeds
                    if s in data[v]["per_class_iou"]
                ]
                lines.append(f"- {component}: " + ", ".join(signed(x) for x in d))
    return lines


def build(runs: Path, planned_seeds: tuple[int, ...] = (0, 1)) -> str:
    found = read_runs(runs)
    lines = [
        "| variant | seed | iteration reached | target mIoU | thing-class IoU | stuff-class IoU | thing cells | wall time |",
        "|---|---|---|---|---|---|---|---|",
    ]
    curves = []
    for v, label in VARIANTS.items():
        for s in planned_seeds:
            r = found.get((v, s))
            if r is None or not r["by_iteration"]:
                reached = f"{r['iteration']} of {r['total']}, no evaluation yet" if r else "not started"
                lines.append(f"| {label} | {s} | {reached} | – | – | – | – | – |")
                continue
            last = r["by_iteration"][max(r["by_iteration"])]
            reached = f"{r['iteration']} of {r['total']}" + ("" if r["finished"] else " (not finished)")
            cells = "–" if r["thing_cells"] is None else f"{r['thing_cells']:.1%}"
            wall = "–" if r["wall_time_s"] is None else f"{r['wall_time_s'] / 60:.0f} min"
            lines.append(
                f"| {label} | {s} | {reached} | {last['miou']:.1f} | {last['thing']:.1f} | {last['stuff']:.1f} | "
                f"{cells} | {wall} |"
            )
            curves.append(
                f"- {label}, seed {s}: " + ", ".join(f"{i}: {e['miou']:.1f}" for i, e in r["by_iteration"].items())
            )
    finished = sum(1 for v in VARIANTS for s in planned_seeds if found.get((v, s), {}).get("finished"))
    planned = len(VARIANTS) * len(planned_seeds)
    status = f"**Runs finished: {finished} of {planned}.**" + (
        ""
        if finished == planned
        else " The others resume with the command above (`bench/ablate.py` skips "
        "finished runs and continues stopped ones from their last checkpoint); compare variants at the same iteration."
    )
    header = [
        f"# Does FD act, and does warmup matter, when the crop has room for things? (cpu-demo at 256², {date.today()})",
        "",
        "`cpu-demo` (MiT-B0 from the embedded weights, 1,500 iterations) with 256² crops of 256×512 renders instead",
        "of 128² of 128×256: uda vs uda − FD vs uda − warmup, seeds " + " and ".join(map(str, planned_seeds)) + ".",
        "Runs: one thread each (`OMP_NUM_THREADS=1`), sharing a 2-core x86-64 VM (AMD EPYC) with other runs and jobs, so",
        "their wall times say nothing about speed. Command:",
        "",
        "    OMP_NUM_THREADS=1 python bench/ablate.py --preset cpu-demo --set image_size=256x512 crop_size=256x256 \\",
        "        --variants uda uda-fd uda-warmup --seeds 0 1 --out runs/crop256",
        "    python bench/evidence_crop256.py --runs runs/crop256 --out THIS_FILE --figure curves.png --json evaluations.json",
        "",
        "Thing-class IoU: the mean IoU of the ten thing classes FD acts on; thing cells: the share of the source crops'",
        "stride-32 cells in FD's thing mask (r = 0.75), averaged over the logged iterations (FD off logs none). The runs",
        "were made with the library at commit ada11f1, whose training runs are bit-identical to this version's",
        "(30-iteration cpu-demo runs compared). Everything below is generated from the runs' `log.jsonl` by the command.",
        "",
        status,
        "",
    ]
    out = [
        *header,
        "## What FD and warmup add at 256²",
        "",
        *differences(found),
        "",
        "## 256² crops of 256×512 renders",
        "",
        *lines,
        "",
        "Target-val mIoU at each evaluation (figure: `curves.png`):",
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
    p.add_argument("--figure", type=Path, default=None, help="also draw every run's evaluations into this PNG")
    p.add_argument("--json", type=Path, default=None, help="also write every run's evaluations (per class) here")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="the seeds the experiment plans (default 0 1)")
    args = p.parse_args(argv)
    text = build(args.runs, tuple(args.seeds))
    if args.json:
        runs = {
            f"{v}/seed{s}": {k: r[k] for k in ("iteration", "total", "finished", "thing_cells", "val_records")}
            for (v, s), r in read_runs(args.runs).items()
        }
        args.json.write_text(json.dumps(runs, indent=1) + "\n")
    if args.figure:
        plot_curves(read_runs(args.runs)).savefig(args.figure)
    if args.out:
        args.out.write_text(text)
    else:
        print(text, end="")


if __name__ == "__main__":
    main()
