"""SYNTHIA RAND-CITYSCAPES (Ros et al. 2016): 9,400 rendered frames; 16 classes shared with Cityscapes.

Layout (as downloaded; ``convert synthia`` adds ``*_labelTrainIds.png`` and the RCS statistics)::

    ROOT/RGB/0000000.png …
    ROOT/GT/LABELS/0000000.png …                 16-bit PNG, channel 0 = class id (0–22), channel 1 = instance
    ROOT/GT/LABELS/0000000_labelTrainIds.png …   optional, written by ``python -m daformer_edu.data.convert synthia ROOT``

The 16-bit labels are decoded with ``torchvision.io`` (Pillow would keep only the high byte and turn every
id into 0). Terrain, truck and train are not annotated in Synthia: evaluate with ``classes.SYNTHIA_16``.

Taught in: notebooks/09_full_uda.ipynb
"""

from __future__ import annotations

from pathlib import Path

from .base import _FileDataset
from .classes import IGNORE_INDEX, NUM_CLASSES, SYNTHIA_ID_TO_TRAINID, lut_from_mapping
from .io import _image_label_pairs, _known_table, _require_dir

__all__ = ["SynthiaDataset"]

_LAYOUT = """  {root}/
    RGB/0000000.png, 0000001.png, ...
    GT/LABELS/0000000.png, ...                  (16-bit, channel 0 = Synthia class id, as downloaded)
    GT/LABELS/0000000_labelTrainIds.png, ...    (optional, written by the conversion below)"""
_HOW = """Download SYNTHIA-RAND-CITYSCAPES from http://synthia-dataset.net/downloads/ and extract it so that
{root}/RGB and {root}/GT/LABELS exist; then (optional: faster loading + RCS statistics)
    python -m daformer_edu.data.convert synthia {root}"""

_LUTS = {
    "raw": (lut_from_mapping(SYNTHIA_ID_TO_TRAINID), _known_table(range(23))),
    "train": (
        lut_from_mapping({c: c for c in range(NUM_CLASSES)}),
        _known_table(list(range(NUM_CLASSES)) + [IGNORE_INDEX]),
    ),
}


class SynthiaDataset(_FileDataset):
    """SYNTHIA RAND-CITYSCAPES as a source domain: ``RGB/*.png`` with ``GT/LABELS/*.png`` → trainIds.

    ``SynthiaDataset(root, transform=None, seed=0)``; name = file stem. Labels use the 19-class trainId
    space, of which Synthia fills 16 (``SYNTHIA_16``). DAFormer's source pipeline resizes to ``(760, 1280)``
    (keep ratio: the 1280×760 frames stay as they are), then crops as for GTA.

    Taught in: notebooks/09_full_uda.ipynb
    """

    label_channel = 0

    def __init__(self, root, transform=None, seed: int = 0):
        root = Path(root).expanduser()
        images_dir = _require_dir(root / "RGB", "Synthia", root, _LAYOUT, _HOW)
        labels_dir = _require_dir(root / "GT" / "LABELS", "Synthia", root, _LAYOUT, _HOW)
        images, labels = _image_label_pairs("Synthia", root, images_dir, labels_dir, _LAYOUT)
        super().__init__(root, images, labels, [p.stem for p in images], _LUTS, transform, seed)
