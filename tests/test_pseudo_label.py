"""pseudo_label: argmax labels and the confidence weight q_T, checked on hand-worked 2×2 images."""

import math

import pytest
import torch

from daformer_edu.uda.pseudo_label import pseudo_label

L99, L9 = math.log(99.0), math.log(9.0)  # two-class logit gaps giving max probabilities 0.99 and 0.9


def _two_class(gaps):
    """logits [B, 2, H, W] = (gap, 0): p(class 0) = sigmoid(gap)."""
    gaps = torch.tensor(gaps, dtype=torch.float32)  # [B, H, W]
    return torch.stack([gaps, torch.zeros_like(gaps)], dim=1)


def test_hand_worked_per_image_and_per_batch():
    logits = _two_class(
        [
            [[L99, -L9], [-L99, L9]],  # image 0: probs 0.99, 0.9, 0.99, 0.9 -> 2 of 4 above 0.968
            [[L99, L99], [L99, -L99]],  # image 1: all four at 0.99 -> 4 of 4
        ]
    )
    labels, weight = pseudo_label(logits, threshold=0.968)
    assert labels.dtype == torch.long and weight.dtype == torch.float32
    assert labels.tolist() == [[[0, 1], [1, 0]], [[0, 0], [0, 1]]]
    assert torch.allclose(weight, torch.tensor([0.5, 1.0])[:, None, None].expand(2, 2, 2))
    # official: one q_T over the batch = 6 / 8
    _, w_batch = pseudo_label(logits, threshold=0.968, per_image=False)
    assert torch.allclose(w_batch, torch.full((2, 2, 2), 0.75))
    # raising τ above 0.99 leaves no confident pixel
    _, w_high = pseudo_label(logits, threshold=0.995)
    assert torch.equal(w_high, torch.zeros(2, 2, 2))


def test_no_confident_pixel_gives_zero_weight():
    logits = torch.zeros(2, 19, 4, 4)  # uniform: max prob 1/19 everywhere
    labels, weight = pseudo_label(logits)
    assert torch.equal(weight, torch.zeros(2, 4, 4))
    assert labels.shape == (2, 4, 4)
    # τ = 0: every pixel counts as confident
    _, w0 = pseudo_label(logits, threshold=0.0)
    assert torch.equal(w0, torch.ones(2, 4, 4))


def test_ignored_rows_are_zero_but_still_counted_in_q():
    gaps = torch.full((1, 5, 3), -L9)  # 0.9: not confident
    gaps[0, 0] = L99  # only the top row is confident -> q = 3/15 = 0.2
    _, weight = pseudo_label(_two_class(gaps.tolist()), ignore_top=1, ignore_bottom=2)
    expected = torch.tensor([0.0, 0.2, 0.2, 0.0, 0.0])[None, :, None].expand(1, 5, 3)
    assert torch.allclose(weight, expected)


def test_no_gradient_and_bad_input():
    logits = torch.randn(1, 3, 4, 4, requires_grad=True)
    labels, weight = pseudo_label(logits)
    assert not weight.requires_grad and not labels.requires_grad
    with pytest.raises(ValueError, match=r"\[B, C, H, W\]"):
        pseudo_label(torch.randn(3, 4, 4))
    with pytest.raises(ValueError, match="ignore_top"):
        pseudo_label(logits, ignore_top=3, ignore_bottom=2)
    with pytest.raises(ValueError, match="threshold"):
        pseudo_label(logits, threshold=1.5)
