"""BlindNet on our network: MiT encoder + DAFormer head, trained on the source domain only (CVPR 2024).

Domain *generalisation*: no target image is seen during training, not even unlabelled. That is built into
the code: :func:`train_blindnet` takes a config and (optionally) a *source* dataset, builds nothing else,
and refuses a dataset whose ``domain`` is ``"target"``. The target validation split is only touched
afterwards, by :func:`evaluate_target`.

Where the four losses act on MiT + DAFormer head
------------------------------------------------
- **CML / CCL on encoder stages 1 and 2** (``encoder_levels=(0, 1)``: the 1/4 and 1/8 maps, 32 and 64
  channels in MiT-B0). Style — colour, contrast, texture — lives in shallow statistics (the per-channel
  moments and channel correlations that style transfer matches with Gram matrices); deep stages are
  semantic and should stay free to differ. BlindNet's ResNet choice (stem and stages 1–2, strides 4–8)
  covers the same strides. Stage-1/2 outputs are the encoder's own outputs (with ``instance_norm``, after IN).
- **CWCL / SDCL on two decoder levels** (``decoder_levels=("embed", "fused")``), both on the head's 1/4
  grid: ``"embed"`` = the concatenated per-stage linear embeddings ``[F̂_1 … F̂_4]`` (what enters the
  context-aware fusion) and ``"fused"`` = the fusion output the classifier reads. They play the part of
  BlindNet's per-decoder-block heads. The head hands them out itself
  (``head(features, return_features=True)``, :class:`~daformer_edu.models.heads.DAFormerHead`), so the
  logits of a training step are exactly ``head(features)``'s.
- Each decoder level has a projection head (1×1 conv → ReLU → 1×1 conv to ``projection_dim``, then L2
  normalisation); labels and predictions are resized to the 1/4 grid by nearest neighbour.

- **Instance normalisation in the forward path** (``instance_norm=True``, official ``--wt_layer 0 0 1 1 1 0 0``):
  the output of each regularised encoder stage is replaced by its instance normalisation (no affine), so
  the next stage and the decoder read style-normalised maps — in training *and* at test time. BlindNet's
  ResNet does this with ``InstanceWhitening`` after the stem and after layers 1–2; we do it with a forward
  hook on the MiT stage (:func:`_instance_norm_hook`), which keeps the state-dict keys of a plain segmentor.

One training step (``style_views=True``): original view x and style view x_a of the same crops go through
the network together; ``L = ½(CE(x) + CE(x_a)) + λ_CML·L_CML + λ_CCL·L_CCL + λ_CWCL·L_CWCL + λ_SDCL·L_SDCL``.
``style_views=False`` with all λ = 0 is the plain source-only baseline (CE on the original view).
Default weights are the official ones (0.2, 0.2, 0.3, 0.3; τ = 0.07).

Official rules (the defaults) and, after the colon, the simpler rules of ``simple_rules()``:

- ``cwcl_split_view="original"``: CWCL's hard samples are the pixels the *original* view gets wrong (official
  ``criterion_CWCL(..., gts, predict)``) : ``"augmented"``, the style view's mistakes;
- ``per_image_sampling=True``: per image, CWCL uses classes with more than 50 pixels there, SDCL 20 negatives
  (``sdcl_negatives``) of the confused class from the same image and ≤ 1000 anchors per image : over the batch,
  every class, 750 anchors and 50 negatives per class;
- ``sdcl_detach_negatives=False``: SDCL's negatives get a gradient : detached;
- ``ccl_detach_original=True``: CCL's original-view map is detached, as CML's (``k_maps.detach()``) : not;
- ``original_blur=True``: the original view is blurred too (``--gblur``) : only the style view;
- ``instance_norm=True``: IN in the forward path after the regularised stages : IN only inside CML/CCL.

Measured (2026-12-03, ``bench/results/blindnet/``: MiT-B0 from the embedded weights, 100 steps, 64² crops, 32 target
val images, seeds 0–2; ``OMP_NUM_THREADS=1 python bench/bench_blindnet.py --only source-only "BlindNet (all four)"
--seeds 0 1 2``, then ``--rules simple``): official rules 15.3 ± 1.0 target mIoU, simpler rules 15.2 ± 0.6,
source-only 17.5 ± 1.5. The official and the simpler rules are indistinguishable at this scale, so the official ones
are the defaults.
Not reproduced: CWCL's random filler pixels for unused class slots (see
:func:`~daformer_edu.dg.losses.sample_class_anchors`), BlindNet's auxiliary DSN head and its ResNet/DeepLab.

Taught in: notebooks/10_domain_generalization.ipynb
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data.stream import CropStream
from ..models import build_segmentor
from ..models.heads import DAFormerHead
from ..uda.schedule import param_groups, set_lr
from .augment import ORIGINAL_VIEW, STYLE_VIEW
from .losses import (
    class_wise_contrastive_loss,
    covariance_matching_loss,
    cross_covariance_loss,
    semantic_disentanglement_contrastive_loss,
)

__all__ = [
    "BlindNetConfig",
    "ProjectionHead",
    "BlindNet",
    "decode_with_features",
    "BlindNetResult",
    "train_blindnet",
    "evaluate_target",
]

DECODER_LEVELS = ("embed", "fused")  # the keys of DAFormerHead.forward(..., return_features=True)
CROP_STREAM = 7  # BlindNet's stream of data.stream.CropStream: crop k of step t from default_rng([seed, 7, t, k])


@dataclass
class BlindNetConfig:
    """Everything a BlindNet run depends on; the defaults are a small CPU setting (MiT-B0 from the embedded
    pre-trained weights, 64×64 crops, 100 steps).

    Loss weights default to BlindNet's official ones (0.2 CML, 0.2 CCL, 0.3 CWCL, 0.3 SDCL), τ = 0.07,
    up to 15 classes × 50 pixels per CWCL batch. ``source_only()`` gives the baseline of the same run.

    Taught in: notebooks/10_domain_generalization.ipynb
    """

    seed: int = 0
    iterations: int = 100
    # data (the embedded synthetic pair; only the *source* train split is used for training)
    image_size: tuple[int, int] = (64, 128)
    crop_size: tuple[int, int] = (64, 64)
    cat_max_ratio: float = 0.75
    synthetic_train_length: int = 500
    val_length: int = 16
    data_seed: int = 0
    # network
    encoder: str = "mit_b0"
    embed_dim: int = 32
    head_channels: int = 32
    pretrained: str | None = "embedded"  # the package's pre-trained MiT-B0 (notebook 08); a path; None: random weights
    # "pytorch" (PyTorch's default init), not the package default "mmcv" (DEFAULT_HEAD_INIT, the official init): on
    # this 100-step run from the embedded weights BlindNet reached 15.3 ± 1.0 target mIoU with it and 8.9 ± 0.8 with
    # mmcv's (seeds 0–2; source-only 17.5 vs 17.6, unmoved), bench/results/blindnet/README.md, 2026-12-03
    head_init: str = "pytorch"
    # optimisation (AdamW, warmup + poly as DAFormer; lr 6e-4: on a 100-step run from the embedded weights it beat
    # cpu-demo's 2e-4, seed 0: source-only 16.9 vs 10.2, BlindNet 10.0 vs 5.1 target mIoU, 2026-12-03)
    batch_size: int = 4
    lr: float = 6e-4
    head_lr_mult: float = 10.0
    weight_decay: float = 0.01
    warmup_iters: int = 20
    # BlindNet
    style_views: bool = True  # CE on the original and the style view (False: original view only)
    cml_weight: float = 0.2
    ccl_weight: float = 0.2
    cwcl_weight: float = 0.3
    sdcl_weight: float = 0.3
    temperature: float = 0.07
    encoder_levels: tuple[int, ...] = (0, 1)  # MiT stages regularised by CML/CCL (0 = stage 1, 1/4 grid)
    decoder_levels: tuple[str, ...] = DECODER_LEVELS  # head features with a projection head (CWCL/SDCL)
    projection_dim: int = 256
    max_classes: int = 15
    samples_per_class: int = 50
    # official rules (see the module text); simple_rules() gives the simpler ones
    cwcl_split_view: str = "original"  # whose prediction splits CWCL's samples into hard/easy: "original"|"augmented"
    per_image_sampling: bool = True  # CWCL/SDCL sample per image (official) instead of over the batch
    sdcl_negatives: int = 20  # official num_patch: negatives per confused class and image (per-image sampling)
    sdcl_max_anchors_per_image: int = 1000  # official max_samples (the batch keeps ≤ B × this many anchors)
    sdcl_detach_negatives: bool = False  # official: SDCL's negatives (augmented view) keep their gradient
    ccl_detach_original: bool = True  # official: CCL's original-view map is detached (as CML's)
    original_blur: bool = True  # official --gblur: the original view is blurred too
    instance_norm: bool = True  # official: IN (no affine) in the forward path after each encoder_levels stage
    device: str = "cpu"

    def __post_init__(self):
        self.image_size, self.crop_size = tuple(self.image_size), tuple(self.crop_size)
        self.encoder_levels, self.decoder_levels = tuple(self.encoder_levels), tuple(self.decoder_levels)
        for name in ("cml_weight", "ccl_weight", "cwcl_weight", "sdcl_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"BlindNetConfig: {name}={getattr(self, name)} must be ≥ 0")
        if self.temperature <= 0:
            raise ValueError(f"BlindNetConfig: temperature={self.temperature} must be > 0")
        if not set(self.encoder_levels) <= {0, 1, 2, 3}:
            raise ValueError(f"BlindNetConfig: encoder_levels={self.encoder_levels} must index MiT stages 0..3")
        if not set(self.decoder_levels) <= set(DECODER_LEVELS):
            raise ValueError(f"BlindNetConfig: decoder_levels={self.decoder_levels}; choose from {DECODER_LEVELS}")
        if not self.style_views and (self.cml_weight or self.ccl_weight or self.cwcl_weight or self.sdcl_weight):
            raise ValueError(
                "BlindNetConfig: the four losses compare two views; set style_views=True or all "
                "weights to 0 (use config.source_only() for the baseline)"
            )
        if self.cwcl_split_view not in ("original", "augmented"):
            raise ValueError(
                f"BlindNetConfig: cwcl_split_view={self.cwcl_split_view!r}; choose 'original' (official) or 'augmented'"
            )
        if self.sdcl_negatives < 1 or self.sdcl_max_anchors_per_image < 1:
            raise ValueError(
                f"BlindNetConfig: sdcl_negatives={self.sdcl_negatives} and sdcl_max_anchors_per_image="
                f"{self.sdcl_max_anchors_per_image} must be ≥ 1"
            )
        if self.crop_size[0] % 32 or self.crop_size[1] % 32:
            raise ValueError(f"BlindNetConfig: crop_size={self.crop_size} must be multiples of 32 (MiT's stride)")

    def source_only(self) -> BlindNetConfig:
        """The same run without BlindNet: one view, CE only, no instance normalisation in the network."""
        return dataclasses.replace(
            self,
            style_views=False,
            cml_weight=0.0,
            ccl_weight=0.0,
            cwcl_weight=0.0,
            sdcl_weight=0.0,
            instance_norm=False,
        )

    def simple_rules(self) -> BlindNetConfig:
        """The same run with the simpler rules instead of the official ones (the list in the module text)."""
        return dataclasses.replace(
            self,
            cwcl_split_view="augmented",
            per_image_sampling=False,
            sdcl_detach_negatives=True,
            ccl_detach_original=False,
            original_blur=False,
            instance_norm=False,
        )

    def previous_defaults(self) -> BlindNetConfig:
        """Another name of :meth:`simple_rules` (kept for the calls that use it)."""
        return self.simple_rules()


class ProjectionHead(nn.Module):
    """BlindNet's projection π: ``normalize(Conv1×1(ReLU(Conv1×1(F))))`` → ``[B, D, h, w]``, ‖·‖₂ = 1 per pixel.

    Taught in: notebooks/10_domain_generalization.ipynb
    """

    def __init__(self, in_channels: int, out_channels: int = 256):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, in_channels, 1), nn.ReLU(inplace=True), nn.Conv2d(in_channels, out_channels, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.net(x), dim=1)  # [B, D, h, w]


def decode_with_features(head: nn.Module, features: list[torch.Tensor]) -> tuple[torch.Tensor, dict]:
    """DAFormer head forward that also returns its inner features: ``(logits [B, K, H/4, W/4], {level: map})``.

    The head's own ``forward(features, return_features=True)`` (DAFormer §3.2): ``"embed"`` = the per-stage
    ``Linear`` embeddings upsampled to 1/4 and concatenated ``[B, 4·embed_dim, H/4, W/4]``, ``"fused"`` = the
    context-aware fusion output ``[B, channels, H/4, W/4]`` that dropout and the classifier turn into the logits.

    Taught in: notebooks/10_domain_generalization.ipynb
    """
    if not isinstance(head, DAFormerHead):
        raise TypeError(
            f"decode_with_features: needs a DAFormerHead, got {type(head).__name__}; build the model "
            "with build_segmentor(..., head='daformer')"
        )
    return head(features, return_features=True)


def _instance_norm_hook(module: nn.Module, inputs, output: torch.Tensor) -> torch.Tensor:
    """Forward hook: a stage's output ``[B, C, H, W]`` → its instance normalisation (per image and channel over
    H×W, biased variance, ε = 1e-5, no affine — ``nn.InstanceNorm2d(affine=False)`` as the official
    ``InstanceWhitening``). Returning a tensor from a forward hook replaces the module's output."""
    return F.instance_norm(output)  # [B, C, H, W]


