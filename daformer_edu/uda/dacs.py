"""DACS domain mixing: ClassMix masks, the mix itself, and the strong augmentation (DAFormer Sec. 3.1).

DAFormer trains the student on target images that are *mixed* with source images (DACS, Tranheden et
al. 2021): half of the classes of a source image are cut out along their label and pasted onto a target
image. With a mask M (1 = source pixel)

    x_mix = M ⊙ x_S + (1 − M) ⊙ x_T,    y_mix = M ⊙ y_S + (1 − M) ⊙ p_T,    w_mix = M ⊙ 1 + (1 − M) ⊙ q_T,

so pasted source pixels carry their true label with weight 1 and target pixels the pseudo-label with weight
q_T. The mixed image is then strongly augmented (colour jitter, gaussian blur) while the teacher saw the
clean target image — the student must be consistent under both.

Paper vs official code:
- ``classmix_masks(batch_pool=False)`` (default, ClassMix/DACS as described): the classes are drawn from
  the classes present *in that source image*. ``batch_pool=True`` (official code): the candidate classes
  are the union over the whole source batch (``torch.unique(labels)`` on the batch), so an image may be
  given classes it does not contain and paste less than half of its classes. ``TrainConfig.classmix_form``
  ("official" | "paper") picks one for a training run (default and ``gpu-full``: official; ``cpu-demo``: paper).
- Ignore (255) is never a candidate here; the official code counts it as a class, so it sometimes pastes
  the source's unlabelled pixels (they then carry label 255 and are ignored by the loss).
- ``strong_augment(per_batch_coins=False)`` (default) tosses the jitter and blur coins per image.
  ``per_batch_coins=True`` (official code): ``DACS.forward_train`` draws ``color_jitter`` and ``blur`` once
  per batch (``random.uniform(0, 1)`` before its loop over the images), so either every image of the batch
  is jittered / blurred or none is; the jitter factors and blur σ are still drawn afresh per image.
  ``TrainConfig.augment_coin_form`` picks one for a training run (default and ``gpu-full``: per batch, official;
  ``cpu-demo``: per image, "paper").
- ``strong_augment(jitter="torchvision")`` (default) jitters as torchvision's ``ColorJitter``: brightness
  ``x·b``, contrast and saturation *blends* with the grey mean / the grey image, hue shifted in HSV.
  ``jitter="official"``: as kornia 0.5.8's ``ColorJitter``, which the official ``dacs_transforms.py`` calls
  (``ColorJitter(brightness=s, contrast=s, saturation=s, hue=s)``): brightness *added*, ``x + (b − 1)``; contrast
  *scaled*, ``x·c``; saturation scaled in HSV, ``S·f``; hue shifted in HSV by ``h·2π`` radians; each clamped to
  [0, 1], all four applied in a random order. ``colour_jitter`` has both forms; ``TrainConfig`` picks one for a
  run (``gpu-full``: the official). The blur is torchvision's ``gaussian_blur`` (reflect padding, as kornia's).

All randomness comes from an explicit ``torch.Generator`` so runs are reproducible and resumable.

Taught in: notebooks/05_pseudo_label_weighting.ipynb
"""

from __future__ import annotations

import math

import torch
import torchvision.transforms.v2.functional as TF

from ..data.transforms import IMAGENET_MEAN, IMAGENET_STD

__all__ = ["classmix_masks", "mix", "strong_augment", "blur_kernel_size", "colour_jitter", "uniform"]

_JITTER_FORMS = ("torchvision", "official")


def _check_generator(generator: torch.Generator | None) -> torch.Generator:
    if generator is None:
        return torch.default_generator
    if generator.device.type != "cpu":
        raise ValueError("dacs: pass a CPU torch.Generator (random choices are made on the CPU, then moved)")
    return generator


