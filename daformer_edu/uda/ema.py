"""The mean teacher: an exponential moving average of the student (DAFormer Sec. 3.1).

After every student step the teacher's weights φ move a little towards the student's θ:

    φ_{t+1} = α φ_t + (1 − α) θ_t,        α = min(1 − 1/(t + 1), α_max).

Why ``min`` and not ``max`` (``max`` would be wrong): ``1 − 1/(t + 1)`` grows from 0 at t = 0 towards 1.
With ``min`` the teacher first copies the student (α = 0 at t = 0: the teacher *is* the student), then averages over the last ≈ t steps, and from t ≈ 1/(1 − α_max) on it is
capped at α_max — an average over the last ≈ 1/(1 − α_max) steps (1,000 for α_max = 0.999). With ``max``
α would be α_max from the start, so the teacher would spend its first thousand steps remembering its
random (or ImageNet-only) initial weights.

Paper vs official code:
- The paper (Sec. 4.1, following DACS) quotes α = 0.99; the released DAFormer config uses 0.999
  (``configs/_base_/uda/dacs_a999_fdthings.py``, "a999" in the name of the released run). The default
  here (``ema_update``, ``TrainConfig.ema_alpha``) is 0.999, the released setting; the ``gpu-full`` preset
  uses 0.999, ``cpu-demo`` the paper's 0.99 (its 1,500 iterations are too short to average over 1,000).
- The teacher's BatchNorm. The official teacher (``ema_model``) is a submodule of the DACS model, so the
  runner's ``model.train()`` puts it in training mode; ``forward_train`` switches only its dropout and
  drop-path off before ``ema_model.encode_decode(target_img)``, so BatchNorm (the DAFormer head's; MiT
  itself uses LayerNorm) normalises with the statistics of the *target batch*. The official code
  averages only the *parameters* and leaves the teacher's buffers alone. Here the buffers (BatchNorm
  running mean/var) are *copied* from the student, so the teacher can also be run in ``eval()``: the
  running statistics of the student's source + mixed batches. ``set_teacher_mode(teacher, True)`` is
  the official teacher (``TrainConfig.teacher_bn_form="official"``, the default and every preset's),
  ``set_teacher_mode(teacher, False)`` the eval-mode one. Measured on cpu-demo (seed 0): eval mode was
  behind from iteration 500 on, final 30.2 vs 36.1 mIoU
  (bench/results/cpu-demo/official_options.md).
- Either way the teacher must be *deterministic*: the official DACS code switches every dropout and
  drop-path module of the teacher off before it predicts, keeping only BatchNorm on batch statistics.
  :func:`set_teacher_mode` does exactly that (``train(True)`` alone would also switch on DropPath and
  Dropout2d, and two passes over the same crop would give different pseudo-labels).

Taught in: notebooks/05_pseudo_label_weighting.ipynb
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from ..models.mit import DropPath

__all__ = ["ema_alpha", "ema_update", "set_teacher_mode", "preserved_buffers"]


def ema_alpha(iteration: int, alpha_max: float = 0.999) -> float:
    """The EMA factor α = min(1 − 1/(iteration + 1), α_max) (DAFormer Sec. 3.1).

    ``iteration`` counts from 0; α is 0 at iteration 0 and reaches α_max at iteration 1/(1 − α_max) − 1.

    Taught in: notebooks/05_pseudo_label_weighting.ipynb
    """
    if iteration < 0:
        raise ValueError(f"ema_alpha: iteration={iteration} must be ≥ 0 (iterations count from 0)")
    if not 0.0 <= alpha_max < 1.0:
        raise ValueError(f"ema_alpha: alpha_max={alpha_max} must lie in [0, 1) (DAFormer uses 0.999)")
    return min(1.0 - 1.0 / (iteration + 1), alpha_max)


@torch.no_grad()
def ema_update(teacher: nn.Module, student: nn.Module, iteration: int, alpha_max: float = 0.999) -> float:
    """Move the teacher towards the student: φ ← α·φ + (1 − α)·θ; return the α used (DAFormer Sec. 3.1).

    Parameters are blended with α = ``ema_alpha(iteration, alpha_max)``; buffers (BatchNorm running
    statistics, counters) are copied from the student. Both models must have the same architecture
    (the teacher is normally ``copy.deepcopy(student)`` taken before the first step). At iteration 0
    α = 0, so the teacher becomes an exact copy of the student.

    Taught in: notebooks/05_pseudo_label_weighting.ipynb
    """
    alpha = ema_alpha(iteration, alpha_max)
    t_params, s_params = dict(teacher.named_parameters()), dict(student.named_parameters())
    if t_params.keys() != s_params.keys():
        diff = sorted(set(t_params) ^ set(s_params))[:5]
        raise ValueError(
            f"ema_update: teacher and student have different parameters (e.g. {diff}); "
            "build the teacher with copy.deepcopy(student)"
        )
    phis, thetas = [], []
    for name, phi in t_params.items():
        theta = s_params[name]
        if phi.shape != theta.shape:
            raise ValueError(
                f"ema_update: parameter {name!r} has shape {tuple(phi.shape)} in the teacher "
                f"but {tuple(theta.shape)} in the student"
            )
        phis.append(phi)
        thetas.append(theta.detach().to(phi.dtype))
    # φ ← αφ + (1−α)θ for every parameter at once. The _foreach_ ops do exactly what
    #     for phi, theta in zip(phis, thetas): phi.mul_(alpha).add_(theta, alpha=1 - alpha)
    # does (same arithmetic, same bits) but launch a handful of GPU kernels instead of two per tensor.
    torch._foreach_mul_(phis, alpha)
    torch._foreach_add_(phis, thetas, alpha=1.0 - alpha)

    t_bufs, s_bufs = dict(teacher.named_buffers()), dict(student.named_buffers())
    if t_bufs.keys() != s_bufs.keys():
        raise ValueError(
            "ema_update: teacher and student have different buffers; build the teacher with copy.deepcopy(student)"
        )
    for name, buf in t_bufs.items():
        buf.copy_(s_bufs[name])
    return alpha


def set_teacher_mode(teacher: nn.Module, batch_norm_batch_stats: bool = False) -> nn.Module:
    """Put the teacher in its prediction mode: no dropout, no drop-path; BatchNorm as asked.

    ``batch_norm_batch_stats=False`` is plain ``teacher.eval()`` (BatchNorm uses the running statistics
    copied from the student by :func:`ema_update`). ``True`` is the official DACS / DAFormer teacher:
    BatchNorm normalises with the statistics of the target batch it sees, while every dropout
    (``nn.Dropout``, ``nn.Dropout2d``, …) and DropPath stays off. In both modes two passes over the same
    crop give the same logits — pseudo-labels must not depend on a dropout coin. Returns the teacher.

    Taught in: notebooks/09_full_uda.ipynb
    """
    teacher.train(batch_norm_batch_stats)
    for m in teacher.modules():
        if isinstance(m, (nn.modules.dropout._DropoutNd, DropPath)):
            m.eval()
    return teacher


@contextlib.contextmanager
def preserved_buffers(module: nn.Module):
    """Run a block and put every buffer of ``module`` back as it was (BatchNorm running statistics, counters).

    A teacher in the official train mode updates its BatchNorm running statistics on every forward pass; a look
    at its pseudo-labels between iterations (the trainer's snapshots) must not change the run.

    Taught in: notebooks/09_full_uda.ipynb
    """
    saved = {name: buf.detach().clone() for name, buf in module.named_buffers()}
    try:
        yield module
    finally:
        with torch.no_grad():
            for name, buf in module.named_buffers():
                buf.copy_(saved[name])
