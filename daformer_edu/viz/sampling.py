"""Rare Class Sampling plots: class frequencies f_c, sampling probabilities P(c), and the classes drawn.

Serves: notebooks/06_rare_class_sampling.ipynb (P(c) over the temperature T, the classes RCS draws) and
09_full_uda.ipynb (what the student was shown during a run).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from ..data.classes import CLASSES, PALETTE
from .common import _array

__all__ = [
    "plot_rcs_probabilities",
    "plot_class_draws",
]


def _bar_colours(n: int, palette: np.ndarray = PALETTE) -> list:
    return [np.asarray(palette[i % len(palette)]) / 255.0 for i in range(n)]


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
