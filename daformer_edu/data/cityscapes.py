"""Cityscapes (Cordts et al. 2016): 2,975 train / 500 val street photos from 50 German cities, 2048×1024.

Layout (as downloaded from cityscapes-dataset.com: ``leftImg8bit_trainvaltest.zip``, ``gtFine_trainvaltest.zip``)::

    ROOT/leftImg8bit/{train,val,test}/{city}/{city}_{seq}_{frame}_leftImg8bit.png
    ROOT/gtFine/{train,val,test}/{city}/{city}_{seq}_{frame}_gtFine_labelIds.png
    ROOT/gtFine/{split}/{city}/…_gtFine_labelTrainIds.png     optional, ``convert cityscapes ROOT`` writes them

A label is read from ``*_labelTrainIds.png`` when present, else converted from ``*_labelIds.png`` on the fly.
As the UDA *target*, the training split must come without labels: ``CityscapesDataset(root, "train",
labels=False)`` never reads a label file (and the ``gtFine`` training folder need not exist).

Taught in: notebooks/09_full_uda.ipynb
"""

from __future__ import annotations

from pathlib import Path

from .base import _FileDataset
from .classes import CITYSCAPES_ID_TO_TRAINID, IGNORE_INDEX, NUM_CLASSES, lut_from_mapping
from .io import DatasetNotFoundError, _known_table, _require_dir

__all__ = ["CityscapesDataset"]

_LAYOUT = """  {root}/
    leftImg8bit/{{train,val}}/aachen/aachen_000000_000019_leftImg8bit.png, ...
    gtFine/{{train,val}}/aachen/aachen_000000_000019_gtFine_labelIds.png, ...
    gtFine/{{train,val}}/aachen/aachen_000000_000019_gtFine_labelTrainIds.png  (optional, see below)"""
_HOW = """Download leftImg8bit_trainvaltest.zip and gtFine_trainvaltest.zip from
https://www.cityscapes-dataset.com/downloads/ and unzip both into {root}; then (optional: faster loading)
    python -m daformer_edu.data.convert cityscapes {root}
For an unlabelled target split pass labels=False. No download at hand? A synthetic stand-in:
    python -m daformer_edu.data.synthetic export {root} --layout cityscapes --split val --n 100"""

_LUTS = {
    "raw": (lut_from_mapping(CITYSCAPES_ID_TO_TRAINID), _known_table(CITYSCAPES_ID_TO_TRAINID)),
    "train": (
        lut_from_mapping({c: c for c in range(NUM_CLASSES)}),
        _known_table(list(range(NUM_CLASSES)) + [IGNORE_INDEX]),
    ),
}
SPLITS = ("train", "val", "test")


class CityscapesDataset(_FileDataset):
    """Cityscapes as target (or source): ``leftImg8bit/{split}`` images with ``gtFine/{split}`` labels.

    ``CityscapesDataset(root, split, transform=None, seed=0, labels=None)``; ``labels=None`` means "labels
    for train/val, none for test"; ``labels=False`` makes an unlabelled dataset (the UDA target training
    split). Names are ``city/city_seq_frame``. DAFormer resizes the 2048×1024 frames to 1024×512 for training and
    inference; the val labels are scored at full resolution (the trainer's val transform resizes the image only).

    Taught in: notebooks/09_full_uda.ipynb
    """

    def __init__(self, root, split: str = "val", transform=None, seed: int = 0, labels: bool | None = None):
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        root = Path(root).expanduser()
        labels = (split != "test") if labels is None else bool(labels)
        img_dir = _require_dir(root / "leftImg8bit" / split, "Cityscapes", root, _LAYOUT, _HOW)
        images = sorted(img_dir.glob("*/*_leftImg8bit.png"))
        if not images:
            raise DatasetNotFoundError(
                f"Cityscapes dataset at {root}: no *_leftImg8bit.png files under {img_dir}.\n"
                f"Expected layout:\n{_LAYOUT.format(root=root)}"
            )
        names = [f"{p.parent.name}/{p.name[: -len('_leftImg8bit.png')]}" for p in images]
        label_paths = []
        if labels:
            gt_dir = _require_dir(root / "gtFine" / split, "Cityscapes", root, _LAYOUT, _HOW)
            for name in names:
                converted = gt_dir / f"{name}_gtFine_labelTrainIds.png"
                label_paths.append(converted if converted.is_file() else gt_dir / f"{name}_gtFine_labelIds.png")
        super().__init__(root, images, label_paths, names, _LUTS, transform, seed, has_labels=labels)
        self.split = split
