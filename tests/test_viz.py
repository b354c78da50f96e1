"""Plot functions return figures with the right number of axes; colours and tables are right."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from daformer_edu.data.classes import PALETTE
from daformer_edu.data.synthetic import SyntheticDomain
from daformer_edu.viz import (
    colorize,
    format_comparison_table,
    overlay,
    plot_class_legend,
    plot_comparison_table,
    plot_domain_grid,
    plot_iou_bars,
    plot_segmentation,
)


def test_colorize_and_overlay():
    lab = np.array([[0, 13], [255, 18]])
    col = colorize(lab)
    assert col.shape == (2, 2, 3) and col.dtype == np.uint8
    assert (col[0, 0] == PALETTE[0]).all() and (col[0, 1] == PALETTE[13]).all() and (col[1, 0] == 0).all()
    img = np.full((2, 2, 3), 100, np.uint8)
    ov = overlay(img, lab, alpha=0.5)
    assert (ov[1, 0] == 100).all()  # ignore keeps the image
    assert (ov[0, 0] == np.round(0.5 * 100 + 0.5 * PALETTE[0])).all()
    assert np.array_equal(colorize(torch.tensor(lab)), col)


def test_plot_domain_grid_axes():
    src = SyntheticDomain("source", "val", size=(32, 64))
    tgt = SyntheticDomain("target", "val", size=(32, 64))
    fig = plot_domain_grid(src, tgt, indices=[0, 1, 2])
    assert isinstance(fig, Figure) and len(fig.axes) == 12
    fig = plot_domain_grid(src, SyntheticDomain("target", "train", size=(32, 64)), indices=[0])
    assert len(fig.axes) == 4


def test_plot_segmentation_panels():
    img = torch.randn(3, 16, 32)
    lab = torch.randint(0, 19, (16, 32))
    assert len(plot_segmentation(img, lab, lab).axes) == 3
    assert len(plot_segmentation(img, prediction=lab).axes) == 2


def test_iou_bars_and_tables():
    iou = [50.0] * 18 + [float("nan")]  # percent
    fig = plot_iou_bars({"source-only": iou, "oracle": [90.0] * 19})
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    assert len(plot_comparison_table({"a": iou, "b": [70.0] * 19}).axes) == 1
    text = format_comparison_table({"source-only": iou, "oracle": [90.0] * 19})
    lines = text.splitlines()
    assert len(lines) == 3 and "n/a" in lines[1]
    assert lines[1].split()[-1] == "50.0" and lines[2].split()[-1] == "90.0"
    assert not math.isnan(float(lines[2].split()[-1]))
    # a result dict in percent (metrics.evaluate), values below 1 % included: printed as they are, never × 100
    poor = {"iou": [0.5] * 18 + [1.0], "miou": 0.525}
    cells = format_comparison_table({"poor": poor}).splitlines()[1].split()
    assert cells[1] == "0.5" and cells[-2] == "1.0" and cells[-1] == "0.5"  # mean 0.526 → "0.5"
    bars = plot_iou_bars({"poor": poor})
    assert max(p.get_height() for p in bars.axes[0].patches) == pytest.approx(1.0)
    assert len(plot_class_legend().axes) == 1


def test_image_grid_and_probe_scores():
    from daformer_edu.viz import plot_image_grid, plot_probe_scores

    imgs = [np.full((8, 8, 3), 10 * k, np.uint8) for k in range(5)]
    fig = plot_image_grid(imgs, [f"t{k}" for k in range(5)], ncols=3)
    axes = fig.axes
    assert len(axes) == 6 and [a.get_title() for a in axes[:5]] == [f"t{k}" for k in range(5)]
    assert axes[1].images[0].get_array()[0, 0, 0] == 10 and not axes[5].images  # the spare cell stays empty
    try:
        plot_image_grid(imgs, ["only one"])
        raise AssertionError("a title count mismatch must raise")
    except ValueError as err:
        assert "5 images but 1 titles" in str(err)
    fig = plot_probe_scores({"random": {"source": 70.0, "target": 60.0}, "shipped": {"source": 88.0, "target": 80.0}})
    bars = [p for p in fig.axes[0].patches]
    assert [round(b.get_height()) for b in bars] == [70, 60, 88, 80]
