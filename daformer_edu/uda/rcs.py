"""Rare Class Sampling (DAFormer Sec. 3.3): show the network rare classes early and often.

Which source image the student sees next decides which classes it learns first — and a self-training
teacher that has not learned "train" or "bus" early will never pseudo-label them. RCS therefore picks a
*class* first and then an image that contains it. With the class frequencies of the source labels

    f_c = Σ_i Σ_j [y_S^(i,j,c)] / (N_S · H · W)                                   (class_frequencies)

classes are drawn with probability

    P(c) = exp((1 − f_c)/T) / Σ_c' exp((1 − f_c')/T)                             (rcs_probabilities)

(T = 0.01; small T → only the rarest classes, large T → uniform over classes). Then an image is drawn
uniformly among the source images holding more than ``min_pixels`` pixels of c, and re-cropped (up to 10
times) until the crop holds more than ``min_pixels × min_crop_ratio`` pixels of c (``RareClassSampler``).

Paper vs official code:
- The paper divides by N_S·H·W (all pixels, ignore included); the official code divides by the number of
  *labelled* pixels Σ_c n_c, because its ``sample_class_stats.json`` holds only per-class counts.
  ``class_frequencies(counts)`` and ``RareClassSampler(...)`` do the official thing; pass
  ``total_pixels=N_S·H·W`` to either for the paper's (``TrainConfig.rcs_frequency_form="paper"`` does that).
- Classes that never occur get P(c) = 0 (the official code leaves them out of the list altogether).
- The official code stops with an assertion when a class occurs but no image holds more than
  ``min_pixels`` of it; ``RareClassSampler`` gives such a class probability 0, renormalises, and lists
  it in ``dropped_classes``.
- ``min_pixels = 3000`` is official for GTA label files at 1914×1052: scale it with the image area for
  other resolutions (``scaled_min_pixels``).

Statistics use the official ``sample_class_stats.json`` format: a list of ``{"file": name, "<class id>":
n_pixels, ...}``, one entry per source image, classes with 0 pixels left out.

Taught in: notebooks/06_rare_class_sampling.ipynb
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import torch

from ..data.base import compute_class_stats, load_class_stats, save_class_stats

__all__ = [
    "class_frequencies",
    "rcs_probabilities",
    "total_class_pixels",
    "cached_class_stats",
    "scaled_min_pixels",
    "RareClassSampler",
    "RcsSample",
]

_GTA_HW = (1052, 1914)  # resolution of the GTA label files the official min_pixels=3000 refers to


def class_frequencies(pixel_counts, total_pixels: int | None = None) -> torch.Tensor:
    """f_c: the share of source pixels that belong to class c (DAFormer Sec. 3.3, eq. for f_c).

    Args:
        pixel_counts: ``[C]`` number of pixels of each class over the whole source set.
        total_pixels: the denominator. ``None`` (official code) = Σ_c n_c, the labelled pixels;
            pass ``N_S · H · W`` for the paper's definition (ignore pixels included).

    Returns ``[C]`` float64 frequencies (sum to 1 when ``total_pixels`` is None).

    Taught in: notebooks/06_rare_class_sampling.ipynb
    """
    counts = torch.as_tensor(pixel_counts, dtype=torch.float64)  # [C]
    if counts.dim() != 1:
        raise ValueError(
            f"class_frequencies: pixel_counts must be one count per class, got shape {tuple(counts.shape)}"
        )
    if (counts < 0).any():
        raise ValueError("class_frequencies: pixel_counts must be ≥ 0")
    total = counts.sum() if total_pixels is None else torch.tensor(float(total_pixels), dtype=torch.float64)
    if total <= 0:
        raise ValueError("class_frequencies: there are no labelled pixels (all counts are 0)")
    if total_pixels is not None and total < counts.sum():
        raise ValueError(
            f"class_frequencies: total_pixels={total_pixels} is smaller than the labelled pixels "
            f"{int(counts.sum())}; pass N_S·H·W"
        )
    return counts / total


def rcs_probabilities(freq, temperature: float = 0.01) -> torch.Tensor:
    """P(c) = softmax_c((1 − f_c)/T) over the classes that occur; classes with f_c = 0 get 0 (DAFormer Sec. 3.3).

    T → 0 puts all mass on the rarest occurring class; T → ∞ makes P uniform over the occurring classes.

    Taught in: notebooks/06_rare_class_sampling.ipynb
    """
    if not temperature > 0:
        raise ValueError(f"rcs_probabilities: temperature T={temperature} must be > 0 (DAFormer uses 0.01)")
    f = torch.as_tensor(freq, dtype=torch.float64)  # [C]
    occurs = f > 0  # [C]
    if not occurs.any():
        raise ValueError("rcs_probabilities: no class occurs (all frequencies are 0)")
    logits = torch.where(occurs, (1.0 - f) / temperature, torch.tensor(-torch.inf, dtype=torch.float64))  # [C]
    return torch.softmax(logits, dim=0)  # [C]; exp(-inf) = 0 for absent classes


def _normalise_stats(stats) -> list[dict]:
    """A path → ``load_class_stats``; a list → entries ``{"file": str, class_id (int): n (int)}``."""
    if isinstance(stats, (str, os.PathLike)):
        if not os.path.exists(stats):
            raise FileNotFoundError(
                f"RCS statistics {os.fspath(stats)} do not exist; compute them with cached_class_stats(dataset, "
                "cache_dir) or the data conversion CLI (it writes sample_class_stats.json)"
            )
        stats = load_class_stats(stats)
    out = []
    for k, entry in enumerate(stats):
        if not isinstance(entry, Mapping) or "file" not in entry:
            raise ValueError(
                f"class stats entry {k} must be a dict with a 'file' key and class-id counts, got {entry!r}"
            )
        clean: dict[Any, Any] = {"file": str(entry["file"])}
        for c, n in entry.items():
            if c != "file":
                clean[int(c)] = int(n)  # json keys are strings: "13" → 13
        out.append(clean)
    return out


def total_class_pixels(stats, num_classes: int = 19) -> torch.Tensor:
    """Σ over images of each class's pixels, from ``sample_class_stats`` entries (or their json path) → ``[C]`` long.

    Taught in: notebooks/06_rare_class_sampling.ipynb
    """
    counts = torch.zeros(num_classes, dtype=torch.long)  # [C]
    for entry in _normalise_stats(stats):
        for c, n in entry.items():
            if c == "file":
                continue
            if not 0 <= c < num_classes:
                raise ValueError(f"total_class_pixels: {entry['file']} has class id {c}, outside 0..{num_classes - 1}")
            counts[c] += n
    return counts


def cached_class_stats(dataset, cache_dir: str | os.PathLike | None = None) -> list[dict]:
    """RCS statistics of a labelled dataset, cached as ``sample_class_stats.json`` in ``cache_dir``.

    Computes them with ``daformer_edu.data.base.compute_class_stats`` (one pass over the labels, at the
    resolution they are stored), writes ``sample_class_stats.json`` and ``samples_with_class.json`` into
    ``cache_dir``, and on the next call reads the file back — unless it no longer matches the dataset
    (other length or file names), in which case it is recomputed and overwritten. ``cache_dir=None``: no cache.

    Taught in: notebooks/06_rare_class_sampling.ipynb
    """
    names = [dataset.name(i) for i in range(len(dataset))] if hasattr(dataset, "name") else None
    if cache_dir is not None:
        path = Path(cache_dir) / "sample_class_stats.json"
        if path.exists():
            stats = _normalise_stats(path)
            if names is None or [e["file"] for e in stats] == names:
                return stats
    stats = _normalise_stats(compute_class_stats(dataset))
    if cache_dir is not None:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        save_class_stats(stats, cache_dir)
    return stats


def scaled_min_pixels(image_hw: Sequence[int], min_pixels: int = 3000, reference_hw: Sequence[int] = _GTA_HW) -> int:
    """Scale RCS's ``min_pixels`` (official 3000 at GTA's 1914×1052) to another image area.

    ``scaled_min_pixels((256, 512))`` → 3000 · (256·512)/(1052·1914) ≈ 195.

    Taught in: notebooks/06_rare_class_sampling.ipynb
    """
    h, w = image_hw
    return max(1, round(min_pixels * (h * w) / (reference_hw[0] * reference_hw[1])))


class RcsSample(NamedTuple):
    """One RCS sample: the accepted crop, its class, the crops rejected before it, and whether it is still short.

    Taught in: notebooks/06_rare_class_sampling.ipynb
    """

    item: dict
    c: int
    recrops: int
    short: bool


class RareClassSampler:
    """Rare Class Sampling: c ~ P(c), then a source image with > ``min_pixels`` of c, re-cropped until it shows c.

    Args:
        stats: ``sample_class_stats`` list (or a path to the json): one ``{"file": name, class_id: n}`` per
            source image, in dataset order — the index of an entry is the dataset index it stands for
            (``cached_class_stats(dataset, cache_dir)`` or ``daformer_edu.data.base.compute_class_stats``).
        temperature: T of P(c) (0.01 in DAFormer).
        min_pixels: an image is a candidate for class c if it holds more than this many pixels of c, counted
            at the resolution of the statistics (official 3000 at 1914×1052; see ``scaled_min_pixels``).
        min_crop_ratio: a crop is accepted once it holds more than ``min_pixels × min_crop_ratio`` pixels of c;
            0 disables re-cropping.
        seed: seed of the sampler's own ``torch.Generator`` (class and image draws).
        num_classes: C.
        total_pixels: denominator of f_c. ``None`` (official ``get_rcs_class_probs``) = the labelled pixels
            Σ_c n_c; ``N_S·H·W`` (every label pixel, ignore included) = the paper's Eq. for f_c.

    Use ``draw()`` → ``(c, index)``, or ``sample(load_crop)`` which also re-crops: ``load_crop(index)``
    must return a fresh random crop, a dict with a ``"label"`` ``[H, W]`` tensor — e.g. ``dataset.__getitem__``
    of a dataset with a ``RandomCrop`` transform, which draws a new window on every call. ``sample`` returns an
    ``RcsSample(item, c, recrops, short)``. The sampler keeps no counters (in a training run it lives in every
    DataLoader worker, where counts would be lost): count what it returns. ``state_dict()`` /
    ``load_state_dict()`` save and restore its generator; the trainer instead re-seeds it from each crop's key
    (``data/stream.py``), so a resumed run needs no sampler state.

    Taught in: notebooks/06_rare_class_sampling.ipynb
    """

    max_recrops = 10

    def __init__(
        self,
        stats,
        temperature: float = 0.01,
        min_pixels: int = 3000,
        min_crop_ratio: float = 0.5,
        seed: int = 0,
        num_classes: int = 19,
        total_pixels: int | None = None,
    ):
        stats = _normalise_stats(stats)
        if not stats:
            raise ValueError("RareClassSampler: the class statistics are empty (no source images)")
        self.files = [entry["file"] for entry in stats]
        self.temperature = temperature
        self.min_pixels = min_pixels
        self.min_crop_ratio = min_crop_ratio
        self.num_classes = num_classes

        self.pixel_counts = total_class_pixels(stats, num_classes)  # [C]
        self.frequencies = class_frequencies(self.pixel_counts, total_pixels)  # [C]
        # images holding more than min_pixels of class c, as dataset indices
        self.samples_with_class: dict[int, list[int]] = {
            c: [i for i, entry in enumerate(stats) if entry.get(c, 0) > min_pixels] for c in range(num_classes)
        }
        probs = rcs_probabilities(self.frequencies, temperature)  # [C]
        has_image = torch.tensor([len(self.samples_with_class[c]) > 0 for c in range(num_classes)])
        self.dropped_classes = [c for c in range(num_classes) if probs[c] > 0 and not has_image[c]]
        probs = torch.where(has_image, probs, torch.zeros_like(probs))
        if probs.sum() <= 0:
            raise ValueError(
                f"RareClassSampler: no image holds more than min_pixels={min_pixels} pixels of any class; "
                "lower min_pixels (see scaled_min_pixels)"
            )
        self.probabilities = probs / probs.sum()  # [C]

        self.generator = torch.Generator().manual_seed(seed)

    def __repr__(self) -> str:
        return (
            f"RareClassSampler({len(self.files)} images, T={self.temperature}, min_pixels={self.min_pixels}, "
            f"min_crop_ratio={self.min_crop_ratio}, dropped_classes={self.dropped_classes})"
        )

    def draw_class(self) -> int:
        """c ~ P(c)."""
        return int(torch.multinomial(self.probabilities.float(), 1, generator=self.generator))

    def draw_image(self, c: int) -> int:
        """A uniform dataset index among the images with more than ``min_pixels`` of class c."""
        candidates = self.samples_with_class[c]
        return candidates[int(torch.randint(len(candidates), (), generator=self.generator))]

    def draw(self) -> tuple[int, int]:
        """One RCS draw: ``(class c, dataset index)``."""
        c = self.draw_class()
        return c, self.draw_image(c)

    def sample(self, load_crop: Callable[[int], dict]) -> RcsSample:
        """Draw (c, index), then load crops of that image until one holds > min_pixels·min_crop_ratio of c.

        Returns ``RcsSample(item, c, recrops, short)``: the accepted crop, the class, how many crops were
        rejected and loaded again, and whether the last crop is still short of the threshold — after
        ``max_recrops`` (10) rejected crops the last one is kept, as officially.
        """
        c, index = self.draw()
        item, recrops = load_crop(index), 0
        threshold = self.min_pixels * self.min_crop_ratio
        if self.min_crop_ratio <= 0:
            return RcsSample(item, c, 0, False)
        while int((item["label"] == c).sum()) <= threshold and recrops < self.max_recrops:
            item, recrops = load_crop(index), recrops + 1
        return RcsSample(item, c, recrops, int((item["label"] == c).sum()) <= threshold)

    def state_dict(self) -> dict:
        """The generator's state (and the number of images, to check the statistics on restore)."""
        return {"generator": self.generator.get_state(), "num_images": len(self.files)}

    def load_state_dict(self, state: dict) -> None:
        """Restore what ``state_dict`` saved; the statistics must describe the same number of images."""
        if state["num_images"] != len(self.files):
            raise ValueError(
                f"RareClassSampler.load_state_dict: the state was saved with {state['num_images']} source "
                f"images, this sampler has {len(self.files)}; rebuild it from the same statistics"
            )
        self.generator.set_state(state["generator"])
