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

One idea per file, in the order an image is made: ``palette.py`` (parts, face orientations, the two
palettes and texture table), ``grammar.py`` (``LayoutStats``, ``SOURCE_LAYOUT``, ``TARGET_LAYOUT``,
``sample_scene``: metres and probabilities only), ``raster.py`` (scene → instance map), ``render.py``
(instance map → pixels: the two renderers, ``render_scene``), ``dataset.py`` (``SyntheticDomain``),
``export.py`` (``export`` and the command line) and ``__main__.py`` (``python -m``).

Taught in: notebooks/05_pseudo_label_weighting.ipynb
"""

from __future__ import annotations

from .dataset import SyntheticDomain
from .export import export, main  # noqa: F401  (main: the command line, used by tests/test_synthetic.py)
from .grammar import SOURCE_LAYOUT, TARGET_LAYOUT, LayoutStats, sample_scene
from .render import render_scene

__all__ = [
    "LayoutStats",
    "SOURCE_LAYOUT",
    "TARGET_LAYOUT",
    "sample_scene",
    "render_scene",
    "SyntheticDomain",
    "export",
]
