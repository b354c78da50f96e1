"""Every figure of the course can be read: wide, sharp, labelled, with colourbars and legends off the data.

Two parts:

- the committed notebooks: every ``image/png`` output is at least ``MIN_PIXELS`` wide (the width is read from the
  PNG header, nothing is decoded). This fails until the notebooks are re-executed with the style of
  ``daformer_edu.viz.common``;
- every ``plot_*`` function of ``daformer_edu.viz``, called on small inputs built here with the lowest ``dpi`` a
  notebook passes (55): the figure has dpi ≥ 100 and is ≥ 640 px wide — also once a notebook has cropped it to its
  contents (``bbox_inches="tight"``, what the inline backend does) — every image panel has a title and no ticks,
  every image of values has a colourbar that reads its colours, every other axis has both axes named, every legend
  lies off its axes, and every text has one size.
"""

from __future__ import annotations

import base64
import io
import json
import struct
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox

import daformer_edu.viz as viz
from daformer_edu.data.synthetic import SyntheticDomain

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
MIN_PIXELS = 640
MIN_DPI = 100
LOW_DPI = 55  # the lowest dpi= a notebook passes to a plot_* function


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a PNG from its IHDR chunk, which the PNG standard puts first, at bytes 16–24."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG: the signature or the IHDR chunk is missing")
    return struct.unpack(">II", data[16:24])


