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

from .common import _feature_array, _rgb01

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
