"""The configuration (defaults = the released recipe, presets as diffs, one form per paper-vs-official item, old names
still read) and the command line (resume with the saved configuration, one-line errors a user can act on)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from daformer_edu import train as train_cli
from daformer_edu.checkpoint import load_checkpoint, save_checkpoint
from daformer_edu.config import PRESETS, TrainConfig, free_on_resume, make_config, parse_overrides, upgrade_config_dict
from daformer_edu.trainer import Trainer
from daformer_edu.uda.step import teacher_pseudo_labels
from helpers import make_domain
from helpers import tiny_run_config as tiny

pytestmark = pytest.mark.filterwarnings("ignore:build_segmentor")

# The released config, read off configs/daformer/gta2cs_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5_s0.py and
# the _base_ files it includes (model, dataset, uda/dacs_a999_fdthings, schedule, optimizer), value by value.
RELEASED = dict(
    encoder="mit_b5",
    head="daformer",
    embed_dim=256,
    head_channels=256,
    head_init="mmcv",
    crop_size=(512, 512),
    image_size=(512, 1024),
    batch_size=2,
    iterations=40000,
    lr=6e-5,
    head_lr_mult=10.0,
    weight_decay=0.01,
    warmup_iters=1500,
    poly_power=1.0,
    ema_alpha=0.999,
    pseudo_threshold=0.968,
    ignore_top=15,
    ignore_bottom=120,
    cat_max_ratio=0.75,
    rcs_temperature=0.01,
    rcs_min_crop_ratio=0.5,
    fd_lambda=0.005,
    fd_min_ratio=0.75,
    amp="fp32",
    pseudo_weight_form="official",
    classmix_form="official",
    augment_coin_form="official",
    fd_form="official",
    rcs_frequency_form="official",
    teacher_bn_form="official",
    jitter_form="official",
)


def test_defaults_are_the_released_recipe_and_gpu_full_changes_nothing():
    cfg = TrainConfig()
    assert {k: getattr(cfg, k) for k in RELEASED} == RELEASED
    assert cfg.use_rcs and cfg.use_fd and not cfg.use_photometric_distortion  # uda: RCS + FD, no PMD
    assert make_config("gpu-full", mode="source-only").use_photometric_distortion  # the official baselines' PMD
    assert PRESETS["gpu-full"] == {}


def test_cpu_demo_is_a_short_diff_and_keeps_the_forms_its_records_were_measured_with():
    demo = make_config("cpu-demo")
    changed = {
        f.name
        for f in dataclasses.fields(TrainConfig)
        if getattr(demo, f.name) != getattr(TrainConfig(), f.name) and f.name != "preset"
    }
    assert changed == set(PRESETS["cpu-demo"])
    assert (demo.pseudo_weight_form, demo.classmix_form, demo.augment_coin_form) == ("paper",) * 3
    assert demo.jitter_form == "torchvision" and demo.photometric_distortion is False
    assert (demo.ignore_top, demo.ignore_bottom, demo.head_init) == (0, 0, "pytorch")


@pytest.mark.parametrize(
    "old, value, new, expected",
    [
        ("per_image_qt", True, "pseudo_weight_form", "paper"),
        ("per_image_qt", False, "pseudo_weight_form", "official"),
        ("classmix_batch_pool", True, "classmix_form", "official"),
        ("augment_coins_per_batch", False, "augment_coin_form", "paper"),
        ("fd_per_image", True, "fd_form", "paper"),
        ("rcs_fc_all_pixels", True, "rcs_frequency_form", "paper"),
        ("teacher_train_mode", False, "teacher_bn_form", "eval"),
    ],
)
def test_old_switch_names_are_translated(old, value, new, expected):
    assert getattr(make_config("smoke", **{old: value}), new) == expected
    assert getattr(make_config("smoke", **parse_overrides([f"{old}={str(value).lower()}"])), new) == expected


def test_an_old_saved_configuration_reads_as_it_ran():
    # Saved before the forms existed: its booleans, plus what that release did where it had no field.
    old = {
        **{k: v for k, v in dataclasses.asdict(make_config("smoke")).items() if not k.endswith("_form")},
        "per_image_qt": True,
        "classmix_batch_pool": False,
        "augment_coins_per_batch": False,
        "fd_per_image": False,
        "rcs_fc_all_pixels": False,
        "teacher_train_mode": True,
    }
    old.pop("photometric_distortion")
    now = upgrade_config_dict(old)
    assert now["pseudo_weight_form"] == "paper" and now["classmix_form"] == "paper"
    assert now["jitter_form"] == "torchvision" and now["photometric_distortion"] is False
    assert TrainConfig(**now) == make_config("smoke")


def test_a_saved_config_rebuilds_without_its_files():
    cfg = make_config(
        "smoke", source="gta", source_root="/only/on/the/cluster", pretrained="/there/mit_b5.pth", resume="/there/run"
    )
    again = TrainConfig(**json.loads(json.dumps(dataclasses.asdict(cfg))))
    assert again == cfg


def test_parse_overrides_types_and_errors():
    got = parse_overrides(["iterations=90", "crop_size=128x128", "rcs=false", "pretrained=none", "lr=1e-4"])
    assert got == {"iterations": 90, "crop_size": (128, 128), "rcs": False, "pretrained": None, "lr": 1e-4}
    with pytest.raises(ValueError, match=r"--set 'learning_rate=1'.*'lr'"):
        parse_overrides(["learning_rate=1"])
    with pytest.raises(ValueError, match=r"--set iterations='many': expected int"):
        parse_overrides(["iterations=many"])
    with pytest.raises(ValueError, match=r"fd_form='papers'.*'official', 'paper'"):
        make_config("smoke", fd_form="papers")


def test_free_on_resume_is_marked_on_the_fields():
    assert free_on_resume() == {
        "preset",
        "num_workers",
        "head_init",
        "device",
        "eval_interval",
        "checkpoint_interval",
        "log_interval",
        "snapshot_images",
        "out",
        "resume",
        "progress",
        "tensorboard",
    }


def _losses(run: Path) -> list[dict]:
    lines = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if not k.startswith("time")} for r in lines if r["split"] == "train"]


def test_resume_alone_continues_with_the_saved_configuration(tmp_path, capsys):
    Trainer(tiny(tmp_path / "full", seed=2)).fit()
    Trainer(tiny(tmp_path / "killed", seed=2)).fit(stop_at=3)  # checkpoint of iteration 2
    result = train_cli.main(["--resume", str(tmp_path / "killed")])
    assert result["iterations"] == 4 and result["seed"] == 2
    assert _losses(tmp_path / "full") == _losses(tmp_path / "killed")
    # A free field may change on resume; a field that changes the computation may not.
    Trainer(tiny(tmp_path / "again", seed=2)).fit(stop_at=3)
    train_cli.main(["--resume", str(tmp_path / "again"), "--set", "log_interval=2", "device=cpu"])
    with pytest.raises(SystemExit) as exit_info:
        train_cli.main(["--resume", str(tmp_path / "killed"), "--set", "lr=0.1"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "error: resume: the checkpoint was made with a different configuration" in err and "lr=" in err


def _run_cli_expecting_error(argv, capsys) -> str:
    with pytest.raises(SystemExit) as exit_info:
        train_cli.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("python -m daformer_edu.train: error: ")
    return lines[0]


def test_a_truncated_checkpoint_names_the_file_and_what_to_do(tmp_path, capsys):
    Trainer(tiny(tmp_path / "run")).fit(stop_at=2)
    ckpt = tmp_path / "run" / "checkpoint.pt"
    ckpt.write_bytes(ckpt.read_bytes()[: ckpt.stat().st_size // 2])
    line = _run_cli_expecting_error(["--resume", str(tmp_path / "run")], capsys)
    assert str(ckpt) in line and "truncated" in line and "Delete it" in line


@pytest.mark.parametrize("num_workers", [0, 1])
def test_bad_files_met_during_training_give_one_line(tmp_path, capsys, num_workers):
    make_domain(tmp_path / "day", 0, splits=(None,), n=4)
    make_domain(tmp_path / "night", 1)
    corrupt = tmp_path / "day" / "images" / "x02.png"
    corrupt.write_bytes(b"\x89PNG not really")
    argv = [
        "--preset",
        "smoke",
        "--out",
        str(tmp_path / "out"),
        "--iterations",
        "30",
        "--set",
        "source=folder",
        f"source_root={tmp_path / 'day'}",
        "target=folder",
        f"target_root={tmp_path / 'night'}",
        "rcs=false",
        "fd=false",
        "val_length=2",
        "embed_dim=16",
        "head_channels=16",
        f"num_workers={num_workers}",
        "progress=false",
    ]
    assert str(corrupt) in _run_cli_expecting_error(argv, capsys)
    # A label value that is not a class of classes.json: the file and the value.
    make_domain(tmp_path / "day2", 0, splits=(None,), n=4)
    label = tmp_path / "day2" / "labels" / "x01.png"
    bad = np.array(Image.open(label))
    bad[5, 5] = 7
    Image.fromarray(bad).save(label)
    argv[argv.index(f"source_root={tmp_path / 'day'}")] = f"source_root={tmp_path / 'day2'}"
    line = _run_cli_expecting_error(argv, capsys)
    assert str(label) in line and "[7]" in line


def test_snapshots_are_the_training_teachers_pseudo_labels(tmp_path):
    trainer = Trainer(
        tiny(tmp_path, iterations=2, eval_interval=2, ignore_top=5, ignore_bottom=3, pseudo_weight_form="official")
    )
    trainer.fit()
    snap = trainer.snapshots[2]
    images = torch.stack([trainer.datasets["val"][0]["image"]])
    buffers = {k: v.clone() for k, v in trainer.teacher.named_buffers()}
    p_t, q_t = teacher_pseudo_labels(trainer.teacher, images, trainer.config)  # step 5 of daformer_step
    assert trainer.teacher.training  # the official teacher: BatchNorm on the batch's statistics
    assert torch.equal(snap["labels"], p_t.to(torch.uint8)) and torch.equal(snap["q_t"], q_t.amax(dim=(1, 2)))
    assert (q_t[:, :5] == 0).all() and (q_t[:, -3:] == 0).all()  # the ignored rows, as in training
    # Taking a snapshot leaves the teacher's buffers as they were.
    for k, v in buffers.items():
        trainer.teacher.get_buffer(k).copy_(v)
    before = {k: v.clone() for k, v in trainer.teacher.named_buffers()}
    trainer.teacher_pseudo_labels(images)
    assert all(torch.equal(before[k], v) for k, v in trainer.teacher.named_buffers())


def test_old_checkpoints_without_the_dead_entries_or_with_them_resume(tmp_path):
    Trainer(tiny(tmp_path / "run")).fit(stop_at=2)
    state = load_checkpoint(tmp_path / "run")
    assert "scheduler" not in state and "sampler" not in state
    # A checkpoint of an earlier release: old field names, and the entries nothing reads any more.
    cfg = state["config"]
    for form, (old, mapping) in {
        "pseudo_weight_form": ("per_image_qt", {"paper": True, "official": False}),
        "teacher_bn_form": ("teacher_train_mode", {"official": True, "eval": False}),
    }.items():
        cfg[old] = mapping[cfg.pop(form)]
    state.update(scheduler={"iteration": 2}, sampler=None)
    save_checkpoint(state, tmp_path / "run" / "checkpoint.pt")
    assert Trainer(tiny(tmp_path / "run", resume=str(tmp_path / "run"))).fit()["iterations"] == 4


def test_auto_on_cuda_starts_from_pretrained_weights(monkeypatch):
    import daformer_edu.config as config_mod

    monkeypatch.delenv(config_mod.AUTO_PRESET_ENV, raising=False)
    monkeypatch.setattr(config_mod.torch.cuda, "is_available", lambda: True)
    synthetic = make_config("auto", out=None)
    assert synthetic.preset == "gpu-demo" and synthetic.pretrained == "embedded"
    assert synthetic.crop_size == (512, 512) and synthetic.image_size == (512, 1024)  # the paper's geometry
    with pytest.warns(UserWarning, match=r"from random weights.*pretrained="):
        real = make_config(
            "auto", source="gta", source_root="/data/gta", target="cityscapes", target_root="/data/cityscapes", out=None
        )
    assert real.preset == "gpu-full" and real.encoder == "mit_b5"
    monkeypatch.setattr(config_mod.torch.cuda, "is_available", lambda: False)
    assert make_config("auto", out=None).preset == "cpu-demo"


def test_tensorboard_events_mirror_the_log(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    trainer = Trainer(tiny(tmp_path / "run", iterations=2, eval_interval=2, tensorboard=True, log_interval=1))
    trainer.fit()
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"), size_guidance={"images": 0}).Reload()
    log = [r for r in trainer.history if r["split"] == "train"]
    losses = events.Scalars("train/loss")
    assert [e.step for e in losses] == [1, 2]
    assert [e.value for e in losses] == pytest.approx([r["loss"] for r in log], rel=1e-6)  # float32 in the file
    assert [e.step for e in events.Scalars("val/miou")] == [2]
    assert events.Scalars("val/miou")[0].value == pytest.approx(trainer.history[-1]["miou"], rel=1e-6)
    assert any(tag.startswith("snapshots/") for tag in events.Tags()["images"])


def test_weights_from_the_hub_offline_fail_before_the_data(tmp_path, monkeypatch, capsys):
    import daformer_edu.trainer as trainer_mod

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    monkeypatch.setattr(trainer_mod, "build_datasets", lambda cfg: pytest.fail("the data were prepared first"))
    line = _run_cli_expecting_error(
        ["--preset", "smoke", "--out", str(tmp_path / "run"), "--set", "pretrained=hf:nvidia/mit-b0"], capsys
    )
    assert "hf:nvidia/mit-b0" in line and "pretrained=" in line and "download" in line