def committed_figures(path: Path):
    """(cell index, cell id, width in pixels) of every ``image/png`` output of a notebook."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    for i, cell in enumerate(cells):
        for out in cell.get("outputs", []):
            png = out.get("data", {}).get("image/png")
            if png is not None:
                data = base64.b64decode("".join(png) if isinstance(png, list) else png)
                yield i, cell.get("id"), png_size(data)[0]


def test_png_size_reads_the_header():
    fig = plt.figure(figsize=(3.0, 2.0), dpi=100)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    assert png_size(buf.getvalue()) == (300, 200)
    with pytest.raises(ValueError, match="not a PNG"):
        png_size(b"GIF89a" + bytes(30))


def test_notebooks_have_committed_figures():
    assert len(NOTEBOOKS) >= 11 and sum(len(list(committed_figures(p))) for p in NOTEBOOKS) > 40


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_figures_are_wide_enough(path):
    narrow = [f"cell {i} ({cid}): {w} px" for i, cid, w in committed_figures(path) if w < MIN_PIXELS]
    assert not narrow, (
        f"{path.name}: figures narrower than {MIN_PIXELS} px: {narrow}. Draw them with "
        f"daformer_edu.viz (new_figure for a notebook's own figure) and re-execute the notebook."
    )


# -- the plot functions, on small inputs --------------------------------------------------------------------------

IMG = (np.arange(32 * 64 * 3).reshape(32, 64, 3) % 251).astype(np.uint8)  # a picture [H, W, 3]
LAB = (np.arange(32 * 64).reshape(32, 64) // 97 % 19).astype(np.int64)  # a label map [H, W]
LAB[:2] = 255
SMALL = np.array([[0, 13, 13, 255], [1, 1, 11, 2]])  # LAB pooled to a [2, 4] grid (16 px cells)
THINGS = np.isin(SMALL, [11, 13])
IOU = {"source-only": [40.0] * 18 + [float("nan")], "DAFormer": [55.0] * 19}
HISTORY = [
    {
        "iteration": i,
        "split": "train",
        "loss": 3.0 / i,
        "source_ce": 2.0 / i,
        "target_ce": 1.0 / i,
        "q_t": 0.5 + i / 100,
    }
    for i in range(1, 30)
] + [{"iteration": 10, "split": "val", "miou": 5.0}, {"iteration": 20, "split": "val", "miou": 9.0}]


def _domains():
    return SyntheticDomain("source", "val", size=(32, 64)), SyntheticDomain("target", "train", size=(32, 64))


CALLS = {
    "plot_domain_grid": lambda dpi: viz.plot_domain_grid(*_domains(), indices=[0, 1], dpi=dpi),
    "plot_segmentation": lambda dpi: viz.plot_segmentation(torch.randn(3, 32, 64), LAB, LAB, dpi=dpi),
    "plot_class_legend": lambda dpi: viz.plot_class_legend(dpi=dpi),
    "plot_image_row": lambda dpi: viz.plot_image_row([IMG, torch.randn(3, 32, 64)], ["a", "b"], dpi=dpi),
    "plot_image_grid": lambda dpi: viz.plot_image_grid(
        [IMG[:, :32]] * 5, [f"t{k}" for k in range(5)], ncols=3, dpi=dpi
    ),
    "plot_patch_footprints": lambda dpi: viz.plot_patch_footprints(IMG, [(16, 16, 0), (7, 4, 3)], dpi=dpi),
    "plot_token_grids": lambda dpi: viz.plot_token_grids(
        IMG, strides=(4, 8, 16, 32), dpi=dpi, titles=[f"stride {s}" for s in (4, 8, 16, 32)]
    ),
    "plot_attention_cost": lambda dpi: viz.plot_attention_cost(
        [64, 128],
        {1: [1e6, 1.6e7], 8: [1e5, 4e5]},
        {1: [1, 16], 8: [1, 4]},
        measured_flops={1: [1e6]},
        seconds={1: [0.1, 0.4], 8: [0.1, 0.1]},
        dpi=dpi,
    ),
    "plot_attention_map": lambda dpi: viz.plot_attention_map(IMG, torch.rand(4, 8), (5, 40), dpi=dpi),
    "plot_stage_maps": lambda dpi: viz.plot_stage_maps(IMG, [torch.randn(8, 8, 16), torch.randn(16, 4, 8)], dpi=dpi),
    "plot_param_breakdown": lambda dpi: viz.plot_param_breakdown({"a": {"x": 1e6, "y": 2e6}, "b": {"x": 3e6}}, dpi=dpi),
    "plot_probe_scores": lambda dpi: viz.plot_probe_scores(
        {"random": {"source": 70.0, "target": 60.0}, "shipped": {"source": 88.0, "target": 80.0}}, dpi=dpi
    ),
    "plot_receptive_fields": lambda dpi: viz.plot_receptive_fields(
        IMG, [np.eye(8, 16), np.ones((8, 16))], ["taps", "all"], centre=(16, 32), dpi=dpi
    ),
    "plot_pseudo_labels": lambda dpi: viz.plot_pseudo_labels(IMG, np.random.rand(32, 64), LAB, dpi=dpi),
    "plot_classmix": lambda dpi: viz.plot_classmix(
        IMG, LAB, torch.zeros(3, 32, 64), LAB, LAB % 2, IMG, LAB, (LAB % 3) / 2, dpi=dpi
    ),
    "plot_schedule": lambda dpi: viz.plot_schedule(
        {"a": (np.arange(5), np.arange(5)), "b": (np.arange(5), np.ones(5))}, marks={"x": (1, 1.0)}, dpi=dpi
    ),
    "plot_rcs_probabilities": lambda dpi: viz.plot_rcs_probabilities(
        np.array([0.5, 0.3, 0.2, 0.0]), {"T=1": [0.2, 0.3, 0.5, 0.0]}, class_names=list("abcd"), dpi=dpi
    ),
    "plot_class_draws": lambda dpi: viz.plot_class_draws(
        {"RCS": torch.arange(19), "pixels": [1] * 19}, probabilities=torch.full((19,), 1 / 19), dpi=dpi
    ),
    "plot_thing_mask": lambda dpi: viz.plot_thing_mask(IMG, LAB, SMALL, THINGS, min_ratio=0.75, dpi=dpi),
    "plot_feature_distance": lambda dpi: viz.plot_feature_distance(IMG, np.arange(8.0).reshape(2, 4), THINGS, dpi=dpi),
    "plot_iou_bars": lambda dpi: viz.plot_iou_bars(IOU, dpi=dpi),
    "plot_comparison_table": lambda dpi: viz.plot_comparison_table(IOU, dpi=dpi),
    "plot_training_curves": lambda dpi: viz.plot_training_curves({"uda": HISTORY, "b": HISTORY[:10]}, dpi=dpi),
    "plot_prediction_grid": lambda dpi: viz.plot_prediction_grid(
        torch.randn(2, 3, 32, 64), torch.tensor(LAB)[None].repeat(2, 1, 1), {"DAFormer": [LAB, LAB]}, dpi=dpi
    ),
    "plot_pseudo_label_evolution": lambda dpi: viz.plot_pseudo_label_evolution(
        torch.randn(2, 3, 32, 64),
        {it: {"labels": [LAB, LAB], "q_t": [0.1, 0.9]} for it in (5, 10)},
        labels=[LAB, LAB],
        dpi=dpi,
    ),
    "plot_covariance_matrices": lambda dpi: viz.plot_covariance_matrices(
        {"a": torch.eye(3), "b": -np.ones((3, 3))}, dpi=dpi
    ),
    "plot_contrastive_samples": lambda dpi: viz.plot_contrastive_samples(
        IMG, LAB, [[2, 3], [5, 5]], [[8, 8]], anchor_classes=[0, 1], dpi=dpi
    ),
    "plot_correlation_volume": lambda dpi: viz.plot_correlation_volume(
        IMG, (4, 8), {"F": torch.rand(2, 4) * 2 - 1}, dpi=dpi
    ),
    "plot_shift_effect": lambda dpi: viz.plot_shift_effect(
        {"self": torch.randn(100), "rand": torch.randn(100)}, {"self": [0.1, 0.5], "rand": 0.3}, dpi=dpi
    ),
    "plot_cluster_maps": lambda dpi: viz.plot_cluster_maps(
        torch.rand(2, 3, 32, 64), [LAB, LAB], [LAB, LAB], [LAB, LAB], num_clusters=19, dpi=dpi
    ),
    "plot_setting_table": lambda dpi: viz.plot_setting_table([{"method": "a", "miou": 0.5, "uses": "x"}], dpi=dpi),
}


def _is_colorbar(ax) -> bool:
    return ax.get_label() == "<colorbar>"


def _value_mappables(fig):
    """(axes, mappable) of every image of values (a 2-D array through a colour map) and every scatter coloured by
    values: what needs a colourbar. Pictures are RGB, label maps are coloured by the class palette first."""
    for ax in fig.axes:
        if _is_colorbar(ax):
            continue
        for im in ax.get_images():
            if np.ndim(im.get_array()) == 2:
                yield ax, im
        for coll in ax.collections:
            if coll.get_array() is not None:
                yield ax, coll


def _has_colorbar(mappable, fig) -> bool:
    """A colourbar reads ``mappable``: its own, or another's with the same colour map and limits (shared)."""
    bars = [m for _, m in _value_mappables(fig) if m.colorbar is not None]
    return any(b.get_cmap().name == mappable.get_cmap().name and b.get_clim() == mappable.get_clim() for b in bars)


