"""The embedded world's "ImageNet": object-centric photos of its things and stuff, with image-level labels.

Why it exists. DAFormer starts from an encoder pre-trained on ImageNet, and two of its strategies protect
what that encoder knows (feature distance, learning-rate warmup). ImageNet plays that role because it holds
*real photos* with *object labels*: pictures of cars, buses, trams, bicycles and people, taken by cameras,
so its features know the target's things before any adaptation — without ever having seen a Cityscapes
scene or a Cityscapes label. This module builds the same situation for the synthetic pair:

- **what it is**: ``SyntheticObjects`` renders one *subject* per image — a car, truck, bus, tram (train),
  motorcycle or bicycle (with or without rider), person, traffic light, traffic sign, tree, or a stretch of
  façade, wall, fence or verge — seen close up and framed in the middle, in front of a random background.
  Each item carries a multi-label target: the subject's class and every class that covers at least
  ``min_share`` of the picture (ImageNet-style image labels; no pixel labels are handed out).
- **photo-like, in varied looks**: drawn through the camera physics of the world (textures, face shading,
  cast shadows, haze, exposure, blur, sensor noise — as ImageNet's photos and Cityscapes' share the physics
  of cameras) with a palette that changes per image: hue turned by U(−0.06, 0.08), saturation ×U(0.55, 1.05),
  value ×U(0.75, 1.05), which covers the game engine's colours, the camera's and many neither uses.
  Rare classes of the source (trains, motorcycles, riders) are as common here as cars: ImageNet, too, has
  plenty of streetcars.
- **what would make it cheat**: seeing target scenes or target labels. It never does: it has its own
  sampler (``sample_object_scene``; not the street grammar's ``sample_scene`` nor its layout statistics),
  its own random streams (domain index 2: the source is 0, the target 1), and it never touches
  ``SyntheticDomain``; its composition — one large subject in the middle, no ego-vehicle bonnet, no street
  receding to a horizon full of things — is not a target scene's. ``tests/test_objects.py`` checks all of it.

``python -m daformer_edu.pretrain --encoder mit_b0 --out FILE`` trains MiT-B0 on it; the package ships
the result (``build_segmentor(..., pretrained="embedded")``).

Taught in: notebooks/08_feature_distance.ipynb
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from ..classes import IGNORE_INDEX, NUM_CLASSES
from .grammar import Scene
from .palette import _SOURCE_PALETTE, _palette_table, _shift_palette
from .raster import _rasterize
from .render import _render_target

__all__ = ["SUBJECTS", "sample_object_scene", "SyntheticObjects"]

# subject kind → its Cityscapes trainId (the "ImageNet class" of the picture). Stuff subjects are a close
# view of one side of a street segment of that kind.
SUBJECTS: dict[str, int] = {
    "car": 13,
    "truck": 14,
    "bus": 15,
    "train": 16,
    "motorcycle": 17,
    "bicycle": 18,
    "person": 11,
    "traffic light": 6,
    "traffic sign": 7,
    "tree": 8,
    "building": 2,
    "wall": 3,
    "fence": 4,
    "terrain": 9,
}
_SPLIT_INDEX = {"train": 0, "val": 1}
_OBJECTS_DOMAIN = 2  # random-stream index: SyntheticDomain uses 0 (source) and 1 (target)
_N_LOOKS = 64


@functools.lru_cache(maxsize=1)
def _looks() -> list:
    """``_N_LOOKS`` colour tables: the world's palette with hue, saturation and value changed (fixed seed)."""
    rng = np.random.default_rng(7070)
    return [
        _palette_table(
            _shift_palette(
                _SOURCE_PALETTE,
                hue=float(rng.uniform(-0.06, 0.08)),
                saturation=float(rng.uniform(0.55, 1.05)),
                value=float(rng.uniform(0.75, 1.05)),
            ),
            0.15,
        )
        for _ in range(_N_LOOKS)
    ]


def _segments(rng, z_far: float, kind: str | None = None) -> list:
    """One street side as a few segments along z (kinds drawn uniformly, or all ``kind``)."""
    kinds = ("building", "trees", "wall", "fence", "open")
    segs, z = [], 1.0
    while z < z_far:
        k = kind or kinds[int(rng.integers(0, 5))]
        z1 = min(z + rng.uniform(6, 25), z_far)
        h = {
            "building": rng.uniform(6, 22),
            "trees": rng.uniform(3, 10),
            "wall": rng.uniform(1.2, 3.2),
            "fence": rng.uniform(1.0, 2.2),
            "open": 0.0,
        }[k]
        segs.append((k, z, z1, h, rng.random(), rng.random()))
        z = z1
    return segs


