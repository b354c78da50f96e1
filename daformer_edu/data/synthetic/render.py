"""Turning an instance map into pixels: the two renderers, "game engine" (source) and "camera" (target).

``_render_source`` paints flat colours per part with flat shading per face and crisp surface patterns
(``texture.py``); ``_render_target`` adds textures (from the fixed ``_noise_banks``) and the same surface
patterns, face shading from a sun side, cast shadows, haze, per-picture exposure, white balance and
saturation, ``_blur``, sensor noise and vignetting. ``render_scene`` rasterises a scene and renders it in either
style, returning the image and its label.

Taught in: notebooks/05_pseudo_label_weighting.ipynb
"""

from __future__ import annotations

import functools
import math

import numpy as np
from PIL import Image

from .grammar import DOMAINS, Scene
from .palette import _IS_GROUND_PART, _SRC_TABLE, _TEX, _TGT_TABLE
from .raster import _Canvas, _rasterize
from .texture import _AMP_SOURCE, _AMP_TARGET, _pattern_shade

__all__ = ["render_scene"]


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
    rgb = pal[parts, variant]  # [n, 3]
    return rgb * (1 + jit[parts] * (2 * u2 - 1))[:, None]


def _render_source(cv: _Canvas, rng: np.random.Generator) -> np.ndarray:
    """Flat colours per part, flat shading per face, a skybox gradient and the time of day (a global gain)."""
    table = np.array(cv.table, dtype=np.float64)  # [n, 5]
    rgb = _colours(table, _SRC_TABLE)
    face_light = np.array([1.0, 0.86, 0.78, 1.0, 1.0])[table[:, 4].astype(np.int64)]
    light = rng.uniform(0.8, 1.15) * (1 + rng.uniform(-0.05, 0.05, size=3))  # [3]
    lut = np.clip(rgb * face_light[:, None] * light * 255.0 + 0.5, 0, 255).astype(np.uint8)  # [n, 3]
    img = lut[cv.inst]  # [H, W, 3]
    ys, xs = np.nonzero(cv.inst == 0)
    if len(ys):  # the skybox brightens towards the horizon
        f = 0.8 + 0.3 * np.clip((ys + 0.5) / max(cv.yh, 1.0), 0, 1)
        img[ys, xs] = np.clip(lut[0] * f[:, None], 0, 255).astype(np.uint8)
    shade = _pattern_shade(cv.inst, table[:, 1].astype(np.int64), _AMP_SOURCE, rng)  # surface patterns
    if shade is not None:
        m = shade != 1.0
        img[m] = np.clip(img[m] * shade[m][:, None] + 0.5, 0, 255).astype(np.uint8)
    return img


def _blur(img: np.ndarray, passes: int) -> np.ndarray:
    """Separable [1, 2, 1] / 4 blur, ``passes`` times (border rows/columns kept)."""
    for _ in range(passes):
        out = img.copy()
        out[1:-1] = 0.25 * (img[:-2] + img[2:]) + 0.5 * img[1:-1]
        img = out.copy()
        img[:, 1:-1] = 0.25 * (out[:, :-2] + out[:, 2:]) + 0.5 * out[:, 1:-1]
    return img


