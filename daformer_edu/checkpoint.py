"""Checkpoints that survive a crash, and the random state that makes a resumed run exact.

A training run can be killed at any moment (a laptop lid, a cluster's time limit). Two things make
``resume=`` safe:

1. **Atomic writes.** The checkpoint is first written to a temporary file in the same folder and then
   renamed over the old one with ``os.replace``. A rename inside one file system is atomic: a reader sees
   either the complete old file or the complete new one, never half a file. A crash mid-write leaves the
   last good checkpoint untouched (plus, at worst, a stray ``*.tmp`` file, which is removed).
2. **All the random state.** Python's ``random``, NumPy's global generator, torch's CPU generator and every
   CUDA device generator are saved and restored, together with any ``torch.Generator`` the caller owns.
   Restored in the same order, the resumed run draws the same dropout masks, crops and ClassMix classes
   as the uninterrupted one — on a CPU the weights agree bit for bit.

Taught in: notebooks/09_full_uda.ipynb
"""

from __future__ import annotations

import os
import pickle
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["save_checkpoint", "load_checkpoint", "rng_state", "set_rng_state", "CheckpointError"]


class CheckpointError(RuntimeError):
    """A checkpoint file exists but cannot be read (truncated, or not a file ``torch.save`` wrote).

    Taught in: notebooks/09_full_uda.ipynb
    """


def rng_state(generators: dict[str, torch.Generator] | None = None) -> dict[str, Any]:
    """Capture every random number generator the training loop draws from.

    Returns a plain dict: ``python`` (``random.getstate()``), ``numpy`` (``np.random.get_state()``),
    ``torch`` (CPU generator state, a uint8 tensor), ``cuda`` (one state per visible device, or ``[]``)
    and ``generators`` (``name -> state`` for the caller's own ``torch.Generator`` objects).

    Taught in: notebooks/09_full_uda.ipynb
    """
    return {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "generators": {name: g.get_state() for name, g in (generators or {}).items()},
    }


def set_rng_state(state: dict[str, Any], generators: dict[str, torch.Generator] | None = None) -> None:
    """Restore what :func:`rng_state` captured (the inverse; restores the caller's generators in place).

    A generator named in ``generators`` but missing from ``state`` is an error naming it: a resumed run that
    silently re-seeds one stream would no longer reproduce the uninterrupted run.

    Taught in: notebooks/09_full_uda.ipynb
    """
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    saved = state.get("generators", {})
    for name, g in (generators or {}).items():
        if name not in saved:
            raise KeyError(f"checkpoint holds no state for generator {name!r}; it has {sorted(saved)}")
        g.set_state(saved[name])


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write ``state`` to ``path`` atomically: a temporary file in the same folder, then ``os.replace``.

    The folder is created if needed. If anything fails while writing (disk full, a kill signal turned into
    an exception, a bug in a ``state_dict``), the temporary file is removed and the previous checkpoint at
    ``path`` is left exactly as it was. Returns the path.

    Taught in: notebooks/09_full_uda.ipynb
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Same folder as the target, so the final rename never crosses a file-system boundary.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())  # the bytes are on disk before the rename makes them visible
        os.replace(tmp, path)  # atomic: readers see the old file or the new one, never a mix
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`.

    ``path`` may be the file or a run folder holding ``checkpoint.pt``. A missing file is an error that names
    the path and what was looked for; a file that cannot be read (cut short by a full disk or a copy that did not
    finish) raises :class:`CheckpointError` naming it and what to do. (``weights_only=False``: the file holds RNG
    states and the config, and is one this package wrote itself — never load checkpoints from people you do not
    trust.)

    Taught in: notebooks/09_full_uda.ipynb
    """
    path = Path(path)
    if path.is_dir():
        path = path / "checkpoint.pt"
    if not path.is_file():
        raise FileNotFoundError(
            f"no checkpoint at {path}: pass the checkpoint file or the run folder (--out) that holds "
            "checkpoint.pt, written every `checkpoint_interval` iterations"
        )
    try:
        return torch.load(path, map_location=map_location, weights_only=False)
    except (RuntimeError, EOFError, pickle.UnpicklingError, ValueError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(
            f"{path} is not a readable checkpoint ({reason}): the file is truncated or was not written by "
            "torch.save. Delete it to start the run again, or resume from a complete copy"
        ) from None
