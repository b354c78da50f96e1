"""``SyntheticDomain``: one split of the synthetic pair as a dataset, deterministic from ``(seed, split, index)``.

Taught in: notebooks/05_pseudo_label_weighting.ipynb
"""

from __future__ import annotations

import numpy as np

from ..base import SegmentationDataset
from .grammar import _LAYOUTS, DOMAINS, Scene, sample_scene
from .render import render_scene

__all__ = ["SyntheticDomain"]

SPLITS = ("train", "val")


# ------------------------------------------------------------------------------------------------
# The dataset
# ------------------------------------------------------------------------------------------------
class SyntheticDomain(SegmentationDataset):
    """One split of the embedded synthetic pair, rendered on the fly and deterministic from ``(seed, split, index)``.

    ``SyntheticDomain(domain="source"|"target", split="train"|"val", size=(H, W), length=N, seed=0,
    transform=None, labels=None)``. Items are ``{"image": float [3, H, W] normalised, "label": long [H, W],
    "name"}``; target-train items have no label (``LabelsNotAvailableError`` when one is asked for).
    ``labels=True`` on the target training split builds the *oracle* dataset (the same images with their
    labels, for the supervised upper bound only — a UDA trainer never passes it), as
    ``CityscapesDataset(root, "train", labels=True)`` does for real data.

    - ``render(i)`` → ``(image uint8 [H, W, 3], label uint8 [H, W])`` before any transform;
    - ``render_image(i)`` → the image alone (works for every split);
    - ``class_pixel_counts(i)`` → ``{trainId: n}`` from the label alone (no image is rendered), cached, so
      Rare Class Sampling statistics over thousands of images take seconds;
    - ``scene(i)`` → the sampled ``Scene`` (camera, segments, things) behind sample ``i``.

    Taught in: notebooks/05_pseudo_label_weighting.ipynb
    """

    def __init__(
        self,
        domain: str = "source",
        split: str = "train",
        size: tuple[int, int] = (256, 512),
        length: int = 1000,
        seed: int = 0,
        transform=None,
        labels: bool | None = None,
    ):
        if domain not in DOMAINS:
            raise ValueError(f"domain must be one of {DOMAINS}, got {domain!r}")
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if len(size) != 2 or min(size) < 8:
            raise ValueError(f"size must be (H, W) with both sides >= 8, got {size!r}")
        if length < 1:
            raise ValueError(f"length must be positive, got {length}")
        super().__init__(transform=transform, seed=seed)
        self.domain, self.split = domain, split
        self.size = (int(size[0]), int(size[1]))
        self.length = int(length)
        self.layout = _LAYOUTS[domain]
        self.has_labels = (not (domain == "target" and split == "train")) if labels is None else bool(labels)
        self._counts_cache: dict[int, dict[int, int]] = {}

    def __len__(self) -> int:
        return self.length

    def __repr__(self) -> str:
        return (
            f"SyntheticDomain(domain={self.domain!r}, split={self.split!r}, size={self.size}, "
            f"length={self.length}, seed={self.seed})"
        )

    def name(self, index: int) -> str:
        return f"{self.domain}_{self.split}_{self._check_index(index):06d}"

    def _rngs(self, index: int):
        key = [self.seed, DOMAINS.index(self.domain), SPLITS.index(self.split), index]
        return np.random.default_rng(key + [0]), np.random.default_rng(key + [1])

    def scene(self, index: int) -> Scene:
        """The scene behind sample ``index``."""
        return sample_scene(self._rngs(self._check_index(index))[0], self.layout)

    def _render(self, index: int, with_image: bool = True):
        index = self._check_index(index)
        scene_rng, render_rng = self._rngs(index)
        return render_scene(sample_scene(scene_rng, self.layout), self.size, self.domain, render_rng, with_image)

    def render(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """``(image uint8 [H, W, 3], label uint8 [H, W])`` of sample ``index`` (labelled splits only)."""
        self._require_labels("render(index) with its label (use render_image(index))")
        return self._render(index)

    def render_image(self, index: int) -> np.ndarray:
        """The image of sample ``index`` (uint8 [H, W, 3]); works on every split."""
        return self._render(index)[0]

    def load(self, index: int):
        image, label = self._render(index)
        return image, (label if self.has_labels else None)

    def load_label(self, index: int) -> np.ndarray:
        self._require_labels("load_label")
        return self._render(index, with_image=False)[1]

    def label_pixels(self) -> int:
        """Every label is rendered at ``size``: N·H·W without rendering one."""
        return len(self) * self.size[0] * self.size[1]

    def rcs_min_pixels(self) -> int:
        """The official 3000 scaled from GTA's 1914×1052 to the rendered ``size``."""
        from ...uda.rcs import scaled_min_pixels

        return scaled_min_pixels(self.size)

    def class_pixel_counts(self, index: int) -> dict[int, int]:
        index = self._check_index(index)
        if index not in self._counts_cache:
            self._counts_cache[index] = super().class_pixel_counts(index)
        return dict(self._counts_cache[index])
