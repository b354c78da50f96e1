"""Encoder + decode head = a segmentation network, and the one-line builder DAFormer's trainer uses.

``EncoderDecoder(x)`` runs the MiT encoder, the decode head (logits at 1/4 resolution) and upsamples the
logits bilinearly to the input size. ``.encoder`` and ``.head`` stay reachable: feature distance (FD) needs
the encoder's features and the optimiser gives the head a 10× learning rate (DAFormer §3.3, §4.1).

Taught in: notebooks/04_fusion_decoder.ipynb
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..hub import is_hub_reference, resolve_pretrained
from . import mit
from .embedded import load_embedded_weights
from .heads import DAFormerHead, SegFormerHead, init_head_like_mmcv
from .weights import _warn_training_from_scratch, load_encoder_weights

__all__ = ["EncoderDecoder", "build_segmentor", "ENCODERS", "HEADS", "HEAD_INITS", "DEFAULT_HEAD_INIT"]

ENCODERS: tuple[str, ...] = tuple(mit.MIT_CONFIGS)  # "mit_b0" … "mit_b5": the one list of encoder names
_HEADS = {"daformer": DAFormerHead, "segformer": SegFormerHead}
HEADS: tuple[str, ...] = tuple(_HEADS)
# How the decode head starts: "mmcv" as the official code (kaiming-normal convs, BN 1/0, classifier N(0, 0.01)),
# "pytorch" as PyTorch builds the layers. The default of build_segmentor and of TrainConfig.
HEAD_INITS = ("mmcv", "pytorch")
DEFAULT_HEAD_INIT = "mmcv"


class EncoderDecoder(nn.Module):
    """``logits = Upsample_{H×W}(head(encoder(x)))`` — bilinear, ``align_corners=False``.

    ``forward(x: [B, 3, H, W]) → [B, K, H, W]``; ``extract_features(x)`` → the encoder's four maps;
    ``forward(x, features=True)`` (or ``forward_with_features(x)``) → ``(logits, features)`` from one pass (for FD
    on the source batch; through ``forward``, so that DDP sees the pass and synchronises its gradients).

    Taught in: notebooks/04_fusion_decoder.ipynb
    """

    def __init__(self, encoder: nn.Module, head: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.head = head

    def extract_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.encoder(x)  # 4 × [B, C_i, H_i, W_i]

    def decode(self, features: list[torch.Tensor], size: tuple[int, int]) -> torch.Tensor:
        """Head logits (1/4 resolution) upsampled to ``size``."""
        logits = self.head(features)  # [B, K, H/4, W/4]
        return F.interpolate(logits, size=size, mode="bilinear", align_corners=False)  # [B, K, H, W]

    def forward_with_features(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        features = self.extract_features(x)
        return self.decode(features, x.shape[-2:]), features

    def forward(self, x: torch.Tensor, features: bool = False):
        if features:
            return self.forward_with_features(x)
        return self.decode(self.extract_features(x), x.shape[-2:])


def _load_pretrained(enc: nn.Module, encoder, pretrained, pretrained_format: str | None) -> None:
    """The encoder's starting weights: embedded, from the Hub, from a file or state dict, or random (with a warning)."""
    if pretrained == "embedded":
        # the package's own "ImageNet" weights (models/embedded.py), by encoder name
        if not isinstance(encoder, str):
            raise ValueError("build_segmentor: pretrained='embedded' needs the encoder by name, e.g. 'mit_b0'.")
        load_encoder_weights(enc, load_embedded_weights(encoder), format="mit")
    elif is_hub_reference(pretrained):  # "hf:nvidia/mit-b5": downloaded once into the Hugging Face cache
        load_encoder_weights(enc, resolve_pretrained(pretrained), format=pretrained_format)
    elif pretrained is not None:
        load_encoder_weights(enc, pretrained, format=pretrained_format)
    else:
        _warn_training_from_scratch("build_segmentor", stacklevel=4)  # build_segmentor → _load_pretrained → here


