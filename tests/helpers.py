"""Helpers that several test files share: import them with ``from helpers import …``.

pytest puts ``tests/`` on ``sys.path`` (the default ``prepend`` import mode: ``tests/`` has no ``__init__.py``), so
this module is found from any test file.
"""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from PIL import Image

__all__ = [
    "randomize_",
    "write_png16_rgb",
    "official_to_ours",
    "DILATIONS",
    "cv2_linear_reference",
    "cv2_nearest_reference",
    "FOLDER_CLASSES",
    "folder_label",
    "folder_image",
    "make_domain",
]


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

    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


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
            layers = {
                "norm1": "norm1",
                "attn.q": "attn.q",
                "attn.kv": "attn.kv",
                "attn.proj": "attn.proj",
                "norm2": "norm2",
                "mlp.fc1": "ffn.fc1",
                "mlp.dwconv.dwconv": "ffn.dwconv",
                "mlp.fc2": "ffn.fc2",
            }
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


# OpenCV's resize arithmetic for uint8 (INTER_LINEAR, INTER_NEAREST), re-derived from its definition in numpy.
def _taps(n_in: int, n_out: int):
    """Per output index: the two source indices and their weights in 1/2048 (OpenCV's INTER_RESIZE_COEF_SCALE)."""
    f = ((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5).astype(np.float32)  # source position, float32
    i0 = np.floor(f).astype(np.int64)
    f = f - i0
    left, right = i0 < 0, i0 >= n_in - 1  # borders: one tap, weight 1
    f[left | right] = 0
    i0 = np.clip(i0, 0, n_in - 1)
    w0, w1 = np.rint((1 - f) * 2048).astype(np.int64), np.rint(f * 2048).astype(np.int64)
    return i0, np.minimum(i0 + 1, n_in - 1), w0, w1


def cv2_linear_reference(img: np.ndarray, oh: int, ow: int) -> np.ndarray:
    """uint8 ``[h, w, C]`` → ``[oh, ow, C]`` with OpenCV's INTER_LINEAR arithmetic, written out."""
    x = img.astype(np.int64)
    x0, x1, a0, a1 = _taps(img.shape[1], ow)
    y0, y1, b0, b1 = _taps(img.shape[0], oh)
    rows = x[:, x0] * a0[None, :, None] + x[:, x1] * a1[None, :, None]  # [h, ow, C], ×2048
    # vertical pass: (rows >> 4) · β >> 16 per tap, then a rounding shift by 2 (total scale 2^22)
    v = ((rows[y0] >> 4) * b0[:, None, None] >> 16) + ((rows[y1] >> 4) * b1[:, None, None] >> 16)
    return np.clip((v + 2) >> 2, 0, 255).astype(np.uint8)


def cv2_nearest_reference(label: np.ndarray, oh: int, ow: int) -> np.ndarray:
    """OpenCV's INTER_NEAREST: output pixel x takes source ⌊x · (1 / (ow / w))⌋ (not centre-aligned)."""
    h, w = label.shape
    xs = np.minimum(np.floor(np.arange(ow) * (1.0 / (ow / w))).astype(np.int64), w - 1)
    ys = np.minimum(np.floor(np.arange(oh) * (1.0 / (oh / h))).astype(np.int64), h - 1)
    return label[ys][:, xs]


# A course's own two domains in the folder layout (images/, labels/, classes.json), written by hand.
# Three classes; the thing is "blob" (id 2) — not a Cityscapes thing id (those are 6, 7, 11–18).
FOLDER_CLASSES = [
    {"name": "sky", "id": 0, "color": [70, 130, 180], "thing": False},
    {"name": "ground", "id": 1, "color": [128, 64, 128], "thing": False},
    {"name": "blob", "id": 2, "color": [220, 20, 60], "thing": True},
]
FOLDER_HW = H, W = 64, 128


def folder_label(i: int) -> np.ndarray:
    """Rows 0–15 sky (0–1 ignore), 16–31 ground, 32–63: blob in the left 64 + 8·(i % 4) columns, ground after."""
    lab = np.zeros((H, W), np.uint8)
    lab[:2] = 255
    lab[16:] = 1
    lab[32:, : 64 + 8 * (i % 4)] = 2
    return lab


def folder_image(lab: np.ndarray, domain: int) -> np.ndarray:
    """A colour per class, brighter and tinted in domain 1 (the domain shift), plus a little noise."""
    base = np.array([[90, 140, 200], [110, 90, 90], [200, 40, 60], [0, 0, 0]], np.float64)
    if domain:
        base = base * 0.6 + np.array([80, 60, 20])
    rng = np.random.default_rng(domain)
    img = base[np.where(lab == 255, 3, lab)] + rng.normal(0, 8, (H, W, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def make_domain(root, domain: int = 0, splits=("train", "val"), n: int = 4, classes=FOLDER_CLASSES, labels=True):
    """Write a folder dataset by hand: ROOT/classes.json, images/<split>/<i>.png, labels/<split>/<i>.png."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "classes.json").write_text(json.dumps(classes))
    written = {}
    for split in splits:
        sub = split or ""
        (root / "images" / sub).mkdir(parents=True, exist_ok=True)
        if labels:
            (root / "labels" / sub).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            lab = folder_label(i)
            img = folder_image(lab, domain)
            Image.fromarray(img).save(root / "images" / sub / f"{split or 'x'}{i:02d}.png")
            if labels:
                Image.fromarray(lab, mode="L").save(root / "labels" / sub / f"{split or 'x'}{i:02d}.png")
            written[f"{split or 'x'}{i:02d}"] = (img, lab)
    return written


def tiny_run_config(out, **overrides):
    """The smallest useful training run: ``smoke`` with MiT-B0 and a 16-wide head, 64×64 crops, 4 iterations,
    2 val images, a checkpoint every 2 iterations; ``overrides`` replace any field. ``out=None``: no files."""
    from daformer_edu.config import make_config

    kw = dict(
        embed_dim=16,
        head_channels=16,
        image_size=(64, 128),
        crop_size=(64, 64),
        iterations=4,
        eval_interval=0,
        checkpoint_interval=2,
        synthetic_train_length=32,
        val_length=2,
        snapshot_images=1,
        progress=False,
        out=None if out is None else str(out),
    )
    kw.update(overrides)
    return make_config("smoke", **kw)
