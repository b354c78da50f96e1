"""What an instance *looks like*: the parts, face orientations, the two palettes and the texture table.

``PARTS`` names every drawable part (its class is stored separately, per instance); ``P`` maps a part name to
its index. Each renderer has a palette: the source ("game engine") one by hand, the target ("camera") one
derived from it by ``_shift_palette`` (hues turned by 9°, muted, darker). ``_palette_table`` packs a palette
into the padded arrays the renderers index per instance (``_SRC_TABLE``, ``_TGT_TABLE``); ``_TEX`` holds the
target's texture amplitudes per part and ``_IS_GROUND_PART`` marks the parts that receive cast shadows.

Taught in: notebooks/05_pseudo_label_weighting.ipynb
"""

from __future__ import annotations

import numpy as np

__all__: list[str] = []  # internal tables of the synthetic renderers; the public API is in the package

# ------------------------------------------------------------------------------------------------
# Parts: what an instance *looks like* (its class is stored separately). Each renderer has a palette.
# ------------------------------------------------------------------------------------------------
PARTS = (
    "sky",
    "road",
    "lane",
    "rail",
    "sidewalk",
    "curb",
    "terrain",
    "building",
    "window",
    "shop",
    "wall",
    "fence",
    "fencepost",
    "pole",
    "tl_box",
    "lamp_red",
    "lamp_green",
    "sign_blue",
    "sign_red",
    "sign_yellow",
    "vegetation",
    "trunk",
    "skin",
    "hair",
    "top",
    "bottom",
    "car",
    "glass",
    "wheel",
    "taillight",
    "headlight",
    "truck",
    "bus",
    "train",
    "moto",
    "bike",
    "hood",
)
P = {name: i for i, name in enumerate(PARTS)}
GROUND_PARTS = ("road", "lane", "rail", "sidewalk", "curb", "terrain")

# face orientation of a drawn surface, for shading
FRONT, FACE_L, FACE_R, GROUND, SKY = range(5)

# Palettes: part → candidate colours (one is picked per instance) and a brightness jitter.
_SOURCE_PALETTE = {
    "sky": [(95, 170, 255)],
    "road": [(100, 100, 112)],
    "lane": [(250, 250, 250)],
    "rail": [(150, 150, 160)],
    "sidewalk": [(222, 186, 160)],
    "curb": [(240, 230, 220)],
    "terrain": [(170, 215, 85)],
    "building": [(205, 120, 80), (225, 205, 140), (175, 170, 165), (190, 90, 95), (150, 130, 115), (230, 170, 110)],
    "window": [(60, 90, 150), (40, 60, 110)],
    "shop": [(110, 70, 60), (70, 70, 90)],
    "wall": [(205, 195, 120)],
    "fence": [(175, 115, 55)],
    "fencepost": [(120, 75, 35)],
    "pole": [(75, 75, 95)],
    "tl_box": [(30, 30, 30)],
    "lamp_red": [(255, 30, 30)],
    "lamp_green": [(40, 255, 90)],
    "sign_blue": [(20, 90, 240)],
    "sign_red": [(235, 25, 25)],
    "sign_yellow": [(255, 220, 0)],
    "vegetation": [(45, 175, 45), (30, 150, 60)],
    "trunk": [(120, 80, 40)],
    "skin": [(250, 200, 160), (200, 140, 100), (140, 90, 60)],
    "hair": [(40, 30, 20), (200, 160, 60)],
    "top": [
        (230, 30, 30),
        (30, 80, 230),
        (240, 240, 30),
        (30, 200, 60),
        (250, 140, 0),
        (180, 40, 200),
        (245, 245, 245),
    ],
    "bottom": [(30, 40, 120), (40, 40, 40), (120, 90, 50), (80, 80, 160)],
    "car": [
        (230, 20, 20),
        (20, 70, 230),
        (250, 250, 250),
        (250, 200, 0),
        (20, 180, 60),
        (30, 30, 30),
        (250, 120, 0),
        (150, 150, 160),
    ],
    "glass": [(50, 90, 140)],
    "wheel": [(20, 20, 20)],
    "taillight": [(255, 0, 0)],
    "headlight": [(255, 255, 200)],
    "truck": [(240, 240, 240), (40, 120, 220), (220, 60, 40)],
    "bus": [(255, 210, 0), (230, 40, 40)],
    "train": [(60, 200, 210), (240, 120, 20)],
    "moto": [(230, 30, 30), (30, 30, 30), (20, 70, 230)],
    "bike": [(20, 180, 60), (230, 30, 30), (30, 30, 30)],
    "hood": [(25, 25, 30)],
}


def _shift_palette(palette: dict, hue: float, saturation: float, value: float) -> dict:
    """The camera's palette: each game colour with its hue turned, saturation and brightness scaled (HSV)."""
    import colorsys

    out = {}
    for name, cols in palette.items():
        shifted = []
        for r, g, b in cols:
            h, s_, v = colorsys.rgb_to_hsv(r / 255, g / 255, b / 255)
            r2, g2, b2 = colorsys.hsv_to_rgb((h + hue) % 1.0, s_ * saturation, min(v * value, 1.0))
            shifted.append((round(255 * r2), round(255 * g2), round(255 * b2)))
        out[name] = shifted
    return out


# The target keeps each part's colour family (so adaptation is possible) but turns hues by 9 degrees and
# mutes and darkens them: "a shifted palette". Textures, light, shadows and the sensor do the rest.
_TARGET_PALETTE = _shift_palette(_SOURCE_PALETTE, hue=0.025, saturation=0.7, value=0.9)

# target texture amplitudes per part: (low, mid, high frequency)
_TARGET_TEXTURE = {
    "road": (0.05, 0.05, 0.09),
    "sidewalk": (0.05, 0.08, 0.10),
    "curb": (0.03, 0.03, 0.05),
    "terrain": (0.10, 0.12, 0.12),
    "building": (0.08, 0.05, 0.05),
    "shop": (0.05, 0.05, 0.05),
    "wall": (0.08, 0.08, 0.07),
    "fence": (0.04, 0.08, 0.1),
    "vegetation": (0.12, 0.2, 0.15),
    "trunk": (0.05, 0.1, 0.1),
    "lane": (0.05, 0.05, 0.08),
    "window": (0.10, 0.05, 0.03),
}


def _palette_table(palette: dict, jitter: float):
    """Padded colour table [n_parts, max_variants, 3] in 0..1, variant counts [n_parts], jitter [n_parts]."""
    nmax = max(len(v) for v in palette.values())
    table = np.zeros((len(PARTS), nmax, 3), np.float32)
    counts = np.ones(len(PARTS), np.int64)
    for name, cols in palette.items():
        table[P[name], : len(cols)] = np.array(cols, np.float32) / 255.0
        counts[P[name]] = len(cols)
    return table, counts, np.full(len(PARTS), jitter, np.float32)


_SRC_TABLE = _palette_table(_SOURCE_PALETTE, 0.1)
_TGT_TABLE = _palette_table(_TARGET_PALETTE, 0.12)
_TEX = np.zeros((len(PARTS), 3), np.float32)
for _k, _v in _TARGET_TEXTURE.items():
    _TEX[P[_k]] = _v
_IS_GROUND_PART = np.zeros(len(PARTS), bool)
_IS_GROUND_PART[[P[p] for p in GROUND_PARTS]] = True
del _k, _v