def _column_title(ax, fig) -> str:
    """The title of ``ax`` or, in a grid that titles its top row only, of the axes at the top of its column."""
    if ax.get_title():
        return ax.get_title()
    spec = ax.get_subplotspec()
    for other in fig.axes:
        s = other.get_subplotspec()
        if (
            s is not None
            and spec is not None
            and s.get_gridspec() is spec.get_gridspec()
            and s.colspan == spec.colspan
            and s.rowspan.start == 0
        ):
            return other.get_title()
    return ""


def _named(ax, fig, axis: str) -> bool:
    """``ax`` names its x (y) axis, or shares it with an axes that does (stacked panels name the bottom one)."""
    get = f"get_{axis}label"
    if getattr(ax, get)():
        return True
    shared = ax.get_shared_x_axes() if axis == "x" else ax.get_shared_y_axes()
    return any(getattr(o, get)() for o in fig.axes if o is not ax and shared.joined(ax, o))


def _axes_problems(fig) -> list[str]:
    out = []
    for k, ax in enumerate(fig.axes):
        if _is_colorbar(ax):
            continue
        name = f"axes {k} ({ax.get_title()!r})"
        if ax.get_images():
            if ax.axison and (len(ax.get_xticks()) or len(ax.get_yticks())):
                out.append(f"{name}: an image panel shows ticks")
            if not _column_title(ax, fig):
                out.append(f"{name}: an image panel without a title")
        elif ax.axison and not (_named(ax, fig, "x") and _named(ax, fig, "y")):
            out.append(
                f"{name}: a plot of values without both axis names (x {ax.get_xlabel()!r}, y {ax.get_ylabel()!r})"
            )
    for ax, m in _value_mappables(fig):
        if not _has_colorbar(m, fig):
            out.append(f"axes {fig.axes.index(ax)} ({ax.get_title()!r}): values drawn without a colourbar")
    return out


