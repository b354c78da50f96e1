"""Label pooling, thing masks and the feature distance, on hand-worked grids."""

import pytest
import torch
from torch import nn

from daformer_edu.uda.fd import downscale_label, feature_distance, frozen_copy, thing_mask

LABEL = torch.tensor(
    [[[0, 0, 1, 1], [0, 1, 1, 1], [2, 2, 255, 255], [2, 2, 255, 3]]]
)  # [1, 4, 4]; 2×2 cells: TL 0 at 3/4, TR 1 at 4/4, BL 2 at 4/4, BR ignore wins


def test_downscale_label_hand_worked():
    assert downscale_label(LABEL, 2, min_ratio=0.75).tolist() == [[[0, 1], [2, 255]]]  # 3/4 ≥ 0.75 is kept
    assert downscale_label(LABEL, 2, min_ratio=0.8).tolist() == [[[255, 1], [2, 255]]]
    assert downscale_label(LABEL, 2, min_ratio=0.0).tolist() == [[[0, 1], [2, 255]]]  # ignore winner stays 255
    assert downscale_label(LABEL[:, None], 2).shape == (1, 1, 2, 2)  # [B, 1, H, W] in, [B, 1, h, w] out
    # one 4×4 cell: shares 0: 3/16, 1: 5/16, 2: 4/16, ignore: 3/16, 3: 1/16 -> class 1 wins with 0.3125
    assert downscale_label(LABEL, 4, min_ratio=0.3).tolist() == [[[1]]]
    assert downscale_label(LABEL, 4, min_ratio=0.32).tolist() == [[[255]]]


def test_downscale_label_all_ignore_and_errors():
    assert downscale_label(torch.full((2, 4, 4), 255), 2).eq(255).all()
    with pytest.raises(ValueError, match="multiple"):
        downscale_label(LABEL, 3)
    with pytest.raises(ValueError, match="outside"):
        downscale_label(torch.full((1, 4, 4), 19), 2)


