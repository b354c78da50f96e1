"""Plots for the notebooks: pure functions ``plot_*(...) -> matplotlib.figure.Figure``.

Images may be given as uint8 ``[H, W, 3]`` arrays or as normalised ``[3, H, W]`` tensors (they are
de-normalised for display); labels and predictions as ``[H, W]`` trainId arrays/tensors (255 = ignore,
drawn black). Other engineers append their ``plot_*`` functions at the end of this file and add the names
to ``__all__``.

Taught in: notebooks/09_full_uda.ipynb
"""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from .data.classes import CLASSES, IGNORE_INDEX, PALETTE

__all__ = [
    "colorize",
    "overlay",
    "plot_domain_grid",
    "plot_segmentation",
    "plot_iou_bars",
    "plot_comparison_table",
    "format_comparison_table",
    "plot_class_legend",
    "plot_patch_footprints",
    "plot_token_grids",
    "plot_attention_cost",
    "plot_attention_map",
    "plot_stage_maps",
    "plot_receptive_fields",
    "plot_param_breakdown",
    "plot_training_curves",
    "plot_prediction_grid",
    "plot_pseudo_label_evolution",
    "plot_class_draws",
    "plot_pseudo_labels",
    "plot_classmix",
    "plot_image_row",
    "plot_schedule",
    "plot_rcs_probabilities",
    "plot_thing_mask",
    "plot_feature_distance",
    "plot_covariance_matrices",
    "plot_contrastive_samples",
    "plot_correlation_volume",
    "plot_shift_effect",
    "plot_cluster_maps",
    "plot_setting_table",
    "format_setting_table",
    "plot_image_grid",
    "plot_probe_scores",
]


def _image(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        if x.is_floating_point():
            from .data.transforms import denormalize

            return denormalize(x)
        x = x.cpu().numpy()
        if x.ndim == 3 and x.shape[0] == 3:
            x = x.transpose(1, 2, 0)
    return np.asarray(x)


def _label(y) -> np.ndarray:
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    return np.asarray(y).astype(np.int64)


def colorize(label, palette: np.ndarray = PALETTE) -> np.ndarray:
    """trainId map ``[H, W]`` → RGB ``uint8 [H, W, 3]`` in the Cityscapes colours (ignore = black).

    Taught in: notebooks/05_pseudo_label_weighting.ipynb
    """
    lab = _label(label)
    lut = np.zeros((256, 3), np.uint8)
    lut[: len(palette)] = palette
    return lut[np.clip(lab, 0, 255)]                                               # [H, W, 3]


def overlay(image, label, alpha: float = 0.55) -> np.ndarray:
    """Blend the colourised label over the image (ignore pixels keep the image). uint8 ``[H, W, 3]``.

    Taught in: notebooks/05_pseudo_label_weighting.ipynb
    """
    img = _image(image).astype(np.float32)
    lab = _label(label)
    col = colorize(lab).astype(np.float32)
    a = np.where(lab == IGNORE_INDEX, 0.0, alpha)[..., None]
    return (img * (1 - a) + col * a).round().astype(np.uint8)


def plot_domain_grid(source, target, indices=(0, 1, 2, 3), alpha: float = 0.55, dpi: int = 90) -> Figure:
    """Source vs target samples side by side, each with its label overlay (4 columns, one row per index).

    ``source`` / ``target`` are datasets with ``render(i)`` (``SyntheticDomain``) or ``load(i)``; a target
    without labels (the training split) shows the image twice, the second time marked "no labels".

    Taught in: notebooks/05_pseudo_label_weighting.ipynb
    """
    indices = list(indices)
    fig, axes = plt.subplots(len(indices), 4, figsize=(12, 1.7 * len(indices) + 0.4), dpi=dpi, squeeze=False)
    for r, i in enumerate(indices):
        for c0, ds, title in ((0, source, "source"), (2, target, "target")):
            if getattr(ds, "has_labels", True):
                img, lab = ds.render(i) if hasattr(ds, "render") else ds.load(i)
                axes[r, c0].imshow(img)
                axes[r, c0 + 1].imshow(overlay(img, lab, alpha))
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


def plot_segmentation(image, label=None, prediction=None, titles=None, alpha: float = 0.55, dpi: int = 90) -> Figure:
    """One row: the image, then the label and/or prediction overlaid (as many panels as inputs given).

    Taught in: notebooks/09_full_uda.ipynb
    """
    img = _image(image)
    panels = [("image", img)]
    if label is not None:
        panels.append(("label", overlay(img, label, alpha)))
    if prediction is not None:
        panels.append(("prediction", overlay(img, prediction, alpha)))
    if titles is not None:
        panels = [(t, p) for t, (_, p) in zip(titles, panels)]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 2.2), dpi=dpi, squeeze=False)
    for ax, (title, p) in zip(axes[0], panels):
        ax.imshow(p)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    return fig


