"""STEGO: distil a frozen backbone's feature correspondences into a low-dimensional segmentation code.

Hamilton et al., "Unsupervised Semantic Segmentation by Distilling Feature Correspondences", ICLR 2022.
No label is used anywhere in training. A frozen backbone gives features ``f`` ``[B, C, h, w]``; a small
trainable head maps them to a code ``s`` ``[B, D, h, w]`` (D ≪ C). For two images (or one image with
itself), with features sampled at random points:

    F_{hwij} = cos(f_hw, f'_ij)          feature correlation   (frozen, no gradient)       (STEGO eq. 1)
    S_{hwij} = cos(s_hw, s'_ij)          code correlation      (trainable)
    F^SC_{hwij} = F_{hwij} − mean_{ij} F_{hwij} + mean(F)        spatial centering (official "pointwise")
    L_corr(F, S, b) = − mean_{hwij} max(S_{hwij}, 0) · (F^SC_{hwij} − b)                   (STEGO eq. 4)

Where the backbone says two points are more alike than ``b`` (F^SC > b) the loss pulls their codes
together (raises S); where less alike it pushes them apart, but only down to orthogonal (S clamped at 0).
Three kinds of pairs, each with its own weight λ and shift b (STEGO eq. 5):

    L = λ_self · L_corr(x, x, b_self) + λ_knn · L_corr(x, x_knn, b_knn) + λ_rand · L_corr(x, x_rand, b_rand)

``x_knn`` is one of the 7 nearest neighbours of ``x`` (cosine of global-average-pooled features, the table is
built once); ``x_rand`` another image of the batch (a derangement: never the image itself). Pairs of
similar images get a small b (more attraction), random pairs a larger one (mostly repulsion). As the official
code (``neg_samples: 5``), the random term is averaged over ``neg_samples`` independent random pairings of
the batch.

Dropout: the official ``DinoFeaturizer`` returns ``(dropout(f), code)`` — the features that enter the
correlation F are themselves dropped out (Dropout2d, p = 0.1, a mask of their own); the code is computed
from dropped-out features as well. ``StegoConfig.correlation_dropout=True`` (default) does the same in
:func:`train_stego`. One difference stays: our head draws one dropout mask for both of its branches, the
official one draws one per branch (``cluster1(dropout(f)) + cluster2(dropout(f))``).

The official code normalises with a plain mean over all sampled point pairs (not the sum the equation
writes) — we do the same, so the official λ/b values keep their meaning.

Taught in: notebooks/11_unsupervised_stego.ipynb
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    "StegoConfig",
    "StegoHead",
    "backbone_features",
    "sample_points",
    "correlation",
    "spatial_centering",
    "stego_correlation_loss",
    "knn_table",
    "derangement",
    "stego_loss",
    "train_stego",
    "predict_codes",
]


@dataclass
class StegoConfig:
    """STEGO's knobs: code size, sampling, the three pair weights λ and shifts b, and the head's optimiser.

    Defaults for λ and b are the Cityscapes block of the official config (λ_self 1.0, λ_knn 0.58, λ_rand
    0.91; b_self 0.46, b_knn 0.18, b_rand 0.31); ``bench/bench_stego.py`` tunes them for the synthetic pair.
    ``feature_samples`` points per side are drawn per image (official 11 → 11×11 points). ``levels`` picks
    the encoder stages whose maps are concatenated as the frozen feature (see :func:`backbone_features`).
    ``neg_samples`` (official 5) random pairings per batch and ``correlation_dropout`` (F on dropped-out
    features) follow the official code; ``neg_samples=1, correlation_dropout=False`` is the simpler form (one
    pairing, F on the clean features).

    Taught in: notebooks/11_unsupervised_stego.ipynb
    """

    code_dim: int = 32  # D, the code size (official: 70 for COCO-Stuff, 100 for Cityscapes)
    hidden_dim: int | None = None  # width of the nonlinear branch (None = the feature width, as official)
    levels: tuple[int, ...] = (1, 2, 3)  # indices of MiT's stages 1–4: (1, 2, 3) = stages 2–4, joined at stage 2's 1/8
    feature_samples: int = 11  # points per side sampled per image (11×11 = 121 points)
    num_neighbors: int = 7  # k of the kNN table
    lambda_self: float = 1.0
    lambda_knn: float = 0.58
    lambda_rand: float = 0.91
    b_self: float = 0.46
    b_knn: float = 0.18
    b_rand: float = 0.31
    dropout: float = 0.1  # Dropout2d on the features before the head (official 0.1)
    neg_samples: int = 5  # random pairings per batch, the random term is their mean (official 5; 1 = the simpler form)
    correlation_dropout: bool = True  # F is computed on dropped-out features (official); False: on the clean ones
    lr: float = 5e-4  # Adam, as the official code
    batch_size: int = 16
    iterations: int = 300
    seed: int = 0

    def __post_init__(self):
        self.levels = tuple(int(v) for v in self.levels)
        for name in ("code_dim", "feature_samples", "num_neighbors", "batch_size", "iterations", "neg_samples"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"StegoConfig: {name}={getattr(self, name)!r} must be a positive integer")
        if not self.levels:
            raise ValueError("StegoConfig: levels must name at least one encoder stage, e.g. (1, 2, 3)")


class StegoHead(nn.Module):
    """The trainable segmentation head: ``code = W₁ f + W₃ ReLU(W₂ f)`` — a linear 1×1 conv plus a small
    nonlinear 1×1-conv branch (official ``cluster1`` + ``cluster2``), after Dropout2d on the features.

    ``forward(f: [B, C, h, w]) → [B, D, h, w]``. ``hidden_dim`` (default C, as official) narrows the
    nonlinear branch to save compute on a CPU.

    Taught in: notebooks/11_unsupervised_stego.ipynb
    """

    def __init__(self, in_channels: int, code_dim: int = 32, dropout: float = 0.1, hidden_dim: int | None = None):
        super().__init__()
        hidden = in_channels if hidden_dim is None else int(hidden_dim)
        self.dropout = nn.Dropout2d(dropout)
        self.linear = nn.Conv2d(in_channels, code_dim, 1)
        self.nonlinear = nn.Sequential(nn.Conv2d(in_channels, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, code_dim, 1))

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        x = self.dropout(feats)  # [B, C, h, w]
        return self.linear(x) + self.nonlinear(x)  # [B, D, h, w]


@torch.no_grad()
def backbone_features(
    encoder: nn.Module, images: torch.Tensor, levels: Sequence[int] = (1, 2, 3), batch_size: int = 32
) -> torch.Tensor:
    """Frozen features: the encoder's maps at ``levels`` upsampled (bilinear) to the first level's grid and
    concatenated along channels. For MiT-B0 and ``levels=(1, 2, 3)``: 64 + 160 + 256 = 480 channels at 1/8.

    ``images`` ``[N, 3, H, W]`` (normalised) → ``[N, ΣC, h, w]``. STEGO uses DINO ViT features at 1/8
    (patch 8); a hierarchical MiT gives 1/8 at stage 2 (index 1) and coarser, more semantic maps at stages 3–4
    (indices 2, 3), so we join them.

    Taught in: notebooks/11_unsupervised_stego.ipynb
    """
    was_training = encoder.training
    encoder.eval()
    out = []
    try:
        for i in range(0, len(images), batch_size):
            maps = encoder(images[i : i + batch_size])  # 4 × [b, C_l, H_l, W_l]
            if max(levels) >= len(maps) or min(levels) < 0:
                raise ValueError(f"backbone_features: levels={tuple(levels)} but the encoder returns {len(maps)} maps")
            size = maps[levels[0]].shape[-2:]
            out.append(
                torch.cat(
                    [
                        F.interpolate(maps[lv], size=size, mode="bilinear", align_corners=False)
                        if maps[lv].shape[-2:] != size
                        else maps[lv]
                        for lv in levels
                    ],
                    dim=1,
                )
            )
    finally:
        encoder.train(was_training)
    return torch.cat(out)  # [N, ΣC, h, w]


def sample_points(t: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """Bilinear samples of a map at points: ``t`` ``[B, C, H, W]``, ``coords`` ``[B, P, Q, 2]`` in [−1, 1]
    as ``(x, y)`` → ``[B, C, P, Q]`` (``grid_sample``, ``align_corners=True``, border padding, as the official
    ``sample``; ``x = −1`` is the left column's centre, ``x = 1`` the right's).

    Taught in: notebooks/11_unsupervised_stego.ipynb
    """
    return F.grid_sample(t, coords, mode="bilinear", padding_mode="border", align_corners=True)  # [B, C, P, Q]


def correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of every point of ``a`` with every point of ``b``: ``[B, C, H, W] × [B, C, I, J] →
    [B, H, W, I, J]`` (each vector L2-normalised over C, then ``einsum("nchw,ncij->nhwij")``) — STEGO eq. 1.

    Taught in: notebooks/11_unsupervised_stego.ipynb
    """
    if a.shape[:2] != b.shape[:2]:
        raise ValueError(f"correlation: batch/channels differ: {tuple(a.shape)} vs {tuple(b.shape)}")
    a = F.normalize(a, dim=1)
    b = F.normalize(b, dim=1)
    return torch.einsum("nchw,ncij->nhwij", a, b)  # [B, H, W, I, J]


