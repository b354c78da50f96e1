"""The adaptation run: DAFormer's self-training loop, composed from the package's pieces.

Nothing is re-implemented here. One training iteration t of DAFormer (mode ``uda``) calls, in order:

1. ``set_lr``                 warmup + poly learning rate for every AdamW group (head ×10)   (uda/schedule.py)
2. ``forward_with_features``  student on the source crop → logits and the four encoder maps  (models/segmentor.py)
   ``weighted_ce``            L_S, the source cross-entropy                                  (uda/losses.py)
3. ``thing_mask`` + ``feature_distance``  L_FD between the student's last stage and the frozen
   ImageNet copy on thing-class cells of the source crop                                     (uda/fd.py)
4. ``ema_update``             teacher φ ← αφ + (1 − α)θ, α = min(1 − 1/(t + 1), α_max)         (uda/ema.py)
5. ``pseudo_label``           teacher on the *un-augmented* target crop → p_T and q_T          (uda/pseudo_label.py)
6. ``classmix_masks`` + ``mix`` + ``strong_augment``  source classes pasted onto the target,
   then colour jitter + blur                                                                 (uda/dacs.py)
   ``weighted_ce``            L_T on the mixed crop, weight 1 on source pixels, q_T on target
7. one backward of  L = L_S + L_T + λ_FD · L_FD,  one AdamW step.

Source crops come from ``RareClassSampler`` (uda/rcs.py) when RCS is on. ``source-only`` keeps steps 1–2
(and 3 if asked), ``oracle`` runs steps 1–2 on *labelled target* crops: the upper bound.

Engineering, in the same file so a student sees all of it:
- ``TrainConfig`` (a dataclass) and named presets ``gpu-full``, ``cpu-demo``, ``smoke``, ``auto``.
- Randomness you can resume: crop *k* of iteration *t* is drawn from ``numpy.random.default_rng([seed,
  stream, t, k])`` — a pure function of (seed, t, k), so the data order needs no iterator state — and every
  other generator (torch, NumPy, Python, ClassMix/augmentation, RCS) is saved in the checkpoint.
- Checkpoints every ``checkpoint_interval`` iterations and at the end (atomic, ``checkpoint.py``);
  ``resume=`` continues a killed run, bit for bit on a CPU.
- A non-finite loss term stops the run (``NonFiniteLossError`` names the iteration and the term) before
  the optimiser touches the weights, so the last checkpoint stays good.
- Progress with ``tqdm.auto``, every metric in ``log.jsonl``, a final ``metrics.json``.
- DDP when launched with ``torchrun`` (``WORLD_SIZE > 1``); one process is the default.

Command line (the same code as notebook 09)::

    python -m daformer_edu.train --preset cpu-demo --mode uda --out runs/x
    python -m daformer_edu.train --preset smoke --mode uda --out runs/x --set rcs=false fd=false
    torchrun --nproc_per_node 4 -m daformer_edu.train --preset gpu-full --out runs/gta --set \\
        source=gta source_root=/data/gta target=cityscapes target_root=/data/cityscapes pretrained=mit_b5.pth

Taught in: notebooks/09_full_uda.ipynb
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import random
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from .checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from .data.classes import CLASSES, IGNORE_INDEX, ClassTable
from .models import build_segmentor
from .uda.dacs import classmix_masks, mix, strong_augment
from .uda.ema import ema_update, set_teacher_mode
from .uda.fd import feature_distance, frozen_copy, thing_mask
from .uda.losses import weighted_ce
from .uda.pseudo_label import pseudo_label
from .uda.rcs import RareClassSampler, scaled_min_pixels
from .uda.schedule import param_groups, set_lr

__all__ = [
    "MODES",
    "PRESETS",
    "TrainConfig",
    "make_config",
    "resolve_auto_preset",
    "NonFiniteLossError",
    "Trainer",
    "train",
]

MODES = ("source-only", "uda", "oracle")
SOURCES = ("synthetic", "gta", "synthia", "folder")
TARGETS = ("synthetic", "cityscapes", "folder")  # folder: your own images/labels/classes.json (data/folder.py)
ENCODERS = ("mit_b0", "mit_b1", "mit_b2", "mit_b3", "mit_b4", "mit_b5")
AMP = ("auto", "bf16", "fp32")


@dataclass
class TrainConfig:
    """Everything a run depends on (DAFormer §4.1 for the defaults of the full recipe).

    Fields are grouped as: what to run (``mode``), data, network, optimisation (AdamW, warmup + poly),
    self-training (EMA α_max, τ, q_T per image), the strategy switches of the paper's ablations (``rcs``,
    ``fd``, ``warmup``, ``classmix``), the switches between the paper's and the official code's form
    (``per_image_qt``, ``teacher_train_mode``, ``classmix_batch_pool``, ``augment_coins_per_batch``,
    ``fd_per_image``, ``rcs_fc_all_pixels``; the README's table "Paper vs official code" lists every difference
    and which preset runs which), and engineering (precision, device, intervals, output folder, ``resume``).
    ``rcs``/``fd`` left at ``None`` follow the mode: on for ``uda``, off for ``source-only`` and ``oracle``
    (the plain baselines); set them to ``True``/``False`` to override.
    Build one from a preset with :func:`make_config`. Invalid values raise at once, naming the field and
    the valid values.

    Taught in: notebooks/09_full_uda.ipynb
    """

    # -- what to run -------------------------------------------------------------------------------
    mode: str = "uda"  # one of MODES
    preset: str = "custom"  # the preset it came from (recorded in metrics.json)
    seed: int = 0  # training randomness: init, crops, ClassMix, augmentation, dropout
    iterations: int = 40000
    # -- data --------------------------------------------------------------------------------------
    source: str = "synthetic"  # synthetic | gta | synthia | folder
    target: str = "synthetic"  # synthetic | cityscapes | folder
    source_root: str | None = None  # folder of a real source dataset (GTA / Synthia / folder layout)
    target_root: str | None = None  # folder of Cityscapes (or of a folder dataset)
    image_size: tuple[int, int] = (512, 1024)  # (H, W) synthetic images are rendered at / Cityscapes resized to
    # (H, W) resize bound of a real source (keep ratio). None = the official size for that source — GTA 720×1280,
    # Synthia 760×1280 (DAFormer's data configs) — scaled as image_size is from the official 512×1024 (so gpu-full
    # gets exactly the official sizes); the synthetic source is rendered at image_size. See _source_image_size.
    source_image_size: tuple[int, int] | None = None
    crop_size: tuple[int, int] = (512, 512)  # (H, W) random training crops
    cat_max_ratio: float = 0.75  # source crops: re-draw while one class fills ≥ this share
    synthetic_train_length: int = 10000  # images in each synthetic training split
    val_length: int = 100  # target validation images evaluated (synthetic: rendered; real: first N, 0 = all)
    data_seed: int = 0  # which synthetic scenes exist (fixed across training seeds)
    num_workers: int = 0  # DataLoader workers (0 = load in the main process)
    # -- network -----------------------------------------------------------------------------------
    encoder: str = "mit_b5"
    head: str = "daformer"  # daformer | segformer
    embed_dim: int = 256  # head: width of the per-stage linear embeddings
    head_channels: int = 256  # head: width of the context-aware fusion
    head_init: str = "mmcv"  # head init: "mmcv" (official: kaiming-normal convs, classifier N(0, 0.01)) | "pytorch"
    pretrained: str | None = None  # ImageNet encoder weights (path), "embedded" (shipped, MiT-B0), None = scratch
    # -- optimisation ------------------------------------------------------------------------------
    batch_size: int = 2  # source crops per step (and as many target crops)
    lr: float = 6e-5
    head_lr_mult: float = 10.0
    weight_decay: float = 0.01
    warmup_iters: int = 1500
    poly_power: float = 1.0
    # -- self-training -----------------------------------------------------------------------------
    ema_alpha: float = 0.999  # α_max of the teacher: 0.999 the released config, 0.99 the paper (§4.1)
    pseudo_threshold: float = 0.968  # τ
    ignore_top: int = 0  # pseudo-label rows with weight 0 (official Cityscapes 512 crops: 15 / 120)
    ignore_bottom: int = 0
    # -- strategy switches (the paper's ablations) --------------------------------------------------
    rcs: bool | None = None  # Rare Class Sampling (None = on for uda)
    fd: bool | None = None  # thing-class ImageNet feature distance (None = on for uda)
    warmup: bool = True  # linear lr warmup over warmup_iters
    classmix: bool = True  # ClassMix source classes into the target crop (False: target crop alone)
    strong_augment: bool = True  # colour jitter + blur on the mixed crop
    per_image_qt: bool = True  # q_T per image (paper) or one per batch (official code)
    # The teacher's BatchNorm: True = statistics of the target batch (official: the teacher runs in train mode;
    # dropout and drop-path stay off), False = eval mode (the running statistics copied from the student).
    # Default True, measured: cpu-demo seed 0, final mIoU 36.1 (True) vs 30.2 (False), behind from iteration
    # 500 on (bench/results/cpu-demo/official_options.md).
    teacher_train_mode: bool = True
    # Where the paper and the official code differ (README "Paper vs official code"); each: False | True.
    classmix_batch_pool: bool = False  # ClassMix classes of each source image (paper) | pooled over the batch (official)
    augment_coins_per_batch: bool = False  # jitter / blur coins per image (paper, DACS) | one per batch (official)
    fd_per_image: bool = False  # L_FD over all thing cells of the batch (official) | per image L_FD^(i), then mean (paper)
    rcs_fc_all_pixels: bool = False  # f_c = n_c / Σ_c n_c, labelled pixels (official) | n_c / (N_S·H·W) (paper)
    rcs_temperature: float = 0.01
    rcs_min_pixels: int | None = None  # None = 3000 scaled from GTA's 1914×1052 to the source image area
    rcs_min_crop_ratio: float = 0.5
    fd_lambda: float = 0.005
    fd_min_ratio: float = 0.75  # r of the thing mask
    # -- engineering -------------------------------------------------------------------------------
    amp: str = "auto"  # auto (bf16 on CUDA, fp32 on CPU) | bf16 | fp32. Paper and official code: fp32; bf16 is ours
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    eval_interval: int = 4000  # evaluate on target val every N iterations (0 = only at the end)
    checkpoint_interval: int = 4000  # checkpoint every N iterations (and always at the end)
    log_interval: int = 1  # one log.jsonl line every N iterations
    snapshot_images: int = 2  # target images whose pseudo-labels are kept at every evaluation
    out: str | None = "runs/daformer"  # output folder (None: no files at all, e.g. in a benchmark)
    resume: str | None = None  # a checkpoint file or run folder to continue from
    progress: bool = True  # tqdm progress bar

    def __post_init__(self):
        self.image_size = tuple(self.image_size)
        self.crop_size = tuple(self.crop_size)
        if self.source_image_size is not None:
            self.source_image_size = tuple(self.source_image_size)
        _validate(self)

    @property
    def use_rcs(self) -> bool:
        """RCS on? (``rcs=None`` → on for ``uda`` only)."""
        return (self.mode == "uda") if self.rcs is None else bool(self.rcs)

    @property
    def use_fd(self) -> bool:
        """FD on? (``fd=None`` → on for ``uda`` only)."""
        return (self.mode == "uda") if self.fd is None else bool(self.fd)


def _choice(name: str, value, valid) -> None:
    if value not in valid:
        raise ValueError(f"TrainConfig: {name}={value!r} is not valid; choose one of {list(valid)}")


def _validate(cfg: TrainConfig) -> None:
    """Fail at once with a message naming the field and the valid values (before any work is done)."""
    _choice("mode", cfg.mode, MODES)
    _choice("source", cfg.source, SOURCES)
    _choice("target", cfg.target, TARGETS)
    _choice("encoder", cfg.encoder, ENCODERS)
    _choice("head", cfg.head, ("daformer", "segformer"))
    _choice("head_init", cfg.head_init, ("mmcv", "pytorch"))
    _choice("amp", cfg.amp, AMP)
    for name in ("iterations", "batch_size", "embed_dim", "head_channels"):
        if not isinstance(getattr(cfg, name), int) or getattr(cfg, name) < 1:
            raise ValueError(f"TrainConfig: {name}={getattr(cfg, name)!r} must be a positive integer")
    for name in ("warmup_iters", "eval_interval", "checkpoint_interval", "num_workers", "val_length",
                 "ignore_top", "ignore_bottom", "snapshot_images", "synthetic_train_length"):
        if not isinstance(getattr(cfg, name), int) or getattr(cfg, name) < 0:
            raise ValueError(f"TrainConfig: {name}={getattr(cfg, name)!r} must be an integer ≥ 0")
    if cfg.log_interval < 1:
        raise ValueError(f"TrainConfig: log_interval={cfg.log_interval} must be ≥ 1")
    for name in ("lr", "rcs_temperature"):
        if not getattr(cfg, name) > 0:
            raise ValueError(f"TrainConfig: {name}={getattr(cfg, name)} must be > 0")
    for name in ("head_lr_mult", "weight_decay", "fd_lambda", "poly_power"):
        if getattr(cfg, name) < 0:
            raise ValueError(f"TrainConfig: {name}={getattr(cfg, name)} must be ≥ 0")
    for name in ("ema_alpha", "pseudo_threshold"):
        if not 0 <= getattr(cfg, name) < 1:
            raise ValueError(f"TrainConfig: {name}={getattr(cfg, name)} must lie in [0, 1)")
    for name in ("fd_min_ratio", "cat_max_ratio", "rcs_min_crop_ratio"):
        if not 0 <= getattr(cfg, name) <= 1:
            raise ValueError(f"TrainConfig: {name}={getattr(cfg, name)} must lie in [0, 1]")
    for name in ("classmix_batch_pool", "augment_coins_per_batch", "fd_per_image", "rcs_fc_all_pixels"):
        if not isinstance(getattr(cfg, name), bool):  # paper (False) or official code (True), nothing else
            raise ValueError(f"TrainConfig: {name}={getattr(cfg, name)!r} must be True or False")
    sizes = [("image_size", cfg.image_size), ("crop_size", cfg.crop_size)]
    if cfg.source_image_size is not None:
        sizes.append(("source_image_size", cfg.source_image_size))
    for name, size in sizes:
        if len(size) != 2 or min(size) < 32:
            raise ValueError(f"TrainConfig: {name}={size} must be (H, W) with both sides ≥ 32")
    if cfg.crop_size[0] % 32 or cfg.crop_size[1] % 32:
        raise ValueError(f"TrainConfig: crop_size={cfg.crop_size} must be multiples of 32 (the encoder's stride; "
                         "FD pools the label onto the 1/32 grid)")
    if cfg.source == "synthetic" and cfg.target == "synthetic":
        if cfg.crop_size[0] > cfg.image_size[0] or cfg.crop_size[1] > cfg.image_size[1]:
            raise ValueError(f"TrainConfig: crop_size={cfg.crop_size} is larger than image_size={cfg.image_size}")
    for name, kind, root in (("source_root", cfg.source, cfg.source_root), ("target_root", cfg.target, cfg.target_root)):
        if kind != "synthetic":
            if root is None:
                raise ValueError(f"TrainConfig: {name.split('_')[0]}={kind!r} needs {name}=<folder of the dataset>; "
                                 f"or use {name.split('_')[0]}='synthetic' (the embedded pair)")
            if not Path(root).exists():
                raise FileNotFoundError(f"TrainConfig: {name}={root!r} does not exist; give the folder of the "
                                        f"{kind} download (see `python -m daformer_edu.data` for the layout)")
    if cfg.pretrained == "embedded":
        from .models.embedded import embedded_weights_path

        try:
            embedded_weights_path(cfg.encoder)
        except ValueError as err:
            raise ValueError(f"TrainConfig: encoder={cfg.encoder!r} with {err}") from None
    elif cfg.pretrained is not None and not Path(cfg.pretrained).is_file():
        raise FileNotFoundError(f"TrainConfig: pretrained={cfg.pretrained!r} is not a file; give the path of "
                                "ImageNet MiT weights (SegFormer mit_b*.pth, HF or timm layout), 'embedded' or None")
    if cfg.resume is not None and not Path(cfg.resume).exists():
        raise FileNotFoundError(f"TrainConfig: resume={cfg.resume!r} does not exist; give a checkpoint file or "
                                "the run folder that holds checkpoint.pt")
    if not (cfg.device in ("auto", "cpu") or cfg.device.startswith("cuda")):
        raise ValueError(f"TrainConfig: device={cfg.device!r} is not valid; choose 'auto', 'cpu', 'cuda' or 'cuda:N'")


# ------------------------------------------------------------------------------------------------
# Presets. ``auto`` is resolved at call time: gpu-full when CUDA is available, else cpu-demo.
# ------------------------------------------------------------------------------------------------
PRESETS: dict[str, dict[str, Any]] = {
    # The full DAFormer recipe (§4.1) as the released config runs it (configs/daformer/gta2cs_uda_warm_fdthings_
    # rcs_croppl_a999_daformer_mitb5_s0.py): MiT-B5 + DAFormer head, 512×512 crops, batch 2, 40k iterations,
    # AdamW 6e-5 (head ×10), wd 0.01, warmup 1500 + poly 1.0, τ 0.968, RCS T 0.01, FD λ 0.005 r 0.75.
    # Where paper and released code differ, gpu-full is the released code (README "Paper vs official code"):
    # α_max 0.999 (the paper's §4.1 says 0.99); q_T one per batch, ClassMix classes pooled over the batch, one
    # jitter / blur coin per batch; the teacher's BatchNorm on the target batch's statistics (the official
    # teacher runs in train mode; dropout and drop-path off); pseudo-label rows 15 top / 120 bottom ignored
    # ("croppl"); FD over the batch's thing cells and f_c over labelled pixels are the TrainConfig defaults.
    # The decode head starts as mmcv starts it (head_init="mmcv"). Precision fp32 as paper and released code (no fp16 hook: optimizer_config=None). amp="bf16" is this
    # package's speed option (0.307 s / iteration on one H200, README "Measured"); its effect on mIoU has not
    # been measured on a GPU, and on a CPU without bf16 instructions a cpu-demo run takes ~13 h
    # (bench/results/cpu-demo/official_options.md), so it is not the default.
    # Sizes and protocol of the official data configs: GTA resized to 1280×720, Synthia 1280×760 (source_image_size
    # None), Cityscapes 1024×512 (image_size); val scored at the full 2048×1024 labels, whole-image inference.
    # Give pretrained=<mit_b5.pth> and the dataset roots for the real thing.
    "gpu-full": dict(
        encoder="mit_b5", head="daformer", embed_dim=256, head_channels=256, head_init="mmcv",
        image_size=(512, 1024), crop_size=(512, 512), batch_size=2, iterations=40000,
        lr=6e-5, head_lr_mult=10.0, weight_decay=0.01, warmup_iters=1500, poly_power=1.0,
        ema_alpha=0.999, pseudo_threshold=0.968, rcs_temperature=0.01, fd_lambda=0.005, fd_min_ratio=0.75,
        per_image_qt=False, classmix_batch_pool=True, augment_coins_per_batch=True, teacher_train_mode=True,
        ignore_top=15, ignore_bottom=120,
        amp="fp32", eval_interval=4000, checkpoint_interval=4000, log_interval=10, num_workers=8,
        val_length=500, synthetic_train_length=1000,  # (RCS statistics of 1000 synthetic 512×1024 labels: ~1 min)
    ),
    # MiT-B0 with a narrow head on the synthetic pair, small crops: ≤ 15 min for the three runs on a 2-core CPU.
    # It starts, as the paper does from ImageNet, from the package's embedded "ImageNet" weights (pretrain.py), so
    # FD compares the student with them and warmup protects them. Changed from §4.1 only where a 27× shorter run
    # needs it: lr 2e-4 (paper 6e-5; measured on seed 0 with a pre-trained start on the first world: source-only 34.0
    # vs 31.7, DAFormer at 1k iterations 37.4 vs 31.4; bench/results/cpu-demo/probes_world1_2026-12-01.md), warmup 150 = 10 % of the run (the paper's 1,500 would be all of it), α_max 0.99
    # (the paper's; the released 0.999 averages over 1,000 steps, two thirds of this run). τ 0.968 as the paper;
    # the official train-mode teacher (BatchNorm on batch statistics, dropout and drop-path off; eval mode was
    # behind from iteration 500 on, final 30.2 vs 36.1, bench/results/cpu-demo/official_options.md);
    # fp32 as paper and official code. The head starts as PyTorch initialises it (head_init="pytorch", not the
    # official "mmcv"): every committed CPU record and notebook was measured so; seed-0 uda with "mmcv" was
    # 3.7–4.4 mIoU behind at iterations 250–750 (bench/results/cpu-demo/head_init_2026-12-01.md). The other paper-vs-official switches stay at TrainConfig's defaults
    # (README table).
    "cpu-demo": dict(
        encoder="mit_b0", head="daformer", embed_dim=64, head_channels=64, head_init="pytorch", pretrained="embedded",
        image_size=(128, 256), crop_size=(128, 128), batch_size=2, iterations=1500,
        lr=2e-4, head_lr_mult=10.0, weight_decay=0.01, warmup_iters=150, poly_power=1.0,
        ema_alpha=0.99, pseudo_threshold=0.968, teacher_train_mode=True, amp="fp32", eval_interval=250,
        checkpoint_interval=250, synthetic_train_length=2000, val_length=64, num_workers=0,
    ),
    # A handful of iterations on tiny crops, for CI: seconds.
    "smoke": dict(
        encoder="mit_b0", head="daformer", embed_dim=32, head_channels=32, head_init="pytorch",
        image_size=(64, 128), crop_size=(64, 64), batch_size=2, iterations=6,
        lr=6e-4, head_lr_mult=10.0, warmup_iters=2, ema_alpha=0.9, pseudo_threshold=0.9, amp="fp32",
        eval_interval=3, checkpoint_interval=3, synthetic_train_length=64, val_length=8, num_workers=0,
        snapshot_images=2,
    ),
}
# cpu-demo run twice as long (about twice its 10 min for the three runs on 2 cores: past the main command's 15). Seeds 0–2:
# DAFormer − source-only +10.9 mIoU (cpu-demo: +6.0), 38 % of the gap to the oracle (bench/results/cpu-long/).
# Everything else is cpu-demo's.
PRESETS["cpu-long"] = {**PRESETS["cpu-demo"], "iterations": 3000}
PRESET_NAMES = (*PRESETS, "auto")


AUTO_PRESET_ENV = "DAFORMER_EDU_AUTO_PRESET"


def resolve_auto_preset() -> str:
    """What ``preset="auto"`` means here: ``$DAFORMER_EDU_AUTO_PRESET`` if set, else ``gpu-full`` with CUDA, else ``cpu-demo``.

    The variable exists for CI (``tests/conftest.py`` sets ``smoke``): notebook 09 is committed with
    ``preset = "auto"`` so that ``papermill notebooks/09_full_uda.ipynb out.ipynb`` runs the real thing, and
    the tests still execute it in seconds. A value that is not a preset name raises and lists the valid ones.

    Taught in: notebooks/09_full_uda.ipynb
    """
    chosen = os.environ.get(AUTO_PRESET_ENV, "").strip()
    if chosen:
        if chosen not in PRESETS:
            raise ValueError(f"{AUTO_PRESET_ENV}={chosen!r} is not a preset; choose one of {list(PRESETS)} "
                             f"or unset it")
        return chosen
    return "gpu-full" if torch.cuda.is_available() else "cpu-demo"


def make_config(preset: str = "auto", **overrides) -> TrainConfig:
    """A :class:`TrainConfig` from a named preset, with any field overridden by keyword.

    ``preset``: ``gpu-full`` (DAFormer §4.1), ``cpu-demo``, ``smoke`` or ``auto`` (``gpu-full`` when CUDA
    is available, else ``cpu-demo``; the environment variable ``DAFORMER_EDU_AUTO_PRESET`` overrides that
    choice — the tests' conftest sets it to ``smoke``, so CI executes notebook 09, whose committed parameter
    is ``preset = "auto"``, in seconds). An unknown preset or field name raises at once and lists the valid ones.

    Taught in: notebooks/09_full_uda.ipynb
    """
    if preset not in PRESET_NAMES:
        raise ValueError(f"make_config: unknown preset {preset!r}; choose one of {list(PRESET_NAMES)}")
    if preset == "auto":
        preset = resolve_auto_preset()
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"make_config: unknown field(s) {unknown}; TrainConfig has {sorted(fields)}")
    return TrainConfig(**{**PRESETS[preset], "preset": preset, **overrides})


class NonFiniteLossError(FloatingPointError):
    """A loss term became NaN or ±inf; the message names the iteration, the term and the last good checkpoint.

    Taught in: notebooks/09_full_uda.ipynb
    """


# ------------------------------------------------------------------------------------------------
# Data: datasets from the data package, and crops that are a pure function of (seed, iteration, slot).
# ------------------------------------------------------------------------------------------------
# The official resize bounds (H, W) of DAFormer's data configs (uda_gta_to_cityscapes_512x512,
# uda_synthia_to_cityscapes_512x512): mmseg's Resize(img_scale=(1280, 720)) etc., keep ratio.
_OFFICIAL_IMAGE_SIZE = {"gta": (720, 1280), "synthia": (760, 1280), "cityscapes": (512, 1024)}


def _source_image_size(cfg: TrainConfig) -> tuple[int, int]:
    """The resize bound of the source images: ``source_image_size`` if set, else the official one.

    Synthetic: ``image_size`` (rendered there, nothing is resized); a folder source: ``image_size`` too. GTA / Synthia: the official bound scaled by
    ``f``, the keep-ratio factor from Cityscapes' official 512×1024 to ``image_size`` — f = 1 for gpu-full, so
    GTA 1914×1052 → 1280×704 and Synthia stays 1280×760; a smaller ``image_size`` shrinks the source with the
    target, so that objects keep the official source/target scale ratio.
    """
    if cfg.source_image_size is not None:
        return cfg.source_image_size
    if cfg.source in ("synthetic", "folder"):  # folder: your own images, resized like the target
        return cfg.image_size
    ref = _OFFICIAL_IMAGE_SIZE["cityscapes"]
    f = min(max(cfg.image_size) / max(ref), min(cfg.image_size) / min(ref))
    h, w = _OFFICIAL_IMAGE_SIZE[cfg.source]
    return int(h * f + 0.5), int(w * f + 0.5)


def _datasets(cfg: TrainConfig) -> dict[str, torch.utils.data.Dataset]:
    """source train (labelled), target train (no labels; labelled for ``oracle``), target val (labelled).

    Sizes as the official data configs: the source resized to ``_source_image_size(cfg)`` (gpu-full: GTA
    720×1280, Synthia 760×1280), Cityscapes to ``image_size`` (512×1024), both keeping the aspect ratio, then
    ``crop_size`` crops. Validation follows mmseg's test pipeline: the image is resized to ``image_size``
    for whole-image inference, the label stays at full resolution (Cityscapes 2048×1024), and
    ``metrics.evaluate`` resizes the logits (bilinear) to it before the argmax. The synthetic pair is rendered
    at ``image_size`` with its labels, so there nothing is resized.
    """
    from .data import transforms as T

    src_tf = T.Compose([T.Resize(_source_image_size(cfg)), T.RandomCrop(cfg.crop_size, cfg.cat_max_ratio),
                        T.RandomFlip(0.5)])
    # No cat_max_ratio on target crops, as the official target pipeline: it would read target labels.
    tgt_tf = T.Compose([T.Resize(cfg.image_size), T.RandomCrop(cfg.crop_size), T.RandomFlip(0.5)])
    oracle_tf = T.Compose([T.Resize(cfg.image_size), T.RandomCrop(cfg.crop_size, cfg.cat_max_ratio),
                           T.RandomFlip(0.5)])
    val_tf = T.Compose([T.Resize(cfg.image_size, resize_label=False)])  # labels at full resolution
    out: dict[str, torch.utils.data.Dataset] = {}

    if cfg.source == "synthetic":
        from .data.synthetic import SyntheticDomain

        out["source"] = SyntheticDomain("source", "train", size=cfg.image_size, length=cfg.synthetic_train_length,
                                        seed=cfg.data_seed, transform=src_tf)
    elif cfg.source == "gta":
        from .data import GTADataset

        out["source"] = GTADataset(cfg.source_root, transform=src_tf)
    elif cfg.source == "folder":
        from .data.folder import FolderDataset

        out["source"] = FolderDataset(cfg.source_root, _folder_split(cfg.source_root), transform=src_tf, labels=True)
    else:
        from .data import SynthiaDataset

        out["source"] = SynthiaDataset(cfg.source_root, transform=src_tf)

    if cfg.target == "synthetic":
        from .data.synthetic import SyntheticDomain

        kw = dict(size=cfg.image_size, seed=cfg.data_seed)
        out["target"] = SyntheticDomain("target", "train", length=cfg.synthetic_train_length, transform=tgt_tf, **kw)
        out["val"] = SyntheticDomain("target", "val", length=cfg.val_length, transform=val_tf, **kw)
        if cfg.mode == "oracle":
            # The oracle (upper bound) alone may read the target training labels.
            out["target"] = SyntheticDomain("target", "train", length=cfg.synthetic_train_length, transform=oracle_tf,
                                            labels=True, **kw)
    elif cfg.target == "folder":
        from .data.folder import FolderDataset

        split, oracle = _folder_split(cfg.target_root), cfg.mode == "oracle"
        out["target"] = FolderDataset(cfg.target_root, split, transform=oracle_tf if oracle else tgt_tf, labels=oracle)
        if not (Path(cfg.target_root) / "images" / "val").is_dir():
            from .data.io import DatasetNotFoundError

            raise DatasetNotFoundError(f"target_root={cfg.target_root!r}: a folder target needs a labelled validation "
                                       "split, images/val/ and labels/val/ (see daformer_edu/data/folder.py)")
        val = FolderDataset(cfg.target_root, "val", transform=val_tf, labels=True)
        if cfg.val_length:
            val = torch.utils.data.Subset(val, range(min(cfg.val_length, len(val))))
        out["val"] = val
    else:
        from .data import CityscapesDataset

        if cfg.mode == "oracle":
            out["target"] = CityscapesDataset(cfg.target_root, "train", transform=oracle_tf, labels=True)
        else:  # UDA: the target training images come without labels
            out["target"] = CityscapesDataset(cfg.target_root, "train", transform=tgt_tf, labels=False)
        val = CityscapesDataset(cfg.target_root, "val", transform=val_tf)
        if cfg.val_length:
            val = torch.utils.data.Subset(val, range(min(cfg.val_length, len(val))))
        out["val"] = val
    return out


def _label_pixels(dataset) -> int:
    """N_S·H·W of the paper's f_c: every pixel of every label as the statistics count them, ignore included.

    Synthetic labels are rendered at ``dataset.size``; label files are measured from their headers (PIL reads
    no pixels); anything else loads each label once.
    """
    base = dataset.dataset if isinstance(dataset, torch.utils.data.Subset) else dataset
    indices = list(dataset.indices) if isinstance(dataset, torch.utils.data.Subset) else range(len(dataset))
    if hasattr(base, "size") and hasattr(base, "scene"):  # SyntheticDomain: every label is size[0]×size[1]
        return len(indices) * base.size[0] * base.size[1]
    if hasattr(base, "labels") and all(isinstance(path, Path) for path in base.labels):  # label files
        from PIL import Image

        total = 0
        for i in indices:
            with Image.open(base.labels[i]) as im:
                total += im.size[0] * im.size[1]
        return total
    return sum(int(base.load_label(i).size) for i in indices)


def _folder_split(root) -> str | None:
    """A folder dataset's training split: ``"train"`` when ``ROOT/images/train`` exists, else the flat layout."""
    return "train" if (Path(root) / "images" / "train").is_dir() else None