def sample_object_scene(rng: np.random.Generator, subject: str | None = None) -> tuple[Scene, str]:
    """One object-centric picture: ``(scene, subject)`` — a subject close up in the middle of the frame.

    The camera is placed so the subject fills 35–90 % of the picture and sits near its centre; the rest is a
    random background (ground, a street side or two, a skyline). Square pictures are assumed (focal length
    as a fraction of the width = of the height).

    Taught in: notebooks/08_feature_distance.ipynb
    """
    names = list(SUBJECTS)
    subject = subject or names[int(rng.integers(0, len(names)))]
    if subject not in SUBJECTS:
        raise ValueError(f"sample_object_scene: subject={subject!r} is unknown; choose one of {names}")
    scene, fill = _sample_camera_and_ground(rng)
    X = rng.uniform(-0.6, 0.6)  # lateral position (m) of people, poles, signs, trees (drawn for every subject)
    scene.segments = {-1: _segments(rng, scene.z_far), 1: _segments(rng, scene.z_far)}
    z, centre_y, vanish = _place_subject(rng, scene, subject, X, fill)
    _aim_camera(rng, scene, z, centre_y, vanish)
    scene.rails = scene.things[0]["X"] if subject == "train" else None
    scene.skyline = _skyline(rng)
    return scene, subject


def _sample_camera_and_ground(rng) -> tuple[Scene, float]:
    """Camera, road, sidewalks, grass and depth of the background: ``(scene, fill)``; no subject or sides yet."""
    u = rng.uniform
    focal, cam_h, fill = u(0.7, 1.1), u(0.8, 2.2), u(0.35, 0.9)  # fill: the subject's share of the picture
    lane_w = u(2.8, 3.8)
    road_l, road_r = u(1.0, 9.0), u(1.0, 9.0)
    walk = (u(0.0, 4.0), u(0.0, 4.0))
    grass = tuple(u(1.0, 3.0) if rng.random() < 0.3 else 0.0 for _ in range(2))
    z_far = u(15, 70)
    # horizon and vanish_x are placeholders: _aim_camera sets them once the subject is placed
    scene = Scene(
        focal=focal,
        horizon=0.5,
        vanish_x=0.5,
        cam_h=cam_h,
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
        things=[],
        hood=0.0,
    )
    return scene, fill


def _place_subject(rng, scene: Scene, subject: str, X: float, fill: float) -> tuple[float, float, float | None]:
    """Put the subject into ``scene``: ``(z, centre_y, vanish)`` for :func:`_aim_camera` (vanish: None or fixed)."""
    if subject in ("car", "truck", "bus", "train"):
        return _place_vehicle(rng, scene, subject, fill)
    if subject in ("motorcycle", "bicycle"):
        return _place_two_wheeler(rng, scene, subject, fill)
    if subject == "person":
        return _place_people(rng, scene, X, fill)
    if subject == "traffic light":
        return _place_traffic_light(rng, scene, X, fill)
    if subject == "traffic sign":
        return _place_traffic_sign(rng, scene, X, fill)
    if subject == "tree":
        return _place_tree(rng, scene, X, fill)
    return _place_stuff(rng, scene, subject, fill)


def _place_vehicle(rng, scene: Scene, subject: str, fill: float) -> tuple[float, float, None]:
    """A car, truck, bus or tram 0–2.5 m aside, as far as makes its width fill ``fill`` of the picture."""
    u = rng.uniform
    # (width, height, length) of each kind; all four lengths are drawn, whichever the subject
    w, h, L = {
        "car": (1.8, 1.5, u(3.8, 4.9)),
        "truck": (2.5, 3.6, u(7, 11)),
        "bus": (2.55, 3.1, u(11, 13)),
        "train": (2.65, 3.5, u(22, 34)),
    }[subject]
    X = u(-2.5, 2.5)
    z = scene.focal * (w + 0.4 * abs(X)) / fill
    t = dict(kind=subject, X=X, z=z, L=L, u1=rng.random(), u2=rng.random(), front=rng.random() < 0.4)
    if subject == "car":
        t.update(w=u(1.7, 1.95), h=u(1.35, 1.6))
    scene.things.append(t)
    return z, h / 2, None