def spatial_centering(corr: torch.Tensor) -> torch.Tensor:
    """``F^SC = F − mean_{ij} F + mean(F)``: subtract, for each point hw of the first image, its mean
    correlation with the second image, then add the global mean back (official ``pointwise``; the global mean
    is over the whole batch tensor). ``[B, H, W, I, J] → same``.

    It removes "this point is similar to everything" (e.g. a big uniform region) so that b acts per row.

    Taught in: notebooks/11_unsupervised_stego.ipynb
    """
    return corr - corr.mean(dim=(3, 4), keepdim=True) + corr.mean()


def stego_correlation_loss(
    feat_corr: torch.Tensor, code_corr: torch.Tensor, shift: float, centering: bool = True, zero_clamp: bool = True
) -> torch.Tensor:
    """``L = − mean( max(S, 0) · (F^SC − b) )`` — STEGO eq. 4 with the official mean normalisation.

    ``feat_corr`` F and ``code_corr`` S are ``[B, H, W, I, J]`` (from :func:`correlation`); F is treated as a
    constant (no gradient flows into the backbone). ``centering=False`` skips spatial centering;
    ``zero_clamp=False`` drops the clamp (then S is pushed all the way to −1 where F^SC < b).

    Taught in: notebooks/11_unsupervised_stego.ipynb
    """
    if feat_corr.shape != code_corr.shape:
        raise ValueError(f"stego_correlation_loss: F {tuple(feat_corr.shape)} and S {tuple(code_corr.shape)} differ")
    fc = feat_corr.detach()
    if centering:
        fc = spatial_centering(fc)
    s = code_corr.clamp(min=0.0) if zero_clamp else code_corr
    return -(s * (fc - shift)).mean()