class BlindNet(nn.Module):
    """A segmentor (``.segmentor``: ``EncoderDecoder``, all that is kept for inference) plus one
    :class:`ProjectionHead` per decoder level (``.projections``, training only).

    ``forward(x)`` = the segmentor's logits, so :func:`~daformer_edu.metrics.evaluate` works on it. With
    ``config.instance_norm`` the encoder stages in ``config.encoder_levels`` end in an instance normalisation
    (a forward hook, kept at test time as in BlindNet's network; it does not travel with a state dict).

    Taught in: notebooks/10_domain_generalization.ipynb
    """

    def __init__(self, config: BlindNetConfig, num_classes: int = 19):
        super().__init__()
        self.segmentor = build_segmentor(
            config.encoder,
            "daformer",
            num_classes=num_classes,
            pretrained=config.pretrained,
            embed_dim=config.embed_dim,
            channels=config.head_channels,
            head_init=config.head_init,
        )
        if config.instance_norm:
            stages = getattr(self.segmentor.encoder, "stages", None)
            if stages is None:
                raise TypeError(
                    f"BlindNet: instance_norm=True needs a MiT encoder with .stages, got "
                    f"{config.encoder!r}; set BlindNetConfig(instance_norm=False)"
                )
            for level in config.encoder_levels:
                stages[level].register_forward_hook(_instance_norm_hook)
        widths = {"embed": 4 * config.embed_dim, "fused": config.head_channels}
        self.projections = nn.ModuleDict(
            {lvl: ProjectionHead(widths[lvl], config.projection_dim) for lvl in config.decoder_levels}
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.segmentor(x)  # [B, K, H, W]


@dataclass
class BlindNetResult:
    """What :func:`train_blindnet` returns: the trained ``model``, a ``history`` of per-step loss dicts, seconds.

    Taught in: notebooks/10_domain_generalization.ipynb
    """

    model: BlindNet
    config: BlindNetConfig
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0


def _source_dataset(config: BlindNetConfig):
    from ..data import transforms as T
    from ..data.synthetic import SyntheticDomain

    tf = T.Compose(
        [T.Resize(config.image_size), T.RandomCrop(config.crop_size, config.cat_max_ratio), T.RandomFlip(0.5)]
    )
    return SyntheticDomain(
        "source",
        "train",
        size=config.image_size,
        length=config.synthetic_train_length,
        seed=config.data_seed,
        transform=tf,
    )


def _crop_stream(source, config: BlindNetConfig) -> CropStream:
    """The training crops: crop k of step t from ``default_rng([config.seed, CROP_STREAM, t, k])``, as the trainer."""
    return CropStream(source, config.seed, stream=CROP_STREAM)


def _optimizer(model: BlindNet, config: BlindNetConfig) -> torch.optim.AdamW:
    """AdamW over DAFormer's parameter groups (head lr × head_lr_mult), the projection heads grouped as the head."""
    groups = param_groups(model.segmentor, config.lr, config.head_lr_mult, config.weight_decay)
    if len(model.projections):
        lr = config.lr * config.head_lr_mult
        groups.append(
            {
                "name": "projection",
                "params": list(model.projections.parameters()),
                "lr": lr,
                "initial_lr": lr,
                "weight_decay": config.weight_decay,
            }
        )
    return torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, 0.999))