def _as_series(results) -> dict[str, np.ndarray]:
    if not isinstance(results, dict):
        results = {"IoU": results}
    out = {}
    for name, v in results.items():
        if isinstance(v, dict) and "iou" in v:
            v = v["iou"]
        if isinstance(v, torch.Tensor):
            v = v.detach().cpu().numpy()
        out[name] = np.asarray(v, dtype=np.float64)
    return out


def plot_iou_bars(results, class_names=CLASSES, title: str = "per-class IoU", dpi: int = 90) -> Figure:
    """Per-class IoU bars; ``results`` is one IoU vector or ``{"source-only": iou, "DAFormer": iou, ...}``.

    IoU may be fractions or percent; NaN (class absent) leaves a gap. Each series' mIoU is in the legend.

    Taught in: notebooks/09_full_uda.ipynb
    """
    series = _as_series(results)
    k = len(class_names)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * k + 1), 3.0), dpi=dpi)
    width = 0.8 / len(series)
    x = np.arange(k)
    for j, (name, iou) in enumerate(series.items()):
        scale = 100.0 if np.nanmax(iou, initial=0) <= 1.0 else 1.0
        ax.bar(x + (j - (len(series) - 1) / 2) * width, np.nan_to_num(iou * scale), width,
               label=f"{name} ({np.nanmean(iou) * scale:.1f})")
    ax.set_xticks(x)
    ax.set_xticklabels(class_names, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("IoU (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, title="(mIoU)", title_fontsize=8)
    fig.tight_layout()
    return fig


def format_comparison_table(results, class_names=CLASSES, digits: int = 1) -> str:
    """A plain-text table: one row per method, one column per class, then mIoU (percent).

    Taught in: notebooks/09_full_uda.ipynb
    """
    series = _as_series(results)
    short = [n[:6] for n in class_names]
    width = max(len(n) for n in series) + 1
    lines = [" " * width + " ".join(f"{s:>6}" for s in short) + "   mIoU"]
    for name, iou in series.items():
        scale = 100.0 if np.nanmax(iou, initial=0) <= 1.0 else 1.0
        cells = " ".join("   n/a" if math.isnan(v) else f"{v * scale:6.{digits}f}" for v in iou)
        lines.append(f"{name:<{width}}" + cells + f" {np.nanmean(iou) * scale:6.{digits}f}")
    return "\n".join(lines)


def plot_comparison_table(results, class_names=CLASSES, title: str = "target mIoU (%)", dpi: int = 90) -> Figure:
    """The comparison table (source-only / adapted / oracle …) as a matplotlib table figure.

    The best value of each column is bold. ``results`` as in ``plot_iou_bars``.

    Taught in: notebooks/09_full_uda.ipynb
    """
    series = _as_series(results)
    names = list(series)
    vals = np.array([series[n] for n in names], dtype=np.float64)                  # [M, K]
    vals = vals * (100.0 if np.nanmax(vals, initial=0) <= 1.0 else 1.0)
    miou = np.nanmean(vals, axis=1, keepdims=True)
    table_vals = np.concatenate([vals, miou], axis=1)                              # [M, K + 1]
    cols = [n[:5] for n in class_names] + ["mIoU"]
    cells = [["n/a" if math.isnan(v) else f"{v:.1f}" for v in row] for row in table_vals]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.5 * len(cols) + 1.5), 0.35 * len(names) + 0.9), dpi=dpi)
    ax.axis("off")
    tab = ax.table(cellText=cells, rowLabels=names, colLabels=cols, loc="center", cellLoc="center")
    tab.auto_set_font_size(False)
    tab.set_fontsize(7)
    with np.errstate(invalid="ignore"):
        best = np.nanargmax(np.where(np.isnan(table_vals), -np.inf, table_vals), axis=0)
    for j, i in enumerate(best):
        tab[i + 1, j].get_text().set_fontweight("bold")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_class_legend(class_names=CLASSES, palette: np.ndarray = PALETTE, dpi: int = 90) -> Figure:
    """The Cityscapes colour legend: one swatch per trainId.

    Taught in: notebooks/05_pseudo_label_weighting.ipynb
    """
    k = len(class_names)
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


