"""Encoder weights the package ships: the embedded world's stand-in for ImageNet pre-training.

DAFormer starts from an ImageNet-pretrained MiT (§4.1), and two of its three strategies exist to keep that
knowledge: the thing-class feature distance (FD) pulls the student's features towards the frozen ImageNet
encoder's, and the learning-rate warmup keeps the first large updates from destroying it (§3.3). ImageNet
cannot be downloaded here, so the package trains its own "ImageNet" encoder on a third procedural image set,
``SyntheticObjects`` (object-centric photos of the world's things and stuff; see
``daformer_edu/data/synthetic/objects.py`` for what it is and what would make it cheat), and ships the
result for MiT-B0 as float16 (about 7 MB).

    build_segmentor("mit_b0", "daformer", num_classes=19, pretrained="embedded")
    make_config("cpu-demo")            # pretrained="embedded": the cpu-demo run starts from these weights

``python -m daformer_edu.pretrain --encoder mit_b0 --out FILE`` reproduces a file (the command, its
arguments and the measured time are stored in the file's ``meta``; :func:`embedded_meta` reads them).

Taught in: notebooks/08_feature_distance.ipynb
"""

from __future__ import annotations

from pathlib import Path

import torch

__all__ = ["EMBEDDED_WEIGHTS", "embedded_weights_path", "load_embedded_weights", "embedded_meta"]

_FOLDER = Path(__file__).resolve().parent / "embedded_weights"

# encoder name → file in daformer_edu/models/embedded_weights/ (the only weight files the repository holds)
EMBEDDED_WEIGHTS: dict[str, str] = {"mit_b0": "mit_b0_objects.pt"}


def embedded_weights_path(encoder: str) -> Path:
    """The shipped weight file of ``encoder`` (``"mit_b0"``); an encoder without one raises and lists those that exist.

    Taught in: notebooks/08_feature_distance.ipynb
    """
    if encoder not in EMBEDDED_WEIGHTS:
        raise ValueError(
            f"pretrained='embedded': the package ships weights for {sorted(EMBEDDED_WEIGHTS)} only, not for "
            f"{encoder!r}. Use one of those encoders, pass the path of ImageNet MiT weights you downloaded "
            f"(SegFormer mit_b*.pth, HF or timm layout), train your own with `python -m daformer_edu.pretrain "
            f"--encoder {encoder} --out FILE` and pass FILE, or pretrained=None to train from scratch."
        )
    path = _FOLDER / EMBEDDED_WEIGHTS[encoder]
    if not path.is_file():
        raise FileNotFoundError(
            f"pretrained='embedded': {path} is missing from this installation (it is part of the repository). "
            f"Recreate it with `python -m daformer_edu.pretrain --encoder {encoder} --out {path}`."
        )
    return path


def _load(encoder: str) -> dict:
    return torch.load(embedded_weights_path(encoder), map_location="cpu", weights_only=True)


def load_embedded_weights(encoder: str) -> dict[str, torch.Tensor]:
    """The shipped encoder state dict of ``encoder`` in this package's key layout, as float32 tensors.

    Deterministic: the same file gives the same tensors on every call (nothing random happens on load).

    Taught in: notebooks/08_feature_distance.ipynb
    """
    return {k: v.float() for k, v in _load(encoder)["state_dict"].items()}


def embedded_meta(encoder: str) -> dict:
    """What the shipped file of ``encoder`` records about itself: the command that made it, its data, its time.

    Taught in: notebooks/08_feature_distance.ipynb
    """
    return dict(_load(encoder)["meta"])
