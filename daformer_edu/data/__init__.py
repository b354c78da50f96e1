"""Datasets: the embedded synthetic pair, GTA / Synthia / Cityscapes loaders, transforms and class tables.

Every dataset yields ``{"image": float [3, H, W] (ImageNet-normalised), "label": long [H, W] (255 = ignore),
"name": str}`` (no ``"label"`` for the UDA target training split). ``dataset.classes`` is the dataset's
``ClassTable`` (the 19 Cityscapes classes, or a folder's own ``classes.json``: ``FolderDataset``).

The dataset classes are imported on first use (``from daformer_edu.data import GTADataset`` works as
usual), so that ``python -m daformer_edu.data.synthetic`` and ``python -m daformer_edu.data.convert`` run
their modules exactly once.

Taught in: notebooks/09_full_uda.ipynb
"""

from importlib import import_module

from .base import SegmentationDataset, compute_class_stats, load_class_stats, samples_with_class, save_class_stats
from .classes import CLASSES, IGNORE_INDEX, NUM_CLASSES, PALETTE, SYNTHIA_16, THING_CLASSES, ClassTable
from .io import DatasetError, DatasetNotFoundError, LabelsNotAvailableError
from .transforms import Compose, Normalize, PhotoMetricDistortion, RandomCrop, RandomFlip, Resize, denormalize

_LAZY = {
    "SyntheticDomain": ".synthetic",
    "GTADataset": ".gta",
    "SynthiaDataset": ".synthia",
    "CityscapesDataset": ".cityscapes",
    "FolderDataset": ".folder",
}

__all__ = [
    "SyntheticDomain",
    "GTADataset",
    "SynthiaDataset",
    "CityscapesDataset",
    "FolderDataset",
    "SegmentationDataset",
    "ClassTable",
    "compute_class_stats",
    "samples_with_class",
    "save_class_stats",
    "load_class_stats",
    "CLASSES",
    "PALETTE",
    "NUM_CLASSES",
    "IGNORE_INDEX",
    "THING_CLASSES",
    "SYNTHIA_16",
    "DatasetError",
    "DatasetNotFoundError",
    "LabelsNotAvailableError",
    "Resize",
    "RandomCrop",
    "RandomFlip",
    "PhotoMetricDistortion",
    "Normalize",
    "Compose",
    "denormalize",
]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