def classmix_masks(
    source_labels: torch.Tensor,
    batch_pool: bool = False,
    generator: torch.Generator | None = None,
    ignore_index: int = 255,
) -> torch.Tensor:
    """ClassMix masks: per source image, pick ⌈n/2⌉ of its n classes at random; 1 = pixel of a picked class.

    Args:
        source_labels: ``[B, H, W]`` (or ``[B, 1, H, W]``) long source labels, ``ignore_index`` = unlabelled.
        batch_pool: ``False`` (default, paper/ClassMix): candidates are the classes of that image.
            ``True`` (official code): candidates are all classes of the batch, n counted over the batch.
        generator: CPU ``torch.Generator`` for the random choice (``None`` = torch's global one).
        ignore_index: label value that is never a candidate class.

    Returns:
        ``[B, 1, H, W]`` float mask of 0./1. (1 = take the source pixel). An image with no labelled pixel
        gets an all-zero mask (the mixed image is then the target image).

    Taught in: notebooks/05_pseudo_label_weighting.ipynb
    """
    if source_labels.dim() == 4 and source_labels.shape[1] == 1:
        source_labels = source_labels[:, 0]
    if source_labels.dim() != 3:
        raise ValueError(f"classmix_masks: source_labels must be [B, H, W], got {tuple(source_labels.shape)}")
    g = _check_generator(generator)

    def present(lbl: torch.Tensor) -> torch.Tensor:
        classes = torch.unique(lbl)  # sorted
        return classes[classes != ignore_index]

    pool = present(source_labels) if batch_pool else None
    masks = []
    for label in source_labels:  # label [H, W]
        classes = pool if batch_pool else present(label)  # [n]
        n = classes.numel()
        k = math.ceil(n / 2)  # ⌈n/2⌉ classes are pasted
        pick = torch.randperm(n, generator=g)[:k].to(classes.device)  # [k]
        chosen = classes[pick]  # [k]
        masks.append(torch.isin(label, chosen))  # [H, W] bool
    return torch.stack(masks)[:, None].float()  # [B, 1, H, W]


