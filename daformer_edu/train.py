"""Run DAFormer: ``train(config)`` and the command line ``python -m daformer_edu.train``.

The run is composed of three readable pieces: the configuration (``config.py``: ``TrainConfig``, presets,
``make_config``), one iteration (``uda/step.py``: ``daformer_step``, the paper's algorithm) and the run around it
(``trainer.py``: data, loop, evaluation, checkpoints, DDP; with ``run_setup.py`` building the networks and
``runlog.py`` keeping the logs). This module only starts them::

    python -m daformer_edu.train --preset cpu-demo --mode uda --out runs/x
    python -m daformer_edu.train --preset smoke --mode uda --out runs/x --set rcs=false fd=false
    python -m daformer_edu.train --resume runs/x              # continue a killed run with its saved configuration
    torchrun --nproc_per_node 4 -m daformer_edu.train --preset gpu-full --out runs/gta --set \\
        source=gta source_root=/data/gta target=cityscapes target_root=/data/cityscapes pretrained=mit_b5.pth

Mistakes a user can fix (a bad ``--set``, a missing folder or weights file, a corrupt image, a label value that
is not a class, an unreadable checkpoint, a loss that turned NaN) end the command with one line,
``python -m daformer_edu.train: error: …``, and exit status 2.

Taught in: notebooks/09_full_uda.ipynb
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path
from typing import Any

import torch.distributed as dist

from .checkpoint import CheckpointError, load_checkpoint
from .config import (
    MODES,
    PRESET_NAMES,
    PRESETS,
    TrainConfig,
    make_config,
    parse_overrides,
    resolve_auto_preset,
    upgrade_config_dict,
)
from .data.io import DatasetError
from .evaluate import one_line
from .models.weights import EncoderWeightsError, SegmentorWeightsError
from .tensorboard import TensorBoardUnavailableError
from .trainer import NonFiniteLossError, Trainer

__all__ = [
    "MODES",
    "PRESETS",
    "TrainConfig",
    "make_config",
    "resolve_auto_preset",
    "NonFiniteLossError",
    "Trainer",
    "train",
    "main",
]

# The errors a user can act on: printed as one line by the command line (a programming error keeps its traceback).
USER_ERRORS = (
    ValueError,
    FileNotFoundError,
    DatasetError,
    CheckpointError,
    NonFiniteLossError,
    EncoderWeightsError,
    SegmentorWeightsError,
    TensorBoardUnavailableError,
)


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


def _parser() -> argparse.ArgumentParser:
    fields = sorted(f.name for f in dataclasses.fields(TrainConfig))
    p = argparse.ArgumentParser(prog="python -m daformer_edu.train", description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default=None, help=f"one of {list(PRESET_NAMES)} (default: auto)")
    p.add_argument("--mode", default=None, help=f"one of {list(MODES)} (default: uda)")
    p.add_argument("--out", default=None, help="output folder (default: runs/<preset>-<mode>-seed<seed>)")
    p.add_argument("--seed", type=int, default=None, help="training seed (default: 0)")
    p.add_argument("--iterations", type=int, default=None, help="override the preset's iteration count")
    p.add_argument(
        "--resume",
        default=None,
        help="checkpoint file or run folder to continue; alone, it continues with the saved configuration",
    )
    p.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="FIELD=VALUE",
        help=f"override any TrainConfig field, e.g. rcs=false crop_size=128x128; fields: {fields}",
    )
    return p


def _config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The run's configuration: a preset plus overrides, or — with ``--resume`` — the checkpoint's plus overrides."""
    overrides = parse_overrides(args.set)
    for name in ("mode", "seed", "iterations"):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    if args.resume is not None:
        overrides["resume"] = args.resume
        if args.preset is None:  # resume alone: the configuration the run was started with
            saved = upgrade_config_dict(load_checkpoint(args.resume)["config"])
            run_dir = Path(args.resume) if Path(args.resume).is_dir() else Path(args.resume).parent
            known = {f.name for f in dataclasses.fields(TrainConfig)}
            merged = {k: v for k, v in saved.items() if k in known}
            merged.update(overrides, out=args.out or str(run_dir))
            return TrainConfig(**merged)
    preset = args.preset or "auto"
    mode, seed = overrides.setdefault("mode", "uda"), overrides.setdefault("seed", 0)
    overrides["out"] = args.out or f"runs/{preset}-{mode}-seed{seed}"
    return make_config(preset, **overrides)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """``python -m daformer_edu.train``: parse the command line, run, print the final mIoU."""
    p = _parser()
    args = p.parse_args(argv)
    try:
        config = _config_from_args(args)
        result = Trainer(config).fit()
    except USER_ERRORS as err:
        p.exit(2, f"{p.prog}: error: {one_line(err)}\n")
    if int(os.environ.get("RANK", "0")) == 0:
        print(
            f"{config.mode} ({config.preset}, seed {config.seed}): target mIoU {result['final_miou']:.2f} "
            f"after {result['iterations']} iterations in {result['wall_time_s']:.0f} s → {config.out}/metrics.json"
        )
    if dist.is_initialized():
        dist.destroy_process_group()
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
