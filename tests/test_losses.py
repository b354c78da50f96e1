"""weighted_ce: per-pixel weights, mean over all pixels, upsampling, all-ignore edge case."""

import math

import pytest
import torch
import torch.nn.functional as F

from daformer_edu.uda.losses import weighted_ce


def test_hand_worked_two_pixels():
    # pixel 0: logits (0, 0), label 1 -> CE = ln 2 ; pixel 1: logits (ln 3, 0), label 0 -> CE = -ln(3/4)
    logits = torch.tensor([[[[0.0, math.log(3.0)]], [[0.0, 0.0]]]])  # [1, 2, 1, 2]
    labels = torch.tensor([[[1, 0]]])  # [1, 1, 2]
    weight = torch.tensor([[[0.5, 1.0]]])
    expected = (0.5 * math.log(2) + 1.0 * -math.log(0.75)) / 2  # 0.317115
    assert weighted_ce(logits, labels, weight).item() == pytest.approx(expected, rel=1e-6)
    # ignoring pixel 1 keeps it in the denominator (mean over all pixels, official)
    ignored = torch.tensor([[[1, 255]]])
    assert weighted_ce(logits, ignored, weight).item() == pytest.approx(0.5 * math.log(2) / 2, rel=1e-6)
    # no weight = plain mean CE
    assert weighted_ce(logits, labels).item() == pytest.approx((math.log(2) - math.log(0.75)) / 2, rel=1e-6)


def test_all_ignore_gives_zero_not_nan():
    logits = torch.randn(2, 5, 4, 4, requires_grad=True)
    loss = weighted_ce(logits, torch.full((2, 4, 4), 255), torch.ones(2, 4, 4))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() == 0
    assert torch.isnan(F.cross_entropy(logits, torch.full((2, 4, 4), 255), ignore_index=255))  # what we avoid


def test_logits_are_upsampled_to_the_label_size():
    logits = torch.tensor([2.0, 0.0, -1.0]).view(1, 3, 1, 1)  # constant over space
    labels = torch.tensor([[[0, 1], [2, 0]]])  # [1, 2, 2]
    p = torch.softmax(torch.tensor([2.0, 0.0, -1.0]), 0)
    expected = -(2 * torch.log(p[0]) + torch.log(p[1]) + torch.log(p[2])) / 4
    assert weighted_ce(logits, labels).item() == pytest.approx(expected.item(), rel=1e-6)
    assert weighted_ce(logits, labels[:, None]).item() == pytest.approx(expected.item(), rel=1e-6)  # [B,1,H,W]


def test_shape_errors():
    with pytest.raises(ValueError, match="weight"):
        weighted_ce(torch.randn(1, 3, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long), torch.ones(1, 3, 3))
    with pytest.raises(ValueError, match="labels"):
        weighted_ce(torch.randn(1, 3, 2, 2), torch.zeros(2, 2, dtype=torch.long))
