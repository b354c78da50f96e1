"""Cluster probe, Hungarian matching and unsupervised scores (daformer_edu/unsupervised/probe.py)."""

import numpy as np
import pytest
import torch

from daformer_edu.unsupervised import (
    assign_clusters,
    hungarian_match,
    kmeans_cosine,
    train_linear_probe,
    unsupervised_scores,
)


def test_hungarian_recovers_known_permutation():
    perm = np.array([2, 0, 3, 1])  # cluster c is class perm[c]
    counts = np.full((4, 4), 3.0)
    counts[np.arange(4), perm] = 50.0
    assert hungarian_match(counts).tolist() == perm.tolist()


def test_hungarian_beats_greedy():
    # greedy (largest cell first) takes (0,0)=5 and ends with 5+0+3 = 8; the optimum is 4+4+3 = 11
    counts = np.array([[5, 4, 0], [4, 0, 0], [0, 0, 3]])
    assert hungarian_match(counts).tolist() == [1, 0, 2]


def test_hungarian_more_clusters_than_classes_leaves_one_unmatched():
    counts = torch.tensor([[9, 0], [0, 9], [1, 1]])
    assert hungarian_match(counts).tolist() == [0, 1, -1]


def test_unsupervised_scores_permuted_labels_are_perfect():
    torch.manual_seed(0)
    labels = torch.randint(0, 3, (2, 5, 5))
    labels[0, 0, 0] = 255
    clusters = torch.tensor([2, 0, 1])[labels.clamp(max=2)]  # class k → cluster perm[k]
    r = unsupervised_scores(clusters, labels, num_clusters=3, num_classes=19)
    assert r["miou"] == pytest.approx(100.0) and r["acc"] == pytest.approx(100.0)  # percent
    assert r["assignment"].tolist() == [1, 2, 0]
    assert all(np.isnan(v) for v in r["iou"][3:])


def test_unsupervised_scores_hand_worked():
    labels = torch.tensor([[0, 0, 0, 1, 1, 1]])
    clusters = torch.tensor([[1, 1, 0, 0, 0, 0]])  # cluster 1 → class 0 (2 px), cluster 0 → class 1 (3 px)
    r = unsupervised_scores(clusters, labels, num_clusters=2, num_classes=2)
    # class 0: TP 2, FN 1, FP 0 → 2/3 = 66.67 %; class 1: TP 3, FN 0, FP 1 → 3/4 = 75 %; mIoU 70.83 %
    assert r["iou"] == pytest.approx([200 / 3, 75.0])
    assert r["miou"] == pytest.approx((200 / 3 + 75.0) / 2)
    assert r["acc"] == pytest.approx(500 / 6)  # 5 of 6 pixels


def test_unmatched_cluster_counts_as_wrong():
    labels = torch.tensor([[0, 0, 1, 1]])
    clusters = torch.tensor([[0, 2, 1, 1]])  # cluster 2 (one pixel) has no class left
    r = unsupervised_scores(clusters, labels, num_clusters=3, num_classes=2)
    assert r["acc"] == pytest.approx(75.0)  # 3 of 4 pixels, percent
    assert r["iou"][0] == pytest.approx(50.0)  # TP 1 / (GT 2 + FP 0)


def test_kmeans_cosine_separates_obvious_clusters():
    g = torch.Generator().manual_seed(1)
    dirs = torch.eye(3)  # three orthogonal directions, varying lengths (cosine ignores length)
    truth = torch.randint(0, 3, (300,), generator=g)
    x = dirs[truth] * (0.5 + torch.rand(300, 1, generator=g) * 3) + 0.05 * torch.randn(300, 3, generator=g)
    cent = kmeans_cosine(x, 3, iterations=20, batch_size=64, seed=0)
    assert cent.shape == (3, 3)
    assert torch.allclose(cent.norm(dim=1), torch.ones(3), atol=1e-5)
    pred = assign_clusters(x.T.reshape(1, 3, 1, 300), cent)[0, 0]  # [300]
    for k in range(3):  # each true group lands in one cluster, and the clusters differ
        assert len(pred[truth == k].unique()) == 1
    assert len(pred.unique()) == 3


def test_assign_clusters_upsamples():
    cent = torch.eye(2)
    codes = torch.tensor([[1.0, 0.0], [0.0, 1.0]]).T.reshape(1, 2, 1, 2)  # left → 0, right → 1
    assert assign_clusters(codes, cent, size=(2, 4)).tolist() == [[[0, 0, 1, 1], [0, 0, 1, 1]]]


def test_linear_probe_learns_a_separable_code():
    torch.manual_seed(0)
    labels = torch.randint(0, 3, (8, 4, 4))
    codes = torch.nn.functional.one_hot(labels, 3).permute(0, 3, 1, 2).float() * 2  # [8, 3, 4, 4]
    probe = train_linear_probe(codes, labels, num_classes=3, iterations=100, lr=0.1)
    assert (probe(codes).argmax(1) == labels).float().mean() == 1.0


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="k=5"):
        kmeans_cosine(torch.randn(3, 2), 5)
    with pytest.raises(ValueError, match="differ"):
        unsupervised_scores(torch.zeros(2, 2, dtype=torch.long), torch.zeros(2, 3, dtype=torch.long), 2)