def _paper_thing_mask(label, scale, r, things):
    """The paper's form: per class c, [AvgPool(y^c) > r] (≥ here, as official), then Σ_c∈things."""
    B, H, W = label.shape
    cells = label.view(B, H // scale, scale, W // scale, scale)
    mask = torch.zeros(B, H // scale, W // scale, dtype=torch.bool)
    for c in things:
        share = (cells == c).float().mean(dim=(2, 4))
        mask |= share >= r
    return mask


def test_thing_mask_hand_worked():
    label = torch.tensor(
        [[[13, 13, 0, 0], [13, 13, 0, 13], [11, 11, 10, 10], [11, 0, 10, 10]]]
    )  # car cell, road cell (3/4 road), person 3/4, sky
    assert thing_mask(label, (2, 2)).tolist() == [[[True, False], [True, False]]]
    assert thing_mask(label, (2, 2), min_ratio=0.9).tolist() == [[[True, False], [False, False]]]
    assert thing_mask(label, (2, 2), thing_classes=(10,)).tolist() == [[[False, False], [False, True]]]


@pytest.mark.parametrize("r", [0.51, 0.6, 0.75, 0.9])
def test_argmax_form_equals_the_paper_threshold_form_for_r_above_half(r):
    g = torch.Generator().manual_seed(0)
    # 4×4 cells of 8×8 px: each cell one class, with the top k rows (k random) painted in a second class,
    # so the winning share runs from 1/2 to 1; then 5 % noise and 5 % ignore pixels
    main = torch.randint(0, 19, (4, 4, 4), generator=g).repeat_interleave(8, 1).repeat_interleave(8, 2)
    other = torch.randint(0, 19, (4, 4, 4), generator=g).repeat_interleave(8, 1).repeat_interleave(8, 2)
    rows = torch.randint(0, 9, (4, 4, 4), generator=g).repeat_interleave(8, 1).repeat_interleave(8, 2)
    in_cell_row = torch.arange(32).remainder(8).view(1, 32, 1)
    label = torch.where(in_cell_row < rows, other, main)  # [4, 32, 32]
    noise = torch.rand(label.shape, generator=g) < 0.05
    label = torch.where(noise, torch.randint(0, 19, label.shape, generator=g), label)
    label[torch.rand(label.shape, generator=g) < 0.05] = 255
    things = (6, 7, 11, 12, 13, 14, 15, 16, 17, 18)
    ours = thing_mask(label, (4, 4), things, min_ratio=r)
    assert torch.equal(ours, _paper_thing_mask(label, 8, r, things))
    assert 0 < ours.sum() < ours.numel()


def test_argmax_and_threshold_forms_differ_below_half():
    label = torch.tensor([[[13, 13, 0], [13, 13, 0], [0, 0, 0]]])  # one 3×3 cell: car 4/9, road 5/9
    assert _paper_thing_mask(label, 3, 0.4, (13,)).item() is True  # car share 0.44 ≥ 0.4 -> thing
    assert thing_mask(label, (1, 1), (13,), min_ratio=0.4).item() is False  # argmax: road wins the cell
    # with r > 0.5 at most one class can pass, so both forms agree again
    assert thing_mask(label, (1, 1), (13,), min_ratio=0.51).item() is False
    assert _paper_thing_mask(label, 3, 0.51, (13,)).item() is False


def test_feature_distance_hand_worked():
    # student - imagenet per cell: (3,4) -> 5, (0,0) -> 0, (6,8) -> 10, (1,0) -> 1
    diff = torch.tensor([[[3.0, 0.0], [6.0, 1.0]], [[4.0, 0.0], [8.0, 0.0]]])[None]  # [1, 2, 2, 2]
    imnet = torch.randn(1, 2, 2, 2)
    student = (imnet + diff).requires_grad_()
    mask = torch.tensor([[[True, False], [True, False]]])
    assert feature_distance(student, imnet, mask).item() == pytest.approx(7.5)  # (5 + 10) / 2
    assert feature_distance(student, imnet).item() == pytest.approx(4.0)  # (5 + 0 + 10 + 1) / 4


def test_feature_distance_batch_pooling_vs_per_image():
    # image 0: cells 5 (masked), 1 (masked), image 1: cell 10 masked -> pooled (5+1+10)/3, per image (3 + 10)/2
    d = torch.zeros(2, 2, 1, 2)
    d[0, 0, 0] = torch.tensor([5.0, 1.0])
    d[1, 0, 0] = torch.tensor([10.0, 7.0])
    mask = torch.tensor([[[True, True]], [[True, False]]])
    zero = torch.zeros_like(d)
    assert feature_distance(d, zero, mask).item() == pytest.approx(16 / 3)
    assert feature_distance(d, zero, mask, per_image=True).item() == pytest.approx(6.5)
    empty_one = torch.tensor([[[False, False]], [[True, False]]])  # image 0 has no thing cell: left out
    assert feature_distance(d, zero, empty_one, per_image=True).item() == pytest.approx(10.0)


def test_empty_mask_gives_zero_without_nan_and_zero_gradient():
    student = torch.randn(2, 8, 2, 2, requires_grad=True)
    imnet = torch.randn(2, 8, 2, 2, requires_grad=True)
    for per_image in (False, True):
        loss = feature_distance(student, imnet, torch.zeros(2, 2, 2, dtype=torch.bool), per_image=per_image)
        assert loss.item() == 0.0 and loss.requires_grad
        loss.backward()
        assert torch.isfinite(student.grad).all() and student.grad.abs().sum() == 0
    assert imnet.grad is None  # the ImageNet side is detached


def test_identical_features_have_finite_gradient():
    x = torch.randn(1, 4, 2, 2)
    student = x.clone().requires_grad_()
    feature_distance(student, x).backward()  # ‖0‖ has no derivative; torch defines it as 0
    assert torch.isfinite(student.grad).all()


def test_frozen_copy():
    enc = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5))
    frozen = frozen_copy(enc)
    assert not frozen.training and all(not p.requires_grad for p in frozen.parameters())
    assert all(p.requires_grad for p in enc.parameters()) and enc.training  # the original is untouched
    with torch.no_grad():
        enc[0].weight.add_(1.0)
    assert not torch.equal(enc[0].weight, frozen[0].weight)  # a copy, not a view
