"""Feature-distance plots: the thing-class mask on the feature grid and the ImageNet feature distance.

Serves: notebooks/07_thing_mask_pooling.ipynb (label → pooled label → thing mask) and
08_feature_distance.ipynb (the per-cell distance ‖F_ImageNet − F_θ‖₂ and its thing-masked mean).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..data.classes import IGNORE_INDEX, PALETTE
from .common import (
    VALUES_CMAP,
    _array,
    _image,
    _label,
    _panel,
    add_colorbar,
    colorize,
    finish_figure,
    image_panel,
    new_figure,
    overlay,
)

__all__ = [
    "plot_thing_mask",
    "plot_feature_distance",
]


def plot_thing_mask(image, label, small_label, mask, min_ratio: float | None = None, dpi: int = 90) -> Figure:
    """Label → feature grid: the label under the grid of feature cells with each cell's pooled decision, the
    pooled label (``downscale_label``), and the thing mask over the image.

    ``small_label`` ``[h, w]`` and ``mask`` ``[h, w]`` (bool) are the label pooled to the feature grid and the
    thing-class mask on it (DAFormer Sec. 3.3). The top panel, the width of the figure, draws the full-resolution
    label with the cell borders and, in the middle of every cell, a square in the colour of the class the cell
    pooled to (× where it pooled to ignore, 255). Below: the pooled label, and the thing cells in red over the
    darkened image. 3 axes, all in image pixel coordinates: top, pooled label, thing mask.

    Taught in: notebooks/07_thing_mask_pooling.ipynb
    """
    img = _image(image)
    H, W = img.shape[:2]
    small = _label(small_label)
    m = _array(mask).astype(bool)
    h, w = small.shape
    sy, sx = H // h, W // w
    big = np.repeat(np.repeat(small, sy, 0), sx, 1)  # [H, W]
    big_m = np.repeat(np.repeat(m, sy, 0), sx, 1)  # [H, W]
    things = np.where(
        big_m[..., None], (0.45 * img + 0.55 * np.array([255, 40, 40])).astype(np.uint8), (0.45 * img).astype(np.uint8)
    )
    r = "" if min_ratio is None else f" (r = {min_ratio:.2f})"
    width = 4.4  # inches per bottom panel
    tall, low = 2 * width * H / W + 0.45, width * H / W + 0.3  # the panels' heights
    fig, axes = new_figure(
        mosaic=[["cells", "cells"], ["pooled", "mask"]],
        panel=(width, (tall + low) / 2),
        dpi=dpi,
        height_ratios=[tall, low],
    )
    top, pooled, thing = axes["cells"], axes["pooled"], axes["mask"]
    image_panel(
        top,
        overlay(img, label, 0.8),
        f"label and its {h}×{w} feature cells ({sy}×{sx} pixels each): "
        f"the square in a cell is the class it pools to{r}, × = ignore (255)",
    )
    _pooled_decisions(top, small, sy, sx)
    image_panel(pooled, colorize(big), f"pooled to {h}×{w}{r}; black = 255")
    image_panel(thing, things, f"thing mask: {int(m.sum())} of {m.size} cells")
    for ax, lw in ((top, 1.0), (pooled, 0.6), (thing, 0.6)):  # cell borders: white on a black halo, under marks
        for colour, line in (("black", 2.5 * lw), ("white", lw)):
            for y in range(1, h):
                ax.axhline(y * sy - 0.5, color=colour, lw=line, zorder=0.5)
            for x in range(1, w):
                ax.axvline(x * sx - 0.5, color=colour, lw=line, zorder=0.5)
    return finish_figure(fig)


def _pooled_decisions(ax, small: np.ndarray, sy: int, sx: int) -> None:
    """Mark each cell of ``small`` ``[h, w]`` at its centre: a square of its class colour, × for ignore."""
    ys, xs = np.mgrid[0 : small.shape[0], 0 : small.shape[1]]
    cy, cx = (ys + 0.5) * sy - 0.5, (xs + 0.5) * sx - 0.5  # [h, w] cell centres
    ignore = small == IGNORE_INDEX
    colours = PALETTE[np.clip(small[~ignore], 0, len(PALETTE) - 1)] / 255.0
    ax.scatter(cx[~ignore], cy[~ignore], marker="s", s=150, color=colours, edgecolors="black", linewidths=1.2)
    ax.scatter(cx[ignore], cy[ignore], marker="x", s=90, color="white", linewidths=2.5)


def plot_feature_distance(image, distance, mask, dpi: int = 90) -> Figure:
    """FD on one source image: the image, the per-cell distance ‖F_ImageNet − F_θ‖₂, and its thing-masked part.

    ``distance`` ``[h, w]``, ``mask`` ``[h, w]`` bool; the third title gives the masked mean (DAFormer Sec. 3.3).
    3 image axes, then one colourbar that reads both distance panels.

    Taught in: notebooks/08_feature_distance.ipynb
    """
    img = _image(image)
    d = _array(distance).astype(np.float64)
    m = _array(mask).astype(bool)
    vmax = float(d.max()) if d.size else 1.0
    mean = float(d[m].mean()) if m.any() else 0.0
    fig, axes = new_figure(1, 3, panel=_panel(img.shape, 3.0), dpi=dpi, extra=0.6)
    axes = axes[0]
    image_panel(axes[0], img, "source image")
    im = image_panel(
        axes[1], d, f"per-cell distance d ({d.shape[0]}×{d.shape[1]} grid)", cmap=VALUES_CMAP, vmin=0, vmax=vmax
    )
    image_panel(
        axes[2], np.where(m, d, np.nan), f"thing cells only: mean = {mean:.3f}", cmap=VALUES_CMAP, vmin=0, vmax=vmax
    )
    add_colorbar(fig, im, list(axes[1:]), "‖F_ImageNet − F_θ‖₂ per cell")
    return finish_figure(fig)