# ---------------------------------------------------------------------------------------------
# Encoder plots (notebooks 01 and 02): patch footprints, token grids, attention cost and maps.
# ---------------------------------------------------------------------------------------------


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


def _conv_out(n: int, kernel: int, stride: int, padding: int) -> int:
    return (n + 2 * padding - kernel) // stride + 1


def plot_patch_footprints(image, configs, n_tokens: int = 3, show_coverage: bool = True, titles=None,
                          dpi: int = 90) -> Figure:
    """Draw the input footprint of an ``n_tokens × n_tokens`` block of neighbouring tokens.

    Each ``(kernel, stride, padding)`` in ``configs`` is one patch embedding: output token ``(i, j)`` reads the
    input rows ``i·stride − padding … i·stride − padding + kernel − 1`` (and likewise columns), so its
    footprint is a ``kernel × kernel`` square; the output grid has ``⌊(H + 2p − k)/s⌋ + 1`` rows (the conv
    arithmetic, SegFormer §3.1). Footprints that share pixels overlap; the grey area outside the image is the
    zero padding. With ``show_coverage`` a second row shows, on the same zoom, how many tokens read each pixel.

    Returns a Figure with ``len(configs)`` axes; with ``show_coverage``, ``3·len(configs)`` (footprints,
    coverage and the coverage colourbar for each config).

    Taught in: notebooks/01_overlapping_patch_embed.ipynb
    """
    img = _rgb01(image)
    H, W = img.shape[:2]
    configs = [tuple(int(v) for v in c) for c in configs]
    if not configs or any(len(c) != 3 or c[0] < 1 or c[1] < 1 or c[2] < 0 for c in configs):
        raise ValueError(f"plot_patch_footprints: configs must be (kernel, stride, padding) tuples, got {configs}")
    rows = 2 if show_coverage else 1
    fig, axes = plt.subplots(rows, len(configs), figsize=(3.0 * len(configs), 3.0 * rows), dpi=dpi,
                             squeeze=False)
    colours = plt.get_cmap("tab10").colors
    extent = (-0.5, W - 0.5, H - 0.5, -0.5)  # pixel centres at integer coordinates
    for col, (k, s, p) in enumerate(configs):
        lo = -p - 1.0
        hi = (n_tokens - 1) * s - p + k
        ax = axes[0, col]
        ax.set_facecolor("0.8")  # outside the image: the zero padding
        ax.imshow(img, extent=extent, interpolation="nearest")
        for i in range(n_tokens):
            for j in range(n_tokens):
                y0, x0 = i * s - p, j * s - p
                c = colours[(i * n_tokens + j) % len(colours)]
                ls = "-" if (i + j) % 2 == 0 else "--"
                ax.add_patch(plt.Rectangle((x0 - 0.5, y0 - 0.5), k, k, fill=False, edgecolor=c, lw=1.8, ls=ls))
                ax.plot(x0 + (k - 1) / 2, y0 + (k - 1) / 2, "o", ms=4, color=c, mec="white", mew=0.5)
        title = titles[col] if titles is not None else f"kernel {k} / stride {s} / pad {p}"
        ax.set_title(title, fontsize=9)
        if show_coverage:
            cover = np.zeros((H, W), dtype=int)
            for i in range(_conv_out(H, k, s, p)):
                for j in range(_conv_out(W, k, s, p)):
                    y0, x0 = i * s - p, j * s - p
                    cover[max(y0, 0) : max(y0 + k, 0), max(x0, 0) : max(x0 + k, 0)] += 1
            axc = axes[1, col]
            axc.set_facecolor("0.8")
            im = axc.imshow(cover, cmap="viridis", vmin=0.5, vmax=4.5, extent=extent, interpolation="nearest")
            shown = cover[max(int(lo), 0) : int(hi), max(int(lo), 0) : int(hi)]
            axc.set_title(f"tokens reading each pixel: {shown.min()}–{shown.max()}", fontsize=9)
            cb = fig.colorbar(im, ax=axc, fraction=0.046, pad=0.04, ticks=[1, 2, 3, 4])
            cb.ax.tick_params(labelsize=7)
        for a in axes[:, col]:
            a.set_xlim(lo, hi)
            a.set_ylim(hi, lo)
            a.set_xticks([])
            a.set_yticks([])
    fig.tight_layout()
    return fig


