"""The encoder plots of notebooks 01–02 (daformer_edu.viz): right axes, and the numbers they draw are right."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from daformer_edu.viz import plot_attention_cost, plot_attention_map, plot_patch_footprints, plot_token_grids


def test_plot_patch_footprints_axes_and_footprints():
    image = np.zeros((20, 24, 3), np.uint8)
    configs = [(16, 16, 0), (4, 4, 0), (7, 4, 3)]
    fig = plot_patch_footprints(image, configs, n_tokens=2, show_coverage=False)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 3
    for ax, (k, _, _) in zip(fig.axes, configs):
        squares = [p for p in ax.patches if p.get_width() == k and p.get_height() == k]
        assert len(squares) == 4  # 2 × 2 neighbouring tokens, each a k × k footprint
    # footprints start at i·stride − padding: token (1, 1) of 7/4/3 reads pixels 1..7 (drawn from 0.5 to 7.5)
    corners = sorted((p.get_x(), p.get_y()) for p in fig.axes[2].patches)
    assert corners == [(-3.5, -3.5), (-3.5, 0.5), (0.5, -3.5), (0.5, 0.5)]


def test_plot_patch_footprints_coverage_equals_a_transposed_conv():
    # How many tokens read pixel (y, x) = a transposed conv of an all-ones token grid with an all-ones kernel.
    H, W = 23, 30
    configs = [(7, 4, 3), (3, 2, 1), (4, 4, 0)]
    fig = plot_patch_footprints(np.full((H, W, 3), 128, np.uint8), configs)
    assert len(fig.axes) == 3 * len(configs)  # footprints, coverage, coverage colourbar
    for col, (k, s, p) in enumerate(configs):
        h, w = (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1
        # output_padding restores the rows the conv's floor division lost (they may still be read by a window)
        op = (H - ((h - 1) * s - 2 * p + k), W - ((w - 1) * s - 2 * p + k))
        expect = F.conv_transpose2d(
            torch.ones(1, 1, h, w), torch.ones(1, 1, k, k), stride=s, padding=p, output_padding=op
        )
        expect = expect[0, 0].numpy()
        drawn = np.asarray(fig.axes[len(configs) + col].get_images()[0].get_array())
        np.testing.assert_array_equal(drawn, expect)
    assert set(np.unique(np.asarray(fig.axes[3].get_images()[0].get_array()))) == {1, 2, 4}


def test_plot_patch_footprints_rejects_bad_configs():
    with pytest.raises(ValueError, match="kernel, stride, padding"):
        plot_patch_footprints(np.zeros((8, 8, 3)), [(7, 4)])
    with pytest.raises(ValueError, match="image"):
        plot_patch_footprints(np.zeros((8, 8, 4)), [(7, 4, 3)])


def test_plot_token_grids_titles_follow_the_conv_arithmetic():
    H, W = 97, 131
    fig = plot_token_grids(np.zeros((H, W, 3), np.uint8), strides=(4, 8))
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2
    for ax, convs in zip(fig.axes, [[(7, 4, 3)], [(7, 4, 3), (3, 2, 1)]]):
        x = torch.zeros(1, 1, H, W)
        for k, s, p in convs:  # the real MiT patch embeddings up to this stage
            x = F.conv2d(x, torch.ones(1, 1, k, k), stride=s, padding=p)
        h, w = x.shape[-2:]
        assert f"{h}×{w} = {h * w} tokens" in ax.get_title()
    with pytest.raises(ValueError, match="strides"):
        plot_token_grids(np.zeros((8, 8, 3)), strides=(0,))


def test_plot_attention_cost_lines_markers_and_axes():
    sides = [64, 128, 256]
    flops = {1: [1e6, 1.6e7, 2.56e8], 8: [1e5, 4e5, 1.6e6]}
    memory = {1: [1, 16, 256], 8: [1, 4, 16]}
    fig = plot_attention_cost(sides, flops, memory, measured_flops={1: [1e6, 1.6e7]})
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2
    lines = fig.axes[0].get_lines()
    assert len(lines) == 3  # two formula lines + one set of measured markers
    measured = [ln for ln in lines if ln.get_linestyle() == "None"]
    assert len(measured) == 1 and list(measured[0].get_xdata()) == [64, 128]
    assert fig.axes[0].get_xscale() == "log" and fig.axes[1].get_yscale() == "log"
    fig3 = plot_attention_cost(sides, flops, memory, seconds={1: [0.1, 0.2, 0.4], 8: [0.1, 0.1, 0.1]})
    assert len(fig3.axes) == 3
    with pytest.raises(ValueError, match="R=8"):
        plot_attention_cost(sides, {1: [1, 2, 3], 8: [1, 2]}, memory)


def test_plot_attention_map_draws_the_given_map_and_query():
    att = torch.softmax(torch.randn(4, 6).flatten(), 0).reshape(4, 6)
    fig = plot_attention_map(np.zeros((32, 48, 3), np.uint8), att, query_yx=(5, 40), title="R = 8")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 3  # image, map, colourbar
    drawn = fig.axes[1].get_images()[-1]
    np.testing.assert_allclose(np.asarray(drawn.get_array()), att.numpy(), rtol=1e-6)
    assert drawn.get_extent() == [-0.5, 47.5, 31.5, -0.5]  # stretched over the whole 32 × 48 image
    star = fig.axes[1].get_lines()[0]
    assert (star.get_xdata()[0], star.get_ydata()[0]) == (40, 5)
    assert fig.axes[1].get_title() == "R = 8"
    with pytest.raises(ValueError, match="outside"):
        plot_attention_map(np.zeros((32, 48, 3), np.uint8), att, query_yx=(32, 0))
    with pytest.raises(ValueError, match=r"\[h, w\]"):
        plot_attention_map(np.zeros((32, 48, 3), np.uint8), att.flatten(), query_yx=(0, 0))
