"""The scene grammar: layout statistics per domain and the scene sampler (metres and probabilities only).

``LayoutStats`` holds the grammar's probabilities and ranges; ``SOURCE_LAYOUT`` and ``TARGET_LAYOUT`` are the
two domains' sets. ``sample_scene`` draws a ``Scene`` (camera, ground, street sides, skyline, furniture,
things) in world units, so the same scene looks the same at every resolution; nothing here knows pixels.

Taught in: notebooks/05_pseudo_label_weighting.ipynb
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["LayoutStats", "SOURCE_LAYOUT", "TARGET_LAYOUT", "sample_scene"]

DOMAINS = ("source", "target")


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
    lane_probs: tuple[float, float, float]  # P(2, 3, 4 lanes)
    sidewalk_width: tuple[float, float]
    p_grass_strip: float  # grass between road and sidewalk
    segment_weights: tuple[float, float, float, float, float]  # building, trees, wall, fence, open
    building_height: tuple[float, float]
    n_cars: float
    p_parked: float
    n_person_groups: float
    p_bicycle: float
    p_motorcycle: float
    p_rider: float  # a bicycle / motorcycle carries a rider
    p_truck: float
    p_bus: float
    p_train: float
    n_poles: float
    p_traffic_light: float  # per pole
    n_signs: float
    n_trees: float
    p_crosswalk: float
    hood: tuple[float, float] = (0.0, 0.0)  # ego-vehicle bonnet height, fraction of H

    def sample_range(self, rng, name):
        a, b = getattr(self, name)
        return float(rng.uniform(a, b))


SOURCE_LAYOUT = LayoutStats(
    horizon=(0.36, 0.45),
    camera_height=(1.8, 2.4),
    focal=(0.62, 0.78),
    lane_probs=(0.3, 0.3, 0.4),
    sidewalk_width=(2.0, 4.5),
    p_grass_strip=0.12,
    segment_weights=(0.5, 0.22, 0.08, 0.07, 0.13),
    building_height=(6.0, 22.0),
    n_cars=5.0,
    p_parked=0.35,
    n_person_groups=1.3,
    p_bicycle=0.10,
    p_motorcycle=0.06,
    p_rider=0.6,
    p_truck=0.35,
    p_bus=0.14,
    p_train=0.03,
    n_poles=3.0,
    p_traffic_light=0.3,
    n_signs=1.5,
    n_trees=1.2,
    p_crosswalk=0.15,
)
TARGET_LAYOUT = LayoutStats(
    horizon=(0.40, 0.50),
    camera_height=(1.2, 1.5),
    focal=(0.80, 1.0),
    lane_probs=(0.6, 0.3, 0.1),
    sidewalk_width=(2.5, 5.0),
    p_grass_strip=0.3,
    segment_weights=(0.5, 0.26, 0.1, 0.1, 0.04),
    building_height=(10.0, 24.0),
    n_cars=6.0,
    p_parked=0.6,
    n_person_groups=2.8,
    p_bicycle=0.35,
    p_motorcycle=0.08,
    p_rider=0.5,
    p_truck=0.15,
    p_bus=0.12,
    p_train=0.08,
    n_poles=5.0,
    p_traffic_light=0.45,
    n_signs=2.5,
    n_trees=2.0,
    p_crosswalk=0.3,
    hood=(0.08, 0.13),
)
_LAYOUTS = {"source": SOURCE_LAYOUT, "target": TARGET_LAYOUT}


# ------------------------------------------------------------------------------------------------
# Scene sampling: metres and fractions only, so a scene looks the same at every resolution.
# ------------------------------------------------------------------------------------------------
@dataclass
class Scene:
    """One sampled street scene (world units: metres). ``render_scene`` turns it into pixels."""

    focal: float  # fraction of W
    horizon: float  # fraction of H
    vanish_x: float  # fraction of W
    cam_h: float
    road_l: float  # road extends from X = -road_l to X = +road_r
    road_r: float
    lane_w: float
    walk: tuple[float, float]  # sidewalk widths left, right (0 = none)
    grass: tuple[float, float]  # grass strip between road and sidewalk, left/right
    z_far: float
    segments: dict  # side (-1 / +1) → list of (kind, z0, z1, height, u1, u2)
    skyline: list  # (kind, X0, X1, height, u1, u2)
    crosswalk: float | None  # z of a zebra crossing
    rails: float | None  # X of tram rails
    things: list = field(default_factory=list)  # dicts with "kind", "X", "z", ...
    hood: float = 0.0  # ego-vehicle bonnet height (fraction of H)


def _poisson(rng, lam):
    """A Poisson count with mean ``lam`` (0 without a draw when ``lam`` is 0)."""
    return int(rng.poisson(lam)) if lam > 0 else 0


def sample_scene(rng: np.random.Generator, layout: LayoutStats) -> Scene:
    """Draw one scene from the grammar (camera, ground, side segments, skyline, furniture, things).

    Taught in: notebooks/05_pseudo_label_weighting.ipynb
    """
    s, lanes = _sample_street(rng, layout)

    # street sides: segments along z
    for side in (-1, 1):
        s.segments[side] = _sample_side(rng, layout, s.z_far)

    # skyline at the end of the street
    s.skyline = _sample_skyline(rng)

    # things ------------------------------------------------------------------------------------
    s.things += _sample_vehicles(rng, layout, s, lanes)  # train (and its rails), cars, trucks, bus
    s.things += _sample_two_wheelers(rng, layout, s)  # bicycles and motorcycles, with or without rider
    s.things += _sample_people(rng, layout, s)  # groups on a sidewalk, or crossing the road
    s.things += _sample_furniture(rng, layout, s)  # poles (traffic lights), signs, trees
    s.things.sort(key=lambda t: -t["z"])  # painter's order: far to near
    return s


# ------------------------------------------------------------------------------------------------
# The street: camera, road, sidewalks and grass; then the two sides and the skyline.
# ------------------------------------------------------------------------------------------------
_SEGMENT_KINDS = ("building", "trees", "wall", "fence", "open")
_SEGMENT_LENGTHS = {"building": (8, 30), "trees": (8, 35), "wall": (5, 20), "fence": (5, 20), "open": (4, 12)}


def _sample_street(rng, L: LayoutStats) -> tuple[Scene, int]:
    """Camera and ground (lanes, road, sidewalks, grass, depth, crosswalk): ``(scene, lanes)``, sides still empty."""
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
        focal=L.sample_range(rng, "focal"),
        horizon=L.sample_range(rng, "horizon"),
        vanish_x=u(0.42, 0.58),
        cam_h=L.sample_range(rng, "camera_height"),
        road_l=road_l,
        road_r=road_r,
        lane_w=lane_w,
        walk=walk,
        grass=grass,
        z_far=z_far,
        segments={},
        skyline=[],
        crosswalk=None,
        rails=None,
        hood=L.sample_range(rng, "hood") if L.hood[1] > 0 else 0.0,
    )
    if rng.random() < L.p_crosswalk:
        s.crosswalk = u(6, 25)
    return s, lanes


def _sample_side(rng, L: LayoutStats, z_far: float) -> list:
    """One street side: segments ``(kind, z0, z1, height, u1, u2)`` one after another from z = 1 m to ``z_far``."""
    u = rng.uniform
    weights = np.array(L.segment_weights) / sum(L.segment_weights)
    segs, z = [], 1.0
    while z < z_far:
        kind = _SEGMENT_KINDS[int(rng.choice(5, p=weights))]
        z1 = min(z + u(*_SEGMENT_LENGTHS[kind]), z_far)
        segs.append((kind, z, z1, _segment_height(rng, L, kind), rng.random(), rng.random()))
        z = z1
    return segs


def _segment_height(rng, L: LayoutStats, kind: str) -> float:
    """The height (m) of a side segment of that kind (0 for open ground)."""
    u = rng.uniform
    if kind == "building":
        return L.sample_range(rng, "building_height")
    if kind == "trees":
        return u(3, 11)
    if kind == "wall":
        return u(1.2, 3.2)
    if kind == "fence":
        return u(1.0, 2.2)
    return 0.0


def _sample_skyline(rng) -> list:
    """The skyline: buildings and tree rows ``(kind, X0, X1, height, u1, u2)`` side by side, X = −70 … 70 m."""
    u = rng.uniform
    skyline, X = [], -70.0
    while X < 70.0:
        w = u(6, 25)
        kind = "building" if rng.random() < 0.7 else "trees"
        h = u(5, 25) if kind == "building" else u(4, 12)
        skyline.append((kind, X, X + w, h, rng.random(), rng.random()))
        X += w
    return skyline


# ------------------------------------------------------------------------------------------------
# Things: lateral positions X (m, + = right) and depths z (m), drawn class by class.
# ------------------------------------------------------------------------------------------------
def _random_side(rng) -> int:
    """Left (−1) or right (+1) with equal probability."""
    return -1 if rng.random() < 0.5 else 1


def _road_edge(s: Scene, side: int) -> float:
    """Distance (m) from the camera to the road edge on that side."""
    return s.road_r if side > 0 else s.road_l


def _of_side(pair: tuple, side: int) -> float:
    """The left (side < 0) or right entry of a ``(left, right)`` pair."""
    return pair[0 if side < 0 else 1]


def _lane_x(s: Scene, k: int) -> float:
    """X of the centre of lane k."""
    return -s.road_l + (k + 0.5) * s.lane_w


def _walk_x(rng, s: Scene, side: int) -> float:
    """A lateral position on the sidewalk of that side (or the road edge)."""
    edge, g, wdt = _road_edge(s, side), _of_side(s.grass, side), _of_side(s.walk, side)
    return side * (edge + g + rng.uniform(0.4, max(wdt - 0.4, 0.5)))


def _sample_vehicles(rng, L: LayoutStats, s: Scene, lanes: int) -> list:
    """A train (which also lays ``s.rails``), cars driving or parked, trucks and a bus, in lanes of the road."""
    u = rng.uniform
    things = []
    has_train = rng.random() < L.p_train
    if has_train:
        k = int(rng.integers(0, lanes))
        s.rails = _lane_x(s, k)
        things.append(
            dict(
                kind="train",
                X=_lane_x(s, k),
                z=u(7, 40),
                L=u(22, 34),
                u1=rng.random(),
                u2=rng.random(),
                front=rng.random() < 0.5,
            )
        )
    for _ in range(_poisson(rng, L.n_cars)):
        if rng.random() < L.p_parked:
            side = _random_side(rng)
            X = side * (_road_edge(s, side) - u(0.9, 1.2))
        else:
            X = _lane_x(s, int(rng.integers(0, lanes))) + u(-0.3, 0.3)
        things.append(
            dict(
                kind="car",
                X=X,
                z=u(3.5, 55),
                L=u(3.8, 4.9),
                w=u(1.7, 1.95),
                h=u(1.35, 1.6),
                u1=rng.random(),
                u2=rng.random(),
                front=X > 0.5 and rng.random() < 0.6,
            )
        )
    if rng.random() < L.p_truck:
        for _ in range(1 + _poisson(rng, 0.3)):
            things.append(
                dict(
                    kind="truck",
                    X=_lane_x(s, int(rng.integers(0, lanes))),
                    z=u(6, 55),
                    L=u(7, 11),
                    u1=rng.random(),
                    u2=rng.random(),
                )
            )
    if rng.random() < L.p_bus:
        things.append(
            dict(
                kind="bus",
                X=_lane_x(s, int(rng.integers(0, lanes))),
                z=u(6, 50),
                L=u(11, 13),
                u1=rng.random(),
                u2=rng.random(),
                front=rng.random() < 0.3,
            )
        )
    return things


def _sample_two_wheelers(rng, L: LayoutStats, s: Scene) -> list:
    """Bicycles, then motorcycles: ridden at the road edge, or parked on the sidewalk without a rider."""
    u = rng.uniform
    things = []
    for kind, p in (("bicycle", L.p_bicycle), ("motorcycle", L.p_motorcycle)):
        if rng.random() < p:
            for _ in range(1 + _poisson(rng, 0.8 if kind == "bicycle" else 0.3)):
                rider = rng.random() < L.p_rider
                side = _random_side(rng)
                if rider:
                    X = side * (_road_edge(s, side) - u(0.6, 1.4))
                else:
                    X = _walk_x(rng, s, side)
                things.append(
                    dict(
                        kind=kind,
                        X=X,
                        z=u(3.5, 35),
                        rider=rider,
                        u1=rng.random(),
                        u2=rng.random(),
                        u3=rng.random(),
                        u4=rng.random(),
                    )
                )
    return things


def _sample_people(rng, L: LayoutStats, s: Scene) -> list:
    """Groups of people around a depth ``zc``: on one sidewalk, or (12 %) crossing the road."""
    u = rng.uniform
    things = []
    for _ in range(_poisson(rng, L.n_person_groups)):
        side = _random_side(rng)
        zc = u(3.0, 40)
        crossing = rng.random() < 0.12
        for _ in range(1 + _poisson(rng, 1.0)):
            X = u(-s.road_l, s.road_r) if crossing else _walk_x(rng, s, side)
            things.append(
                dict(
                    kind="person",
                    X=X,
                    z=zc + u(-1.5, 1.5),
                    h=u(1.55, 1.95),
                    u1=rng.random(),
                    u2=rng.random(),
                    u3=rng.random(),
                    u4=rng.random(),
                    stride=u(0, 0.25),
                )
            )
    return things


def _sample_furniture(rng, L: LayoutStats, s: Scene) -> list:
    """Poles (some with a traffic light, lamp or sign), traffic signs and trees beside the road."""
    u = rng.uniform
    things = []
    for _ in range(_poisson(rng, L.n_poles)):
        side = _random_side(rng)
        X = side * (_road_edge(s, side) + _of_side(s.grass, side) + u(0.3, 0.7))
        things.append(
            dict(
                kind="pole",
                X=X,
                z=u(5.0, 60),
                h=u(4.0, 8.5),
                w=u(0.14, 0.28),
                light=rng.random() < L.p_traffic_light,
                over_road=rng.random() < 0.35,
                lamp=rng.random() < 0.3,
                green=rng.random() < 0.5,
                sign=rng.random() < 0.35,
                u1=rng.random(),
                u2=rng.random(),
            )
        )
    for _ in range(_poisson(rng, L.n_signs)):
        side = _random_side(rng)
        X = side * (_road_edge(s, side) + _of_side(s.grass, side) + u(0.3, 1.0))
        things.append(
            dict(
                kind="sign",
                X=X,
                z=u(5.0, 45),
                h=u(2.0, 3.0),
                shape=int(rng.integers(0, 3)),
                u1=rng.random(),
                u2=rng.random(),
                two=rng.random() < 0.3,
            )
        )
    for _ in range(_poisson(rng, L.n_trees)):
        side = _random_side(rng)
        edge = _road_edge(s, side) + _of_side(s.grass, side)
        X = side * (edge + max(_of_side(s.walk, side) - u(0.5, 1.2), 0.6))
        things.append(
            dict(kind="tree", X=X, z=u(7, 60), r=u(1.3, 2.6), trunk=u(2.0, 3.5), u1=rng.random(), u2=rng.random())
        )
    return things