def plot_token_grids(image, strides=(4, 8, 16, 32), titles=None, dpi: int = 90) -> Figure:
    """Draw the token grid of each encoder stage on ``image``: one cell per token, ``stride`` pixels wide.

    A stage with total stride ``s`` turns an ``H × W`` image into ``⌈H/s⌉ × ⌈W/s⌉`` tokens (MiT: s = 4, 8, 16,
    32; SegFormer §3.1). Returns a Figure with one axis per stride.

    Taught in: notebooks/01_overlapping_patch_embed.ipynb
    """
    img = _rgb01(image)
    H, W = img.shape[:2]
    strides = [int(s) for s in strides]
    if not strides or min(strides) < 1:
        raise ValueError(f"plot_token_grids: strides must be positive integers, got {strides}")
    fig, axes = plt.subplots(1, len(strides), figsize=(2.6 * len(strides), 2.8), dpi=dpi, squeeze=False)
    for ax, s, t in zip(axes[0], strides, titles or [None] * len(strides)):
        ax.imshow(img, extent=(0, W, H, 0), interpolation="nearest")
        h, w = -(-H // s), -(-W // s)  # ceil
        lw = 0.4 if s < 8 else 0.8
        for y in range(0, h * s + 1, s):
            ax.axhline(y, color="white", lw=lw, alpha=0.8)
        for x in range(0, w * s + 1, s):
            ax.axvline(x, color="white", lw=lw, alpha=0.8)
        ax.set_xlim(0, W)
        ax.set_ylim(H, 0)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(t if t is not None else f"stride {s}: {h}×{w} = {h * w} tokens", fontsize=9)
    fig.tight_layout()
    return fig


def plot_attention_cost(sides, flops, memory, measured_flops=None, measured_memory=None, seconds=None,
                        dpi: int = 90) -> Figure:
    """FLOPs and attention-matrix memory of (efficient) self-attention against image side, one line per R.

    ``flops`` / ``memory`` map a reduction ratio R to one value per entry of ``sides``, counted with the
    formula (N queries, N / R² keys: the attention itself costs ∝ N²/R², SegFormer Eq. 2). ``measured_flops`` /
    ``measured_memory`` (same layout, optional, may cover only the first few sides) are drawn as open markers
    on top, so formula and measurement can be compared. ``seconds`` (optional, same layout) adds a third
    axis with measured run times. All axes are log–log.

    Returns a Figure with 2 axes (3 with ``seconds``).

    Taught in: notebooks/02_efficient_self_attention.ipynb
    """
    sides = np.asarray(sides, dtype=float)
    panels = [(flops, measured_flops, "FLOPs", "compute"), (memory, measured_memory, "bytes", "attention matrix memory")]
    if seconds is not None:
        panels.append((None, seconds, "seconds", "measured time"))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), dpi=dpi, squeeze=False)
    rs = sorted(flops)
    cmap = plt.get_cmap("viridis")
    for ax, (counted, measured, ylabel, title) in zip(axes[0], panels):
        for n, r in enumerate(rs):
            c = cmap(n / max(len(rs) - 1, 1) * 0.85)
            if counted is not None:
                vals = np.asarray(counted[r], dtype=float)
                if vals.shape != sides.shape:
                    raise ValueError(f"plot_attention_cost: R={r} has {vals.size} values for {sides.size} sides")
                ax.loglog(sides, vals, "-", color=c, lw=1.8, label=f"R = {r}")
            if measured is not None and r in measured:
                m = np.asarray(measured[r], dtype=float)
                style = "o" if counted is not None else "o-"
                ax.loglog(sides[: m.size], m, style, color=c, mfc="none", ms=7, mew=1.5,
                          label=f"R = {r}" if counted is None else None)
        ax.set_xticks(sides, [f"{s:g}" for s in sides])
        ax.xaxis.set_minor_locator(plt.NullLocator())
        ax.set_xlabel("image side (pixels)")
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
    axes[0, 0].legend(fontsize=8, title="line: formula, o: measured", title_fontsize=7)
    fig.tight_layout()
    return fig


