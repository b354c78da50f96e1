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
``cityscapesscripts`` package at run time: version 2.3.0 pulls in ``appdirs``, ``pyquaternion``,
``coloredlogs``, ``humanfriendly``, ``requests`` and the obsolete ``typing`` back-port (plus PyQt5 for its GUI
extra) for what is a 35-row table. It is in the ``dev`` extra instead, so the tests check our copy (ids,
trainIds, names, colours) against it: ``tests/test_datasets.py`` and ``tests/test_classes_table.py``.
``SYNTHIA_ID_TO_TRAINID`` follows the class list of the SYNTHIA RAND-CITYSCAPES README (ids 0–22); its 16
classes shared with Cityscapes are ``SYNTHIA_16`` (terrain, truck and train have no Synthia pixels and are
mapped to ignore).

Your own classes: ``ClassTable``
--------------------------------
The constants above are the *Cityscapes* table. Everything that needs "the classes" — the trainer (number
of outputs, the thing classes of FD, the classes RCS counts, the names in ``metrics.json``), the datasets
(``dataset.classes``) and the palettes of ``daformer_edu.viz`` — takes a ``ClassTable``: K names with train
ids 0..K−1 (the position in the table), one RGB colour each, and which ids are "things" for FD.
``ClassTable.cityscapes()`` is the 19 above and the default everywhere; ``ClassTable.from_json(path)`` reads a
course's own ``classes.json`` (format in ``daformer_edu/data/folder.py`` and ``data/README.md``).

Taught in: notebooks/07_thing_mask_pooling.ipynb
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
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
    "ClassTable",
]

NUM_CLASSES = 19
IGNORE_INDEX = 255

CLASSES: tuple[str, ...] = (
    "road",
    "sidewalk",
    "building",
    "wall",
    "fence",
    "pole",
    "traffic light",
    "traffic sign",
    "vegetation",
    "terrain",
    "sky",
    "person",
    "rider",
    "car",
    "truck",
    "bus",
    "train",
    "motorcycle",
    "bicycle",
)

