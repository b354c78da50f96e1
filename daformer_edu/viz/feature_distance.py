"""Feature-distance plots: the thing-class mask on the feature grid and the ImageNet feature distance.

Serves: notebooks/07_thing_mask_pooling.ipynb (label → pooled label → thing mask) and
08_feature_distance.ipynb (the per-cell distance ‖F_ImageNet − F_θ‖₂ and its thing-masked mean).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from .common import _array, _image, _label, colorize, overlay

__all__ = [
    "plot_thing_mask",
    "plot_feature_distance",
]


def plot_thing_mask(image, label, small_label, mask, min_ratio: float | None = None, dpi: int = 90) -> Figure:
    """Label → feature grid: the label, the pooled label (``downscale_label``), the thing mask over the image.

    ``small_label`` ``[h, w]`` and ``mask`` ``[h, w]`` (bool) are drawn on the image with the grid lines of
    the feature cells. 3 axes.

    Taught in: notebooks/07_thing_mask_pooling.ipynb
    """
    img = _image(image)
    H, W = img.shape[:2]
    small = _label(small_label)
    m = _array(mask).astype(bool)
    h, w = small.shape
    sy, sx = H // h, W // w
    big = np.repeat(np.repeat(small, sy, 0), sx, 1)                                # [H, W]
    big_m = np.repeat(np.repeat(m, sy, 0), sx, 1)                                  # [H, W]
    things = np.where(big_m[..., None], (0.45 * img + 0.55 * np.array([255, 40, 40])).astype(np.uint8),
                      (0.45 * img).astype(np.uint8))
    r = "" if min_ratio is None else f" (r = {min_ratio:.2f})"
    panels = [("label (full resolution)", overlay(img, label, 0.8)),
              (f"pooled to {h}×{w}{r}; black = 255", colorize(big)),
              (f"thing mask: {int(m.sum())} of {m.size} cells", things)]
    fig, axes = plt.subplots(1, 3, figsize=(13, 2.5), dpi=dpi)
    for ax, (title, p) in zip(axes, panels):
        ax.imshow(p)
        for y in range(1, h):
            ax.axhline(y * sy - 0.5, color="w", lw=0.4, alpha=0.6)
        for x in range(1, w):
            ax.axvline(x * sx - 0.5, color="w", lw=0.4, alpha=0.6)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_feature_distance(image, distance, mask, dpi: int = 90) -> Figure:
    """FD on one source image: the image, the per-cell distance ‖F_ImageNet − F_θ‖₂, and its thing-masked part.

    ``distance`` ``[h, w]``, ``mask`` ``[h, w]`` bool; the third title gives the masked mean. 3 axes.

    Taught in: notebooks/08_feature_distance.ipynb
    """
    img = _image(image)
    d = _array(distance).astype(np.float64)
    m = _array(mask).astype(bool)
    vmax = float(d.max()) if d.size else 1.0
    mean = float(d[m].mean()) if m.any() else 0.0
    fig, axes = plt.subplots(1, 3, figsize=(13, 2.5), dpi=dpi)
    axes[0].imshow(img)
    axes[0].set_title("source image", fontsize=9)
    im = axes[1].imshow(d, cmap="magma", vmin=0, vmax=vmax)
    fig.colorbar(im, ax=axes[1], fraction=0.03)
    axes[1].set_title(f"per-cell distance d ({d.shape[0]}×{d.shape[1]} grid)", fontsize=9)
    axes[2].imshow(np.where(m, d, np.nan), cmap="magma", vmin=0, vmax=vmax)
    axes[2].set_title(f"thing cells only: mean = {mean:.3f}", fontsize=9)
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    return fig
