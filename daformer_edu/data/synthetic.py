"""An embedded source → target domain pair: procedural street scenes drawn by a "game engine" and a "camera".

Nothing has to be downloaded: every image is generated on the fly from ``(seed, domain, split, index)``.
Both domains share one **scene grammar** with the 19 Cityscapes classes and differ where GTA and
Cityscapes differ:

    scene  = camera (height, focal length, horizon)      ─ layout statistics differ per domain
           + ground (road with lanes, kerbs, sidewalks, grass strips, crossings, tram rails)
           + two street sides, each a row of segments along the depth z:
             building (windows, shop floor) | trees/hedge | wall | fence | open
           + a skyline at the end of the street
           + street furniture: poles with traffic lights, signs and lamps; trees
           + things at their depth (their size ∝ 1/z, so every class appears at several scales):
             car, truck, bus, train (tram), motorcycle+rider, bicycle+rider, person

Everything is drawn into an *instance map* (painter's order, far to near) with a small table per instance
(class, part, colour key, face orientation). The label is ``class[instance]``. The two renderers turn the
same map into pixels differently:

- **source** ("game engine", plays GTA): flat saturated colours per part, flat shading per face, hard
  edges, even light (one gain per image: the time of day); long-tailed class frequencies (trains in ~3 % of
  images, motorcycles, bicycles and riders rare).
- **target** ("camera", plays Cityscapes): the same colour families with hues turned by 9°, muted and darker,
  textures (asphalt grain, foliage, clouds), face shading from a sun side, cast shadows, haze, exposure and
  white balance, blur, sensor noise, vignetting, and the ego vehicle's bonnet at the bottom (label 255, as in
  Cityscapes: ignore those rows in pseudo-labels); lower camera, longer lens, more pedestrians, cyclists
  and parked cars.

The gap is real and adaptable (``bench/bench_synthetic.py --gap``; MiT-B0 + a narrow DAFormer head from
scratch, 256×128, ~1.6k iterations of batch 8 on a GPU): source-only 32 target-val mIoU (64 on source val),
target oracle 64; trains, buses, traffic lights and signs are where source-only loses most.

The target *training* split has no labels: ``SyntheticDomain("target", "train")`` never hands one out
(``render`` and ``class_pixel_counts`` raise ``LabelsNotAvailableError``; items have no ``"label"`` key).
Use ``render_image`` for its pictures, and ``split="val"`` for evaluation.

Command line: ``python -m daformer_edu.data.synthetic export DIR --layout gta|cityscapes --n N`` writes PNGs
in the real on-disk layouts, so the real loaders (``GTADataset``, ``CityscapesDataset``) and the conversion
script run on the same files.

Taught in: notebooks/05_pseudo_label_weighting.ipynb
"""
from __future__ import annotations

import argparse
import functools
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from .base import SegmentationDataset
from .classes import IGNORE_INDEX

__all__ = [
    "LayoutStats",
    "SOURCE_LAYOUT",
    "TARGET_LAYOUT",
    "sample_scene",
    "render_scene",
    "SyntheticDomain",
    "export",
]

DOMAINS = ("source", "target")
SPLITS = ("train", "val")

# ------------------------------------------------------------------------------------------------
# Parts: what an instance *looks like* (its class is stored separately). Each renderer has a palette.
# ------------------------------------------------------------------------------------------------
PARTS = (
    "sky", "road", "lane", "rail", "sidewalk", "curb", "terrain",
    "building", "window", "shop", "wall", "fence", "fencepost", "pole",
    "tl_box", "lamp_red", "lamp_green", "sign_blue", "sign_red", "sign_yellow", "vegetation", "trunk",
    "skin", "hair", "top", "bottom", "car", "glass", "wheel", "taillight", "headlight",
    "truck", "bus", "train", "moto", "bike", "hood",
)
P = {name: i for i, name in enumerate(PARTS)}
GROUND_PARTS = ("road", "lane", "rail", "sidewalk", "curb", "terrain")

# face orientation of a drawn surface, for shading
FRONT, FACE_L, FACE_R, GROUND, SKY = range(5)

