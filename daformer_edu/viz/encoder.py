"""Encoder plots: patch footprints, token grids, attention cost and maps, stage maps, parameter counts, probes.

Serves: notebooks/01_overlapping_patch_embed.ipynb (footprints, token grids),
02_efficient_self_attention.ipynb (token grids, attention cost, attention map), 03_mix_ffn.ipynb (stage maps,
parameter breakdown; reused in 04 for the heads) and 08_feature_distance.ipynb §0 (linear-probe scores of the
pre-trained encoder).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from .common import (
    SERIES_COLOURS,
    VALUES_CMAP,
    _feature_array,
    _grey_rgb,
    _panel,
    _rgb01,
    add_colorbar,
    finish_figure,
    image_panel,
    label_axes,
    new_figure,
    place_legend,
)

__all__ = [
    "plot_patch_footprints",
    "plot_token_grids",
    "plot_attention_cost",
    "plot_attention_map",
    "plot_stage_maps",
    "plot_param_breakdown",
    "plot_probe_scores",
]


def _conv_out(n: int, kernel: int, stride: int, padding: int) -> int:
    return (n + 2 * padding - kernel) // stride + 1


def plot_patch_footprints(
    image, configs, n_tokens: int = 3, show_coverage: bool = True, titles=None, dpi: int = 90
) -> Figure:
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
    fig, axes = new_figure(rows, len(configs), panel=(3.0 + 0.5 * show_coverage, 3.0), dpi=dpi)
    extent = (-0.5, W - 0.5, H - 0.5, -0.5)  # pixel centres at integer coordinates
    for col, (k, s, p) in enumerate(configs):
        lo = -p - 1.0
        hi = (n_tokens - 1) * s - p + k
        ax = axes[0, col]
        ax.set_facecolor("0.8")  # outside the image: the zero padding
        image_panel(
            ax,
            img,
            titles[col] if titles is not None else f"kernel {k} / stride {s} / pad {p}",
            extent=extent,
            interpolation="nearest",
        )
        _draw_footprints(ax, k, s, p, n_tokens)
        if show_coverage:
            cover = _coverage(H, W, k, s, p)
            axc = axes[1, col]
            axc.set_facecolor("0.8")
            shown = cover[max(int(lo), 0) : int(hi), max(int(lo), 0) : int(hi)]
            im = image_panel(
                axc,
                cover,
                f"tokens reading each pixel: {shown.min()}–{shown.max()}",
                cmap=VALUES_CMAP,
                vmin=0.5,
                vmax=4.5,
                extent=extent,
                interpolation="nearest",
            )
            add_colorbar(fig, im, axc, "tokens reading the pixel").set_ticks([1, 2, 3, 4])
        for a in axes[:, col]:
            a.set_xlim(lo, hi)
            a.set_ylim(hi, lo)
    return finish_figure(fig)


def _draw_footprints(ax, k: int, s: int, p: int, n_tokens: int) -> None:
    """The ``k × k`` input squares of an ``n_tokens × n_tokens`` block of tokens, each with its centre."""
    for i in range(n_tokens):
        for j in range(n_tokens):
            y0, x0 = i * s - p, j * s - p
            c = SERIES_COLOURS[(i * n_tokens + j) % len(SERIES_COLOURS)]
            ls = "-" if (i + j) % 2 == 0 else "--"
            ax.add_patch(plt.Rectangle((x0 - 0.5, y0 - 0.5), k, k, fill=False, edgecolor=c, lw=1.8, ls=ls))
            ax.plot(x0 + (k - 1) / 2, y0 + (k - 1) / 2, "o", ms=4, color=c, mec="white", mew=0.5)


def _coverage(H: int, W: int, k: int, s: int, p: int) -> np.ndarray:
    """``[H, W]``: how many tokens of a (kernel k, stride s, padding p) patch embedding read each pixel."""
    cover = np.zeros((H, W), dtype=int)
    for i in range(_conv_out(H, k, s, p)):
        for j in range(_conv_out(W, k, s, p)):
            y0, x0 = i * s - p, j * s - p
            cover[max(y0, 0) : max(y0 + k, 0), max(x0, 0) : max(x0 + k, 0)] += 1
    return cover


def plot_token_grids(image, strides=(4, 8, 16, 32), titles=None, dpi: int = 90) -> Figure:
    """Draw the token grid of each encoder stage on ``image``: one cell per token, ``stride`` pixels wide.

    A stage with total stride ``s`` turns an ``H × W`` image into ``⌈H/s⌉ × ⌈W/s⌉`` tokens (MiT: s = 4, 8, 16,
    32; SegFormer §3.1). Returns a Figure with one axis per stride. Each title ends with what is drawn — the
    token grid of *this* image — also under ``titles`` of your own (which may speak of another input size).

    Taught in: notebooks/01_overlapping_patch_embed.ipynb
    """
    img = _rgb01(image)
    H, W = img.shape[:2]
    strides = [int(s) for s in strides]
    if not strides or min(strides) < 1:
        raise ValueError(f"plot_token_grids: strides must be positive integers, got {strides}")
    fig, axes = new_figure(1, len(strides), panel=_panel(img.shape, 2.6, title_lines=2), dpi=dpi)
    for ax, s, t in zip(axes[0], strides, titles or [None] * len(strides)):
        h, w = -(-H // s), -(-W // s)  # ceil
        drawn = f"stride {s}: {h}×{w} = {h * w} tokens"
        image_panel(
            ax,
            img,
            drawn if t is None else f"{t}\n(drawn: {H}×{W} image, {h}×{w} tokens)",
            extent=(0, W, H, 0),
            interpolation="nearest",
        )
        lw = 0.5 if s < 8 else 1.0
        for y in range(0, h * s + 1, s):
            ax.axhline(y, color="white", lw=lw, alpha=0.8)
        for x in range(0, w * s + 1, s):
            ax.axvline(x, color="white", lw=lw, alpha=0.8)
        ax.set_xlim(0, W)
        ax.set_ylim(H, 0)
    return finish_figure(fig)


def plot_attention_cost(
    sides, flops, memory, measured_flops=None, measured_memory=None, seconds=None, dpi: int = 90
) -> Figure:
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
    panels = [
        (flops, measured_flops, "FLOPs", "compute"),
        (memory, measured_memory, "bytes", "attention matrix memory"),
    ]
    if seconds is not None:
        panels.append((None, seconds, "seconds", "measured time"))
    fig, axes = new_figure(1, len(panels), panel=(3.6, 3.2), dpi=dpi, extra=1.6)
    rs = sorted(flops)
    for ax, (counted, measured, ylabel, title) in zip(axes[0], panels):
        for n, r in enumerate(rs):
            c = SERIES_COLOURS[n % len(SERIES_COLOURS)]
            if counted is not None:
                vals = np.asarray(counted[r], dtype=float)
                if vals.shape != sides.shape:
                    raise ValueError(f"plot_attention_cost: R={r} has {vals.size} values for {sides.size} sides")
                ax.loglog(sides, vals, "-", color=c, lw=1.8, label=f"R = {r}")
            if measured is not None and r in measured:
                m = np.asarray(measured[r], dtype=float)
                style = "o" if counted is not None else "o-"
                ax.loglog(
                    sides[: m.size],
                    m,
                    style,
                    color=c,
                    mfc="none",
                    ms=7,
                    mew=1.5,
                    label=f"R = {r}" if counted is None else None,
                )
        ax.set_xticks(sides, [f"{s:g}" for s in sides])
        ax.xaxis.set_minor_locator(plt.NullLocator())
        label_axes(ax, "image side (pixels)", ylabel, title)
        ax.grid(True, which="both", alpha=0.3)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    place_legend(axes[0, -1], handles=handles, labels=labels, title="line: formula\no: measured")
    return finish_figure(fig)


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
    fig, axes = new_figure(1, 2, panel=_panel(img.shape, 3.4), dpi=dpi, extra=0.8)
    axes = axes[0]
    image_panel(axes[0], img, "image and query pixel")
    default = f"attention over {att.shape[0]}×{att.shape[1]} keys"
    image_panel(axes[1], _grey_rgb(img), title if title is not None else default)
    im = axes[1].imshow(
        att, cmap=VALUES_CMAP, alpha=0.75, extent=(-0.5, W - 0.5, H - 0.5, -0.5), interpolation="nearest"
    )
    add_colorbar(fig, im, axes[1], "attention weight of the key")
    for ax in axes:
        ax.plot(qx, qy, marker="*", ms=14, color="cyan", mec="black")
    return finish_figure(fig)


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
    if figsize is not None:
        panel = (figsize[0] / n, figsize[1])
    else:
        panel = _panel(img.shape, 2.4)
    fig, axes = new_figure(1, n, panel=panel, dpi=dpi)
    axes = axes[0]
    image_panel(axes[0], img, f"image {img.shape[0]}×{img.shape[1]}")
    for i, f in enumerate(maps):
        C, h, w = f.shape
        label = titles[i] if titles is not None else f"{C}×{h}×{w}  (stride {img.shape[0] / h:g})"
        image_panel(axes[i + 1], _pca_rgb(f), label, interpolation="nearest")
    return finish_figure(fig)


def plot_param_breakdown(counts, title: str = "parameters", unit: float = 1e6, figsize=None, dpi: int = 80) -> Figure:
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
    fig, axes = new_figure(1, 1, panel=figsize or (9.0, 0.5 * len(models) + 1.4), dpi=dpi)
    ax = axes[0, 0]
    left = np.zeros(len(models))
    for j, p in enumerate(parts):
        vals = np.array([counts[m].get(p, 0) for m in models], dtype=np.float64) / unit
        ax.barh(models, vals, left=left, color=SERIES_COLOURS[j % len(SERIES_COLOURS)], label=p)
        left += vals
    for i, total in enumerate(left):
        ax.text(total, i, f" {total:.3g}", va="center")
    ax.invert_yaxis()
    names = {1: "", 1e3: " (thousands)", 1e6: " (millions)", 1e9: " (billions)"}
    label_axes(ax, "parameters" + names.get(unit, f" (×{unit:g})"), "model", title)
    ax.set_xlim(0, left.max() * 1.15)
    place_legend(ax, title="part")
    return finish_figure(fig)


def plot_probe_scores(
    scores: dict, title: str = "linear probe on street-scene cells", dpi: int = 90, xlabel: str = "cells probed"
) -> Figure:
    """Grouped bars: ``scores[encoder][task] = accuracy %`` (e.g. random vs shipped on source / target cells).

    ``xlabel`` names what the tasks are (default: the cells the probe classifies).

    Taught in: notebooks/08_feature_distance.ipynb
    """
    encoders = list(scores)
    tasks = list(next(iter(scores.values())))
    fig, axes = new_figure(1, 1, panel=(1.2 + 1.1 * len(tasks) * len(encoders), 3.0), dpi=dpi, extra=1.8)
    ax = axes[0, 0]
    width = 0.8 / len(encoders)
    for k, enc in enumerate(encoders):
        xs = np.arange(len(tasks)) + (k - (len(encoders) - 1) / 2) * width
        vals = [scores[enc][t] for t in tasks]
        bars = ax.bar(xs, vals, width, label=enc, color=SERIES_COLOURS[k % len(SERIES_COLOURS)])
        for b, v in zip(bars, vals):
            ax.text(b.get_x() + b.get_width() / 2, v + 1, f"{v:.0f}", ha="center")
    ax.set_xticks(np.arange(len(tasks)), tasks)
    ax.set_ylim(0, 105)
    label_axes(ax, xlabel, "pixel accuracy (%)", title)
    place_legend(ax, title="encoder")
    return finish_figure(fig)