def mix(mask: torch.Tensor, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Domain mix ``M ⊙ source + (1 − M) ⊙ target`` for images, labels or weights alike (DACS, eq. in Sec. 3.1).

    Args:
        mask: ``[B, 1, H, W]`` (1 = source pixel), e.g. from ``classmix_masks``.
        source, target: same shape and dtype: images ``[B, C, H, W]``, labels ``[B, H, W]`` (long) or
            weights ``[B, H, W]`` (source weight 1, target weight q_T).

    Returns a tensor like ``source``; pixels are copied (``torch.where``), never blended, so labels stay integers.

    Taught in: notebooks/05_pseudo_label_weighting.ipynb
    """
    if source.shape != target.shape:
        raise ValueError(f"mix: source {tuple(source.shape)} and target {tuple(target.shape)} must have one shape")
    if mask.dim() != 4 or mask.shape[1] != 1:
        raise ValueError(f"mix: mask must be [B, 1, H, W], got {tuple(mask.shape)}")
    m = mask.bool()  # [B, 1, H, W]
    if source.dim() == 3:  # labels / weights [B, H, W]
        m = m[:, 0]
    if m.shape[0] != source.shape[0] or m.shape[-2:] != source.shape[-2:]:
        raise ValueError(f"mix: mask {tuple(mask.shape)} does not fit the tensors {tuple(source.shape)}")
    return torch.where(m, source, target)


def blur_kernel_size(side: int) -> int:
    """Odd gaussian-blur kernel ≈ 0.1 × image side, as DACS: ⌈0.1·side⌉, minus 1 when that is even.

    512 → 51, 256 → 25, 128 → 13, 64 → 7.

    Taught in: notebooks/05_pseudo_label_weighting.ipynb
    """
    k = math.ceil(0.1 * side)
    return max(1, k if k % 2 == 1 else k - 1)


def uniform(generator: torch.Generator, low: float, high: float) -> float:
    """One draw from U(low, high) with ``generator`` (a Python float; ``low`` when ``low == high``).

    The official code draws its jitter factors and blur σ with ``np.random.uniform``; here every draw comes from
    an explicit ``torch.Generator``, so runs replay and resume exactly.

    Taught in: notebooks/05_pseudo_label_weighting.ipynb
    """
    return low + (high - low) * torch.rand((), generator=generator).item()


# --- kornia 0.5.8's colour operations (kornia/enhance/adjust.py, kornia/color/hsv.py) -------------------------
# Images are [..., 3, H, W] in [0, 1]; hue in radians, [0, 2π).
def _rgb_to_hsv(x: torch.Tensor, eps: float = 1e-6) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """kornia's ``rgb_to_hsv``: V = max, S = (max − min) / (V + eps), H from the first channel holding the max."""
    r, g, b = x.unbind(-3)  # each [..., H, W]
    v = x.amax(-3)
    delta = v - x.amin(-3)
    s = delta / (v + eps)
    d = torch.where(delta == 0, torch.ones_like(delta), delta)  # grey: H = 0, no 0 / 0
    rc, gc, bc = v - r, v - g, v - b
    h = torch.where(r == v, bc - gc, torch.where(g == v, 2.0 * d + rc - bc, 4.0 * d + gc - rc))
    h = 2 * math.pi * ((h / d / 6.0) % 1.0)
    return h, s, v


def _hsv_to_rgb(h: torch.Tensor, s: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """kornia's ``hsv_to_rgb``: sextant i = ⌊6H/2π⌋ mod 6 (also for H < 0), f its fraction."""
    h6 = (h / (2 * math.pi)) * 6
    i = torch.floor(h6) % 6
    f = h6 % 6 - i
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    # R, G, B in sextants 0..5: (v,t,p) (q,v,p) (p,v,t) (p,q,v) (t,p,v) (v,p,q)
    table = torch.stack((v, q, p, p, t, v, t, v, v, q, p, p, p, p, t, v, v, q), dim=-3)  # [..., 18, H, W]
    i = i.long().unsqueeze(-3)
    return torch.gather(table, -3, torch.cat((i, i + 6, i + 12), dim=-3))  # [..., 3, H, W]


def _brightness_official(x: torch.Tensor, delta: float) -> torch.Tensor:
    """kornia ``adjust_brightness(x, b − 1)``: ``clamp(x + δ, 0, 1)``, δ = b − 1 (additive)."""
    return (x + delta).clamp(0.0, 1.0)


def _contrast_official(x: torch.Tensor, c: float) -> torch.Tensor:
    """kornia ``adjust_contrast(x, c)``: ``clamp(x·c, 0, 1)`` (no blend with the mean)."""
    return (x * c).clamp(0.0, 1.0)


def _saturation_official(x: torch.Tensor, f: float) -> torch.Tensor:
    """kornia ``adjust_saturation(x, f)``: S ← clamp(S·f, 0, 1) in HSV."""
    h, s, v = _rgb_to_hsv(x)
    return _hsv_to_rgb(h, (s * f).clamp(0.0, 1.0), v)


def _hue_official(x: torch.Tensor, turns: float) -> torch.Tensor:
    """kornia ``adjust_hue(x, turns·2π)``: H ← fmod(H + turns·2π, 2π) (may be negative: read as H + 2π)."""
    h, s, v = _rgb_to_hsv(x)
    return _hsv_to_rgb(torch.fmod(h + turns * 2 * math.pi, 2 * math.pi), s, v)


def colour_jitter(
    img: torch.Tensor,
    generator: torch.Generator,
    mean: torch.Tensor,
    std: torch.Tensor,
    brightness: float,
    contrast: float,
    saturation: float,
    hue: float,
    jitter: str = "torchvision",
) -> torch.Tensor:
    """Colour jitter of one normalised image ``[3, H, W]`` (DACS's strong augmentation; BlindNet's views).

    ``mean``/``std`` are ``[3, 1, 1]`` in 0–255 units: the image is un-normalised to [0, 1], jittered, normalised
    back. The four ops run in a random order (``randperm(4)``: 0 brightness, 1 contrast, 2 saturation, 3 hue).

    ``jitter="torchvision"`` (default; ``torchvision.transforms.ColorJitter``): the order is drawn first, then each
    factor when its op comes: brightness, contrast, saturation factors ~ U(max(0, 1 − s), 1 + s), hue shift
    ~ U(−h, h) turns; an op of strength 0 is skipped. Brightness ``x·b``, contrast ``c·x + (1 − c)·mean(grey(x))``,
    saturation ``f·x + (1 − f)·grey(x)``, hue shifted in HSV; the input is clamped to [0, 1] first.

    ``jitter="official"`` (kornia 0.5.8 ``ColorJitter``, called by the official ``dacs_transforms.color_jitter``):
    factors drawn first, in kornia's order brightness b ~ U(1 − s, 1 + s) ∩ [0, 2], contrast c ~ U(max(0, 1 − s),
    1 + s), hue h ~ U(−s, s) ∩ [−0.5, 0.5] turns, saturation f ~ U(max(0, 1 − s), 1 + s); then the order. Every op
    is applied, each ending in ``clamp(·, 0, 1)``: brightness ``x + (b − 1)``, contrast ``x·c``, saturation
    ``S·f`` in HSV (kornia's HSV: S = (max − min) / (max + 1e-6)), hue ``H + 2π·h`` in HSV. No clamp before.

    Taught in: notebooks/05_pseudo_label_weighting.ipynb
    """
    if jitter not in _JITTER_FORMS:
        raise ValueError(
            f"colour_jitter: jitter={jitter!r}; choose one of {_JITTER_FORMS} "
            "('official': kornia 0.5.8 as the released DAFormer code)"
        )
    g = generator
    if jitter == "official":
        x = (img * std + mean) / 255.0  # [3, H, W], about [0, 1]
        b = uniform(g, max(0.0, 1 - brightness), min(2.0, 1 + brightness))
        c = uniform(g, max(0.0, 1 - contrast), 1 + contrast)
        h = uniform(g, max(-0.5, -hue), min(0.5, hue))
        f = uniform(g, max(0.0, 1 - saturation), 1 + saturation)
        ops = (
            lambda y: _brightness_official(y, b - 1),
            lambda y: _contrast_official(y, c),
            lambda y: _saturation_official(y, f),
            lambda y: _hue_official(y, h),
        )
        for op in torch.randperm(4, generator=g).tolist():
            x = ops[op](x)
        return (x * 255.0 - mean) / std  # [3, H, W], normalised again
    # [3, H, W] in [0, 1]. The clamp matters: un-normalising a black pixel gives −3e-8, and torchvision's
    # adjust_hue turns values below 0 into NaN (then the contrast step spreads it over the whole image).
    x = ((img * std + mean) / 255.0).clamp(0.0, 1.0)
    for op in torch.randperm(4, generator=g).tolist():
        if op == 0 and brightness > 0:
            x = TF.adjust_brightness(x, uniform(g, max(0.0, 1 - brightness), 1 + brightness))
        elif op == 1 and contrast > 0:
            x = TF.adjust_contrast(x, uniform(g, max(0.0, 1 - contrast), 1 + contrast))
        elif op == 2 and saturation > 0:
            x = TF.adjust_saturation(x, uniform(g, max(0.0, 1 - saturation), 1 + saturation))
        elif op == 3 and hue > 0:
            x = TF.adjust_hue(x, uniform(g, -hue, hue))
    return (x * 255.0 - mean) / std  # [3, H, W], normalised again


def strong_augment(
    images: torch.Tensor,
    generator: torch.Generator | None = None,
    mean: tuple[float, float, float] = IMAGENET_MEAN,
    std: tuple[float, float, float] = IMAGENET_STD,
    jitter_strength: float = 0.2,
    jitter_p: float = 0.8,
    blur_p: float = 0.5,
    blur_sigma: tuple[float, float] = (0.15, 1.15),
    per_batch_coins: bool = False,
    jitter: str = "torchvision",
) -> torch.Tensor:
    """DACS strong augmentation on *normalised* images: colour jitter, then gaussian blur (DAFormer Sec. 3.1).

    Per image (the coins per batch with ``per_batch_coins=True``): with probability ``jitter_p`` (0.8)
    un-normalise to [0, 1], change brightness, contrast, saturation (factors ~ U(1 − s, 1 + s)) and hue
    (shift ~ U(−s, s)), s = ``jitter_strength`` (0.2), in a random order, and normalise back
    (``colour_jitter``); then with probability ``blur_p`` (0.5) blur with σ ~ U(0.15, 1.15) and an odd kernel
    ≈ 0.1 × the image side (``blur_kernel_size``).

    Args:
        images: ``[B, 3, H, W]`` float images normalised with ``mean``/``std`` (0–255 units).
        generator: CPU ``torch.Generator`` for every random draw (``None`` = torch's global one).
        per_batch_coins: ``False`` (default): the jitter and blur coins are tossed for each image.
            ``True`` (official ``mmseg/models/uda/dacs.py``): one jitter coin and one blur coin for the
            whole batch (all images jittered or none, all blurred or none); factors and σ stay per image.
            With ``False`` the coins are drawn as in DACS, image by image (the CPU presets' records).
        jitter: ``"torchvision"`` (default: torchvision's blends for contrast and saturation) or
            ``"official"`` (kornia 0.5.8 as the released code: additive brightness, contrast ``x·c``,
            saturation ``S·f`` in HSV); see ``colour_jitter``.

    Returns a new ``[B, 3, H, W]`` tensor on the same device; labels are untouched by this augmentation.

    Taught in: notebooks/05_pseudo_label_weighting.ipynb
    """
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"strong_augment: images must be [B, 3, H, W], got {tuple(images.shape)}")
    if jitter not in _JITTER_FORMS:
        raise ValueError(f"strong_augment: jitter={jitter!r}; choose one of {_JITTER_FORMS}")
    g = _check_generator(generator)
    s = jitter_strength
    mean_t = torch.tensor(mean, device=images.device, dtype=images.dtype).view(3, 1, 1)  # [3, 1, 1]
    std_t = torch.tensor(std, device=images.device, dtype=images.dtype).view(3, 1, 1)  # [3, 1, 1]
    _, _, H, W = images.shape
    kernel = [blur_kernel_size(W), blur_kernel_size(H)]  # torchvision wants [kx, ky]

    if per_batch_coins:  # official: two coins for the whole batch, tossed before the loop
        jitter_all = torch.rand((), generator=g).item() < jitter_p
        blur_all = torch.rand((), generator=g).item() < blur_p

    out = []
    for img in images:  # img [3, H, W]
        jitter_coin = jitter_all if per_batch_coins else torch.rand((), generator=g).item() < jitter_p
        if jitter_coin:
            img = colour_jitter(img, g, mean_t, std_t, s, s, s, s, jitter=jitter)
        blur_coin = blur_all if per_batch_coins else torch.rand((), generator=g).item() < blur_p
        if blur_coin:
            sigma = uniform(g, *blur_sigma)
            img = TF.gaussian_blur(img, kernel_size=kernel, sigma=[sigma, sigma])
        out.append(img)
    return torch.stack(out)  # [B, 3, H, W]