# Palettes: part → candidate colours (one is picked per instance) and a brightness jitter.
_SOURCE_PALETTE = {
    "sky": [(95, 170, 255)], "road": [(100, 100, 112)], "lane": [(250, 250, 250)], "rail": [(150, 150, 160)],
    "sidewalk": [(222, 186, 160)], "curb": [(240, 230, 220)], "terrain": [(170, 215, 85)],
    "building": [(205, 120, 80), (225, 205, 140), (175, 170, 165), (190, 90, 95), (150, 130, 115),
                 (230, 170, 110)],
    "window": [(60, 90, 150), (40, 60, 110)], "shop": [(110, 70, 60), (70, 70, 90)],
    "wall": [(205, 195, 120)], "fence": [(175, 115, 55)], "fencepost": [(120, 75, 35)], "pole": [(75, 75, 95)],
    "tl_box": [(30, 30, 30)], "lamp_red": [(255, 30, 30)], "lamp_green": [(40, 255, 90)],
    "sign_blue": [(20, 90, 240)], "sign_red": [(235, 25, 25)], "sign_yellow": [(255, 220, 0)],
    "vegetation": [(45, 175, 45), (30, 150, 60)], "trunk": [(120, 80, 40)],
    "skin": [(250, 200, 160), (200, 140, 100), (140, 90, 60)], "hair": [(40, 30, 20), (200, 160, 60)],
    "top": [(230, 30, 30), (30, 80, 230), (240, 240, 30), (30, 200, 60), (250, 140, 0), (180, 40, 200),
            (245, 245, 245)],
    "bottom": [(30, 40, 120), (40, 40, 40), (120, 90, 50), (80, 80, 160)],
    "car": [(230, 20, 20), (20, 70, 230), (250, 250, 250), (250, 200, 0), (20, 180, 60), (30, 30, 30),
            (250, 120, 0), (150, 150, 160)],
    "glass": [(50, 90, 140)], "wheel": [(20, 20, 20)], "taillight": [(255, 0, 0)], "headlight": [(255, 255, 200)],
    "truck": [(240, 240, 240), (40, 120, 220), (220, 60, 40)], "bus": [(255, 210, 0), (230, 40, 40)],
    "train": [(60, 200, 210), (240, 120, 20)], "moto": [(230, 30, 30), (30, 30, 30), (20, 70, 230)],
    "bike": [(20, 180, 60), (230, 30, 30), (30, 30, 30)], "hood": [(25, 25, 30)],
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
    "road": (0.05, 0.05, 0.09), "sidewalk": (0.05, 0.08, 0.10), "curb": (0.03, 0.03, 0.05),
    "terrain": (0.10, 0.12, 0.12), "building": (0.08, 0.05, 0.05), "shop": (0.05, 0.05, 0.05),
    "wall": (0.08, 0.08, 0.07), "fence": (0.04, 0.08, 0.1), "vegetation": (0.12, 0.2, 0.15),
    "trunk": (0.05, 0.1, 0.1), "lane": (0.05, 0.05, 0.08), "window": (0.10, 0.05, 0.03),
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


# ------------------------------------------------------------------------------------------------
# Layout statistics: the scene grammar's probabilities, one set per domain.
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LayoutStats:
    """Probabilities and ranges of the scene grammar (one instance per domain).

    Ranges ``(a, b)`` are sampled uniformly; ``n_*`` are Poisson means, ``p_*`` probabilities that an image
    holds at least one such thing. Lengths are metres; ``horizon`` is a fraction of the image height,
    ``focal`` a fraction of its width.

    Taught in: notebooks/05_pseudo_label_weighting.ipynb
    """

    horizon: tuple[float, float]
    camera_height: tuple[float, float]
    focal: tuple[float, float]
    lane_probs: tuple[float, float, float]            # P(2, 3, 4 lanes)
    sidewalk_width: tuple[float, float]
    p_grass_strip: float                              # grass between road and sidewalk
    segment_weights: tuple[float, float, float, float, float]  # building, trees, wall, fence, open
    building_height: tuple[float, float]
    n_cars: float
    p_parked: float
    n_person_groups: float
    p_bicycle: float
    p_motorcycle: float
    p_rider: float                                    # a bicycle / motorcycle carries a rider
    p_truck: float
    p_bus: float
    p_train: float
    n_poles: float
    p_traffic_light: float                            # per pole
    n_signs: float
    n_trees: float
    p_crosswalk: float
    hood: tuple[float, float] = (0.0, 0.0)            # ego-vehicle bonnet height, fraction of H

    def sample_range(self, rng, name):
        a, b = getattr(self, name)
        return float(rng.uniform(a, b))


SOURCE_LAYOUT = LayoutStats(
    horizon=(0.36, 0.45), camera_height=(1.8, 2.4), focal=(0.62, 0.78), lane_probs=(0.3, 0.3, 0.4),
    sidewalk_width=(2.0, 4.5), p_grass_strip=0.12, segment_weights=(0.5, 0.22, 0.08, 0.07, 0.13),
    building_height=(6.0, 22.0), n_cars=5.0, p_parked=0.35, n_person_groups=1.3, p_bicycle=0.10,
    p_motorcycle=0.06, p_rider=0.6, p_truck=0.35, p_bus=0.14, p_train=0.03, n_poles=3.0,
    p_traffic_light=0.3, n_signs=1.5, n_trees=1.2, p_crosswalk=0.15,
)
TARGET_LAYOUT = LayoutStats(
    horizon=(0.40, 0.50), camera_height=(1.2, 1.5), focal=(0.80, 1.0), lane_probs=(0.6, 0.3, 0.1),
    sidewalk_width=(2.5, 5.0), p_grass_strip=0.3, segment_weights=(0.5, 0.26, 0.1, 0.1, 0.04),
    building_height=(10.0, 24.0), n_cars=6.0, p_parked=0.6, n_person_groups=2.8, p_bicycle=0.35,
    p_motorcycle=0.08, p_rider=0.5, p_truck=0.15, p_bus=0.12, p_train=0.08, n_poles=5.0,
    p_traffic_light=0.45, n_signs=2.5, n_trees=2.0, p_crosswalk=0.3, hood=(0.08, 0.13),
)
_LAYOUTS = {"source": SOURCE_LAYOUT, "target": TARGET_LAYOUT}


# ------------------------------------------------------------------------------------------------
# Scene sampling: metres and fractions only, so a scene looks the same at every resolution.
# ------------------------------------------------------------------------------------------------
@dataclass
class Scene:
    """One sampled street scene (world units: metres). ``render_scene`` turns it into pixels."""

    focal: float            # fraction of W
    horizon: float          # fraction of H
    vanish_x: float         # fraction of W
    cam_h: float
    road_l: float           # road extends from X = -road_l to X = +road_r
    road_r: float
    lane_w: float
    walk: tuple[float, float]       # sidewalk widths left, right (0 = none)
    grass: tuple[float, float]      # grass strip between road and sidewalk, left/right
    z_far: float
    segments: dict                  # side (-1 / +1) → list of (kind, z0, z1, height, u1, u2)
    skyline: list                   # (kind, X0, X1, height, u1, u2)
    crosswalk: float | None         # z of a zebra crossing
    rails: float | None             # X of tram rails
    things: list = field(default_factory=list)    # dicts with "kind", "X", "z", ...
    hood: float = 0.0               # ego-vehicle bonnet height (fraction of H)


def _poisson(rng, lam):
    return int(rng.poisson(lam)) if lam > 0 else 0


def sample_scene(rng: np.random.Generator, layout: LayoutStats) -> Scene:
    """Draw one scene from the grammar (camera, ground, side segments, skyline, furniture, things).

    Taught in: notebooks/05_pseudo_label_weighting.ipynb
    """
    L = layout
    u = rng.uniform
    lanes = int(rng.choice([2, 3, 4], p=L.lane_probs))
    lane_w = u(3.0, 3.6)
    cam_lane = int(rng.integers(0, lanes))  # the camera drives in this lane
    road_l = (cam_lane + 0.5) * lane_w + u(-0.4, 0.4)
    road_r = lanes * lane_w - road_l
    walk = tuple(0.0 if rng.random() < 0.08 else L.sample_range(rng, "sidewalk_width") for _ in range(2))
    grass = tuple(u(1.0, 3.0) if rng.random() < L.p_grass_strip else 0.0 for _ in range(2))
    z_far = u(50, 110)
    s = Scene(
        focal=L.sample_range(rng, "focal"), horizon=L.sample_range(rng, "horizon"), vanish_x=u(0.42, 0.58),
        cam_h=L.sample_range(rng, "camera_height"), road_l=road_l, road_r=road_r, lane_w=lane_w,
        walk=walk, grass=grass, z_far=z_far, segments={}, skyline=[], crosswalk=None, rails=None,
        hood=L.sample_range(rng, "hood") if L.hood[1] > 0 else 0.0,
    )
    if rng.random() < L.p_crosswalk:
        s.crosswalk = u(6, 25)

    # street sides: segments along z
    kinds = ("building", "trees", "wall", "fence", "open")
    weights = np.array(L.segment_weights) / sum(L.segment_weights)
    lengths = {"building": (8, 30), "trees": (8, 35), "wall": (5, 20), "fence": (5, 20), "open": (4, 12)}
    for side in (-1, 1):
        segs, z = [], 1.0
        while z < z_far:
            kind = kinds[int(rng.choice(5, p=weights))]
            z1 = min(z + u(*lengths[kind]), z_far)
            if kind == "building":
                h = L.sample_range(rng, "building_height")
            elif kind == "trees":
                h = u(3, 11)
            elif kind == "wall":
                h = u(1.2, 3.2)
            elif kind == "fence":
                h = u(1.0, 2.2)
            else:
                h = 0.0
            segs.append((kind, z, z1, h, rng.random(), rng.random()))
            z = z1
        s.segments[side] = segs

    # skyline at the end of the street
    X = -70.0
    while X < 70.0:
        w = u(6, 25)
        kind = "building" if rng.random() < 0.7 else "trees"
        h = u(5, 25) if kind == "building" else u(4, 12)
        s.skyline.append((kind, X, X + w, h, rng.random(), rng.random()))
        X += w

    # things ------------------------------------------------------------------------------------
    def lane_x(k):  # centre of lane k
        return -road_l + (k + 0.5) * lane_w

    def walk_x(side):  # a lateral position on the sidewalk of that side (or the road edge)
        edge = road_r if side > 0 else road_l
        g = grass[0 if side < 0 else 1]
        wdt = walk[0 if side < 0 else 1]
        return side * (edge + g + u(0.4, max(wdt - 0.4, 0.5)))

    things = s.things
    has_train = rng.random() < L.p_train
    if has_train:
        k = int(rng.integers(0, lanes))
        s.rails = lane_x(k)
        things.append(dict(kind="train", X=lane_x(k), z=u(7, 40), L=u(22, 34), u1=rng.random(), u2=rng.random(),
                           front=rng.random() < 0.5))
    for _ in range(_poisson(rng, L.n_cars)):
        if rng.random() < L.p_parked:
            side = -1 if rng.random() < 0.5 else 1
            X = side * ((road_r if side > 0 else road_l) - u(0.9, 1.2))
        else:
            X = lane_x(int(rng.integers(0, lanes))) + u(-0.3, 0.3)
        things.append(dict(kind="car", X=X, z=u(3.5, 55), L=u(3.8, 4.9), w=u(1.7, 1.95), h=u(1.35, 1.6),
                           u1=rng.random(), u2=rng.random(), front=X > 0.5 and rng.random() < 0.6))
    if rng.random() < L.p_truck:
        for _ in range(1 + _poisson(rng, 0.3)):
            things.append(dict(kind="truck", X=lane_x(int(rng.integers(0, lanes))), z=u(6, 55), L=u(7, 11),
                               u1=rng.random(), u2=rng.random()))
    if rng.random() < L.p_bus:
        things.append(dict(kind="bus", X=lane_x(int(rng.integers(0, lanes))), z=u(6, 50), L=u(11, 13),
                           u1=rng.random(), u2=rng.random(), front=rng.random() < 0.3))
    for kind, p in (("bicycle", L.p_bicycle), ("motorcycle", L.p_motorcycle)):
        if rng.random() < p:
            for _ in range(1 + _poisson(rng, 0.8 if kind == "bicycle" else 0.3)):
                rider = rng.random() < L.p_rider
                side = -1 if rng.random() < 0.5 else 1
                if rider:
                    X = side * ((road_r if side > 0 else road_l) - u(0.6, 1.4))
                else:
                    X = walk_x(side)
                things.append(dict(kind=kind, X=X, z=u(3.5, 35), rider=rider, u1=rng.random(), u2=rng.random(),
                                   u3=rng.random(), u4=rng.random()))
    for _ in range(_poisson(rng, L.n_person_groups)):
        side = -1 if rng.random() < 0.5 else 1
        zc = u(3.0, 40)
        crossing = rng.random() < 0.12
        for _ in range(1 + _poisson(rng, 1.0)):
            X = u(-road_l, road_r) if crossing else walk_x(side)
            things.append(dict(kind="person", X=X, z=zc + u(-1.5, 1.5), h=u(1.55, 1.95), u1=rng.random(),
                               u2=rng.random(), u3=rng.random(), u4=rng.random(), stride=u(0, 0.25)))
    for _ in range(_poisson(rng, L.n_poles)):
        side = -1 if rng.random() < 0.5 else 1
        X = side * ((road_r if side > 0 else road_l) + (grass[0 if side < 0 else 1]) + u(0.3, 0.7))
        things.append(dict(kind="pole", X=X, z=u(5.0, 60), h=u(4.0, 8.5), w=u(0.14, 0.28),
                           light=rng.random() < L.p_traffic_light, over_road=rng.random() < 0.35,
                           lamp=rng.random() < 0.3, green=rng.random() < 0.5, sign=rng.random() < 0.35,
                           u1=rng.random(), u2=rng.random()))
    for _ in range(_poisson(rng, L.n_signs)):
        side = -1 if rng.random() < 0.5 else 1
        X = side * ((road_r if side > 0 else road_l) + (grass[0 if side < 0 else 1]) + u(0.3, 1.0))
        things.append(dict(kind="sign", X=X, z=u(5.0, 45), h=u(2.0, 3.0), shape=int(rng.integers(0, 3)),
                           u1=rng.random(), u2=rng.random(), two=rng.random() < 0.3))
    for _ in range(_poisson(rng, L.n_trees)):
        side = -1 if rng.random() < 0.5 else 1
        edge = (road_r if side > 0 else road_l) + grass[0 if side < 0 else 1]
        X = side * (edge + max(walk[0 if side < 0 else 1] - u(0.5, 1.2), 0.6))
        things.append(dict(kind="tree", X=X, z=u(7, 60), r=u(1.3, 2.6), trunk=u(2.0, 3.5), u1=rng.random(),
                           u2=rng.random()))
    things.sort(key=lambda t: -t["z"])  # painter's order: far to near
    return s


# ------------------------------------------------------------------------------------------------
# Rasterising: pinhole camera, painter's algorithm into an instance map.
# ------------------------------------------------------------------------------------------------
class _Canvas:
    """Instance map plus a per-instance table (class, part, colour keys, face)."""

    def __init__(self, scene: Scene, H: int, W: int):
        self.H, self.W = H, W
        self.f = scene.focal * W
        self.ch = scene.cam_h
        self.xv = scene.vanish_x * W
        self.yh = scene.horizon * H
        self.inst = np.zeros((H, W), np.int16)                                      # [H, W]; 0 = sky
        self.table = [(10, P["sky"], 0.5, 0.5, SKY)]  # (class, part, u1, u2, face)
        self.shadow_boxes = []  # (r0, r1, c0, c1) footprints of vehicles, for the target's cast shadows

    def add(self, cls, part, u1=0.5, u2=0.5, face=FRONT) -> int:
        self.table.append((cls, P[part], u1, u2, face))
        return len(self.table) - 1

    # projections (continuous pixel coordinates, pixel centres at i + 0.5)
    def col(self, X, z):
        return self.xv + self.f * X / z

    def row(self, Y, z):
        return self.yh + self.f * (self.ch - Y) / z

    def rect(self, c0, c1, r0, r1, iid):
        """Fill a pixel rectangle given by continuous edges; at least one pixel when inside the image."""
        a, b = int(math.floor(c0 + 0.5)), int(math.floor(c1 + 0.5))
        t, d = int(math.floor(r0 + 0.5)), int(math.floor(r1 + 0.5))
        b, d = max(b, a + 1), max(d, t + 1)
        a, b, t, d = max(a, 0), min(b, self.W), max(t, 0), min(d, self.H)
        if a < b and t < d:
            self.inst[t:d, a:b] = iid

    def box(self, X0, X1, Y0, Y1, z, iid):
        """A frontal rectangle (facing the camera) at depth z."""
        if z > 0.5:
            self.rect(self.col(X0, z), self.col(X1, z), self.row(Y1, z), self.row(Y0, z), iid)

    def ellipse(self, Xc, Yc, rx, ry, z, iid, ring=0.0):
        """A frontal ellipse at depth z (a ring of relative thickness ``ring`` when > 0)."""
        if z <= 0.5:
            return
        cx, cy = self.col(Xc, z), self.row(Yc, z)
        px, py = max(self.f * rx / z, 0.5), max(self.f * ry / z, 0.5)
        a, b = max(int(cx - px), 0), min(int(cx + px) + 1, self.W)
        t, d = max(int(cy - py), 0), min(int(cy + py) + 1, self.H)
        if a >= b or t >= d:
            return
        dx = ((np.arange(a, b) + 0.5 - cx) / px)[None, :]
        dy = ((np.arange(t, d) + 0.5 - cy) / py)[:, None]
        r2 = dx * dx + dy * dy
        m = r2 <= 1.0
        if ring > 0:
            m &= r2 >= (1.0 - max(ring, 1.5 / min(px, py))) ** 2
        self.inst[t:d, a:b][m] = iid

    def side(self, X, z0, z1, Y0, Y1, iid=None):
        """The face of the plane ``X = const`` between depths z0..z1 and heights Y0..Y1.

        ``Y1`` may be a function of z (a bumpy tree line). Returns ``(t, d, a, b, mask, z, Y)`` so callers
        can paint patterns (windows, wheels) inside the face, or None when it is not visible.
        """
        if abs(X) < 0.05:
            return None
        z0 = max(z0, 0.8)
        if z1 <= z0:
            return None
        ua, ub = sorted((self.col(X, z0), self.col(X, z1)))
        a, b = max(int(math.floor(ua + 0.5)), 0), min(int(math.floor(ub + 0.5)), self.W)
        if b <= a:
            if 0 <= ua < self.W:
                a, b = int(ua), int(ua) + 1
            else:
                return None
        cols = np.arange(a, b) + 0.5
        with np.errstate(divide="ignore"):
            z = self.f * X / (cols - self.xv)                                      # [nc] depth per column
        z = np.clip(np.where(z > 0, z, z1), z0, z1)
        top_y = Y1(z) if callable(Y1) else Y1
        top = self.yh + self.f * (self.ch - top_y) / z                              # [nc]
        bot = self.yh + self.f * (self.ch - Y0) / z                                 # [nc]
        t, d = max(int(math.floor(top.min() + 0.5)), 0), min(int(math.floor(bot.max() + 0.5)) + 1, self.H)
        if t >= d:
            return None
        rows = (np.arange(t, d) + 0.5)[:, None]                                    # [nr, 1]
        mask = (rows >= top[None, :]) & (rows < np.maximum(bot, top + 1)[None, :])  # [nr, nc]
        if iid is not None:
            self.inst[t:d, a:b][mask] = iid
        Y = self.ch - (rows - self.yh) * z[None, :] / self.f                        # [nr, nc] height
        return t, d, a, b, mask, z, Y

    def paint(self, region, cond, iid):
        """Paint ``iid`` where ``cond`` holds inside a region returned by ``side``."""
        t, d, a, b, mask = region[:5]
        self.inst[t:d, a:b][mask & cond] = iid


def _draw_ground(cv: _Canvas, s: Scene):
    H, W = cv.H, cv.W
    r0 = int(math.floor(cv.yh + 0.5))
    if r0 >= H:
        return
    rr = np.arange(r0, H) + 0.5 - cv.yh                                            # [Hg] rows below horizon
    rr = np.maximum(rr, 1e-3)
    z = (cv.f * cv.ch / rr)[:, None]                                               # [Hg, 1] depth per row
    X = (np.arange(W) + 0.5 - cv.xv)[None, :] * (cv.ch / rr)[:, None]             # [Hg, W] lateral metres
    g = np.full(X.shape, cv.add(9, "terrain", face=GROUND), np.int16)
    gl, gr = s.grass
    wl, wr = s.walk
    walk_id = cv.add(1, "sidewalk", face=GROUND)
    curb_id = cv.add(1, "curb", face=GROUND)
    left_walk = (X < -(s.road_l + gl)) & (X >= -(s.road_l + gl + wl))
    right_walk = (X > s.road_r + gr) & (X <= s.road_r + gr + wr)
    g[left_walk | right_walk] = walk_id
    curb = ((X < -(s.road_l + gl)) & (X >= -(s.road_l + gl + 0.25)) & (wl > 0)) | (
        (X > s.road_r + gr) & (X <= s.road_r + gr + 0.25) & (wr > 0))
    g[curb] = curb_id
    road = (X >= -s.road_l) & (X <= s.road_r)
    g[road] = cv.add(0, "road", face=GROUND)
    lane_id = cv.add(0, "lane", face=GROUND)
    # lane markings: dashed lines between lanes, solid lines near the edges
    lw = 0.12
    marks = np.zeros(X.shape, bool)
    k = 1
    while -s.road_l + k * s.lane_w < s.road_r - 0.5:
        xm = -s.road_l + k * s.lane_w
        marks |= (np.abs(X - xm) < lw) & (np.mod(z, 9.0) < 3.5)
        k += 1
    marks |= (np.abs(X + s.road_l - 0.3) < lw) | (np.abs(X - s.road_r + 0.3) < lw)
    if s.crosswalk is not None:
        marks |= road & (np.abs(z - s.crosswalk) < 1.5) & (np.mod(X, 1.2) < 0.6)
    g[marks & road] = lane_id
    if s.rails is not None:
        rails = (np.abs(np.abs(X - s.rails) - 0.72) < 0.07) & road
        g[rails] = cv.add(0, "rail", face=GROUND)
    cv.inst[r0:H] = g


def _draw_skyline(cv: _Canvas, s: Scene):
    z = s.z_far
    for kind, X0, X1, h, u1, u2 in s.skyline:
        if kind == "building":
            cv.box(X0, X1, 0, h, z, cv.add(2, "building", u1, u2, FRONT))
        else:
            iid = cv.add(8, "vegetation", u1, u2, FRONT)
            cv.box(X0, X1, 0, h * 0.7, z, iid)
            cv.ellipse((X0 + X1) / 2, h * 0.7, (X1 - X0) / 2, h * 0.3, z, iid)


def _draw_side(cv: _Canvas, s: Scene, side: int):
    edge = (s.road_r if side > 0 else s.road_l) + s.grass[0 if side < 0 else 1] + s.walk[0 if side < 0 else 1]
    Xf = side * edge
    face = FACE_L if side < 0 else FACE_R
    for kind, z0, z1, h, u1, u2 in reversed(s.segments[side]):
        if kind == "building":
            iid = cv.add(2, "building", u1, u2, face)
            cv.box(Xf, Xf + side * 15, 0, h, z0, cv.add(2, "building", u1, u2, FRONT))  # near end wall
            reg = cv.side(Xf, z0, z1, 0, h, iid)
            if reg is None:
                continue
            z, Y = reg[5][None, :], reg[6]
            floor_h = 3.0 + 0.6 * u2
            period = 2.6 + 1.6 * u1
            win = (np.mod(z - z0, period) > 0.45 * period) & (np.mod(Y, floor_h) > 0.35 * floor_h)
            win &= (Y > floor_h * 1.3) & (Y < h - 0.6)
            cv.paint(reg, win, cv.add(2, "window", u2, u1, face))
            shop = (Y < floor_h * 1.15) & (Y > 0.3) & (np.mod(z - z0, 7.0) > 1.5) & (Y < floor_h * 0.9)
            cv.paint(reg, shop, cv.add(2, "shop", u1, u2, face))
        elif kind == "trees":
            phase, lam = 6.28 * u1, 2.5 + 4.0 * u2

            def crown(zz, h=h, phase=phase, lam=lam):
                return h * (0.8 + 0.2 * np.abs(np.sin(zz / lam + phase)) + 0.08 * np.sin(zz * 1.7 + phase))

            cv.side(Xf, z0, z1, 0, crown, cv.add(8, "vegetation", u1, u2, face))
        elif kind == "wall":
            if u1 < 0.6:  # something taller behind the wall
                cv.side(Xf + side * 3, z0, z1, 0, h + 3 + 6 * u2, cv.add(8, "vegetation", u2, u1, face))
            cv.side(Xf, z0, z1, 0, h, cv.add(3, "wall", u1, u2, face))
        elif kind == "fence":
            if u1 < 0.5:
                cv.side(Xf + side * 4, z0, z1, 0, h + 4 + 6 * u2, cv.add(8, "vegetation", u2, u1, face))
            reg = cv.side(Xf, z0, z1, 0, h, cv.add(4, "fence", u1, u2, face))
            if reg is not None:
                z, Y = reg[5][None, :], reg[6]
                post = (np.mod(z, 2.5) < 0.25) | (Y > h - 0.15) | (np.abs(Y - h * 0.4) < 0.07)
                cv.paint(reg, post, cv.add(4, "fencepost", u1, u2, face))


def _draw_person(cv, t, cls=11, base_y=0.0, seated=False):
    X, z, h = t["X"], t["z"], t.get("h", 1.75)
    top = cv.add(cls, "top", t["u1"], t["u2"])
    bottom = cv.add(cls, "bottom", t["u2"], t["u1"])
    skin = cv.add(cls, "skin", t["u3"], 0.5)
    hair = cv.add(cls, "hair", t["u4"], 0.5)
    if seated:  # rider: legs bent down onto the vehicle, torso leaning
        cv.box(X - 0.16, X + 0.16, base_y - 0.45, base_y + 0.05, z, bottom)
        y0 = base_y
        torso = (y0, y0 + 0.6)
    else:
        st = t.get("stride", 0.1)
        cv.box(X - 0.17 - st * 0.3, X - 0.03, 0, 0.47 * h, z, bottom)
        cv.box(X + 0.03, X + 0.17 + st * 0.3, 0, 0.47 * h, z, bottom)
        torso = (0.47 * h, 0.82 * h)
    cv.box(X - 0.21, X + 0.21, torso[0], torso[1], z, top)
    cv.box(X - 0.28, X - 0.21, torso[0] + 0.05, torso[1] - 0.02, z, top)
    cv.box(X + 0.21, X + 0.28, torso[0] + 0.05, torso[1] - 0.02, z, top)
    cv.ellipse(X, torso[1] + 0.13, 0.11, 0.13, z, skin)
    cv.box(X - 0.11, X + 0.11, torso[1] + 0.17, torso[1] + 0.26, z, hair)


def _wheels_on_side(cv, reg, zs, r, iid, ring=False):
    if reg is None:
        return
    z, Y = reg[5][None, :], reg[6]
    cond = np.zeros(reg[4].shape, bool)
    thick = max(0.06, 1.3 * float(z.mean()) / cv.f)
    for zc in zs:
        d2 = (z - zc) ** 2 + (Y - r) ** 2
        cond |= (d2 <= r * r) & ((d2 >= (r - thick) ** 2) if ring else True)
    cv.paint(reg, cond, iid)


def _draw_vehicle(cv: _Canvas, t: dict):
    """Cars, trucks, buses, trains: a box seen from behind (or the front) plus its visible side face."""
    kind, X, z, L = t["kind"], t["X"], t["z"], t["L"]
    cls = {"car": 13, "truck": 14, "bus": 15, "train": 16}[kind]
    w = {"car": t.get("w", 1.8), "truck": 2.5, "bus": 2.55, "train": 2.65}[kind]
    u1, u2 = t["u1"], t["u2"]
    x0, x1 = X - w / 2, X + w / 2
    Xs = x1 if x1 < 0 else (x0 if x0 > 0 else None)  # the side plane the camera sees
    face = FACE_R if (Xs is not None and Xs < 0) else FACE_L
    body = cv.add(cls, kind, u1, u2, FRONT)
    body_s = cv.add(cls, kind, u1, u2, face)
    glass = cv.add(cls, "glass", u2, 0.5, FRONT)
    glass_s = cv.add(cls, "glass", u2, 0.5, face)
    wheel = cv.add(cls, "wheel", 0.5, 0.5, FRONT)
    cv.shadow_boxes.append((cv.row(0, z + L * 0.9), cv.row(0, z) + 1.5, cv.col(x0 - 0.2, z), cv.col(x1 + 0.2, z)))
    front = t.get("front", False)
    if kind == "car":
        hgt = t.get("h", 1.5)
        if Xs is not None:
            cv.side(Xs, z, z + L, 0.3, 0.95 * hgt / 1.5, body_s)
            reg = cv.side(Xs, z + 0.22 * L, z + 0.8 * L, 0.95 * hgt / 1.5, hgt, body_s)
            if reg is not None:
                zz, Y = reg[5][None, :], reg[6]
                win = (Y < hgt - 0.07) & (Y > 1.02 * hgt / 1.5) & (np.abs(zz - (z + 0.51 * L)) > 0.08)
                cv.paint(reg, win, glass_s)
            reg = cv.side(Xs, z, z + L, 0.0, 0.7, None)
            _wheels_on_side(cv, reg, (z + 0.75, z + L - 0.8), 0.33, wheel)
        cv.box(x0, x1, 0.3, 0.95 * hgt / 1.5, z, body)
        cv.box(x0 + 0.15, x1 - 0.15, 0.95 * hgt / 1.5, hgt, z, body)
        cv.box(x0 + 0.25, x1 - 0.25, 1.0 * hgt / 1.5, hgt - 0.08, z, glass)
        cv.box(x0 + 0.05, x0 + 0.32, 0.0, 0.35, z, wheel)
        cv.box(x1 - 0.32, x1 - 0.05, 0.0, 0.35, z, wheel)
        lamp = cv.add(cls, "headlight" if front else "taillight", 0.5, 0.5)
        cv.box(x0 + 0.06, x0 + 0.36, 0.72, 0.86, z, lamp)
        cv.box(x1 - 0.36, x1 - 0.06, 0.72, 0.86, z, lamp)
        return
    if kind == "truck":
        cab = 2.3
        if Xs is not None:
            cv.side(Xs, z, z + L - cab, 0.9, 3.6, body_s)
            cab_id = cv.add(cls, "truck", u2, u1, face)
            reg = cv.side(Xs, z + L - cab, z + L, 0.7, 3.0, cab_id)
            if reg is not None:
                cv.paint(reg, (reg[6] > 1.9) & (reg[6] < 2.8) & (reg[5][None, :] > z + L - cab + 0.3), glass_s)
            reg = cv.side(Xs, z, z + L, 0.0, 1.1, None)
            _wheels_on_side(cv, reg, (z + 1.0, z + 2.3, z + L - 1.1), 0.5, wheel)
        cv.box(x0 + 0.1, x0 + 0.5, 0.0, 0.9, z, wheel)
        cv.box(x1 - 0.5, x1 - 0.1, 0.0, 0.9, z, wheel)
        cv.box(x0, x1, 0.9, 3.6, z, body)
        cv.box(x0 + 0.1, x1 - 0.1, 0.6, 0.9, z, cv.add(cls, "wheel", 0.5, 0.5))
        return
    # bus and train: long boxes with a band of windows
    top_y = 3.1 if kind == "bus" else 3.5
    pitch = 1.4 if kind == "bus" else 1.8
    if Xs is not None:
        reg = cv.side(Xs, z, z + L, 0.35, top_y, body_s)
        if reg is not None:
            zz, Y = reg[5][None, :], reg[6]
            win = (Y > 1.4) & (Y < top_y - 0.45) & (np.mod(zz - z, pitch) > 0.18) & (zz > z + 0.4)
            cv.paint(reg, win, glass_s)
            if kind == "train":  # joints between the cars of a tram
                cv.paint(reg, (np.mod(zz - z, 8.5) < 0.25) & (zz > z + 1), cv.add(cls, "wheel", 0.5, 0.5, face))
        reg = cv.side(Xs, z, z + L, 0.0, 1.0, None)
        _wheels_on_side(cv, reg, (z + 2.2, z + L - 2.5), 0.48 if kind == "bus" else 0.4, wheel)
    cv.box(x0, x1, 0.35, top_y, z, body)
    if kind == "train":
        cv.box(x0 + 0.15, x1 - 0.15, 1.3, 3.0, z, glass)
        cv.box(X - 0.6, X + 0.6, top_y, top_y + 0.12, z + 3, body)  # pantograph
        cv.box(X - 0.05, X + 0.05, top_y, top_y + 0.8, z + 3, body)
        cv.box(x0, x1, 0.0, 0.35, z, wheel)
    else:
        cv.box(x0 + 0.2, x1 - 0.2, 1.8 if not front else 1.2, top_y - 0.25, z, glass)
        cv.box(x0 + 0.1, x0 + 0.5, 0.0, 0.6, z, wheel)
        cv.box(x1 - 0.5, x1 - 0.1, 0.0, 0.6, z, wheel)
        lamp = cv.add(cls, "headlight" if front else "taillight", 0.5, 0.5)
        cv.box(x0 + 0.1, x0 + 0.4, 0.5, 0.75, z, lamp)
        cv.box(x1 - 0.4, x1 - 0.1, 0.5, 0.75, z, lamp)


def _draw_two_wheeler(cv: _Canvas, t: dict):
    kind, X, z = t["kind"], t["X"], t["z"]
    cls = 18 if kind == "bicycle" else 17
    L, r = (1.75, 0.34) if kind == "bicycle" else (2.0, 0.31)
    part = "bike" if kind == "bicycle" else "moto"
    face = FACE_R if X < 0 else FACE_L
    frame = cv.add(cls, part, t["u1"], t["u2"], face)
    wheel = cv.add(cls, "wheel", 0.5, 0.5, face)
    reg = cv.side(X, z, z + L, 0.0, 1.05, None)
    if reg is not None:
        zz, Y = reg[5][None, :], reg[6]
        if kind == "bicycle":
            _wheels_on_side(cv, reg, (z + r, z + L - r), r, wheel, ring=True)
            thick = max(0.05, 1.2 * float(zz.mean()) / cv.f)
            zr = (zz - z - r) / (L - 2 * r)                                          # 0 at rear axle, 1 at front
            bar = (np.abs(Y - (r + 0.45 * np.clip(zr, 0, 1))) < thick) & (zr > 0) & (zr < 1)
            bar |= (np.abs(zr - 0.35) < thick / (L - 2 * r)) & (Y > r) & (Y < 0.95)
            bar |= (np.abs(zr - 0.95) < thick / (L - 2 * r)) & (Y > r) & (Y < 1.05)
            cv.paint(reg, bar, frame)
        else:
            _wheels_on_side(cv, reg, (z + r, z + L - r), r, wheel)
            body = (Y > 0.35) & (Y < 0.95) & (zz > z + 0.35) & (zz < z + L - 0.2)
            cv.paint(reg, body, frame)
    # the edge-on view from behind
    wdt = 0.05 if kind == "bicycle" else 0.14
    cv.box(X - wdt, X + wdt, 0.0, 2 * r, z, wheel)
    cv.box(X - 0.28, X + 0.28, 0.95, 1.02, z + 0.1, frame)  # handlebar
    if kind == "motorcycle":
        cv.box(X - 0.24, X + 0.24, 0.35, 0.95, z + 0.1, cv.add(cls, part, t["u1"], t["u2"]))
    if t.get("rider"):
        _draw_person(cv, dict(X=X, z=z + 0.2, u1=t["u3"], u2=t["u4"], u3=t["u1"], u4=t["u2"]), cls=12,
                     base_y=0.95, seated=True)


def _draw_furniture(cv: _Canvas, t: dict):
    kind, X, z = t["kind"], t["X"], t["z"]
    if kind == "pole":
        pole = cv.add(5, "pole", t["u1"], t["u2"])
        w, h = t["w"], t["h"]
        cv.box(X - w / 2, X + w / 2, 0, h, z, pole)
        inward = -np.sign(X)
        if t["light"]:
            box = cv.add(6, "tl_box", 0.5, 0.5)
            lamp = cv.add(6, "lamp_green" if t["green"] else "lamp_red", 0.5, 0.5)
            Xl = X + inward * (2.5 + 2.5 * t["u1"]) if t["over_road"] else X
            if t["over_road"]:
                cv.box(min(X, Xl), max(X, Xl), h - 0.18, h, z, pole)
            cv.box(Xl - 0.2, Xl + 0.2, h - 1.15, h - 0.1, z - 0.05, box)
            cv.ellipse(Xl, h - 0.35 if not t["green"] else h - 0.9, 0.11, 0.11, z - 0.1, lamp)
        elif t["lamp"]:
            Xl = X + inward * 1.8
            cv.box(min(X, Xl), max(X, Xl), h - 0.12, h, z, pole)
            cv.box(Xl - 0.3, Xl + 0.3, h - 0.25, h - 0.05, z, pole)
        if t["sign"]:
            _draw_sign(cv, dict(X=X, z=z - 0.05, h=2.4, shape=int(t["u2"] * 3), u1=t["u2"], u2=t["u1"], two=False),
                       with_pole=False)
    elif kind == "sign":
        _draw_sign(cv, t, with_pole=True)
    elif kind == "tree":
        veg = cv.add(8, "vegetation", t["u1"], t["u2"])
        trunk = cv.add(8, "trunk", t["u2"], 0.5)
        cv.box(X - 0.15, X + 0.15, 0, t["trunk"] + t["r"] * 0.5, z, trunk)
        cv.ellipse(X, t["trunk"] + t["r"], t["r"], t["r"] * 1.1, z, veg)
        cv.ellipse(X + 0.5 * t["r"], t["trunk"] + 0.7 * t["r"], 0.7 * t["r"], 0.7 * t["r"], z, veg)


def _draw_sign(cv: _Canvas, t: dict, with_pole: bool):
    X, z, h = t["X"], t["z"], t["h"]
    if with_pole:
        cv.box(X - 0.04, X + 0.04, 0, h + 0.1, z + 0.05, cv.add(5, "pole", t["u1"], t["u2"]))
    colours = ("sign_blue", "sign_red", "sign_yellow")
    for k in range(2 if t.get("two") else 1):
        iid = cv.add(7, colours[int(t["u1"] * 3 + k) % 3], 0.5, t["u2"])
        y = h - 0.75 * k
        if t["shape"] == 0:
            cv.ellipse(X, y, 0.33, 0.33, z, iid)
        elif t["shape"] == 1:
            cv.box(X - 0.32, X + 0.32, y - 0.32, y + 0.32, z, iid)
        else:
            cv.box(X - 0.45, X + 0.45, y - 0.22, y + 0.22, z, iid)


def _draw_hood(cv: _Canvas, s: Scene):
    if s.hood <= 0:
        return
    H, W = cv.H, cv.W
    top = H * (1 - s.hood)
    c = (np.arange(W) + 0.5 - W / 2) / (W / 2)                                   # [-1, 1]
    edge = top + H * s.hood * 0.7 * c ** 2                                         # [W] bonnet outline
    r0 = max(int(top), 0)
    rows = (np.arange(r0, H) + 0.5)[:, None]
    m = rows >= edge[None, :]
    cv.inst[r0:H][m] = cv.add(IGNORE_INDEX, "hood")


def _rasterize(scene: Scene, H: int, W: int) -> _Canvas:
    cv = _Canvas(scene, H, W)
    _draw_ground(cv, scene)
    _draw_skyline(cv, scene)
    _draw_side(cv, scene, -1)
    _draw_side(cv, scene, +1)
    for t in scene.things:
        if t["kind"] in ("car", "truck", "bus", "train"):
            _draw_vehicle(cv, t)
        elif t["kind"] in ("bicycle", "motorcycle"):
            _draw_two_wheeler(cv, t)
        elif t["kind"] == "person":
            _draw_person(cv, t)
        else:
            _draw_furniture(cv, t)
    _draw_hood(cv, scene)
    return cv


# ------------------------------------------------------------------------------------------------
# Renderers
# ------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=8)
def _noise_banks(H: int, W: int):
    """Fixed noise fields (2H × 2W, so any H × W window can be cut out) for textures and sensor noise."""
    rng = np.random.default_rng(20240611)

    def smooth(cell):
        gh, gw = max(2 * H // cell, 2) + 1, max(2 * W // cell, 2) + 1
        g = rng.standard_normal((gh, gw)).astype(np.float32)
        im = Image.fromarray(g, mode="F").resize((2 * W, 2 * H), Image.BICUBIC)
        a = np.asarray(im, dtype=np.float32)
        return (a - a.mean()) / (a.std() + 1e-6)

    lo = smooth(max(H // 4, 4))
    mid = smooth(max(H // 24, 2))
    hi = rng.standard_normal((2 * H, 2 * W)).astype(np.float32)
    sensor = rng.standard_normal((2 * H, 2 * W, 3)).astype(np.float32)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    r2 = ((yy + 0.5 - H / 2) / (H / 2)) ** 2 * 0.5 + ((xx + 0.5 - W / 2) / (W / 2)) ** 2 * 0.5
    return lo, mid, hi, sensor, r2


def _colours(table, rgb_table):
    """Per-instance colours [n, 3] from the palette, the colour keys and a brightness jitter."""
    pal, counts, jit = rgb_table
    parts = table[:, 1].astype(np.int64)
    u1, u2 = table[:, 2], table[:, 3]
    variant = np.minimum((u1 * counts[parts]).astype(np.int64), counts[parts] - 1)
    rgb = pal[parts, variant]                                                      # [n, 3]
    return rgb * (1 + jit[parts] * (2 * u2 - 1))[:, None]


def _render_source(cv: _Canvas, rng: np.random.Generator) -> np.ndarray:
    """Flat colours per part, flat shading per face, a skybox gradient and the time of day (a global gain)."""
    table = np.array(cv.table, dtype=np.float64)                                   # [n, 5]
    rgb = _colours(table, _SRC_TABLE)
    face_light = np.array([1.0, 0.86, 0.78, 1.0, 1.0])[table[:, 4].astype(np.int64)]
    light = rng.uniform(0.8, 1.15) * (1 + rng.uniform(-0.05, 0.05, size=3))      # [3]
    lut = np.clip(rgb * face_light[:, None] * light * 255.0 + 0.5, 0, 255).astype(np.uint8)  # [n, 3]
    img = lut[cv.inst]                                                             # [H, W, 3]
    ys, xs = np.nonzero(cv.inst == 0)
    if len(ys):  # the skybox brightens towards the horizon
        f = 0.8 + 0.3 * np.clip((ys + 0.5) / max(cv.yh, 1.0), 0, 1)
        img[ys, xs] = np.clip(lut[0] * f[:, None], 0, 255).astype(np.uint8)
    return img


def _blur(img: np.ndarray, passes: int) -> np.ndarray:
    """Separable [1, 2, 1] / 4 blur, ``passes`` times (border rows/columns kept)."""
    for _ in range(passes):
        out = img.copy()
        out[1:-1] = 0.25 * (img[:-2] + img[2:]) + 0.5 * img[1:-1]
        img = out.copy()
        img[:, 1:-1] = 0.25 * (out[:, :-2] + out[:, 2:]) + 0.5 * out[:, 1:-1]
    return img


def _render_target(cv: _Canvas, scene: Scene, rng: np.random.Generator) -> np.ndarray:
    H, W = cv.H, cv.W
    f32 = np.float32
    lo, mid, hi, sensor, r2 = _noise_banks(H, W)
    table = np.array(cv.table, dtype=np.float64)
    parts = table[:, 1].astype(np.int64)
    rgb = _colours(table, _TGT_TABLE).astype(f32)                        # [n, 3]
    sun = 1 if rng.random() < 0.5 else -1
    direct = rng.uniform(0.1, 0.45)  # strength of direct sunlight (small = overcast)
    face_light = np.array([0.92, 1 + sun * direct * 0.6, 1 - sun * direct * 0.6, 1.0, 1.0], f32)
    inst_light = face_light[table[:, 4].astype(np.int64)]                          # [n]
    tex = _TEX[parts]                                                              # [n, 3]

    def win(bank):  # a random H × W window of a noise bank
        oy, ox = int(rng.integers(0, H)), int(rng.integers(0, W))
        return bank[oy:oy + H, ox:ox + W]

    inst = cv.inst
    # one gather for every per-instance quantity: colour, texture amplitudes, face light, "is ground"
    per_inst = np.concatenate([rgb, tex, inst_light[:, None], _IS_GROUND_PART[parts][:, None]], axis=1)
    px = per_inst.astype(f32)[inst]                                                # [H, W, 8]
    lo_w = win(lo)
    shade = 1.0 + px[..., 3] * lo_w + px[..., 4] * win(mid) + px[..., 5] * win(hi)
    shade *= px[..., 6]                                                            # [H, W] texture × face light

    # cast shadows on the ground: vehicles' footprints, and the buildings of the side away from the sun
    dark = f32(1 - 0.5 * direct / 0.45)
    shadow = np.ones((H, W), f32)
    for r0, r1, c0, c1 in cv.shadow_boxes:
        a, b = max(int(c0), 0), min(int(c1) + 1, W)
        t, d = max(int(r0), 0), min(int(r1) + 1, H)
        if a < b and t < d:
            shadow[t:d, a:b] = dark * 0.8
    r0 = int(math.floor(cv.yh + 0.5))
    if r0 < H and direct > 0.2:
        rr = np.maximum(np.arange(r0, H) + 0.5 - cv.yh, 1e-3)
        z = cv.f * cv.ch / rr                                                      # [Hg] depth per row
        X = (np.arange(W) + 0.5 - cv.xv)[None, :] * (cv.ch / rr)[:, None]         # [Hg, W] lateral metres
        side = -sun
        heights = np.zeros_like(z)
        for kind, z0, z1, h, _, _ in scene.segments[side]:
            if kind in ("building", "trees"):
                heights[(z >= z0) & (z < z1)] = h
        edge = (scene.road_r if side > 0 else scene.road_l) + scene.walk[0 if side < 0 else 1]
        reach = edge - heights * 0.35                                              # [Hg] shadow line
        shaded = (side * X > reach[:, None]) & (heights[:, None] > 0)
        np.minimum(shadow[r0:H], np.where(shaded, dark, f32(1)), out=shadow[r0:H])
    shade *= np.where(px[..., 7] > 0, shadow, f32(1))                              # shadows fall on the ground
    shade *= f32(1) - f32(rng.uniform(0.1, 0.3)) * r2                           # vignetting

    img = px[..., :3] * shade[..., None]                                           # [H, W, 3]
    # sky: brighter towards the horizon, with soft clouds
    ys, xs = np.nonzero(inst == 0)
    if len(ys):
        t_row = np.clip((np.arange(H, dtype=f32) + 0.5) / max(cv.yh, 1.0), 0, 1)[:, None]  # [H, 1]
        grad = rgb[0] * (f32(0.8) + f32(0.3) * t_row)                                     # [H, 3]
        cloud = np.clip(lo_w[ys, xs] * 0.5 + rng.uniform(-0.7, 0.1), 0, 1)[:, None] * f32(rng.uniform(0.2, 0.8))
        img[ys, xs] = (grad[ys] * (1 - cloud) + 0.9 * cloud) * shade[ys, xs, None]
    # haze towards the horizon, exposure and white balance: one affine map per row
    dist = np.abs((np.arange(H, dtype=f32) + 0.5 - cv.yh) / H)[:, None]             # [H, 1]
    haze = f32(rng.uniform(0.0, 0.25)) * np.exp(-dist * 12)                        # [H, 1]
    gain_tint = f32(rng.uniform(0.75, 1.2)) * np.array(
        [1 + rng.uniform(-0.08, 0.1), 1.0, 1 + rng.uniform(-0.1, 0.08)], f32)      # [3]
    img *= ((1 - haze) * gain_tint)[:, None, :]
    img += (0.8 * haze * gain_tint)[:, None, :]
    img = _blur(img, int(rng.integers(1, 3)))
    img += f32(rng.uniform(0.01, 0.03)) * win(sensor)                             # sensor noise
    q = np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)
    gamma = np.clip(255 * (np.arange(256) / 255.0) ** rng.uniform(0.8, 1.25) + 0.5, 0, 255).astype(np.uint8)
    return gamma[q]                                                                # [H, W, 3] uint8


def render_scene(scene: Scene, size: tuple[int, int], style: str = "source", rng: np.random.Generator | None = None,
                 with_image: bool = True):
    """Rasterise ``scene`` at ``size=(H, W)`` and render it in ``style`` ("source" or "target").

    Returns ``(image uint8 [H, W, 3] or None, label uint8 [H, W])``. The same scene can be rendered in both
    styles (the notebook shows a scene drawn by the "game engine" and by the "camera"). ``rng`` drives the
    renderers' random light (and the target's blur and noise).

    Taught in: notebooks/05_pseudo_label_weighting.ipynb
    """
    H, W = int(size[0]), int(size[1])
    if style not in DOMAINS:
        raise ValueError(f"style must be one of {DOMAINS}, got {style!r}")
    cv = _rasterize(scene, H, W)
    classes = np.array([t[0] for t in cv.table], dtype=np.uint8)
    label = classes[cv.inst]                                                       # [H, W] uint8
    if not with_image:
        return None, label
    if style == "source":
        image = _render_source(cv, rng if rng is not None else np.random.default_rng(0))
    else:
        image = _render_target(cv, scene, rng if rng is not None else np.random.default_rng(0))
    return image, label


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

    def __init__(self, domain: str = "source", split: str = "train", size: tuple[int, int] = (256, 512),
                 length: int = 1000, seed: int = 0, transform=None, labels: bool | None = None):
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
        return (f"SyntheticDomain(domain={self.domain!r}, split={self.split!r}, size={self.size}, "
                f"length={self.length}, seed={self.seed})")

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

    def class_pixel_counts(self, index: int) -> dict[int, int]:
        index = self._check_index(index)
        if index not in self._counts_cache:
            self._counts_cache[index] = super().class_pixel_counts(index)
        return dict(self._counts_cache[index])


# ------------------------------------------------------------------------------------------------
# Export to the real on-disk layouts
# ------------------------------------------------------------------------------------------------
def export(directory: str | Path, layout: str = "gta", n: int = 100, size: tuple[int, int] = (256, 512),
           domain: str | None = None, split: str = "train", seed: int = 0, progress: bool = False) -> Path:
    """Write ``n`` synthetic samples as PNG files in GTA's or Cityscapes' on-disk layout.

    - ``layout="gta"`` (default domain "source"): ``DIR/images/00000.png`` and ``DIR/labels/00000.png`` with
      Cityscapes *label ids* (as GTA ships them; convert or load them with ``GTADataset``).
    - ``layout="cityscapes"`` (default domain "target"):
      ``DIR/leftImg8bit/{split}/synth/synth_000000_000019_leftImg8bit.png`` and, where the split has labels,
      ``DIR/gtFine/{split}/synth/synth_000000_000019_gtFine_labelIds.png``. The target training split is
      written without labels, as it is used in UDA.

    Taught in: notebooks/09_full_uda.ipynb
    """
    from tqdm.auto import tqdm

    from .classes import TRAINID_TO_CITYSCAPES_ID

    if layout not in ("gta", "cityscapes"):
        raise ValueError(f"layout must be 'gta' or 'cityscapes', got {layout!r}")
    domain = domain or ("source" if layout == "gta" else "target")
    ds = SyntheticDomain(domain, split, size=size, length=n, seed=seed)
    lut = np.zeros(256, np.uint8)
    for t, i in TRAINID_TO_CITYSCAPES_ID.items():
        lut[t] = i
    root = Path(directory)
    for i in tqdm(range(n), desc=f"export {layout}", disable=not progress):
        if ds.has_labels:
            image, label = ds.render(i)
        else:
            image, label = ds.render_image(i), None
        if layout == "gta":
            img_path = root / "images" / f"{i:05d}.png"
            lab_path = root / "labels" / f"{i:05d}.png"
        else:
            stem = f"synth_{i:06d}_000019"
            img_path = root / "leftImg8bit" / split / "synth" / f"{stem}_leftImg8bit.png"
            lab_path = root / "gtFine" / split / "synth" / f"{stem}_gtFine_labelIds.png"
        img_path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(img_path)
        if label is not None:
            lab_path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(lut[label]).save(lab_path)
    return root


def _parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 512x256 (W x H), got {text!r}") from None
    return h, w


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m daformer_edu.data.synthetic",
                                     description="Export the synthetic domain pair as PNG files.")
    sub = parser.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("export", help="write PNGs in the GTA or Cityscapes on-disk layout")
    ex.add_argument("directory")
    ex.add_argument("--layout", choices=["gta", "cityscapes"], default="gta")
    ex.add_argument("--n", type=int, default=100)
    ex.add_argument("--size", type=_parse_size, default=(256, 512), help="W x H, e.g. 512x256")
    ex.add_argument("--domain", choices=list(DOMAINS), default=None,
                    help="default: source for gta, target for cityscapes")
    ex.add_argument("--split", choices=list(SPLITS), default="train")
    ex.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error(f"--n must be positive, got {args.n}")
    root = export(args.directory, args.layout, args.n, args.size, args.domain, args.split, args.seed, progress=True)
    print(f"wrote {args.n} samples to {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
