"""The model plots of notebooks 03–04 (daformer_edu.viz): each returns a Figure with the right axes."""

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from daformer_edu.viz import plot_param_breakdown, plot_receptive_fields, plot_stage_maps


def test_plot_stage_maps_one_panel_per_map_plus_image():
    image = np.zeros((32, 48, 3), np.uint8)
    feats = [torch.randn(1, 8, 8, 12), torch.randn(16, 4, 6), np.random.rand(2, 2, 3)]  # C = 2 < 3 still works
    fig = plot_stage_maps(image, feats)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 4
    assert fig.axes[1].get_title().startswith("8×8×12") and "stride 4" in fig.axes[1].get_title()


def test_plot_stage_maps_pca_colours_follow_the_features():
    # Left half one feature vector, right half another: the PCA picture must show two flat colours.
    f = np.zeros((5, 4, 6))
    f[:, :, :3] = np.arange(5)[:, None, None]
    f[:, :, 3:] = -np.arange(5)[:, None, None]
    fig = plot_stage_maps(np.zeros((16, 24, 3), np.uint8), [f])
    rgb = fig.axes[1].get_images()[0].get_array()
    assert np.allclose(rgb[:, :3], rgb[0, 0]) and np.allclose(rgb[:, 3:], rgb[0, 3])
    assert not np.allclose(rgb[0, 0], rgb[0, 3])


def test_plot_stage_maps_rejects_bad_input():
    with pytest.raises(ValueError, match="titles"):
        plot_stage_maps(np.zeros((8, 8, 3)), [np.zeros((3, 2, 2))], titles=["a", "b"])
    with pytest.raises(ValueError, match=r"\[C, h, w\]"):
        plot_stage_maps(np.zeros((8, 8, 3)), [np.zeros((2, 2))])


def test_plot_receptive_fields_counts_the_inputs_read():
    field = np.zeros((8, 12))
    field[[1, 1, 7], [2, 10, 6]] = [1.0, 0.5, 0.25]
    fig = plot_receptive_fields(
        np.zeros((32, 48, 3), np.uint8), [field, np.ones((8, 12))], ["taps", "all"], centre=(16, 24)
    )
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 3 and fig.axes[2].get_label() == "<colorbar>"  # one axis per field, one shared colourbar
    assert "3 of 96" in fig.axes[0].get_title() and "96 of 96" in fig.axes[1].get_title()
    with pytest.raises(ValueError, match="titles"):
        plot_receptive_fields(np.zeros((8, 8, 3)), [field], titles=["a", "b"])


def test_plot_param_breakdown_bar_lengths_are_the_totals():
    counts = {"small": {"a": 1_000_000, "b": 500_000}, "big": {"a": 2_000_000, "c": 3_000_000}}
    fig = plot_param_breakdown(counts)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    ends = {}
    for bar in ax.patches:  # stacked segments: the right edge of the last segment is the total
        y = round(bar.get_y() + bar.get_height() / 2, 3)
        ends[y] = max(ends.get(y, 0.0), bar.get_x() + bar.get_width())
    assert sorted(ends.values()) == pytest.approx([1.5, 5.0])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b", "c"]
    with pytest.raises(ValueError, match="empty"):
        plot_param_breakdown({})