def _class_table(datasets: dict) -> ClassTable:
    """The source dataset's ``ClassTable``; the target's (train and val) must be the same table."""
    def table(ds):
        while isinstance(ds, torch.utils.data.Subset):
            ds = ds.dataset
        return getattr(ds, "classes", ClassTable.cityscapes())

    source = table(datasets["source"])
    for key in ("target", "val"):
        source.check_matches(table(datasets[key]), "source", f"target ({key})")
    return source


class _Crops(torch.utils.data.Dataset):
    """Item ``(t, k)`` = crop ``k`` of iteration ``t``, drawn from ``default_rng([seed, stream, t, k])``.

    A pure function of its key: the data order needs no iterator state to be resumed, and any number of
    DataLoader workers give the same crops. With a ``RareClassSampler``, its generator is re-seeded from
    the same key before each draw, so RCS draws (class, image, re-crops) are also a function of the key.
    """

    def __init__(self, dataset, seed: int, stream: int, sampler: RareClassSampler | None = None):
        self.dataset, self.seed, self.stream, self.sampler = dataset, seed, stream, sampler

    def __len__(self) -> int:  # keys are (t, k); the length is never used for sampling
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]) -> dict:
        t, k = key
        rng = np.random.default_rng([self.seed, self.stream, t, k])
        if self.sampler is None:
            index = int(rng.integers(len(self.dataset)))
            item = self.dataset.get(index, rng=rng)
            item["rcs_class"] = -1
        else:
            self.sampler.generator.manual_seed(int(rng.integers(2**62)))
            item, c = self.sampler.sample(lambda i: self.dataset.get(i, rng=rng))
            item["rcs_class"] = c
        return item


