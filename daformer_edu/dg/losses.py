"""BlindNet's four losses (Ahn et al., "Style Blind Domain Generalized Semantic Segmentation via Covariance
Alignment and Semantic Consistence Contrastive Learning", CVPR 2024).

Every image is seen twice: the *original* view (a mild colour jitter) and the *augmented* view (the same
crop with its style changed hard, see :mod:`daformer_edu.dg.augment`). Two losses act on shallow encoder
maps, two on decoder embeddings.

Encoder (style lives in shallow statistics — the colour, contrast and texture of a map are its per-channel
means, variances and channel correlations):

    F̄ = IN(F)                                  per channel over H×W, no affine          (Eq. 1)
    Σ(F̄) = F̄ F̄ᵀ / (HW − 1) + ε·I               [C, C] covariance ("Gram") matrix         (Eq. 2)
    L_CML = ‖Σ(F̄_a) − sg(Σ(F̄))‖²  / C²           covariance matching, full matrix           (Eq. 3)
    Σ_×   = F̄ F̄_aᵀ / (HW − 1)                   [C, C] cross-covariance of the two views   (Eq. 4)
    L_CCL = ‖diag(Σ_×) − 1‖² / C                 only the diagonal                          (Eq. 5)

Decoder (InfoNCE on L2-normalised projections, temperature τ = 0.07):

    L_NCE(a, p, {n}) = −log  exp(a·p/τ) / (exp(a·p/τ) + Σ_n exp(a·n/τ))                    (Eq. 6)

- CWCL (class-wise): anchors = augmented embeddings sampled per GT class (half mispredicted by the
  *original* view, half right), positive = the original embedding at the same pixel, negatives = original
  embeddings of *other* classes.
- SDCL (semantic disentanglement): anchors = pixels the original view gets right and the augmented view
  turns into a wrong class c; positive as above; negatives = augmented embeddings at pixels whose GT is c.

``sg`` = stop-gradient (``.detach()``). The original view's embeddings (CWCL's positives and negatives,
SDCL's positives) are detached, as in the official ``feats_k.detach()``. SDCL's negatives come from the
augmented view and, officially, keep their gradient (``detach_negatives=False``); the functions' defaults
(batch-wide sampling, detached negatives) are the simpler rules (``BlindNetConfig.simple_rules()``), the
easier ones to read — :class:`~daformer_edu.dg.blindnet.BlindNetConfig` switches the official rules on.

Taught in: notebooks/10_domain_generalization.ipynb
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

__all__ = [
    "instance_normalize",
    "covariance_matrix",
    "cross_covariance_matrix",
    "covariance_matching_loss",
    "cross_covariance_loss",
    "info_nce",
    "sample_class_anchors",
    "class_wise_contrastive_loss",
    "semantic_disentanglement_contrastive_loss",
]


def instance_normalize(feature: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Instance normalisation without affine, flattened: ``[B, C, H, W] → [B, C, HW]`` (BlindNet Eq. 1).

    ``F̄_{b,c} = (F_{b,c} − μ_{b,c}) / sqrt(σ²_{b,c} + ε)`` with μ, σ² the mean and the *biased* variance
    over the H·W positions of channel c of image b (``torch.nn.functional.instance_norm``'s convention).

    Taught in: notebooks/10_domain_generalization.ipynb
    """
    if feature.dim() != 4:
        raise ValueError(f"instance_normalize: feature must be [B, C, H, W], got {tuple(feature.shape)}")
    x = feature.flatten(2)  # [B, C, HW]
    mean = x.mean(dim=2, keepdim=True)  # [B, C, 1]
    var = x.var(dim=2, unbiased=False, keepdim=True)  # [B, C, 1]
    return (x - mean) / torch.sqrt(var + eps)  # [B, C, HW]


def _check_flat(name: str, x: torch.Tensor) -> None:
    if x.dim() != 3 or x.shape[2] < 2:
        raise ValueError(
            f"{name}: expected instance-normalised [B, C, HW] with HW ≥ 2, got {tuple(x.shape)} "
            "(call instance_normalize on a [B, C, H, W] map first)"
        )