def plot_attention_map(image, attention, query_yx, title=None, dpi: int = 90) -> Figure:
    """Where one query pixel looks: ``attention`` (a ``[h, w]`` map over the key grid, summing to 1) on ``image``.

    The map is blown up to the image size with nearest-neighbour so each key token is drawn as the block of
    pixels it summarises (with spatial reduction R the blocks are R× larger; SegFormer Eq. 2). The query
    pixel ``query_yx = (y, x)`` (image coordinates) is marked with a star. The map is stretched over the whole
    image, so give a key grid that tiles it (image sides divisible by the key stride).

    Returns a Figure with 3 axes: the image, the map, the map's colourbar.

    Taught in: notebooks/02_efficient_self_attention.ipynb
    """
    img = _rgb01(image)
    H, W = img.shape[:2]
    att = attention.detach().cpu().numpy() if hasattr(attention, "detach") else np.asarray(attention)
    att = np.asarray(att, dtype=np.float64)
    if att.ndim != 2:
        raise ValueError(f"plot_attention_map: attention must be a [h, w] map, got shape {att.shape}")
    qy, qx = query_yx
    if not (0 <= qy < H and 0 <= qx < W):
        raise ValueError(f"plot_attention_map: query {query_yx} lies outside the {H}×{W} image")
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.4), dpi=dpi)
    axes[0].imshow(img)
    axes[0].set_title("image and query pixel", fontsize=9)
    grey = img.mean(axis=-1)
    axes[1].imshow(grey, cmap="gray", vmin=0, vmax=1)
    im = axes[1].imshow(att, cmap="inferno", alpha=0.75, extent=(-0.5, W - 0.5, H - 0.5, -0.5),
                        interpolation="nearest")
    fig.colorbar(im, ax=axes[1], fraction=0.046, pad=0.04)
    axes[1].set_title(title if title is not None else f"attention over {att.shape[0]}×{att.shape[1]} keys",
                      fontsize=9)
    for ax in axes:
        ax.plot(qx, qy, marker="*", ms=14, color="cyan", mec="black")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# Model plots (notebooks 03 and 04): stage maps, receptive fields of the decoder, parameter counts.
# ---------------------------------------------------------------------------------------------


def _feature_array(x) -> np.ndarray:
    """A tensor or array as a float64 numpy array (detached, on the CPU)."""
    if isinstance(x, torch.Tensor):
        x = x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def _pca_rgb(feature: np.ndarray) -> np.ndarray:
    """Project a ``[C, H, W]`` feature map onto its first three principal components → ``[H, W, 3]`` in [0, 1]."""
    C, H, W = feature.shape
    X = feature.reshape(C, H * W).T.astype(np.float64)  # [N, C]
    X = X - X.mean(axis=0, keepdims=True)
    _, _, vt = np.linalg.svd(X, full_matrices=False)  # rows of vt: principal directions
    k = min(3, vt.shape[0])
    Y = X @ vt[:k].T  # [N, k]
    Y = np.concatenate([Y, np.zeros((Y.shape[0], 3 - k))], axis=1)  # pad to 3 channels when C < 3
    lo, hi = np.percentile(Y, 1, axis=0), np.percentile(Y, 99, axis=0)
    Y = np.clip((Y - lo) / np.maximum(hi - lo, 1e-12), 0.0, 1.0)
    return Y.reshape(H, W, 3)


