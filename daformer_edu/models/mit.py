"""Mix Transformer (MiT): the hierarchical encoder of SegFormer, used by DAFormer.

Read top to bottom, this file is the whole encoder (SegFormer, Xie et al. 2021, §3.1):

    image ─► [OverlapPatchEmbed ─► Block × depth ─► LayerNorm] × 4 stages ─► 4 feature maps
                                   Block = x + DropPath(EfficientSelfAttention(LN(x)))
                                           x + DropPath(MixFFN(LN(x)))

Stage i works on a token grid at stride 4, 8, 16, 32 and returns a map ``[B, C_i, H_i, W_i]``.
There is no positional encoding anywhere: position enters through the zero-padded convolutions
(the overlapping patch embedding and the 3×3 depthwise conv inside Mix-FFN).

Tokens are kept as ``[B, N, C]`` with ``N = H·W`` in row-major order, so a grid view
``tokens.transpose(1, 2).reshape(B, C, H, W)`` is free (no copy; the view is "channels-last").

Taught in: notebooks/03_mix_ffn.ipynb
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    "DropPath",
    "OverlapPatchEmbed",
    "EfficientSelfAttention",
    "MixFFN",
    "Block",
    "MiTStage",
    "MiTConfig",
    "MixTransformer",
    "MIT_CONFIGS",
    "mit_b0",
    "mit_b1",
    "mit_b2",
    "mit_b3",
    "mit_b4",
    "mit_b5",
]


class DropPath(nn.Module):
    """Stochastic depth: drop the whole residual branch of a sample with probability ``p``.

    ``out = branch · b / (1 − p)`` with ``b ~ Bernoulli(1 − p)`` drawn once per sample (Huang et al. 2016,
    "Deep Networks with Stochastic Depth", with inverted-dropout rescaling). Identity in eval mode. SegFormer
    trains MiT with a rate rising linearly from 0 to 0.1 over the blocks.

    Taught in: notebooks/03_mix_ffn.ipynb
    """

    def __init__(self, p: float = 0.0):
        super().__init__()
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)  # [B, 1, ...]
        return x * mask / keep

    def extra_repr(self) -> str:
        return f"p={self.p}"


class OverlapPatchEmbed(nn.Module):
    """Overlapping patch embedding (SegFormer §3.1 "Overlapped Patch Merging").

    A strided convolution whose kernel is larger than its stride (K=7, S=4, P=3 for stage 1;
    K=3, S=2, P=1 for stages 2–4), so neighbouring patches share pixels (local continuity),
    followed by a LayerNorm over channels. Output grid: ``H' = ⌊(H + 2P − K) / S⌋ + 1``.

    Returns the tokens ``[B, N, C]`` (``N = H'·W'``) and the grid ``(H', W')``.

    Taught in: notebooks/01_overlapping_patch_embed.ipynb
    """

    def __init__(self, in_channels: int, embed_dim: int, patch_size: int = 7, stride: int = 4, norm_eps: float = 1e-5):
        super().__init__()
        if patch_size <= stride:
            raise ValueError(
                f"OverlapPatchEmbed: patch_size={patch_size} must exceed stride={stride}, otherwise the patches do "
                "not overlap (that would be ViT's patchify). Use 7/4 (stage 1) or 3/2 (stages 2-4)."
            )
        self.proj = nn.Conv2d(in_channels, embed_dim, patch_size, stride=stride, padding=patch_size // 2)
        self.norm = nn.LayerNorm(embed_dim, eps=norm_eps)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        x = self.proj(x)  # [B, C, H', W']
        H, W = x.shape[-2:]
        x = x.flatten(2).transpose(1, 2)  # [B, N, C]
        return self.norm(x), (H, W)


class EfficientSelfAttention(nn.Module):
    """Multi-head self-attention whose keys/values come from a spatially reduced grid (SegFormer Eq. 1–2).

    ``Attention(Q, K, V) = Softmax(Q Kᵀ / √d_head) V``                                   (Eq. 1)

    with Q from all ``N`` tokens but K, V from ``N / R²`` tokens: the ``H×W`` grid is reduced by a
    ``Conv2d(C, C, kernel=R, stride=R)`` + LayerNorm (the convolutional form of Eq. 2's
    ``Reshape(N/R², C·R²)`` + ``Linear(C·R², C)``). Cost drops from ``O(N²)`` to ``O(N² / R²)``.
    With ``R = 1`` there is no reduction layer at all (``self.sr is None``).

    Layers: ``q = Linear(C, C)``; ``kv = Linear(C, 2C)`` (first ``C`` outputs are K, last ``C`` are V);
    ``proj = Linear(C, C)`` mixes the heads back.

    Taught in: notebooks/02_efficient_self_attention.ipynb
    """

    def __init__(self, dim: int, num_heads: int, reduction_ratio: int = 1, norm_eps: float = 1e-5):
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(f"EfficientSelfAttention: dim={dim} is not divisible by num_heads={num_heads}.")
        if reduction_ratio < 1:
            raise ValueError(f"EfficientSelfAttention: reduction_ratio={reduction_ratio} must be >= 1.")
        self.dim = dim
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.reduction_ratio = reduction_ratio
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        if reduction_ratio > 1:
            self.sr = nn.Conv2d(dim, dim, kernel_size=reduction_ratio, stride=reduction_ratio)
            self.sr_norm = nn.LayerNorm(dim, eps=norm_eps)
        else:
            self.sr = None
            self.sr_norm = None
        self.proj = nn.Linear(dim, dim)

    def reduce(self, x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        """The tokens keys/values are computed from: ``[B, N, C]`` → ``[B, N / R², C]`` (identity when R = 1).

        Taught in: notebooks/02_efficient_self_attention.ipynb
        """
        if self.sr is None:
            return x
        B, N, C = x.shape
        if min(hw) < self.reduction_ratio:
            raise ValueError(
                f"EfficientSelfAttention: the token grid {tuple(hw)} is smaller than reduction_ratio="
                f"{self.reduction_ratio}; the input image is too small for MiT (use at least 32×32 pixels)."
            )
        grid = x.transpose(1, 2).reshape(B, C, hw[0], hw[1])  # [B, C, H, W] (a view, no copy)
        x = self.sr(grid).flatten(2).transpose(1, 2)  # [B, (H/R)·(W/R), C]
        return self.sr_norm(x)

    def forward(self, x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        B, N, C = x.shape
        h, d = self.num_heads, self.head_dim
        q = self.q(x).view(B, N, h, d).transpose(1, 2)  # [B, h, N, d]
        kv = self.kv(self.reduce(x, hw))  # [B, M, 2C], M = N / R²
        k, v = kv.view(B, -1, 2, h, d).permute(2, 0, 3, 1, 4).unbind(0)  # 2 × [B, h, M, d]
        out = F.scaled_dot_product_attention(q, k, v)  # [B, h, N, d]  softmax(q kᵀ / √d) v
        out = out.transpose(1, 2).reshape(B, N, C)  # [B, N, C]
        return self.proj(out)


class MixFFN(nn.Module):
    """Mix-FFN (SegFormer Eq. 3): ``x_out = MLP(GELU(Conv3×3(MLP(x_in)))) + x_in``.

    ``fc1`` (C → hidden) → 3×3 depthwise conv on the token grid → exact GELU → ``fc2`` (hidden → C).
    The residual ``+ x_in`` lives in :class:`Block`. The zero-padded depthwise conv leaks position
    into the features, which is why MiT needs no positional encoding.

    Taught in: notebooks/03_mix_ffn.ipynb
    """

    def __init__(self, dim: int, hidden_dim: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.dwconv = nn.Conv2d(hidden_dim, hidden_dim, 3, padding=1, groups=hidden_dim)
        self.act = nn.GELU()  # exact (erf) GELU
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        B, N, _ = x.shape
        x = self.fc1(x)  # [B, N, hidden]
        x = x.transpose(1, 2).reshape(B, -1, hw[0], hw[1])  # [B, hidden, H, W] (a view, no copy)
        x = self.dwconv(x).flatten(2).transpose(1, 2)  # [B, N, hidden]
        x = self.act(x)  # reassigning x lets each hidden-size tensor be freed as soon as it is used
        return self.fc2(x)  # [B, N, C]


class Block(nn.Module):
    """One pre-norm transformer block of MiT (SegFormer §3.1, Fig. 2):

    ``x = x + DropPath(EfficientSelfAttention(LN(x)))``;  ``x = x + DropPath(MixFFN(LN(x)))``.

    Taught in: notebooks/03_mix_ffn.ipynb
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        reduction_ratio: int = 1,
        drop_path: float = 0.0,
        norm_eps: float = 1e-6,
        sr_norm_eps: float = 1e-5,
    ):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = EfficientSelfAttention(dim, num_heads, reduction_ratio, norm_eps=sr_norm_eps)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.ffn = MixFFN(dim, int(dim * mlp_ratio))
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x), hw))  # [B, N, C]
        x = x + self.drop_path(self.ffn(self.norm2(x), hw))  # [B, N, C]
        return x


