"""BlindNet's losses against hand-worked examples (numbers written out, not recomputed by the code under test)."""

import math

import torch
import torch.nn.functional as F

from daformer_edu.dg.losses import (
    class_wise_contrastive_loss,
    covariance_matching_loss,
    covariance_matrix,
    cross_covariance_loss,
    cross_covariance_matrix,
    info_nce,
    instance_normalize,
    sample_class_anchors,
    semantic_disentanglement_contrastive_loss,
)

S3 = math.sqrt(3.0)


def _map(ch0, ch1):
    """A 2×2×2 map (C=2, H=W=2) from two channels given as 4 values in raster order → [1, 2, 2, 2]."""
    return torch.tensor([ch0, ch1], dtype=torch.float64).reshape(1, 2, 2, 2)


# F: channel 0 = [1, 3, 1, 3] (mean 2, biased var 1), channel 1 = [0, 4, 4, 4] (mean 3, var 3)
F_ORIG = _map([1, 3, 1, 3], [0, 4, 4, 4])
# F_a: channel 0 = [1, 3, 1, 3], channel 1 = [0, 0, 4, 4] (mean 2, var 4)
F_AUG = _map([1, 3, 1, 3], [0, 0, 4, 4])


def test_instance_normalize_by_hand():
    got = instance_normalize(F_ORIG, eps=0.0)
    want = torch.tensor([[[-1, 1, -1, 1], [-S3, 1 / S3, 1 / S3, 1 / S3]]], dtype=torch.float64)
    assert got.shape == (1, 2, 4)
    torch.testing.assert_close(got, want)
    # with eps it is torch's instance_norm (no affine)
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    torch.testing.assert_close(instance_normalize(x), F.instance_norm(x, eps=1e-5).flatten(2))


def test_covariance_of_a_2x2x2_map_by_hand():
    # F̄ F̄ᵀ / (HW − 1): diagonal 4/3, off-diagonal (√3 + 1/√3)/3 = 4/(3√3)
    cov = covariance_matrix(instance_normalize(F_ORIG, eps=0.0), eps=0.0)
    want = torch.tensor([[[4 / 3, 4 / (3 * S3)], [4 / (3 * S3), 4 / 3]]], dtype=torch.float64)
    torch.testing.assert_close(cov, want)
    # + ε·I only on the diagonal
    cov_eps = covariance_matrix(instance_normalize(F_ORIG, eps=0.0), eps=0.5)
    torch.testing.assert_close(cov_eps - cov, 0.5 * torch.eye(2, dtype=torch.float64)[None])


def test_cml_by_hand_and_original_is_detached():
    # Σ(F̄_a) = diag(4/3, 4/3): the two matrices differ in the two off-diagonal entries by 4/(3√3)
    f = F_ORIG.clone().requires_grad_(True)
    fa = F_AUG.clone().requires_grad_(True)
    loss = covariance_matching_loss([f], [fa], eps=0.0)
    torch.testing.assert_close(loss, torch.tensor(2 * (4 / (3 * S3)) ** 2 / 4, dtype=torch.float64))
    assert abs(loss.item() - 8 / 27) < 1e-12
    loss.backward()
    assert f.grad is None and fa.grad is not None  # the original view's covariance is the (fixed) target
    # same map: zero; two levels: the mean of the levels
    assert covariance_matching_loss(F_ORIG, F_ORIG, eps=0.0).item() < 1e-20
    two = covariance_matching_loss([F_ORIG, F_ORIG], [F_AUG, F_ORIG], eps=0.0)
    assert abs(two.item() - 4 / 27) < 1e-12


def test_ccl_by_hand():
    # diag(F̄ F̄_aᵀ)/3 = (4/3, (√3 + 1/√3)/3 = 4/(3√3))
    cross = cross_covariance_matrix(instance_normalize(F_ORIG, eps=0.0), instance_normalize(F_AUG, eps=0.0))
    torch.testing.assert_close(torch.diagonal(cross[0]), torch.tensor([4 / 3, 4 / (3 * S3)], dtype=torch.float64))
    loss = cross_covariance_loss(F_ORIG, F_AUG, eps=0.0)
    want = ((4 / 3 - 1) ** 2 + (4 / (3 * S3) - 1) ** 2) / 2
    assert abs(loss.item() - want) < 1e-12


