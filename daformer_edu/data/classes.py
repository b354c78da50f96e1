"""The 19 Cityscapes training classes, their colours, and the tables that map raw label ids onto them.

Every dataset in this package (the synthetic pair, GTA, Synthia, Cityscapes) speaks *trainIds*:

    0 road  1 sidewalk  2 building  3 wall  4 fence  5 pole  6 traffic light  7 traffic sign
    8 vegetation  9 terrain  10 sky  11 person  12 rider  13 car  14 truck  15 bus  16 train
    17 motorcycle  18 bicycle          255 = ignore (void, ego vehicle, unlabelled, ...)

Raw files store other ids: Cityscapes and GTA store the 34 Cityscapes *label ids* (road = 7, car = 26, ...),
Synthia RAND-CITYSCAPES its own 23 ids (road = 3, car = 8, ...). The look-up tables below turn a raw label
image into trainIds with one numpy indexing operation: ``lut[raw]``.

Where the tables come from
--------------------------
``CITYSCAPES_LABELS`` is the label definition of the Cityscapes benchmark (``cityscapesScripts``,
``cityscapesscripts/helpers/labels.py``, MIT licence), written out here as data. We do not depend on the
``cityscapesscripts`` package for it: version 2.3.0 pulls in ``appdirs``, ``pyquaternion``, ``coloredlogs``,
``requests`` and the obsolete ``typing`` back-port (plus PyQt5 for its GUI extra) for what is a 35-row
table. ``tests/test_datasets.py`` checks our copy against that package whenever it happens to be installed.
``SYNTHIA_ID_TO_TRAINID`` follows the class list of the SYNTHIA RAND-CITYSCAPES README (ids 0–22); its 16
classes shared with Cityscapes are ``SYNTHIA_16`` (terrain, truck and train have no Synthia pixels and are
mapped to ignore).

Taught in: notebooks/07_thing_mask_pooling.ipynb
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = [
    "NUM_CLASSES",
    "IGNORE_INDEX",
    "CLASSES",
    "PALETTE",
    "THING_CLASSES",
    "STUFF_CLASSES",
    "SYNTHIA_16",
    "CityscapesLabel",
    "CITYSCAPES_LABELS",
    "CITYSCAPES_ID_TO_TRAINID",
    "TRAINID_TO_CITYSCAPES_ID",
    "SYNTHIA_ID_TO_TRAINID",
    "lut_from_mapping",
]

NUM_CLASSES = 19
IGNORE_INDEX = 255

CLASSES: tuple[str, ...] = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign",
    "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle",
)

# The official Cityscapes colours, one RGB triple per trainId.                  # [19, 3] uint8
PALETTE = np.array(
    [
        (128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156), (190, 153, 153), (153, 153, 153),
        (250, 170, 30), (220, 220, 0), (107, 142, 35), (152, 251, 152), (70, 130, 180), (220, 20, 60),
        (255, 0, 0), (0, 0, 142), (0, 0, 70), (0, 60, 100), (0, 80, 100), (0, 0, 230), (119, 11, 32),
    ],
    dtype=np.uint8,
)

# DAFormer's feature distance is computed on "thing" classes only (DAFormer §3.4; official
# ``imnet_feature_dist_classes``): traffic light, traffic sign, person, rider, car, truck, bus, train,
# motorcycle, bicycle. Everything else is "stuff".
THING_CLASSES: tuple[int, ...] = (6, 7, 11, 12, 13, 14, 15, 16, 17, 18)
STUFF_CLASSES: tuple[int, ...] = tuple(c for c in range(NUM_CLASSES) if c not in THING_CLASSES)

# The 16 Cityscapes classes that Synthia also labels (everything except terrain 9, truck 14, train 16).
# Synthia→Cityscapes results are reported as the mIoU over these 16.
SYNTHIA_16: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 15, 17, 18)


class CityscapesLabel(NamedTuple):
    """One row of the Cityscapes label definition: name, raw label id, trainId (255 = ignored in training).

    Taught in: notebooks/07_thing_mask_pooling.ipynb
    """

    name: str
    id: int
    train_id: int
    category: str


# The Cityscapes label definition (cityscapesScripts, helpers/labels.py): name, id, trainId, category.
CITYSCAPES_LABELS: tuple[CityscapesLabel, ...] = tuple(
    CityscapesLabel(*row)
    for row in [
        ("unlabeled", 0, 255, "void"),
        ("ego vehicle", 1, 255, "void"),
        ("rectification border", 2, 255, "void"),
        ("out of roi", 3, 255, "void"),
        ("static", 4, 255, "void"),
        ("dynamic", 5, 255, "void"),
        ("ground", 6, 255, "void"),
        ("road", 7, 0, "flat"),
        ("sidewalk", 8, 1, "flat"),
        ("parking", 9, 255, "flat"),
        ("rail track", 10, 255, "flat"),
        ("building", 11, 2, "construction"),
        ("wall", 12, 3, "construction"),
        ("fence", 13, 4, "construction"),
        ("guard rail", 14, 255, "construction"),
        ("bridge", 15, 255, "construction"),
        ("tunnel", 16, 255, "construction"),
        ("pole", 17, 5, "object"),
        ("polegroup", 18, 255, "object"),
        ("traffic light", 19, 6, "object"),
        ("traffic sign", 20, 7, "object"),
        ("vegetation", 21, 8, "nature"),
        ("terrain", 22, 9, "nature"),
        ("sky", 23, 10, "sky"),
        ("person", 24, 11, "human"),
        ("rider", 25, 12, "human"),
        ("car", 26, 13, "vehicle"),
        ("truck", 27, 14, "vehicle"),
        ("bus", 28, 15, "vehicle"),
        ("caravan", 29, 255, "vehicle"),
        ("trailer", 30, 255, "vehicle"),
        ("train", 31, 16, "vehicle"),
        ("motorcycle", 32, 17, "vehicle"),
        ("bicycle", 33, 18, "vehicle"),
        ("license plate", -1, -1, "vehicle"),  # not stored in label images
    ]
)

# raw Cityscapes/GTA label id → trainId, for ids 0..33 (what a label file may hold)
CITYSCAPES_ID_TO_TRAINID: dict[int, int] = {lab.id: lab.train_id for lab in CITYSCAPES_LABELS if lab.id >= 0}

# trainId → the first Cityscapes label id that maps to it (cityscapesScripts' rule); 255 → 0 "unlabeled".
# Used to write synthetic data in the raw on-disk formats (GTA / Cityscapes ``*_labelIds.png``).
TRAINID_TO_CITYSCAPES_ID: dict[int, int] = {IGNORE_INDEX: 0}
for _lab in CITYSCAPES_LABELS:
    if 0 <= _lab.train_id < NUM_CLASSES:
        TRAINID_TO_CITYSCAPES_ID.setdefault(_lab.train_id, _lab.id)
del _lab

# Synthia RAND-CITYSCAPES class id → trainId. Ids not listed (0 void, 13 parking-slot, 14 road-work,
# 22 lane-marking, and 16 terrain / 18 truck / 20 train, which Synthia does not annotate) → 255.
SYNTHIA_ID_TO_TRAINID: dict[int, int] = {
    1: 10,   # sky
    2: 2,    # building
    3: 0,    # road
    4: 1,    # sidewalk
    5: 4,    # fence
    6: 8,    # vegetation
    7: 5,    # pole
    8: 13,   # car
    9: 7,    # traffic sign
    10: 11,  # pedestrian → person
    11: 18,  # bicycle
    12: 17,  # motorcycle
    15: 6,   # traffic light
    17: 12,  # rider
    19: 15,  # bus
    21: 3,   # wall
}


def lut_from_mapping(mapping: dict[int, int], size: int = 256) -> np.ndarray:
    """A look-up table ``lut`` with ``lut[raw_id] = trainId`` (255 for every id the mapping does not name).

    Applying it is one gather, ``train_ids = lut[raw]`` — the same table the official conversion scripts
    build as a dict and apply pixel by pixel. ``size`` must exceed the largest raw id (256 for 8-bit files,
    65536 for Synthia's 16-bit labels).

    >>> lut_from_mapping({7: 0, 26: 13})[[7, 26, 3]].tolist()
    [0, 13, 255]

    Taught in: notebooks/07_thing_mask_pooling.ipynb
    """
    lut = np.full(size, IGNORE_INDEX, dtype=np.uint8)                            # [size]
    for raw, train_id in mapping.items():
        if 0 <= raw < size:
            lut[raw] = train_id if 0 <= train_id < NUM_CLASSES else IGNORE_INDEX
    return lut
