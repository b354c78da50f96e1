"""The run around the step: networks, data, the loop, evaluation, checkpoints, logs, DDP.

``Trainer(config)`` builds the run (or resumes it from ``config.resume``); ``fit()`` runs the iterations left and
returns the final metrics (also written to ``metrics.json``). The algorithm itself is ``uda.step.daformer_step``;
the trainer only feeds it batches and keeps the books:

- Randomness you can resume: crop k of iteration t is a pure function of (seed, stream, t, k) (``data/stream.py``),
  and every other generator (torch, NumPy, Python, ClassMix/augmentation) is saved in the checkpoint.
- Checkpoints every ``checkpoint_interval`` iterations and at the end (atomic, ``checkpoint.py``); ``resume=``
  continues a killed run, bit for bit on a CPU.
- A non-finite loss term stops the run (``NonFiniteLossError`` names the iteration, the term and the last good
  checkpoint) before the optimiser touches the weights.
- Progress with ``tqdm.auto``, every metric in ``log.jsonl``, a final ``metrics.json``; mIoU in percent.
- DDP when launched with ``torchrun`` (``WORLD_SIZE > 1``); one process is the default.

Taught in: notebooks/09_full_uda.ipynb
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from .checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from .config import TrainConfig
from .data.classes import IGNORE_INDEX
from .data.factory import build_datasets, build_rcs_sampler, class_table
from .data.stream import CropStream, crop_loader
from .run_setup import (
    build_networks,
    check_before_the_data,
    check_same_run,
    dist_info,
    resolve_device,
    seed_global_rngs,
)
from .runlog import RunLog
from .uda.ema import preserved_buffers
from .uda.step import NonFiniteLossError, autocast, daformer_step, teacher_pseudo_labels

__all__ = ["Trainer", "NonFiniteLossError", "evaluate_student"]


@torch.no_grad()
def evaluate_student(model: nn.Module, val, classes, config: TrainConfig, device: torch.device) -> dict[str, Any]:
    """The student on target val: ``{"miou": %, "per_class_iou": {class: % or None}}`` (+ ``miou_16`` for Synthia).

    mmseg's protocol (every DAFormer config: ``test_cfg=dict(mode='whole')``): whole-image inference on the image
    resized to ``image_size``, logits resized (bilinear) to the full-resolution label, one confusion matrix over the
    val set (``metrics.evaluate``). With ``source="synthia"`` the result also holds ``miou_16``, the mean over the 16
    classes Synthia annotates.

    Taught in: notebooks/09_full_uda.ipynb
    """
    from . import metrics
    from .data.classes import SYNTHIA_16

    was_training = model.training
    model.eval()
    with autocast(config, device):
        result = metrics.evaluate(model, val, len(classes), device, batch_size=config.batch_size, progress=False)
    model.train(was_training)
    out = {
        "miou": round(result["miou"], 3),  # percent
        "per_class_iou": {
            n: (None if v is None or math.isnan(v) else round(v, 3)) for n, v in zip(classes.names, result["iou"])
        },
    }
    if config.source == "synthia":
        out["miou_16"] = round(100.0 * metrics.mean_iou(result["confusion"], SYNTHIA_16), 3)
    return out


def _final_metrics(trainer: Trainer, final: dict) -> dict[str, Any]:
    """``metrics.json``: the last evaluation, the run's identity, its times and books, and its configuration."""
    cfg = trainer.config
    result = {
        "final_miou": final["miou"],
        "per_class_iou": final["per_class_iou"],
        "mode": cfg.mode,
        "preset": cfg.preset,
        "seed": cfg.seed,
        "iterations": trainer.iteration,
        "wall_time_s": round(trainer.wall_time, 2),
        "train_time_s": round(trainer.train_time, 2),
        "seconds_per_iteration": round(trainer.train_time / max(trainer.iteration, 1), 4),
        "device": str(trainer.device),
        "world_size": trainer.world_size,
        "rcs_class_draws": trainer.class_draws.tolist(),
        "source_class_pixels": trainer.source_pixels.tolist(),
        "config": asdict(cfg),
    }
    if "miou_16" in final:  # Synthia → Cityscapes: the 16-class mIoU as well
        result["final_miou_16"] = final["miou_16"]
    return result


