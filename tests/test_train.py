"""The trainer: exact resume, non-finite losses, bad parameters, output files, and that it composes the
library's pieces (patch a piece, see it called) instead of re-implementing them."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import daformer_edu.train as train_mod
import daformer_edu.trainer as trainer_mod
import daformer_edu.uda.step as step_mod
from daformer_edu.checkpoint import load_checkpoint
from daformer_edu.data.classes import CLASSES
from daformer_edu.train import MODES, NonFiniteLossError, Trainer, make_config
from helpers import tiny_run_config as tiny

pytestmark = pytest.mark.filterwarnings("ignore:build_segmentor")


def _same_state(a: dict, b: dict) -> list[str]:
    return [k for k in a if not torch.equal(a[k], b[k])]


def _train_records(out: Path) -> list[dict]:
    recs = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if not k.startswith("time")} for r in recs if r["split"] == "train"]


@pytest.mark.slow
def test_resume_after_a_kill_reproduces_the_uninterrupted_run_bit_for_bit(tmp_path):
    # uninterrupted: 5 iterations of the full recipe (RCS, FD, ClassMix, augmentation, EMA, warmup)
    full = Trainer(tiny(tmp_path / "full", iterations=5))
    full.fit()
    # killed after 3 iterations; its last checkpoint is from iteration 2
    killed = Trainer(tiny(tmp_path / "killed", iterations=5))
    killed.fit(stop_at=3)
    assert load_checkpoint(tmp_path / "killed")["iteration"] == 2
    # a new object (as a new process would) resumes from the run folder and finishes
    resumed = Trainer(tiny(tmp_path / "killed", iterations=5, resume=str(tmp_path / "killed")))
    assert resumed.iteration == 2
    resumed.fit()
    assert _same_state(full.model.state_dict(), resumed.model.state_dict()) == []
    assert _same_state(full.teacher.state_dict(), resumed.teacher.state_dict()) == []
    opt_a, opt_b = full.optimizer.state_dict()["state"], resumed.optimizer.state_dict()["state"]
    assert all(torch.equal(opt_a[i]["exp_avg_sq"], opt_b[i]["exp_avg_sq"]) for i in opt_a)
    # the log of the resumed run holds each iteration once, with the same losses
    assert _train_records(tmp_path / "full") == _train_records(tmp_path / "killed")
    assert torch.equal(full.class_draws, resumed.class_draws) and full.class_draws.sum() == 5 * 2


@pytest.mark.slow
def test_without_restoring_the_random_state_the_runs_differ(tmp_path, monkeypatch):
    """The test above can fail: skip restoring the RNG state and the weights no longer match."""
    full = Trainer(tiny(tmp_path / "full", iterations=3, checkpoint_interval=1))
    full.fit()
    killed = Trainer(tiny(tmp_path / "killed", iterations=3, checkpoint_interval=1))
    killed.fit(stop_at=1)
    monkeypatch.setattr(trainer_mod, "set_rng_state", lambda state, generators=None: None)
    resumed = Trainer(tiny(tmp_path / "killed", iterations=3, checkpoint_interval=1, resume=str(tmp_path / "killed")))
    resumed.fit()
    assert _same_state(full.model.state_dict(), resumed.model.state_dict()) != []


@pytest.mark.slow
def test_resume_refuses_a_different_configuration(tmp_path):
    Trainer(tiny(tmp_path / "a", iterations=2)).fit()
    with pytest.raises(ValueError, match="fd_lambda=0.005 vs 0.1"):
        Trainer(tiny(tmp_path / "a", iterations=2, fd_lambda=0.1, resume=str(tmp_path / "a")))


@pytest.mark.slow
def test_non_finite_loss_stops_with_iteration_and_term_and_keeps_the_checkpoint(tmp_path, monkeypatch):
    real = step_mod.feature_distance
    calls = []

    def exploding(student, imagenet, mask, **kwargs):
        calls.append(1)
        d = real(student, imagenet, mask, **kwargs)
        return d * float("nan") if len(calls) == 3 else d  # iteration 2 (the third) goes NaN

    monkeypatch.setattr(step_mod, "feature_distance", exploding)
    trainer = Trainer(tiny(tmp_path, iterations=4, checkpoint_interval=2))
    with pytest.raises(NonFiniteLossError, match=r"iteration 2: loss term 'feature_distance' is nan.*checkpoint"):
        trainer.fit()
    saved = load_checkpoint(tmp_path)
    assert saved["iteration"] == 2
    # the bad step never reached the optimiser: the weights are those of the checkpoint
    weights = {k: v for k, v in trainer.model.named_parameters()}
    assert _same_state(weights, saved["model"]) == []


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (
            dict(preset="gpu-ful"),
            ValueError,
            r"unknown preset 'gpu-ful'.*'gpu-full', 'cpu-demo', 'gpu-demo', 'smoke', 'cpu-long', 'auto'",
        ),
        (dict(preset="smoke", mode="adapt"), ValueError, r"mode='adapt'.*'source-only', 'uda', 'oracle'"),
        (dict(preset="smoke", iterations=-5), ValueError, r"iterations=-5 must be a positive integer"),
        (dict(preset="smoke", encoder="mit_b9"), ValueError, r"encoder='mit_b9'.*'mit_b0'"),
        (dict(preset="smoke", source="gta"), ValueError, r"source='gta' needs source_root"),
        (dict(preset="smoke", crop_size=(100, 100)), ValueError, r"multiples of 32"),
        (dict(preset="smoke", learning_rate=1e-3), ValueError, r"unknown field\(s\) \['learning_rate'\]"),
    ],
)
def test_bad_parameters_fail_at_once_listing_valid_values(kwargs, error, message):
    with pytest.raises(error, match=message):
        make_config(**kwargs)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(source="gta", source_root="/no/such/gta"), r"source_root='/no/such/gta' does not exist"),
        (dict(target="cityscapes", target_root="/no/such/cs"), r"target_root='/no/such/cs' does not exist"),
        (dict(pretrained="/no/mit_b5.pth"), r"/no/mit_b5.pth"),
    ],
)
def test_missing_files_fail_where_they_are_opened(kwargs, message):
    # The configuration itself is valid on any machine (a saved config.json rebuilds elsewhere); the run that
    # opens the files says which one is missing.
    cfg = make_config("smoke", out=None, **kwargs)
    with pytest.raises((FileNotFoundError, OSError), match=message):
        Trainer(cfg)


def test_cli_rejects_bad_parameters_before_any_work(capsys):
    with pytest.raises(SystemExit):
        train_mod.main(["--preset", "huge", "--out", "unused"])
    assert "cpu-demo" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        train_mod.main(["--preset", "smoke", "--set", "nonsense=1"])
    assert "crop_size" in capsys.readouterr().err


@pytest.mark.slow
def test_metrics_json_and_log_jsonl(tmp_path):
    result = Trainer(tiny(tmp_path, iterations=4, eval_interval=2, seed=3)).fit()
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["final_miou"] == result["final_miou"]
    assert 0.0 <= metrics["final_miou"] <= 100.0
    assert list(metrics["per_class_iou"]) == list(CLASSES)
    assert metrics["seed"] == 3 and metrics["config"]["seed"] == 3 and metrics["config"]["mode"] == "uda"
    assert metrics["wall_time_s"] > 0 and metrics["iterations"] == 4
    records = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    train = [r for r in records if r["split"] == "train"]
    assert [r["iteration"] for r in train] == [1, 2, 3, 4]
    for key in ("loss", "source_ce", "target_ce", "feature_distance", "lr", "q_t", "ema_alpha"):
        assert all(key in r for r in train), key
    val = [r for r in records if r["split"] == "val"]
    assert [r["iteration"] for r in val] == [2, 4]
    assert val[-1]["miou"] == metrics["final_miou"]
    # loss = L_S + L_T + λ_FD · L_FD, term by term
    r = train[-1]
    assert r["loss"] == pytest.approx(r["source_ce"] + r["target_ce"] + 0.005 * r["feature_distance"], rel=1e-5)


def _spy(monkeypatch, names):
    calls = {n: 0 for n in names}
    for n in names:
        real = getattr(step_mod, n)

        def wrapper(*a, _real=real, _n=n, **k):
            calls[_n] += 1
            return _real(*a, **k)

        monkeypatch.setattr(step_mod, n, wrapper)
    return calls


PIECES = [
    "set_lr",
    "weighted_ce",
    "thing_mask",
    "feature_distance",
    "ema_update",
    "pseudo_label",
    "classmix_masks",
    "mix",
    "strong_augment",
]


@pytest.mark.slow
def test_uda_iteration_calls_the_library_pieces(tmp_path, monkeypatch):
    calls = _spy(monkeypatch, PIECES)
    trainer = Trainer(tiny(tmp_path, iterations=2, checkpoint_interval=0, snapshot_images=0))
    from daformer_edu.uda.rcs import RareClassSampler

    assert isinstance(trainer.sampler, RareClassSampler)
    trainer.fit()
    assert calls == {
        "set_lr": 2,
        "weighted_ce": 4,
        "thing_mask": 2,
        "feature_distance": 2,
        "ema_update": 2,
        "pseudo_label": 2,
        "classmix_masks": 2,
        "mix": 6,
        "strong_augment": 2,
    }
    assert int(trainer.class_draws.sum()) == 4  # 2 iterations × 2 source crops, all drawn by RCS


@pytest.mark.slow
def test_switches_turn_the_pieces_off(tmp_path, monkeypatch):
    calls = _spy(monkeypatch, PIECES)
    trainer = Trainer(
        tiny(
            tmp_path,
            iterations=2,
            checkpoint_interval=0,
            snapshot_images=0,
            rcs=False,
            fd=False,
            classmix=False,
            strong_augment=False,
            warmup=False,
        )
    )
    assert trainer.sampler is None and trainer.imagenet_encoder is None
    trainer.fit()
    assert calls["feature_distance"] == calls["classmix_masks"] == calls["strong_augment"] == 0
    assert calls["pseudo_label"] == 2 and calls["ema_update"] == 2
    assert trainer.history[0]["lr"] == pytest.approx(trainer.config.lr * (1 - 0 / 2))  # no warmup at t = 0


@pytest.mark.parametrize("mode", [m for m in MODES if m != "uda"])
def test_baseline_modes_train_the_student_only(tmp_path, monkeypatch, mode):
    calls = _spy(monkeypatch, ["ema_update", "pseudo_label", "feature_distance"])
    trainer = Trainer(tiny(tmp_path, mode=mode, iterations=2))
    assert trainer.teacher is None and trainer.sampler is None  # rcs/fd default to off for baselines
    result = trainer.fit()
    assert sum(calls.values()) == 0
    assert result["mode"] == mode
    if mode == "oracle":  # labelled *target* crops
        assert trainer.streams["source"].dataset.domain == "target"


def test_command_line_runs_the_same_trainer(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1", "PYTHONWARNINGS": "ignore"}
    cmd = [
        sys.executable,
        "-m",
        "daformer_edu.train",
        "--preset",
        "smoke",
        "--mode",
        "source-only",
        "--out",
        str(tmp_path / "cli"),
        "--iterations",
        "2",
        "--set",
        "val_length=2",
        "embed_dim=16",
        "head_channels=16",
        "crop_size=64x64",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "target mIoU" in done.stdout
    metrics = json.loads((tmp_path / "cli" / "metrics.json").read_text())
    assert metrics["config"]["crop_size"] == [64, 64] and metrics["iterations"] == 2


_DDP_SCRIPT = """
import json, sys, torch, torch.distributed as dist
from daformer_edu.train import Trainer, make_config
cfg = make_config("smoke", mode="uda", embed_dim=16, head_channels=16, image_size=(64, 128), crop_size=(64, 64),
                  iterations=3, eval_interval=0, checkpoint_interval=0, synthetic_train_length=32, val_length=2,
                  progress=False, out=sys.argv[1])