def test_ccl_ignores_off_diagonal_changes():
    # Channel 1 of the augmented view becomes [0, 4, 0, 4] → F̄_a1 = [-1, 1, -1, 1]: its product with
    # F̄_1 = [-√3, 1/√3, 1/√3, 1/√3] is still 4/√3 (same diagonal) but with F̄_0 = [-1, 1, -1, 1] it is 4, not 0.
    f_aug2 = _map([1, 3, 1, 3], [0, 4, 0, 4])
    c1 = cross_covariance_matrix(instance_normalize(F_ORIG, eps=0.0), instance_normalize(F_AUG, eps=0.0))[0]
    c2 = cross_covariance_matrix(instance_normalize(F_ORIG, eps=0.0), instance_normalize(f_aug2, eps=0.0))[0]
    assert abs(c1[0, 1].item() - 0.0) < 1e-12 and abs(c2[0, 1].item() - 4 / 3) < 1e-12  # off-diagonal moved
    torch.testing.assert_close(torch.diagonal(c1), torch.diagonal(c2))  # diagonal did not
    l1 = cross_covariance_loss(F_ORIG, F_AUG, eps=0.0)
    l2 = cross_covariance_loss(F_ORIG, f_aug2, eps=0.0)
    assert abs(l1.item() - l2.item()) < 1e-12
    # while CML (full matrix) does see the change
    assert (
        covariance_matching_loss(F_ORIG, f_aug2, eps=0.0).item()
        != covariance_matching_loss(F_ORIG, F_AUG, eps=0.0).item()
    )


def test_info_nce_one_positive_two_negatives_by_hand():
    a = torch.tensor([[1.0, 0.0]])
    p = torch.tensor([[0.6, 0.8]])
    n = torch.tensor([[0.0, 1.0], [-1.0, 0.0]])
    # a·p = 0.6, a·n1 = 0, a·n2 = −1; τ = 0.5 → −log(e^1.2 / (e^1.2 + e^0 + e^−2)) = log(1 + e^−1.2 + e^−3.2)
    got = info_nce(a, p, n, temperature=0.5)
    assert abs(got.item() - math.log(1 + math.exp(-1.2) + math.exp(-3.2))) < 1e-6
    # masking the second negative removes its term
    got = info_nce(a, p, n, temperature=0.5, negative_mask=torch.tensor([[True, False]]))
    assert abs(got.item() - math.log(1 + math.exp(-1.2))) < 1e-6
    # per-anchor negatives [N, M, D] give the same
    assert abs(info_nce(a, p, n[None], temperature=0.5).item() - math.log(1 + math.exp(-1.2) + math.exp(-3.2))) < 1e-6
    # no negative at all: a zero that still has a graph
    a2 = a.clone().requires_grad_(True)
    z = info_nce(a2, p, n, negative_mask=torch.zeros(1, 2, dtype=torch.bool))
    assert z.item() == 0.0 and z.requires_grad


def test_cwcl_anchor_selection_half_hard_half_easy():
    # 1×2×3 grid, raster index:  0 1 2 / 3 4 5
    label = torch.tensor([[[0, 0, 0], [1, 1, 2]]])
    pred = torch.tensor([[[0, 1, 0], [1, 0, 2]]])  # wrong at 1 (class 0) and 4 (class 1)
    g = torch.Generator().manual_seed(0)
    index, cls = sample_class_anchors(label, pred, samples_per_class=2, generator=g)
    by_class = {c: set(index[cls == c].tolist()) for c in (0, 1, 2)}
    assert 1 in by_class[0] and len(by_class[0]) == 2 and by_class[0] <= {0, 1, 2}  # 1 hard + 1 easy
    assert by_class[1] == {3, 4}
    assert by_class[2] == {5}  # fewer pixels than asked: all of them
    # max_classes keeps only that many classes
    _, cls1 = sample_class_anchors(label, pred, max_classes=1, samples_per_class=2, generator=g)
    assert len(set(cls1.tolist())) == 1
    # no easy pixel: hard ones fill in; ignore (255) is never a class
    label2 = torch.tensor([[[3, 3, 3, 255]]])
    pred2 = torch.tensor([[[0, 0, 0, 3]]])
    index2, cls2 = sample_class_anchors(label2, pred2, samples_per_class=2, generator=g)
    assert len(index2) == 2 and set(index2.tolist()) <= {0, 1, 2} and set(cls2.tolist()) == {3}


