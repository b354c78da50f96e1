"""The shipped records: every name loads, and each file's summaries are what its per-seed numbers say."""

import numpy as np
import pytest

from daformer_edu.records import RECORDS, load_record


def test_every_record_loads_and_an_unknown_name_is_refused():
    for name in RECORDS:
        assert isinstance(load_record(name), dict) and load_record(name), name
    with pytest.raises(ValueError, match="ships"):
        load_record("cpu-tiny")


def test_blindnet_record_means_are_its_seeds():
    rec = load_record("blindnet")
    assert rec["tables"] and rec["date"] == "2026-12-03"
    for table in rec["tables"]:
        assert table["command"].startswith("OMP_NUM_THREADS=1 python bench/bench_blindnet.py"), table["title"]
        for name, row in table["rows"].items():
            seeds = np.array(row["per_seed"])
            assert row["mean"] == pytest.approx(seeds.mean(), abs=0.006), (table["title"], name)
            assert row["std"] == pytest.approx(seeds.std(), abs=0.006), (table["title"], name)
            assert len(row["per_class_iou"]) == len(seeds) and all(len(c) == 19 for c in row["per_class_iou"])
            for miou, iou in zip(seeds, row["per_class_iou"]):  # mIoU = mean of the classes that are not n/a
                assert miou == pytest.approx(np.mean([v for v in iou if v is not None]), abs=0.02), (
                    table["title"],
                    name,
                )


def test_stego_record_summary_is_its_runs():
    rec = load_record("stego")
    assert rec["best"] in rec["summary"]
    for name, s in rec["summary"].items():
        runs = [r for r in rec["runs"] if r["setting"] == name]
        assert sorted(r["seed"] for r in runs) == [0, 1, 2], name
        assert s["miou_mean"] == pytest.approx(np.mean([r["miou"] for r in runs]), abs=0.006), name
        assert (s["miou_min"], s["miou_max"]) == (min(r["miou"] for r in runs), max(r["miou"] for r in runs))
    seed0 = {r["setting"]: r["miou"] for r in rec["runs"] if r["seed"] == 0}
    assert seed0[rec["best"]] == max(seed0.values())  # the best setting is the best of seed 0
