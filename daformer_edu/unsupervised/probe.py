"""Reading out an unsupervised code: a cluster probe, a linear probe, and Hungarian-matched scores.

A STEGO code has no class names. Two probes turn it into a segmentation (STEGO §4):

- **cluster probe** (no labels): minibatch k-means with cosine distance on the code vectors. Cluster ids are
  arbitrary, so they are matched one-to-one to classes by the **Hungarian algorithm**: with
  ``M[c, k]`` = pixels of cluster c whose label is class k, pick the permutation π maximising
  ``Σ_c M[c, π(c)]`` (``scipy.optimize.linear_sum_assignment``). Then mIoU and pixel accuracy as usual, in percent.
  The labels are used *only* to name the clusters, after training — this is "unsupervised mIoU".
- **linear probe** (uses labels): a 1×1 conv from the code to the classes, trained with cross-entropy on
  frozen codes. It measures how much class information is linearly present, not an unsupervised result.

Taught in: notebooks/11_unsupervised_stego.ipynb
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..metrics import confusion_matrix

__all__ = [
    "kmeans_cosine",
    "assign_clusters",
    "hungarian_match",
    "unsupervised_scores",
    "train_linear_probe",
]


def _flatten_codes(codes: torch.Tensor) -> torch.Tensor:
    if codes.dim() == 4:
        return codes.permute(0, 2, 3, 1).reshape(-1, codes.shape[1])  # [B·h·w, D]
    if codes.dim() == 2:
        return codes
    raise ValueError(f"codes must be [N, D] or [B, D, h, w], got shape {tuple(codes.shape)}")


def kmeans_cosine(
    codes: torch.Tensor, k: int, iterations: int = 100, batch_size: int = 1024, seed: int = 0
) -> torch.Tensor:
    """Minibatch k-means on the unit sphere (cosine distance): returns ``k`` unit centroids ``[k, D]``.

    ``codes`` ``[N, D]`` or ``[B, D, h, w]``. Init: k-means++ on cosine distance ``1 − cos`` (seeded).
    Step (Sculley 2010): draw a minibatch, assign each vector to the centroid of highest cosine, move each
    centroid towards its vectors with a per-centroid rate 1/count, renormalise. Deterministic given ``seed``.

    Taught in: notebooks/11_unsupervised_stego.ipynb
    """
    x = F.normalize(_flatten_codes(codes).detach().double(), dim=1)  # [N, D]
    n = x.shape[0]
    if not 1 <= k <= n:
        raise ValueError(f"kmeans_cosine: k={k} must be in [1, N={n}]")
    gen = torch.Generator().manual_seed(seed)
    # k-means++ on a subset: the next centre is drawn with probability ∝ distance² to the nearest centre
    sub = x[torch.randperm(n, generator=gen)[: min(n, 20 * k + batch_size)]]  # [n', D]
    cent = [sub[torch.randint(len(sub), (1,), generator=gen)].squeeze(0)]
    for _ in range(1, k):
        d = (1 - sub @ torch.stack(cent).T).clamp_min(0).min(dim=1).values  # [n']
        p = d**2
        if float(p.sum()) <= 0:
            p = torch.ones_like(p)
        cent.append(sub[torch.multinomial(p, 1, generator=gen)].squeeze(0))
    cent = torch.stack(cent)  # [k, D]
    counts = torch.zeros(k, dtype=torch.float64)
    for _ in range(iterations):
        batch = x[torch.randint(n, (min(batch_size, n),), generator=gen)]  # [b, D]
        assign = (batch @ cent.T).argmax(dim=1)  # [b]
        for c in assign.unique():
            members = batch[assign == c]
            counts[c] += len(members)
            eta = len(members) / counts[c]
            cent[c] = (1 - eta) * cent[c] + eta * members.mean(dim=0)
        cent = F.normalize(cent, dim=1)
    return cent.float()


def assign_clusters(codes: torch.Tensor, centroids: torch.Tensor, size: tuple[int, int] | None = None) -> torch.Tensor:
    """Cluster map: the centroid of highest cosine similarity per pixel. ``codes`` ``[B, D, h, w]`` →
    ``[B, h, w]`` long, or at ``size=(H, W)`` when given (the cosine scores are upsampled bilinearly first).

    Taught in: notebooks/11_unsupervised_stego.ipynb
    """
    scores = torch.einsum("bdhw,kd->bkhw", F.normalize(codes, dim=1), F.normalize(centroids.to(codes), dim=1))
    if size is not None and tuple(scores.shape[-2:]) != tuple(size):
        scores = F.interpolate(scores, size=tuple(size), mode="bilinear", align_corners=False)  # [B, k, H, W]
    return scores.argmax(dim=1)


def hungarian_match(counts) -> np.ndarray:
    """One-to-one cluster → class assignment maximising matched pixels: ``counts`` ``[n_clusters, n_classes]``
    (``counts[c, k]`` = pixels of cluster c labelled k) → int array ``[n_clusters]``, the class of each cluster
    (−1 for clusters left over when there are more clusters than classes).

    ``scipy.optimize.linear_sum_assignment(counts, maximize=True)`` (Kuhn–Munkres).

    Taught in: notebooks/11_unsupervised_stego.ipynb
    """
    from scipy.optimize import linear_sum_assignment

    m = np.asarray(counts.cpu() if isinstance(counts, torch.Tensor) else counts, dtype=np.float64)
    if m.ndim != 2:
        raise ValueError(f"hungarian_match: counts must be a 2-D [clusters, classes] table, got shape {m.shape}")
    rows, cols = linear_sum_assignment(m, maximize=True)
    out = np.full(m.shape[0], -1, dtype=np.int64)
    out[rows] = cols
    return out


def unsupervised_scores(
    clusters: torch.Tensor, labels: torch.Tensor, num_clusters: int, num_classes: int = 19, ignore_index: int = 255
) -> dict:
    """Hungarian-matched mIoU and pixel accuracy of a cluster map (STEGO's "unsupervised" metrics).

    ``clusters`` ``[B, H, W]`` ids in ``0..num_clusters−1``, ``labels`` ``[B, H, W]`` (``ignore_index`` skipped).
    The table ``counts[cluster, class]`` over the classes present in ``labels`` is matched with
    :func:`hungarian_match` (so use ``num_clusters`` = number of classes present); pixels of an unmatched
    cluster count as wrong (FN of their class, FP of none). Returns ``{"miou", "acc", "iou", "assignment",
    "confusion"}`` — ``miou``, ``acc`` and ``iou`` (per class) in percent, as ``metrics.evaluate``;
    ``confusion`` is the ``[K, K]`` matrix after matching (unmatched pixels left out of it, but in the
    denominators). Classes absent from both labels and matched predictions
    are skipped (NaN), as in :func:`daformer_edu.metrics.mean_iou`.

    Taught in: notebooks/11_unsupervised_stego.ipynb
    """
    if clusters.shape != labels.shape:
        raise ValueError(
            f"unsupervised_scores: clusters {tuple(clusters.shape)} and labels {tuple(labels.shape)} differ"
        )
    keep = labels != ignore_index
    c, y = clusters[keep].long(), labels[keep].long()
    if c.numel() and (c.min() < 0 or c.max() >= num_clusters):
        raise ValueError(f"unsupervised_scores: cluster ids must be in 0..{num_clusters - 1}")
    counts = torch.bincount(c * num_classes + y, minlength=num_clusters * num_classes).reshape(
        num_clusters, num_classes
    )
    present_cls = torch.nonzero(counts.sum(dim=0) > 0).flatten()  # only classes that occur can be matched
    match = torch.as_tensor(hungarian_match(counts[:, present_cls]))  # [n_clusters] index into present_cls
    assignment = torch.where(match >= 0, present_cls[match.clamp_min(0)], torch.full_like(match, -1))
    mapped = assignment[c]  # [N], −1 = unmatched
    matched = mapped >= 0
    conf = confusion_matrix(mapped[matched], y[matched], num_classes)  # [K, K]
    m = conf.double()
    tp = torch.diagonal(m)
    gt_total = torch.bincount(y, minlength=num_classes).double()  # row sums including unmatched pixels
    union = gt_total + m.sum(dim=0) - tp
    iou = torch.where(union > 0, tp / union.clamp_min(1), torch.full_like(tp, float("nan")))  # [K] fractions
    present = ~torch.isnan(iou)
    total = float(gt_total.sum())
    return {  # percent
        "miou": 100 * float(iou[present].mean()) if present.any() else float("nan"),
        "acc": 100 * float(tp.sum() / total) if total > 0 else float("nan"),
        "iou": [100 * float(v) for v in iou],
        "assignment": assignment,
        "confusion": conf,
    }


def train_linear_probe(
    codes: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int = 19,
    iterations: int = 200,
    lr: float = 1e-2,
    batch_size: int = 16,
    seed: int = 0,
    ignore_index: int = 255,
) -> nn.Conv2d:
    """A 1×1 conv ``D → num_classes`` trained with cross-entropy on frozen codes (Adam, seeded).

    ``codes`` ``[N, D, h, w]``, ``labels`` ``[N, H, W]``; logits are upsampled bilinearly to the label size.
    This probe *uses labels*: report it as "linear probe", never as an unsupervised score.
    Predict with ``probe(codes).argmax(1)`` (upsampled to the label size).

    Taught in: notebooks/11_unsupervised_stego.ipynb
    """
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    probe = nn.Conv2d(codes.shape[1], num_classes, 1)
    opt = torch.optim.Adam(probe.parameters(), lr=lr)
    codes = codes.detach()
    n = len(codes)
    for _ in range(iterations):
        idx = torch.randperm(n, generator=gen)[: min(batch_size, n)]
        logits = F.interpolate(probe(codes[idx]), size=labels.shape[-2:], mode="bilinear", align_corners=False)
        loss = F.cross_entropy(logits, labels[idx].long(), ignore_index=ignore_index)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return probe.eval()
