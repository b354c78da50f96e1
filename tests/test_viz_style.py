"""The figure style of ``daformer_edu.viz.common`` and what it fixed: class draws, thing mask, predictions, q_T."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from daformer_edu.data.classes import PALETTE
from daformer_edu.viz import (
    DPI,
    MIN_PANEL,
    MIN_WIDTH,
    add_colorbar,
    label_axes,
    new_figure,
    place_legend,
    plot_class_draws,
    plot_prediction_grid,
    plot_thing_mask,
    plot_token_grids,
    plot_training_curves,
)


def test_new_figure_raises_dpi_and_width_and_keeps_the_panel_shape():
    fig, axes = new_figure(1, 2, panel=(2.0, 1.0), dpi=55)
    assert axes.shape == (1, 2) and fig.dpi == DPI == 100
    w, h = fig.get_size_inches()
    assert w == pytest.approx(MIN_WIDTH) and h == pytest.approx(MIN_WIDTH / 4)  # grown from 4 × 1 in, shape kept
    fig, _ = new_figure(1, 1, panel=(1.0, 1.0), dpi=150)
    assert fig.dpi == 150  # a higher dpi stays
    fig, _ = new_figure(2, 8, panel=(1.0, 0.5))
    assert fig.get_size_inches() == pytest.approx((8 * MIN_PANEL, 2 * 0.5 * MIN_PANEL))  # no panel below MIN_PANEL
    fig, axes = new_figure(mosaic=[["a", "a"], ["b", "c"]], panel=(4.0, 2.0))
    assert list(axes) == ["a", "b", "c"] and fig.get_size_inches() == pytest.approx((8.0, 4.0))
    with pytest.raises(ValueError, match="positive"):
        new_figure(0, 1)


def test_style_helpers_refuse_unnamed_axes_and_colourbars():
    fig, axes = new_figure()
    with pytest.raises(ValueError, match="both axes"):
        label_axes(axes[0, 0], "iteration", "")
    im = axes[0, 0].imshow(np.random.rand(3, 3))
    with pytest.raises(ValueError, match="label"):
        add_colorbar(fig, im, axes[0, 0], "")
    with pytest.raises(ValueError, match="where"):
        place_legend(axes[0, 0], "inside")


def test_place_legend_puts_the_legend_beside_the_axes():
    fig, axes = new_figure()
    ax = axes[0, 0]
    ax.plot([0, 1], [0, 1], label="a line")
    legend = place_legend(ax)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    assert legend.get_window_extent(renderer).x0 > ax.get_window_extent(renderer).x1


def test_plot_class_draws_shows_each_series_share_on_a_log_axis():
    draws = {"RCS class draws": [0, 1, 3], "pixels seen": [10, 30, 60]}
    fig = plot_class_draws(draws, probabilities=[0.2, 0.3, 0.5], class_names=["a", "b", "c"])
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"  # a plain log axis, not symlog
    heights = [p.get_height() for p in ax.patches]
    assert heights == pytest.approx([0, 0.25, 0.75, 0.1, 0.3, 0.6])  # count / the series' total, by hand
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "RCS class draws (÷ 4)" in labels and "pixels seen (÷ 100)" in labels
    assert "total" in ax.get_ylabel() and "log" in ax.get_ylabel()
    ticks = ax.collections[0].get_offsets()
    assert np.allclose(ticks[:, 1], [0.2, 0.3, 0.5])
    fig = plot_class_draws(draws, class_names=["a", "b", "c"], totals={"RCS class draws": 8})  # e.g. 8 draws
    assert [p.get_height() for p in fig.axes[0].patches] == pytest.approx([0, 1 / 8, 3 / 8, 0.1, 0.3, 0.6])
    fig = plot_class_draws(draws, class_names=["a", "b", "c"], totals=10)
    assert [p.get_height() for p in fig.axes[0].patches] == pytest.approx([0, 0.1, 0.3, 1, 3, 6])


def test_plot_thing_mask_marks_each_cells_pooled_decision():
    image = np.zeros((32, 64, 3), np.uint8)
    label = np.zeros((32, 64), np.int64)
    small = np.array([[0, 13, 13, 255], [1, 1, 11, 2]])  # [2, 4] cells of 16 × 16 pixels
    mask = np.isin(small, [11, 13])
    fig = plot_thing_mask(image, label, small, mask, min_ratio=0.75)
    top = fig.axes[0]
    squares, crosses = top.collections
    centres = squares.get_offsets()
    assert len(centres) == 7 and len(crosses.get_offsets()) == 1  # 7 pooled classes, 1 ignored cell
    assert tuple(crosses.get_offsets()[0]) == (3.5 * 16 - 0.5, 0.5 * 16 - 0.5)
    car = np.argmin(np.hypot(centres[:, 0] - (1.5 * 16 - 0.5), centres[:, 1] - (0.5 * 16 - 0.5)))
    assert np.allclose(squares.get_facecolors()[car, :3], PALETTE[13] / 255.0)  # the cell pooled to car
    assert "3 of 8" in fig.axes[2].get_title()  # the thing mask stays the third axes (notebook 07 draws on it)
    borders = [ln for ln in top.lines if ln.get_color() == "white"]
    assert len(borders) == (2 - 1) + (4 - 1)  # the cell borders: 1 row line, 3 column lines


def test_plot_prediction_grid_panels_are_large_enough_to_read():
    images = torch.randn(2, 3, 32, 64)
    labels = torch.zeros(2, 32, 64, dtype=torch.long)
    fig = plot_prediction_grid(images, labels, {"source-only": labels, "DAFormer": labels}, dpi=60)
    fig.canvas.draw()
    widths = [ax.get_window_extent().width / fig.dpi for ax in fig.axes]
    assert len(widths) == 8 and min(widths) >= 2.7  # inches per panel, once laid out


def test_plot_training_curves_draws_q_t_when_the_history_has_it():
    history = [{"iteration": i, "split": "train", "loss": 1.0, "q_t": 0.1 * (i % 4)} for i in range(1, 9)]
    fig = plot_training_curves({"DAFormer": history}, smooth=1)
    assert len(fig.axes) == 3 and "q_T" in fig.axes[2].get_ylabel()
    line = fig.axes[2].lines[0]
    assert np.allclose(line.get_ydata(), [0.1 * (i % 4) for i in range(1, 9)])  # smooth=1: the logged values
    long = [{"iteration": i, "split": "train", "loss": 1.0, "q_t": 0.1 * (i % 4)} for i in range(1, 21)]
    line = plot_training_curves({"DAFormer": long}, smooth=4).axes[2].lines[0]
    q = [0.1 * (i % 4) for i in range(1, 21)]
    assert np.allclose(line.get_xdata(), range(4, 21))  # each mean ends at its last iteration
    assert np.allclose(line.get_ydata(), [sum(q[j - 3 : j + 1]) / 4 for j in range(3, 20)])  # mean of 4, by hand
    assert len(plot_training_curves({"DAFormer": history}, q_t=False).axes) == 2
    no_q = [{k: v for k, v in r.items() if k != "q_t"} for r in history]
    assert len(plot_training_curves(no_q).axes) == 2
    plt.close("all")


def test_plot_token_grids_says_what_it_draws_under_given_titles():
    fig = plot_token_grids(np.zeros((128, 128, 3), np.uint8), strides=(4, 32), titles=["a 512² input", "b"])
    assert fig.axes[0].get_title() == "a 512² input\n(drawn: 128×128 image, 32×32 tokens)"
    assert "4×4 tokens" in fig.axes[1].get_title()
