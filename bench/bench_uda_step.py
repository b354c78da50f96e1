"""Seconds per DAFormer training iteration, and where they go.

    python bench/bench_uda_step.py                      # cpu-demo preset on this CPU
    python bench/bench_uda_step.py --preset gpu-full    # MiT-B5, 512×512, bf16 on CUDA (+ peak GPU memory)

Two passes over the same ``Trainer`` (nothing re-implemented: it times ``Trainer.train_step`` itself):

1. **plain**: ``--iters`` iterations after ``--warmup`` ones, no instrumentation → s/iteration.
2. **profiled**: the same number of iterations with timers around the teacher forward, the frozen-ImageNet
   (FD) forward, the EMA update and the DACS pieces (pseudo-label, ClassMix, strong augmentation); the
   student's forward + backward + AdamW step is what remains of ``train_step``. On CUDA every timer
   synchronises, so the profiled pass is a little slower than the plain one.

Data loading is timed separately (the trainer's own DataLoader, ``--workers`` processes). With no
``pretrained`` path the encoder is randomly initialised — the speed is the same. gpu-full uses the synthetic
pair rendered at 512×1024 (a short RCS statistics pass over ``--images`` source images first).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections import defaultdict

import torch

import daformer_edu.train as train_mod
from daformer_edu.train import Trainer, make_config


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class _Timers:
    """Wrap callables so their wall time (synchronised on CUDA) adds up under a name."""

    def __init__(self, device):
        self.device, self.total = device, defaultdict(float)

    def wrap(self, name, fn):
        def timed(*args, **kwargs):
            _sync(self.device)
            t = time.perf_counter()
            out = fn(*args, **kwargs)
            _sync(self.device)
            self.total[name] += time.perf_counter() - t
            return out

        return timed


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default="cpu-demo", choices=["cpu-demo", "gpu-full", "smoke"])
    p.add_argument("--iters", type=int, default=None, help="timed iterations (default: 20 CPU, 50 GPU)")
    p.add_argument("--warmup", type=int, default=None, help="untimed iterations first (default: 3 CPU, 10 GPU)")
    p.add_argument("--workers", type=int, default=None, help="DataLoader workers (default: the preset's)")
    p.add_argument("--images", type=int, default=None, help="synthetic source images (RCS statistics pass)")
    p.add_argument("--mode", default="uda")
    p.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE", help="other TrainConfig overrides")
    args = p.parse_args(argv)

    gpu = args.preset == "gpu-full"
    iters = args.iters or (50 if gpu else 20)
    warm = args.warmup if args.warmup is not None else (10 if gpu else 3)
    if gpu and not torch.cuda.is_available():
        sys.exit("bench_uda_step: --preset gpu-full needs CUDA (torch.cuda.is_available() is False)")
    overrides = dict(mode=args.mode, out=None, progress=False, iterations=10 * (iters + warm) + 10,
                     eval_interval=0, checkpoint_interval=0)
    if args.workers is not None:
        overrides["num_workers"] = args.workers
    if args.images is not None or gpu:
        overrides["synthetic_train_length"] = args.images or 200
    fields = {f.name: f for f in train_mod.dataclasses.fields(train_mod.TrainConfig)}
    for item in args.set:
        k, _, v = item.partition("=")
        overrides[k] = train_mod._parse_value(fields[k], v)
    cfg = make_config(args.preset, **overrides)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = time.perf_counter()
        trainer = Trainer(cfg)
        build = time.perf_counter() - t
    dev = trainer.device
    print(f"preset {cfg.preset}, mode {cfg.mode}: {cfg.encoder} + {cfg.head} head ({cfg.embed_dim}/{cfg.head_channels}), "
          f"crops {cfg.crop_size[0]}×{cfg.crop_size[1]}, batch {cfg.batch_size}, amp {cfg.amp}, device {dev}, "
          f"torch threads {torch.get_num_threads()}, workers {cfg.num_workers}")
    print(f"build (model, datasets, RCS statistics): {build:.1f} s")

    source = iter(trainer._loader("source", 0))
    target = iter(trainer._loader("target", 0))
    batches = []

    def fetch():
        t = time.perf_counter()
        b = (next(source), next(target))
        return b, time.perf_counter() - t

    # Data alone (the loader the trainer uses).
    data_times = []
    for _ in range(warm + iters):
        b, dt = fetch()
        batches.append(b)
        data_times.append(dt)
    data = sum(data_times[warm:]) / iters

    # Pass 1: plain steps on the prefetched batches.
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    step_times = []
    for i, (s, t_) in enumerate(batches):
        _sync(dev)
        t = time.perf_counter()
        trainer.train_step(i, s, t_)
        _sync(dev)
        step_times.append(time.perf_counter() - t)
    step = sum(step_times[warm:]) / iters
    peak = torch.cuda.max_memory_allocated(dev) / 2**30 if dev.type == "cuda" else None

    # Pass 2: profiled.
    timers = _Timers(dev)
    if trainer.teacher is not None:
        trainer.teacher.forward = timers.wrap("teacher forward", trainer.teacher.forward)
    if trainer.imagenet_encoder is not None:
        trainer.imagenet_encoder.forward = timers.wrap("FD forward (frozen ImageNet encoder)",
                                                       trainer.imagenet_encoder.forward)
    for name, label in [("ema_update", "EMA update"), ("pseudo_label", "pseudo-label + ClassMix + augment"),
                        ("classmix_masks", "pseudo-label + ClassMix + augment"), ("mix", "pseudo-label + ClassMix + augment"),
                        ("strong_augment", "pseudo-label + ClassMix + augment"), ("thing_mask", "FD mask + distance"),
                        ("feature_distance", "FD mask + distance")]:
        setattr(train_mod, name, timers.wrap(label, getattr(train_mod, name)))
    prof_total = 0.0
    offset = len(batches)
    for i, (s, t_) in enumerate(batches):
        if i == warm:
            timers.total.clear()
            prof_total = 0.0
        _sync(dev)
        t = time.perf_counter()
        trainer.train_step(offset + i, s, t_)
        _sync(dev)
        prof_total += time.perf_counter() - t
    parts = {k: v / iters for k, v in timers.total.items()}
    prof = prof_total / iters
    parts["student forward + backward + AdamW (rest of the step)"] = prof - sum(parts.values())

    total = step + data * (cfg.num_workers == 0)
    preset_iters = make_config(args.preset).iterations
    print(f"\nseconds per iteration: {total:.4f}  (train_step {step:.4f} + data {data:.4f}"
          f"{' in the main process' if cfg.num_workers == 0 else f' in {cfg.num_workers} workers, overlapped'})")
    if cfg.num_workers == 0:
        print(f"  → the preset's {preset_iters} iterations take ≈ {total * preset_iters / 60:.1f} min")
    else:  # workers load while the GPU steps: the slower of the two sets the pace
        pace = max(step, data)
        print(f"  → the preset's {preset_iters} iterations take ≈ {pace * preset_iters / 3600:.2f} h")
    print("share of one iteration (profiled pass, data in the main process counted):")
    denom = prof + data * (cfg.num_workers == 0)
    rows = sorted(parts.items(), key=lambda kv: -kv[1])
    if cfg.num_workers == 0:
        rows.append(("data (render/load, crop, RCS)", data))
    for k, v in rows:
        print(f"  {k:<56} {v:8.4f} s  {100 * v / denom:5.1f} %")
    if peak is not None:
        print(f"peak GPU memory (plain pass): {peak:.2f} GiB on {torch.cuda.get_device_name(dev)}")


if __name__ == "__main__":
    main()