def _unit(v):
    return F.normalize(torch.tensor(v, dtype=torch.float64), dim=-1)


def test_cwcl_loss_by_hand():
    # one pixel per class (labels 0, 1, 2): every sample is the other two's negative
    emb = _unit([[1.0, 0.0], [0.0, 1.0], [-1.0, 1.0]])  # original view, pixels 0..2
    emb_aug = _unit([[1.0, 0.2], [0.3, 1.0], [-1.0, 0.0]])
    E = emb.t().reshape(1, 2, 1, 3)
    Ea = emb_aug.t().reshape(1, 2, 1, 3).clone().requires_grad_(True)
    E = E.clone().requires_grad_(True)
    label = torch.tensor([[[0, 1, 2]]])
    tau = 0.1
    got = class_wise_contrastive_loss(
        E, Ea, label, label, temperature=tau, samples_per_class=1, generator=torch.Generator().manual_seed(0)
    )
    want = 0.0
    for i in range(3):
        pos = math.exp(float(emb_aug[i] @ emb[i]) / tau)
        neg = sum(math.exp(float(emb_aug[i] @ emb[j]) / tau) for j in range(3) if j != i)
        want += -math.log(pos / (pos + neg)) / 3
    assert abs(got.item() - want) < 1e-9
    got.backward()
    assert E.grad is None and Ea.grad is not None  # positives/negatives are detached


def test_sdcl_anchor_and_negatives_by_hand():
    # 1×1×4 grid, GT 0 0 1 1; the original view is right everywhere, the style view calls pixel 1 "class 1"
    label = torch.tensor([[[0, 0, 1, 1]]])
    pred = torch.tensor([[[0, 0, 1, 1]]])
    pred_aug = torch.tensor([[[0, 1, 1, 1]]])
    emb = _unit([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 1.0]])
    emb_aug = _unit([[1.0, 0.1], [0.5, 0.5], [0.2, 1.0], [0.0, 1.0]])
    E, Ea = emb.t().reshape(1, 2, 1, 4), emb_aug.t().reshape(1, 2, 1, 4)
    tau = 0.07
    got = semantic_disentanglement_contrastive_loss(
        E, Ea, label, pred, pred_aug, temperature=tau, generator=torch.Generator().manual_seed(0)
    )
    # the one anchor is pixel 1; positive = emb[1]; negatives = emb_aug at GT == 1 (pixels 2, 3)
    pos = math.exp(float(emb_aug[1] @ emb[1]) / tau)
    neg = math.exp(float(emb_aug[1] @ emb_aug[2]) / tau) + math.exp(float(emb_aug[1] @ emb_aug[3]) / tau)
    assert abs(got.item() - (-math.log(pos / (pos + neg)))) < 1e-9
    # if the original view is wrong there too, pixel 1 is no anchor → no loss
    pred_wrong = torch.tensor([[[0, 1, 1, 1]]])
    assert semantic_disentanglement_contrastive_loss(E, Ea, label, pred_wrong, pred_aug).item() == 0.0
    # a confusion with a class that has no GT pixel in the batch gives no negative → no loss
    pred_aug5 = torch.tensor([[[0, 5, 1, 1]]])
    assert semantic_disentanglement_contrastive_loss(E, Ea, label, pred, pred_aug5).item() == 0.0


