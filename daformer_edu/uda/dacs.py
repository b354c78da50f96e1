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
  given classes it does not contain and paste less than half of its classes. ``TrainConfig.classmix_batch_pool``
  picks one for a training run (default: the paper's; ``gpu-full``: the official).
- Ignore (255) is never a candidate here; the official code counts it as a class, so it sometimes pastes
  the source's unlabelled pixels (they then carry label 255 and are ignored by the loss).
- ``strong_augment(per_batch_coins=False)`` (default) tosses the jitter and blur coins per image.
  ``per_batch_coins=True`` (official code): ``DACS.forward_train`` draws ``color_jitter`` and ``blur`` once
  per batch (``random.uniform(0, 1)`` before its loop over the images), so either every image of the batch
  is jittered / blurred or none is; the jitter factors and blur σ are still drawn afresh per image.
  ``TrainConfig.augment_coins_per_batch`` picks one for a training run (default: per image; ``gpu-full``: per batch).
- Jitter/blur come from ``torchvision.transforms.v2.functional`` (the official code uses kornia, whose
  brightness was additive in old versions; torchvision's is multiplicative).

All randomness comes from an explicit ``torch.Generator`` so runs are reproducible and resumable.

Taught in: notebooks/05_pseudo_label_weighting.ipynb
"""
from __future__ import annotations

import math

import torch
import torchvision.transforms.v2.functional as TF

from ..data.transforms import IMAGENET_MEAN, IMAGENET_STD

__all__ = ["classmix_masks", "mix", "strong_augment", "blur_kernel_size"]

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


def _uniform(g: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * torch.rand((), generator=g).item()


def _colour_jitter(img: torch.Tensor, g: torch.Generator, mean: torch.Tensor, std: torch.Tensor,
                   brightness: float, contrast: float, saturation: float, hue: float) -> torch.Tensor:
    """torchvision's ColorJitter on one normalised image ``[3, H, W]`` (also used by BlindNet's views).

    Factors ~ U(max(0, 1 − s), 1 + s) for brightness, contrast and saturation, a hue shift ~ U(−h, h), the four
    in a random order; an op of strength 0 is skipped. ``mean``/``std`` are ``[3, 1, 1]`` in 0–255 units.
    """
    # [3, H, W] in [0, 1]. The clamp matters: un-normalising a black pixel gives −3e-8, and torchvision's
    # adjust_hue turns values below 0 into NaN (then the contrast step spreads it over the whole image).
    x = ((img * std + mean) / 255.0).clamp(0.0, 1.0)
    for op in torch.randperm(4, generator=g).tolist():
        if op == 0 and brightness > 0:
            x = TF.adjust_brightness(x, _uniform(g, max(0.0, 1 - brightness), 1 + brightness))
        elif op == 1 and contrast > 0:
            x = TF.adjust_contrast(x, _uniform(g, max(0.0, 1 - contrast), 1 + contrast))
        elif op == 2 and saturation > 0:
            x = TF.adjust_saturation(x, _uniform(g, max(0.0, 1 - saturation), 1 + saturation))
        elif op == 3 and hue > 0:
            x = TF.adjust_hue(x, _uniform(g, -hue, hue))
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
) -> torch.Tensor:
    """DACS strong augmentation on *normalised* images: colour jitter, then gaussian blur (DAFormer Sec. 3.1).

    Per image (the coins per batch with ``per_batch_coins=True``): with probability ``jitter_p`` (0.8)
    un-normalise to [0, 1], change brightness, contrast, saturation (factors ~ U(1 − s, 1 + s)) and hue
    (shift ~ U(−s, s)), s = ``jitter_strength`` (0.2), in a random order, and normalise back; then with
    probability ``blur_p`` (0.5) blur with σ ~ U(0.15, 1.15) and an odd kernel ≈ 0.1 × the image side
    (``blur_kernel_size``).

    Args:
        images: ``[B, 3, H, W]`` float images normalised with ``mean``/``std`` (0–255 units).
        generator: CPU ``torch.Generator`` for every random draw (``None`` = torch's global one).
        per_batch_coins: ``False`` (default): the jitter and blur coins are tossed for each image.
            ``True`` (official ``mmseg/models/uda/dacs.py``): one jitter coin and one blur coin for the
            whole batch (all images jittered or none, all blurred or none); factors and σ stay per image.
            With ``False`` the draws are those of earlier versions, so old runs replay unchanged.

    Returns a new ``[B, 3, H, W]`` tensor on the same device; labels are untouched by this augmentation.

    Taught in: notebooks/05_pseudo_label_weighting.ipynb
    """
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"strong_augment: images must be [B, 3, H, W], got {tuple(images.shape)}")
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
        jitter = jitter_all if per_batch_coins else torch.rand((), generator=g).item() < jitter_p
        if jitter:
            img = _colour_jitter(img, g, mean_t, std_t, s, s, s, s)
        blur = blur_all if per_batch_coins else torch.rand((), generator=g).item() < blur_p
        if blur:
            sigma = _uniform(g, *blur_sigma)
            img = TF.gaussian_blur(img, kernel_size=kernel, sigma=[sigma, sigma])
        out.append(img)
    return torch.stack(out)  # [B, 3, H, W]
