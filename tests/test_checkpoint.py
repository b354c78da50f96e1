"""Checkpoints: atomic writes (a crash mid-write keeps the last good file) and exact RNG round trips."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from daformer_edu import checkpoint
from daformer_edu.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state


def test_save_and_load_round_trip(tmp_path):
    state = {"iteration": 7, "weights": torch.arange(6.0).view(2, 3), "nested": {"a": [1, 2]}}
    path = save_checkpoint(state, tmp_path / "run" / "checkpoint.pt")
    assert path.is_file()
    back = load_checkpoint(tmp_path / "run")  # the run folder works too
    assert back["iteration"] == 7 and back["nested"] == {"a": [1, 2]}
    assert torch.equal(back["weights"], state["weights"])
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["checkpoint.pt"]  # no temp file left


def test_crash_mid_write_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint({"iteration": 1, "w": torch.ones(3)}, path)
    good = path.read_bytes()

    def crash(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")  # some bytes reach the disk, then the process "dies"
        raise KeyboardInterrupt("killed while writing")

    monkeypatch.setattr(checkpoint.torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint({"iteration": 2, "w": torch.zeros(3)}, path)
    assert path.read_bytes() == good  # untouched
    assert load_checkpoint(path)["iteration"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]  # the temp file was removed


def test_missing_checkpoint_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at .*checkpoint.pt"):
        load_checkpoint(tmp_path)


def _draw(g: torch.Generator) -> tuple:
    return random.random(), float(np.random.rand()), float(torch.rand(())), float(torch.rand((), generator=g))


def test_rng_state_round_trip_reproduces_every_stream():
    g = torch.Generator().manual_seed(3)
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    _draw(g)
    saved = rng_state({"g": g})
    first = [_draw(g) for _ in range(3)]
    # scramble everything, then restore
    random.seed(99), np.random.seed(99), torch.manual_seed(99), g.manual_seed(99)
    set_rng_state(saved, {"g": g})
    assert [_draw(g) for _ in range(3)] == first


def test_missing_generator_state_is_an_error():
    saved = rng_state({})
    with pytest.raises(KeyError, match="'classmix'"):
        set_rng_state(saved, {"classmix": torch.Generator()})
