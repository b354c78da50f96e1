"""Thing-Class ImageNet Feature Distance (DAFormer Sec. 3.3): keep the encoder close to ImageNet on things.

During adaptation the encoder drifts away from its ImageNet features and forgets classes like bus and
train. FD pulls the bottleneck features F_θ (last encoder stage, stride 32) of the *source* image back
towards those of a frozen copy of the initial ImageNet encoder:

    d^(i,j) = ‖F_ImageNet(x_S^(i))^(j) − F_θ(x_S^(i))^(j)‖₂                      (per feature cell j)

but only on cells that show a *thing* class (ImageNet is object-centric; it says little about road or sky):

    L_FD^(i) = Σ_j d^(i,j) · M_things^(i,j) / Σ_j M_things^(i,j),     L = L_S + L_T + λ_FD · L_FD,  λ_FD = 0.005.

M_things comes from the source label pooled to the feature grid: y_S,small^c = [AvgPool(y_S^c, H/H_F) > r]
with r = 0.75, and M = Σ_c y_S,small^c · [c ∈ C_things]. ``downscale_label`` implements the official
argmax form (winner of the pooled one-hot, kept if its share ≥ r); for r > 0.5 at most one class can hold
a share above r, so both forms give the same mask (only an exact share of r differs: > vs ≥).

Gradients: L_FD is computed on the last stage's output, so its gradient reaches every stage of the
student encoder (stage 4 is computed from stages 1–3) and nothing else — not the decode head, not the
frozen copy. "Only the last stage" is where the distance is *measured*, not where it acts.

Paper vs official code:
- ``feature_distance`` averages over all masked cells of the batch (official, and this package's
  contract); ``per_image=True`` averages per image first, then over the images that have a thing cell
  (the paper's L_FD^(i)). ``TrainConfig.fd_form`` ("official" | "paper") picks one for a training run (default: official).
- An empty mask gives 0 here; the official code takes the mean of an empty tensor and logs NaN (its
  gradient is still zero).

Taught in: notebooks/07_thing_mask_pooling.ipynb, notebooks/08_feature_distance.ipynb
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from ..data.classes import IGNORE_INDEX, NUM_CLASSES, THING_CLASSES

__all__ = ["downscale_label", "thing_mask", "feature_distance", "frozen_copy"]


def downscale_label(
    label: torch.Tensor,
    scale: int,
    min_ratio: float = 0.75,
    num_classes: int = NUM_CLASSES,
    ignore_index: int = IGNORE_INDEX,
) -> torch.Tensor:
    """A label map at feature resolution: the class owning ≥ ``min_ratio`` of each scale×scale cell, else ignore.

    One-hot the label (ignore as an extra class C), average-pool with kernel = stride = ``scale`` (the share
    of each class in each cell), take the winner by argmax; cells whose winner is ignore or whose winning
    share is below ``min_ratio`` become ``ignore_index`` (DAFormer Sec. 3.3, y_S,small).

    Args:
        label: ``[B, H, W]`` (or ``[B, 1, H, W]``) long, values in 0..C−1 or ``ignore_index``.
        scale: pooling factor, e.g. 32 for the last MiT stage; H and W must be multiples of it.

    Returns ``[B, H/scale, W/scale]`` long (``[B, 1, h, w]`` for a 4-D input).

    Taught in: notebooks/07_thing_mask_pooling.ipynb
    """
    keep_channel = label.dim() == 4
    if keep_channel:
        if label.shape[1] != 1:
            raise ValueError(f"downscale_label: a 4-D label must be [B, 1, H, W], got {tuple(label.shape)}")
        label = label[:, 0]
    if label.dim() != 3:
        raise ValueError(f"downscale_label: label must be [B, H, W], got {tuple(label.shape)}")
    B, H, W = label.shape
    if scale < 1 or H % scale or W % scale:
        raise ValueError(
            f"downscale_label: label size {H}×{W} is not a multiple of scale={scale}; "
            "crop images to a multiple of the encoder stride (32)"
        )
    label = label.long()
    valid = (label == ignore_index) | ((label >= 0) & (label < num_classes))
    if not valid.all():
        bad = label[~valid].unique()[:5].tolist()
        raise ValueError(f"downscale_label: label holds values {bad} outside 0..{num_classes - 1} and {ignore_index}")

    x = torch.where(label == ignore_index, torch.full_like(label, num_classes), label)  # ignore → class C
    classes = torch.arange(num_classes + 1, device=x.device).view(1, -1, 1, 1)  # [1, C+1, 1, 1]
    one_hot = (x[:, None] == classes).float()  # [B, C+1, H, W]
    share = F.avg_pool2d(one_hot, kernel_size=scale, stride=scale)  # [B, C+1, h, w]  share of each class
    ratio, winner = share.max(dim=1)  # [B, h, w] each
    small = torch.where(
        (winner == num_classes) | (ratio < min_ratio), torch.full_like(winner, ignore_index), winner
    )  # [B, h, w]
    return small[:, None] if keep_channel else small


def thing_mask(
    label: torch.Tensor,
    feature_hw: tuple[int, int],
    thing_classes: tuple[int, ...] = THING_CLASSES,
    min_ratio: float = 0.75,
    num_classes: int = NUM_CLASSES,
    ignore_index: int = IGNORE_INDEX,
) -> torch.Tensor:
    """M_things: feature cells whose pooled label is a thing class (DAFormer Sec. 3.3) → bool ``[B, h, w]``.

    ``feature_hw`` = (h, w) of the feature map (e.g. ``feat.shape[-2:]``); the pooling factor is H / h.
    Thing classes (Cityscapes trainIds): traffic light, traffic sign, person, rider, car, truck, bus, train,
    motorcycle, bicycle = (6, 7, 11, 12, 13, 14, 15, 16, 17, 18).

    Taught in: notebooks/07_thing_mask_pooling.ipynb
    """
    if label.dim() == 4 and label.shape[1] == 1:
        label = label[:, 0]
    if label.dim() != 3:
        raise ValueError(f"thing_mask: label must be [B, H, W], got {tuple(label.shape)}")
    H, W = label.shape[-2:]
    h, w = int(feature_hw[0]), int(feature_hw[1])
    if h <= 0 or w <= 0 or H % h or W % w or H // h != W // w:
        raise ValueError(
            f"thing_mask: label {H}×{W} is not an integer multiple (same in both directions) of the "
            f"feature grid {h}×{w}; crop images to a multiple of the encoder stride"
        )
    small = downscale_label(label, H // h, min_ratio, num_classes, ignore_index)  # [B, h, w]
    things = torch.as_tensor(thing_classes, device=label.device)  # [K]
    return torch.isin(small, things)  # [B, h, w] bool


def feature_distance(
    student_feat: torch.Tensor,
    imagenet_feat: torch.Tensor,
    mask: torch.Tensor | None = None,
    per_image: bool = False,
) -> torch.Tensor:
    """L_FD: mean over masked cells of the per-cell L2 distance ‖F_ImageNet − F_θ‖₂ (not squared) (DAFormer Sec. 3.3).

    Args:
        student_feat: ``[B, C, h, w]`` bottleneck features of the student (gradients flow into it).
        imagenet_feat: ``[B, C, h, w]`` features of the frozen ImageNet encoder (detached here).
        mask: ``[B, h, w]`` bool (``thing_mask``); ``None`` = all cells.
        per_image: ``False`` = one mean over every masked cell of the batch (official); ``True`` = the
            paper's per-image L_FD^(i), averaged over the images that have at least one masked cell.

    Returns a scalar. An empty mask gives exactly 0 — no NaN — still attached to the graph (zero gradient).
    Multiply by λ_FD = 0.005 before adding it to the loss.

    Taught in: notebooks/08_feature_distance.ipynb
    """
    if student_feat.shape != imagenet_feat.shape or student_feat.dim() != 4:
        raise ValueError(
            f"feature_distance: features must both be [B, C, h, w] of one shape, got "
            f"{tuple(student_feat.shape)} and {tuple(imagenet_feat.shape)}"
        )
    d = torch.linalg.vector_norm(student_feat - imagenet_feat.detach(), ord=2, dim=1)  # [B, h, w]
    if mask is None:
        mask = torch.ones_like(d, dtype=torch.bool)
    if mask.dim() == 4 and mask.shape[1] == 1:
        mask = mask[:, 0]
    if mask.shape != d.shape:
        raise ValueError(f"feature_distance: mask {tuple(mask.shape)} must match the feature grid {tuple(d.shape)}")
    m = mask.to(d.dtype)  # [B, h, w]
    if per_image:
        n = m.sum(dim=(1, 2))  # [B]  masked cells per image
        per = (d * m).sum(dim=(1, 2)) / n.clamp(min=1)  # [B]  L_FD^(i) (0 where the mask is empty)
        has = (n > 0).to(d.dtype)  # [B]
        return (per * has).sum() / has.sum().clamp(min=1)
    return (d * m).sum() / m.sum().clamp(min=1)  # empty mask → 0 / 1 = 0


def frozen_copy(encoder: nn.Module) -> nn.Module:
    """The ImageNet teacher for FD: a deep copy of the *initial* encoder, in eval mode, with no gradients.

    Make it before the first training step. Run it under ``torch.no_grad()``; if you store it as a
    submodule of a model that you ``.train()``, call ``.eval()`` on it again before use (``train()``
    propagates to children and would re-enable its dropout / drop-path).

    Taught in: notebooks/08_feature_distance.ipynb
    """
    frozen = copy.deepcopy(encoder)
    frozen.eval()
    frozen.requires_grad_(False)
    return frozen
