"""``FolderDataset``: your own images, labels and classes, so a course can adapt between two domains of its own.

Layout (one folder per domain; the two domains of a UDA run share one ``classes.json``)::

    ROOT/classes.json                        the class table (below)
    ROOT/images/<stem>.png | .jpg | .jpeg    RGB images
    ROOT/labels/<stem>.png                   the label of each image (same stem): a single-channel PNG
                                             (greyscale or palette mode) whose pixel values are class ids,
                                             255 = ignore

or, with splits (``FolderDataset(root, "train")``, ``FolderDataset(root, "val")``)::

    ROOT/images/{train,val}/<stem>.png ...   ROOT/labels/{train,val}/<stem>.png ...

``classes.json`` is a JSON list with one object per class:

    [
      {"name": "background", "id": 0, "color": [0, 0, 0], "thing": false},
      {"name": "road", "id": 1, "color": [128, 64, 128], "thing": false},
      {"name": "car", "id": 2, "color": [0, 0, 142], "thing": true}
    ]

- ``name``: a unique, non-empty string (it names the class in ``metrics.json`` and the plots);
- ``id``: the train id = the value of the class in the label PNGs = the network's output channel. The ids
  must be exactly 0..K−1, each once (any order); there is no remapping of other values, renumber the label
  files instead. 255 always means "ignore" and is not listed;
- ``color``: ``[r, g, b]``, three integers 0..255 (the colour in ``daformer_edu.viz`` plots);
- ``thing``: optional, default ``false``; ``true`` for countable objects — DAFormer's feature distance
  (``uda/fd.py``) is computed on thing cells only.

``ClassTable.cityscapes().write_json("ROOT/classes.json")`` writes the 19 Cityscapes classes, for a folder
labelled in Cityscapes train ids. What is checked, each with an error that names the file and the value:
the table (duplicate ids or names, ids not 0..K−1, a colour that is not 3 ints in 0..255, a missing file),
and every label when it is loaded (a value that is neither a class id nor 255; a label of another size
than its image; an image without a label).

In ``TrainConfig``: ``source="folder", source_root=...`` and/or ``target="folder", target_root=...``. The trainer
uses the ``train`` split when ``ROOT/images/train`` exists, else the flat layout; the target's validation
set is ``ROOT/images/val`` (required for a folder target).

Taught in: notebooks/09_full_uda.ipynb
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .base import SegmentationDataset
from .classes import IGNORE_INDEX, ClassTable
from .io import DatasetError, DatasetNotFoundError, check_same_size, read_image, read_label

__all__ = ["FolderDataset"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")

_LAYOUT = """  {root}/
    classes.json                   [{{"name": "road", "id": 0, "color": [128, 64, 128], "thing": false}}, ...]
    images/<stem>.png|jpg          (or images/<split>/<stem>.png|jpg)
    labels/<stem>.png              class ids, 255 = ignore (or labels/<split>/<stem>.png)"""


class FolderDataset(SegmentationDataset):
    """Images and labels from a folder, with the classes of its ``classes.json`` (layout in the module text).

    ``FolderDataset(root, split=None, transform=None, labels=None, seed=0)``: ``split=None`` reads
    ``root/images`` and ``root/labels``, ``split="train"`` reads ``root/images/train`` and ``root/labels/train``.
    ``labels=None`` means "labels when the labels folder exists"; ``labels=False`` makes an unlabelled
    dataset (the UDA target training split; no label file is read); ``labels=True`` requires them.
    ``dataset.classes`` is the ``ClassTable`` read from ``root/classes.json``. Names are the file stems.

    Taught in: notebooks/09_full_uda.ipynb
    """

    def __init__(self, root, split: str | None = None, transform=None, labels: bool | None = None, seed: int = 0):
        super().__init__(transform=transform, seed=seed)
        self.root = root = Path(root).expanduser()
        self.split = split
        if not root.is_dir():
            raise DatasetNotFoundError(
                f"folder dataset not found: {root} does not exist.\nExpected layout:\n{_LAYOUT.format(root=root)}"
            )
        self.classes = ClassTable.from_json(root / "classes.json")
        sub = Path(split) if split else Path()
        image_dir, label_dir = root / "images" / sub, root / "labels" / sub
        if not image_dir.is_dir():
            raise DatasetNotFoundError(
                f"folder dataset at {root}: no folder {image_dir}.\nExpected layout:\n{_LAYOUT.format(root=root)}"
            )
        self.images = sorted(p for p in image_dir.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.images:
            folders = sorted(p.name for p in image_dir.iterdir() if p.is_dir())
            hint = f" It holds the folders {folders}: pass split=<one of them>." if folders and not split else ""
            raise DatasetNotFoundError(
                f"folder dataset at {root}: no {'/'.join(IMAGE_SUFFIXES)} images in "
                f"{image_dir}.{hint}\nExpected layout:\n{_LAYOUT.format(root=root)}"
            )
        self.names = [p.stem for p in self.images]
        twice = sorted({n for n in self.names if self.names.count(n) > 1})
        if twice:
            raise DatasetError(
                f"folder dataset at {image_dir}: several images share the stem(s) {twice[:5]} "
                "(e.g. a.png and a.jpg); the label is found by stem, so keep one image per stem"
            )
        self.has_labels = label_dir.is_dir() if labels is None else bool(labels)
        self.labels: list[Path] = []
        if self.has_labels:
            if not label_dir.is_dir():
                raise DatasetNotFoundError(
                    f"folder dataset at {root}: labels=True but there is no folder {label_dir}."
                    f"\nExpected layout:\n{_LAYOUT.format(root=root)}"
                )
            self.labels = [label_dir / f"{n}.png" for n in self.names]
            missing = [p for p in self.labels if not p.is_file()]
            if missing:
                raise DatasetError(
                    f"folder dataset at {root}: {len(missing)} image(s) have no label, e.g. "
                    f"{missing[0]} is missing for {self.images[self.labels.index(missing[0])]}; "
                    "every image needs labels/<same stem>.png (or pass labels=False)"
                )

    def __len__(self) -> int:
        return len(self.images)

    def __repr__(self) -> str:
        split = f", split={self.split!r}" if self.split else ""
        return (
            f"FolderDataset({str(self.root)!r}{split}: {len(self)} images, "
            f"{'labelled' if self.has_labels else 'no labels'}, {self.classes.num_classes} classes)"
        )

    def name(self, index: int) -> str:
        return self.names[self._check_index(index)]

    def _label(self, index: int) -> np.ndarray:
        """The label of sample ``index`` as uint8 class ids; a value outside the table raises ``DatasetError``."""
        path = self.labels[index]
        label = read_label(path)  # [H, W] uint8 / uint16
        k = self.classes.num_classes
        bad = (label >= k) & (label != IGNORE_INDEX)  # [H, W] bool
        if bad.any():
            values = np.unique(label[bad]).tolist()
            shown = values[:12] + (["..."] if len(values) > 12 else [])
            raise DatasetError(
                f"{path}: label values {shown} are not classes of {self.classes.origin} (ids 0..{k - 1}, "
                f"{IGNORE_INDEX} = ignore). Add those classes to classes.json, or set those pixels to {IGNORE_INDEX}"
            )
        return label.astype(np.uint8)

    def load(self, index: int):
        index = self._check_index(index)
        image = read_image(self.images[index])  # [H, W, 3] uint8
        if not self.has_labels:
            return image, None
        label = self._label(index)  # [H, W] uint8
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

    def rcs_min_pixels(self) -> int:
        """The official 3000 scaled from GTA's 1914×1052 to the size of this folder's first label."""
        from ..uda.rcs import scaled_min_pixels

        return scaled_min_pixels(self.load_label(0).shape)