def train_blindnet(config: BlindNetConfig, source=None, progress: bool = False) -> BlindNetResult:
    """Train on the **source domain only** with BlindNet's losses (or the source-only baseline).

    ``source``: a labelled source dataset whose ``get(i, rng=...)`` gives random crops (default: the
    synthetic source train split built from ``config``); the crops of step ``t`` are
    ``CropStream(source, config.seed, stream=7).batch(t, config.batch_size)`` (``data/stream.py``).
    There is deliberately no target argument, and a dataset with ``domain == "target"`` is refused. The loss
    is the one in the module text; the optimiser is AdamW with DAFormer's parameter groups (head lr ×10;
    projection heads as the head), linear warmup and poly decay. Each history entry holds
    ``ce, cml, ccl, cwcl, sdcl, total`` (floats; 0 for switched-off terms).

    Taught in: notebooks/10_domain_generalization.ipynb
    """
    if source is None:
        source = _source_dataset(config)
    if getattr(source, "domain", "source") == "target":
        raise ValueError(
            "train_blindnet: got a *target* dataset; domain generalisation trains on the source "
            "domain only (evaluate on the target afterwards with evaluate_target)"
        )
    torch.manual_seed(config.seed)
    device = torch.device(config.device)
    model = BlindNet(config).to(device)
    optimizer = _optimizer(model, config)
    g = torch.Generator().manual_seed(config.seed)
    original_view = ORIGINAL_VIEW if config.original_blur else dataclasses.replace(ORIGINAL_VIEW, blur_p=0.0)
    crops = _crop_stream(source, config)
    w = {"cml": config.cml_weight, "ccl": config.ccl_weight, "cwcl": config.cwcl_weight, "sdcl": config.sdcl_weight}
    history = []
    start = time.perf_counter()
    model.train()
    for t in range(config.iterations):
        set_lr(optimizer, t, config.warmup_iters, config.iterations)
        batch = crops.batch(t, config.batch_size)  # a pure function of (seed, t, slot)
        if "label" not in batch:
            raise ValueError("train_blindnet: the source dataset must be labelled")
        images, labels = batch["image"].to(device), batch["label"].to(device)  # [B, 3, H, W], [B, H, W]
        terms = _loss_terms(model, config, images, labels, original_view, g)
        total = terms["ce"] + sum(w[k] * terms[k] for k in w if k in terms)
        if not torch.isfinite(total):
            raise FloatingPointError(
                f"train_blindnet: loss is {total.item()} at iteration {t} "
                f"({ {k: float(v) for k, v in terms.items()} }); lower lr or the weights"
            )
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()
        record = {k: float(terms[k].detach()) if k in terms else 0.0 for k in ("ce", "cml", "ccl", "cwcl", "sdcl")}
        record["total"] = float(total.detach())
        history.append(record)
        if progress and (t % max(1, config.iterations // 10) == 0 or t == config.iterations - 1):
            print(f"it {t:4d} " + " ".join(f"{k} {v:.3f}" for k, v in record.items()))
    return BlindNetResult(model=model, config=config, history=history, seconds=time.perf_counter() - start)


def _loss_terms(
    model: BlindNet,
    config: BlindNetConfig,
    images: torch.Tensor,
    labels: torch.Tensor,
    original_view,
    g: torch.Generator,
) -> dict[str, torch.Tensor]:
    """One forward pass of the views: the unweighted terms ``ce, cml, ccl, cwcl, sdcl`` (only ``ce`` for one view)."""
    if config.style_views:
        x_orig, x_style = original_view(images, g), STYLE_VIEW(images, g)
        x = torch.cat([x_orig, x_style])  # [2B, 3, H, W]: both views in one pass
    else:
        x = original_view(images, g)  # [B, 3, H, W]
    feats = model.segmentor.extract_features(x)  # 4 × [nB, C_i, H_i, W_i]
    logits4, dec = model.segmentor.head(feats, return_features=True)  # [nB, K, H/4, W/4], DECODER_LEVELS
    logits = F.interpolate(logits4, size=images.shape[-2:], mode="bilinear", align_corners=False)
    y = labels.repeat(2, 1, 1) if config.style_views else labels  # [nB, H, W]
    terms = {
        "ce": F.cross_entropy(logits, y, ignore_index=255)
    }  # = ½(CE_orig + CE_style): both halves share the labels
    if config.style_views:
        zero = logits.new_zeros(())
        terms.update(_encoder_terms(config, feats, zero))
        terms.update(_decoder_terms(model, config, dec, logits4, labels, g, zero))
    return terms


def _encoder_terms(config: BlindNetConfig, feats: list[torch.Tensor], zero: torch.Tensor) -> dict[str, torch.Tensor]:
    """CML and CCL between the original (first half) and style (second half) maps of the regularised stages."""
    B = feats[0].shape[0] // 2
    enc_o = [feats[lv][:B] for lv in config.encoder_levels]
    enc_a = [feats[lv][B:] for lv in config.encoder_levels]
    cml = covariance_matching_loss(enc_o, enc_a) if config.cml_weight else zero
    ccl = cross_covariance_loss(enc_o, enc_a, detach_original=config.ccl_detach_original) if config.ccl_weight else zero
    return {"cml": cml, "ccl": ccl}


def _decoder_terms(
    model: BlindNet,
    config: BlindNetConfig,
    dec: dict,
    logits4: torch.Tensor,
    labels: torch.Tensor,
    g: torch.Generator,
    zero: torch.Tensor,
) -> dict[str, torch.Tensor]:
    """CWCL and SDCL on each decoder level's projection, labels and predictions on the 1/4 grid (mean over levels)."""
    B = labels.shape[0]
    grid = logits4.shape[-2:]
    y4 = F.interpolate(labels[:, None].float(), size=grid, mode="nearest")[:, 0].long()  # [B, h, w]
    pred = logits4.detach().argmax(1)  # [2B, h, w]
    split = pred[:B] if config.cwcl_split_view == "original" else pred[B:]  # CWCL's hard/easy split
    if config.per_image_sampling:  # official: num_patch negatives, ≤ max_samples anchors per image
        sd_anchors, sd_negatives = B * config.sdcl_max_anchors_per_image, config.sdcl_negatives
    else:
        sd_anchors, sd_negatives = config.max_classes * config.samples_per_class, config.samples_per_class
    cw, sd = [], []
    for lvl in config.decoder_levels if (config.cwcl_weight or config.sdcl_weight) else ():
        emb = model.projections[lvl](dec[lvl])  # [2B, D, h, w]
        if config.cwcl_weight:
            cw.append(
                class_wise_contrastive_loss(
                    emb[:B],
                    emb[B:],
                    y4,
                    split,
                    config.temperature,
                    config.max_classes,
                    config.samples_per_class,
                    g,
                    per_image=config.per_image_sampling,
                )
            )
        if config.sdcl_weight:
            sd.append(
                semantic_disentanglement_contrastive_loss(
                    emb[:B],
                    emb[B:],
                    y4,
                    pred[:B],
                    pred[B:],
                    config.temperature,
                    sd_anchors,
                    sd_negatives,
                    g,
                    per_image=config.per_image_sampling,
                    detach_negatives=config.sdcl_detach_negatives,
                )
            )
    return {"cwcl": torch.stack(cw).mean() if cw else zero, "sdcl": torch.stack(sd).mean() if sd else zero}


def evaluate_target(model: nn.Module, config: BlindNetConfig, split: str = "val") -> dict[str, Any]:
    """mIoU on the synthetic **target** validation split, *after* training (``metrics.evaluate``).

    Returns ``evaluate``'s dict: ``miou``, ``iou`` (per class) and ``acc`` in percent, ``confusion`` (counts).

    Taught in: notebooks/10_domain_generalization.ipynb
    """
    from ..data import transforms as T
    from ..data.synthetic import SyntheticDomain
    from ..metrics import evaluate

    if split != "val":
        raise ValueError(f"evaluate_target: split={split!r}; only the labelled 'val' split can be evaluated")
    val = SyntheticDomain(
        "target",
        "val",
        size=config.image_size,
        length=config.val_length,
        seed=config.data_seed,
        transform=T.Compose([T.Resize(config.image_size)]),
    )
    return evaluate(model, val, batch_size=8, progress=False)
