"""What every plot shares: turning inputs into pictures, label colours, and the generic image panels.

The helpers accept images as uint8 ``[H, W, 3]`` arrays or as normalised ``[3, H, W]`` tensors (they are
de-normalised for display) and labels / predictions as ``[H, W]`` trainId arrays or tensors (255 = ignore,
drawn black). The other ``viz`` modules build their panels from the private helpers here.

Colours: every ``palette=`` argument takes a uint8 ``[K, 3]`` array or a ``ClassTable`` (its colours; e.g.
``dataset.classes`` of a ``FolderDataset``); the default is the Cityscapes palette.

Serves: notebooks/04_fusion_decoder.ipynb (``colorize``), 05_pseudo_label_weighting.ipynb (colours, legend,
domain grid, image rows), 06, 07 and 10 (``overlay``, image rows), 08_feature_distance.ipynb (image grid) and
09_full_uda.ipynb (``plot_segmentation``).
"""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from ..data.classes import CLASSES, IGNORE_INDEX, PALETTE, ClassTable

__all__ = [
    "colorize",
    "overlay",
    "plot_domain_grid",
    "plot_segmentation",
    "plot_class_legend",
    "plot_image_row",
    "plot_image_grid",
]


def _image(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        if x.is_floating_point():
            from ..data.transforms import denormalize

            return denormalize(x)
        x = x.cpu().numpy()
        if x.ndim == 3 and x.shape[0] == 3:
            x = x.transpose(1, 2, 0)
    return np.asarray(x)


def _label(y) -> np.ndarray:
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    return np.asarray(y).astype(np.int64)


def _rgb01(image) -> np.ndarray:
    """An image (uint8 ``[H, W, 3]``, float ``[H, W, 3]`` in [0, 1], or a normalised ``[3, H, W]`` tensor) as
    float ``[H, W, 3]`` in [0, 1], for the encoder plots below."""
    arr = np.asarray(_image(image))
    if arr.ndim == 3 and arr.shape[0] == 3 and arr.shape[-1] != 3:
        arr = arr.transpose(1, 2, 0)  # CHW -> HWC
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=-1)
    if arr.ndim != 3 or arr.shape[-1] != 3:
        raise ValueError(f"daformer_edu.viz: expected an image [H, W, 3] or [3, H, W], got shape {arr.shape}")
    out = arr.astype(np.float64)
    if not np.issubdtype(arr.dtype, np.floating):
        out = out / 255.0
    return np.clip(out, 0.0, 1.0)


