"""GTA5 (Richter et al. 2016, "Playing for Data"): 24,966 frames of a video game with Cityscapes label ids.

Layout (as downloaded; ``convert gta`` adds the ``*_labelTrainIds.png`` files and the RCS statistics)::

    ROOT/images/00001.png …
    ROOT/labels/00001.png …                  Cityscapes label ids (palette PNG)
    ROOT/labels/00001_labelTrainIds.png …    optional, written by ``python -m daformer_edu.data.convert gta ROOT``

A label is read from ``*_labelTrainIds.png`` when present, otherwise converted from the label ids on the fly
with the Cityscapes table (``classes.CITYSCAPES_ID_TO_TRAINID``).

Taught in: notebooks/09_full_uda.ipynb
"""

from __future__ import annotations

from pathlib import Path

from .base import _FileDataset
from .classes import CITYSCAPES_ID_TO_TRAINID, IGNORE_INDEX, NUM_CLASSES, lut_from_mapping
from .io import _image_label_pairs, _known_table, _require_dir

__all__ = ["GTADataset"]

_LAYOUT = """  {root}/
    images/00001.png, 00002.png, ...
    labels/00001.png, 00002.png, ...           (Cityscapes label ids, as downloaded)
    labels/00001_labelTrainIds.png, ...        (optional, written by the conversion below)"""
_HOW = """Download the GTA5 images and labels from https://download.visinf.tu-darmstadt.de/data/from_games/ and
extract both archives into {root}; then (optional: faster loading + RCS statistics)
    python -m daformer_edu.data.convert gta {root}
No download at hand? A synthetic stand-in in this layout:
    python -m daformer_edu.data.synthetic export {root} --layout gta --n 500"""

# (lut, known) for the two label flavours
_LUTS = {
    "raw": (lut_from_mapping(CITYSCAPES_ID_TO_TRAINID), _known_table(CITYSCAPES_ID_TO_TRAINID)),
    "train": (
        lut_from_mapping({c: c for c in range(NUM_CLASSES)}),
        _known_table(list(range(NUM_CLASSES)) + [IGNORE_INDEX]),
    ),
}


class GTADataset(_FileDataset):
    """GTA5 as a source domain: ``images/*.png`` with ``labels/*.png`` (Cityscapes ids → 19 trainIds).

    ``GTADataset(root, transform=None, seed=0)``; items ``{"image", "label", "name"}`` with name = file stem.
    DAFormer's source pipeline: ``Compose([Resize((720, 1280)), RandomCrop((512, 512), cat_max_ratio=0.75),
    RandomFlip(0.5)])``.

    Taught in: notebooks/09_full_uda.ipynb
    """

    def __init__(self, root, transform=None, seed: int = 0):
        root = Path(root).expanduser()
        images_dir = _require_dir(root / "images", "GTA", root, _LAYOUT, _HOW)
        labels_dir = _require_dir(root / "labels", "GTA", root, _LAYOUT, _HOW)
        images, labels = _image_label_pairs("GTA", root, images_dir, labels_dir, _LAYOUT)
        super().__init__(root, images, labels, [p.stem for p in images], _LUTS, transform, seed)