def _render_target(cv: _Canvas, scene: Scene, rng: np.random.Generator, rgb_table=None) -> np.ndarray:
    """The camera: the target's renderer (``rgb_table``: another palette, e.g. the object photos' looks)."""
    H, W = cv.H, cv.W
    f32 = np.float32
    lo, mid, hi, sensor, r2 = _noise_banks(H, W)
    table = np.array(cv.table, dtype=np.float64)
    parts = table[:, 1].astype(np.int64)
    rgb = _colours(table, _TGT_TABLE if rgb_table is None else rgb_table).astype(f32)  # [n, 3]
    sun = 1 if rng.random() < 0.5 else -1
    direct = rng.uniform(0.1, 0.45)  # strength of direct sunlight (small = overcast)
    face_light = np.array([0.92, 1 + sun * direct * 0.6, 1 - sun * direct * 0.6, 1.0, 1.0], f32)
    inst_light = face_light[table[:, 4].astype(np.int64)]  # [n]
    tex = _TEX[parts]  # [n, 3]

    def win(bank):  # a random H × W window of a noise bank
        oy, ox = int(rng.integers(0, H)), int(rng.integers(0, W))
        return bank[oy : oy + H, ox : ox + W]

    inst = cv.inst
    # one gather for every per-instance quantity: colour, texture amplitudes, face light, "is ground"
    per_inst = np.concatenate([rgb, tex, inst_light[:, None], _IS_GROUND_PART[parts][:, None]], axis=1)
    px = per_inst.astype(f32)[inst]  # [H, W, 8]
    lo_w = win(lo)
    shade = 1.0 + px[..., 3] * lo_w + px[..., 4] * win(mid) + px[..., 5] * win(hi)
    shade *= px[..., 6]  # [H, W] texture × face light
    pattern = _pattern_shade(inst, parts, _AMP_TARGET, rng)  # leaves, grass, blocks, …
    if pattern is not None:
        shade *= pattern

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
        z = cv.f * cv.ch / rr  # [Hg] depth per row
        X = (np.arange(W) + 0.5 - cv.xv)[None, :] * (cv.ch / rr)[:, None]  # [Hg, W] lateral metres
        side = -sun
        heights = np.zeros_like(z)
        for kind, z0, z1, h, _, _ in scene.segments[side]:
            if kind in ("building", "trees"):
                heights[(z >= z0) & (z < z1)] = h
        edge = (scene.road_r if side > 0 else scene.road_l) + scene.walk[0 if side < 0 else 1]
        reach = edge - heights * 0.35  # [Hg] shadow line
        shaded = (side * X > reach[:, None]) & (heights[:, None] > 0)
        np.minimum(shadow[r0:H], np.where(shaded, dark, f32(1)), out=shadow[r0:H])
    shade *= np.where(px[..., 7] > 0, shadow, f32(1))  # shadows fall on the ground
    shade *= f32(1) - f32(rng.uniform(0.1, 0.3)) * r2  # vignetting

    img = px[..., :3] * shade[..., None]  # [H, W, 3]
    # sky: brighter towards the horizon, with soft clouds
    ys, xs = np.nonzero(inst == 0)
    if len(ys):
        t_row = np.clip((np.arange(H, dtype=f32) + 0.5) / max(cv.yh, 1.0), 0, 1)[:, None]  # [H, 1]
        grad = rgb[0] * (f32(0.8) + f32(0.3) * t_row)  # [H, 3]
        cloud = np.clip(lo_w[ys, xs] * 0.5 + rng.uniform(-0.7, 0.1), 0, 1)[:, None] * f32(rng.uniform(0.2, 0.8))
        img[ys, xs] = (grad[ys] * (1 - cloud) + 0.9 * cloud) * shade[ys, xs, None]
    # haze towards the horizon, exposure and white balance: one affine map per row
    dist = np.abs((np.arange(H, dtype=f32) + 0.5 - cv.yh) / H)[:, None]  # [H, 1]
    haze = f32(rng.uniform(0.0, 0.25)) * np.exp(-dist * 12)  # [H, 1]
    # the camera's light changes from picture to picture: exposure, white balance, colourfulness
    gain_tint = f32(rng.uniform(0.65, 1.3)) * np.array(
        [1 + rng.uniform(-0.18, 0.18), 1.0, 1 + rng.uniform(-0.18, 0.18)], f32
    )  # [3]
    img *= ((1 - haze) * gain_tint)[:, None, :]
    img += (0.8 * haze * gain_tint)[:, None, :]
    grey = img.mean(axis=2, keepdims=True)  # [H, W, 1]
    img = grey + f32(rng.uniform(0.6, 1.3)) * (img - grey)  # saturation
    img = _blur(img, int(rng.integers(1, 3)))
    img += f32(rng.uniform(0.01, 0.03)) * win(sensor)  # sensor noise
    q = np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)
    gamma = np.clip(255 * (np.arange(256) / 255.0) ** rng.uniform(0.8, 1.25) + 0.5, 0, 255).astype(np.uint8)
    return gamma[q]  # [H, W, 3] uint8


def render_scene(
    scene: Scene,
    size: tuple[int, int],
    style: str = "source",
    rng: np.random.Generator | None = None,
    with_image: bool = True,
):
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
    label = classes[cv.inst]  # [H, W] uint8
    if not with_image:
        return None, label
    if style == "source":
        image = _render_source(cv, rng if rng is not None else np.random.default_rng(0))
    else:
        image = _render_target(cv, scene, rng if rng is not None else np.random.default_rng(0))
    return image, label