def _layout_problems(fig) -> list[str]:
    """Legends that overlap their axes, and texts not at the one font size (after the figure is drawn)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    out = []
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is not None:
            overlap = Bbox.intersection(legend.get_window_extent(renderer), ax.get_window_extent(renderer))
            if overlap is not None and overlap.width * overlap.height > 4.0:  # more than 2 × 2 pixels
                out.append(f"the legend of axes {fig.axes.index(ax)} ({ax.get_title()!r}) lies over its data")
    sizes = {t.get_fontsize() for t in fig.findobj(Text) if t.get_text() and t.get_visible()}
    if sizes != {viz.FONT_SIZE}:
        out.append(f"texts of several sizes: {sorted(sizes)} (one size: {viz.FONT_SIZE})")
    return out


def _cropped_width(fig) -> int:
    """The width, in pixels, of the PNG a notebook stores: cropped to its contents, as the inline backend does."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi, bbox_inches="tight")
    return png_size(buf.getvalue())[0]


def readability_problems(fig) -> list[str]:
    out = []
    if fig.dpi < MIN_DPI:
        out.append(f"dpi {fig.dpi} < {MIN_DPI}")
    if fig.get_size_inches()[0] * fig.dpi < MIN_PIXELS:
        out.append(f"{fig.get_size_inches()[0] * fig.dpi:.0f} px wide < {MIN_PIXELS}")
    out += _axes_problems(fig) + _layout_problems(fig)
    if _cropped_width(fig) < MIN_PIXELS:
        out.append(f"{_cropped_width(fig)} px wide once cropped to its contents < {MIN_PIXELS}")
    return out


def test_every_plot_function_is_called_here():
    plots = sorted(n for n in viz.__all__ if n.startswith("plot_"))
    assert plots == sorted(CALLS), "add each new plot_* function of daformer_edu.viz to CALLS"


@pytest.mark.parametrize("name", sorted(CALLS))
def test_plot_function_draws_a_readable_figure(name):
    fig = CALLS[name](LOW_DPI)
    assert isinstance(fig, Figure)
    assert readability_problems(fig) == []


def test_the_checks_catch_an_unreadable_figure():
    """The checks above fail on what the course's figures once were: small, dim, unlabelled, a bare value image."""
    fig, (ax_img, ax_line) = plt.subplots(1, 2, figsize=(5, 2), dpi=60)
    ax_img.imshow(np.random.rand(4, 4))
    ax_line.plot([0, 1], [1, 0], label="a")
    ax_line.legend(loc="center")
    ax_line.set_title("big", fontsize=14)
    problems = " | ".join(readability_problems(fig))
    for expected in (
        "dpi 60",
        "300 px wide",
        "shows ticks",
        "without a title",
        "without both axis names",
        "without a colourbar",
        "lies over its data",
        "several sizes",
        "once cropped",
    ):
        assert expected in problems, f"{expected!r} not found in: {problems}"