def _place_two_wheeler(rng, scene: Scene, subject: str, fill: float) -> tuple[float, float, None]:
    """A motorcycle or bicycle (with a rider 60 % of the time) seen from the side, 0.8–2.5 m aside."""
    u = rng.uniform
    rider = rng.random() < 0.6
    X = u(0.8, 2.5) * (1 if rng.random() < 0.5 else -1)
    hgt = 1.9 if rider else 1.05
    z = scene.focal * hgt / fill
    scene.things.append(
        dict(kind=subject, X=X, z=z, rider=rider, u1=rng.random(), u2=rng.random(), u3=rng.random(), u4=rng.random())
    )
    return z + 0.9, hgt / 2, None  # the side view spans z … z + L: aim at its middle


def _place_people(rng, scene: Scene, X: float, fill: float) -> tuple[float, float, None]:
    """A person at ``X`` (sometimes two side by side), as far as makes their height fill ``fill``."""
    u = rng.uniform
    h = u(1.55, 1.95)
    z = scene.focal * h / fill
    for k in range(1 + int(rng.random() < 0.3)):  # sometimes two people side by side
        scene.things.append(
            dict(
                kind="person",
                X=X + 0.7 * k * (1 if X < 0 else -1),
                z=z + 0.3 * k,
                h=h,
                u1=rng.random(),
                u2=rng.random(),
                u3=rng.random(),
                u4=rng.random(),
                stride=u(0, 0.25),
            )
        )
    return z, h / 2, None


def _place_traffic_light(rng, scene: Scene, X: float, fill: float) -> tuple[float, float, None]:
    """A pole with a traffic light at ``X``; the light's head is aimed at."""
    u = rng.uniform
    h = u(3.0, 5.5)
    z = scene.focal * 1.3 / fill
    scene.things.append(
        dict(
            kind="pole",
            X=X,
            z=z,
            h=h,
            w=u(0.14, 0.28),
            light=True,
            over_road=False,
            lamp=False,
            green=rng.random() < 0.5,
            sign=rng.random() < 0.3,
            u1=rng.random(),
            u2=rng.random(),
        )
    )
    return z, h - 0.6, None


def _place_traffic_sign(rng, scene: Scene, X: float, fill: float) -> tuple[float, float, None]:
    """A traffic sign (sometimes two, one above the other) at ``X``; the sign plate is aimed at."""
    u = rng.uniform
    h = u(2.0, 3.0)
    two = rng.random() < 0.3
    z = scene.focal * (1.6 if two else 0.9) / fill
    scene.things.append(
        dict(kind="sign", X=X, z=z, h=h, shape=int(rng.integers(0, 3)), u1=rng.random(), u2=rng.random(), two=two)
    )
    return z, h - (0.35 if two else 0.0), None


def _place_tree(rng, scene: Scene, X: float, fill: float) -> tuple[float, float, None]:
    """A tree at ``X``, as far as makes trunk and crown fill ``fill``; its middle height is aimed at."""
    u = rng.uniform
    r, trunk = u(1.3, 2.6), u(2.0, 3.5)
    z = scene.focal * (2 * r + trunk) / fill
    scene.things.append(dict(kind="tree", X=X, z=z, r=r, trunk=trunk, u1=rng.random(), u2=rng.random()))
    return z, (trunk + 2 * r) / 2, None


_STUFF_SIDE = {"building": "building", "wall": "wall", "fence": "fence", "terrain": "open"}  # stuff subjects


def _place_stuff(rng, scene: Scene, subject: str, fill: float) -> tuple[float, float, float]:
    """Stuff: the camera stands close to one side of the street, which fills much of the frame."""
    u = rng.uniform
    side = -1 if rng.random() < 0.5 else 1
    near = u(0.5, 2.5)
    if side < 0:
        scene.road_l, scene.walk = near, (0.0, scene.walk[1])
    else:
        scene.road_r, scene.walk = near, (scene.walk[0], 0.0)
    scene.segments[side] = _segments(rng, scene.z_far, _STUFF_SIDE[subject])
    if subject == "terrain":
        scene.grass = (u(3.0, 8.0), scene.grass[1]) if side < 0 else (scene.grass[0], u(3.0, 8.0))
    centre_y = u(0.5, 2.5) if subject != "terrain" else 0.0
    z = scene.focal * 3.0 / fill
    # look past the road towards that side: the vanishing point moves to the other edge of the frame
    vanish = u(0.75, 1.0) if side < 0 else u(0.0, 0.25)
    return z, centre_y, vanish


