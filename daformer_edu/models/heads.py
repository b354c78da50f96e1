"""Decode heads: SegFormer's all-MLP head and DAFormer's context-aware fusion head.

Both take the four MiT maps ``[B, C_i, H/2^(i+1), W/2^(i+1)]``, project every map to one width with a
per-pixel linear layer, upsample to 1/4 resolution and concatenate. They differ in how they fuse:

* :class:`SegFormerHead` (SegFormer Eq. 4): one 1×1 conv — every output pixel sees only its own
  concatenated feature vector (the context comes from the encoder alone).
* :class:`DAFormerHead` (DAFormer §3.2): an ASPP-like stack of :class:`ContextBranch` es — a 1×1
  conv and depthwise-separable 3×3 convs with dilations 6, 12, 18, i.e. windows of 1, 13, 25 and 37
  feature pixels (4, 52, 100, 148 image pixels) — concatenated and fused by a 3×3 conv.

Logits come out at 1/4 of the input size; :class:`~daformer_edu.models.segmentor.EncoderDecoder`
upsamples them.

Both are laid out like the official mmseg heads, module for module (a ``Conv2d`` without bias, BatchNorm and
ReLU for every mmcv ``ConvModule``), so the released DAFormer weights load into :class:`DAFormerHead`
one tensor per parameter (:func:`~daformer_edu.models.weights.load_segmentor_weights`).
:func:`init_head_like_mmcv` gives a head the official initialisation.

Taught in: notebooks/04_fusion_decoder.ipynb
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    "ContextBranch",
    "ContextAwareFusion",
    "SegFormerHead",
    "DAFormerHead",
    "init_head_like_mmcv",
]


class _ConvBNReLU(nn.Sequential):
    """``Conv2d(bias=False) → BatchNorm2d → ReLU`` with "same" padding ``dilation·(k−1)/2``.

    Taught in: notebooks/04_fusion_decoder.ipynb
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1, dilation: int = 1, groups: int = 1):
        padding = dilation * (kernel_size - 1) // 2
        super().__init__(
            nn.Conv2d(
                in_channels, out_channels, kernel_size, padding=padding, dilation=dilation, groups=groups, bias=False
            ),  # BatchNorm follows: a bias would be cancelled by its mean
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


def _embed_and_upsample(features: Sequence[torch.Tensor], embeds: nn.ModuleList) -> list[torch.Tensor]:
    """Per-stage ``Linear(C_i, C)`` on every pixel, then bilinear upsampling to the stage-1 grid (1/4).

    ``F̂_i = Upsample(H/4 × W/4)(Linear(C_i, C)(F_i))`` — the first two lines of SegFormer Eq. 4 (DAFormer
    uses the same embedding). Returns four ``[B, C, H/4, W/4]`` maps, stage 1 first.

    Taught in: notebooks/04_fusion_decoder.ipynb
    """
    if len(features) != len(embeds):
        raise ValueError(f"expected {len(embeds)} feature maps (one per encoder stage), got {len(features)}.")
    size = features[0].shape[-2:]
    out = []
    for f, embed in zip(features, embeds):
        B, _, h, w = f.shape
        x = embed(f.flatten(2).transpose(1, 2))  # [B, h·w, C]
        x = x.transpose(1, 2).reshape(B, -1, h, w)  # [B, C, h, w]
        if (h, w) != tuple(size):
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)  # [B, C, H/4, W/4]
        out.append(x)
    return out


