"""Data transforms of DAFormer's pipeline: resize (keep ratio), random crop (``cat_max_ratio``), flip, photometric
distortion (baselines only), normalise.

Each transform is a small dataclass you configure once and call on a numpy pair:

    image, label = transform(image, label, rng)      # image uint8 [H, W, 3], label uint8 [H, W] or None

Randomness comes only from the ``numpy.random.Generator`` passed in, never from a global RNG, so a
sample is reproducible from its seed. The last step, ``Normalize``, turns the pair into torch tensors
(image float ``[3, H, W]``, label long ``[H, W]``).

The official source pipeline (GTA, DAFormer config ``uda_gta_to_cityscapes_512x512``; Synthia the same with
``(760, 1280)``) is

    Resize((720, 1280), keep_ratio) → RandomCrop((512, 512), cat_max_ratio=0.75) → RandomFlip(0.5) → Normalize

and the target pipeline resizes Cityscapes to (512, 1024) and then crops with ``RandomCrop((512, 512))``:
``cat_max_ratio`` left at mmseg's default 1, i.e. *not* applied to target crops (it would read the target
label, which an unsupervised method must not look at). Here the same: a crop without a label (or with
``cat_max_ratio=1``) is simply uniform. Only the oracle, trained on labelled Cityscapes crops, uses 0.75 on the
target (as the official ``cityscapes_half_512x512`` config). Evaluation (mmseg's test pipeline) resizes the
image alone: ``Resize((512, 1024), resize_label=False)`` keeps the label at full resolution.

Pixels are resized as mmcv resizes them (``mmcv.imrescale`` → ``cv2.resize``, OpenCV's own arithmetic:
``opencv-python-headless`` is a dependency for that reason), so that training crops, in-training validation and
``python -m daformer_edu.evaluate`` see the pixels the official pipeline sees.

The official *source-only* and *oracle* configs (``gta_to_cityscapes_512x512.py``, ``cityscapes_half_512x512.py``)
add mmseg's ``PhotoMetricDistortion`` after the flip, on the uint8 pixels, before normalisation:

    Resize → RandomCrop → RandomFlip → PhotoMetricDistortion → Normalize

the UDA config does not (DACS jitters the mixed image instead, ``uda/dacs.py``). Here the same: append
``PhotoMetricDistortion()`` to a ``Compose`` list; the dataset normalises after the last transform.

Taught in: notebooks/06_rare_class_sampling.ipynb
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import torch
from PIL import Image

from .classes import IGNORE_INDEX

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "Resize",
    "RandomCrop",
    "RandomFlip",
    "PhotoMetricDistortion",
    "Normalize",
    "Compose",
    "denormalize",
]

IMAGENET_MEAN = (123.675, 116.28, 103.53)  # RGB, on the 0..255 scale
IMAGENET_STD = (58.395, 57.12, 57.375)


_RESIZE_BACKENDS = ("cv2", "pillow")


@dataclass
class Resize:
    """Resize image (bilinear) and label (nearest) to ``size=(H, W)``, keeping the aspect ratio by default.

    With ``keep_ratio`` the size is a bound, mmseg's rule (``mmcv.imrescale``): the scale is
    ``s = min(max(size) / max(h, w), min(size) / min(h, w))`` and the output ``(int(h·s + 0.5), int(w·s + 0.5))``,
    so the long side fits the long bound and the short side the short bound (GTA 1914×1052 with
    ``size=(720, 1280)`` → 1280×704; Synthia 1280×760 with ``(760, 1280)`` stays; Cityscapes 2048×1024 with
    ``(512, 1024)`` → 1024×512). The order of ``size`` does not matter then. ``resize_label=False`` resizes the
    image only, as mmseg's test pipeline: the label stays at full resolution for scoring. An input already at
    the output size is returned as it is (the synthetic pair, rendered at its size, is never resampled).

    The pixels, ``backend="cv2"`` (mmcv's default, what every official config runs): the image with
    ``cv2.INTER_LINEAR``, the label with ``cv2.INTER_NEAREST`` (mmseg 0.16 ``Resize._resize_seg``:
    ``interpolation='nearest'``). For output pixel x the source position is ``x_s = (x + 0.5)·w/ow − 0.5``, and the
    value is the 2-tap blend of pixels ⌊x_s⌋ and ⌊x_s⌋ + 1 (rows alike) with weights in 1/2048 steps, rounded
    to uint8 in OpenCV's fixed point (``tests/test_resize.py`` writes it out). No antialiasing: at a 2× downscale
    every output pixel is the mean of one 2×2 block, rounded half up. Nearest takes pixel ⌊x·w/ow⌋ — not centre-aligned: at 2× it keeps the even rows and columns.
    ``backend="pillow"`` (mmcv's other backend; this package's earlier form) uses PIL's ``BILINEAR``, which
    antialiases (at 2× each output pixel blends a 4×4 neighbourhood), and PIL's centre-aligned ``NEAREST``.

    Taught in: notebooks/06_rare_class_sampling.ipynb
    """

    size: tuple[int, int]
    keep_ratio: bool = True
    resize_label: bool = True  # False: evaluation, the prediction is resized to the full-resolution label
    backend: str = "cv2"  # "cv2": mmcv's default (official) | "pillow": PIL, antialiased bilinear

    def __post_init__(self):
        if self.backend not in _RESIZE_BACKENDS:
            raise ValueError(
                f"Resize: backend={self.backend!r}; choose one of {_RESIZE_BACKENDS} "
                "('cv2' resizes as mmcv does by default)"
            )

    def output_size(self, h: int, w: int) -> tuple[int, int]:
        """(H, W) after resizing an ``h × w`` input."""
        if not self.keep_ratio:
            return int(self.size[0]), int(self.size[1])
        s = min(max(self.size) / max(h, w), min(self.size) / min(h, w))
        return int(h * s + 0.5), int(w * s + 0.5)

    def __call__(self, image, label=None, rng=None):
        h, w = image.shape[:2]
        oh, ow = self.output_size(h, w)
        if (oh, ow) == (h, w):
            return image, label
        resize_label = label is not None and self.resize_label
        if self.backend == "cv2":  # cv2 takes (width, height)
            image = cv2.resize(np.ascontiguousarray(image), (ow, oh), interpolation=cv2.INTER_LINEAR)  # [oh, ow, 3]
            if resize_label:
                label = cv2.resize(np.ascontiguousarray(label), (ow, oh), interpolation=cv2.INTER_NEAREST)  # [oh, ow]
        else:
            image = np.asarray(Image.fromarray(image).resize((ow, oh), Image.BILINEAR))  # [oh, ow, 3]
            if resize_label:
                label = np.asarray(Image.fromarray(label).resize((ow, oh), Image.NEAREST))  # [oh, ow]
        return image, label


@dataclass
class RandomCrop:
    """Random ``size=(h, w)`` crop; with a label, re-draw while one class fills ≥ ``cat_max_ratio`` of it.

    mmseg's rule (used by DAFormer with ``cat_max_ratio=0.75`` on the source): draw a crop; if it holds
    fewer than two classes (ignore not counted) or its most frequent class covers ``cat_max_ratio`` or more
    of the labelled pixels, draw again, at most ``max_tries`` (10) times, and keep the last one. With
    ``cat_max_ratio=1`` or no label the first draw is kept. Inputs smaller than the crop are padded (image
    with 0, label with 255).

    ``crop_box=(top, left)`` forces the crop (Rare Class Sampling uses it to look at a given window);
    the coordinates refer to the image *as it reaches this transform* (after any resize).

    Taught in: notebooks/06_rare_class_sampling.ipynb
    """

    size: tuple[int, int]
    cat_max_ratio: float = 1.0
    ignore_index: int = IGNORE_INDEX
    max_tries: int = 10

    def sample_box(self, h: int, w: int, rng: np.random.Generator) -> tuple[int, int]:
        """A uniformly drawn ``(top, left)`` for an ``h × w`` input."""
        ch, cw = self.size
        return int(rng.integers(0, max(h - ch, 0) + 1)), int(rng.integers(0, max(w - cw, 0) + 1))

    def _ok(self, label: np.ndarray, box) -> bool:
        crop = self._crop(label, box)
        counts = np.bincount(crop.ravel(), minlength=256)
        counts[self.ignore_index] = 0
        counts = counts[counts > 0]
        return len(counts) > 1 and counts.max() / counts.sum() < self.cat_max_ratio

    def _crop(self, arr: np.ndarray, box) -> np.ndarray:
        top, left = box
        return arr[top : top + self.size[0], left : left + self.size[1]]

    def __call__(self, image, label=None, rng=None, crop_box=None):
        image, label = self._pad(image, label)
        h, w = image.shape[:2]
        if crop_box is not None:
            box = (int(crop_box[0]), int(crop_box[1]))
            if not (0 <= box[0] <= h - self.size[0] and 0 <= box[1] <= w - self.size[1]):
                raise ValueError(f"crop_box {crop_box} of size {self.size} does not fit into a {h}x{w} image")
        else:
            if rng is None:
                raise ValueError("RandomCrop needs a numpy Generator: call it as crop(image, label, rng)")
            box = self.sample_box(h, w, rng)
            if label is not None and self.cat_max_ratio < 1.0:
                for _ in range(self.max_tries):
                    if self._ok(label, box):
                        break
                    box = self.sample_box(h, w, rng)
        return self._crop(image, box), (None if label is None else self._crop(label, box))

    def _pad(self, image, label):
        h, w = image.shape[:2]
        ph, pw = max(self.size[0] - h, 0), max(self.size[1] - w, 0)
        if ph or pw:
            image = np.pad(image, ((0, ph), (0, pw), (0, 0)))
            if label is not None:
                label = np.pad(label, ((0, ph), (0, pw)), constant_values=self.ignore_index)
        return image, label


@dataclass
class RandomFlip:
    """Horizontal flip of image and label together with probability ``prob``.

    Taught in: notebooks/06_rare_class_sampling.ipynb
    """

    prob: float = 0.5

    def __call__(self, image, label=None, rng=None):
        if rng is None:
            raise ValueError("RandomFlip needs a numpy Generator: call it as flip(image, label, rng)")
        if rng.random() < self.prob:
            image = image[:, ::-1]
            label = None if label is None else label[:, ::-1]
        return image, label


def _convert(img: np.ndarray, alpha: float = 1.0, beta: float = 0.0) -> np.ndarray:
    """``uint8(clip(img·alpha + beta, 0, 255))`` in float32, truncated by ``astype(uint8)`` (mmseg's ``convert``)."""
    out = img.astype(np.float32) * np.float32(alpha) + np.float32(beta)
    return np.clip(out, 0, 255).astype(np.uint8)


@dataclass
class PhotoMetricDistortion:
    """mmseg 0.16's ``PhotoMetricDistortion`` on a uint8 RGB image; each step with probability ½ (own coin).

    The steps, drawing from ``rng`` in this order (a coin is ``rng.integers(2)``, 1 = apply):

    1. brightness: coin; ``x + δ``, δ ~ U(−``brightness_delta``, ``brightness_delta``) (32);
    2. a coin ``mode``; mode 1: contrast here (coin; ``x·α``, α ~ U(``contrast_range``) = U(0.5, 1.5));
    3. saturation: coin; to HSV (OpenCV, uint8: H in 0..179), ``S·α``, α ~ U(``saturation_range``), back to RGB;
    4. hue: coin; ``H ← (H + d) mod 180``, d an integer in [−``hue_delta``, ``hue_delta``) (numpy's ``randint``
       excludes the upper end: −18 … 17);
    5. mode 0: contrast here.

    Every step ends in uint8: ``clip(·, 0, 255)`` then truncation (``astype(uint8)``), in float32. mmseg's image
    is BGR and it converts with ``COLOR_BGR2HSV``; ours is RGB and uses ``COLOR_RGB2HSV``: the same H, S, V.
    Official place (``configs/_base_/datasets/gta_to_cityscapes_512x512.py``, ``cityscapes_half_512x512.py``;
    the source-only and oracle runs, not UDA): after ``RandomFlip``, before ``Normalize``. The label is untouched.
    (mmseg's comment says "mode 0: contrast first"; its code, followed here, does contrast first on mode 1 —
    both are one coin of probability ½.)

    Taught in: notebooks/09_full_uda.ipynb
    """

    brightness_delta: int = 32
    contrast_range: tuple[float, float] = (0.5, 1.5)
    saturation_range: tuple[float, float] = (0.5, 1.5)
    hue_delta: int = 18

    def _contrast(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if rng.integers(2):
            img = _convert(img, alpha=rng.uniform(*self.contrast_range))
        return img

    def __call__(self, image, label=None, rng=None):
        if rng is None:
            raise ValueError("PhotoMetricDistortion needs a numpy Generator: call it as t(image, label, rng)")
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(
                f"PhotoMetricDistortion: expected a uint8 [H, W, 3] image (before Normalize), "
                f"got {image.dtype} {image.shape}"
            )
        img = np.ascontiguousarray(image)  # [H, W, 3] uint8 RGB
        if rng.integers(2):
            img = _convert(img, beta=rng.uniform(-self.brightness_delta, self.brightness_delta))
        mode = rng.integers(2)
        if mode == 1:
            img = self._contrast(img, rng)
        if rng.integers(2):
            hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)  # [H, W, 3] uint8, H in 0..179
            hsv[:, :, 1] = _convert(hsv[:, :, 1], alpha=rng.uniform(*self.saturation_range))
            img = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
        if rng.integers(2):
            hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
            hsv[:, :, 0] = (hsv[:, :, 0].astype(int) + rng.integers(-self.hue_delta, self.hue_delta)) % 180
            img = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
        if mode == 0:
            img = self._contrast(img, rng)
        return img, label


def _writable(a: np.ndarray) -> np.ndarray:
    """A contiguous, writable array (torch refuses read-only numpy memory)."""
    a = np.ascontiguousarray(a)
    return a if a.flags.writeable else a.copy()


@dataclass
class Normalize:
    """uint8 ``[H, W, 3]`` → float ``[3, H, W]`` with ``(x − mean) / std`` (ImageNet statistics, 0..255 scale).

    The label becomes a ``long [H, W]`` tensor (255 stays 255 = ignore). ``denormalize`` inverts it.

    Taught in: notebooks/05_pseudo_label_weighting.ipynb
    """

    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def __call__(self, image, label=None, rng=None):
        x = torch.from_numpy(_writable(image)).permute(2, 0, 1).float()  # [3, H, W]
        mean = torch.tensor(self.mean, dtype=torch.float32).view(3, 1, 1)
        std = torch.tensor(self.std, dtype=torch.float32).view(3, 1, 1)
        x = (x - mean) / std
        if label is not None:
            label = torch.from_numpy(_writable(label)).long()  # [H, W]
        return x, label


@dataclass
class Compose:
    """Apply transforms in order: ``image, label = t(image, label, rng)`` for each ``t``.

    ``crop_box`` (if given) is handed to the ``RandomCrop`` in the list.

    Taught in: notebooks/06_rare_class_sampling.ipynb
    """

    transforms: list = field(default_factory=list)

    def __call__(self, image, label=None, rng=None, crop_box=None):
        for t in self.transforms:
            if isinstance(t, RandomCrop):
                image, label = t(image, label, rng, crop_box=crop_box)
            else:
                image, label = t(image, label, rng)
        return image, label


def denormalize(x: torch.Tensor, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> np.ndarray:
    """Normalised ``[3, H, W]`` (or ``[B, 3, H, W]``) tensor → uint8 ``[H, W, 3]`` (or ``[B, H, W, 3]``) for plots.

    Taught in: notebooks/05_pseudo_label_weighting.ipynb
    """
    x = x.detach().float().cpu()
    shape = (1, 3, 1, 1) if x.dim() == 4 else (3, 1, 1)
    x = x * torch.tensor(std).view(shape) + torch.tensor(mean).view(shape)
    x = x.round().clamp(0, 255).to(torch.uint8)
    return x.movedim(-3, -1).numpy()  # [..., H, W, 3]
