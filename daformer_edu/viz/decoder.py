"""Decoder plots: where one output pixel of a decode head draws its input from (receptive fields).

Serves: notebooks/04_fusion_decoder.ipynb (SegFormer's all-MLP head against DAFormer's context-aware fusion).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import PowerNorm
from matplotlib.figure import Figure

from .common import (
    VALUES_CMAP,
    _feature_array,
    _grey_rgb,
    _panel,
    _rgb01,
    add_colorbar,
    finish_figure,
    image_panel,
    new_figure,
)

__all__ = [
    "plot_receptive_fields",
]


def plot_receptive_fields(image, fields, titles=None, centre=None, ncols=None, figsize=None, dpi: int = 80) -> Figure:
    """Overlay one heat map per entry of ``fields`` on the image: where an output pixel draws its input from.

    ``fields``: list of ``[h, w]`` arrays (e.g. ``|∂ out[y0, x0] / ∂ input|`` summed over channels at the
    decoder's 1/4 resolution), stretched over the image. Each is divided by its maximum and coloured on a
    square-root scale so weak inputs stay visible (one colourbar, beside the panels, reads them all); a sparse
    field (≤ 400 non-zero inputs, e.g. dilated taps) is drawn as one square per input so single taps show, and
    a dashed box marks the window the non-zero inputs span (a 3×3 conv with dilation d: ``2d + 1``; DAFormer
    §3.2). The title counts the non-zero inputs. ``centre`` = ``(y, x)`` in image pixels marks the output pixel
    (a cyan ring); ``ncols`` panels per row (default: all in one row). Returns the Figure: one axis per field,
    then the colourbar's.

    Taught in: notebooks/04_fusion_decoder.ipynb
    """
    img = _rgb01(image)  # [H, W, 3] in [0, 1]
    fields = [np.abs(_feature_array(f)) for f in fields]
    if titles is not None and len(titles) != len(fields):
        raise ValueError(f"plot_receptive_fields: {len(titles)} titles for {len(fields)} fields; give one per field.")
    n = len(fields)
    ncols = min(ncols or n, n)
    nrows = -(-n // ncols)
    panel = (figsize[0] / ncols, figsize[1] / nrows) if figsize else _panel(img.shape, 3.2, title_lines=2)
    fig, grid = new_figure(nrows, ncols, panel=panel, dpi=dpi, extra=0.9)
    axes = grid.ravel()
    for ax in axes[n:]:
        fig.delaxes(ax)  # empty slots of the last row
    norm = PowerNorm(0.5, vmin=0.0, vmax=1.0)  # square-root colour scale: weak taps stay visible
    for i, f in enumerate(fields):
        if f.ndim != 2:
            raise ValueError(f"plot_receptive_fields: field {i} must be [h, w], got shape {f.shape}.")
        label = titles[i] if titles is not None else f"field {i}"
        image_panel(axes[i], _grey_rgb(img), f"{label}\n{int((f > 0).sum())} of {f.size} inputs", alpha=0.6)
        shown = _draw_field(axes[i], f / max(f.max(), 1e-30), img.shape, norm)
        if centre is not None:
            axes[i].plot(
                [centre[1]], [centre[0]], marker="o", color="cyan", fillstyle="none", markersize=11, mew=1.5, zorder=4
            )
    add_colorbar(fig, shown, list(axes[:n]), "|∂ out / ∂ input| ÷ its max (square-root scale)")
    return finish_figure(fig)


def _draw_field(ax, rel: np.ndarray, shape, norm):
    """Draw one field ``rel`` ``[h, w]`` (in [0, 1]) over an image of ``shape``; returns what carries its colours."""
    H, W = shape[:2]
    h, w = rel.shape
    sy, sx = H / h, W / w  # image pixels per field pixel
    ys, xs = np.nonzero(rel > 0)
    if len(ys) <= 400:  # sparse (dilated taps): one square marker per input pixel, so 4×4-pixel taps show
        shown = ax.scatter(
            (xs + 0.5) * sx,
            (ys + 0.5) * sy,
            c=rel[ys, xs],
            cmap=VALUES_CMAP,
            norm=norm,
            marker="s",
            s=max(30.0, 2.0 * sx * sy / 16),
            edgecolors="white",
            linewidths=0.4,
            zorder=3,
        )
    else:  # dense: a heat map resized to the image
        shown = ax.imshow(
            np.ma.masked_less_equal(rel, 0.0),
            cmap=VALUES_CMAP,
            norm=norm,
            alpha=0.85,
            extent=(0, W, H, 0),
            interpolation="nearest",
        )
    if len(ys):  # the window the output pixel reads from
        x0, x1, y0, y1 = xs.min() * sx, (xs.max() + 1) * sx, ys.min() * sy, (ys.max() + 1) * sy
        ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ls="--", lw=1.0, ec="orange"))
    ax.set_xlim(0, W)
    ax.set_ylim(H, 0)
    return shown