trainer = Trainer(cfg)
result = trainer.fit()
flat = torch.cat([p.detach().flatten() for p in trainer.model.parameters()])
seen = [None] * dist.get_world_size()
dist.all_gather_object(seen, {"rank": trainer.rank, "weights": flat.tolist()[:2000], "sum": flat.double().sum().item(),
                              "crop0": trainer.batches(0)[0]["image"].sum().item()})
if trainer.rank == 0:
    json.dump({"result_world_size": result["world_size"], "seen": seen}, open(sys.argv[2], "w"))
"""


@pytest.mark.slow
def test_torchrun_two_processes_train_one_model(tmp_path):
    # Under torchrun the trainer wraps the student in DDP: the two ranks draw *different* crops but, with their
    # gradients averaged, end with the *same* weights. Without DDP (or with a forward that bypasses it) the
    # weights would drift apart after the first step.
    script = tmp_path / "ddp_run.py"
    script.write_text(_DDP_SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1", "PYTHONWARNINGS": "ignore"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        str(script),
        str(tmp_path / "run"),
        str(tmp_path / "seen.json"),
    ]
    for _attempt in range(2):  # a second launch only if the first did not finish (a port race in the rendezvous)
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
        if done.returncode == 0:
            break
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "seen.json").read_text())
    a, b = report["seen"]
    assert report["result_world_size"] == 2 and {a["rank"], b["rank"]} == {0, 1}
    assert a["crop0"] != b["crop0"], "each rank must train on its own crops"
    assert a["weights"] == b["weights"] and a["sum"] == b["sum"], "DDP must keep the ranks' weights identical"
    assert (tmp_path / "run" / "metrics.json").exists() and (tmp_path / "run" / "checkpoint.pt").exists()


def test_real_dataset_layouts_by_path(tmp_path):
    """GTA → Cityscapes by paths, on synthetic PNGs exported in the real on-disk layouts."""
    from daformer_edu.data.synthetic import export

    export(tmp_path / "gta", layout="gta", n=6, size=(64, 128))
    export(tmp_path / "cs", layout="cityscapes", n=4, size=(64, 128), split="train")
    export(tmp_path / "cs", layout="cityscapes", n=2, size=(64, 128), split="val")
    cfg = tiny(
        tmp_path / "run",
        source="gta",
        source_root=str(tmp_path / "gta"),
        target="cityscapes",
        target_root=str(tmp_path / "cs"),
        iterations=2,
        rcs_min_pixels=20,
    )
    trainer = Trainer(cfg)
    assert "label" not in trainer.datasets["target"][0]  # UDA never sees target labels
    result = trainer.fit()
    assert result["iterations"] == 2 and len(trainer.datasets["val"]) == 2


def test_training_plots_return_figures_with_the_right_axes():
    from matplotlib.figure import Figure

    from daformer_edu.viz import (
        plot_class_draws,
        plot_prediction_grid,
        plot_pseudo_label_evolution,
        plot_training_curves,
    )

    history = [
        {"iteration": i, "split": "train", "loss": 3.0 / i, "source_ce": 2.0 / i, "target_ce": 1.0 / i}
        for i in range(1, 30)
    ] + [{"iteration": 10, "split": "val", "miou": 5.0}, {"iteration": 20, "split": "val", "miou": 9.0}]
    fig = plot_training_curves({"a": history, "b": history[:10]})
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert len(fig.axes[1].lines) == 1  # only run "a" has evaluation records
    images = torch.randn(2, 3, 32, 32)
    labels = torch.randint(0, 19, (2, 32, 32))
    fig = plot_prediction_grid(images, labels, {"source-only": labels, "DAFormer": labels})
    assert len(fig.axes) == 2 * 4
    snaps = {it: {"labels": labels, "q_t": torch.tensor([0.1, 0.9])} for it in (5, 10, 15, 20)}
    fig = plot_pseudo_label_evolution(images, snaps, labels=labels)
    assert len(fig.axes) == 2 * 4  # image, first, last, ground truth
    assert "it 5" in fig.axes[1].get_title() and "it 20" in fig.axes[2].get_title()
    fig = plot_class_draws({"RCS": torch.arange(19), "pixels": [1] * 19}, probabilities=torch.full((19,), 1 / 19))
    assert len(fig.axes) == 1 and len(fig.axes[0].patches) == 2 * 19


def test_every_line_of_notebook_09s_parameters_cell_is_a_papermill_parameter():
    # papermill silently skips an assignment it cannot parse (e.g. a comment containing "="), and then
    # `-p name value` is ignored with only a warning. Compare its view with the cell's assignments.
    papermill = pytest.importorskip("papermill")
    path = Path(__file__).resolve().parents[1] / "notebooks" / "09_full_uda.ipynb"
    cells = [c for c in json.loads(path.read_text())["cells"] if "parameters" in c["metadata"].get("tags", [])]
    assert len(cells) == 1, "09 needs exactly one cell tagged 'parameters'"
    assigned = [
        t.id
        for node in ast.parse("".join(cells[0]["source"])).body
        if isinstance(node, ast.Assign)
        for t in node.targets
    ]
    assert assigned and list(papermill.inspect_notebook(str(path))) == assigned


def test_auto_preset_follows_the_environment_variable(monkeypatch):
    from daformer_edu.config import AUTO_PRESET_ENV, resolve_auto_preset

    monkeypatch.setenv(AUTO_PRESET_ENV, "smoke")
    assert make_config("auto").preset == "smoke"
    monkeypatch.setenv(AUTO_PRESET_ENV, "cpu-demo")
    assert make_config("auto", out=None).preset == "cpu-demo"
    monkeypatch.delenv(AUTO_PRESET_ENV)
    assert resolve_auto_preset() == ("gpu-full" if torch.cuda.is_available() else "cpu-demo")
    monkeypatch.setenv(AUTO_PRESET_ENV, "cpu-dmo")
    with pytest.raises(ValueError, match=r"DAFORMER_EDU_AUTO_PRESET='cpu-dmo' is not a preset.*'cpu-demo'"):
        make_config("auto")


def test_cpu_long_is_cpu_demo_with_twice_the_iterations():
    from daformer_edu.train import PRESETS

    long, demo = PRESETS["cpu-long"], PRESETS["cpu-demo"]
    assert long["iterations"] == 2 * demo["iterations"] == 3000
    assert {k: v for k, v in long.items() if k != "iterations"} == {k: v for k, v in demo.items() if k != "iterations"}
