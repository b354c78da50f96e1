"""Surface patterns per part: what tells terrain from vegetation, wall from fence, when colour does not.

In real photos shape and texture carry the stuff classes — leaves are clumpy, grass is streaky, walls are
laid in courses of blocks, fences are rows of boards, pavements are tiled — and the camera's light and white
balance change from picture to picture. A world where hue is the only cue that separates those classes
punishes DACS's colour jitter (on the synthetic pair without these patterns and the camera light, the run without
strong augmentation was 3 points *better*: ``bench/results/cpu-demo/probes_world1_2026-12-01.md``); with these
patterns the classes keep a cue that colour jitter cannot wash out.

Both renderers use the same patterns, as a game engine and a camera both show a wall's courses: the game
engine crisply, the camera through its blur and noise — which, at 128×256, keeps the coarse patterns (leaves,
grass, boards) and washes out most of the one-pixel joints of blocks and paving (``tests/test_synthetic.py``
measures how much of each survives). Each pattern is a fixed field (seeded, ``2H × 2W``
so that every picture cuts out its own random ``H × W`` window); the renderer multiplies a part's colour
by ``1 + amplitude · pattern`` inside that part.

=========== ===================== ==============================================================
pattern     parts                 what it looks like
=========== ===================== ==============================================================
leaves      vegetation            clumps: saturated smooth noise at a fine scale
grass       terrain               blades: vertical streaks (noise averaged down the columns)
blocks      wall                  courses: dark mortar rows, joints staggered by half a block
slats       fence                 boards: dark gaps and a brightness per board
tiles       sidewalk              a grid of dark joints
=========== ===================== ==============================================================

Taught in: notebooks/05_pseudo_label_weighting.ipynb
"""

from __future__ import annotations

import functools

import numpy as np
from PIL import Image

from .palette import PARTS, P

__all__: list[str] = []

PATTERNS = ("none", "leaves", "grass", "blocks", "slats", "tiles")
# part → (pattern, amplitude in the game engine, amplitude in the camera)
_PART_PATTERN = {
    "vegetation": ("leaves", 0.30, 0.35),
    "terrain": ("grass", 0.25, 0.28),
    "wall": ("blocks", 0.30, 0.25),
    "fence": ("slats", 0.30, 0.28),
    "sidewalk": ("tiles", 0.20, 0.18),
}
_PATTERN_ID = np.zeros(len(PARTS), np.int64)
_AMP_SOURCE = np.zeros(len(PARTS), np.float32)
_AMP_TARGET = np.zeros(len(PARTS), np.float32)
for _part, (_pattern, _a_src, _a_tgt) in _PART_PATTERN.items():
    _PATTERN_ID[P[_part]] = PATTERNS.index(_pattern)
    _AMP_SOURCE[P[_part]], _AMP_TARGET[P[_part]] = _a_src, _a_tgt
del _part, _pattern, _a_src, _a_tgt


@functools.lru_cache(maxsize=8)
def _pattern_bank(H: int, W: int) -> np.ndarray:
    """The patterns as one array ``[len(PATTERNS), 2H, 2W]`` (float32, roughly zero mean, unit scale)."""
    rng = np.random.default_rng(31337)
    h2, w2 = 2 * H, 2 * W
    yy, xx = np.mgrid[0:h2, 0:w2]
    white = rng.standard_normal((h2, w2)).astype(np.float32)

    def smooth(cell):  # noise with features of about `cell` pixels
        g = rng.standard_normal((max(h2 // cell, 2) + 1, max(w2 // cell, 2) + 1)).astype(np.float32)
        a = np.asarray(Image.fromarray(g, mode="F").resize((w2, h2), Image.BICUBIC), dtype=np.float32)
        return (a - a.mean()) / (a.std() + 1e-6)

    leaves = np.tanh(2.0 * smooth(max(H // 40, 2))) + 0.3 * white
    tall = rng.standard_normal((h2 + 5, w2)).astype(np.float32)
    grass = sum(tall[k : k + h2] for k in range(6)) / np.sqrt(6.0)  # streaks down the columns
    p = max(3, round(H / 32))  # block height (pixels)
    course = yy // p
    mortar = (yy % p == 0) | ((xx + (course % 2) * p) % (2 * p) == 0)
    blocks = np.where(mortar, -1.5, 0.25 * white)
    q = max(3, round(W / 96))  # board width
    board = rng.normal(0.0, 0.6, size=w2 // q + 2).astype(np.float32)[xx // q]
    slats = np.where(xx % q == 0, -1.5, board)
    t = max(4, round(H / 20))  # tile side
    tiles = np.where((yy % t == 0) | (xx % t == 0), -1.2, 0.2 * white)
    bank = np.stack([np.zeros((h2, w2), np.float32), leaves, grass, blocks, slats, tiles]).astype(np.float32)
    bank[1:] -= bank[1:].mean(axis=(1, 2), keepdims=True)
    return bank


def _pattern_shade(inst: np.ndarray, parts: np.ndarray, amplitude: np.ndarray, rng: np.random.Generator):
    """``1 + amplitude · pattern`` per pixel (``[H, W]`` float32) for an instance map, or None if no part has one.

    ``parts[i]`` is the part of instance ``i``; ``amplitude`` the per-part table of the renderer. One random
    window of the pattern bank per picture (two draws from ``rng``).
    """
    H, W = inst.shape
    oy, ox = int(rng.integers(0, H)), int(rng.integers(0, W))
    amp = amplitude[parts][inst]  # [H, W]
    if not amp.any():
        return None
    pid = _PATTERN_ID[parts][inst]  # [H, W]
    bank = _pattern_bank(H, W)[:, oy : oy + H, ox : ox + W]  # [n_patterns, H, W]
    pattern = np.take_along_axis(bank, pid[None], axis=0)[0]  # [H, W]
    return (1.0 + amp * pattern).astype(np.float32)
