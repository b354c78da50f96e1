"""Helpers that several test files share: import them with ``from helpers import …``.

pytest puts ``tests/`` on ``sys.path`` (the default ``prepend`` import mode: ``tests/`` has no ``__init__.py``), so
this module is found from any test file.
"""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

__all__ = ["randomize_", "write_png16_rgb", "official_to_ours", "DILATIONS"]


def randomize_(module: nn.Module, seed: int = 0) -> nn.Module:
    """Weights large enough that attention is far from uniform (the default init, std 0.02, hides many bugs, e.g.
    a missing 1/√d), BatchNorm statistics away from (0, 1); in place, seeded, returns ``module``."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.LayerNorm, nn.BatchNorm2d)):
                m.weight.copy_(1 + 0.3 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.3 * torch.randn(m.bias.shape, generator=g))
                if isinstance(m, nn.BatchNorm2d):
                    m.running_mean.copy_(0.3 * torch.randn(m.running_mean.shape, generator=g))
                    m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
            elif isinstance(m, (nn.Linear, nn.Conv2d)):
                m.weight.copy_(1.5 / m.weight[0].numel() ** 0.5 * torch.randn(m.weight.shape, generator=g))
                if m.bias is not None:
                    m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
    return module


def write_png16_rgb(path: Path, arr: np.ndarray) -> None:
    """A 16-bit RGB PNG (what Synthia ships), written by hand: Pillow cannot write this format."""
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w, _ = arr.shape
    raw = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(h))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


# The released DAFormer checkpoint's key layout (mmseg EncoderDecoder: backbone = SegFormer's MixVisionTransformer,
# decode_head = DAFormerHead), written out by hand from the official code, not from the package's renaming rules.
DEPTHS_B0 = [2, 2, 2, 2]
SR_RATIOS = [8, 4, 2, 1]
DILATIONS = (1, 6, 12, 18)
BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
WB = ("weight", "bias")


def official_to_ours(depths=DEPTHS_B0) -> dict[str, str]:
    """Official key (without ``model.``) → our key, for a MiT + DAFormer head segmentor."""
    m = {}
    for s in range(4):
        S = s + 1
        for p in WB:
            m[f"backbone.patch_embed{S}.proj.{p}"] = f"encoder.stages.{s}.patch_embed.proj.{p}"
            m[f"backbone.patch_embed{S}.norm.{p}"] = f"encoder.stages.{s}.patch_embed.norm.{p}"
            m[f"backbone.norm{S}.{p}"] = f"encoder.stages.{s}.norm.{p}"
        for j in range(depths[s]):
            o, u = f"backbone.block{S}.{j}.", f"encoder.stages.{s}.blocks.{j}."
            layers = {"norm1": "norm1", "attn.q": "attn.q", "attn.kv": "attn.kv", "attn.proj": "attn.proj",
                      "norm2": "norm2", "mlp.fc1": "ffn.fc1", "mlp.dwconv.dwconv": "ffn.dwconv", "mlp.fc2": "ffn.fc2"}
            if SR_RATIOS[s] > 1:
                layers.update({"attn.sr": "attn.sr", "attn.norm": "attn.sr_norm"})
            for a, b in layers.items():
                for p in WB:
                    m[f"{o}{a}.{p}"] = f"{u}{b}.{p}"
    for i in range(4):
        for p in WB:
            m[f"decode_head.embed_layers.{i}.proj.{p}"] = f"head.embeds.{i}.{p}"
    for j, d in enumerate(DILATIONS):
        o, u = f"decode_head.fuse_layer.aspp_modules.{j}.", f"head.fusion.branches.{j}."
        if d == 1:
            m[o + "conv.weight"] = u + "pointwise.0.weight"
            for p in BN:
                m[o + f"bn.{p}"] = u + f"pointwise.1.{p}"
        else:
            m[o + "depthwise_conv.conv.weight"] = u + "depthwise.0.weight"
            m[o + "pointwise_conv.conv.weight"] = u + "pointwise.0.weight"
            for p in BN:
                m[o + f"depthwise_conv.bn.{p}"] = u + f"depthwise.1.{p}"
                m[o + f"pointwise_conv.bn.{p}"] = u + f"pointwise.1.{p}"
    m["decode_head.fuse_layer.bottleneck.conv.weight"] = "head.fusion.bottleneck.0.weight"
    for p in BN:
        m[f"decode_head.fuse_layer.bottleneck.bn.{p}"] = f"head.fusion.bottleneck.1.{p}"
    for p in WB:
        m[f"decode_head.conv_seg.{p}"] = f"head.classifier.{p}"
    return m
