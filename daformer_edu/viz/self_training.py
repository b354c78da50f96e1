"""Self-training plots: the teacher's pseudo-labels and their weight, ClassMix, and schedules.

Serves: notebooks/05_pseudo_label_weighting.ipynb (pseudo-labels and q_T, ClassMix, the EMA α and q_T curves);
``plot_schedule`` is reused in 07_thing_mask_pooling.ipynb, 08_feature_distance.ipynb and
10_domain_generalization.ipynb.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from .common import (
    SERIES_COLOURS,
    VALUES_CMAP,
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
    "plot_pseudo_labels",
    "plot_classmix",
    "plot_schedule",
]


def plot_pseudo_labels(
    image, confidence, labels, threshold: float = 0.968, ignore_top: int = 0, ignore_bottom: int = 0, dpi: int = 90
) -> Figure:
    """The teacher on one target image: image, max softmax probability, pseudo-label, pixels above τ.

    ``confidence`` ``[H, W]`` = max_c softmax (with its colourbar); ``labels`` ``[H, W]`` = argmax. The last panel
    shows the pixels counted by q_T (> τ) and greys out the rows ``ignore_top`` / ``ignore_bottom`` that get
    weight 0; its title gives q_T. 4 image axes and the colourbar's.

    Taught in: notebooks/05_pseudo_label_weighting.ipynb
    """
    img = _image(image)
    conf = _array(confidence).astype(np.float64)
    lab = _label(labels)
    confident = conf > threshold
    q = float(confident.mean())
    fig, axes = new_figure(1, 4, panel=_panel(img.shape, 3.0), dpi=dpi, extra=0.6)
    axes = axes[0]
    image_panel(axes[0], img, "target image (teacher input)")
    im = image_panel(axes[1], conf, "teacher confidence max_c p", vmin=0, vmax=1, cmap=VALUES_CMAP)
    add_colorbar(fig, im, axes[1], "max_c p")
    image_panel(axes[2], overlay(img, lab, 0.8), "pseudo-label argmax_c p")
    image_panel(
        axes[3],
        np.where(confident[..., None], colorize(lab), (0.35 * img).astype(np.uint8)),
        f"> τ={threshold:.3f}: q_T = {q:.3f}",
    )
    H = conf.shape[0]
    for r0, r1 in ((0, ignore_top), (H - ignore_bottom, H)):
        if r1 > r0:
            axes[3].axhspan(r0 - 0.5, r1 - 0.5, color="white", alpha=0.6, lw=0)
    return finish_figure(fig)


def plot_classmix(
    source_image, source_label, target_image, target_label, mask, mixed_image, mixed_label, mixed_weight, dpi: int = 90
) -> Figure:
    """ClassMix on one pair: the inputs (top row) and the mask, mixed image, mixed label, mixed weight (bottom).

    8 image axes and the weight's colourbar. ``mask`` ``[H, W]`` (1 = source pixel), ``mixed_weight`` ``[H, W]``
    in [0, 1].

    Taught in: notebooks/05_pseudo_label_weighting.ipynb
    """
    src, trg, mixed = _image(source_image), _image(target_image), _image(mixed_image)
    m = _array(mask).astype(np.float64)
    panels = [
        ("source image", src),
        ("source label", colorize(source_label)),
        ("target image", trg),
        ("target pseudo-label", colorize(target_label)),
        ("mask M (white = source)", np.repeat((255 * m).astype(np.uint8)[..., None], 3, axis=-1)),
        ("mixed image", mixed),
        ("mixed label", colorize(mixed_label)),
    ]
    fig, axes = new_figure(2, 4, panel=_panel(src.shape, 3.0), dpi=dpi, extra=0.6)
    for ax, (title, p) in zip(axes.ravel(), panels):
        image_panel(ax, p, title)
    im = image_panel(axes[1, 3], _array(mixed_weight), "mixed weight (1 / q_T / 0)", cmap=VALUES_CMAP, vmin=0, vmax=1)
    add_colorbar(fig, im, axes[1, 3], "pixel weight of the loss")
    return finish_figure(fig)


def plot_schedule(
    curves: dict,
    xlabel: str = "iteration",
    ylabel: str = "",
    title: str = "",
    logy: bool = False,
    marks: dict | None = None,
    dpi: int = 90,
) -> Figure:
    """Line plot of ``{name: (x, y)}`` curves (EMA α, learning rate, q_T over τ ...); 1 axis, legend beside it.

    ``marks`` = ``{label: (x, y)}`` draws labelled points (e.g. the official log value). Without a ``ylabel``
    the y axis is named after the only curve, or "value" when there are several (name it).

    Taught in: notebooks/05_pseudo_label_weighting.ipynb
    """
    fig, axes = new_figure(1, 1, panel=(6.4, 2.8), dpi=dpi, extra=2.6 if len(curves) > 1 else 0.0)
    ax = axes[0, 0]
    for n, (name, (x, y)) in enumerate(curves.items()):
        ax.plot(_array(x), _array(y), label=name, color=SERIES_COLOURS[n % len(SERIES_COLOURS)])
    for name, (x, y) in (marks or {}).items():
        ax.plot([x], [y], "o", color="k", ms=4)
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(6, -10))
    if logy:
        ax.set_yscale("log")
    label_axes(ax, xlabel, ylabel or (next(iter(curves)) if len(curves) == 1 else "value"), title)
    ax.grid(alpha=0.3)
    if len(curves) > 1:
        place_legend(ax)
    return finish_figure(fig)