def _aim_camera(
    rng, scene: Scene, z: float, centre_y: float, vanish: float | None = None, centre_x: float | None = None
) -> None:
    """Turn the camera towards the subject: set ``scene.horizon`` and ``scene.vanish_x`` (fractions of H, W)."""
    # centre_y: height (m) that should land at the image centre; centre_x: lateral position (m) that should land
    # there (None: the subject's X); vanish: a vanishing column fixed beforehand (stuff), or None.
    # put (centre_x, centre_y) at the image centre (± a little): the camera turns towards the subject, i.e.
    # the horizon row is 0.5 − focal·(cam_h − centre_y)/z and the vanishing column 0.5 − focal·X/z (fractions)
    u = rng.uniform
    scene.horizon = float(np.clip(u(0.42, 0.58) - scene.focal * (scene.cam_h - centre_y) / z, 0.0, 3.0))
    if vanish is None:
        cx = scene.things[0]["X"] if centre_x is None else centre_x
        vanish = u(0.42, 0.58) - scene.focal * cx / z
    scene.vanish_x = float(vanish)


def _skyline(rng) -> list:
    """The skyline at the end of the street: buildings and tree rows side by side, X = −60 … 60 m."""
    u = rng.uniform
    skyline, X0 = [], -60.0
    while X0 < 60.0:
        wdt = u(6, 25)
        kind = "building" if rng.random() < 0.6 else "trees"
        skyline.append((kind, X0, X0 + wdt, u(5, 25) if kind == "building" else u(4, 12), rng.random(), rng.random()))
        X0 += wdt
    return skyline


class SyntheticObjects(torch.utils.data.Dataset):
    """The embedded "ImageNet": object-centric photos with image-level (multi-)labels. See the module text.

    ``SyntheticObjects(split="train"|"val", size=64, length=N, seed=0, min_share=0.02)``; item ``i`` is
    ``{"image": float [3, S, S] normalised with ImageNet's mean/std, "labels": float [19] (1 = the class is in
    the picture: the subject, and every class with ≥ min_share of the pixels), "subject": int trainId,
    "name": str}``, a pure function of ``(seed, split, i)``. ``render(i)`` gives ``(uint8 [S, S, 3],
    labels, subject)``. Pixel labels are never returned: pre-training sees image labels only, as on ImageNet.

    Taught in: notebooks/08_feature_distance.ipynb
    """

    def __init__(
        self, split: str = "train", size: int = 64, length: int = 50000, seed: int = 0, min_share: float = 0.02
    ):
        if split not in _SPLIT_INDEX:
            raise ValueError(f"SyntheticObjects: split={split!r}; choose 'train' or 'val'")
        if size < 32:
            raise ValueError(f"SyntheticObjects: size={size} must be ≥ 32 (the encoder's stride)")
        if length < 1:
            raise ValueError(f"SyntheticObjects: length={length} must be positive")
        self.split, self.size, self.length, self.seed, self.min_share = split, int(size), int(length), seed, min_share

    def __len__(self) -> int:
        return self.length

    def __repr__(self) -> str:
        return f"SyntheticObjects(split={self.split!r}, size={self.size}, length={self.length}, seed={self.seed})"

    def render(self, index: int) -> tuple[np.ndarray, np.ndarray, int]:
        """``(image uint8 [S, S, 3], labels float32 [19], subject trainId)`` of picture ``index``."""
        if not 0 <= index < self.length:
            raise IndexError(f"SyntheticObjects: index {index} out of range for length {self.length}")
        key = [self.seed, _OBJECTS_DOMAIN, _SPLIT_INDEX[self.split], int(index)]
        scene_rng, render_rng = np.random.default_rng(key + [0]), np.random.default_rng(key + [1])
        scene, subject = sample_object_scene(scene_rng)
        S = self.size
        cv = _rasterize(scene, S, S)
        look = _looks()[int(render_rng.integers(0, _N_LOOKS))]
        image = _render_target(cv, scene, render_rng, rgb_table=look)
        classes = np.array([t[0] for t in cv.table], dtype=np.int64)
        label = classes[cv.inst]  # [S, S]
        counts = np.bincount(label[label != IGNORE_INDEX].ravel(), minlength=NUM_CLASSES)[:NUM_CLASSES]
        labels = (counts >= self.min_share * S * S).astype(np.float32)  # [19]
        labels[SUBJECTS[subject]] = 1.0
        return image, labels, SUBJECTS[subject]

    def __getitem__(self, index: int) -> dict:
        from ..transforms import Normalize

        image, labels, subject = self.render(index)
        return {
            "image": Normalize()(image)[0],
            "labels": torch.from_numpy(labels),
            "subject": subject,
            "name": f"objects_{self.split}_{index:06d}",
        }
