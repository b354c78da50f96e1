"""Training-run plots: loss and mIoU curves, predictions side by side, pseudo-label evolution, IoU comparisons.

Serves: notebooks/09_full_uda.ipynb (source-only vs DAFormer vs oracle); the IoU bars, prediction grid and
plain-text comparison table are reused in 10_domain_generalization.ipynb, and ``format_comparison_table`` by
``bench/bench_synthetic.py``.
"""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from ..data.classes import CLASSES
from .common import _image, overlay

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
    fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * k + 1), 3.0), dpi=dpi)
    width = 0.8 / len(series)
    x = np.arange(k)
    for j, (name, iou) in enumerate(series.items()):  # iou: [K] percent
        ax.bar(x + (j - (len(series) - 1) / 2) * width, np.nan_to_num(iou), width,
               label=f"{name} ({np.nanmean(iou):.1f})")
    ax.set_xticks(x)
    ax.set_xticklabels(class_names, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("IoU (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, title="(mIoU)", title_fontsize=8)
    fig.tight_layout()
    return fig


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
    vals = np.array([series[n] for n in names], dtype=np.float64)                  # [M, K] percent
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
