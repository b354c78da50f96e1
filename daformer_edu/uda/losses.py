"""The pixel-weighted cross-entropy of self-training (DAFormer Sec. 3.1, eq. for L_T).

    L_T^(i) = − Σ_j Σ_c q_T^(i) · p_T^(i,j,c) · log g_θ(x_T^(i))^(j,c)

is a cross-entropy against the pseudo-label p_T with a per-pixel weight (q_T on target pixels, 1 on pasted
source pixels after ClassMix, 0 on ignored rows). As in the official code (mmseg's ``cross_entropy`` with
``reduction='mean'`` and a ``weight``), the weighted losses are averaged over *all* pixels — ignored pixels
count in the denominator with loss 0 — instead of the paper's sum over pixels; the two differ by the
constant factor H·W. The same function with ``weight=None`` is the source loss L_S.

Taught in: notebooks/05_pseudo_label_weighting.ipynb
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["weighted_ce"]


def weighted_ce(
    logits: torch.Tensor,
    labels: torch.Tensor,
    weight: torch.Tensor | None = None,
    ignore_index: int = 255,
) -> torch.Tensor:
    """Per-pixel weighted cross-entropy, averaged over all pixels (DAFormer Sec. 3.1, L_S and L_T).

    Args:
        logits: ``[B, C, h, w]``; upsampled bilinearly (``align_corners=False``) to the label size if smaller.
        labels: ``[B, H, W]`` (or ``[B, 1, H, W]``) long, ``ignore_index`` = no loss.
        weight: ``[B, H, W]`` float per-pixel weight (pseudo-label confidence), or ``None`` for weight 1.

    Returns the scalar ``mean_{b,y,x}( weight · CE )`` with CE = 0 on ignored pixels; an all-ignore label
    gives 0, not NaN.

    Taught in: notebooks/05_pseudo_label_weighting.ipynb
    """
    if labels.dim() == 4 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if logits.dim() != 4 or labels.dim() != 3 or logits.shape[0] != labels.shape[0]:
        raise ValueError(
            f"weighted_ce: logits must be [B, C, h, w] and labels [B, H, W], got "
            f"{tuple(logits.shape)} and {tuple(labels.shape)}"
        )
    if logits.shape[-2:] != labels.shape[-2:]:
        logits = F.interpolate(logits, size=labels.shape[-2:], mode="bilinear", align_corners=False)  # [B, C, H, W]
    ce = F.cross_entropy(logits, labels.long(), reduction="none", ignore_index=ignore_index)  # [B, H, W]
    if weight is not None:
        if weight.shape != ce.shape:
            raise ValueError(f"weighted_ce: weight {tuple(weight.shape)} must match the labels {tuple(ce.shape)}")
        ce = ce * weight
    return ce.mean()
