"""Plots for DAFormer's siblings: domain generalisation (BlindNet) and unsupervised segmentation (STEGO).

Serves: notebooks/10_domain_generalization.ipynb (covariance matrices, contrastive samples) and
11_unsupervised_stego.ipynb (correlation volumes, the shift b, cluster maps, and the closing table that puts
every setting side by side).
"""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from ..data.classes import PALETTE
from .common import _array, _image, _label, colorize, overlay

__all__ = [
    "plot_covariance_matrices",
    "plot_contrastive_samples",
    "plot_correlation_volume",
    "plot_shift_effect",
    "plot_cluster_maps",
    "format_setting_table",
    "plot_setting_table",
]


def plot_covariance_matrices(matrices: dict, vmax: float | None = None, dpi: int = 90) -> Figure:
    """``C × C`` (cross-)covariance matrices side by side, one axis each, one shared diverging colour scale.

    ``matrices``: ``{title: [C, C] array or tensor}`` (e.g. of the original and the style view of one
    encoder stage). ``vmax`` defaults to the largest absolute entry.

    Taught in: notebooks/10_domain_generalization.ipynb
    """
    items = [(k, np.asarray(v.detach().cpu() if isinstance(v, torch.Tensor) else v, dtype=np.float64))
             for k, v in matrices.items()]
    if not items:
        raise ValueError("plot_covariance_matrices: give at least one matrix")
    vmax = vmax or max(float(np.abs(m).max()) for _, m in items) or 1.0
    fig, axes = plt.subplots(1, len(items), figsize=(2.8 * len(items), 2.8), dpi=dpi, squeeze=False)
    for ax, (title, m) in zip(axes[0], items):
        ax.imshow(m, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def plot_contrastive_samples(image, label, anchors, negatives=None, anchor_classes=None, title: str = "",
                             alpha: float = 0.55, dpi: int = 90) -> Figure:
    """Where contrastive samples lie: the image (left) and its label (right) with anchors (○) and negatives (×).

    ``anchors``/``negatives``: ``[N, 2]`` pixel coordinates ``(y, x)`` in the image's frame (scale feature-grid
    coordinates by the stride first). ``anchor_classes`` colours the anchors by class (Cityscapes palette).

    Taught in: notebooks/10_domain_generalization.ipynb
    """
    anchors = np.asarray(anchors, dtype=np.float64).reshape(-1, 2)
    negatives = None if negatives is None else np.asarray(negatives, dtype=np.float64).reshape(-1, 2)
    if anchor_classes is not None:
        colours = PALETTE[np.clip(np.asarray(anchor_classes, dtype=np.int64), 0, len(PALETTE) - 1)] / 255.0
    else:
        colours = "white"
    fig, axes = plt.subplots(1, 2, figsize=(7.0, 2.6), dpi=dpi)
    axes[0].imshow(_image(image))
    axes[1].imshow(overlay(image, label, alpha))
    for ax in axes:
        ax.scatter(anchors[:, 1], anchors[:, 0], s=22, facecolors="none", edgecolors=colours, linewidths=1.2,
                   label="anchors")
        if negatives is not None and len(negatives):
            ax.scatter(negatives[:, 1], negatives[:, 0], s=18, marker="x", c="black", linewidths=1.0,
                       label="negatives")
        ax.axis("off")
    axes[0].set_title(title, fontsize=9)
    axes[1].set_title("label", fontsize=9)
    axes[1].legend(loc="lower right", fontsize=7, framealpha=0.8)
    fig.tight_layout()
    return fig


def plot_correlation_volume(image, query, maps: dict, image_b=None, dpi: int = 90) -> Figure:
    """One slice of a correlation volume: the query point on ``image`` and, per entry of ``maps``
    (``title → [h, w]`` similarities of the query with every cell), a heat map over ``image_b``
    (default: the same image). ``query`` is ``(y, x)`` in image pixels. 1 + len(maps) axes.

    Taught in: notebooks/11_unsupervised_stego.ipynb
    """
    img = _image(image)
    img_b = img if image_b is None else _image(image_b)
    fig, axes = plt.subplots(1, 1 + len(maps), figsize=(3.2 * (1 + len(maps)), 2.2), dpi=dpi, squeeze=False)
    axes = axes[0]
    axes[0].imshow(img)
    axes[0].plot([query[1]], [query[0]], marker="*", color="white", markeredgecolor="black", markersize=14)
    axes[0].set_title("query point", fontsize=9)
    H, W = img_b.shape[:2]
    for ax, (title, m) in zip(axes[1:], maps.items()):
        m = _array(m).astype(np.float64)
        ax.imshow(img_b)
        im = ax.imshow(m, cmap="coolwarm", vmin=-1, vmax=1, alpha=0.7, extent=(-0.5, W - 0.5, H - 0.5, -0.5),
                       interpolation="nearest")
        ax.set_title(title, fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.03)
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_shift_effect(values: dict, shifts: dict, bins: int = 60, dpi: int = 90) -> Figure:
    """Histograms of centred feature correlations F^SC per pair kind (``values``: name → array) with each
    kind's shift b (``shifts``: name → float) drawn as a line; the title gives the share of pairs b
    attracts (F^SC > b, code similarity pushed up) — the rest are pushed towards orthogonal. One axis per kind.

    Taught in: notebooks/11_unsupervised_stego.ipynb
    """
    names = list(values)
    fig, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 2.5), dpi=dpi, squeeze=False)
    for ax, name in zip(axes[0], names):
        v = _array(values[name]).astype(np.float64).ravel()
        ax.hist(v, bins=bins, color="0.6")
        titles = [name]
        bs = shifts.get(name, [])
        for b, colour in zip(bs if isinstance(bs, (list, tuple)) else [bs], ("tab:red", "tab:blue", "tab:green")):
            ax.axvline(b, color=colour, lw=2, label=f"b = {b:.2f}: attract {100 * float((v > b).mean()):.0f} %")
        ax.legend(fontsize=7)
        ax.set_xlabel("F^SC", fontsize=8)
        ax.set_title(" ".join(titles), fontsize=9)
    fig.tight_layout()
    return fig