class Trainer:
    """Composes data, networks and ``daformer_step`` into DAFormer's training run (module text).

    Attributes a notebook reads: ``model`` (the student), ``teacher``, ``imagenet_encoder``, ``networks``,
    ``sampler`` (RCS or None), ``history`` (every log record), ``snapshots`` (the teacher's pseudo-labels of a few
    fixed target images at every evaluation), ``class_draws`` (RCS draws per class), ``classes`` (the run's
    ``ClassTable``: the source dataset's, which the target's must equal; Cityscapes' 19 by default).

    Taught in: notebooks/09_full_uda.ipynb
    """

    def __init__(self, config: TrainConfig):
        self.config = cfg = config
        self.rank, self.world_size, local_rank = dist_info()
        if self.world_size > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        self.device = resolve_device(cfg, local_rank)
        self.out = Path(cfg.out) if cfg.out is not None and self.rank == 0 else None
        check_before_the_data(cfg, writes=self.out is not None)
        self.datasets = build_datasets(cfg)
        self.classes = class_table(self.datasets)  # K, names, things: the source's table (= the target's)
        self.log = RunLog(self.out, cfg, self.classes)  # log.jsonl, history, snapshots, TensorBoard
        seed_global_rngs(cfg.seed)
        self.networks = build_networks(cfg, len(self.classes), self.device, self.rank)
        # The labelled stream: source crops (target crops with labels for the oracle), RCS-sampled when asked.
        labelled = self.datasets["target"] if cfg.mode == "oracle" else self.datasets["source"]
        self.sampler = build_rcs_sampler(labelled, cfg, self.classes) if cfg.use_rcs else None
        self.streams = {
            "source": CropStream(labelled, cfg.seed, 0, self.sampler),
            "target": CropStream(self.datasets["target"], cfg.seed, 1),
        }
        self.generator = torch.Generator().manual_seed(cfg.seed * 1000 + self.rank)  # ClassMix, augmentation
        self.iteration = 0  # iterations completed
        self.class_draws = torch.zeros(len(self.classes), dtype=torch.long)  # RCS draws per class
        self.source_pixels = torch.zeros(len(self.classes), dtype=torch.long)  # labelled pixels seen per class
        self.wall_time = 0.0  # seconds in fit(), evaluation and checkpoints included (summed over resumes)
        self.train_time = 0.0  # seconds in data loading and the steps only
        self.last_checkpoint: Path | None = None
        self.last_eval: dict | None = None
        if cfg.resume is not None:
            self.load_state_dict(load_checkpoint(cfg.resume))

    model = property(lambda self: self.networks.model, doc="The student segmentor.")
    teacher = property(lambda self: self.networks.teacher, doc="The mean teacher (uda), else None.")
    imagenet_encoder = property(lambda self: self.networks.imagenet_encoder, doc="The frozen encoder of FD, or None.")
    optimizer = property(lambda self: self.networks.optimizer, doc="AdamW over the student's parameter groups.")
    history = property(lambda self: self.log.history, doc="Every log record of the run, as dicts.")
    snapshots = property(lambda self: self.log.snapshots, doc="The teacher's pseudo-labels at each evaluation.")

    # -- one iteration -------------------------------------------------------------------------------
    def batches(self, t: int) -> tuple[dict, dict | None]:
        """The labelled (source) batch and the target batch of iteration ``t``, exactly as ``fit`` sees them."""
        source = self.streams["source"].batch(t, self.config.batch_size, self.rank)
        uda = self.config.mode == "uda"
        return source, (self.streams["target"].batch(t, self.config.batch_size, self.rank) if uda else None)

    def train_step(self, t: int, source: dict, target: dict | None = None) -> dict[str, float]:
        """Iteration ``t`` on these batches: ``daformer_step``, then the books (pixels seen, RCS draws).

        Taught in: notebooks/09_full_uda.ipynb
        """
        try:
            log = daformer_step(
                self.networks, {"source": source, "target": target}, self.config, self.generator, t, self.classes
            )
        except NonFiniteLossError as err:
            where = f"; the last good checkpoint is {self.last_checkpoint}" if self.last_checkpoint else ""
            raise NonFiniteLossError(f"{err}{where}") from None
        y_s = source["label"]
        self.source_pixels += torch.bincount(y_s[y_s != IGNORE_INDEX].flatten(), minlength=len(self.classes))
        drawn = source["rcs_class"][source["rcs_class"] >= 0]
        self.class_draws += torch.bincount(drawn, minlength=len(self.classes))
        return log

    # -- evaluation ----------------------------------------------------------------------------------
    def evaluate(self) -> dict[str, Any]:
        """The student on target val (``evaluate_student``): mIoU and per-class IoU in percent.

        Taught in: notebooks/09_full_uda.ipynb
        """
        return evaluate_student(self.model, self.datasets["val"], self.classes, self.config, self.device)

    def teacher_pseudo_labels(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The training teacher's pseudo-labels and weights for normalised target images ``[B, 3, H, W]``.

        Exactly step 5 of ``daformer_step`` (the same BatchNorm mode, τ, q_T form and ignored rows); the teacher's
        buffers are restored afterwards, so looking does not change the run.

        Taught in: notebooks/09_full_uda.ipynb
        """
        net = self.teacher if self.teacher is not None else self.model
        with preserved_buffers(net):
            return teacher_pseudo_labels(net, images.to(self.device), self.config)

    def _snapshot(self) -> None:
        val = self.datasets["val"]
        images = torch.stack([val[i]["image"] for i in range(min(self.config.snapshot_images, len(val)))])
        labels, weight = self.teacher_pseudo_labels(images)  # [n, H, W], [n, H, W]
        self.log.snapshot(self.iteration, labels.cpu().to(torch.uint8), weight.amax(dim=(1, 2)).cpu())

    # -- checkpoints ---------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed run needs: weights, optimiser, iteration, RNG states, books, logs.

        Taught in: notebooks/09_full_uda.ipynb
        """
        return {
            "iteration": self.iteration,
            "config": asdict(self.config),
            "model": self.model.state_dict(),
            "teacher": self.teacher.state_dict() if self.teacher is not None else None,
            "optimizer": self.optimizer.state_dict(),
            "class_draws": self.class_draws.clone(),
            "source_pixels": self.source_pixels.clone(),
            "rng": rng_state({"classmix": self.generator}),
            "history": list(self.history),
            "snapshots": dict(self.snapshots),
            "wall_time": self.wall_time,
            "train_time": self.train_time,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`; the run must have the same config except the ``free_on_resume`` fields.

        Taught in: notebooks/09_full_uda.ipynb
        """
        check_same_run(state["config"], self.config)
        self.model.load_state_dict(state["model"])
        if self.teacher is not None:
            self.teacher.load_state_dict(state["teacher"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.class_draws, self.source_pixels = state["class_draws"].clone(), state["source_pixels"].clone()
        self.iteration = int(state["iteration"])
        self.log.history[:], self.log.snapshots = list(state["history"]), dict(state["snapshots"])
        self.wall_time, self.train_time = float(state["wall_time"]), float(state["train_time"])
        set_rng_state(state["rng"], {"classmix": self.generator})

    def save(self) -> Path | None:
        """Write ``checkpoint.pt`` atomically (rank 0; nothing when ``out`` is None)."""
        if self.out is not None:
            self.last_checkpoint = save_checkpoint(self.state_dict(), self.out / "checkpoint.pt")
        return self.last_checkpoint

    # -- the loop ------------------------------------------------------------------------------------
    def _evaluate_and_log(self) -> dict:
        result = self.evaluate()
        self.log.evaluation(self.iteration, result)
        if self.config.mode == "uda" and self.config.snapshot_images:
            self._snapshot()
        self.last_eval = result
        return result

    def _after_step(self, log: dict, bar) -> None:
        """Log, evaluate and checkpoint as the intervals say (after iteration ``self.iteration``)."""
        cfg, it = self.config, self.iteration
        if it % cfg.log_interval == 0 or it == cfg.iterations:
            self.log.train(it, log)
        bar.update(1)
        bar.set_postfix(
            {
                "loss": f"{log['loss']:.3f}",
                "lr": f"{log['lr']:.2e}",
                **({"q_T": f"{log['q_t']:.2f}"} if "q_t" in log else {}),
            },
            refresh=False,
        )
        done = it == cfg.iterations
        evaluate = bool(cfg.eval_interval and it % cfg.eval_interval == 0) or done
        checkpoint = bool(cfg.checkpoint_interval and it % cfg.checkpoint_interval == 0) or done
        if self.rank == 0 and evaluate:
            bar.write(f"{cfg.mode}: iteration {it}, target mIoU {self._evaluate_and_log()['miou']:.2f}")
        if self.rank == 0 and checkpoint:
            self.wall_time = self._wall_before + time.perf_counter() - self._wall_start
            self.save()
        if self.world_size > 1 and (evaluate or checkpoint):
            dist.barrier()  # the other ranks wait while rank 0 evaluates and saves

    def fit(self, stop_at: int | None = None) -> dict[str, Any]:
        """Run the iterations left (``config.iterations``); return (and write) the final metrics.

        ``stop_at`` stops after that many completed iterations *without* the final checkpoint or ``metrics.json``
        — what a killed run leaves behind (tests and notebooks use it to show ``resume``).

        Taught in: notebooks/09_full_uda.ipynb
        """
        from tqdm.auto import tqdm

        cfg = self.config
        end = cfg.iterations if stop_at is None else min(stop_at, cfg.iterations)
        self.log.start(self.iteration)
        loaders = {
            k: iter(
                crop_loader(
                    s,
                    self.iteration,
                    cfg.iterations,
                    cfg.batch_size,
                    self.rank,
                    cfg.num_workers,
                    self.device.type == "cuda",
                )
            )
            for k, s in self.streams.items()
            if k == "source" or cfg.mode == "uda"
        }
        quiet = not cfg.progress or self.rank != 0 or os.environ.get("TQDM_DISABLE", "").lower() in ("1", "true")
        bar = tqdm(
            total=cfg.iterations,
            initial=self.iteration,
            desc=f"{cfg.mode} ({cfg.preset})",
            dynamic_ncols=True,
            disable=quiet,
        )  # TQDM_DISABLE is read here: tqdm's notebook bar ignores it
        self._wall_start, self._wall_before = time.perf_counter(), self.wall_time
        try:
            while self.iteration < end:
                t0 = time.perf_counter()
                source, target = next(loaders["source"]), next(loaders["target"]) if "target" in loaders else None
                t1 = time.perf_counter()
                log = self.train_step(self.iteration, source, target)
                t2 = time.perf_counter()
                self.iteration += 1
                self.train_time += t2 - t0
                self._after_step({**log, "time_data": t1 - t0, "time_step": t2 - t1}, bar)
                self.wall_time = self._wall_before + time.perf_counter() - self._wall_start
        finally:
            bar.close()
            self.log.close()
        return {"iteration": self.iteration, "stopped": True} if self.iteration < cfg.iterations else self._finish()

    def _finish(self) -> dict[str, Any]:
        result = _final_metrics(self, self.last_eval if self.last_eval is not None else self.evaluate())
        self.log.finish(result)
        return result