def _array(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _feature_array(x) -> np.ndarray:
    """A tensor or array as a float64 numpy array (detached, on the CPU)."""
    if isinstance(x, torch.Tensor):
        x = x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def _palette(palette) -> np.ndarray:
    """A ``palette=`` argument (uint8 ``[K, 3]`` array or ``ClassTable``) as a uint8 ``[K, 3]`` array."""
    if isinstance(palette, ClassTable):
        return palette.palette
    arr = np.asarray(palette)
    if arr.ndim != 2 or arr.shape[1] != 3 or len(arr) > 256:
        raise ValueError(f"daformer_edu.viz: a palette is [K, 3] RGB colours (K <= 256) or a ClassTable, got shape "
                         f"{arr.shape}")
    return arr.astype(np.uint8)


def colorize(label, palette=PALETTE) -> np.ndarray:
    """trainId map ``[H, W]`` → RGB ``uint8 [H, W, 3]`` in the palette's colours (ignore = black).

    ``palette``: uint8 ``[K, 3]`` or a ``ClassTable``; default the Cityscapes colours. Ids without a colour
    are black too.

    Taught in: notebooks/05_pseudo_label_weighting.ipynb
    """
    palette = _palette(palette)                                                    # [K, 3]
    lab = _label(label)
    lut = np.zeros((256, 3), np.uint8)
    lut[: len(palette)] = palette
    return lut[np.clip(lab, 0, 255)]                                               # [H, W, 3]


def overlay(image, label, alpha: float = 0.55, palette=PALETTE) -> np.ndarray:
    """Blend the colourised label over the image (ignore pixels keep the image). uint8 ``[H, W, 3]``.

    ``palette``: as for ``colorize`` (default Cityscapes).

    Taught in: notebooks/05_pseudo_label_weighting.ipynb
    """
    img = _image(image).astype(np.float32)
    lab = _label(label)
    col = colorize(lab, palette).astype(np.float32)
    a = np.where(lab == IGNORE_INDEX, 0.0, alpha)[..., None]
    return (img * (1 - a) + col * a).round().astype(np.uint8)


def plot_domain_grid(source, target, indices=(0, 1, 2, 3), alpha: float = 0.55, dpi: int = 90,
                     palette=None) -> Figure:
    """Source vs target samples side by side, each with its label overlay (4 columns, one row per index).

    ``source`` / ``target`` are datasets with ``render(i)`` (``SyntheticDomain``) or ``load(i)``; a target
    without labels (the training split) shows the image twice, the second time marked "no labels".
    ``palette=None`` takes the colours of ``source.classes`` (Cityscapes for every dataset but a folder's).

    Taught in: notebooks/05_pseudo_label_weighting.ipynb
    """
    if palette is None:
        palette = getattr(source, "classes", PALETTE)
    indices = list(indices)
    fig, axes = plt.subplots(len(indices), 4, figsize=(12, 1.7 * len(indices) + 0.4), dpi=dpi, squeeze=False)
    for r, i in enumerate(indices):
        for c0, ds, title in ((0, source, "source"), (2, target, "target")):
            if getattr(ds, "has_labels", True):
                img, lab = ds.render(i) if hasattr(ds, "render") else ds.load(i)
                axes[r, c0].imshow(img)
                axes[r, c0 + 1].imshow(overlay(img, lab, alpha, palette))
                sub = "labels"
            else:
                img = ds.render_image(i) if hasattr(ds, "render_image") else ds.load(i)[0]
                axes[r, c0].imshow(img)
                axes[r, c0 + 1].imshow(img)
                sub = "no labels (UDA target train)"
            if r == 0:
                axes[r, c0].set_title(f"{title}: image", fontsize=9)
                axes[r, c0 + 1].set_title(f"{title}: {sub}", fontsize=9)
    for ax in axes.ravel():
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_segmentation(image, label=None, prediction=None, titles=None, alpha: float = 0.55, dpi: int = 90,
                      palette=PALETTE) -> Figure:
    """One row: the image, then the label and/or prediction overlaid (as many panels as inputs given).

    ``palette``: as for ``colorize`` (default Cityscapes; pass the run's ``trainer.classes`` for your own).

    Taught in: notebooks/09_full_uda.ipynb
    """
    img = _image(image)
    panels = [("image", img)]
    if label is not None:
        panels.append(("label", overlay(img, label, alpha, palette)))
    if prediction is not None:
        panels.append(("prediction", overlay(img, prediction, alpha, palette)))
    if titles is not None:
        panels = [(t, p) for t, (_, p) in zip(titles, panels)]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 2.2), dpi=dpi, squeeze=False)
    for ax, (title, p) in zip(axes[0], panels):
        ax.imshow(p)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_class_legend(class_names=CLASSES, palette=PALETTE, dpi: int = 90, classes: ClassTable | None = None) -> Figure:
    """The colour legend: one swatch per trainId (Cityscapes by default).

    ``classes``: a ``ClassTable`` whose names and colours replace ``class_names`` and ``palette``.

    Taught in: notebooks/05_pseudo_label_weighting.ipynb
    """
    if classes is not None:
        class_names, palette = classes.names, classes.palette
    palette = _palette(palette)
    k = len(class_names)
    if len(palette) < k:
        raise ValueError(f"plot_class_legend: {k} class names but only {len(palette)} colours")
    ncol = 5
    nrow = math.ceil(k / ncol)
    fig, ax = plt.subplots(figsize=(8, 0.32 * nrow + 0.2), dpi=dpi)
    for i, name in enumerate(class_names):
        r, c = divmod(i, ncol)
        ax.add_patch(plt.Rectangle((c * 1.6, -r), 0.3, 0.8, color=np.asarray(palette[i]) / 255.0))
        ax.text(c * 1.6 + 0.38, -r + 0.4, f"{i} {name}", va="center", fontsize=8)
    ax.set_xlim(0, ncol * 1.6)
    ax.set_ylim(-nrow + 0.9, 0.9)
    ax.axis("off")
    fig.tight_layout()
    return fig


def plot_image_row(images, titles=None, dpi: int = 90) -> Figure:
    """Images side by side (uint8 ``[H, W, 3]`` or normalised ``[3, H, W]`` tensors), one axis each.

    Taught in: notebooks/05_pseudo_label_weighting.ipynb
    """
    images = list(images)
    titles = list(titles) if titles is not None else [""] * len(images)
    if len(titles) != len(images):
        raise ValueError(f"plot_image_row: {len(images)} images but {len(titles)} titles")
    fig, axes = plt.subplots(1, len(images), figsize=(3.2 * len(images), 2.0), dpi=dpi, squeeze=False)
    for ax, img, title in zip(axes[0], images, titles):
        ax.imshow(_image(img))
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_image_grid(images, titles=None, ncols: int = 8, size: float = 1.6, dpi: int = 80) -> Figure:
    """Images in a grid of ``ncols`` columns (uint8 ``[H, W, 3]`` or normalised ``[3, H, W]``), a title each.

    Taught in: notebooks/08_feature_distance.ipynb
    """
    images = list(images)
    titles = list(titles) if titles is not None else [""] * len(images)
    if len(titles) != len(images):
        raise ValueError(f"plot_image_grid: {len(images)} images but {len(titles)} titles")
    if not images:
        raise ValueError("plot_image_grid: no images")
    ncols = min(ncols, len(images))
    nrows = -(-len(images) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, (size + 0.25) * nrows), dpi=dpi, squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, img, title in zip(axes.ravel(), images, titles):
        ax.imshow(_image(img))
        ax.set_title(title, fontsize=8)
    fig.tight_layout()
    return fig
