"""Rare Class Sampling plots: class frequencies f_c, sampling probabilities P(c), and the classes drawn.

Serves: notebooks/06_rare_class_sampling.ipynb (P(c) over the temperature T, the classes RCS draws) and
09_full_uda.ipynb (what the student was shown during a run).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..data.classes import CLASSES, PALETTE
from .common import SERIES_COLOURS, _array, finish_figure, label_axes, new_figure, place_legend

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
    fig, axes = new_figure(rows, 1, panel=(8.0, 1.6), dpi=dpi, sharex=True)
    axes = axes[:, 0]
    axes[0].bar(np.arange(k), np.where(f > 0, f, np.nan), color=colours)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("f_c (log scale)")
    axes[0].set_title("source class frequency f_c and RCS sampling probability P(c)")
    for ax, (name, p) in zip(axes[1:], probabilities.items()):
        ax.bar(np.arange(k), _array(p), color=colours)
        ax.set_ylim(0, 1)
        ax.set_ylabel(f"P(c)\n{name}")
    axes[-1].set_xticks(np.arange(k))
    axes[-1].set_xticklabels(class_names[:k], rotation=60, ha="right")
    axes[-1].set_xlabel("class")
    return finish_figure(fig)


def plot_class_draws(draws: dict, probabilities=None, class_names=CLASSES, dpi: int = 90, totals=None) -> Figure:
    """How often each class was seen or drawn during training: each series as a share per class, on a log axis.

    ``draws``: ``{"RCS class draws": counts [C], "pixels seen without RCS": counts [C], ...}``. The series count
    different things (draws, images, pixels), so each bar is a share: the count ÷ a total, which the legend gives.
    ``totals``: by default each series' own sum; a number divides every series by it (e.g. the number of images
    drawn: then "images with the class" reads as the share of drawn images that show the class); a dict gives
    the total of the series it names. Shares of 0 draw no bar. ``probabilities``: RCS's P(c), drawn as black
    ticks — the share of class draws RCS expects (DAFormer Sec. 3.3); a P(c) below the axis (half the smallest
    bar) is marked ▾ on its floor. The legend stands beside the bars.

    Taught in: notebooks/09_full_uda.ipynb
    """
    k = len(class_names)
    x = np.arange(k)
    fig, axes = new_figure(1, 1, panel=(max(6.0, 0.42 * k + 1), 3.2), dpi=dpi, extra=2.8)
    ax = axes[0, 0]
    width = 0.8 / max(len(draws), 1)
    smallest = 1.0  # the smallest bar drawn
    for j, (name, counts) in enumerate(draws.items()):
        c = _array(counts).astype(np.float64)
        given = totals.get(name) if isinstance(totals, dict) else totals
        total = float(given) if given is not None else max(c.sum(), 1.0)
        share = c / total
        smallest = min([smallest, *share[share > 0]])
        ax.bar(
            x + (j - (len(draws) - 1) / 2) * width,
            share,
            width,
            color=SERIES_COLOURS[j % len(SERIES_COLOURS)],
            label=f"{name} (÷ {total:,.0f})",
        )
    ax.set_yscale("log")
    floor = smallest / 2
    if probabilities is not None:
        p = _array(probabilities).astype(np.float64)
        low = p < floor
        ax.scatter(x[~low], p[~low], marker="_", s=200, color="black", zorder=3, label="RCS P(c)")
        if low.any():  # a P(c) far below every bar (T = 0.01: e^-30 for a common class) sits on the floor as ▾
            ax.scatter(
                x[low],
                np.full(int(low.sum()), 1.6 * floor),
                marker="v",
                s=30,
                color="black",
                zorder=3,
                label=f"RCS P(c) < {floor:.0e}",
            )
    ax.set_ylim(floor, max(1.5, ax.get_ylim()[1]))
    ax.set_xticks(x)
    ax.set_xticklabels(class_names, rotation=60, ha="right")
    label_axes(ax, "class", "count ÷ the total in the legend (log)", "what the student was shown, per class")
    place_legend(ax)
    return finish_figure(fig)