# The official Cityscapes colours, one RGB triple per trainId.                  # [19, 3] uint8
PALETTE = np.array(
    [
        (128, 64, 128),
        (244, 35, 232),
        (70, 70, 70),
        (102, 102, 156),
        (190, 153, 153),
        (153, 153, 153),
        (250, 170, 30),
        (220, 220, 0),
        (107, 142, 35),
        (152, 251, 152),
        (70, 130, 180),
        (220, 20, 60),
        (255, 0, 0),
        (0, 0, 142),
        (0, 0, 70),
        (0, 60, 100),
        (0, 80, 100),
        (0, 0, 230),
        (119, 11, 32),
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
    1: 10,  # sky
    2: 2,  # building
    3: 0,  # road
    4: 1,  # sidewalk
    5: 4,  # fence
    6: 8,  # vegetation
    7: 5,  # pole
    8: 13,  # car
    9: 7,  # traffic sign
    10: 11,  # pedestrian → person
    11: 18,  # bicycle
    12: 17,  # motorcycle
    15: 6,  # traffic light
    17: 12,  # rider
    19: 15,  # bus
    21: 3,  # wall
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
    lut = np.full(size, IGNORE_INDEX, dtype=np.uint8)  # [size]
    for raw, train_id in mapping.items():
        if 0 <= raw < size:
            lut[raw] = train_id if 0 <= train_id < NUM_CLASSES else IGNORE_INDEX
    return lut


# ------------------------------------------------------------------------------------------------
# ClassTable: the classes of a dataset (Cityscapes' 19 by default, or a course's own from classes.json).
# ------------------------------------------------------------------------------------------------
_ENTRY_KEYS = ("name", "id", "color", "thing")

# What an error about a missing or broken classes.json shows: a complete, valid file.
CLASSES_JSON_EXAMPLE = """[
  {"name": "background", "id": 0, "color": [0, 0, 0], "thing": false},
  {"name": "road", "id": 1, "color": [128, 64, 128], "thing": false},
  {"name": "car", "id": 2, "color": [0, 0, 142], "thing": true}
]"""


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


@dataclass(frozen=True)
class ClassTable:
    """The classes of a dataset: K names whose train ids are 0..K−1, a colour each, and the "thing" ids.

    - ``names[i]`` is the name of train id ``i`` (label value ``i``; 255 is always "ignore");
    - ``colors[i]`` its RGB colour, 3 ints in 0..255 (``palette`` gives them as a uint8 ``[K, 3]`` array);
    - ``things`` the ids on which DAFormer's feature distance is computed (§3.4, official
      ``imnet_feature_dist_classes``); all others are stuff;
    - ``origin`` says where the table came from (a file path) and is named in every error; it is not
      part of equality, so two folders with the same ``classes.json`` content have equal tables.

    ``ClassTable.cityscapes()`` is the 19 Cityscapes classes (``CLASSES``, ``PALETTE``, ``THING_CLASSES``), the
    table of the synthetic pair, GTA, Synthia and Cityscapes, and the default everywhere.
    ``ClassTable.from_json(path)`` reads a ``classes.json`` (a list of ``{"name", "id", "color", "thing"}``;
    see ``CLASSES_JSON_EXAMPLE``); ``write_json(path)`` writes one. Ids must be exactly 0..K−1 (no mapping
    of other values: renumber the label files instead), so a label value *is* the train id.
    Invalid tables raise ``ValueError`` naming the origin, the class and the value.

    >>> ClassTable(("sky", "car"), ((70, 130, 180), (0, 0, 142)), things=(1,)).stuff
    (0,)

    Taught in: notebooks/09_full_uda.ipynb
    """

    names: tuple[str, ...]
    colors: tuple[tuple[int, int, int], ...]
    things: tuple[int, ...] = ()
    origin: str = field(default="ClassTable(...)", compare=False)

    def __post_init__(self):
        where = self.origin
        names = tuple(self.names)
        k = len(names)
        if k == 0:
            raise ValueError(f"{where}: the class table is empty; give at least one class")
        if k > IGNORE_INDEX:
            raise ValueError(
                f"{where}: {k} classes, but train ids must stay below {IGNORE_INDEX} (= ignore); "
                f"at most {IGNORE_INDEX} classes"
            )
        seen: dict[str, int] = {}
        for i, name in enumerate(names):
            if not isinstance(name, str) or not name.strip():
                raise ValueError(f"{where}: class id {i} has name {name!r}; a name must be a non-empty string")
            if name in seen:
                raise ValueError(
                    f"{where}: duplicate class name {name!r} (ids {seen[name]} and {i}); every class needs its own name"
                )
            seen[name] = i
        colors = tuple(self.colors)
        if len(colors) != k:
            raise ValueError(f"{where}: {k} names but {len(colors)} colours; give one [r, g, b] per class")
        checked = []
        for i, color in enumerate(colors):
            ok = (
                isinstance(color, (list, tuple, np.ndarray))
                and len(color) == 3
                and all(_is_int(v) and 0 <= v <= 255 for v in color)
            )
            if not ok:
                shown = color.tolist() if isinstance(color, np.ndarray) else color
                raise ValueError(
                    f"{where}: class {i} ({names[i]!r}) has colour {shown!r}; a colour must be "
                    "3 integers in 0..255, e.g. [0, 0, 142]"
                )
            checked.append(tuple(int(v) for v in color))
        things = tuple(self.things)
        for t in things:
            if not _is_int(t) or not 0 <= t < k:
                raise ValueError(f"{where}: thing class {t!r} is not a class id 0..{k - 1}")
        if len(set(things)) != len(things):
            raise ValueError(f"{where}: thing classes {list(things)} name a class twice")
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "colors", tuple(checked))
        object.__setattr__(self, "things", tuple(sorted(int(t) for t in things)))

    def __repr__(self) -> str:
        things = ", ".join(self.names[t] for t in self.things) or "none"
        return f"ClassTable({self.num_classes} classes: {', '.join(self.names)}; things: {things}; from {self.origin})"

    def __len__(self) -> int:
        return len(self.names)

    # -- views ----------------------------------------------------------------------------------
    @property
    def num_classes(self) -> int:
        """K, the number of classes (the segmentor's output channels)."""
        return len(self.names)

    @property
    def ids(self) -> tuple[int, ...]:
        """The train ids ``(0, 1, …, K−1)``."""
        return tuple(range(self.num_classes))

    @property
    def stuff(self) -> tuple[int, ...]:
        """The ids that are not things."""
        return tuple(i for i in self.ids if i not in self.things)

    @property
    def palette(self) -> np.ndarray:
        """The colours as a fresh uint8 ``[K, 3]`` array (what ``daformer_edu.viz.colorize`` takes)."""
        return np.array(self.colors, dtype=np.uint8).reshape(-1, 3)  # [K, 3]

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def cityscapes(cls) -> ClassTable:
        """The 19 Cityscapes classes: ``CLASSES``, ``PALETTE`` and ``THING_CLASSES`` of this module."""
        return _CITYSCAPES_TABLE

    @classmethod
    def from_entries(cls, entries, origin: str = "classes.json") -> ClassTable:
        """A table from a list of ``{"name", "id", "color", "thing"}`` dicts (the content of ``classes.json``).

        ``thing`` may be left out (false). Ids must be integers 0..K−1, each exactly once, in any order.
        Every error names ``origin``, the entry and the value.
        """
        if not isinstance(entries, list) or not entries:
            raise ValueError(
                f"{origin}: expected a non-empty JSON list of classes, got {type(entries).__name__} "
                f"{str(entries)[:60]!r}. Example:\n{CLASSES_JSON_EXAMPLE}"
            )
        by_id: dict[int, dict] = {}
        for n, entry in enumerate(entries):
            if not isinstance(entry, dict):
                raise ValueError(
                    f"{origin}: entry {n} is {entry!r}, not an object "
                    '{"name": ..., "id": ..., "color": [r, g, b], "thing": true/false}'
                )
            unknown = sorted(set(entry) - set(_ENTRY_KEYS))
            if unknown:
                raise ValueError(f"{origin}: entry {n} has unknown key(s) {unknown}; the keys are {list(_ENTRY_KEYS)}")
            missing = [key for key in ("name", "id", "color") if key not in entry]
            if missing:
                raise ValueError(
                    f"{origin}: entry {n} ({entry}) lacks {missing}; every class needs a name, an id and a color"
                )
            cid = entry["id"]
            if not _is_int(cid) or not 0 <= cid < IGNORE_INDEX:
                raise ValueError(
                    f"{origin}: entry {n} ({entry.get('name')!r}) has id {cid!r}; an id is an integer "
                    f"in 0..{IGNORE_INDEX - 1} ({IGNORE_INDEX} is reserved for 'ignore')"
                )
            if cid in by_id:
                raise ValueError(
                    f"{origin}: duplicate id {cid}: {by_id[cid]['name']!r} and {entry['name']!r}; "
                    "every class needs its own id"
                )
            if not isinstance(entry.get("thing", False), bool):
                raise ValueError(
                    f"{origin}: entry {n} ({entry['name']!r}) has thing={entry['thing']!r}; use true or false"
                )
            by_id[int(cid)] = entry
        k = len(by_id)
        if sorted(by_id) != list(range(k)):
            gaps = sorted(set(range(k)) - set(by_id))
            raise ValueError(
                f"{origin}: class ids {sorted(by_id)} are not 0..{k - 1} (missing {gaps}); the ids are "
                "the label values and the network's output channels, so they must be contiguous from "
                "0. Renumber the classes (and the label files) so that ids run 0..K−1"
            )
        rows = [by_id[i] for i in range(k)]
        return cls(
            names=tuple(r["name"] for r in rows),
            colors=tuple(r["color"] for r in rows),
            things=tuple(i for i, r in enumerate(rows) if r.get("thing", False)),
            origin=origin,
        )

    @classmethod
    def from_json(cls, path: str | Path) -> ClassTable:
        """Read ``classes.json`` (a folder is read as ``folder/classes.json``); errors name the file.

        A missing file raises ``FileNotFoundError`` with an example of what to write.
        """
        path = Path(path)
        if path.is_dir():
            path = path / "classes.json"
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} not found: a folder dataset names its classes in classes.json, a list with one entry "
                f"per class (ids 0..K-1 = the label values; 255 = ignore). Write one, e.g.\n{CLASSES_JSON_EXAMPLE}\n"
                f"or, for the 19 Cityscapes classes: ClassTable.cityscapes().write_json({str(path)!r})"
            )
        try:
            entries = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: not valid JSON ({e}). Example:\n{CLASSES_JSON_EXAMPLE}") from None
        return cls.from_entries(entries, origin=str(path))

    def to_entries(self) -> list[dict]:
        """The table as ``classes.json`` entries ``[{"name", "id", "color", "thing"}, ...]``."""
        return [
            {"name": n, "id": i, "color": list(c), "thing": i in self.things}
            for i, (n, c) in enumerate(zip(self.names, self.colors))
        ]

    def write_json(self, path: str | Path) -> Path:
        """Write the table as ``classes.json`` (one class per line); returns the path."""
        path = Path(path)
        lines = [json.dumps(e) for e in self.to_entries()]
        path.write_text("[\n  " + ",\n  ".join(lines) + "\n]\n")
        return path

    # -- checks ---------------------------------------------------------------------------------
    def check_matches(self, other: ClassTable, this: str = "source", that: str = "target") -> None:
        """Raise ``ValueError`` naming both tables and what differs unless ``other`` equals this table.

        UDA trains one network for both domains, so source and target must share one class table.
        """
        if self == other:
            return
        diff = []
        if self.names != other.names:
            diff.append(f"names {list(self.names)} vs {list(other.names)}")
        if self.colors != other.colors:
            diff.append(
                "colours "
                + ", ".join(f"id {i}: {a} vs {b}" for i, (a, b) in enumerate(zip(self.colors, other.colors)) if a != b)
            )
        if self.things != other.things:
            diff.append(f"things {list(self.things)} vs {list(other.things)}")
        raise ValueError(
            f"the {that} classes ({other.origin}) differ from the {this} classes ({self.origin}): "
            + "; ".join(diff)
            + f". Both domains must use one class table: give the {that} the "
            f"{this}'s classes.json (ClassTable.write_json)"
        )


_CITYSCAPES_TABLE = ClassTable(
    CLASSES, tuple(tuple(c) for c in PALETTE.tolist()), THING_CLASSES, origin="Cityscapes (daformer_edu.data.classes)"
)
