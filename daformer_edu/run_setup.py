"""Setting up a run before its first iteration: the process's place in DDP, the device, the global seeds, the
networks (student, EMA teacher, frozen ImageNet encoder, AdamW), and the checks that fail in one line before the data
is built or a checkpoint is resumed.

The trainer (``trainer.py``) calls these once, in ``Trainer.__init__``; nothing here runs per iteration.

Taught in: notebooks/09_full_uda.ipynb
"""

from __future__ import annotations

import os
import random
import warnings
from dataclasses import asdict

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from .config import TrainConfig, free_on_resume, upgrade_config_dict
from .hub import check_pretrained_available, is_hub_reference
from .models import build_segmentor
from .tensorboard import check_tensorboard_available
from .uda.fd import frozen_copy
from .uda.schedule import param_groups
from .uda.step import Networks

__all__ = [
    "dist_info",
    "resolve_device",
    "seed_global_rngs",
    "build_networks",
    "check_before_the_data",
    "check_same_run",
]


def dist_info() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment; (0, 1, 0) for a plain process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0"))


def resolve_device(config: TrainConfig, local_rank: int) -> torch.device:
    """``config.device`` as a torch device: ``"auto"`` is this process's GPU (``cuda:<local rank>``) or the CPU;
    asking for CUDA where there is none is a ``ValueError`` that says what to pass instead."""
    if config.device == "auto":
        return torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    if config.device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={config.device!r} but CUDA is not available here; use device=auto or device=cpu")
    return torch.device(config.device)


def seed_global_rngs(seed: int) -> None:
    """Dropout and drop-path draw from torch's global generator (nn.Module offers no other); seed it, and Python's
    and NumPy's, once per run. The checkpoint saves all three, so a resumed run continues their sequences."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_networks(cfg: TrainConfig, num_classes: int, device: torch.device, rank: int) -> Networks:
    """Student, its EMA teacher (uda), the frozen ImageNet encoder (FD), AdamW; DDP around the student."""
    with warnings.catch_warnings():
        if rank:  # "training from scratch" is said once, by rank 0
            warnings.simplefilter("ignore")
        model = build_segmentor(
            cfg.encoder,
            cfg.head,
            num_classes=num_classes,
            pretrained=cfg.pretrained,
            embed_dim=cfg.embed_dim,
            channels=cfg.head_channels if cfg.head == "daformer" else None,
            head_init=cfg.head_init,
        ).to(device)
    # FD's "ImageNet" features: a frozen copy of the *initial* encoder (the pre-trained weights; with
    # pretrained=None the random initialisation, and FD then only keeps the encoder near where it started).
    imagenet = frozen_copy(model.encoder) if cfg.use_fd else None
    teacher = frozen_copy(model) if cfg.mode == "uda" else None
    optimizer = torch.optim.AdamW(
        param_groups(model, cfg.lr, cfg.head_lr_mult, cfg.weight_decay),
        lr=cfg.lr,
        betas=(0.9, 0.999),
        weight_decay=cfg.weight_decay,
        fused=device.type == "cuda",
    )  # CUDA: one kernel, not ~15 per tensor
    student: nn.Module = model
    if dist.is_initialized() and dist.get_world_size() > 1:  # DDP synchronises gradients of passes through it
        student = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    return Networks(student=student, model=model, optimizer=optimizer, teacher=teacher, imagenet_encoder=imagenet)


def check_before_the_data(cfg: TrainConfig, writes: bool) -> None:
    """What can fail in one line before minutes of data preparation: Hub weights offline, TensorBoard missing."""
    if is_hub_reference(cfg.pretrained):
        check_pretrained_available(cfg.pretrained)  # offline and not cached: say how to download it by hand
    if cfg.tensorboard and writes:
        check_tensorboard_available()


def as_list(value):
    """Tuples as lists: a configuration read back from JSON has lists where the dataclass has tuples."""
    return list(value) if isinstance(value, tuple) else value


def check_same_run(saved_config: dict, config: TrainConfig) -> None:
    """A checkpoint resumes only the run it was made by: every field but the ``free_on_resume`` ones must match."""
    saved, now = upgrade_config_dict(saved_config), asdict(config)
    diff = {
        k: (saved.get(k), v)
        for k, v in now.items()
        if k not in free_on_resume() and as_list(saved.get(k)) != as_list(v)
    }
    if diff:
        raise ValueError(
            "resume: the checkpoint was made with a different configuration; differing fields "
            "(checkpoint, now): " + ", ".join(f"{k}={a!r} vs {b!r}" for k, (a, b) in diff.items())
        )