class SegFormerHead(nn.Module):
    """SegFormer's all-MLP decoder (SegFormer Eq. 4):

    ``F̂_i = Upsample(Linear(C_i, C)(F_i))``; ``F = Linear(4C, C)(Concat(F̂_i))``; ``M = Linear(C, K)(F)``.

    The fusing ``Linear(4C, C)`` is a 1×1 conv + BatchNorm + ReLU, followed by dropout 0.1 and a 1×1
    classifier. The concatenation order is ``[F̂_4, F̂_3, F̂_2, F̂_1]`` as in SegFormer's and HF's code,
    so weights are interchangeable with HF's ``SegformerDecodeHead``. Returns logits at 1/4 resolution.

    Taught in: notebooks/04_fusion_decoder.ipynb
    """

    def __init__(self, in_channels: Sequence[int], num_classes: int = 19, embed_dim: int = 256, dropout: float = 0.1):
        super().__init__()
        self.in_channels = list(in_channels)
        self.embeds = nn.ModuleList(nn.Linear(c, embed_dim) for c in self.in_channels)
        self.fuse = _ConvBNReLU(len(self.in_channels) * embed_dim, embed_dim, kernel_size=1)
        self.dropout = nn.Dropout2d(dropout)
        self.classifier = nn.Conv2d(embed_dim, num_classes, 1)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        x = torch.cat(_embed_and_upsample(features, self.embeds)[::-1], dim=1)  # [B, 4C, H/4, W/4]
        x = self.fuse(x)  # [B, C, H/4, W/4]
        return self.classifier(self.dropout(x))  # [B, K, H/4, W/4]


class ContextBranch(nn.Module):
    """One branch of DAFormer's context-aware fusion (DAFormer §3.2): sees a ``(2d+1)²`` window.

    ``dilation = 1``: a 1×1 conv + BN + ReLU (each pixel alone, ``context_size = 1``).
    ``dilation = d > 1``: depthwise-separable — a 3×3 depthwise conv with dilation ``d`` + BN + ReLU,
    then a 1×1 pointwise conv + BN + ReLU. Its taps lie ``d`` pixels apart, so the window spans
    ``context_size = 2d + 1`` feature pixels (×4 in image pixels at stride 4).

    Taught in: notebooks/04_fusion_decoder.ipynb
    """

    def __init__(self, in_channels: int, out_channels: int, dilation: int = 1):
        super().__init__()
        self.dilation = dilation
        if dilation == 1:
            self.depthwise = None
            self.pointwise = _ConvBNReLU(in_channels, out_channels, kernel_size=1)
        else:
            self.depthwise = _ConvBNReLU(in_channels, in_channels, kernel_size=3, dilation=dilation, groups=in_channels)
            self.pointwise = _ConvBNReLU(in_channels, out_channels, kernel_size=1)

    @property
    def context_size(self) -> int:
        """Side of the window of input pixels one output pixel depends on (feature-map pixels)."""
        return 1 if self.depthwise is None else 2 * self.dilation + 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.depthwise is not None:
            x = self.depthwise(x)  # [B, C_in, h, w]
        return self.pointwise(x)  # [B, C_out, h, w]


