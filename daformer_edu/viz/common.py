"""What every plot shares: one figure style, turning inputs into pictures, label colours, generic image panels.

The figure style — every ``plot_*`` function of ``daformer_edu.viz`` draws with it, and a notebook's own figure can:

- ``new_figure(rows, cols, panel=(w, h))`` makes the figure and its axes: at least ``DPI`` dots per inch (a
  smaller ``dpi=`` is raised to it, so an old call keeps working) and at least ``MIN_WIDTH`` inches wide (a
  figure of few panels grows and keeps the panels' shape; no panel is narrower than ``MIN_PANEL``);
- ``image_panel`` shows a picture or an image of values with a title and without ticks; every image of *values*
  (confidence, q_T, distance, attention, IoU, ...) gets a colourbar from ``add_colorbar``, while a label map is
  drawn in the class palette (``colorize``) with a legend or none, and a picture is RGB;
- ``label_axes`` names both axes of every plot of values (an empty name is refused);
- ``place_legend`` puts a legend beside or above its axes, never over the data;
- ``finish_figure`` gives every text of the figure one size, ``FONT_SIZE``.

Colours: ``SERIES_COLOURS`` for lines and bars, ``VALUES_CMAP`` for values that start at 0, ``SIGNED_CMAP`` for
values of either sign, the class palette for classes.

The helpers accept images as uint8 ``[H, W, 3]`` arrays or as normalised ``[3, H, W]`` tensors (they are
de-normalised for display) and labels / predictions as ``[H, W]`` trainId arrays or tensors (255 = ignore,
drawn black). The other ``viz`` modules build their panels from the helpers here.

Colours of classes: every ``palette=`` argument takes a uint8 ``[K, 3]`` array or a ``ClassTable`` (its colours;
e.g. ``dataset.classes`` of a ``FolderDataset``); the default is the Cityscapes palette.

Serves: every notebook (the figure style; notebooks/01_overlapping_patch_embed.ipynb onwards),
04_fusion_decoder.ipynb (``colorize``), 05_pseudo_label_weighting.ipynb (colours, legend, domain grid, image
rows), 06, 07 and 10 (``overlay``, image rows), 08_feature_distance.ipynb (image grid) and 09_full_uda.ipynb
(``plot_segmentation``).
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.text import Text

from ..data.classes import CLASSES, IGNORE_INDEX, PALETTE, ClassTable

__all__ = [
    "DPI",
    "MIN_WIDTH",
    "MIN_PANEL",
    "FONT_SIZE",
    "SERIES_COLOURS",
    "VALUES_CMAP",
    "SIGNED_CMAP",
    "figure_dpi",
    "new_figure",
    "image_panel",
    "add_colorbar",
    "label_axes",
    "place_legend",
    "finish_figure",
    "colorize",
    "overlay",
    "plot_domain_grid",
    "plot_segmentation",
    "plot_class_legend",
    "plot_image_row",
    "plot_image_grid",
]

DPI = 100  # dots per inch: the least any figure is drawn at
MIN_WIDTH = 7.0  # inches: a figure is at least this wide (700 px at DPI, 640 px after a notebook's crop)
MIN_PANEL = 1.6  # inches: the narrowest panel (a 64-pixel picture still shows its pixels)
FONT_SIZE = 9  # points: titles, axis labels, ticks, legends and colourbars alike
SERIES_COLOURS = tuple(plt.get_cmap("tab10").colors)  # lines and bars, in this order
VALUES_CMAP = "viridis"  # values that start at 0 (confidence, distance, attention, counts)
SIGNED_CMAP = "RdBu_r"  # values of either sign (covariance, correlation): blue < 0 < red


# -- the figure style ---------------------------------------------------------------------------------------------


def figure_dpi(dpi=None) -> int:
    """The dots per inch a figure is drawn at: ``dpi`` raised to at least ``DPI`` (``None`` gives ``DPI``)."""
    return max(DPI, int(dpi or DPI))


def new_figure(rows: int = 1, cols: int = 1, panel=(3.2, 2.4), dpi=None, extra: float = 0.0, mosaic=None, **kwargs):
    """A figure in the course's style and its axes: ``(Figure, axes)`` with ``axes`` a ``[rows, cols]`` array.

    ``panel`` = ``(w, h)``: inches per panel; ``extra``: inches of width for what sits beside the panels (a
    legend, a colourbar). A panel narrower than ``MIN_PANEL`` is scaled up, and a figure narrower than
    ``MIN_WIDTH`` grows, both keeping the panels' shape; ``dpi`` below ``DPI`` is raised to ``DPI``. The axes are
    placed by matplotlib's constrained layout (room for titles, colourbars and legends beside the axes).
    ``mosaic`` (a ``plt.subplot_mosaic`` layout such as ``[["a", "a"], ["b", "c"]]``; its shape gives ``rows`` and
    ``cols``) returns a dict of axes by name instead. Other keywords go to ``plt.subplots`` (``sharex``, ...).
    """
    w, h = (float(v) for v in panel)
    if mosaic is not None:
        rows, cols = len(mosaic), len(mosaic[0])
    if rows < 1 or cols < 1 or w <= 0 or h <= 0:
        raise ValueError(
            f"new_figure: rows, cols and the panel size must be positive, got rows={rows}, cols={cols}, panel={panel}"
        )
    if w < MIN_PANEL:
        w, h = MIN_PANEL, h * MIN_PANEL / w
    width = cols * w + extra
    grow = max(1.0, MIN_WIDTH / width)
    size = (width * grow, rows * h * grow)
    if mosaic is not None:
        return plt.subplot_mosaic(mosaic, figsize=size, dpi=figure_dpi(dpi), layout="constrained", **kwargs)
    return plt.subplots(rows, cols, figsize=size, dpi=figure_dpi(dpi), layout="constrained", squeeze=False, **kwargs)


def image_panel(ax, picture, title: str | None = None, **imshow_kwargs):
    """Show ``picture`` on ``ax`` without ticks, under ``title``; returns the ``AxesImage``.

    ``picture``: an RGB ``[H, W, 3]`` array (uint8, or floats in [0, 1]) or an ``[H, W]`` image of values
    (give ``cmap``, ``vmin``, ``vmax``, then ``add_colorbar``). ``title=None`` leaves the title (a grid titles
    its top row only).
    """
    im = ax.imshow(_array(picture), **imshow_kwargs)
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title)
    return im


def add_colorbar(fig, mappable, axes, label: str):
    """A colourbar beside ``axes`` (one axes, or a list that shares it) reading ``mappable``'s colours.

    ``label`` says what the colours measure, with its unit; it may not be empty.
    """
    if not label:
        raise ValueError("add_colorbar: give the colourbar a label (what the colours measure)")
    cb = fig.colorbar(mappable, ax=axes, fraction=0.046, pad=0.03)
    cb.set_label(label)
    return cb


def label_axes(ax, xlabel: str, ylabel: str, title: str | None = None):
    """Name both axes of a plot of values (and give it a title); an empty name raises ``ValueError``."""
    if not xlabel or not ylabel:
        raise ValueError(f"label_axes: both axes need a name, got xlabel={xlabel!r}, ylabel={ylabel!r}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    return ax


def place_legend(ax, where: str = "right", **kwargs):
    """A legend off the data: ``"right"`` beside the axes (top-aligned), ``"above"`` centred over it (in place
    of a title: pass ``title=``). Other keywords go to ``ax.legend`` (``handles``, ``labels``, ``ncols``, ...).
    """
    anchors = {"right": ("upper left", (1.02, 1.0)), "above": ("lower center", (0.5, 1.02))}
    if where not in anchors:
        raise ValueError(f"place_legend: where must be one of {sorted(anchors)}, got {where!r}")
    loc, anchor = anchors[where]
    return ax.legend(**{"loc": loc, "bbox_to_anchor": anchor, "borderaxespad": 0.0, "frameon": False, **kwargs})


def finish_figure(fig: Figure) -> Figure:
    """Give every text of ``fig`` (titles, axis labels, ticks, legends, colourbars) the size ``FONT_SIZE``."""
    for ax in fig.axes:
        ax.tick_params(labelsize=FONT_SIZE)
    for text in fig.findobj(Text):
        text.set_fontsize(FONT_SIZE)
    return fig


def _panel(shape, width: float, title_lines: int = 1) -> tuple[float, float]:
    """``(w, h)`` inches of a panel ``width`` wide that shows an ``[H, W, ...]`` image at its own aspect."""
    H, W = shape[:2]
    return width, width * H / W + 0.2 + 0.18 * title_lines


def _grey_rgb(image01: np.ndarray) -> np.ndarray:
    """A float ``[H, W, 3]`` image in [0, 1] as its grey version, still RGB (a picture under a map of values)."""
    grey = np.asarray(image01, dtype=np.float64).mean(axis=-1, keepdims=True)
    return np.repeat(grey, 3, axis=-1)


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
        raise ValueError(
            f"daformer_edu.viz: a palette is [K, 3] RGB colours (K <= 256) or a ClassTable, got shape {arr.shape}"
        )
    return arr.astype(np.uint8)


def colorize(label, palette=PALETTE) -> np.ndarray:
    """trainId map ``[H, W]`` → RGB ``uint8 [H, W, 3]`` in the palette's colours (ignore = black).

    ``palette``: uint8 ``[K, 3]`` or a ``ClassTable``; default the Cityscapes colours. Ids without a colour
    are black too.

    Taught in: notebooks/05_pseudo_label_weighting.ipynb
    """
    palette = _palette(palette)  # [K, 3]
    lab = _label(label)
    lut = np.zeros((256, 3), np.uint8)
    lut[: len(palette)] = palette
    return lut[np.clip(lab, 0, 255)]  # [H, W, 3]


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


def _domain_row(ds, i, alpha, palette):
    """(image, second panel, its name) of sample ``i``: the label overlay, or the image again without labels."""
    if getattr(ds, "has_labels", True):
        img, lab = ds.render(i) if hasattr(ds, "render") else ds.load(i)
        return img, overlay(img, lab, alpha, palette), "labels"
    img = ds.render_image(i) if hasattr(ds, "render_image") else ds.load(i)[0]
    return img, img, "no labels (UDA target train)"


def plot_domain_grid(source, target, indices=(0, 1, 2, 3), alpha: float = 0.55, dpi: int = 90, palette=None) -> Figure:
    """Source vs target samples side by side, each with its label overlay (4 columns, one row per index).

    ``source`` / ``target`` are datasets with ``render(i)`` (``SyntheticDomain``) or ``load(i)``; a target
    without labels (the training split) shows the image twice, the second time marked "no labels".
    ``palette=None`` takes the colours of ``source.classes`` (Cityscapes for every dataset but a folder's).
    The column titles stand over the top row.

    Taught in: notebooks/05_pseudo_label_weighting.ipynb
    """
    if palette is None:
        palette = getattr(source, "classes", PALETTE)
    rows = [[_domain_row(ds, i, alpha, palette) for ds in (source, target)] for i in indices]
    fig, axes = new_figure(len(rows), 4, panel=_panel(rows[0][0][0].shape, 2.6), dpi=dpi)
    for r, row in enumerate(rows):
        for c0, (img, second, sub), name in zip((0, 2), row, ("source", "target")):
            image_panel(axes[r, c0], img, f"{name}: image" if r == 0 else None)
            image_panel(axes[r, c0 + 1], second, f"{name}: {sub}" if r == 0 else None)
    return finish_figure(fig)


def plot_segmentation(
    image, label=None, prediction=None, titles=None, alpha: float = 0.55, dpi: int = 90, palette=PALETTE
) -> Figure:
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
    fig, axes = new_figure(1, len(panels), panel=_panel(img.shape, 3.2), dpi=dpi)
    for ax, (title, p) in zip(axes[0], panels):
        image_panel(ax, p, title)
    return finish_figure(fig)


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
    fig, axes = new_figure(1, 1, panel=(8.5, 0.32 * nrow + 0.45), dpi=dpi)
    ax = axes[0, 0]
    for i, name in enumerate(class_names):
        r, c = divmod(i, ncol)
        ax.add_patch(plt.Rectangle((c * 1.6, -r), 0.3, 0.8, color=np.asarray(palette[i]) / 255.0))
        ax.text(c * 1.6 + 0.38, -r + 0.4, f"{i} {name}", va="center")
    ax.set_xlim(0, ncol * 1.6)
    ax.set_ylim(-nrow + 0.9, 0.9)
    ax.axis("off")
    ax.set_title("class colours: trainId and name")
    return finish_figure(fig)


def _titles(titles, n: int, name: str) -> list[str]:
    """``titles`` as a list of ``n`` (numbered "image k" when ``None``); a count mismatch raises."""
    titles = list(titles) if titles is not None else [f"image {k + 1}" for k in range(n)]
    if len(titles) != n:
        raise ValueError(f"{name}: {n} images but {len(titles)} titles")
    return titles


def plot_image_row(images, titles=None, dpi: int = 90) -> Figure:
    """Images side by side (uint8 ``[H, W, 3]`` or normalised ``[3, H, W]`` tensors), one axis each.

    Taught in: notebooks/05_pseudo_label_weighting.ipynb
    """
    images = [_image(img) for img in images]
    titles = _titles(titles, len(images), "plot_image_row")
    fig, axes = new_figure(1, len(images), panel=_panel(images[0].shape, 3.0), dpi=dpi)
    for ax, img, title in zip(axes[0], images, titles):
        image_panel(ax, img, title)
    return finish_figure(fig)


def plot_image_grid(images, titles=None, ncols: int = 8, size: float = 1.6, dpi: int = 80) -> Figure:
    """Images in a grid of ``ncols`` columns (uint8 ``[H, W, 3]`` or normalised ``[3, H, W]``), a title each.

    ``size``: inches per panel (at least ``MIN_PANEL``).

    Taught in: notebooks/08_feature_distance.ipynb
    """
    images = list(images)
    titles = _titles(titles, len(images), "plot_image_grid")
    if not images:
        raise ValueError("plot_image_grid: no images")
    ncols = min(ncols, len(images))
    nrows = -(-len(images) // ncols)
    fig, axes = new_figure(nrows, ncols, panel=(size, size + 0.3), dpi=dpi)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, img, title in zip(axes.ravel(), images, titles):
        image_panel(ax, _image(img), title)
    return finish_figure(fig)