class MiTStage(nn.Module):
    """One MiT stage: overlapping patch embedding, ``depth`` blocks, a final LayerNorm (SegFormer §3.1).

    Input ``[B, C_in, H, W]`` → output map ``[B, C, H', W']`` with ``H' = ⌈H / stride⌉`` for the
    paddings used here.

    Taught in: notebooks/03_mix_ffn.ipynb
    """

    def __init__(
        self,
        in_channels: int,
        dim: int,
        depth: int,
        num_heads: int,
        mlp_ratio: float,
        reduction_ratio: int,
        patch_size: int,
        stride: int,
        drop_paths: list[float],
        norm_eps: float = 1e-6,
        embed_norm_eps: float = 1e-5,
    ):
        super().__init__()
        self.patch_embed = OverlapPatchEmbed(in_channels, dim, patch_size, stride, norm_eps=embed_norm_eps)
        self.blocks = nn.ModuleList(
            Block(dim, num_heads, mlp_ratio, reduction_ratio, drop_paths[j], norm_eps, embed_norm_eps)
            for j in range(depth)
        )
        self.norm = nn.LayerNorm(dim, eps=norm_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, (H, W) = self.patch_embed(x)  # [B, N, C]
        for block in self.blocks:
            x = block(x, (H, W))
        x = self.norm(x)  # [B, N, C]
        return x.transpose(1, 2).reshape(x.shape[0], -1, H, W)  # [B, C, H, W] (channels-last view)


@dataclass
class MiTConfig:
    """Hyper-parameters of a Mix Transformer (SegFormer Table 6; defaults = MiT-B0).

    ``layer_norm_eps`` is used in the blocks and the stage norms (1e-6 in SegFormer and timm; HF uses
    1e-5 everywhere), ``embed_norm_eps`` in the patch-embedding and spatial-reduction norms (1e-5 in
    all three). ``drop_path_rate`` is spread linearly over all blocks, 0 for the first, the rate for the last.

    Taught in: notebooks/03_mix_ffn.ipynb
    """

    embed_dims: list[int] = field(default_factory=lambda: [32, 64, 160, 256])
    depths: list[int] = field(default_factory=lambda: [2, 2, 2, 2])
    num_heads: list[int] = field(default_factory=lambda: [1, 2, 5, 8])
    mlp_ratios: list[float] = field(default_factory=lambda: [4, 4, 4, 4])
    reduction_ratios: list[int] = field(default_factory=lambda: [8, 4, 2, 1])
    patch_sizes: list[int] = field(default_factory=lambda: [7, 3, 3, 3])
    strides: list[int] = field(default_factory=lambda: [4, 2, 2, 2])
    in_channels: int = 3
    drop_path_rate: float = 0.1
    layer_norm_eps: float = 1e-6
    embed_norm_eps: float = 1e-5

    def __post_init__(self):
        per_stage = ("embed_dims", "depths", "num_heads", "mlp_ratios", "reduction_ratios", "patch_sizes", "strides")
        for name in per_stage:
            value = getattr(self, name)
            if isinstance(value, (int, float)):  # one number for all stages
                value = [value] * 4
            value = list(value)
            if len(value) != 4:
                raise ValueError(f"MiTConfig.{name}={value}: give 4 values, one per stage (or a single number).")
            setattr(self, name, value)


_B1_B5_DIMS = [64, 128, 320, 512]
MIT_CONFIGS: dict[str, MiTConfig] = {
    "mit_b0": MiTConfig(),
    "mit_b1": MiTConfig(embed_dims=_B1_B5_DIMS),
    "mit_b2": MiTConfig(embed_dims=_B1_B5_DIMS, depths=[3, 4, 6, 3]),
    "mit_b3": MiTConfig(embed_dims=_B1_B5_DIMS, depths=[3, 4, 18, 3]),
    "mit_b4": MiTConfig(embed_dims=_B1_B5_DIMS, depths=[3, 8, 27, 3]),
    "mit_b5": MiTConfig(embed_dims=_B1_B5_DIMS, depths=[3, 6, 40, 3]),
}


class MixTransformer(nn.Module):
    """The Mix Transformer encoder (SegFormer §3.1): four stages at strides 4, 8, 16, 32.

    ``forward(x)`` with ``x: [B, in_channels, H, W]`` returns a list of four maps
    ``[B, C_i, H_i, W_i]``, ``H_1 = ⌈H/4⌉`` and ``H_{i+1} = ⌈H_i/2⌉`` (conv arithmetic for odd sizes).
    ``embed_dims`` lists the ``C_i`` so a decode head can be built from it.

    Taught in: notebooks/03_mix_ffn.ipynb
    """

    def __init__(self, config: MiTConfig | None = None, **overrides):
        super().__init__()
        config = _with_overrides(config or MiTConfig(), overrides, "MixTransformer")
        self.config = config
        self.embed_dims = list(config.embed_dims)
        total = sum(config.depths)
        drop_paths = [config.drop_path_rate * j / max(total - 1, 1) for j in range(total)]  # linear 0 → rate
        stages, start, in_ch = [], 0, config.in_channels
        for i in range(4):
            stages.append(
                MiTStage(
                    in_ch,
                    config.embed_dims[i],
                    config.depths[i],
                    config.num_heads[i],
                    config.mlp_ratios[i],
                    config.reduction_ratios[i],
                    config.patch_sizes[i],
                    config.strides[i],
                    drop_paths[start : start + config.depths[i]],
                    norm_eps=config.layer_norm_eps,
                    embed_norm_eps=config.embed_norm_eps,
                )
            )
            start += config.depths[i]
            in_ch = config.embed_dims[i]
        self.stages = nn.ModuleList(stages)
        self.apply(_init_weights)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.ndim != 4 or x.shape[1] != self.config.in_channels:
            raise ValueError(
                f"MixTransformer expects an image batch [B, {self.config.in_channels}, H, W], got {tuple(x.shape)}."
            )
        features = []
        for stage in self.stages:
            x = stage(x)  # [B, C_i, H_i, W_i], a channels-last view the next patch embedding reads directly
            features.append(x.contiguous())  # plain NCHW for the caller
        return features


def _init_weights(m: nn.Module) -> None:
    """Initialisation of SegFormer/PVT: truncated normal (std 0.02) for linears, He-normal (fan-out) for convs."""
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)
    elif isinstance(m, nn.Conv2d):
        fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
        nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_out))
        if m.bias is not None:
            nn.init.zeros_(m.bias)