class ContextAwareFusion(nn.Module):
    """DAFormer's fusion (§3.2): parallel :class:`ContextBranch` es (dilations 1, 6, 12, 18), no image
    pooling, concatenated and fused by a 3×3 conv + BN + ReLU to ``channels``.

    ``F = Conv3×3(Concat_d Branch_d(Concat(F̂_1 … F̂_4)))``.

    Taught in: notebooks/04_fusion_decoder.ipynb
    """

    def __init__(self, in_channels: int, channels: int = 256, dilations: Sequence[int] = (1, 6, 12, 18)):
        super().__init__()
        self.branches = nn.ModuleList(ContextBranch(in_channels, channels, d) for d in dilations)
        self.bottleneck = _ConvBNReLU(len(self.branches) * channels, channels, kernel_size=3)

    def forward_branches(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Each branch's output ``[B, channels, h, w]`` (for looking at them one by one)."""
        return [branch(x) for branch in self.branches]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bottleneck(torch.cat(self.forward_branches(x), dim=1))  # [B, channels, h, w]


class DAFormerHead(nn.Module):
    """DAFormer's multi-level context-aware feature fusion decoder (DAFormer §3.2).

    Per-stage ``nn.Linear(C_i, embed_dim)`` (no norm, no activation), bilinear upsampling to 1/4,
    concatenation ``[F̂_1, F̂_2, F̂_3, F̂_4]``, :class:`ContextAwareFusion` (1×1 branch and depthwise-separable
    3×3 branches with dilations 6, 12, 18, each to ``channels``; 3×3 conv ``4·channels → channels``),
    Dropout2d 0.1, 1×1 classifier. Returns logits ``[B, K, H/4, W/4]``.

    ``forward(features, return_features=True)`` returns ``(logits, {"embed": E, "fused": F})`` with the two
    inner maps the logits are computed from (the same tensors, one forward pass): ``E = Concat(F̂_1 … F̂_4)``
    ``[B, 4·embed_dim, H/4, W/4]``, what enters the fusion, and ``F`` ``[B, channels, H/4, W/4]``, the fusion
    output the classifier reads (BlindNet's CWCL/SDCL act on them, notebook 10).

    Taught in: notebooks/04_fusion_decoder.ipynb
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        num_classes: int = 19,
        embed_dim: int = 256,
        channels: int = 256,
        dilations: Sequence[int] = (1, 6, 12, 18),
        dropout: float = 0.1,
    ):
        super().__init__()
        self.in_channels = list(in_channels)
        self.embeds = nn.ModuleList(nn.Linear(c, embed_dim) for c in self.in_channels)
        self.fusion = ContextAwareFusion(len(self.in_channels) * embed_dim, channels, dilations)
        self.dropout = nn.Dropout2d(dropout)
        self.classifier = nn.Conv2d(channels, num_classes, 1)

    def forward(
        self, features: Sequence[torch.Tensor], return_features: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, dict[str, torch.Tensor]]:
        embed = torch.cat(_embed_and_upsample(features, self.embeds), dim=1)  # [B, 4·embed_dim, H/4, W/4]
        fused = self.fusion(embed)  # [B, channels, H/4, W/4]
        logits = self.classifier(self.dropout(fused))  # [B, K, H/4, W/4]
        if return_features:
            return logits, {"embed": embed, "fused": fused}
        return logits


def init_head_like_mmcv(head: nn.Module, classifier_std: float = 0.01) -> nn.Module:
    """Re-initialise a decode head the way the official (mmcv / mmseg) code does; returns the head.

    * every ``Conv2d`` followed by BatchNorm (an mmcv ``ConvModule``: the fusion and bottleneck convs,
      depthwise ones included) — kaiming-normal, ``mode="fan_out"``, ``nonlinearity="relu"``:
      ``W ~ N(0, 2 / fan_out)`` with ``fan_out = C_out·k·k`` (PyTorch does not divide by ``groups``);
      mmcv's ``ConvModule.init_weights`` → ``kaiming_init(conv, a=0, nonlinearity="relu")``;
    * every BatchNorm — weight 1, bias 0 (``constant_init(norm, 1, bias=0)``);
    * the classifier (mmseg's ``conv_seg``) — ``W ~ N(0, classifier_std²)`` with ``classifier_std = 0.01``,
      bias 0 (``BaseDecodeHead``'s ``init_cfg=dict(type="Normal", std=0.01, override=dict(name="conv_seg"))``);
    * the per-stage ``nn.Linear`` embeddings keep PyTorch's default: the official ``MLP.proj`` is a plain
      ``nn.Linear`` that no mmcv initialiser reaches.

    PyTorch's own default (what a freshly built head has) is ``kaiming_uniform_(a=√5)`` for every conv and
    linear: ``W ~ U(±1/√fan_in)``, std ``1/√(3·fan_in)``, with a uniform bias on the classifier.
    Draws from torch's global generator (seed it for a reproducible head).

    Taught in: notebooks/04_fusion_decoder.ipynb
    """
    classifier = getattr(head, "classifier", None)
    for module in head.modules():
        if module is classifier:
            continue
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, a=0, mode="fan_out", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.modules.batchnorm._BatchNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    if isinstance(classifier, nn.Conv2d):
        nn.init.normal_(classifier.weight, mean=0.0, std=classifier_std)
        if classifier.bias is not None:
            nn.init.zeros_(classifier.bias)
    return head
