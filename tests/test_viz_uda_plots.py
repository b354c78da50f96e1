"""The UDA plots of notebooks 05–08 (daformer_edu.viz): each returns a Figure with the right number of axes."""

import numpy as np
import torch
from matplotlib.figure import Figure

from daformer_edu.viz import (
    plot_classmix,
    plot_feature_distance,
    plot_image_row,
    plot_pseudo_labels,
    plot_rcs_probabilities,
    plot_schedule,
    plot_thing_mask,
)

IMG = np.zeros((16, 32, 3), np.uint8)
LAB = np.zeros((16, 32), np.int64)


def _n_image_axes(fig):
    return len([ax for ax in fig.axes if ax.get_images()])


def test_plot_pseudo_labels_reports_q():
    conf = np.full((16, 32), 0.5)
    conf[:4] = 0.99  # a quarter of the pixels above τ
    fig = plot_pseudo_labels(IMG, conf, LAB, threshold=0.968, ignore_top=1, ignore_bottom=2)
    assert isinstance(fig, Figure) and _n_image_axes(fig) == 4
    assert any("q_T = 0.250" in ax.get_title() for ax in fig.axes)


def test_plot_classmix_eight_panels():
    t = torch.zeros(16, 32)
    fig = plot_classmix(IMG, LAB, torch.zeros(3, 16, 32), LAB, t, IMG, LAB, t + 0.5)
    assert isinstance(fig, Figure) and _n_image_axes(fig) == 8


def test_plot_image_row_and_schedule():
    assert len(plot_image_row([IMG, IMG, torch.zeros(3, 16, 32)], ["a", "b", "c"]).axes) == 3
    fig = plot_schedule(
        {"a": (np.arange(5), np.arange(5)), "b": (np.arange(5), np.ones(5))}, logy=True, marks={"x": (1, 1.0)}
    )
    assert isinstance(fig, Figure) and len(fig.axes) == 1 and len(fig.axes[0].lines) == 3


def test_plot_rcs_probabilities_one_axis_per_temperature_plus_frequencies():
    f = np.array([0.5, 0.3, 0.2, 0.0])
    fig = plot_rcs_probabilities(f, {"T=1": [0.2, 0.3, 0.5, 0.0], "T=0.1": [0, 0, 1.0, 0]}, class_names=list("abcd"))
    assert isinstance(fig, Figure) and len(fig.axes) == 3


def test_plot_thing_mask_and_feature_distance():
    small = np.zeros((2, 4), np.int64)
    mask = np.zeros((2, 4), bool)
    mask[0, 1] = True
    fig = plot_thing_mask(IMG, LAB, small, mask, min_ratio=0.75)
    assert isinstance(fig, Figure) and len(fig.axes) == 3 and "1 of 8" in fig.axes[2].get_title()
    d = np.arange(8.0).reshape(2, 4)
    fig = plot_feature_distance(IMG, d, mask)
    assert isinstance(fig, Figure) and _n_image_axes(fig) == 3 and "1.000" in fig.axes[2].get_title()