def _with_overrides(config: MiTConfig, overrides: dict, where: str) -> MiTConfig:
    known = {f.name for f in dataclasses.fields(MiTConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise TypeError(f"{where}: unknown override(s) {unknown}; valid names are {sorted(known)}.")
    return dataclasses.replace(config, **overrides) if overrides else dataclasses.replace(config)


def mit_b0(**overrides) -> MixTransformer:
    """MiT-B0 (SegFormer Table 6): dims [32, 64, 160, 256], depths [2, 2, 2, 2]; 3.3 M parameters.

    ``overrides`` replace any :class:`MiTConfig` field, e.g. ``mlp_ratios=[8, 8, 4, 4]`` (timm's pvt_v2_b0),
    ``drop_path_rate=0.0``, ``layer_norm_eps=1e-5`` (HF), ``in_channels=1``.

    Taught in: notebooks/03_mix_ffn.ipynb
    """
    return MixTransformer(MIT_CONFIGS["mit_b0"], **overrides)


def mit_b1(**overrides) -> MixTransformer:
    """MiT-B1 (SegFormer Table 6): dims [64, 128, 320, 512], depths [2, 2, 2, 2]; 13.2 M parameters.

    Taught in: notebooks/03_mix_ffn.ipynb
    """
    return MixTransformer(MIT_CONFIGS["mit_b1"], **overrides)


def mit_b2(**overrides) -> MixTransformer:
    """MiT-B2 (SegFormer Table 6): dims [64, 128, 320, 512], depths [3, 4, 6, 3]; 24.2 M parameters.

    Taught in: notebooks/03_mix_ffn.ipynb
    """
    return MixTransformer(MIT_CONFIGS["mit_b2"], **overrides)


def mit_b3(**overrides) -> MixTransformer:
    """MiT-B3 (SegFormer Table 6): dims [64, 128, 320, 512], depths [3, 4, 18, 3]; 44.1 M parameters.

    Taught in: notebooks/03_mix_ffn.ipynb
    """
    return MixTransformer(MIT_CONFIGS["mit_b3"], **overrides)


def mit_b4(**overrides) -> MixTransformer:
    """MiT-B4 (SegFormer Table 6): dims [64, 128, 320, 512], depths [3, 8, 27, 3]; 60.8 M parameters.

    Taught in: notebooks/03_mix_ffn.ipynb
    """
    return MixTransformer(MIT_CONFIGS["mit_b4"], **overrides)


def mit_b5(**overrides) -> MixTransformer:
    """MiT-B5 (SegFormer Table 6), DAFormer's encoder: dims [64, 128, 320, 512], depths [3, 6, 40, 3]; 81.4 M params.

    Taught in: notebooks/03_mix_ffn.ipynb
    """
    return MixTransformer(MIT_CONFIGS["mit_b5"], **overrides)
