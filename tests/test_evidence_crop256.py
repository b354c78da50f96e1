"""bench/evidence_crop256.py: the 256² record's numbers and its verdicts, on run folders made here by hand."""

import importlib.util
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from daformer_edu.data.classes import CLASSES, THING_CLASSES  # noqa: E402

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "evidence_crop256.py"
spec = importlib.util.spec_from_file_location("evidence_crop256", SCRIPT)
ev = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ev)


def per_class(thing: float, stuff: float) -> dict:
    """Every thing class at ``thing`` and every stuff class at ``stuff`` (percent)."""
    return {name: (thing if c in THING_CLASSES else stuff) for c, name in enumerate(CLASSES)}


def write_run(folder: Path, evals: dict, finished: bool, iterations: int = 1500, fd_cells=(0.02, 0.04)):
    """A run folder as the trainer leaves it: config.json, log.jsonl (train + val records), metrics.json if done."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"iterations": iterations}))
    lines = [{"iteration": i + 1, "split": "train", "loss": 1.0, "fd_cells": c} for i, c in enumerate(fd_cells)]
    for it, (thing, stuff) in sorted(evals.items()):
        iou = per_class(thing, stuff)
        miou = sum(iou.values()) / len(iou)
        lines.append({"iteration": it, "split": "val", "miou": miou, "per_class_iou": iou})
    (folder / "log.jsonl").write_text("\n".join(json.dumps(r) for r in lines) + "\n")
    if finished:
        (folder / "metrics.json").write_text(json.dumps({"wall_time_s": 600.0}))


def test_thing_and_stuff_means_skip_classes_without_an_iou():
    iou = per_class(10.0, 50.0)
    iou[CLASSES[THING_CLASSES[0]]] = None  # neither present nor predicted: 0/0
    iou[CLASSES[THING_CLASSES[1]]] = 19.0  # nine thing classes left: 8 × 10 + 19 = 99 → 11
    assert ev.mean_iou(iou, ev.THINGS) == pytest.approx(11.0)
    assert ev.mean_iou(iou, ev.STUFF) == pytest.approx(50.0)
    assert len(ev.THINGS) == 10 and len(ev.STUFF) == 9


def test_differences_are_taken_at_the_last_common_evaluation(tmp_path):
    write_run(tmp_path / "uda" / "seed0", {250: (8.0, 50.0), 500: (12.0, 60.0)}, finished=True, fd_cells=(0.02, 0.06))
    write_run(tmp_path / "uda-fd" / "seed0", {250: (6.0, 51.0)}, finished=False)
    found = ev.read_runs(tmp_path)
    assert found[("uda", 0)]["thing_cells"] == pytest.approx(0.04)
    it, d = ev.compare(found[("uda", 0)], found[("uda-fd", 0)])
    assert it == 250  # not 500: the ablated run has not reached it
    assert d["thing"] == pytest.approx(2.0) and d["stuff"] == pytest.approx(-1.0)
    # mIoU = (10 thing + 9 stuff) / 19: (80 + 450 - 60 - 459) / 19
    assert d["miou"] == pytest.approx((80 + 450 - 60 - 459) / 19)


@pytest.mark.parametrize(
    ("deltas", "spread", "word"),
    [
        ([2.0, 1.5], 1.0, "helps"),
        ([-2.0, -1.5], 1.0, "hurts"),
        ([2.0, 0.5], 1.0, "within the seed-to-seed spread"),
        ([2.0, -2.0], 1.0, "within the seed-to-seed spread"),
        ([2.0], 1.0, "no verdict"),
        ([2.0, 2.0], None, "no verdict"),
    ],
)
def test_verdict_rule(deltas, spread, word):
    assert ev.verdict(deltas, spread).startswith(word)


def test_record_reads_the_runs_and_gives_verdicts(tmp_path):
    # DAFormer: seeds 0 and 1 differ by 1.0 in thing-class IoU at 1500; FD adds 3 and 4 (> 1.0): helps;
    # warmup adds +2 on one seed and -2 on the other: within the spread.
    write_run(tmp_path / "uda" / "seed0", {1500: (15.0, 70.0)}, finished=True)
    write_run(tmp_path / "uda" / "seed1", {1500: (14.0, 70.0)}, finished=True)
    write_run(tmp_path / "uda-fd" / "seed0", {1500: (12.0, 70.0)}, finished=True, fd_cells=())
    write_run(tmp_path / "uda-fd" / "seed1", {1500: (10.0, 70.0)}, finished=True, fd_cells=())
    write_run(tmp_path / "uda-warmup" / "seed0", {1500: (13.0, 70.0)}, finished=True)
    write_run(tmp_path / "uda-warmup" / "seed1", {250: (3.0, 40.0)}, finished=False)
    text = ev.build(tmp_path)
    assert "**Runs finished: 5 of 6.**" in text
    assert "| FD | 0 | 1500 | +1.6 | +3.0 | +0.0 |" in text  # Δ mIoU = 10 × 3 / 19
    assert "| FD | 1 | 1500 | +2.1 | +4.0 | +0.0 |" in text
    assert "| warmup | 1 | no common evaluation yet | – | – | – |" in text
    assert "- **FD**, thing-class IoU: helps" in text
    assert "- **warmup**, thing-class IoU: no verdict yet" in text  # one seed compared
    assert "| uda − warmup | 1 | 250 of 1500 (not finished) |" in text
    assert "| uda − FD | 0 | 1500 of 1500 | 39.5 | 12.0 | 70.0 | – | 10 min |" in text  # (120 + 630) / 19


def test_figure_is_in_the_course_style(tmp_path):
    write_run(tmp_path / "uda" / "seed0", {250: (8.0, 50.0), 500: (12.0, 60.0)}, finished=True)
    write_run(tmp_path / "uda-fd" / "seed0", {250: (6.0, 51.0)}, finished=False)
    out = tmp_path / "curves.png"
    data = tmp_path / "evaluations.json"
    ev.main(["--runs", str(tmp_path), "--out", str(tmp_path / "record.md"), "--figure", str(out), "--json", str(data)])
    runs = json.loads(data.read_text())
    assert sorted(runs) == ["uda-fd/seed0", "uda/seed0"]
    assert [r["iteration"] for r in runs["uda/seed0"]["val_records"]] == [250, 500]
    assert runs["uda/seed0"]["val_records"][1]["per_class_iou"] == per_class(12.0, 60.0)
    from matplotlib import image

    assert image.imread(out).shape[1] >= 640
    fig = ev.plot_curves(ev.read_runs(tmp_path))
    assert fig.dpi >= 100
    assert all(ax.get_xlabel() and ax.get_ylabel() for ax in fig.axes)
    assert (tmp_path / "record.md").read_text().startswith("# Does FD act")


def test_seed_spread_is_the_largest_gap_in_the_second_half(tmp_path):
    # thing-class IoU gaps 5 (iteration 250, first half: not counted), 1, 2, 0.5 → 2; stuff gaps 0 → 0
    write_run(tmp_path / "uda" / "seed0", {250: (10, 50), 750: (12, 60), 1000: (14, 60), 1500: (15, 60)}, True)
    write_run(tmp_path / "uda" / "seed1", {250: (5, 50), 750: (13, 60), 1000: (12, 60), 1500: (15.5, 60)}, True)
    spread, at = ev.seed_spread(ev.read_runs(tmp_path), [0, 1])
    assert at == [750, 1000, 1500]
    assert spread["thing"] == pytest.approx(2.0) and spread["stuff"] == pytest.approx(0.0)
    assert spread["miou"] == pytest.approx(20 / 19)  # ten thing classes 2 apart, over 19 classes
    assert ev.seed_spread(ev.read_runs(tmp_path), [0]) == (None, [])


def test_signed_never_prints_minus_zero():
    assert [ev.signed(x) for x in (-0.04, 0.04, -0.06, 1.25)] == ["+0.0", "+0.0", "-0.1", "+1.2"]
