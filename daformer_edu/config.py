"""What a DAFormer run depends on: ``TrainConfig``, the presets, ``make_config`` and the ``--set`` parser.

``TrainConfig()`` *is* the released recipe: DAFormer §4.1 as the official config runs it
(``configs/daformer/gta2cs_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5_s0.py``): MiT-B5 + DAFormer head,
512×512 crops, batch 2, 40k iterations, AdamW 6e-5 (head ×10), weight decay 0.01, warmup 1500 + poly 1.0, EMA
α_max 0.999, τ 0.968, pseudo-label rows 15 top / 120 bottom ignored ("croppl"), RCS T 0.01, FD λ 0.005 r 0.75,
fp32. Each preset is a short diff from it that says what it changes and why.

Where the paper and the official code differ, the config has one field per item, ``<item>_form``, whose value is
``"official"`` (the default) or the name of the alternative — ``"paper"`` where the paper describes another form
(the table of ``daformer_edu/pages/paper_vs_official.md``):

===================== ==================================================== =========================================
field                 "official"                                           alternative
===================== ==================================================== =========================================
pseudo_weight_form    one q_T per batch                                    "paper": one q_T per image
classmix_form         half the classes of the batch's pooled labels        "paper": half the classes of each image
augment_coin_form     one jitter coin and one blur coin per batch          "paper": coins per image (DACS)
fd_form               L_FD averaged over the batch's thing cells           "paper": per image L_FD^(i), then mean
rcs_frequency_form    f_c = n_c / Σ_c n_c (labelled pixels)                "paper": n_c / (N_S·H·W)
teacher_bn_form       teacher BatchNorm on the target batch's statistics   "eval": the running statistics
jitter_form           kornia 0.5.8's contrast / saturation (scale, clamp)  "torchvision": torchvision's blends
===================== ==================================================== =========================================

File-system checks (does a dataset root, ``pretrained`` or ``resume`` exist?) happen where the files are opened,
so a saved ``config.json`` rebuilds on any machine. Fields marked ``free_on_resume`` may differ between a
checkpoint and the run that resumes it (intervals, device, output folder …); every other field must match.

Taught in: notebooks/09_full_uda.ipynb
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from dataclasses import dataclass, field
from typing import Any

import torch

from .hub import is_hub_reference, parse_hub_reference
from .models.embedded import EMBEDDED_WEIGHTS
from .models.segmentor import DEFAULT_HEAD_INIT, ENCODERS, HEAD_INITS, HEADS

__all__ = [
    "MODES",
    "PRESETS",
    "PRESET_NAMES",
    "TrainConfig",
    "make_config",
    "resolve_auto_preset",
    "parse_overrides",
    "upgrade_config_dict",
    "free_on_resume",
]

MODES = ("source-only", "uda", "oracle")
SOURCES = ("synthetic", "gta", "synthia", "folder")
TARGETS = ("synthetic", "cityscapes", "folder")  # folder: your own images/labels/classes.json (data/folder.py)
AMP = ("auto", "bf16", "fp32")
FORMS = {
    "pseudo_weight_form": ("official", "paper"),
    "classmix_form": ("official", "paper"),
    "augment_coin_form": ("official", "paper"),
    "fd_form": ("official", "paper"),
    "rcs_frequency_form": ("official", "paper"),
    "teacher_bn_form": ("official", "eval"),
    "jitter_form": ("official", "torchvision"),
}


def _free(default: Any) -> Any:
    """A field that may change when a run resumes (it does not change what the run computes)."""
    return field(default=default, metadata={"free_on_resume": True})


@dataclass
class TrainConfig:
    """Everything a run depends on; the defaults are the released DAFormer recipe (module text).

    ``rcs``, ``fd`` and ``photometric_distortion`` left at ``None`` follow the mode as the official configs do:
    RCS and FD on for ``uda`` only; mmseg's ``PhotoMetricDistortion`` on the crops of the supervised baselines
    (``source-only``, ``oracle``) only. Build one from a preset with :func:`make_config`. Invalid values raise at
    once, naming the field and the valid values.

    Taught in: notebooks/09_full_uda.ipynb
    """

    # -- what to run -------------------------------------------------------------------------------
    mode: str = "uda"  # one of MODES
    preset: str = _free("custom")  # the preset it came from (recorded in metrics.json)
    seed: int = 0  # training randomness: init, crops, ClassMix, augmentation, dropout
    iterations: int = 40000
    # -- data --------------------------------------------------------------------------------------
    source: str = "synthetic"  # synthetic | gta | synthia | folder
    target: str = "synthetic"  # synthetic | cityscapes | folder
    source_root: str | None = None  # folder of a real source dataset (GTA / Synthia / folder layout)
    target_root: str | None = None  # folder of Cityscapes (or of a folder dataset)
    image_size: tuple[int, int] = (512, 1024)  # (H, W): synthetic images rendered at / Cityscapes resized to
    # (H, W) resize bound of a real source (keep ratio). None = the official size of that source — GTA 720×1280,
    # Synthia 760×1280 — scaled as image_size is from the official 512×1024 (data/factory.py: source_image_size).
    source_image_size: tuple[int, int] | None = None
    crop_size: tuple[int, int] = (512, 512)  # (H, W) random training crops
    cat_max_ratio: float = 0.75  # source crops: re-draw while one class fills ≥ this share
    photometric_distortion: bool | None = None  # mmseg's PhotoMetricDistortion on labelled crops (None: baselines)
    synthetic_train_length: int = 1000  # images in each synthetic training split (RCS statistics read them all)
    val_length: int = 500  # target val images evaluated (synthetic: rendered; real: the first N, 0 = all)
    data_seed: int = 0  # which synthetic scenes exist (fixed across training seeds)
    num_workers: int = _free(4)  # DataLoader workers (official workers_per_gpu=4; 0 = the main process)
    # -- network -----------------------------------------------------------------------------------
    encoder: str = "mit_b5"  # one of models.segmentor.ENCODERS
    head: str = "daformer"  # daformer | segformer
    embed_dim: int = 256  # head: width of the per-stage linear embeddings
    head_channels: int = 256  # head: width of the context-aware fusion
    head_init: str = _free(DEFAULT_HEAD_INIT)  # how the head starts: "mmcv" (official) | "pytorch"
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
    ignore_top: int = 15  # pseudo-label rows with weight 0 (official "croppl" for Cityscapes 512 crops)
    ignore_bottom: int = 120
    # -- strategy switches (the paper's ablations) --------------------------------------------------
    rcs: bool | None = None  # Rare Class Sampling (None = on for uda)
    fd: bool | None = None  # thing-class ImageNet feature distance (None = on for uda)
    warmup: bool = True  # linear lr warmup over warmup_iters
    classmix: bool = True  # ClassMix source classes into the target crop (False: target crop alone)
    strong_augment: bool = True  # colour jitter + blur on the mixed crop
    rcs_temperature: float = 0.01
    rcs_min_pixels: int | None = None  # None = the dataset's (3000 at GTA's 1914×1052, scaled to its labels)
    rcs_min_crop_ratio: float = 0.5
    fd_lambda: float = 0.005
    fd_min_ratio: float = 0.75  # r of the thing mask
    # -- paper vs official code (module text): "official" or the named alternative ------------------
    pseudo_weight_form: str = "official"
    classmix_form: str = "official"
    augment_coin_form: str = "official"
    fd_form: str = "official"
    rcs_frequency_form: str = "official"
    teacher_bn_form: str = "official"  # measured on cpu-demo: 36.1 (official) vs 30.2 (eval) final mIoU
    jitter_form: str = "official"
    # -- engineering -------------------------------------------------------------------------------
    amp: str = "fp32"  # fp32 (paper and official code) | bf16 (ours, for speed) | auto (bf16 on CUDA, else fp32)
    device: str = _free("auto")  # auto | cpu | cuda | cuda:N
    eval_interval: int = _free(4000)  # evaluate on target val every N iterations (0 = only at the end)
    checkpoint_interval: int = _free(4000)  # checkpoint every N iterations (and always at the end)
    log_interval: int = _free(10)  # one log.jsonl line every N iterations
    snapshot_images: int = _free(2)  # target images whose pseudo-labels are kept at every evaluation
    out: str | None = _free("runs/daformer")  # output folder (None: no files at all, e.g. in a benchmark)
    resume: str | None = _free(None)  # a checkpoint file or run folder to continue from
    progress: bool = _free(True)  # tqdm progress bar
    tensorboard: bool = _free(
        False
    )  # also write TensorBoard events into out/tensorboard/ (pip install -e ".[tensorboard]")

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

    @property
    def use_photometric_distortion(self) -> bool:
        """PhotoMetricDistortion on the labelled crops? (``None`` → on for ``source-only`` and ``oracle``)."""
        if self.photometric_distortion is None:
            return self.mode != "uda"
        return bool(self.photometric_distortion)


def free_on_resume() -> frozenset[str]:
    """The fields a resumed run may change (marked on the field with ``free_on_resume``).

    Taught in: notebooks/09_full_uda.ipynb
    """
    return frozenset(f.name for f in dataclasses.fields(TrainConfig) if f.metadata.get("free_on_resume"))


def _choice(name: str, value, valid) -> None:
    if value not in valid:
        raise ValueError(f"TrainConfig: {name}={value!r} is not valid; choose one of {list(valid)}")


def _integers(cfg: TrainConfig) -> None:
    for name in ("iterations", "batch_size", "embed_dim", "head_channels", "log_interval"):
        value = getattr(cfg, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"TrainConfig: {name}={value!r} must be a positive integer")
    for name in (
        "warmup_iters",
        "eval_interval",
        "checkpoint_interval",
        "num_workers",
        "val_length",
        "ignore_top",
        "ignore_bottom",
        "snapshot_images",
        "synthetic_train_length",
        "seed",
        "data_seed",
    ):
        value = getattr(cfg, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"TrainConfig: {name}={value!r} must be an integer ≥ 0")


def _numbers(cfg: TrainConfig) -> None:
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


def _sizes(cfg: TrainConfig) -> None:
    sizes = [("image_size", cfg.image_size), ("crop_size", cfg.crop_size)]
    if cfg.source_image_size is not None:
        sizes.append(("source_image_size", cfg.source_image_size))
    for name, size in sizes:
        if len(size) != 2 or min(size) < 32:
            raise ValueError(f"TrainConfig: {name}={size} must be (H, W) with both sides ≥ 32")
    if cfg.crop_size[0] % 32 or cfg.crop_size[1] % 32:
        raise ValueError(
            f"TrainConfig: crop_size={cfg.crop_size} must be multiples of 32 (the encoder's stride; "
            "FD pools the label onto the 1/32 grid)"
        )
    if cfg.source == "synthetic" and cfg.target == "synthetic":
        if cfg.crop_size[0] > cfg.image_size[0] or cfg.crop_size[1] > cfg.image_size[1]:
            raise ValueError(f"TrainConfig: crop_size={cfg.crop_size} is larger than image_size={cfg.image_size}")


def _validate(cfg: TrainConfig) -> None:
    """Fail at once with a message naming the field and the valid values (before any work is done)."""
    _choice("mode", cfg.mode, MODES)
    _choice("source", cfg.source, SOURCES)
    _choice("target", cfg.target, TARGETS)
    _choice("encoder", cfg.encoder, ENCODERS)
    _choice("head", cfg.head, HEADS)
    _choice("head_init", cfg.head_init, HEAD_INITS)
    _choice("amp", cfg.amp, AMP)
    for name, valid in FORMS.items():
        _choice(name, getattr(cfg, name), valid)
    _integers(cfg)
    _numbers(cfg)
    _sizes(cfg)
    for name, kind, root in (
        ("source_root", cfg.source, cfg.source_root),
        ("target_root", cfg.target, cfg.target_root),
    ):
        if kind != "synthetic" and root is None:
            side = name.split("_")[0]
            raise ValueError(
                f"TrainConfig: {side}={kind!r} needs {name}=<folder of the dataset>; "
                f"or use {side}='synthetic' (the embedded pair)"
            )
    if cfg.pretrained == "embedded" and cfg.encoder not in EMBEDDED_WEIGHTS:
        raise ValueError(
            f"TrainConfig: encoder={cfg.encoder!r} with pretrained='embedded': the package ships "
            f"embedded weights for {sorted(EMBEDDED_WEIGHTS)} only; use one of those or a weights file"
        )
    if is_hub_reference(cfg.pretrained):
        parse_hub_reference(cfg.pretrained)  # a malformed hf: reference fails here; its download, when the run starts
    if not (cfg.device in ("auto", "cpu") or cfg.device.startswith("cuda")):
        raise ValueError(f"TrainConfig: device={cfg.device!r} is not valid; choose 'auto', 'cpu', 'cuda' or 'cuda:N'")


# ------------------------------------------------------------------------------------------------
# Presets: each a diff from the released recipe (TrainConfig's defaults), with the reason for each change.
# ------------------------------------------------------------------------------------------------
# The forms every committed CPU record (bench/results/cpu-demo, cpu-long) and notebook was measured with. They differ
# from the released code only where daformer_edu/pages/paper_vs_official.md says: the paper's q_T, ClassMix and augmentation coins,
# torchvision's jitter, no PhotoMetricDistortion, no pseudo-label rows ignored (the 15/120 rows are for 512-row
# Cityscapes crops), PyTorch's head init (seed-0 uda with "mmcv" was 3.7–4.4 mIoU behind at iterations 250–750,
# bench/results/cpu-demo/head_init_2026-12-01.md) and a log line per iteration.
_CPU_RECORD_FORMS: dict[str, Any] = dict(
    pseudo_weight_form="paper",
    classmix_form="paper",
    augment_coin_form="paper",
    jitter_form="torchvision",
    photometric_distortion=False,
    ignore_top=0,
    ignore_bottom=0,
    head_init="pytorch",
    log_interval=1,
)

PRESETS: dict[str, dict[str, Any]] = {
    # The released config, as it is: give pretrained=<mit_b5.pth> and the dataset roots for the real thing
    # (daformer_edu/pages/real_data.md). On the synthetic pair it renders 1000 training images per domain at 512×1024 and evaluates 500.
    "gpu-full": {},
    # MiT-B0 with a narrow head on the synthetic pair, small crops: minutes per run on a 2-core CPU. It starts, as the
    # paper does from ImageNet, from the package's embedded "ImageNet" weights (pretrain.py), so FD compares the
    # student with them and warmup protects them. lr 2e-4 (6e-5 in §4.1; measured on seed 0 with a pre-trained start:
    # source-only 34.0 vs 31.7, DAFormer at 1k iterations 37.4 vs 31.4, bench/results/cpu-demo/
    # probes_world1_2026-12-01.md); warmup 150 = 10 % of the run (the paper's 1,500 would be all of it); α_max 0.99,
    # the paper's (the released 0.999 averages over 1,000 steps, two thirds of this run).
    "cpu-demo": dict(
        _CPU_RECORD_FORMS,
        encoder="mit_b0",
        embed_dim=64,
        head_channels=64,
        pretrained="embedded",
        image_size=(128, 256),
        crop_size=(128, 128),
        iterations=1500,
        lr=2e-4,
        warmup_iters=150,
        ema_alpha=0.99,
        eval_interval=250,
        checkpoint_interval=250,
        synthetic_train_length=2000,
        val_length=64,
        num_workers=0,
    ),
    # The embedded world at the paper's geometry, for one GPU: 512×512 crops of 512×1024 renders, the released head
    # widths, forms and schedule shape, from the embedded "ImageNet" weights (MiT-B0: the only pre-trained MiT the
    # package has offline; a larger MiT would start from random weights, which DAFormer never does). lr 2e-4 as
    # cpu-demo, measured better than 6e-5 for MiT-B0 on this data in short runs; 8,000 iterations with a 10 % warmup,
    # sized so that its three runs (source-only, DAFormer, oracle) take about an hour on one H100-class GPU (an
    # estimate from FLOP counts and the measured gpu-full step: daformer_edu/pages/measured.md). `auto` picks it on
    # CUDA when no real dataset is given.
    "gpu-demo": dict(
        encoder="mit_b0",
        pretrained="embedded",
        iterations=8000,
        warmup_iters=800,
        lr=2e-4,
        eval_interval=1000,
        checkpoint_interval=1000,
        synthetic_train_length=2000,
        val_length=100,
        num_workers=12,
    ),
    # A handful of iterations on tiny crops from random weights, for CI: seconds.
    "smoke": dict(
        _CPU_RECORD_FORMS,
        encoder="mit_b0",
        embed_dim=32,
        head_channels=32,
        image_size=(64, 128),
        crop_size=(64, 64),
        iterations=6,
        lr=6e-4,
        warmup_iters=2,
        ema_alpha=0.9,
        pseudo_threshold=0.9,
        eval_interval=3,
        checkpoint_interval=3,
        synthetic_train_length=64,
        val_length=8,
        num_workers=0,
    ),
}
# cpu-demo run twice as long. Seeds 0–2: DAFormer − source-only +10.9 mIoU (cpu-demo: +6.0), 38 % of the gap to the
# oracle (bench/results/cpu-long/).
PRESETS["cpu-long"] = {**PRESETS["cpu-demo"], "iterations": 3000}
PRESET_NAMES = (*PRESETS, "auto")
AUTO_PRESET_ENV = "DAFORMER_EDU_AUTO_PRESET"


def resolve_auto_preset(source: str = "synthetic", target: str = "synthetic") -> str:
    """What ``preset="auto"`` means here: ``$DAFORMER_EDU_AUTO_PRESET`` if set; else, with CUDA, ``gpu-full`` for real
    data and ``gpu-demo`` for the embedded synthetic pair; without CUDA, ``cpu-demo``.

    The variable exists for CI (``tests/conftest.py`` sets ``smoke``): notebook 09 is committed with
    ``preset = "auto"`` so that ``papermill notebooks/09_full_uda.ipynb out.ipynb`` runs the real thing, and
    the tests still execute it in seconds. A value that is not a preset name raises and lists the valid ones.

    Taught in: notebooks/09_full_uda.ipynb
    """
    chosen = os.environ.get(AUTO_PRESET_ENV, "").strip()
    if chosen:
        if chosen not in PRESETS:
            raise ValueError(f"{AUTO_PRESET_ENV}={chosen!r} is not a preset; choose one of {list(PRESETS)} or unset it")
        return chosen
    if not torch.cuda.is_available():
        return "cpu-demo"
    return "gpu-demo" if source == "synthetic" and target == "synthetic" else "gpu-full"


# Field names of earlier releases: old name → (new name, {old value: new value}). make_config, --set and old
# checkpoints' saved configurations accept them.
LEGACY_FIELDS: dict[str, tuple[str, dict]] = {
    "per_image_qt": ("pseudo_weight_form", {True: "paper", False: "official"}),
    "classmix_batch_pool": ("classmix_form", {True: "official", False: "paper"}),
    "augment_coins_per_batch": ("augment_coin_form", {True: "official", False: "paper"}),
    "fd_per_image": ("fd_form", {True: "paper", False: "official"}),
    "rcs_fc_all_pixels": ("rcs_frequency_form", {True: "paper", False: "official"}),
    "teacher_train_mode": ("teacher_bn_form", {True: "official", False: "eval"}),
}
# What a configuration saved with the old field names ran with where it holds no value: the defaults of that
# release, and the forms it had before jitter_form and photometric_distortion existed.
_LEGACY_DEFAULTS: dict[str, Any] = dict(
    per_image_qt=True,
    classmix_batch_pool=False,
    augment_coins_per_batch=False,
    fd_per_image=False,
    rcs_fc_all_pixels=False,
    teacher_train_mode=True,
    jitter_form="torchvision",
    photometric_distortion=False,
    tensorboard=False,
)


def _translate_legacy(values: dict[str, Any]) -> dict[str, Any]:
    out = dict(values)
    for old, (new, mapping) in LEGACY_FIELDS.items():
        if old in out:
            value = out.pop(old)
            if value not in mapping:
                raise ValueError(
                    f"TrainConfig: {old}={value!r} must be True or False (now {new}="
                    f"{' | '.join(repr(v) for v in mapping.values())})"
                )
            out[new] = mapping[value]
    return out


def upgrade_config_dict(saved: dict[str, Any]) -> dict[str, Any]:
    """A configuration saved by any release (``config.json``, a checkpoint's ``"config"``) in today's field names.

    A configuration written with the old boolean switches (``per_image_qt`` …) ran with that release's values
    wherever it holds none; today's fields it lacks take their defaults.

    Taught in: notebooks/09_full_uda.ipynb
    """
    saved = dict(saved)
    if any(old in saved for old in LEGACY_FIELDS):
        saved = {**_LEGACY_DEFAULTS, **saved}
    return _translate_legacy(saved)


def make_config(preset: str = "auto", **overrides) -> TrainConfig:
    """A :class:`TrainConfig` from a named preset, with any field overridden by keyword.

    ``preset``: ``gpu-full`` (the released recipe: TrainConfig's defaults), ``gpu-demo``, ``cpu-demo``, ``cpu-long``,
    ``smoke`` or ``auto`` (:func:`resolve_auto_preset`: ``gpu-full`` on CUDA with real data, ``gpu-demo`` on CUDA with
    the synthetic pair, else ``cpu-demo``; the environment variable ``DAFORMER_EDU_AUTO_PRESET`` overrides that
    choice — the tests' conftest sets it to ``smoke``). A GPU preset without ``pretrained`` weights warns: it would
    train the encoder from random weights. An unknown
    preset or field name raises at once and lists the valid ones; the field names of earlier releases
    (``per_image_qt=True`` …) are translated.

    Taught in: notebooks/09_full_uda.ipynb
    """
    if preset not in PRESET_NAMES:
        raise ValueError(f"make_config: unknown preset {preset!r}; choose one of {list(PRESET_NAMES)}")
    if preset == "auto":
        preset = resolve_auto_preset(overrides.get("source", "synthetic"), overrides.get("target", "synthetic"))
    overrides = _translate_legacy(overrides)
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"make_config: unknown field(s) {unknown}; TrainConfig has {sorted(fields)}")
    config = TrainConfig(**{**PRESETS[preset], "preset": preset, **overrides})
    if config.pretrained is None and config.preset in ("gpu-full", "gpu-demo"):
        warnings.warn(
            f"make_config: preset {preset!r} with pretrained=None trains {config.encoder} from random weights, "
            "which DAFormer never does; pass pretrained=<ImageNet MiT weights> (a path, or 'hf:nvidia/mit-b5')",
            stacklevel=2,
        )
    return config


def _parse_value(name: str, kind: str, text: str):
    if text.lower() in ("none", "null"):
        return None
    if "bool" in kind:
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"--set {name}={text!r}: expected true or false")
    try:
        if "tuple" in kind:
            return tuple(int(v) for v in text.replace("x", ",").split(","))
        if kind.startswith("int"):
            return int(text)
        if kind.startswith("float"):
            return float(text)
    except ValueError:
        expected = "HxW" if "tuple" in kind else kind.split(" ")[0]
        raise ValueError(f"--set {name}={text!r}: expected {expected}") from None
    return text


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["iterations=90", "crop_size=128x128", "rcs=false"]`` → ``{"iterations": 90, …}``, typed by the field.

    ``none``/``null`` give None; booleans accept true/false/yes/no/on/off/1/0; sizes ``HxW`` or ``H,W``. An
    unknown field or a value of the wrong type raises ``ValueError`` naming it and the valid fields. The field
    names of earlier releases are accepted (translated by :func:`make_config`).

    Taught in: notebooks/09_full_uda.ipynb
    """
    fields = {f.name: (f.name, str(f.type)) for f in dataclasses.fields(TrainConfig)}
    fields.update({old: (old, "bool") for old in LEGACY_FIELDS})
    out: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or name not in fields:
            valid = sorted(f.name for f in dataclasses.fields(TrainConfig))
            raise ValueError(f"--set {item!r}: expected FIELD=VALUE with FIELD one of {valid}")
        out[name] = _parse_value(*fields[name], text)
    return out
