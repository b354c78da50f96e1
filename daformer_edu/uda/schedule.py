"""Learning-rate warmup + poly decay, and the AdamW parameter groups of DAFormer (Sec. 3.3, 4.1).

Warmup (DAFormer Sec. 3.3): a large learning rate in the first steps would distort the ImageNet features
before the network has seen the task; ramping up linearly over t_warm = 1,500 iterations keeps them.
After warmup the rate decays linearly to 0 at 40,000 iterations ("poly" with power 1). In mmcv's form,
which the official training log follows (iterations t count from 0):

    lr_t = lr_base · (1 − t/t_max)^p                                        t ≥ t_warm
    lr_t = lr_base · (1 − t/t_max)^p · (1 − (1 − t/t_warm)(1 − r))           t < t_warm,  r = 1e-6

Check: lr_base = 6e-5, t = 49 (the 50th step) gives 1.958e-6, the value in the official log.

Parameter groups (DAFormer Sec. 4.1: AdamW, lr 6e-5, weight decay 0.01, decoder lr ×10). The official
config says it with mmcv ``custom_keys = {head: lr_mult 10, pos_block: decay_mult 0, norm: decay_mult 0}``.
mmcv tries the keys longest first (then alphabetically: pos_block, head, norm) and applies the *first*
one that is a substring of the parameter's full name. Consequences, which ``param_groups`` reproduces:
- every decoder parameter (``decode_head.*`` contains "head") gets lr ×10 and the full weight decay —
  including its BatchNorm weights and biases, because "head" matches before "norm";
- encoder parameters inside normalisation layers (the MiT LayerNorms, all named ``*norm*``) get weight
  decay 0 and lr ×1;
- every other encoder parameter — linear and conv weights *and their biases* — gets lr ×1 and decay 0.01
  (biases are decayed: no ``bias_decay_mult`` is set);
- ``pos_block`` (a positional conv of PVT/Twins) does not exist in MiT and matches nothing.
Here the norm layers are found by module type (LayerNorm/GroupNorm/BatchNorm/InstanceNorm) rather than by
name, which selects the same parameters in MiT and does not depend on how the layers are named.

Taught in: notebooks/08_feature_distance.ipynb
"""

from __future__ import annotations

from torch import nn

__all__ = ["lr_at", "param_groups", "set_lr"]

_NORM_TYPES = (nn.LayerNorm, nn.GroupNorm, nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm)


def lr_at(
    iteration: int,
    base_lr: float,
    warmup_iters: int = 1500,
    max_iters: int = 40000,
    power: float = 1.0,
    warmup_ratio: float = 1e-6,
) -> float:
    """Learning rate at ``iteration`` (from 0): linear warmup over ``warmup_iters``, then poly decay (DAFormer Sec. 3.3).

    ``lr_base·(1 − t/t_max)^p`` multiplied during warmup by ``1 − (1 − t/t_warm)(1 − warmup_ratio)``.
    ``warmup_iters=0`` switches warmup off. ``lr_at(49, 6e-5)`` ≈ 1.958e-6.

    Taught in: notebooks/08_feature_distance.ipynb
    """
    if not 0 <= iteration <= max_iters:
        raise ValueError(f"lr_at: iteration={iteration} must lie in [0, max_iters={max_iters}]")
    if warmup_iters < 0:
        raise ValueError(f"lr_at: warmup_iters={warmup_iters} must be ≥ 0 (0 = no warmup)")
    lr = base_lr * (1.0 - iteration / max_iters) ** power  # poly
    if iteration < warmup_iters:
        k = (1.0 - iteration / warmup_iters) * (1.0 - warmup_ratio)  # 1 − r at t = 0, 0 at t = t_warm
        lr = lr * (1.0 - k)
    return lr


def param_groups(
    model: nn.Module, base_lr: float = 6e-5, head_lr_mult: float = 10.0, weight_decay: float = 0.01
) -> list[dict]:
    """AdamW parameter groups as in DAFormer's official config (Sec. 4.1; see the module text for the rules).

    ``model`` needs ``.encoder`` and ``.head`` (an ``EncoderDecoder``). Returns three groups:

    - ``"encoder"``: encoder weights and biases outside norm layers — lr ``base_lr``, decay ``weight_decay``;
    - ``"encoder_norm"``: encoder LayerNorm/BatchNorm weights and biases — lr ``base_lr``, decay 0;
    - ``"head"``: every head parameter — lr ``base_lr × head_lr_mult``, decay ``weight_decay``.

    Each group also stores ``initial_lr`` (its lr before scheduling; ``set_lr`` scales it) and ``name``.
    Use as ``torch.optim.AdamW(param_groups(model), lr=base_lr, betas=(0.9, 0.999))``. Frozen parameters
    (``requires_grad=False``) are left out; a trainable parameter outside encoder and head is an error.

    Taught in: notebooks/08_feature_distance.ipynb
    """
    for part in ("encoder", "head"):
        if not isinstance(getattr(model, part, None), nn.Module):
            raise ValueError(
                f"param_groups: model needs an nn.Module attribute .{part} "
                "(build it with daformer_edu.models.build_segmentor)"
            )
    norm_ids = {
        id(p) for m in model.encoder.modules() if isinstance(m, _NORM_TYPES) for p in m.parameters(recurse=False)
    }
    enc_decay, enc_norm, head = [], [], []
    for p in model.encoder.parameters():
        if p.requires_grad:
            (enc_norm if id(p) in norm_ids else enc_decay).append(p)
    head = [p for p in model.head.parameters() if p.requires_grad]

    grouped = {id(p) for p in enc_decay + enc_norm + head}
    stray = [n for n, p in model.named_parameters() if p.requires_grad and id(p) not in grouped]
    if stray:
        raise ValueError(
            f"param_groups: trainable parameters outside .encoder and .head: {stray[:5]}; "
            "freeze them or extend param_groups"
        )
    groups = [
        {"name": "encoder", "params": enc_decay, "lr": base_lr, "weight_decay": weight_decay},
        {"name": "encoder_norm", "params": enc_norm, "lr": base_lr, "weight_decay": 0.0},
        {"name": "head", "params": head, "lr": base_lr * head_lr_mult, "weight_decay": weight_decay},
    ]
    for g in groups:
        g["initial_lr"] = g["lr"]
    return [g for g in groups if g["params"]]


def set_lr(
    optimizer,
    iteration: int,
    warmup_iters: int = 1500,
    max_iters: int = 40000,
    power: float = 1.0,
    warmup_ratio: float = 1e-6,
) -> list[float]:
    """Set every group's lr to ``lr_at(iteration, group["initial_lr"], ...)``; returns the new lrs.

    Call it before ``optimizer.step()`` of iteration ``iteration`` (0-based). Groups without
    ``initial_lr`` (not made by ``param_groups``) take their current lr as ``initial_lr`` on the first call.

    Taught in: notebooks/08_feature_distance.ipynb
    """
    lrs = []
    for group in optimizer.param_groups:
        group.setdefault("initial_lr", group["lr"])
        group["lr"] = lr_at(iteration, group["initial_lr"], warmup_iters, max_iters, power, warmup_ratio)
        lrs.append(group["lr"])
    return lrs