def build_segmentor(
    encoder: str | nn.Module = "mit_b5",
    head: str | nn.Module = "daformer",
    num_classes: int = 19,
    pretrained: str | os.PathLike | Mapping | None = None,
    *,
    pretrained_format: str | None = None,
    encoder_kwargs: dict | None = None,
    head_kwargs: dict | None = None,
    embed_dim: int | None = None,
    channels: int | None = None,
    head_init: str = DEFAULT_HEAD_INIT,
) -> EncoderDecoder:
    """Build DAFormer's network: MiT-B5 encoder + context-aware fusion head (DAFormer §3.2), by default.

    ``encoder``: ``"mit_b0"`` … ``"mit_b5"`` or a module with an ``embed_dims`` list.
    ``head``: ``"daformer"`` (embed/fusion width 256), ``"segformer"`` (embed width 256), or a module.
    ``pretrained``: path or state dict of ImageNet encoder weights (SegFormer/HF/timm layout, see
    :func:`~daformer_edu.models.weights.load_encoder_weights`), ``"embedded"`` for the weights the package
    ships (pre-trained on its synthetic "ImageNet", MiT-B0 only: :mod:`daformer_edu.models.embedded`), or
    None to train from scratch (warns once).
    ``encoder_kwargs`` go to ``mit_b*(**kwargs)``; ``head_kwargs`` (and the shortcuts ``embed_dim``,
    ``channels``) to the head, e.g. ``build_segmentor("mit_b0", embed_dim=64, channels=64)`` for a tiny CPU model.
    ``head_init``: ``"mmcv"`` (default: the official initialisation,
    :func:`~daformer_edu.models.heads.init_head_like_mmcv`: kaiming-normal convs, BN 1/0, classifier N(0, 0.01))
    or ``"pytorch"`` (the head as PyTorch builds it); applies to a head given by name or as a module.

    Taught in: notebooks/04_fusion_decoder.ipynb
    """
    if head_init not in HEAD_INITS:
        raise ValueError(f"build_segmentor: head_init={head_init!r} is unknown; use one of {HEAD_INITS}.")
    if isinstance(encoder, str):
        if encoder not in ENCODERS:
            raise ValueError(
                f"build_segmentor: encoder={encoder!r} is unknown; use one of {ENCODERS} or pass a module."
            )
        enc = getattr(mit, encoder)(**(encoder_kwargs or {}))
    elif isinstance(encoder, nn.Module):
        if encoder_kwargs:
            raise ValueError("build_segmentor: encoder_kwargs only apply when encoder is a name like 'mit_b0'.")
        enc = encoder
    else:
        raise TypeError(f"build_segmentor: encoder must be a name or an nn.Module, got {type(encoder).__name__}.")

    _load_pretrained(enc, encoder, pretrained, pretrained_format)

    if isinstance(head, str):
        if head not in _HEADS:
            raise ValueError(
                f"build_segmentor: head={head!r} is unknown; use one of {sorted(_HEADS)} or pass a module."
            )
        embed_dims = getattr(enc, "embed_dims", None)
        if embed_dims is None:
            raise ValueError("build_segmentor: the encoder module needs an `embed_dims` list (channels of its 4 maps).")
        kwargs = dict(head_kwargs or {})
        if embed_dim is not None:
            kwargs["embed_dim"] = embed_dim
        if channels is not None:
            if head == "segformer":
                raise ValueError("build_segmentor: SegFormerHead has one width; set embed_dim, not channels.")
            kwargs["channels"] = channels
        dec = _HEADS[head](list(embed_dims), num_classes=num_classes, **kwargs)
    elif isinstance(head, nn.Module):
        if head_kwargs or embed_dim is not None or channels is not None:
            raise ValueError("build_segmentor: head_kwargs / embed_dim / channels only apply when head is a name.")
        dec = head
    else:
        raise TypeError(f"build_segmentor: head must be a name or an nn.Module, got {type(head).__name__}.")
    if head_init == "mmcv":
        init_head_like_mmcv(dec)
    return EncoderDecoder(enc, dec)
