"""Self-training plots: the teacher's pseudo-labels and their weight, ClassMix, and schedules.

Serves: notebooks/05_pseudo_label_weighting.ipynb (pseudo-labels and q_T, ClassMix, the EMA α and q_T curves);
``plot_schedule`` is reused in 07_thing_mask_pooling.ipynb, 08_feature_distance.ipynb and
10_domain_generalization.ipynb.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from .common import _array, _image, _label, colorize, overlay

__all__ = [
    "plot_pseudo_labels",
    "plot_classmix",
    "plot_schedule",
]


def plot_pseudo_labels(image, confidence, labels, threshold: float = 0.968, ignore_top: int = 0,
                       ignore_bottom: int = 0, dpi: int = 90) -> Figure:
    """The teacher on one target image: image, max softmax probability, pseudo-label, pixels above τ.

    ``confidence`` ``[H, W]`` = max_c softmax; ``labels`` ``[H, W]`` = argmax. The last panel shows the
    pixels counted by q_T (> τ) and greys out the rows ``ignore_top`` / ``ignore_bottom`` that get weight 0;
    its title gives q_T. 4 axes.

    Taught in: notebooks/05_pseudo_label_weighting.ipynb
    """
    img = _image(image)
    conf = _array(confidence).astype(np.float64)
    lab = _label(labels)
    confident = conf > threshold
    q = float(confident.mean())
    fig, axes = plt.subplots(1, 4, figsize=(13, 2.3), dpi=dpi)
    axes[0].imshow(img)
    axes[0].set_title("target image (teacher input)", fontsize=9)
    im = axes[1].imshow(conf, vmin=0, vmax=1, cmap="viridis")
    fig.colorbar(im, ax=axes[1], fraction=0.03)
    axes[1].set_title("teacher confidence max_c p", fontsize=9)
    axes[2].imshow(overlay(img, lab, 0.8))
    axes[2].set_title("pseudo-label argmax_c p", fontsize=9)
    show = np.where(confident[..., None], colorize(lab), (0.35 * img).astype(np.uint8))
    axes[3].imshow(show)
    H = conf.shape[0]
    for r0, r1 in ((0, ignore_top), (H - ignore_bottom, H)):
        if r1 > r0:
            axes[3].axhspan(r0 - 0.5, r1 - 0.5, color="white", alpha=0.6, lw=0)
    axes[3].set_title(f"> τ={threshold:.3f}: q_T = {q:.3f}", fontsize=9)
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_classmix(source_image, source_label, target_image, target_label, mask, mixed_image, mixed_label,
                  mixed_weight, dpi: int = 90) -> Figure:
    """ClassMix on one pair: the inputs (top row) and the mask, mixed image, mixed label, mixed weight (bottom).

    8 axes. ``mask`` ``[H, W]`` (1 = source pixel), ``mixed_weight`` ``[H, W]`` in [0, 1].

    Taught in: notebooks/05_pseudo_label_weighting.ipynb
    """
    src, trg, mixed = _image(source_image), _image(target_image), _image(mixed_image)
    panels = [
        ("source image", src, None), ("source label", colorize(source_label), None),
        ("target image", trg, None), ("target pseudo-label", colorize(target_label), None),
        ("mask M (white = source)", _array(mask).astype(np.float64), "gray"), ("mixed image", mixed, None),
        ("mixed label", colorize(mixed_label), None), ("mixed weight (1 / q_T / 0)", _array(mixed_weight), "magma"),
    ]
    fig, axes = plt.subplots(2, 4, figsize=(13, 3.9), dpi=dpi)
    for ax, (title, p, cmap) in zip(axes.ravel(), panels):
        if cmap is None:
            ax.imshow(p)
        else:
            ax.imshow(p, cmap=cmap, vmin=0, vmax=1)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_schedule(curves: dict, xlabel: str = "iteration", ylabel: str = "", title: str = "", logy: bool = False,
                  marks: dict | None = None, dpi: int = 90) -> Figure:
    """Line plot of ``{name: (x, y)}`` curves (EMA α, learning rate, q_T over τ ...); 1 axis.

    ``marks`` = ``{label: (x, y)}`` draws labelled points (e.g. the official log value).

    Taught in: notebooks/05_pseudo_label_weighting.ipynb
    """
    fig, ax = plt.subplots(figsize=(6.4, 2.8), dpi=dpi)
    for name, (x, y) in curves.items():
        ax.plot(_array(x), _array(y), label=name)
    for name, (x, y) in (marks or {}).items():
        ax.plot([x], [y], "o", color="k", ms=4)
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(6, -10), fontsize=8)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    if len(curves) > 1:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
