"""Pseudo-labels and their confidence weight q_T (DAFormer Sec. 3.1, from DACS).

The teacher h_φ looks at an *un-augmented* target image. Every pixel gets the teacher's most likely class

    p_T^(i,j,c) = [c = argmax_c' h_φ(x_T^(i))^(j,c')]

and the whole image gets one weight, the share of pixels the teacher is sure about,

    q_T^(i) = Σ_j [max_c' h_φ(x_T^(i))^(j,c') > τ] / (H·W),        τ = 0.968.

The target loss is then the cross-entropy with p_T, weighted by q_T (see ``losses.weighted_ce``).

Paper vs official code (both available here):
- ``per_image=True`` (default, the paper): one q_T per image, as the equation above.
  ``per_image=False`` (official code): one scalar over the whole batch.
- The official code compares with ``>=`` instead of ``>``; for float probabilities the two only differ
  on exact ties, so we keep the paper's ``>``.
- ``ignore_top`` / ``ignore_bottom`` exist only in the official code (Cityscapes: 15 and 120 rows of a
  512 crop, where the ego-car bonnet and rectification borders make pseudo-labels drift). q_T is counted
  *before* those rows are zeroed, as the official code does.

Taught in: notebooks/05_pseudo_label_weighting.ipynb
"""

from __future__ import annotations

import torch

__all__ = ["pseudo_label"]


@torch.no_grad()
def pseudo_label(
    teacher_logits: torch.Tensor,
    threshold: float = 0.968,
    per_image: bool = True,
    ignore_top: int = 0,
    ignore_bottom: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pseudo-labels p_T and per-pixel weights q_T from the teacher's logits (DAFormer Sec. 3.1).

    Args:
        teacher_logits: ``[B, C, H, W]`` raw scores of the teacher at label resolution (upsample the
            model's output to the image size first, as the official ``encode_decode`` does).
        threshold: τ; a pixel counts as confident when its max softmax probability is ``> τ``.
        per_image: ``True`` = q_T^(i) per image (paper); ``False`` = one q_T for the whole batch (official code).
        ignore_top, ignore_bottom: rows ``[:ignore_top]`` and ``[H-ignore_bottom:]`` get weight 0.

    Returns:
        ``(labels, weight)``: labels ``[B, H, W]`` long (argmax of the softmax), weight ``[B, H, W]`` float,
        equal to q_T everywhere except the ignored rows. No gradient flows (the teacher is not trained).

    Taught in: notebooks/05_pseudo_label_weighting.ipynb
    """
    if teacher_logits.dim() != 4:
        raise ValueError(
            f"pseudo_label: teacher_logits must be [B, C, H, W], got shape {tuple(teacher_logits.shape)}; "
            "add a batch dimension with .unsqueeze(0) for a single image"
        )
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"pseudo_label: threshold τ={threshold} must lie in [0, 1) (the paper uses 0.968)")
    B, _, H, W = teacher_logits.shape
    if ignore_top < 0 or ignore_bottom < 0 or ignore_top + ignore_bottom > H:
        raise ValueError(
            f"pseudo_label: ignore_top={ignore_top} and ignore_bottom={ignore_bottom} must be ≥ 0 and "
            f"together at most the image height H={H}"
        )

    probs = torch.softmax(teacher_logits.detach().float(), dim=1)  # [B, C, H, W]
    max_prob, labels = probs.max(dim=1)  # [B, H, W] each
    confident = (max_prob > threshold).float()  # [B, H, W]  the Iverson bracket of q_T

    if per_image:
        q = confident.mean(dim=(1, 2))  # [B]  q_T^(i)
    else:
        q = confident.mean().expand(B)  # [B]  one value for the batch (official)
    weight = q[:, None, None].expand(B, H, W).clone()  # [B, H, W]

    if ignore_top > 0:
        weight[:, :ignore_top, :] = 0.0
    if ignore_bottom > 0:
        weight[:, H - ignore_bottom :, :] = 0.0
    return labels, weight