def covariance_matrix(flat: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """``Σ = F̄ F̄ᵀ / (HW − 1) + ε·I`` for ``F̄ [B, C, HW]`` → ``[B, C, C]`` (BlindNet Eq. 2).

    F̄ has zero mean per channel (instance-normalised), so F̄ F̄ᵀ is its covariance; style transfer calls it
    the Gram matrix. Its diagonal is ≈ HW/(HW − 1) (unit variance); the off-diagonal entries are the
    channel correlations, which carry the style.

    Taught in: notebooks/10_domain_generalization.ipynb
    """
    _check_flat("covariance_matrix", flat)
    B, C, HW = flat.shape
    cov = torch.bmm(flat, flat.transpose(1, 2)) / (HW - 1)  # [B, C, C]
    return cov + eps * torch.eye(C, device=flat.device, dtype=flat.dtype)


def cross_covariance_matrix(flat: torch.Tensor, flat_aug: torch.Tensor) -> torch.Tensor:
    """``Σ_× = F̄ F̄_aᵀ / (HW − 1)`` between the two views → ``[B, C, C]`` (BlindNet Eq. 4).

    Entry (i, j) correlates channel i of the original view with channel j of the augmented view;
    the diagonal entry (c, c) is the correlation of channel c with itself across the style change.

    Taught in: notebooks/10_domain_generalization.ipynb
    """
    _check_flat("cross_covariance_matrix", flat)
    if flat.shape != flat_aug.shape:
        raise ValueError(
            f"cross_covariance_matrix: views differ in shape {tuple(flat.shape)} vs "
            f"{tuple(flat_aug.shape)}; both views must be the same crop through the same layer"
        )
    return torch.bmm(flat, flat_aug.transpose(1, 2)) / (flat.shape[2] - 1)  # [B, C, C]


def _levels(name: str, original, augmented) -> tuple[list, list]:
    original = [original] if isinstance(original, torch.Tensor) else list(original)
    augmented = [augmented] if isinstance(augmented, torch.Tensor) else list(augmented)
    if not original or len(original) != len(augmented):
        raise ValueError(
            f"{name}: need the same (≥ 1) number of original and augmented maps, "
            f"got {len(original)} and {len(augmented)}"
        )
    for f, fa in zip(original, augmented):
        if f.shape != fa.shape:
            raise ValueError(f"{name}: original {tuple(f.shape)} and augmented {tuple(fa.shape)} maps differ")
    return original, augmented


def covariance_matching_loss(
    original: torch.Tensor | Sequence[torch.Tensor], augmented: torch.Tensor | Sequence[torch.Tensor], eps: float = 1e-5
) -> torch.Tensor:
    """Covariance Matching Loss (CML, BlindNet Eq. 3): ``mean_l MSE(Σ(IN(F_a^l)), sg(Σ(IN(F^l))))``.

    ``original``/``augmented``: one ``[B, C, H, W]`` map or a list of them (one per regularised level).
    The MSE runs over the full ``C × C`` matrix and the batch; the original view's covariance is
    detached (it is the target the augmented view's style statistics must match). Averaged over levels.

    Taught in: notebooks/10_domain_generalization.ipynb
    """
    original, augmented = _levels("covariance_matching_loss", original, augmented)
    losses = []
    for f, fa in zip(original, augmented):
        cov = covariance_matrix(instance_normalize(f, eps), eps).detach()  # [B, C, C]
        cov_aug = covariance_matrix(instance_normalize(fa, eps), eps)  # [B, C, C]
        losses.append(F.mse_loss(cov_aug, cov))
    return torch.stack(losses).mean()


def cross_covariance_loss(
    original: torch.Tensor | Sequence[torch.Tensor],
    augmented: torch.Tensor | Sequence[torch.Tensor],
    eps: float = 1e-5,
    detach_original: bool = False,
) -> torch.Tensor:
    """Cross-Covariance Loss (CCL, BlindNet Eq. 5): ``mean_l MSE(diag(F̄^l F̄_a^lᵀ / (HW − 1)), 1)``.

    Only the diagonal is pulled to 1 (each channel keeps its meaning under the style change); the
    off-diagonal entries are left alone because they carry content — whitening them away (as earlier
    feature-whitening DG methods did) blurs object boundaries. Gradients flow into both views unless
    ``detach_original=True`` (the official ``cross_whitening_loss`` gets ``k_maps.detach()``, the original view).

    Taught in: notebooks/10_domain_generalization.ipynb
    """
    original, augmented = _levels("cross_covariance_loss", original, augmented)
    losses = []
    for f, fa in zip(original, augmented):
        f = f.detach() if detach_original else f
        cross = cross_covariance_matrix(instance_normalize(f, eps), instance_normalize(fa, eps))  # [B, C, C]
        diag = torch.diagonal(cross, dim1=1, dim2=2)  # [B, C]
        losses.append(F.mse_loss(diag, torch.ones_like(diag)))
    return torch.stack(losses).mean()


def info_nce(
    anchors: torch.Tensor,
    positives: torch.Tensor,
    negatives: torch.Tensor,
    temperature: float = 0.07,
    negative_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """InfoNCE (BlindNet Eq. 6): ``mean_i −log e^{a_i·p_i/τ} / (e^{a_i·p_i/τ} + Σ_j m_ij e^{a_i·n_j/τ})``.

    Args:
        anchors, positives: ``[N, D]`` (already L2-normalised if cosine similarity is meant).
        negatives: ``[M, D]`` shared by all anchors, or ``[N, M, D]`` per anchor.
        negative_mask: ``[N, M]`` bool, ``True`` where ``n_j`` is a negative of anchor i (default: all).
        temperature: τ (BlindNet: 0.07).

    Anchors with no negative at all are left out of the mean (their term would be −log 1 = 0 and only
    dilute it); with no usable anchor the result is a zero that still belongs to the graph.

    Taught in: notebooks/10_domain_generalization.ipynb
    """
    if anchors.dim() != 2 or anchors.shape != positives.shape:
        raise ValueError(
            f"info_nce: anchors {tuple(anchors.shape)} and positives {tuple(positives.shape)} must both be [N, D]"
        )
    if temperature <= 0:
        raise ValueError(f"info_nce: temperature={temperature} must be > 0")
    pos = (anchors * positives).sum(dim=1, keepdim=True)  # [N, 1]
    if negatives.dim() == 2:
        neg = anchors @ negatives.t()  # [N, M]
    elif negatives.dim() == 3 and negatives.shape[0] == anchors.shape[0]:
        neg = torch.einsum("nd,nmd->nm", anchors, negatives)  # [N, M]
    else:
        raise ValueError(f"info_nce: negatives must be [M, D] or [N, M, D], got {tuple(negatives.shape)}")
    if negative_mask is None:
        negative_mask = torch.ones_like(neg, dtype=torch.bool)
    if negative_mask.shape != neg.shape:
        raise ValueError(f"info_nce: negative_mask {tuple(negative_mask.shape)} must be [N, M] = {tuple(neg.shape)}")
    neg = neg.masked_fill(~negative_mask, float("-inf"))  # e^{-inf} = 0: not a negative
    logits = torch.cat([pos, neg], dim=1) / temperature  # [N, 1 + M]
    keep = negative_mask.any(dim=1)  # [N]
    if not keep.any():
        return anchors.sum() * 0.0
    loss = torch.logsumexp(logits[keep], dim=1) - logits[keep, 0]  # [N'] = −log softmax at the positive
    return loss.mean()


def _check_maps(name: str, emb: torch.Tensor, emb_aug: torch.Tensor, *grids: torch.Tensor) -> None:
    if emb.dim() != 4 or emb.shape != emb_aug.shape:
        raise ValueError(
            f"{name}: embeddings must be two [B, D, h, w] maps of one shape, got "
            f"{tuple(emb.shape)} and {tuple(emb_aug.shape)}"
        )
    B, _, h, w = emb.shape
    for g in grids:
        if tuple(g.shape) != (B, h, w):
            raise ValueError(
                f"{name}: labels/predictions must be [B, h, w] = {(B, h, w)} (resize them to the "
                f"feature grid by nearest neighbour), got {tuple(g.shape)}"
            )


def sample_class_anchors(
    label: torch.Tensor,
    prediction: torch.Tensor,
    max_classes: int = 15,
    samples_per_class: int = 50,
    generator: torch.Generator | None = None,
    ignore_index: int = 255,
    per_image: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """CWCL's anchor sampling: up to ``max_classes`` GT classes, ``samples_per_class`` pixels each, half hard.

    ``label``/``prediction`` ``[B, h, w]``; *hard* = ``prediction != label``. BlindNet's official code passes
    the **original** view's prediction here (``criterion_CWCL(embed_q, embed_k, gts, predict)``). For each
    class, ``n = samples_per_class`` pixels are drawn without replacement: ``n/2`` hard and ``n/2`` easy; when
    one kind runs short the other fills in (the rule of Wang et al.'s pixel contrast, which BlindNet's code
    follows).

    - ``per_image=True`` (official ``_hard_anchor_sampling``): each image on its own; a class is used only
      if it has **more than** ``n`` pixels in that image (``> max_views``, so 50 pixels are skipped, 51 kept),
      the first ``max_classes`` of them in class-id order.
    - ``per_image=False`` (the simpler rule): over the whole batch; the classes present are
      shuffled and the first ``max_classes`` kept; a class with fewer than ``n`` pixels gives all of them.

    Not reproduced: the official code fills the unused class slots of an image with random pixels (of any
    class) that then act as extra anchors and negatives.

    Returns ``(index [S], classes [S])``: flat indices into ``B·h·w`` and the GT class of each sample
    (``index // (h·w)`` is the image).

    Taught in: notebooks/10_domain_generalization.ipynb
    """
    if label.shape != prediction.shape:
        raise ValueError(
            f"sample_class_anchors: label {tuple(label.shape)} and prediction "
            f"{tuple(prediction.shape)} must have one shape"
        )
    g = torch.default_generator if generator is None else generator
    y = label.reshape(-1).cpu()  # [B·h·w]
    hard = prediction.reshape(-1).cpu() != y  # [B·h·w]
    if per_image:
        hw = label[0].numel()
        groups = []  # (pixels of one image, classes used there)
        for b in range(label.shape[0]):
            in_b = torch.zeros_like(y, dtype=torch.bool)
            in_b[b * hw : (b + 1) * hw] = True
            yb = y[in_b]
            classes = [
                c for c in torch.unique(yb).tolist() if c != ignore_index and int((yb == c).sum()) > samples_per_class
            ][:max_classes]
            groups.append((in_b, classes))
    else:
        classes = torch.unique(y)
        classes = classes[classes != ignore_index]
        classes = classes[torch.randperm(classes.numel(), generator=g)][:max_classes]
        groups = [(torch.ones_like(y, dtype=torch.bool), classes.tolist())]
    index, cls = [], []
    for where, classes in groups:
        for c in classes:
            in_c = where & (y == c)
            hard_idx = torch.nonzero(in_c & hard).flatten()
            easy_idx = torch.nonzero(in_c & ~hard).flatten()
            n_hard = min(hard_idx.numel(), max(samples_per_class // 2, samples_per_class - easy_idx.numel()))
            n_easy = min(easy_idx.numel(), samples_per_class - n_hard)
            pick = torch.cat(
                [
                    hard_idx[torch.randperm(hard_idx.numel(), generator=g)[:n_hard]],
                    easy_idx[torch.randperm(easy_idx.numel(), generator=g)[:n_easy]],
                ]
            )
            index.append(pick)
            cls.append(torch.full_like(pick, c))
    if not index:
        empty = torch.zeros(0, dtype=torch.long)
        return empty.to(label.device), empty.to(label.device)
    return torch.cat(index).to(label.device), torch.cat(cls).to(label.device)


def _pixels(emb: torch.Tensor) -> torch.Tensor:
    return emb.permute(0, 2, 3, 1).reshape(-1, emb.shape[1])  # [B·h·w, D]


def class_wise_contrastive_loss(
    embedding: torch.Tensor,
    embedding_aug: torch.Tensor,
    label: torch.Tensor,
    prediction_aug: torch.Tensor,
    temperature: float = 0.07,
    max_classes: int = 15,
    samples_per_class: int = 50,
    generator: torch.Generator | None = None,
    ignore_index: int = 255,
    per_image: bool = False,
) -> torch.Tensor:
    """Class-Wise Contrastive Loss (CWCL, BlindNet Sec. 3.3).

    ``embedding``/``embedding_aug`` ``[B, D, h, w]``: L2-normalised projections of the original and the
    augmented view; ``label``, ``prediction_aug`` ``[B, h, w]`` on the same grid. ``prediction_aug`` is the
    prediction that splits hard from easy samples — whichever view the caller chooses (official: the
    *original* view's, see ``BlindNetConfig.cwcl_split_view``). Samples are drawn by
    :func:`sample_class_anchors` (``per_image`` as there); for sample i at pixel (m, n) of class y_i:
    anchor = ``embedding_aug[m, n]``, positive = ``sg(embedding[m, n])``, negatives = ``sg(embedding)``
    at the *other* samples whose class differs from y_i (with ``per_image=True`` only those of the same
    image, as the official per-image ``bmm``). Then :func:`info_nce`.

    Taught in: notebooks/10_domain_generalization.ipynb
    """
    _check_maps("class_wise_contrastive_loss", embedding, embedding_aug, label, prediction_aug)
    index, cls = sample_class_anchors(
        label, prediction_aug, max_classes, samples_per_class, generator, ignore_index, per_image
    )
    if index.numel() == 0:
        return embedding_aug.sum() * 0.0
    anchors = _pixels(embedding_aug)[index]  # [S, D]
    positives = _pixels(embedding).detach()[index]  # [S, D]
    mask = cls[:, None] != cls[None, :]  # [S, S]: other classes only
    if per_image:
        image = index // label[0].numel()  # [S]
        mask = mask & (image[:, None] == image[None, :])  # [S, S]: and the same image
    return info_nce(anchors, positives, positives, temperature, mask)


def _sdcl_per_image(is_anchor, y, pa, hw: int, batch: int, negatives_per_class: int, max_anchors: int, g):
    """The official per-image SDCL sampling: anchors ``[A]`` and their negative rows ``[A, n]`` (None: no anchor).

    Within each image, every anchor confused into class c shares one draw of ``negatives_per_class`` pixels of GT c
    of that image; a confusion with fewer such pixels gives no anchor; then at most ``max_anchors`` are kept.
    """
    anchor_idx, neg_rows = [], []
    for b in range(batch):
        lo, hi = b * hw, (b + 1) * hw
        in_b = torch.nonzero(is_anchor[lo:hi]).flatten() + lo  # anchors of image b
        for c in torch.unique(pa[in_b]).tolist():
            pool = torch.nonzero(y[lo:hi] == c).flatten() + lo  # GT c in image b
            if pool.numel() < negatives_per_class:
                continue  # the official sampler skips this confusion
            pick = pool[torch.randperm(pool.numel(), generator=g)[:negatives_per_class]]  # [n]
            a = in_b[pa[in_b] == c]
            anchor_idx.append(a)
            neg_rows.append(pick.expand(a.numel(), -1))  # [A_c, n]: one draw shared by these anchors
    if not anchor_idx:
        return None
    anchor_idx, neg_rows = torch.cat(anchor_idx), torch.cat(neg_rows)  # [A], [A, n]
    keep = torch.randperm(anchor_idx.numel(), generator=g)[:max_anchors]
    return anchor_idx[keep], neg_rows[keep]


def semantic_disentanglement_contrastive_loss(
    embedding: torch.Tensor,
    embedding_aug: torch.Tensor,
    label: torch.Tensor,
    prediction: torch.Tensor,
    prediction_aug: torch.Tensor,
    temperature: float = 0.07,
    max_anchors: int = 750,
    negatives_per_class: int = 50,
    generator: torch.Generator | None = None,
    ignore_index: int = 255,
    per_image: bool = False,
    detach_negatives: bool = True,
) -> torch.Tensor:
    """Semantic Disentanglement Contrastive Loss (SDCL, BlindNet Sec. 3.3).

    Anchors: pixels with ``prediction == label`` (the original view is right) and
    ``prediction_aug != label`` (the style change made it wrong). For anchor i, confused into class
    c_i = ``prediction_aug[i]``: anchor = ``embedding_aug[i]``, positive = ``sg(embedding[i])``, negatives =
    ``embedding_aug`` at pixels whose GT is c_i (the class it was mistaken for). Then :func:`info_nce`.

    - ``per_image=True`` (official ``Disentangle_Sampler``): within each image, every anchor of class c_i
      gets the same ``negatives_per_class`` pixels of GT c_i *of that image* (official ``num_patch`` = 20);
      a confusion whose class has fewer pixels there gives no anchor; then at most ``max_anchors`` anchors
      of the batch are kept at random (official 1000 per image).
    - ``per_image=False`` (the simpler rule): at most ``max_anchors`` anchors drawn first, negatives from the
      whole batch (up to ``negatives_per_class`` per class; a class with no GT pixel drops its anchors).

    ``detach_negatives=False`` lets the gradient flow into the negatives too (official: they are taken from
    ``feats_q``, the augmented view, which is not detached). Maps and grids as in
    :func:`class_wise_contrastive_loss`.

    Taught in: notebooks/10_domain_generalization.ipynb
    """
    _check_maps(
        "semantic_disentanglement_contrastive_loss", embedding, embedding_aug, label, prediction, prediction_aug
    )
    g = torch.default_generator if generator is None else generator
    y = label.reshape(-1).cpu()  # [B·h·w]
    p, pa = prediction.reshape(-1).cpu(), prediction_aug.reshape(-1).cpu()
    is_anchor = (y != ignore_index) & (p == y) & (pa != y)  # [B·h·w]
    dev = embedding.device
    pix, pix_aug = _pixels(embedding), _pixels(embedding_aug)  # [B·h·w, D]
    neg_source = pix_aug.detach() if detach_negatives else pix_aug
    if per_image:
        rows = _sdcl_per_image(is_anchor, y, pa, label[0].numel(), label.shape[0], negatives_per_class, max_anchors, g)
        if rows is None:
            return embedding_aug.sum() * 0.0
        anchor_idx, neg_rows = rows  # [A], [A, n]
        anchors = pix_aug[anchor_idx.to(dev)]  # [A, D]
        positives = pix.detach()[anchor_idx.to(dev)]  # [A, D]
        negatives = neg_source[neg_rows.to(dev)]  # [A, n, D]
        return info_nce(anchors, positives, negatives, temperature)
    anchor_idx = torch.nonzero(is_anchor).flatten()
    anchor_idx = anchor_idx[torch.randperm(anchor_idx.numel(), generator=g)[:max_anchors]]  # [A]
    if anchor_idx.numel() == 0:
        return embedding_aug.sum() * 0.0
    confused = pa[anchor_idx]  # [A] the wrong class of each anchor
    neg_idx, neg_cls = [], []
    for c in torch.unique(confused).tolist():
        pool = torch.nonzero(y == c).flatten()
        pick = pool[torch.randperm(pool.numel(), generator=g)[:negatives_per_class]]
        neg_idx.append(pick)
        neg_cls.append(torch.full_like(pick, c))
    neg_idx, neg_cls = torch.cat(neg_idx), torch.cat(neg_cls)  # [M], [M]
    anchors = pix_aug[anchor_idx.to(dev)]  # [A, D]
    positives = pix.detach()[anchor_idx.to(dev)]  # [A, D]
    negatives = neg_source[neg_idx.to(dev)]  # [M, D]
    mask = (confused[:, None] == neg_cls[None, :]).to(dev)  # [A, M]
    return info_nce(anchors, positives, negatives, temperature, mask)
