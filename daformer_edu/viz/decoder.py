"""Decoder plots: where one output pixel of a decode head draws its input from (receptive fields).

Serves: notebooks/04_fusion_decoder.ipynb (SegFormer's all-MLP head against DAFormer's context-aware fusion).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from .common import _feature_array, _rgb01

__all__ = [
    "plot_receptive_fields",
]


def plot_receptive_fields(image, fields, titles=None, centre=None, ncols=None, figsize=None,
                          dpi: int = 80) -> Figure:
    """Overlay one heat map per entry of ``fields`` on the image: where an output pixel draws its input from.

    ``fields``: list of ``[h, w]`` arrays (e.g. ``|∂ out[y0, x0] / ∂ input|`` summed over channels at the
    decoder's 1/4 resolution), stretched over the image. Each is normalised to its maximum and coloured on a
    ``sqrt`` scale so weak inputs stay visible; a sparse field (≤ 400 non-zero inputs, e.g. dilated taps) is
    drawn as one square per input so single taps show, and a dashed box marks the window the non-zero
    inputs span (a 3×3 conv with dilation d: ``2d + 1``; DAFormer §3.2). The title counts the non-zero inputs.
    ``centre`` = ``(y, x)`` in image pixels marks the output pixel (a cyan ring); ``ncols`` panels per row
    (default: all in one row). Returns the Figure (one axis per field).

    Taught in: notebooks/04_fusion_decoder.ipynb
    """
    img = _rgb01(image)  # [H, W, 3] in [0, 1]
    H, W = img.shape[:2]
    fields = [np.abs(_feature_array(f)) for f in fields]
    if titles is not None and len(titles) != len(fields):
        raise ValueError(f"plot_receptive_fields: {len(titles)} titles for {len(fields)} fields; give one per field.")
    n = len(fields)
    ncols = min(ncols or n, n)
    nrows = -(-n // ncols)
    panel_h = 3.2 * H / W + 0.6  # panels 3.2 in wide, image aspect kept, room for a two-line title
    fig, grid = plt.subplots(nrows, ncols, figsize=figsize or (3.2 * ncols, panel_h * nrows), dpi=dpi,
                              squeeze=False)
    axes = grid.ravel()
    for ax in axes[n:]:
        fig.delaxes(ax)  # empty slots of the last row
    grey = img.mean(axis=2)
    for i, f in enumerate(fields):
        if f.ndim != 2:
            raise ValueError(f"plot_receptive_fields: field {i} must be [h, w], got shape {f.shape}.")
        h, w = f.shape
        sy, sx = H / h, W / w  # image pixels per field pixel
        ax = axes[i]
        ax.imshow(grey, cmap="gray", alpha=0.6)
        level = np.sqrt(f / max(f.max(), 1e-30))  # sqrt: weak taps stay visible
        ys, xs = np.nonzero(f > 0)
        if len(ys) <= 400:  # sparse (dilated taps): one square marker per input pixel, so 4×4-pixel taps show
            ax.scatter((xs + 0.5) * sx, (ys + 0.5) * sy, c=level[ys, xs], cmap="magma", vmin=0, vmax=1,
                       marker="s", s=max(30.0, 2.0 * sx * sy / 16), edgecolors="white", linewidths=0.4, zorder=3)
        else:  # dense: a heat map resized to the image
            ax.imshow(np.ma.masked_less_equal(level, 0.0), cmap="magma", vmin=0, vmax=1, alpha=0.85,
                      extent=(0, W, H, 0), interpolation="nearest")
        if len(ys):  # the window the output pixel reads from
            x0, x1, y0, y1 = xs.min() * sx, (xs.max() + 1) * sx, ys.min() * sy, (ys.max() + 1) * sy
            ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ls="--", lw=1.0, ec="orange"))
        if centre is not None:
            ax.plot([centre[1]], [centre[0]], marker="o", color="cyan", fillstyle="none", markersize=11, mew=1.5,
                    zorder=4)
        label = titles[i] if titles is not None else f"field {i}"
        ax.set_title(f"{label}\n{len(ys)} of {f.size} inputs", fontsize=9)
        ax.set_xlim(0, W)
        ax.set_ylim(H, 0)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig
