"""Training-run plots: loss and mIoU curves, predictions side by side, pseudo-label evolution, IoU comparisons.

Serves: notebooks/09_full_uda.ipynb (source-only vs DAFormer vs oracle); the IoU bars, prediction grid and
plain-text comparison table are reused in 10_domain_generalization.ipynb, and ``format_comparison_table`` by
``bench/bench_synthetic.py``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..data.classes import CLASSES
from .common import (
    FONT_SIZE,
    SERIES_COLOURS,
    _image,
    _panel,
    finish_figure,
    image_panel,
    label_axes,
    new_figure,
    overlay,
    place_legend,
)

__all__ = [
    "plot_iou_bars",
    "format_comparison_table",
    "plot_comparison_table",
    "plot_training_curves",
    "plot_prediction_grid",
    "plot_pseudo_label_evolution",
]


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

    IoU in percent (a vector, or a result dict with ``"iou"``: ``metrics.evaluate``, ``dg.evaluate_target``);
    NaN (class absent) leaves a gap. Each series' mIoU is in the legend.

    Taught in: notebooks/09_full_uda.ipynb
    """
    series = _as_series(results)
    k = len(class_names)
    fig, axes = new_figure(1, 1, panel=(max(6.0, 0.42 * k + 1), 3.2), dpi=dpi, extra=2.2)
    ax = axes[0, 0]
    width = 0.8 / len(series)
    x = np.arange(k)
    for j, (name, iou) in enumerate(series.items()):  # iou: [K] percent
        ax.bar(
            x + (j - (len(series) - 1) / 2) * width,
            np.nan_to_num(iou),
            width,
            color=SERIES_COLOURS[j % len(SERIES_COLOURS)],
            label=f"{name} ({np.nanmean(iou):.1f})",
        )
    ax.set_xticks(x)
    ax.set_xticklabels(class_names, rotation=60, ha="right")
    ax.set_ylim(0, 100)
    label_axes(ax, "class", "IoU (%)", title)
    place_legend(ax, title="(mIoU)")
    return finish_figure(fig)


def format_comparison_table(results, class_names=CLASSES, digits: int = 1) -> str:
    """A plain-text table: one row per method, one column per class, then mIoU; IoU in percent, ``results`` as
    in ``plot_iou_bars``.

    Taught in: notebooks/09_full_uda.ipynb
    """
    series = _as_series(results)
    short = [n[:6] for n in class_names]
    width = max(len(n) for n in series) + 1
    lines = [" " * width + " ".join(f"{s:>6}" for s in short) + "   mIoU"]
    for name, iou in series.items():  # iou: [K] percent
        cells = " ".join("   n/a" if math.isnan(v) else f"{v:6.{digits}f}" for v in iou)
        lines.append(f"{name:<{width}}" + cells + f" {np.nanmean(iou):6.{digits}f}")
    return "\n".join(lines)


def plot_comparison_table(results, class_names=CLASSES, title: str = "target mIoU (%)", dpi: int = 90) -> Figure:
    """The comparison table (source-only / adapted / oracle …) as a matplotlib table figure.

    The best value of each column is bold. ``results`` as in ``plot_iou_bars`` (percent).

    Taught in: notebooks/09_full_uda.ipynb
    """
    series = _as_series(results)
    names = list(series)
    vals = np.array([series[n] for n in names], dtype=np.float64)  # [M, K] percent
    miou = np.nanmean(vals, axis=1, keepdims=True)
    table_vals = np.concatenate([vals, miou], axis=1)  # [M, K + 1]
    cols = [n[:5] for n in class_names] + ["mIoU"]
    cells = [["n/a" if math.isnan(v) else f"{v:.1f}" for v in row] for row in table_vals]
    fig, axes = new_figure(
        1, 1, panel=(0.52 * len(cols) + 0.12 * max(len(n) for n in names) + 0.6, 0.3 * len(names) + 0.8), dpi=dpi
    )
    ax = axes[0, 0]
    ax.axis("off")
    tab = ax.table(cellText=cells, rowLabels=names, colLabels=cols, loc="center", cellLoc="center")
    tab.auto_set_font_size(False)
    tab.set_fontsize(FONT_SIZE)
    with np.errstate(invalid="ignore"):
        best = np.nanargmax(np.where(np.isnan(table_vals), -np.inf, table_vals), axis=0)
    for j, i in enumerate(best):
        tab[i + 1, j].get_text().set_fontweight("bold")
    ax.set_title(title)
    return finish_figure(fig)


def _records(history, split: str) -> list[dict]:
    return [r for r in history if r.get("split") == split]