class _Keys(torch.utils.data.Sampler):
    """Yields the keys of one batch per iteration, ``[(t, rank·B + b) for b < B]``, for t = start … end − 1."""

    def __init__(self, start: int, end: int, batch_size: int, rank: int = 0):
        self.start, self.end, self.batch_size, self.rank = start, end, batch_size, rank

    def __iter__(self):
        for t in range(self.start, self.end):
            yield [(t, self.rank * self.batch_size + b) for b in range(self.batch_size)]

    def __len__(self) -> int:
        return self.end - self.start


def _collate(items: list[dict]) -> dict:
    out = {"image": torch.stack([it["image"] for it in items]), "name": [it["name"] for it in items],
           "rcs_class": torch.tensor([it["rcs_class"] for it in items])}
    if all("label" in it for it in items):
        out["label"] = torch.stack([it["label"] for it in items])
    return out


# ------------------------------------------------------------------------------------------------
# The trainer.
# ------------------------------------------------------------------------------------------------
def _dist_info() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment; (0, 1, 0) for a plain process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0"))


class Trainer:
    """Composes model, teacher, frozen ImageNet encoder, sampler, optimiser into DAFormer's training run.

    ``Trainer(config)`` builds everything (and resumes from ``config.resume``); ``fit()`` runs the
    iterations left and returns the final metrics (also written to ``metrics.json``). ``train_step(t)``
    is one iteration (see the module text for its seven steps) and returns the logged scalars;
    ``evaluate()`` gives target-val mIoU and per-class IoU. Attributes a notebook reads: ``model`` (the
    student), ``teacher``, ``imagenet_encoder``, ``sampler`` (RCS or None), ``history`` (every log record),
    ``snapshots`` (pseudo-labels of a few fixed target images at every evaluation), ``class_draws``, ``classes``
    (the run's ``ClassTable``: the source dataset's, which the target's must equal; Cityscapes' 19 by default).

    Taught in: notebooks/09_full_uda.ipynb
    """

    def __init__(self, config: TrainConfig):
        self.config = cfg = config
        self.rank, self.world_size, local_rank = _dist_info()
        if self.world_size > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        if cfg.device == "auto":
            self.device = torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
        else:
            self.device = torch.device(cfg.device)
            if self.device.type == "cuda" and not torch.cuda.is_available():
                raise ValueError("TrainConfig: device='cuda' but CUDA is not available; use device='auto' or 'cpu'")
        amp = cfg.amp if cfg.amp != "auto" else ("bf16" if self.device.type == "cuda" else "fp32")
        self.amp_dtype = torch.bfloat16 if amp == "bf16" else None
        self.out = Path(cfg.out) if cfg.out is not None and self.rank == 0 else None

        # Data.
        self.datasets = _datasets(cfg)
        self.classes = _class_table(self.datasets)  # K, names, things: the source's table (= the target's)
        # The labelled stream: source crops (target crops with labels for the oracle).
        labelled = self.datasets["target"] if cfg.mode == "oracle" else self.datasets["source"]
        self.sampler = self._build_rcs(labelled) if cfg.use_rcs else None
        self._crops = {
            "source": _Crops(labelled, cfg.seed, 0, self.sampler),
            "target": _Crops(self.datasets["target"], cfg.seed, 1),
        }

        # Network: student, its EMA teacher, the frozen ImageNet encoder for FD.
        random.seed(cfg.seed)
        np.random.seed(cfg.seed)
        torch.manual_seed(cfg.seed)
        with warnings.catch_warnings():
            if self.rank:  # "training from scratch" is said once, by rank 0
                warnings.simplefilter("ignore")
            self.model = build_segmentor(cfg.encoder, cfg.head, num_classes=self.classes.num_classes,
                                         pretrained=cfg.pretrained,
                                         embed_dim=cfg.embed_dim,
                                         channels=cfg.head_channels if cfg.head == "daformer" else None,
                                         head_init=cfg.head_init)
        self.model.to(self.device)
        # "ImageNet" features for FD: a frozen copy of the *initial* encoder — the ImageNet weights (cpu-demo: the
        # embedded stand-in); with pretrained=None it is the random initialisation, and FD then only keeps the
        # encoder near where it started.
        self.imagenet_encoder = frozen_copy(self.model.encoder) if cfg.use_fd else None
        self.teacher = frozen_copy(self.model) if cfg.mode == "uda" else None
        self.optimizer = torch.optim.AdamW(param_groups(self.model, cfg.lr, cfg.head_lr_mult, cfg.weight_decay),
                                           lr=cfg.lr, betas=(0.9, 0.999), weight_decay=cfg.weight_decay,
                                           fused=self.device.type == "cuda")  # CUDA: one kernel, not ~15 per tensor
        # What the losses call: the student, wrapped so one call can also return the encoder maps; under
        # torchrun, DDP wraps that (DDP only synchronises gradients of forwards that go through it).
        self.student: nn.Module = _Student(self.model)
        if self.world_size > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.student = nn.parallel.DistributedDataParallel(self.student, device_ids=ids)

        # ClassMix / strong-augmentation randomness (the uda pieces take an explicit generator).
        self.generator = torch.Generator().manual_seed(cfg.seed * 1000 + self.rank)

        self.iteration = 0  # iterations completed
        self.history: list[dict] = []
        self.snapshots: dict[int, dict[str, torch.Tensor]] = {}
        self.class_draws = torch.zeros(len(self.classes), dtype=torch.long)  # RCS draws per class (summed here)
        self.source_pixels = torch.zeros(len(self.classes), dtype=torch.long)  # labelled pixels seen per class
        self.wall_time = 0.0  # seconds in fit(), evaluation and checkpoints included (summed over resumes)
        self.train_time = 0.0  # seconds in data loading and train_step only
        self.last_checkpoint: Path | None = None
        self.last_eval: dict | None = None
        if cfg.resume is not None:
            self.load_state_dict(load_checkpoint(cfg.resume))

    # -- pieces --------------------------------------------------------------------------------------
    def _build_rcs(self, dataset) -> RareClassSampler:
        """RCS statistics from the labelled stream (``compute_class_stats``) and ``RareClassSampler``.

        f_c's denominator: the labelled pixels (official) or, with ``rcs_fc_all_pixels``, N_S·H·W (paper).
        """
        from .data.base import compute_class_stats
        from .data.folder import FolderDataset

        cfg = self.config
        stats = compute_class_stats(dataset)
        min_pixels = cfg.rcs_min_pixels
        if min_pixels is None:
            # Statistics count pixels of the labels as loaded: real files at their own resolution (official
            # 3000 for GTA and Synthia), synthetic ones at image_size (3000 scaled by the image area).
            min_pixels = scaled_min_pixels(cfg.image_size) if cfg.source == "synthetic" else 3000
            if isinstance(dataset, FolderDataset):  # 3000 scaled to the folder's resolution (its first label's)
                min_pixels = scaled_min_pixels(dataset.load_label(0).shape)
        total = _label_pixels(dataset) if cfg.rcs_fc_all_pixels else None  # None: Σ_c n_c (official)
        return RareClassSampler(stats, cfg.rcs_temperature, min_pixels, cfg.rcs_min_crop_ratio, seed=cfg.seed,
                                num_classes=len(self.classes), total_pixels=total)

    def _autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def _loader(self, stream: str, start: int) -> torch.utils.data.DataLoader:
        cfg = self.config
        return torch.utils.data.DataLoader(
            self._crops[stream], batch_sampler=_Keys(start, cfg.iterations, cfg.batch_size, self.rank),
            num_workers=cfg.num_workers, collate_fn=_collate, pin_memory=self.device.type == "cuda",
            persistent_workers=False,
            # A private generator: creating the loader must not draw from torch's global RNG, or a resumed
            # run would be one draw out of step with the uninterrupted one.
            generator=torch.Generator().manual_seed(cfg.seed),
        )

    def batches(self, t: int) -> tuple[dict, dict | None]:
        """The labelled (source) batch and the target batch of iteration ``t``, exactly as ``fit`` sees them.

        A pure function of (seed, t, rank): calling it twice gives the same crops. The target batch is
        None unless the mode is ``uda``.
        """
        keys = next(iter(_Keys(t, t + 1, self.config.batch_size, self.rank)))
        source = _collate([self._crops["source"][k] for k in keys])
        target = _collate([self._crops["target"][k] for k in keys]) if self.config.mode == "uda" else None
        return source, target

    def _lr(self, t: int) -> float:
        cfg = self.config
        lrs = set_lr(self.optimizer, t, warmup_iters=cfg.warmup_iters if cfg.warmup else 0,
                     max_iters=cfg.iterations, power=cfg.poly_power)
        return lrs[0]

    # -- one iteration -------------------------------------------------------------------------------
    def train_step(self, t: int, source: dict, target: dict | None = None) -> dict[str, float]:
        """Iteration ``t`` (from 0) on a source batch and a target batch; returns the scalars it logs.

        Taught in: notebooks/09_full_uda.ipynb
        """
        cfg, dev = self.config, self.device
        self.model.train()
        lr = self._lr(t)
        x_s = source["image"].to(dev, non_blocking=True)  # [B, 3, h, w]
        y_s = source["label"].to(dev, non_blocking=True)  # [B, h, w]
        terms: dict[str, torch.Tensor] = {}
        log: dict[str, float] = {"lr": lr}

        with self._autocast():
            # (2) source cross-entropy L_S
            logits_s, feats_s = self.student(x_s, features=True)  # [B, K, h, w], 4 maps
            terms["source_ce"] = weighted_ce(logits_s.float(), y_s)
            # (3) thing-class ImageNet feature distance on the last stage
            if cfg.use_fd:
                with torch.no_grad():
                    f_imnet = self.imagenet_encoder(x_s)[-1]  # [B, C4, h/32, w/32]
                f_student = feats_s[-1]  # [B, C4, h/32, w/32]
                things = thing_mask(y_s, f_student.shape[-2:], self.classes.things, cfg.fd_min_ratio,
                                    num_classes=len(self.classes))  # [B, h/32, w/32]
                terms["feature_distance"] = feature_distance(f_student.float(), f_imnet.float(), things,
                                                             per_image=cfg.fd_per_image)
                log["fd_cells"] = float(things.float().mean())

        if cfg.mode == "uda":
            x_t = target["image"].to(dev, non_blocking=True)  # [B, 3, h, w]
            # (4) EMA teacher, then (5) pseudo-labels on the un-augmented target crop
            log["ema_alpha"] = ema_update(self.teacher, self.model, t, cfg.ema_alpha)
            set_teacher_mode(self.teacher, cfg.teacher_train_mode)  # dropout and drop-path always off
            with torch.no_grad(), self._autocast():
                teacher_logits = self.teacher(x_t)  # [B, K, h, w]
            p_t, q_t = pseudo_label(teacher_logits.float(), cfg.pseudo_threshold, cfg.per_image_qt,
                                    cfg.ignore_top, cfg.ignore_bottom)  # [B, h, w] long, [B, h, w] float
            log["q_t"] = float(q_t.mean())
            # (6) ClassMix + strong augmentation
            if cfg.classmix:
                m = classmix_masks(y_s, batch_pool=cfg.classmix_batch_pool,
                                   generator=self.generator)  # [B, 1, h, w], 1 = source pixel
                x_m = mix(m, x_s, x_t)  # [B, 3, h, w]
                y_m = mix(m, y_s, p_t)  # [B, h, w]
                w_m = mix(m, torch.ones_like(q_t), q_t)  # [B, h, w]
            else:
                x_m, y_m, w_m = x_t, p_t, q_t
            if cfg.strong_augment:
                x_m = strong_augment(x_m, generator=self.generator, per_batch_coins=cfg.augment_coins_per_batch)
            with self._autocast():
                logits_m = self.student(x_m)  # [B, K, h, w]
                terms["target_ce"] = weighted_ce(logits_m.float(), y_m, w_m)

        # Stop before the weights change if any term is not finite: the last checkpoint stays good.
        for name, value in terms.items():
            if not torch.isfinite(value):
                where = f"; the last good checkpoint is {self.last_checkpoint}" if self.last_checkpoint else ""
                raise NonFiniteLossError(
                    f"iteration {t}: loss term '{name}' is {value.item()} (terms: "
                    + ", ".join(f"{k}={v.item():.4g}" for k, v in terms.items())
                    + f"){where}. Lower the learning rate (lr={cfg.lr}) or check the data."
                )
        # (7) L = L_S + L_T + λ_FD · L_FD, one backward, one AdamW step
        loss = sum(v * (cfg.fd_lambda if k == "feature_distance" else 1.0) for k, v in terms.items())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()

        log["loss"] = float(loss.detach())
        log.update({k: float(v.detach()) for k, v in terms.items()})
        self.source_pixels += torch.bincount(y_s[y_s != IGNORE_INDEX].flatten(), minlength=len(self.classes)).cpu()
        drawn = source["rcs_class"]
        drawn = drawn[drawn >= 0]
        if drawn.numel():
            self.class_draws += torch.bincount(drawn, minlength=len(self.classes))
        return log

    # -- evaluation ----------------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self) -> dict[str, Any]:
        """Student on target val: ``{"miou": %, "per_class_iou": {class: % or None}}`` (the run's K classes, ignore 255).

        mmseg's protocol (every DAFormer config: ``test_cfg=dict(mode='whole')``): whole-image inference on
        the image resized to ``image_size`` (Cityscapes 1024×512), logits resized (bilinear) to the label,
        which stays at full resolution (2048×1024), and one confusion matrix over the val set. With
        ``source="synthia"`` the result also holds ``"miou_16"``, the mean over the 16 classes Synthia
        annotates (``SYNTHIA_16``), the number Synthia → Cityscapes papers report.

        Taught in: notebooks/09_full_uda.ipynb
        """
        from . import metrics

        was_training = self.model.training
        self.model.eval()
        with self._autocast():
            result = metrics.evaluate(self.model, self.datasets["val"], len(self.classes), self.device,
                                      batch_size=self.config.batch_size, progress=False)
        self.model.train(was_training)
        out = _as_percent(result, self.classes.names)
        if self.config.source == "synthia":
            from .data.classes import SYNTHIA_16

            out["miou_16"] = round(100.0 * metrics.mean_iou(result["confusion"], SYNTHIA_16), 3)
        return out

    @torch.no_grad()
    def teacher_pseudo_labels(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The teacher's pseudo-labels and weights for normalised target images ``[B, 3, H, W]``.

        Taught in: notebooks/09_full_uda.ipynb
        """
        net = self.teacher if self.teacher is not None else self.model
        was_training = net.training
        net.eval()
        logits = net(images.to(self.device)).float()  # [B, K, H, W]
        net.train(was_training)
        return pseudo_label(logits, self.config.pseudo_threshold, self.config.per_image_qt)

    def _snapshot_images(self) -> torch.Tensor:
        val = self.datasets["val"]
        n = min(self.config.snapshot_images, len(val))
        return torch.stack([val[i]["image"] for i in range(n)])  # [n, 3, H, W]

    # -- checkpoints ---------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed run needs: weights, optimiser, iteration, sampler, RNG states, logs.

        Taught in: notebooks/09_full_uda.ipynb
        """
        return {
            "iteration": self.iteration,
            "config": asdict(self.config),
            "model": self.model.state_dict(),
            "teacher": self.teacher.state_dict() if self.teacher is not None else None,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": {"iteration": self.iteration, "initial_lr": [g["initial_lr"] for g in self.optimizer.param_groups]},
            "sampler": self.sampler.state_dict() if self.sampler is not None else None,
            "class_draws": self.class_draws.clone(),
            "source_pixels": self.source_pixels.clone(),
            "rng": rng_state({"classmix": self.generator}),
            "history": list(self.history),
            "snapshots": dict(self.snapshots),
            "wall_time": self.wall_time,
            "train_time": self.train_time,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`; the run must have the same config (except bookkeeping fields).

        Taught in: notebooks/09_full_uda.ipynb
        """
        saved, now = state["config"], asdict(self.config)
        # A checkpoint written before a field existed ran as that field's default (e.g. fd_per_image=False).
        saved = {**{f.name: f.default for f in dataclasses.fields(TrainConfig)
                    if f.default is not dataclasses.MISSING}, **saved}
        free = {"resume", "out", "progress", "num_workers", "device", "eval_interval", "checkpoint_interval",
                "log_interval", "snapshot_images", "preset", "head_init"}  # head_init: only the start, not a resumed run
        diff = {k: (saved.get(k), v) for k, v in now.items() if k not in free and _norm(saved.get(k)) != _norm(v)}
        if diff:
            raise ValueError("resume: the checkpoint was made with a different configuration; differing fields "
                             "(checkpoint, now): " + ", ".join(f"{k}={a!r} vs {b!r}" for k, (a, b) in diff.items()))
        self.model.load_state_dict(state["model"])
        if self.teacher is not None:
            self.teacher.load_state_dict(state["teacher"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.sampler is not None:
            self.sampler.load_state_dict(state["sampler"])
        self.class_draws = state["class_draws"].clone()
        self.source_pixels = state["source_pixels"].clone()
        self.iteration = int(state["iteration"])
        self.history = list(state["history"])
        self.snapshots = dict(state["snapshots"])
        self.wall_time = float(state["wall_time"])
        self.train_time = float(state["train_time"])
        set_rng_state(state["rng"], {"classmix": self.generator})

    def save(self) -> Path | None:
        """Write ``checkpoint.pt`` atomically (rank 0; nothing when ``out`` is None)."""
        if self.out is None:
            return None
        self.last_checkpoint = save_checkpoint(self.state_dict(), self.out / "checkpoint.pt")
        return self.last_checkpoint

    # -- the loop ------------------------------------------------------------------------------------
    def _log(self, record: dict) -> None:
        self.history.append(record)
        if self.out is not None:
            with open(self.out / "log.jsonl", "a") as f:
                f.write(json.dumps(record) + "\n")

    def _evaluate_and_log(self) -> dict:
        result = self.evaluate()
        self._log({"iteration": self.iteration, "split": "val", **result})
        if self.config.mode == "uda" and self.config.snapshot_images:
            labels, weight = self.teacher_pseudo_labels(self._snapshot_images())
            self.snapshots[self.iteration] = {"labels": labels.cpu().to(torch.uint8),
                                              "q_t": weight.amax(dim=(1, 2)).cpu()}
        self.last_eval = result
        return result

    def fit(self, stop_at: int | None = None) -> dict[str, Any]:
        """Run the iterations left (``config.iterations``); return (and write) the final metrics.

        ``stop_at`` stops after that many completed iterations *without* the final checkpoint or
        ``metrics.json`` — what a killed run leaves behind (tests and notebooks use it to show ``resume``).

        Taught in: notebooks/09_full_uda.ipynb
        """
        from tqdm.auto import tqdm

        cfg = self.config
        end = cfg.iterations if stop_at is None else min(stop_at, cfg.iterations)
        if self.out is not None:
            self.out.mkdir(parents=True, exist_ok=True)
            self._trim_log()
            if self.iteration == 0:
                (self.out / "config.json").write_text(json.dumps(asdict(self.config), indent=2) + "\n")
        source_batches = iter(self._loader("source", self.iteration))
        target_batches = iter(self._loader("target", self.iteration)) if cfg.mode == "uda" else None
        # TQDM_DISABLE=1 is honoured here explicitly: tqdm's notebook bar ignores it.
        quiet = not cfg.progress or self.rank != 0 or os.environ.get("TQDM_DISABLE", "").lower() in ("1", "true")
        bar = tqdm(total=cfg.iterations, initial=self.iteration, desc=f"{cfg.mode} ({cfg.preset})",
                   dynamic_ncols=True, disable=quiet)
        wall_start, wall_before = time.perf_counter(), self.wall_time
        try:
            while self.iteration < end:
                t = self.iteration
                t0 = time.perf_counter()
                source = next(source_batches)
                target = next(target_batches) if target_batches is not None else None
                t1 = time.perf_counter()
                log = self.train_step(t, source, target)
                t2 = time.perf_counter()
                self.iteration = t + 1
                self.train_time += t2 - t0
                if self.iteration % cfg.log_interval == 0 or self.iteration == cfg.iterations:
                    self._log({"iteration": self.iteration, "split": "train", **log,
                               "time_data": t1 - t0, "time_step": t2 - t1})
                bar.update(1)
                bar.set_postfix({"loss": f"{log['loss']:.3f}", "lr": f"{log['lr']:.2e}",
                                 **({"q_T": f"{log['q_t']:.2f}"} if "q_t" in log else {})}, refresh=False)
                done = self.iteration == cfg.iterations
                evaluate = (cfg.eval_interval and self.iteration % cfg.eval_interval == 0) or done
                checkpoint = (cfg.checkpoint_interval and self.iteration % cfg.checkpoint_interval == 0) or done
                if self.rank == 0 and evaluate:
                    res = self._evaluate_and_log()
                    bar.write(f"{cfg.mode}: iteration {self.iteration}, target mIoU {res['miou']:.2f}")
                self.wall_time = wall_before + time.perf_counter() - wall_start
                if self.rank == 0 and checkpoint:
                    self.save()
                if self.world_size > 1 and (evaluate or checkpoint):
                    dist.barrier()  # the other ranks wait while rank 0 evaluates and saves
        finally:
            bar.close()
        if self.iteration < cfg.iterations:
            return {"iteration": self.iteration, "stopped": True}
        return self._finish()

    def _trim_log(self) -> None:
        """On resume, drop log lines written after the checkpoint (the killed run's last iterations)."""
        path = self.out / "log.jsonl"
        if self.iteration == 0:
            path.unlink(missing_ok=True)
        elif path.exists():
            lines = [ln for ln in path.read_text().splitlines() if ln and json.loads(ln)["iteration"] <= self.iteration]
            path.write_text("".join(ln + "\n" for ln in lines))

    def _finish(self) -> dict[str, Any]:
        cfg = self.config
        final = self.last_eval if self.last_eval is not None else self.evaluate()
        result = {
            "final_miou": final["miou"],
            "per_class_iou": final["per_class_iou"],
            "mode": cfg.mode,
            "preset": cfg.preset,
            "seed": cfg.seed,
            "iterations": self.iteration,
            "wall_time_s": round(self.wall_time, 2),
            "train_time_s": round(self.train_time, 2),
            "seconds_per_iteration": round(self.train_time / max(self.iteration, 1), 4),
            "device": str(self.device),
            "world_size": self.world_size,
            "rcs_class_draws": self.class_draws.tolist(),
            "source_class_pixels": self.source_pixels.tolist(),
            "config": asdict(cfg),
        }
        if "miou_16" in final:  # Synthia → Cityscapes: the 16-class mIoU as well
            result["final_miou_16"] = final["miou_16"]
        if self.out is not None:
            (self.out / "metrics.json").write_text(json.dumps(result, indent=2) + "\n")
            torch.save(self.snapshots, self.out / "snapshots.pt")
        return result


class _Student(nn.Module):
    """``EncoderDecoder`` whose ``forward(x, features=True)`` also returns the encoder maps (for FD), so the
    source pass goes through ``forward`` — which DDP needs to see."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, features: bool = False):
        return self.model.forward_with_features(x) if features else self.model(x)


def _norm(v):
    return list(v) if isinstance(v, tuple) else v


def _as_percent(result, names=CLASSES) -> dict[str, Any]:
    """Normalise ``metrics.evaluate``'s answer to ``{"miou": %, "per_class_iou": {name: % or None}}``.

    ``names``: the class names in id order (the run's ``ClassTable.names``; Cityscapes' 19 by default)."""
    if isinstance(result, dict):
        miou = result.get("miou", result.get("mIoU"))
        per = result.get("per_class_iou", result.get("iou"))
    else:  # a confusion matrix
        from . import metrics

        per = metrics.iou_per_class(result)
        miou = metrics.mean_iou(result)
    per = torch.as_tensor(np.asarray(per, dtype=np.float64))
    miou = float(miou)
    scale = 100.0 if miou <= 1.0 and bool((per[~per.isnan()] <= 1.0).all()) else 1.0
    return {
        "miou": round(miou * scale, 3),
        "per_class_iou": {name: (None if math.isnan(v) else round(v * scale, 3)) for name, v in zip(names, per.tolist())},
    }


def train(config: TrainConfig | None = None, **overrides) -> dict[str, Any]:
    """Run one training job: ``train(make_config("cpu-demo", mode="uda", out="runs/x"))`` → final metrics.

    ``train(preset="smoke", mode="source-only")`` also works: keyword arguments go to :func:`make_config`.

    Taught in: notebooks/09_full_uda.ipynb
    """
    if config is None:
        config = make_config(**overrides)
    elif overrides:
        config = dataclasses.replace(config, **overrides)
    return Trainer(config).fit()


# ------------------------------------------------------------------------------------------------
# Command line: python -m daformer_edu.train --preset cpu-demo --mode uda --out runs/x
# ------------------------------------------------------------------------------------------------
def _parse_value(field: dataclasses.Field, text: str):
    if text.lower() in ("none", "null"):
        return None
    kind = str(field.type)
    if "bool" in kind:
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"--set {field.name}={text!r}: expected true/false")
    if "tuple" in kind:
        return tuple(int(v) for v in text.replace("x", ",").split(","))
    if kind.startswith("int") or kind == "int | None":
        return int(text)
    if kind.startswith("float"):
        return float(text)
    return text


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """``python -m daformer_edu.train``: parse the command line, run, print the final mIoU."""
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    p = argparse.ArgumentParser(prog="python -m daformer_edu.train", description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default="auto", help=f"one of {list(PRESET_NAMES)} (default: auto)")
    p.add_argument("--mode", default="uda", help=f"one of {list(MODES)} (default: uda)")
    p.add_argument("--out", default=None, help="output folder (default: runs/<preset>-<mode>-seed<seed>)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--iterations", type=int, default=None, help="override the preset's iteration count")
    p.add_argument("--resume", default=None, help="checkpoint file or run folder to continue from")
    p.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE",
                   help=f"override any TrainConfig field, e.g. rcs=false crop_size=128x128; fields: {sorted(fields)}")
    args = p.parse_args(argv)
    overrides: dict[str, Any] = {"mode": args.mode, "seed": args.seed}
    for item in args.set:
        name, sep, text = item.partition("=")
        if not sep or name not in fields:
            p.error(f"--set {item!r}: expected FIELD=VALUE with FIELD one of {sorted(fields)}")
        overrides[name] = _parse_value(fields[name], text)
    if args.iterations is not None:
        overrides["iterations"] = args.iterations
    if args.resume is not None:
        overrides["resume"] = args.resume
    overrides["out"] = args.out or f"runs/{args.preset}-{args.mode}-seed{args.seed}"
    try:
        config = make_config(args.preset, **overrides)
    except (ValueError, FileNotFoundError) as e:
        p.error(str(e))
    result = Trainer(config).fit()
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"{config.mode} ({config.preset}, seed {config.seed}): target mIoU {result['final_miou']:.2f} "
              f"after {result['iterations']} iterations in {result['wall_time_s']:.0f} s → {config.out}/metrics.json")
    if dist.is_initialized():
        dist.destroy_process_group()
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
