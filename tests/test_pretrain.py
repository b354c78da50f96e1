"""python -m daformer_edu.pretrain: writes a float16 encoder with its meta, resumes a killed run exactly, and
refuses a partial file made with other settings."""

from __future__ import annotations

import pytest
import torch

import daformer_edu.pretrain as pretrain_mod
from daformer_edu.models import mit_b0
from daformer_edu.models.weights import load_encoder_weights
from daformer_edu.pretrain import PretrainConfig, main, pretrain


def tiny(out, **kw):
    return PretrainConfig(
        out=str(out),
        images=48,
        val_images=16,
        size=32,
        iterations=4,
        batch_size=8,
        warmup_iters=2,
        checkpoint_interval=2,
        probe=False,
        progress=False,
        **kw,
    )


@pytest.mark.slow
def test_writes_a_float16_encoder_that_loads_strictly(tmp_path):
    meta = pretrain(tiny(tmp_path / "w.pt"), argv=["--encoder", "mit_b0", "--out", "w.pt"])
    raw = torch.load(tmp_path / "w.pt", weights_only=True)
    assert all(v.dtype == torch.float16 for v in raw["state_dict"].values())
    assert raw["meta"]["command"] == "python -m daformer_edu.pretrain --encoder mit_b0 --out w.pt"
    assert meta["config"]["iterations"] == 4 and 0 <= meta["val_mean_f1"] <= 100
    load_encoder_weights(mit_b0(), tmp_path / "w.pt")  # strict: every key present, no other
    assert not (tmp_path / "w.pt.partial").exists()


@pytest.mark.slow
def test_a_killed_run_resumes_to_the_same_weights(tmp_path, monkeypatch):
    pretrain(tiny(tmp_path / "whole.pt"))
    whole = torch.load(tmp_path / "whole.pt", weights_only=True)["state_dict"]

    real_lr = pretrain_mod._lr

    def dies_at_step_3(cfg, t):
        if t == 3:
            raise KeyboardInterrupt("killed")
        return real_lr(cfg, t)

    monkeypatch.setattr(pretrain_mod, "_lr", dies_at_step_3)
    with pytest.raises(KeyboardInterrupt):
        pretrain(tiny(tmp_path / "resumed.pt"))
    assert (tmp_path / "resumed.pt.partial").exists() and not (tmp_path / "resumed.pt").exists()
    monkeypatch.setattr(pretrain_mod, "_lr", real_lr)
    pretrain(tiny(tmp_path / "resumed.pt"))  # the same command again continues from step 2
    resumed = torch.load(tmp_path / "resumed.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)

    monkeypatch.setattr(pretrain_mod, "_lr", dies_at_step_3)
    with pytest.raises(KeyboardInterrupt):
        pretrain(tiny(tmp_path / "other.pt"))
    monkeypatch.setattr(pretrain_mod, "_lr", real_lr)
    with pytest.raises(ValueError, match="other settings"):
        pretrain(tiny(tmp_path / "other.pt", lr=5e-4))


def test_bad_settings_are_named(capsys):
    with pytest.raises(ValueError, match="encoder='mit_b9'"):
        PretrainConfig(encoder="mit_b9")
    with pytest.raises(ValueError, match="size=48 must be a multiple of 32"):
        PretrainConfig(size=48)
    with pytest.raises(SystemExit):
        main(["--encoder", "mit_b0", "--out", "x.pt", "--iterations", "0"])
    assert "iterations=0 must be a positive integer" in capsys.readouterr().err