def plot_cluster_maps(images, clusters, matched, labels, num_clusters: int, dpi: int = 90) -> Figure:
    """Rows of (image, raw cluster ids in arbitrary colours, clusters renamed to classes by the Hungarian
    matching, ground truth). ``images`` ``[N, 3, H, W]``, the maps ``[N, H, W]``. ``N × 4`` axes.

    Taught in: notebooks/11_unsupervised_stego.ipynb
    """
    n = len(images)
    fig, axes = plt.subplots(n, 4, figsize=(11, 1.6 * n + 0.4), dpi=dpi, squeeze=False)
    for i in range(n):
        cl = _label(clusters[i])
        panels = [_image(images[i]), plt.get_cmap("tab20")(cl % 20 / 19.0 if num_clusters > 1 else cl)[..., :3],
                  colorize(matched[i]), colorize(labels[i])]
        for j, p in enumerate(panels):
            axes[i, j].imshow(p)
            axes[i, j].axis("off")
    for j, t in enumerate(("target val image", f"{num_clusters} clusters (ids arbitrary)", "Hungarian-matched",
                           "ground truth")):
        axes[0, j].set_title(t, fontsize=9)
    fig.tight_layout()
    return fig


def format_setting_table(rows) -> str:
    """Plain-text version of :func:`plot_setting_table` (same ``rows``).

    Taught in: notebooks/11_unsupervised_stego.ipynb
    """
    cols = ("method", "miou", "acc", "uses", "preset", "seeds", "wall_s")
    heads = ("method", "mIoU %", "acc %", "may use", "preset / budget", "seeds", "wall s")
    cells = [[_setting_cell(r, c) for c in cols] for r in rows]
    widths = [max(len(h), *(len(c[j]) for c in cells)) for j, h in enumerate(heads)]
    line = lambda vals: "  ".join(f"{v:<{w}}" for v, w in zip(vals, widths))  # noqa: E731
    return "\n".join([line(heads), line(["-" * w for w in widths])] + [line(c) for c in cells])


def _setting_cell(row: dict, col: str) -> str:
    v = row.get(col)
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    if col in ("miou", "acc"):  # percent
        return f"{float(v):.1f}"
    if col == "wall_s":
        return f"{float(v):.0f}"
    return str(v)


def plot_setting_table(rows, title: str = "same synthetic target val", dpi: int = 90) -> Figure:
    """The closing comparison of settings as a table figure: one row per method with mIoU, pixel accuracy,
    what it may use (labels / images of which domain), preset, seeds and wall time.

    ``rows``: list of dicts with keys ``method``, ``miou`` and ``acc`` (optional) in percent,
    ``uses``, ``preset``, ``seeds``, ``wall_s`` (missing values print as n/a). One axis.

    Taught in: notebooks/11_unsupervised_stego.ipynb
    """
    cols = ("method", "miou", "acc", "uses", "preset", "seeds", "wall_s")
    heads = ("method", "mIoU %", "acc %", "may use", "preset / budget", "seeds", "wall s")
    cells = [[_setting_cell(r, c) for c in cols] for r in rows]
    fig, ax = plt.subplots(figsize=(12, 0.38 * len(rows) + 0.9), dpi=dpi)
    ax.axis("off")
    tab = ax.table(cellText=cells, colLabels=heads, loc="center", cellLoc="left")
    tab.auto_set_font_size(False)
    tab.set_fontsize(7.5)
    tab.auto_set_column_width(list(range(len(cols))))
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
