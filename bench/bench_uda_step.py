"""Seconds per DAFormer training iteration, and where they go.

    python bench/bench_uda_step.py                      # cpu-demo preset on this CPU
    python bench/bench_uda_step.py --preset gpu-full    # MiT-B5, 512×512 on CUDA (+ peak GPU memory); --set amp=bf16
    python bench/bench_uda_step.py --preset gpu-demo    # MiT-B0 from the embedded weights, 512×512 on CUDA

Two passes over the same ``Trainer`` (nothing re-implemented: it times ``uda.step.daformer_step`` itself, on the
trainer's networks):

1. **plain**: ``--iters`` iterations after ``--warmup`` ones, no instrumentation → s/iteration.
2. **profiled**: the same number of iterations with timers around the teacher forward, the frozen-ImageNet
   (FD) forward, the EMA update and the DACS pieces (pseudo-label, ClassMix, strong augmentation); the
   student's forward + backward + AdamW step is what remains of the step. On CUDA every timer
   synchronises, so the profiled pass is a little slower than the plain one.

Data loading is timed separately (the trainer's own DataLoader, ``--workers`` processes). ``cpu-demo`` starts
from the embedded ImageNet weights, ``gpu-full`` without a ``pretrained`` path from random ones — the speed is
the same either way. gpu-full uses the synthetic
pair rendered at 512×1024 (a short RCS statistics pass over ``--images`` source images first).

**Comparing CPU speed-ups** (``--compare``)::

    python bench/bench_uda_step.py --compare fp32,bf16,channels_last,compile,threads1 --iters 20

builds one ``Trainer`` per option from the same preset (``make_config(preset, out=None, device='cpu', …)``;
every trainer gets the baseline's weights, so they all start from the same network) and runs them
*interleaved*: iteration t of every option, then iteration t + 1 of every option (the order rotating), all on
the same crops ``trainer.batches(t)`` and the same dropout / drop-path coins (``torch.manual_seed`` before
each step). A busy machine therefore slows every option alike, and the *ratios* to ``fp32`` stay meaningful
even where the absolute seconds do not. Options (``--compare`` lists them; ``fp32`` is always the baseline):

=================  =====================================================================================
fp32               the preset as it is
bf16               ``amp=bf16``: autocast to bfloat16 (needs avx512_bf16/AMX to pay off)
channels_last      student weights and the input crops in NHWC memory format (the convolutions of the
                   head and the patch embeddings; MiT itself is mostly ``Linear`` layers on tokens)
compile            ``torch.compile(student)``, default inductor backend; the first steps compile (one-off
                   seconds reported apart). Inductor is asked for eager's random numbers
                   (``fallback_random``), so its losses can be checked against fp32's to ~1e-5
threadsN           ``torch.set_num_threads(N)`` around each step (``threads1``, ``threads2``, …); the
                   preset's own thread count is an A/A control: its ratio shows the run's noise
flush_denormal     ``torch.set_flush_denormal(True)`` around each step (denormal floats become 0)
no_mkldnn          ``torch.backends.mkldnn.flags(enabled=False)``: ATen's own conv kernels, not oneDNN
fused_adamw        ``AdamW(fused=True)`` (CPU kernel since torch 2.4) instead of the per-tensor loop
foreach_adamw      ``AdamW(foreach=True)``: one multi-tensor op per step of the update
=================  =====================================================================================

The table gives, per option, the wall seconds of ``train_step`` (best and median of the ``--iters`` timed
iterations) and fp32's median over the option's (> 1 = faster); the CPU seconds of a step
(``time.process_time``, all threads) and the same ratio; the one-off seconds (what the warm-up steps took
beyond steady ones: compilation); the loss difference to fp32 at iteration 0 (same weights, same batch: the
numerics) and at the last iteration (drift); and the preset's iterations end to end (data loading in the
main process and the one-off seconds included), in minutes and as fp32's total over the option's. One line
per iteration with every option's seconds goes to stderr as it runs. ``torch.set_num_interop_threads`` can
be set only once per process, before any parallel work, so it is an option of the whole run
(``--interop-threads N``), not of the table; the run says whether its steps used the inter-op pool at all.

On a machine shared with other jobs, mind OpenMP: a team of N threads waits at the end of every parallel
op until all N have run, and when the cores are busy with another job each op then waits for the scheduler
(milliseconds per op, thousands of ops per step: seconds per step). ``threads1`` never waits. To compare
the *other* options there, run the whole table at one thread (``--threads 1``) and read the CPU columns:
with one thread a step's CPU seconds are its work, however busy the machine (with more threads they also
count the time OpenMP threads spin while waiting for each other).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
import warnings
from collections import defaultdict

import torch

import daformer_edu.uda.step as step_mod
from daformer_edu.config import make_config, parse_overrides
from daformer_edu.data.stream import crop_loader
from daformer_edu.trainer import Trainer
from daformer_edu.uda.step import daformer_step


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


# ------------------------------------------------------------------------------------------------------
# --compare: one Trainer per option, timed interleaved on the same batches.
# ------------------------------------------------------------------------------------------------------
COMPARE_OPTIONS = (
    "fp32",
    "bf16",
    "channels_last",
    "compile",
    "threads1",
    "threads2",
    "flush_denormal",
    "no_mkldnn",
    "fused_adamw",
    "foreach_adamw",
)


class _Option:
    """One way of running ``Trainer.train_step``: its trainer, what wraps each step, how a batch is passed."""

    def __init__(self, name: str, trainer: Trainer):
        self.name, self.trainer = name, trainer
        self.times: list[float] = []  # wall seconds of every step, warm-up included
        self.cpu: list[float] = []  # CPU seconds of every step (all threads of this process)
        self.losses: list[float] = []

    def context(self):
        """Entered around every step of this option (and left after it, so the others run untouched)."""
        if self.name.startswith("threads"):
            return _threads(int(self.name[len("threads") :]))
        if self.name == "flush_denormal":
            return _flush_denormal()
        if self.name == "no_mkldnn":
            return _no_mkldnn()
        return contextlib.nullcontext()

    def batch(self, b: dict) -> dict:
        if self.name == "channels_last":
            return {**b, "image": b["image"].contiguous(memory_format=torch.channels_last)}
        return b


@contextlib.contextmanager
def _threads(n: int):
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def _no_mkldnn():
    with warnings.catch_warnings():  # flags() also sets oneDNN's TF32 switch, and warns that it has no GPU
        warnings.simplefilter("ignore", UserWarning)
        with torch.backends.mkldnn.flags(enabled=False):
            yield


@contextlib.contextmanager
def _flush_denormal():
    torch.set_flush_denormal(True)  # (sets the flag of the calling thread)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


def _build_option(name: str, preset: str, overrides: dict, baseline: Trainer | None) -> _Option:
    """A fresh Trainer for ``name`` with the baseline's weights; the option's change applied to it."""
    cfg = make_config(preset, **overrides, **({"amp": "bf16"} if name == "bf16" else {}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = Trainer(cfg)
    if baseline is not None:  # same seed → same weights already; copy them to be sure
        trainer.model.load_state_dict(baseline.model.state_dict())
        if trainer.teacher is not None:
            trainer.teacher.load_state_dict(baseline.teacher.state_dict())
        if trainer.imagenet_encoder is not None:
            trainer.imagenet_encoder.load_state_dict(baseline.imagenet_encoder.state_dict())
    if name == "channels_last":
        trainer.model.to(memory_format=torch.channels_last)  # 4-d weights (convs) only; the optimiser holds
        # the same Parameter objects, whose data is now NHWC
    elif name == "compile":
        # The trainer calls self.student (forward with and without features); model, teacher and EMA stay
        # eager. fallback_random: dropout/drop-path draw eager's numbers, so losses match fp32's.
        torch._inductor.config.fallback_random = True
        trainer.networks.student = torch.compile(trainer.networks.student)
    elif name in ("fused_adamw", "foreach_adamw"):
        # The trainer's optimiser, rebuilt with the same groups and hyper-parameters (set_lr schedules it).
        old = trainer.optimizer
        trainer.networks.optimizer = torch.optim.AdamW(
            [{k: g[k] for k in ("params", "lr", "weight_decay", "name", "initial_lr")} for g in old.param_groups],
            lr=cfg.lr,
            betas=(0.9, 0.999),
            weight_decay=cfg.weight_decay,
            **{name.split("_")[0]: True},
        )
    return _Option(name, trainer)


def compare(names: list[str], preset: str, overrides: dict, iters: int, warm: int) -> None:
    """Time ``train_step`` of every option, interleaved, on the same batches; print the table."""
    for n in names:
        if n not in COMPARE_OPTIONS and not (n.startswith("threads") and n[len("threads") :].isdigit()):
            sys.exit(f"bench_uda_step: --compare option {n!r} is unknown; choose from {', '.join(COMPARE_OPTIONS)}")
    names = ["fp32"] + [n for n in dict.fromkeys(names) if n != "fp32"]
    overrides = {**overrides, "device": "cpu", "num_workers": 0}
    t0 = time.perf_counter()
    options = [_build_option("fp32", preset, overrides, None)]
    options += [_build_option(n, preset, overrides, options[0].trainer) for n in names[1:]]
    base = options[0].trainer
    cfg = base.config
    print(
        f"preset {cfg.preset}, mode {cfg.mode}: {cfg.encoder} + {cfg.head} head ({cfg.embed_dim}/{cfg.head_channels}), "
        f"crops {cfg.crop_size[0]}×{cfg.crop_size[1]}, batch {cfg.batch_size}, CPU, torch {torch.__version__}, "
        f"threads {torch.get_num_threads()}, interop threads {torch.get_num_interop_threads()}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"built {len(options)} trainers in {time.perf_counter() - t0:.1f} s; "
        f"{warm} warm-up + {iters} timed iterations each, interleaved"
    )

    # The crops of every iteration, once (a pure function of (seed, t): the same for every option).
    batches, data_times = [], []
    for t in range(warm + iters):
        t1 = time.perf_counter()
        batches.append(base.batches(t))
        data_times.append(time.perf_counter() - t1)
    data = statistics.median(data_times)

    for t, (source, target) in enumerate(batches):
        k = t % len(options)  # rotate who goes first: no option always runs right after the same one
        for opt in options[k:] + options[:k]:
            s, tg = opt.batch(source), (opt.batch(target) if target is not None else None)
            torch.manual_seed(10_000 + t)  # the same dropout / drop-path coins for every option
            with opt.context():
                t1, c1 = time.perf_counter(), time.process_time()
                log = opt.trainer.train_step(t, s, tg)
                opt.times.append(time.perf_counter() - t1)
                opt.cpu.append(time.process_time() - c1)
            opt.losses.append(log["loss"])
        print(
            f"iteration {t}: " + ", ".join(f"{o.name} {o.times[-1]:.3f} s" for o in options),
            file=sys.stderr,
            flush=True,
        )  # progress (and the raw numbers), one line per iteration

    n_preset = make_config(preset).iterations
    fp32_med = statistics.median(options[0].times[warm:])
    fp32_total = None
    print(f"\ndata (crops in the main process, the same for every option): {data:.4f} s/iteration")
    print(
        f"{'option':<15} {'best s/it':>9} {'median':>8} {'×fp32':>6} {'CPU s/it':>8} {'×fp32':>6} {'one-off s':>9} "
        f"{'Δloss t=0':>9} {'Δloss last':>10} {f'{n_preset} it, min':>11} {'end-to-end ×fp32':>16}"
    )
    fp32_cpu = statistics.median(options[0].cpu[warm:])
    for opt in options:
        timed = opt.times[warm:]
        best, med, cpu = min(timed), statistics.median(timed), statistics.median(opt.cpu[warm:])
        # One-off cost: what the warm-up steps took beyond steady steps (compilation; ~0 for the others).
        one_off = max(sum(opt.times[:warm]) - warm * med, 0.0)
        total = one_off + n_preset * (med + data)
        fp32_total = fp32_total or total
        d0 = abs(opt.losses[0] - options[0].losses[0])
        d_last = abs(opt.losses[-1] - options[0].losses[-1])
        print(
            f"{opt.name:<15} {best:9.4f} {med:8.4f} {fp32_med / med:6.2f} {cpu:8.4f} {fp32_cpu / cpu:6.2f} {one_off:9.1f} "
            f"{d0:9.1e} {d_last:10.1e} {total / 60:11.1f} {fp32_total / total:16.2f}"
        )
        if opt.name == "compile":
            stats = torch._dynamo.utils.counters
            print(
                f"{'':<15} compile: {stats['stats']['unique_graphs']} graphs, "
                f"{sum(stats['graph_break'].values())} graph breaks; "
                + (
                    f"pays for itself after {one_off / (fp32_med - med):.0f} iterations"
                    if med < fp32_med
                    else "never pays for itself (not faster per iteration)"
                )
            )
    print(
        "×fp32: fp32's median / the option's (> 1 = faster). CPU s/it: processor time of the step, all threads "
        "(with one thread the work itself, however busy the machine). end-to-end: the preset's iterations with "
        "data loading and one-off seconds, fp32's total / the option's."
    )
    # The inter-op pool starts on first use, and its size can be set only before that: if setting it
    # still works now, no step used it, and --interop-threads cannot change their speed.
    try:
        torch.set_num_interop_threads(torch.get_num_interop_threads())
        print("inter-op thread pool: never started by these steps (torch.set_num_interop_threads cannot matter)")
    except RuntimeError:
        print(
            "inter-op thread pool: started (by the steps or by --interop-threads); compare runs with "
            "--interop-threads 1 and 2"
        )


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default="cpu-demo", choices=["cpu-demo", "gpu-demo", "gpu-full", "smoke"])
    p.add_argument("--iters", type=int, default=None, help="timed iterations (default: 20 CPU, 50 GPU)")
    p.add_argument("--warmup", type=int, default=None, help="untimed iterations first (default: 3 CPU, 10 GPU)")
    p.add_argument("--workers", type=int, default=None, help="DataLoader workers (default: the preset's)")
    p.add_argument("--images", type=int, default=None, help="synthetic source images (RCS statistics pass)")
    p.add_argument("--mode", default="uda")
    p.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE", help="other TrainConfig overrides")
    p.add_argument(
        "--compare",
        default=None,
        metavar="OPT,OPT,…",
        help=f"time these options against fp32, interleaved (CPU): {', '.join(COMPARE_OPTIONS)}",
    )
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads(N) for the whole run")
    p.add_argument(
        "--interop-threads",
        type=int,
        default=None,
        help="torch.set_num_interop_threads(N) at the start (once per process)",
    )
    args = p.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.interop_threads is not None:
        torch.set_num_interop_threads(args.interop_threads)

    gpu = args.preset.startswith("gpu-")
    iters = args.iters or (50 if gpu else 20)
    warm = args.warmup if args.warmup is not None else (10 if gpu else 3)
    if gpu and not torch.cuda.is_available():
        sys.exit(f"bench_uda_step: --preset {args.preset} needs CUDA (torch.cuda.is_available() is False)")
    overrides = dict(
        mode=args.mode,
        out=None,
        progress=False,
        iterations=10 * (iters + warm) + 10,
        eval_interval=0,
        checkpoint_interval=0,
    )
    if args.workers is not None:
        overrides["num_workers"] = args.workers
    if args.images is not None or gpu:
        overrides["synthetic_train_length"] = args.images or 200
    overrides.update(parse_overrides(args.set))
    if args.compare:
        if gpu:
            sys.exit("bench_uda_step: --compare times CPU options; use --preset cpu-demo or smoke")
        compare(args.compare.split(","), args.preset, overrides, iters, warm)
        return
    cfg = make_config(args.preset, **overrides)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = time.perf_counter()
        trainer = Trainer(cfg)
        build = time.perf_counter() - t
    dev = trainer.device
    print(
        f"preset {cfg.preset}, mode {cfg.mode}: {cfg.encoder} + {cfg.head} head ({cfg.embed_dim}/{cfg.head_channels}), "
        f"crops {cfg.crop_size[0]}×{cfg.crop_size[1]}, batch {cfg.batch_size}, amp {cfg.amp}, device {dev}, "
        f"torch threads {torch.get_num_threads()}, workers {cfg.num_workers}"
    )
    print(f"build (model, datasets, RCS statistics): {build:.1f} s")

    source, target = (
        iter(crop_loader(trainer.streams[k], 0, cfg.iterations, cfg.batch_size, num_workers=cfg.num_workers))
        for k in ("source", "target")
    )
    batches = []

    def step(t, s, t_):  # the algorithm alone: the trainer's bookkeeping is not timed
        return daformer_step(trainer.networks, {"source": s, "target": t_}, cfg, trainer.generator, t, trainer.classes)

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
        step(i, s, t_)
        _sync(dev)
        step_times.append(time.perf_counter() - t)
    step = sum(step_times[warm:]) / iters
    peak = torch.cuda.max_memory_allocated(dev) / 2**30 if dev.type == "cuda" else None

    # Pass 2: profiled.
    timers = _Timers(dev)
    if trainer.teacher is not None:
        trainer.teacher.forward = timers.wrap("teacher forward", trainer.teacher.forward)
    if trainer.imagenet_encoder is not None:
        trainer.imagenet_encoder.forward = timers.wrap(
            "FD forward (frozen ImageNet encoder)", trainer.imagenet_encoder.forward
        )
    for name, label in [
        ("ema_update", "EMA update"),
        ("pseudo_label", "pseudo-label + ClassMix + augment"),
        ("classmix_masks", "pseudo-label + ClassMix + augment"),
        ("mix", "pseudo-label + ClassMix + augment"),
        ("strong_augment", "pseudo-label + ClassMix + augment"),
        ("thing_mask", "FD mask + distance"),
        ("feature_distance", "FD mask + distance"),
    ]:
        setattr(step_mod, name, timers.wrap(label, getattr(step_mod, name)))  # the step's pieces, timed
    prof_total = 0.0
    offset = len(batches)
    for i, (s, t_) in enumerate(batches):
        if i == warm:
            timers.total.clear()
            prof_total = 0.0
        _sync(dev)
        t = time.perf_counter()
        step(offset + i, s, t_)
        _sync(dev)
        prof_total += time.perf_counter() - t
    parts = {k: v / iters for k, v in timers.total.items()}
    prof = prof_total / iters
    parts["student forward + backward + AdamW (rest of the step)"] = prof - sum(parts.values())

    total = step + data * (cfg.num_workers == 0)
    preset_iters = make_config(args.preset).iterations
    print(
        f"\nseconds per iteration: {total:.4f}  (train_step {step:.4f} + data {data:.4f}"
        f"{' in the main process' if cfg.num_workers == 0 else f' in {cfg.num_workers} workers, overlapped'})"
    )
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
