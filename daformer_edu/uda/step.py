"""One DAFormer training iteration, top to bottom, from the package's pieces (DAFormer §3, Fig. 2).

``daformer_step(networks, batch, config, generator, iteration)`` is what the trainer, notebook 09 and
``bench/bench_uda_step.py`` call. In mode ``uda`` iteration t does, in order:

1. ``set_lr``                 warmup + poly learning rate for every AdamW group (head ×10)   (uda/schedule.py)
2. student on the source crop → logits and the four encoder maps;  L_S = CE(ŷ_S, y_S)         (uda/losses.py)
3. ``thing_mask`` + ``feature_distance``: L_FD between the student's last stage and the frozen
   ImageNet encoder on the thing-class cells of the source crop                             (uda/fd.py)
4. ``ema_update``             teacher φ ← αφ + (1 − α)θ, α = min(1 − 1/(t + 1), α_max)         (uda/ema.py)
5. ``teacher_pseudo_labels``  teacher on the *un-augmented* target crop → p_T and q_T        (uda/pseudo_label.py)
6. ``classmix_masks`` + ``mix`` + ``strong_augment``: source classes pasted onto the target, then colour
   jitter + blur;  L_T = CE on the mixed crop, weight 1 on source pixels and q_T on target ones (uda/dacs.py)
7. one backward of  L = L_S + L_T + λ_FD · L_FD,  one AdamW step.

``source-only`` runs steps 1–3 (3 only when FD is asked for); ``oracle`` runs them on *labelled target* crops.
Nothing here owns state: the networks, the optimiser and the generator are passed in, so a notebook can run the
same iteration on copies and compare.

Taught in: notebooks/09_full_uda.ipynb
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import nn

from ..data.classes import ClassTable
from .dacs import classmix_masks, mix, strong_augment
from .ema import ema_update, set_teacher_mode
from .fd import feature_distance, thing_mask
from .losses import weighted_ce
from .pseudo_label import pseudo_label
from .schedule import set_lr

__all__ = ["Networks", "NonFiniteLossError", "daformer_step", "teacher_pseudo_labels", "autocast"]


@dataclass
class Networks:
    """What one iteration updates and reads.

    ``student``: the segmentor the losses call, ``student(x)`` → logits and ``student(x, features=True)`` →
    ``(logits, encoder maps)`` (an ``EncoderDecoder``, or DDP around one); ``model``: the student's own module
    (the EMA reads its weights); ``teacher``: the mean teacher (``uda`` only); ``imagenet_encoder``: the frozen
    copy of the initial encoder (FD only); ``optimizer``: AdamW over ``model``'s parameter groups.

    Taught in: notebooks/09_full_uda.ipynb
    """

    student: nn.Module
    model: nn.Module
    optimizer: torch.optim.Optimizer
    teacher: nn.Module | None = None
    imagenet_encoder: nn.Module | None = None


class NonFiniteLossError(FloatingPointError):
    """A loss term became NaN or ±inf; raised before the optimiser step, naming the iteration and the term.

    Taught in: notebooks/09_full_uda.ipynb
    """


def autocast(config, device: torch.device):
    """The precision context of ``config.amp``: bf16 autocast, or nothing (fp32; ``auto`` = bf16 on CUDA only).

    Taught in: notebooks/09_full_uda.ipynb
    """
    amp = config.amp if config.amp != "auto" else ("bf16" if device.type == "cuda" else "fp32")
    if amp == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


@torch.no_grad()
def teacher_pseudo_labels(teacher: nn.Module, images: torch.Tensor, config) -> tuple[torch.Tensor, torch.Tensor]:
    """Step 5: the teacher's pseudo-labels ``p_T`` [B, H, W] and weights ``q_T`` [B, H, W] for normalised images.

    The teacher runs as ``config.teacher_bn_form`` says (``"official"``: BatchNorm on this batch's statistics;
    ``"eval"``: running statistics; dropout and drop-path always off) and ``pseudo_label`` applies τ, the q_T form
    and the ignored top / bottom rows. The trainer's snapshots call this same function.

    Taught in: notebooks/09_full_uda.ipynb
    """
    set_teacher_mode(teacher, config.teacher_bn_form == "official")
    with autocast(config, images.device):
        logits = teacher(images)  # [B, K, H, W]
    return pseudo_label(
        logits.float(),
        config.pseudo_threshold,
        config.pseudo_weight_form == "paper",
        config.ignore_top,
        config.ignore_bottom,
    )


def _check_finite(terms: dict[str, torch.Tensor], iteration: int, lr: float) -> None:
    for name, value in terms.items():
        if not torch.isfinite(value):
            raise NonFiniteLossError(
                f"iteration {iteration}: loss term '{name}' is {value.item()} (terms: "
                + ", ".join(f"{k}={v.item():.4g}" for k, v in terms.items())
                + f"). Lower the learning rate (lr={lr}) or check the data."
            )


def daformer_step(
    networks: Networks,
    batch: dict,
    config,
    generator: torch.Generator,
    iteration: int,
    classes: ClassTable | None = None,
) -> dict[str, float]:
    """Iteration ``iteration`` (from 0) of ``config.mode``; updates the networks, returns the scalars to log.

    ``batch``: ``{"source": {"image" [B, 3, h, w], "label" [B, h, w]}, "target": {"image" [B, 3, h, w]} or None}``
    (``source`` holds labelled target crops for the oracle). ``generator`` draws ClassMix classes and the
    augmentation. ``classes``: the run's ``ClassTable`` (its thing classes for FD; Cityscapes' 19 by default). The
    log has ``lr``, ``loss`` and each term (``source_ce``, ``feature_distance``,
    ``target_ce``), ``fd_cells`` (share of thing cells), ``ema_alpha`` and ``q_t`` (mean weight).

    Taught in: notebooks/09_full_uda.ipynb
    """
    cfg, net = config, networks
    classes = classes or ClassTable.cityscapes()
    device = next(net.model.parameters()).device
    net.model.train()
    lr = set_lr(
        net.optimizer,
        iteration,
        warmup_iters=cfg.warmup_iters if cfg.warmup else 0,
        max_iters=cfg.iterations,
        power=cfg.poly_power,
    )[0]  # (1)
    x_s = batch["source"]["image"].to(device, non_blocking=True)  # [B, 3, h, w]
    y_s = batch["source"]["label"].to(device, non_blocking=True)  # [B, h, w]
    terms: dict[str, torch.Tensor] = {}
    log: dict[str, float] = {"lr": lr}

    with autocast(cfg, device):
        logits_s, feats_s = net.student(x_s, features=True)  # (2) [B, K, h, w], 4 maps
        terms["source_ce"] = weighted_ce(logits_s.float(), y_s)
        if cfg.use_fd:  # (3) thing-class ImageNet feature distance on the last stage
            with torch.no_grad():
                f_imagenet = net.imagenet_encoder(x_s)[-1]  # [B, C4, h/32, w/32]
            f_student = feats_s[-1]  # [B, C4, h/32, w/32]
            things = thing_mask(
                y_s, f_student.shape[-2:], classes.things, cfg.fd_min_ratio, num_classes=len(classes)
            )  # [B, h/32, w/32]
            terms["feature_distance"] = feature_distance(
                f_student.float(), f_imagenet.float(), things, per_image=cfg.fd_form == "paper"
            )
            log["fd_cells"] = float(things.float().mean())

    if cfg.mode == "uda":
        x_t = batch["target"]["image"].to(device, non_blocking=True)  # [B, 3, h, w]
        log["ema_alpha"] = ema_update(net.teacher, net.model, iteration, cfg.ema_alpha)  # (4)
        p_t, q_t = teacher_pseudo_labels(net.teacher, x_t, cfg)  # (5) [B, h, w] long, [B, h, w] float
        log["q_t"] = float(q_t.mean())
        if cfg.classmix:  # (6) ClassMix, then strong augmentation
            m = classmix_masks(
                y_s, batch_pool=cfg.classmix_form == "official", generator=generator
            )  # [B, 1, h, w], 1 = source pixel
            x_m, y_m, w_m = mix(m, x_s, x_t), mix(m, y_s, p_t), mix(m, torch.ones_like(q_t), q_t)
        else:
            x_m, y_m, w_m = x_t, p_t, q_t  # [B, 3, h, w], [B, h, w], [B, h, w]
        if cfg.strong_augment:
            x_m = strong_augment(
                x_m, generator=generator, per_batch_coins=cfg.augment_coin_form == "official", jitter=cfg.jitter_form
            )
        with autocast(cfg, device):
            logits_m = net.student(x_m)  # [B, K, h, w]
            terms["target_ce"] = weighted_ce(logits_m.float(), y_m, w_m)

    _check_finite(terms, iteration, cfg.lr)  # before the weights change: the last checkpoint stays good
    loss = sum(v * (cfg.fd_lambda if k == "feature_distance" else 1.0) for k, v in terms.items())  # (7)
    net.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    net.optimizer.step()
    log["loss"] = float(loss.detach())
    log.update({k: float(v.detach()) for k, v in terms.items()})
    return log