def test_bad_shapes_raise_clear_errors():
    import pytest

    with pytest.raises(ValueError, match="B, C, H, W"):
        instance_normalize(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="differ"):
        covariance_matching_loss(torch.zeros(1, 2, 2, 2), torch.zeros(1, 2, 4, 4))
    with pytest.raises(ValueError, match="nearest"):
        class_wise_contrastive_loss(
            torch.zeros(1, 2, 2, 2), torch.zeros(1, 2, 2, 2), torch.zeros(1, 4, 4).long(), torch.zeros(1, 4, 4).long()
        )


# --- BlindNet's official sampling rules ------------------------------------------------------------------------


def test_cwcl_per_image_skips_classes_with_at_most_50_pixels():
    # official _hard_anchor_sampling: a class is used iff it has MORE than max_views (50) pixels in that image
    label = torch.full((2, 10, 12), 255)  # 120 pixels per image, raster order below
    label[0].view(-1)[:50] = 1  # image 0: class 1 has exactly 50 pixels → skipped
    label[0].view(-1)[50:101] = 2  # image 0: class 2 has 51 pixels → kept
    label[0].view(-1)[101:110] = 4  # image 0: class 4, 9 pixels
    label[0].view(-1)[110:] = 3  # image 0: class 3, 10 pixels ...
    label[1].view(-1)[:45] = 3  # ... and 45 in image 1: 55 in the batch, but ≤ 50 in each image → skipped
    pred = label.clone()
    g = torch.Generator().manual_seed(0)
    index, cls = sample_class_anchors(label, pred, samples_per_class=50, generator=g, per_image=True)
    assert set(cls.tolist()) == {2} and len(index) == 50
    assert set(index.tolist()) <= set(range(50, 101))  # all in image 0, class 2
    # with 49 samples per class, class 1 (50 pixels > 49) is kept too; 3 and 4 never reach it
    index, cls = sample_class_anchors(label, pred, samples_per_class=49, generator=g, per_image=True)
    assert sorted(set(cls.tolist())) == [1, 2] and len(index) == 98
    # the simplified rule (over the batch, no threshold) takes every class
    _, cls_b = sample_class_anchors(label, pred, samples_per_class=50, generator=g)
    assert set(cls_b.tolist()) == {1, 2, 3, 4}


def test_cwcl_per_image_negatives_come_from_the_same_image():
    # two images of 1×3 pixels, classes 0 1 0 | 1 0 1; per image every pixel with > 0 samples... use n = 1:
    # classes need > 1 pixel: image 0 keeps class 0 (pixels 0, 2), image 1 keeps class 1 (pixels 3, 5)
    emb = _unit([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8], [-1.0, 0.2], [0.3, -1.0], [0.5, 0.5]])
    emb_aug = _unit([[0.9, 0.1], [0.1, 1.0], [0.5, 0.9], [-1.0, 0.0], [0.2, -1.0], [0.4, 0.6]])
    E = emb.t().reshape(2, 2, 1, 3).transpose(0, 1).contiguous()  # [B=2, D=2, 1, 3]
    Ea = emb_aug.t().reshape(2, 2, 1, 3).transpose(0, 1).contiguous()
    label = torch.tensor([[[0, 1, 0]], [[1, 0, 1]]])
    got = class_wise_contrastive_loss(
        E,
        Ea,
        label,
        label,
        temperature=0.1,
        samples_per_class=1,
        generator=torch.Generator().manual_seed(0),
        per_image=True,
    )
    # samples: one pixel of class 0 in image 0 (0 or 2), one of class 1 in image 1 (3 or 5): each is alone in
    # its image, so no anchor has a negative → the loss is 0 (batch-wide it would see the other image's sample)
    assert got.item() == 0.0
    batch = class_wise_contrastive_loss(
        E, Ea, label, label, temperature=0.1, samples_per_class=1, generator=torch.Generator().manual_seed(0)
    )
    assert batch.item() > 0.0