def knn_table(pooled: torch.Tensor, k: int = 7) -> torch.Tensor:
    """The k nearest neighbours of every image by cosine similarity of global-average-pooled features.

    ``pooled`` ``[N, C]`` (e.g. ``feats.mean((2, 3))``) → ``[N, k]`` long indices, nearest first, never the
    image itself. Built once before training (official ``precompute_knns.py``, k = 7).

    Taught in: notebooks/11_unsupervised_stego.ipynb
    """
    n = pooled.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"knn_table: k={k} must be in [1, N-1] for N={n} images")
    z = F.normalize(pooled.double(), dim=1)
    sims = z @ z.T  # [N, N]
    sims.fill_diagonal_(-float("inf"))
    return sims.topk(k, dim=1).indices  # [N, k]


def derangement(n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """A random permutation of ``0..n-1`` with no fixed point: image i is paired with ``perm[i] ≠ i``.
    ``[n]`` long. Needs n ≥ 2.

    Built as one random n-cycle: shuffle ``0..n-1`` into ``o`` and send ``o[i] → o[i+1]`` (cyclically).
    (The official ``super_perm`` adds 1 to fixed points, which can repeat an image; this one cannot.)

    Taught in: notebooks/11_unsupervised_stego.ipynb
    """
    if n < 2:
        raise ValueError(f"derangement: need at least 2 images in a batch, got {n}")
    order = torch.randperm(n, generator=generator)  # [n]
    perm = torch.empty(n, dtype=torch.long)
    perm[order] = order.roll(-1)
    return perm


def stego_loss(
    feats: torch.Tensor,
    code: torch.Tensor,
    feats_knn: torch.Tensor,
    code_knn: torch.Tensor,
    cfg: StegoConfig,
    generator: torch.Generator | None = None,
) -> dict[str, torch.Tensor]:
    """The full STEGO objective (eq. 5) on one batch; returns ``{"self", "knn", "rand", "loss"}``.

    ``feats``/``feats_knn`` ``[B, C, h, w]`` frozen features of the images and of one kNN partner each,
    ``code``/``code_knn`` ``[B, D, h, w]`` their codes. ``feature_samples²`` points are drawn per image
    (one set for x, another for the partners); the random partner of image i is image ``perm[i]`` of the
    same batch (a derangement), sampled at the partners' points — as the official code does. ``"rand"`` is
    the mean over ``cfg.neg_samples`` such pairings, each with its own derangement (official ``neg_samples``).

    Taught in: notebooks/11_unsupervised_stego.ipynb
    """
    B, S = feats.shape[0], cfg.feature_samples
    c1 = torch.rand((B, S, S, 2), generator=generator) * 2 - 1  # [B, S, S, 2] points in x
    c2 = torch.rand((B, S, S, 2), generator=generator) * 2 - 1  # [B, S, S, 2] points in the partner
    c1, c2 = c1.to(feats.device), c2.to(feats.device)
    f, s = sample_points(feats, c1), sample_points(code, c1)  # [B, C, S, S], [B, D, S, S]
    f_knn, s_knn = sample_points(feats_knn, c2), sample_points(code_knn, c2)
    rand = []
    for _ in range(cfg.neg_samples):
        perm = derangement(B, generator).to(feats.device)
        f_rand, s_rand = sample_points(feats[perm], c2), sample_points(code[perm], c2)  # [B, C|D, S, S]
        rand.append(stego_correlation_loss(correlation(f, f_rand), correlation(s, s_rand), cfg.b_rand))
    terms = {
        "self": stego_correlation_loss(correlation(f, f), correlation(s, s), cfg.b_self),
        "knn": stego_correlation_loss(correlation(f, f_knn), correlation(s, s_knn), cfg.b_knn),
        "rand": torch.stack(rand).mean(),
    }
    terms["loss"] = cfg.lambda_self * terms["self"] + cfg.lambda_knn * terms["knn"] + cfg.lambda_rand * terms["rand"]
    return terms


def train_stego(
    feats: torch.Tensor, cfg: StegoConfig | None = None, knn: torch.Tensor | None = None, progress: bool = False
) -> tuple[StegoHead, dict]:
    """Train a :class:`StegoHead` on precomputed frozen features ``[N, C, h, w]`` (the backbone never changes,
    so its features are computed once — that is what "frozen" buys).

    Every iteration: ``batch_size`` random images, one random neighbour each from the kNN table (built here
    from pooled features if ``knn`` is None), codes from the head, :func:`stego_loss`, one Adam step. With
    ``cfg.correlation_dropout`` the features given to :func:`stego_loss` (for F) go through the head's
    Dropout2d first, a mask drawn apart from the code's (official ``return self.dropout(image_feat), code``).
    Returns ``(head in eval mode, history)``; ``history`` has per-iteration lists ``loss``/``self``/``knn``/
    ``rand``, the ``knn_table`` used, ``config`` and ``wall_time_s``. Deterministic given ``cfg.seed``.

    Taught in: notebooks/11_unsupervised_stego.ipynb
    """
    cfg = cfg or StegoConfig()
    n = feats.shape[0]
    if n < 2:
        raise ValueError(f"train_stego: need at least 2 images, got {n}")
    t0 = time.perf_counter()
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    if knn is None:
        knn = knn_table(feats.mean(dim=(2, 3)), min(cfg.num_neighbors, n - 1))  # [N, k]
    head = StegoHead(feats.shape[1], cfg.code_dim, cfg.dropout, cfg.hidden_dim).to(feats.device)
    opt = torch.optim.Adam(head.parameters(), lr=cfg.lr)
    hist = {"loss": [], "self": [], "knn": [], "rand": []}
    bs = min(cfg.batch_size, n)
    from tqdm.auto import tqdm

    for _ in tqdm(range(cfg.iterations), desc="STEGO", disable=not progress, leave=False):
        # distinct images; gen also draws the partners, points and pairings (so not data.stream.CropStream)
        idx = torch.randperm(n, generator=gen)[:bs]  # [b]
        pick = torch.randint(knn.shape[1], (bs,), generator=gen)
        idx_knn = knn[idx, pick]  # [b]
        x, x_knn = feats[idx], feats[idx_knn]  # [b, C, h, w]
        code, code_knn = head(x), head(x_knn)  # [b, D, h, w]
        if cfg.correlation_dropout:
            x, x_knn = head.dropout(x), head.dropout(x_knn)  # F on dropped-out features, as official
        terms = stego_loss(x, code, x_knn, code_knn, cfg, gen)
        opt.zero_grad(set_to_none=True)
        terms["loss"].backward()
        opt.step()
        for k in hist:
            hist[k].append(terms[k].item())
    head.eval()
    hist.update(knn_table=knn, config=asdict(cfg), wall_time_s=time.perf_counter() - t0)
    return head, hist


@torch.no_grad()
def predict_codes(head: nn.Module, feats: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    """Codes of precomputed features in eval mode (no dropout): ``[N, C, h, w] → [N, D, h, w]``.

    Taught in: notebooks/11_unsupervised_stego.ipynb
    """
    was_training = head.training
    head.eval()
    try:
        return torch.cat([head(feats[i : i + batch_size]) for i in range(0, len(feats), batch_size)])
    finally:
        head.train(was_training)
