"""TensorBoardLogger, read back independently: TensorBoard's own ``EventAccumulator`` parses the event files, PIL
decodes the snapshot PNGs, and the expected colours come from the palette by hand."""

import io
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("tensorboard")
from PIL import Image  # noqa: E402
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

from daformer_edu.tensorboard import TensorBoardLogger, TensorBoardUnavailableError  # noqa: E402

PALETTE = np.array([[128, 64, 128], [244, 35, 232], [70, 70, 70]], np.uint8)  # road, sidewalk, building


def _events(run_dir) -> EventAccumulator:
    acc = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    return acc


def _series(acc, tag) -> list[tuple[int, float]]:
    return [(e.step, e.value) for e in acc.Scalars(tag)]


def f32(x) -> float:
    """TensorBoard keeps scalars as float32."""
    return float(np.float32(x))


def test_train_records(tmp_path):
    records = [
        {
            "iteration": 1,
            "split": "train",
            "loss": 2.5,
            "source_ce": 1.75,
            "target_ce": 0.7,
            "feature_distance": 0.05,
            "lr": 6e-05,
            "q_t": 0.8125,
            "fd_cells": 0.25,
            "ema_alpha": 0.0,
            "time_step": 0.163,
            "note": None,
            "flag": True,
        },
        {
            "iteration": 2,
            "split": "train",
            "loss": 2.25,
            "source_ce": 1.5,
            "target_ce": 0.75,
            "feature_distance": 0.04,
            "lr": 1.2e-04,
            "q_t": 0.875,
            "fd_cells": 0.5,
            "ema_alpha": 0.5,
            "time_step": 0.158,
        },
    ]
    with TensorBoardLogger(tmp_path) as tb:
        for r in records:
            tb.log_train(r["iteration"], r)
    acc = _events(tmp_path)
    numeric = ["loss", "source_ce", "target_ce", "feature_distance", "lr", "q_t", "fd_cells", "ema_alpha", "time_step"]
    assert sorted(acc.Tags()["scalars"]) == sorted(f"train/{k}" for k in numeric)  # not split, None, bool, iteration
    for key in numeric:
        assert _series(acc, f"train/{key}") == [(r["iteration"], f32(r[key])) for r in records]


def test_evaluations(tmp_path):
    with TensorBoardLogger(tmp_path) as tb:
        tb.log_eval(250, {"miou": 31.25, "per_class_iou": {"road": 80.5, "traffic light": None, "sky": 12.125}})
        tb.log_eval(500, {"miou": 40.0, "miou_16": 44.75, "per_class_iou": {"road": 85.0, "traffic light": 3.5}})
    acc = _events(tmp_path)
    assert sorted(acc.Tags()["scalars"]) == [
        "val/iou/road",
        "val/iou/sky",
        "val/iou/traffic light",
        "val/miou",
        "val/miou_16",
    ]
    assert _series(acc, "val/miou") == [(250, 31.25), (500, 40.0)]
    assert _series(acc, "val/miou_16") == [(500, 44.75)]
    assert _series(acc, "val/iou/road") == [(250, 80.5), (500, 85.0)]
    assert _series(acc, "val/iou/traffic light") == [(500, 3.5)]  # None at 250: skipped
    assert _series(acc, "val/iou/sky") == [(250, 12.125)]


def test_snapshot_images(tmp_path):
    labels = torch.tensor([[[0, 1, 2, 255, 0, 1, 2]] * 5, [[2, 2, 255, 255, 1, 0, 0]] * 5], dtype=torch.uint8)
    labels[1, 4, 6] = 1
    with TensorBoardLogger(tmp_path) as tb:
        tb.log_snapshot(750, labels, PALETTE, torch.tensor([0.9, 0.25]))
    acc = _events(tmp_path)
    assert sorted(acc.Tags()["images"]) == ["snapshots/0", "snapshots/1"]
    assert _series(acc, "snapshots/q_t/0") == [(750, f32(0.9))]
    assert _series(acc, "snapshots/q_t/1") == [(750, 0.25)]
    for i in range(2):
        (event,) = acc.Images(f"snapshots/{i}")
        assert (event.step, event.width, event.height) == (750, 7, 5)
        rgb = np.array(Image.open(io.BytesIO(event.encoded_image_string)).convert("RGB"))  # [5, 7, 3]
        assert rgb.shape == (5, 7, 3)
        for r in range(5):
            for c in range(7):
                k = int(labels[i, r, c])
                assert tuple(rgb[r, c]) == ((0, 0, 0) if k == 255 else tuple(PALETTE[k])), (i, r, c)
    assert tuple(rgb[4, 6]) == (244, 35, 232)  # the one changed pixel: sidewalk


def test_snapshot_rejects_ids_without_a_colour(tmp_path):
    with TensorBoardLogger(tmp_path) as tb, pytest.raises(ValueError, match=r"label ids \[3, 7\] have no colour"):
        tb.log_snapshot(1, np.array([[[0, 3, 7, 255]]], np.uint8), PALETTE, [0.5])


def test_resume_discards_what_the_killed_run_wrote_after_its_checkpoint(tmp_path):
    with TensorBoardLogger(tmp_path) as tb:  # the killed run: checkpoint at 3, died after 5
        for it in range(1, 6):
            tb.log_train(it, {"loss": float(it)})
    with TensorBoardLogger(tmp_path, resumed_at=3) as tb:
        for it in range(4, 7):
            tb.log_train(it, {"loss": 10.0 * it})
    assert _series(_events(tmp_path), "train/loss") == [(1, 1.0), (2, 2.0), (3, 3.0), (4, 40.0), (5, 50.0), (6, 60.0)]


def test_without_tensorboard_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.delitem(sys.modules, "torch.utils.tensorboard", raising=False)
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # `import tensorboard` now fails
    with pytest.raises(TensorBoardUnavailableError) as info:
        TensorBoardLogger(tmp_path)
    assert isinstance(info.value, ImportError) and "\n" not in str(info.value)
    assert 'pip install -e ".[tensorboard]"' in str(info.value)
    assert not (tmp_path / "tensorboard").exists()