def test_sdcl_negatives_receive_a_gradient():
    label = torch.tensor([[[0, 0, 1, 1]]])
    pred = torch.tensor([[[0, 0, 1, 1]]])
    pred_aug = torch.tensor([[[0, 1, 1, 1]]])
    emb = _unit([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 1.0]])
    emb_aug = _unit([[1.0, 0.1], [0.5, 0.5], [0.2, 1.0], [0.0, 1.0]])
    tau = 0.07
    Ea = emb_aug.t().reshape(1, 2, 1, 4).clone().requires_grad_(True)
    got = semantic_disentanglement_contrastive_loss(
        emb.t().reshape(1, 2, 1, 4), Ea, label, pred, pred_aug, temperature=tau, detach_negatives=False
    )
    got.backward()
    # the same loss written out on leaf vectors: anchor a = emb_aug[1], negatives n2, n3 = emb_aug[2], emb_aug[3]
    a, n2, n3 = (emb_aug[i].clone().requires_grad_(True) for i in (1, 2, 3))
    pos = torch.exp(a @ emb[1] / tau)
    want = -torch.log(pos / (pos + torch.exp(a @ n2 / tau) + torch.exp(a @ n3 / tau)))
    want.backward()
    grad = Ea.grad[0, :, 0, :].t()  # [4, D]
    assert abs(got.item() - want.item()) < 1e-9
    torch.testing.assert_close(grad[2], n2.grad)  # the negatives get their gradient
    torch.testing.assert_close(grad[3], n3.grad)
    assert n2.grad.abs().sum() > 0


def test_sdcl_per_image_negatives_and_min_count():
    # image 0: GT 0 0 1 1 1, pixel 1 confused into class 1 (3 pixels of GT 1 in image 0)
    # image 1: GT 0 0 1 0 0, pixel 1 confused into class 1 (only 1 pixel of GT 1 in image 1 → skipped with n = 2)
    label = torch.tensor([[[0, 0, 1, 1, 1]], [[0, 0, 1, 0, 0]]])
    pred = label.clone()
    pred_aug = label.clone()
    pred_aug[:, 0, 1] = 1
    g = torch.Generator().manual_seed(0)
    vec = F.normalize(torch.randn(10, 3, generator=g, dtype=torch.float64), dim=1)
    vec_aug = F.normalize(torch.randn(10, 3, generator=g, dtype=torch.float64), dim=1)
    E = vec.reshape(2, 1, 5, 3).permute(0, 3, 1, 2)  # [2, 3, 1, 5]
    Ea = vec_aug.reshape(2, 1, 5, 3).permute(0, 3, 1, 2)
    tau = 0.5
    got = semantic_disentanglement_contrastive_loss(
        E,
        Ea,
        label,
        pred,
        pred_aug,
        temperature=tau,
        max_anchors=100,
        negatives_per_class=3,
        per_image=True,
        generator=torch.Generator().manual_seed(0),
    )
    # one anchor (pixel 1 of image 0); its negatives: the 3 GT-1 pixels of image 0 (2, 3, 4); image 1 adds none
    a = vec_aug[1]
    logits = torch.stack([a @ vec[1]] + [a @ vec_aug[j] for j in (2, 3, 4)]) / tau
    assert abs(got.item() - (torch.logsumexp(logits, 0) - logits[0]).item()) < 1e-9
    # batch-wide (the simplified rule) the anchor of image 1 would count too, with image 0's pixels as negatives
    both = semantic_disentanglement_contrastive_loss(
        E, Ea, label, pred, pred_aug, temperature=tau, negatives_per_class=10
    )
    a1 = vec_aug[6]
    l1 = torch.stack([a1 @ vec[6]] + [a1 @ vec_aug[j] for j in (2, 3, 4, 7)]) / tau
    l0 = torch.stack([a @ vec[1]] + [a @ vec_aug[j] for j in (2, 3, 4, 7)]) / tau
    want = ((torch.logsumexp(l0, 0) - l0[0]) + (torch.logsumexp(l1, 0) - l1[0])) / 2
    assert abs(both.item() - want.item()) < 1e-9


def test_ccl_can_detach_the_original_view():
    f = F_ORIG.clone().requires_grad_(True)
    fa = F_AUG.clone().requires_grad_(True)
    cross_covariance_loss(f, fa, detach_original=True).backward()
    assert f.grad is None and fa.grad is not None and fa.grad.abs().sum() > 0
