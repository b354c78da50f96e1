"""What every dataset of the package shares: items as dicts, seeded transforms, per-image class statistics.

A dataset item is ``{"image": float [3, H, W] (ImageNet-normalised), "label": long [H, W] (255 = ignore),
"name": str}``; a split without labels (target train) has no ``"label"`` key.

A subclass only says how to *load* sample ``i`` as raw numpy arrays (``load(i)`` → uint8 image
``[H, W, 3]`` and uint8 trainId label ``[H, W]`` or None) and what it is called (``name(i)``); this class
applies the transform and normalisation and counts class pixels. ``dataset.classes`` is its ``ClassTable``
(``data/classes.py``): the 19 Cityscapes classes for every dataset of the package except ``FolderDataset``,
which reads its own from ``classes.json``; the trainer takes the number of classes, their names and the
thing classes from it.

For Rare Class Sampling (``daformer_edu/uda/rcs.py``) a dataset offers:
- ``class_pixel_counts(i)`` → ``{trainId: n_pixels}`` of sample ``i``'s label as loaded (before any
  transform); ``compute_class_stats(dataset)`` collects them for all samples in the format of the official
  ``sample_class_stats.json`` (entry ``i`` belongs to sample ``i``; ``"file"`` is ``dataset.name(i)``);
- ``get(i, crop_box=(top, left))`` → the item with the crop forced to that window (coordinates after any
  resize). ``get(i)`` / ``dataset[i]`` draw a fresh random crop on every call, so "re-crop up to 10 times"
  is simply calling ``dataset[i]`` again, as the official RCS code does.

Random transforms draw from ``dataset.transform_rng``, a ``numpy.random.Generator`` seeded with ``seed``.
In a ``DataLoader`` worker it is re-seeded from the worker's torch seed, so workers never repeat each
other's crops and a run seeded with ``torch.manual_seed`` is reproducible. Save and restore it for exact
resumption with ``dataset.transform_rng.bit_generator.state``.

Taught in: notebooks/06_rare_class_sampling.ipynb
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from .classes import ClassTable
from .io import LabelsNotAvailableError
from .transforms import Compose, Normalize

__all__ = [
    "SegmentationDataset",
    "compute_class_stats",
    "samples_with_class",
    "save_class_stats",
    "load_class_stats",
]


class SegmentationDataset(torch.utils.data.Dataset):
    """Base class: ``load(i)`` → numpy pair, then transform + normalise → ``{"image", "label", "name"}``.

    Subclasses implement ``__len__``, ``name(i)`` and ``load(i)``; they may override ``load_label(i)`` when
    the label alone is cheaper to get than the pair (statistics only need the label).

    Taught in: notebooks/06_rare_class_sampling.ipynb
    """

    has_labels: bool = True
    classes: ClassTable = ClassTable.cityscapes()  # the label values' meaning; FolderDataset sets its own

    def __init__(self, transform=None, seed: int = 0):
        if isinstance(transform, (list, tuple)):
            transform = Compose(list(transform))
        self.transform = transform
        self.seed = int(seed)
        self._normalize = Normalize()
        self._rng: np.random.Generator | None = None
        self._rng_key = None

    # -- to implement ---------------------------------------------------------------------------
    def __len__(self) -> int:
        raise NotImplementedError

    def name(self, index: int) -> str:
        raise NotImplementedError

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray | None]:
        """uint8 image ``[H, W, 3]`` and uint8 trainId label ``[H, W]`` (None without labels)."""
        raise NotImplementedError

    def load_label(self, index: int) -> np.ndarray:
        """uint8 trainId label ``[H, W]`` of sample ``index``."""
        self._require_labels("load_label")
        return self.load(index)[1]

    # -- provided -------------------------------------------------------------------------------
    @property
    def transform_rng(self) -> np.random.Generator:
        """The generator random transforms draw from (one per process / DataLoader worker)."""
        info = torch.utils.data.get_worker_info()
        key = None if info is None else int(info.seed)
        if self._rng is None or key != self._rng_key:
            entropy = [self.seed] if key is None else [self.seed, key % (2**63)]
            self._rng, self._rng_key = np.random.default_rng(entropy), key
        return self._rng

    def _check_index(self, index: int) -> int:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range for {type(self).__name__} of length {n}")
        return index % n

    def _require_labels(self, what: str) -> None:
        if not self.has_labels:
            raise LabelsNotAvailableError(
                f"{type(self).__name__} was built without labels (the target training split of UDA): "
                f"{what} is not available. Target labels are for evaluation only; use the validation split."
            )

    def get(self, index: int, crop_box: tuple[int, int] | None = None, rng: np.random.Generator | None = None) -> dict:
        """Item ``index`` as a dict; ``crop_box=(top, left)`` forces the ``RandomCrop`` window.

        Taught in: notebooks/06_rare_class_sampling.ipynb
        """
        index = self._check_index(index)
        image, label = self.load(index)
        if self.transform is not None:
            rng = self.transform_rng if rng is None else rng
            if isinstance(self.transform, Compose):
                image, label = self.transform(image, label, rng, crop_box=crop_box)
            else:
                image, label = self.transform(image, label, rng)
        elif crop_box is not None:
            raise ValueError("crop_box needs a transform with a RandomCrop")
        if not isinstance(image, torch.Tensor):
            image, label = self._normalize(image, label)
        item = {"image": image, "name": self.name(index)}
        if label is not None and self.has_labels:
            item["label"] = label
        return item

    def __getitem__(self, index: int) -> dict:
        return self.get(index)

    def class_stats(self, progress: bool | None = False) -> list[dict]:
        """Per-sample class pixel counts for every sample; see ``compute_class_stats``."""
        from tqdm.auto import tqdm

        out = []
        for i in tqdm(range(len(self)), desc="class stats", disable=not progress, leave=False):
            out.append({"file": self.name(i), **self.class_pixel_counts(i)})
        return out

    def label_pixels(self) -> int:
        """N_S·H·W of the paper's class frequency f_c: every pixel of every label as loaded, ignore included.

        Taught in: notebooks/06_rare_class_sampling.ipynb
        """
        self._require_labels("label_pixels")
        return sum(int(self.load_label(i).size) for i in range(len(self)))

    def rcs_min_pixels(self) -> int:
        """RCS's ``min_pixels`` for these labels: the official 3000, counted at GTA's full 1914×1052 resolution.

        Datasets whose labels have another size override it with ``uda.rcs.scaled_min_pixels`` of that size.

        Taught in: notebooks/06_rare_class_sampling.ipynb
        """
        return 3000

    def class_pixel_counts(self, index: int) -> dict[int, int]:
        """``{trainId: number of pixels}`` in sample ``index``'s label (as loaded, ignore excluded).

        Taught in: notebooks/06_rare_class_sampling.ipynb
        """
        self._require_labels("class_pixel_counts")
        label = self.load_label(self._check_index(index))
        counts = np.bincount(label.ravel(), minlength=256)[: self.classes.num_classes]
        return {c: int(n) for c, n in enumerate(counts) if n > 0}


def compute_class_stats(dataset: SegmentationDataset, progress: bool | None = False) -> list[dict]:
    """Per-sample class pixel counts in the official ``sample_class_stats.json`` format.

    Returns ``[{"file": name, c: n_pixels, ...}, ...]``, entry ``i`` for sample ``i``, only classes present.
    ``RareClassSampler`` turns these into class frequencies f_c (DAFormer Eq. 6). A converted real dataset
    reads them from its ``sample_class_stats.json`` instead of re-reading every label; the synthetic
    domain renders labels only (no images) and caches the counts.

    Taught in: notebooks/06_rare_class_sampling.ipynb
    """
    return dataset.class_stats(progress=progress)


def samples_with_class(stats: list[dict]) -> dict[int, list[tuple[str, int]]]:
    """Invert the statistics: class → ``[(file, n_pixels), ...]`` of the samples that contain it.

    The content of the official ``samples_with_class.json`` (RCS draws an image from this list after
    drawing a class).

    Taught in: notebooks/06_rare_class_sampling.ipynb
    """
    out: dict[int, list[tuple[str, int]]] = {}
    for entry in stats:
        for c, n in entry.items():
            if c != "file" and n > 0:
                out.setdefault(int(c), []).append((entry["file"], int(n)))
    return dict(sorted(out.items()))


def save_class_stats(stats: list[dict], directory: str | Path) -> tuple[Path, Path]:
    """Write ``sample_class_stats.json`` and ``samples_with_class.json`` into ``directory``.

    Taught in: notebooks/06_rare_class_sampling.ipynb
    """
    directory = Path(directory)
    a, b = directory / "sample_class_stats.json", directory / "samples_with_class.json"
    with open(a, "w") as f:
        json.dump([{str(k): v for k, v in e.items()} for e in stats], f)
    with open(b, "w") as f:
        json.dump({str(c): [[name, n] for name, n in v] for c, v in samples_with_class(stats).items()}, f)
    return a, b


def load_class_stats(path: str | Path) -> list[dict]:
    """Read a ``sample_class_stats.json`` back (class keys become ints again).

    Taught in: notebooks/06_rare_class_sampling.ipynb
    """
    with open(path) as f:
        raw = json.load(f)
    return [{("file" if k == "file" else int(k)): v for k, v in e.items()} for e in raw]


class _FileDataset(SegmentationDataset):
    """A dataset of (image file, label file) pairs with a raw-id → trainId table (GTA, Synthia, Cityscapes)."""

    label_channel: int | None = None

    def __init__(self, root, images, labels, names, luts, transform=None, seed=0, has_labels=True):
        super().__init__(transform=transform, seed=seed)
        self.root = Path(root)
        self.images, self.labels, self.names = list(images), list(labels), list(names)
        self._luts = luts  # (lut, known) for raw-id files, keyed by "raw" / "train"
        self.has_labels = has_labels

    def __len__(self) -> int:
        return len(self.images)

    def name(self, index: int) -> str:
        return self.names[self._check_index(index)]

    def _label(self, index: int) -> np.ndarray:
        from .io import map_label, read_label

        path = self.labels[index]
        kind = "train" if path.name.endswith("_labelTrainIds.png") else "raw"
        lut, known = self._luts[kind]
        raw = read_label(path, channel=None if kind == "train" else self.label_channel)
        return map_label(raw, lut, known, path)

    def load(self, index: int):
        from .io import check_same_size, read_image

        index = self._check_index(index)
        image = read_image(self.images[index])
        if not self.has_labels:
            return image, None
        label = self._label(index)
        check_same_size(image, label, self.images[index], self.labels[index])
        return image, label

    def load_label(self, index: int) -> np.ndarray:
        self._require_labels("load_label")
        return self._label(self._check_index(index))

    def label_pixels(self) -> int:
        """Every pixel of every label file, read from the PNG headers (no pixel is decoded)."""
        from .io import label_file_pixels

        self._require_labels("label_pixels")
        return label_file_pixels(self.labels)

    def class_stats(self, progress: bool | None = False) -> list[dict]:
        """From ``ROOT/sample_class_stats.json`` when it covers exactly these samples, else computed."""
        path = self.root / "sample_class_stats.json"
        if self.has_labels and path.is_file():
            stats = load_class_stats(path)
            by_name = {e["file"]: e for e in stats}
            if len(by_name) == len(self) and all(n in by_name for n in self.names):
                return [by_name[n] for n in self.names]
        return super().class_stats(progress=progress)