def _running_mean(its: np.ndarray, vals: np.ndarray, smooth: int):
    """(iterations, values) of the running mean over ``smooth`` logged points (fewer on short runs)."""
    k = max(1, min(smooth, len(vals) // 5))  # short runs: little or no smoothing
    return its[k - 1 :], np.convolve(np.nan_to_num(vals), np.ones(k) / k, mode="valid")


def _train_series(history, key: str):
    """(iterations, values) of ``key`` in the training records, or ``None`` when no record carries it."""
    train = _records(history, "train")
    vals = np.array([r.get(key, np.nan) for r in train], dtype=np.float64)
    if len(vals) == 0 or np.isnan(vals).all():
        return None
    return np.array([r["iteration"] for r in train], dtype=np.float64), vals


_LOSS_STYLES = {"loss": "-", "source_ce": "--", "target_ce": ":", "feature_distance": "-."}


def plot_training_curves(histories, smooth: int = 25, dpi: int = 90, q_t: bool | None = None) -> Figure:
    """Loss terms, target-val mIoU and the mean pseudo-label weight q_T against the iteration, for one run or
    ``{"name": history, ...}``.

    ``history`` is the list of records a run logs (``Trainer.history`` or the lines of ``log.jsonl``):
    training records (``"split": "train"``) carry the loss terms and, in a DAFormer run, ``q_t`` (the batch's
    mean pseudo-label weight, DAFormer Sec. 3.1), evaluation records (``"split": "val"``) the mIoU. Losses and
    q_T are smoothed with a running mean over ``smooth`` logged points. Axes: losses, mIoU, then q_T when
    ``q_t`` is True, or is None (the default) and a history has ``q_t``. A colour per run, a line style per
    loss term.

    Taught in: notebooks/09_full_uda.ipynb
    """
    if not isinstance(histories, dict):
        histories = {"run": histories}
    has_q = {name: _train_series(h, "q_t") for name, h in histories.items()}
    show_q = any(v is not None for v in has_q.values()) if q_t is None else bool(q_t)
    fig, axes = new_figure(1, 2 + show_q, panel=(3.6, 3.0), dpi=dpi, extra=3.0)
    ax_loss, ax_miou = axes[0, 0], axes[0, 1]
    terms = []
    for n, (name, history) in enumerate(histories.items()):
        color = SERIES_COLOURS[n % len(SERIES_COLOURS)]
        for key, style in _LOSS_STYLES.items():
            series = _train_series(history, key)
            if series is not None:
                ax_loss.plot(*_running_mean(*series, smooth), style, color=color, lw=1.2)
                terms += [key] if key not in terms else []
        val = _records(history, "val")
        if val:
            ax_miou.plot([r["iteration"] for r in val], [r["miou"] for r in val], "o-", color=color, ms=3)
        if show_q and has_q[name] is not None:
            axes[0, 2].plot(*_running_mean(*has_q[name], smooth), color=color, lw=1.2)
    ax_loss.set_yscale("log")
    label_axes(ax_loss, "iteration", "loss (running mean)", "training losses")
    place_legend(
        ax_loss,
        handles=[Line2D([], [], color="black", ls=_LOSS_STYLES[t]) for t in terms],
        labels=terms,
        title="loss term",
    )
    label_axes(ax_miou, "iteration", "target val mIoU (%)", "evaluation on the target domain")
    if show_q:
        axes[0, 2].set_ylim(0, 1.02)
        label_axes(axes[0, 2], "iteration", "mean q_T (running mean)", "pseudo-label weight q_T")
    runs = [Line2D([], [], color=SERIES_COLOURS[n % len(SERIES_COLOURS)]) for n in range(len(histories))]
    place_legend(axes[0, -1], handles=runs, labels=list(histories), title="run")
    return finish_figure(fig)


def plot_prediction_grid(
    images, labels, predictions: dict, alpha: float = 0.55, dpi: int = 72, panel: float = 3.0
) -> Figure:
    """Target images (rows): image, ground truth, then one column per model's prediction, overlaid.

    ``images``: ``[N, 3, H, W]`` normalised tensor or uint8 ``[N, H, W, 3]``; ``labels``: ``[N, H, W]``;
    ``predictions``: ``{"source-only": [N, H, W], "DAFormer": [N, H, W], ...}``. ``panel``: the width of a panel
    in inches (3 by default: a prediction large enough to read). The column titles stand over the top row.

    Taught in: notebooks/09_full_uda.ipynb
    """
    n = len(images)
    cols = 2 + len(predictions)
    first = _image(images[0])
    fig, axes = new_figure(n, cols, panel=_panel(first.shape, panel), dpi=dpi)
    for r in range(n):
        img = _image(images[r])
        panels = [("image", img), ("ground truth", overlay(img, labels[r], alpha))]
        panels += [(name, overlay(img, pred[r], alpha)) for name, pred in predictions.items()]
        for c, (title, p) in enumerate(panels):
            image_panel(axes[r, c], p, title if r == 0 else None)
    return finish_figure(fig)


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
    fig, axes = new_figure(n, cols, panel=_panel(_image(images[0]).shape, 3.0), dpi=dpi)
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
            image_panel(axes[r, c], p, title)
    return finish_figure(fig)