def plot_stage_maps(image, features, titles=None, figsize=None, dpi: int = 80) -> Figure:
    """The image next to a PCA picture of each feature map: the first three principal components of the
    channels at every position, shown as RGB (similar colours = similar feature vectors).

    ``image``: ``[H, W, 3]`` uint8/float array (or ``[3, H, W]`` tensor); ``features``: list of ``[C, h, w]``
    (or ``[1, C, h, w]``) arrays/tensors, e.g. the four MiT stage maps. Each panel is titled with the map's
    shape and its stride ``H / h`` unless ``titles`` are given. Used for MiT's hierarchical maps at strides
    4, 8, 16, 32 (SegFormer §3.1). Returns the Figure (1 + len(features) axes).

    Taught in: notebooks/03_mix_ffn.ipynb
    """
    img = _rgb01(image)  # [H, W, 3] in [0, 1]
    maps = []
    for f in features:
        f = _feature_array(f)
        if f.ndim == 4:
            f = f[0]
        if f.ndim != 3:
            raise ValueError(f"plot_stage_maps: each feature must be [C, h, w] or [1, C, h, w], got shape {f.shape}.")
        maps.append(f)
    if titles is not None and len(titles) != len(maps):
        raise ValueError(f"plot_stage_maps: {len(titles)} titles for {len(maps)} feature maps; give one per map.")
    n = 1 + len(maps)
    panel_h = 2.6 * img.shape[0] / img.shape[1] + 0.5  # panels 2.6 in wide, image aspect kept
    fig, axes = plt.subplots(1, n, figsize=figsize or (2.6 * n, panel_h), dpi=dpi, squeeze=False)
    axes = axes[0]
    axes[0].imshow(img)
    axes[0].set_title(f"image {img.shape[0]}×{img.shape[1]}", fontsize=9)
    for i, f in enumerate(maps):
        C, h, w = f.shape
        axes[i + 1].imshow(_pca_rgb(f), interpolation="nearest")
        label = titles[i] if titles is not None else f"{C}×{h}×{w}  (stride {img.shape[0] / h:g})"
        axes[i + 1].set_title(label, fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


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


def plot_param_breakdown(counts, title: str = "parameters", unit: float = 1e6, figsize=None,
                         dpi: int = 80) -> Figure:
    """Horizontal stacked bars: one bar per model, one coloured segment per part.

    ``counts``: ``{model name: {part name: number of parameters}}`` (the same parts in every model, missing
    parts count 0), e.g. MiT-B0…B5 per stage (SegFormer Table 6) or the decode heads per part (DAFormer §3.2).
    Each bar is labelled with its total in ``unit`` (millions by default). Returns the Figure (one axis).

    Taught in: notebooks/03_mix_ffn.ipynb
    """
    if not counts:
        raise ValueError("plot_param_breakdown: counts is empty; pass {model: {part: n_params}}.")
    models = list(counts)
    parts: list[str] = []
    for m in models:
        for p in counts[m]:
            if p not in parts:
                parts.append(p)
    fig, ax = plt.subplots(figsize=figsize or (9.0, 0.5 * len(models) + 1.4), dpi=dpi)
    left = np.zeros(len(models))
    colours = plt.get_cmap("tab10")
    for j, p in enumerate(parts):
        vals = np.array([counts[m].get(p, 0) for m in models], dtype=np.float64) / unit
        ax.barh(models, vals, left=left, color=colours(j % 10), label=p)
        left += vals
    for i, total in enumerate(left):
        ax.text(total, i, f" {total:.3g}", va="center", fontsize=8)
    ax.invert_yaxis()
    names = {1: "", 1e3: " (thousands)", 1e6: " (millions)", 1e9: " (billions)"}
    ax.set_xlabel("parameters" + names.get(unit, f" (×{unit:g})"))
    ax.set_title(title, fontsize=10)
    ax.set_xlim(0, left.max() * 1.15)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# Training-run plots (notebook 09): curves, predictions side by side, pseudo-labels, RCS draws.
# ---------------------------------------------------------------------------------------------


def _records(history, split: str) -> list[dict]:
    return [r for r in history if r.get("split") == split]


def plot_training_curves(histories, smooth: int = 25, dpi: int = 90) -> Figure:
    """Loss terms and target-val mIoU against the iteration, for one run or ``{"name": history, ...}``.

    ``history`` is the list of records a run logs (``Trainer.history`` or the lines of ``log.jsonl``):
    training records (``"split": "train"``) carry the loss terms, evaluation records (``"split": "val"``)
    the mIoU. Losses are smoothed with a running mean over ``smooth`` logged points. Two axes: losses, mIoU.

    Taught in: notebooks/09_full_uda.ipynb
    """
    if not isinstance(histories, dict):
        histories = {"run": histories}
    fig, (ax_loss, ax_miou) = plt.subplots(1, 2, figsize=(10, 3.0), dpi=dpi)
    styles = {"loss": "-", "source_ce": "--", "target_ce": ":", "feature_distance": "-."}
    for n, (name, history) in enumerate(histories.items()):
        color = f"C{n}"
        train = _records(history, "train")
        its = np.array([r["iteration"] for r in train], dtype=np.float64)
        for key, style in styles.items():
            vals = np.array([r.get(key, np.nan) for r in train], dtype=np.float64)
            if len(vals) == 0 or np.isnan(vals).all():
                continue
            k = max(1, min(smooth, len(vals) // 5))  # short runs: little or no smoothing
            smoothed = np.convolve(np.nan_to_num(vals), np.ones(k) / k, mode="valid")
            ax_loss.plot(its[k - 1:], smoothed, style, color=color, lw=1.2, label=f"{name}: {key}")
        val = _records(history, "val")
        if val:
            ax_miou.plot([r["iteration"] for r in val], [r["miou"] for r in val], "o-", color=color, ms=3, label=name)
    ax_loss.set_xlabel("iteration")
    ax_loss.set_ylabel("loss (running mean)")
    ax_loss.set_yscale("log")
    ax_loss.legend(fontsize=7)
    ax_miou.set_xlabel("iteration")
    ax_miou.set_ylabel("target val mIoU (%)")
    ax_miou.legend(fontsize=8)
    ax_loss.set_title("training losses", fontsize=10)
    ax_miou.set_title("evaluation on the target domain", fontsize=10)
    fig.tight_layout()
    return fig


def plot_prediction_grid(images, labels, predictions: dict, alpha: float = 0.55, dpi: int = 72) -> Figure:
    """Target images (rows): image, ground truth, then one column per model's prediction, overlaid.

    ``images``: ``[N, 3, H, W]`` normalised tensor or uint8 ``[N, H, W, 3]``; ``labels``: ``[N, H, W]``;
    ``predictions``: ``{"source-only": [N, H, W], "DAFormer": [N, H, W], ...}``.

    Taught in: notebooks/09_full_uda.ipynb
    """
    n = len(images)
    cols = 2 + len(predictions)
    fig, axes = plt.subplots(n, cols, figsize=(2.0 * cols, 1.1 * n + 0.3), dpi=dpi, squeeze=False)
    for r in range(n):
        img = _image(images[r])
        panels = [("image", img), ("ground truth", overlay(img, labels[r], alpha))]
        panels += [(name, overlay(img, pred[r], alpha)) for name, pred in predictions.items()]
        for c, (title, p) in enumerate(panels):
            axes[r, c].imshow(p)
            axes[r, c].axis("off")
            if r == 0:
                axes[r, c].set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def plot_pseudo_label_evolution(images, snapshots: dict, labels=None, alpha: float = 0.55, dpi: int = 72) -> Figure:
    """The teacher's pseudo-labels on the same target images at several iterations (start … end).

    ``snapshots``: ``{iteration: {"labels": [N, H, W], "q_t": [N]}}`` (``Trainer.snapshots``); the first
    and the last iteration are drawn (all of them if there are at most three), q_T in each title. With
    ``labels`` a ground-truth column is added (for comparison only — the teacher never sees it).

    Taught in: notebooks/09_full_uda.ipynb
    """
    its = sorted(snapshots)
    if len(its) > 3:
        its = [its[0], its[-1]]
    n = len(images)
    cols = 1 + len(its) + (labels is not None)
    fig, axes = plt.subplots(n, cols, figsize=(2.2 * cols, 1.2 * n + 0.3), dpi=dpi, squeeze=False)
    for r in range(n):
        img = _image(images[r])
        panels = [("target image", img)]
        for it in its:
            snap = snapshots[it]
            q = float(snap["q_t"][r]) if "q_t" in snap else float("nan")
            panels.append((f"it {it}: q_T {q:.2f}", overlay(img, snap["labels"][r], alpha)))
        if labels is not None:
            panels.append(("truth (unused)", overlay(img, labels[r], alpha)))
        for c, (title, p) in enumerate(panels):
            axes[r, c].imshow(p)
            axes[r, c].axis("off")
            axes[r, c].set_title(title, fontsize=8)
    fig.tight_layout()
    return fig


def plot_class_draws(draws: dict, probabilities=None, class_names=CLASSES, dpi: int = 90) -> Figure:
    """How often each class was seen or drawn during training, as shares (one bar group per series).

    ``draws``: ``{"RCS class draws": counts [C], "pixels seen without RCS": counts [C], ...}``; each series
    is normalised to sum 1. ``probabilities``: RCS's P(c), drawn as black ticks for comparison.

    Taught in: notebooks/09_full_uda.ipynb
    """
    k = len(class_names)
    x = np.arange(k)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * k + 1), 3.0), dpi=dpi)
    width = 0.8 / max(len(draws), 1)
    for j, (name, counts) in enumerate(draws.items()):
        c = np.asarray(counts.tolist() if isinstance(counts, torch.Tensor) else counts, dtype=np.float64)
        share = c / max(c.sum(), 1.0)
        ax.bar(x + (j - (len(draws) - 1) / 2) * width, share, width, label=name)
    if probabilities is not None:
        p = np.asarray(probabilities.tolist() if isinstance(probabilities, torch.Tensor) else probabilities)
        ax.scatter(x, p, marker="_", s=200, color="black", zorder=3, label="RCS P(c)")
    ax.set_xticks(x)
    ax.set_xticklabels(class_names, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("share")
    ax.set_yscale("symlog", linthresh=1e-3)
    ax.legend(fontsize=8)
    ax.set_title("what the student was shown, per class", fontsize=10)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------------------
# UDA training strategies (notebooks 05–08): pseudo-labels, ClassMix, RCS, thing masks, FD, schedules.
# ------------------------------------------------------------------------------------------------
def _array(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _bar_colours(n: int, palette: np.ndarray = PALETTE) -> list:
    return [np.asarray(palette[i % len(palette)]) / 255.0 for i in range(n)]


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


def plot_probe_scores(scores: dict, title: str = "linear probe on street-scene cells", dpi: int = 90) -> Figure:
    """Grouped bars: ``scores[encoder][task] = accuracy %`` (e.g. random vs shipped on source / target cells).

    Taught in: notebooks/08_feature_distance.ipynb
    """
    encoders = list(scores)
    tasks = list(next(iter(scores.values())))
    fig, ax = plt.subplots(figsize=(1.6 + 1.4 * len(tasks) * len(encoders) / 2, 2.8), dpi=dpi)
    width = 0.8 / len(encoders)
    for k, enc in enumerate(encoders):
        xs = np.arange(len(tasks)) + (k - (len(encoders) - 1) / 2) * width
        vals = [scores[enc][t] for t in tasks]
        bars = ax.bar(xs, vals, width, label=enc)
        for b, v in zip(bars, vals):
            ax.text(b.get_x() + b.get_width() / 2, v + 1, f"{v:.0f}", ha="center", fontsize=8)
    ax.set_xticks(np.arange(len(tasks)), tasks)
    ax.set_ylim(0, 105)
    ax.set_ylabel("pixel accuracy (%)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
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


def plot_rcs_probabilities(freq, probabilities: dict, class_names=CLASSES, dpi: int = 90) -> Figure:
    """Class frequencies f_c (log scale) and, below, one bar chart of P(c) per entry of ``probabilities``.

    ``probabilities`` = ``{"T = 0.01": P, ...}`` with ``P`` ``[C]``; 1 + len(probabilities) axes.

    Taught in: notebooks/06_rare_class_sampling.ipynb
    """
    f = _array(freq).astype(np.float64)
    k = len(f)
    colours = _bar_colours(k)
    rows = 1 + len(probabilities)
    fig, axes = plt.subplots(rows, 1, figsize=(8, 1.5 * rows + 0.6), dpi=dpi, sharex=True, squeeze=False)
    axes = axes[:, 0]
    axes[0].bar(np.arange(k), np.where(f > 0, f, np.nan), color=colours)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("f_c", fontsize=9)
    axes[0].set_title("source class frequency f_c (log) and RCS sampling probability P(c)", fontsize=10)
    for ax, (name, p) in zip(axes[1:], probabilities.items()):
        ax.bar(np.arange(k), _array(p), color=colours)
        ax.set_ylim(0, 1)
        ax.set_ylabel(f"P(c)\n{name}", fontsize=9)
    axes[-1].set_xticks(np.arange(k))
    axes[-1].set_xticklabels(class_names[:k], rotation=60, ha="right", fontsize=8)
    fig.tight_layout()
    return fig


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


# ------------------------------------------------------------------------------------------------
# STEGO (notebooks/11_unsupervised_stego.ipynb)
# ------------------------------------------------------------------------------------------------
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
    if col in ("miou", "acc"):
        return f"{float(v) * (100.0 if float(v) <= 1.0 else 1.0):.1f}"
    if col == "wall_s":
        return f"{float(v):.0f}"
    return str(v)


def plot_setting_table(rows, title: str = "same synthetic target val", dpi: int = 90) -> Figure:
    """The closing comparison of settings as a table figure: one row per method with mIoU, pixel accuracy,
    what it may use (labels / images of which domain), preset, seeds and wall time.

    ``rows``: list of dicts with keys ``method``, ``miou`` (fraction or percent), ``acc`` (optional),
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
