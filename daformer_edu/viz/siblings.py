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
from .common import (
    FONT_SIZE,
    SIGNED_CMAP,
    _array,
    _image,
    _label,
    _panel,
    add_colorbar,
    colorize,
    finish_figure,
    image_panel,
    label_axes,
    new_figure,
    overlay,
    place_legend,
)

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
    encoder stage). ``vmax`` defaults to the largest absolute entry. One axis per matrix, then the colourbar's.

    Taught in: notebooks/10_domain_generalization.ipynb
    """
    items = [
        (k, np.asarray(v.detach().cpu() if isinstance(v, torch.Tensor) else v, dtype=np.float64))
        for k, v in matrices.items()
    ]
    if not items:
        raise ValueError("plot_covariance_matrices: give at least one matrix")
    vmax = vmax or max(float(np.abs(m).max()) for _, m in items) or 1.0
    fig, axes = new_figure(1, len(items), panel=(2.8, 2.9), dpi=dpi, extra=0.8)
    for ax, (title, m) in zip(axes[0], items):
        im = image_panel(ax, m, title, cmap=SIGNED_CMAP, vmin=-vmax, vmax=vmax)
    add_colorbar(fig, im, list(axes[0]), "covariance (channel i, channel j)")
    return finish_figure(fig)


def plot_contrastive_samples(
    image, label, anchors, negatives=None, anchor_classes=None, title: str = "", alpha: float = 0.55, dpi: int = 90
) -> Figure:
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
    img = _image(image)
    fig, axes = new_figure(1, 2, panel=_panel(img.shape, 3.4), dpi=dpi, extra=1.2)
    axes = axes[0]
    image_panel(axes[0], img, title or "image")
    image_panel(axes[1], overlay(image, label, alpha), "label")
    for ax in axes:
        ax.scatter(
            anchors[:, 1], anchors[:, 0], s=22, facecolors="none", edgecolors=colours, linewidths=1.2, label="anchors"
        )
        if negatives is not None and len(negatives):
            ax.scatter(negatives[:, 1], negatives[:, 0], s=18, marker="x", c="black", linewidths=1.0, label="negatives")
    place_legend(axes[1])
    return finish_figure(fig)


def plot_correlation_volume(image, query, maps: dict, image_b=None, dpi: int = 90) -> Figure:
    """One slice of a correlation volume: the query point on ``image`` and, per entry of ``maps``
    (``title → [h, w]`` similarities of the query with every cell), a heat map over ``image_b``
    (default: the same image), with its colourbar. ``query`` is ``(y, x)`` in image pixels (outside the image: no
    star). 1 + len(maps) image axes, then one colourbar per map.

    Taught in: notebooks/11_unsupervised_stego.ipynb
    """
    img = _image(image)
    img_b = img if image_b is None else _image(image_b)
    fig, axes = new_figure(1, 1 + len(maps), panel=_panel(img.shape, 3.2), dpi=dpi, extra=0.7 * len(maps))
    axes = axes[0]
    image_panel(axes[0], img, "query point")
    axes[0].plot([query[1]], [query[0]], marker="*", color="white", markeredgecolor="black", markersize=14)
    axes[0].set_xlim(-0.5, img.shape[1] - 0.5)  # the image's frame: a query outside it (none on this image) is
    axes[0].set_ylim(img.shape[0] - 0.5, -0.5)  # not drawn, and does not shrink the picture
    H, W = img_b.shape[:2]
    for ax, (title, m) in zip(axes[1:], maps.items()):
        image_panel(ax, img_b, title)
        im = ax.imshow(
            _array(m).astype(np.float64),
            cmap=SIGNED_CMAP,
            vmin=-1,
            vmax=1,
            alpha=0.7,
            extent=(-0.5, W - 0.5, H - 0.5, -0.5),
            interpolation="nearest",
        )
        add_colorbar(fig, im, ax, "cosine similarity with the query")
    return finish_figure(fig)


def plot_shift_effect(values: dict, shifts: dict, bins: int = 60, dpi: int = 90) -> Figure:
    """Histograms of centred feature correlations F^SC per pair kind (``values``: name → array) with each
    kind's shift b (``shifts``: name → float or a list of them) drawn as a line; the legend over each axis names
    the kind and gives the share of pairs each b attracts (F^SC > b, code similarity pushed up) — the rest are
    pushed towards orthogonal. One axis per kind.

    Taught in: notebooks/11_unsupervised_stego.ipynb
    """
    names = list(values)
    fig, axes = new_figure(1, len(names), panel=(3.6, 3.0), dpi=dpi)
    for ax, name in zip(axes[0], names):
        v = _array(values[name]).astype(np.float64).ravel()
        ax.hist(v, bins=bins, color="0.6")
        bs = shifts.get(name, [])
        for b, colour in zip(bs if isinstance(bs, (list, tuple)) else [bs], ("tab:red", "tab:blue", "tab:green")):
            ax.axvline(b, color=colour, lw=2, label=f"b = {b:.2f}: attract {100 * float((v > b).mean()):.0f} %")
        label_axes(ax, "F^SC", "pairs")
        if ax.get_legend_handles_labels()[0]:
            place_legend(ax, "above", title=name)  # the legend, over the axes, names the kind
        else:
            ax.set_title(name)
    return finish_figure(fig)


def plot_cluster_maps(images, clusters, matched, labels, num_clusters: int, dpi: int = 90) -> Figure:
    """Rows of (image, raw cluster ids in arbitrary colours, clusters renamed to classes by the Hungarian
    matching, ground truth). ``images`` ``[N, 3, H, W]``, the maps ``[N, H, W]``. ``N × 4`` axes.

    Taught in: notebooks/11_unsupervised_stego.ipynb
    """
    n = len(images)
    first = _image(images[0])
    fig, axes = new_figure(n, 4, panel=_panel(first.shape, 2.8), dpi=dpi)
    titles = ("target val image", f"{num_clusters} clusters (ids arbitrary)", "Hungarian-matched", "ground truth")
    for i in range(n):
        cl = _label(clusters[i])
        panels = [
            _image(images[i]),
            plt.get_cmap("tab20")(cl % 20 / 19.0 if num_clusters > 1 else cl)[..., :3],
            colorize(matched[i]),
            colorize(labels[i]),
        ]
        for j, p in enumerate(panels):
            image_panel(axes[i, j], p, titles[j] if i == 0 else None)
    return finish_figure(fig)


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
    fig, axes = new_figure(1, 1, panel=(12.0, 0.34 * len(rows) + 0.9), dpi=dpi)
    ax = axes[0, 0]
    ax.axis("off")
    tab = ax.table(cellText=cells, colLabels=heads, loc="center", cellLoc="left")
    tab.auto_set_font_size(False)
    tab.set_fontsize(FONT_SIZE)
    tab.auto_set_column_width(list(range(len(cols))))
    ax.set_title(title)
    return finish_figure(fig)
