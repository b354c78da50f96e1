"""``python -m daformer_edu.predict`` on images of odd sizes and kinds, with a checkpoint a ``Trainer`` wrote.

The run: the ``smoke`` preset on a folder dataset of three classes (``helpers.make_domain``), its student and teacher
given large random weights so that they predict several classes, saved by ``Trainer.save``. The expected outputs are
computed here independently: the keep-ratio size written out (mmcv's ``imrescale`` rule), ``cv2.resize``, the
normalisation in numpy, the network run by hand, logits resized to the image with ``F.interpolate``, argmax; the
colours looked up in the palette written in ``helpers.FOLDER_CLASSES``; the overlay as ``(image + colour + 1) // 2``.
"""

from __future__ import annotations

import json
import shutil
import warnings

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from daformer_edu.predict import PredictError, main, predict_images
from helpers import FOLDER_CLASSES, make_domain, official_to_ours, randomize_

pytestmark = pytest.mark.filterwarnings("ignore:build_segmentor")

MEAN = np.array([123.675, 116.28, 103.53])
STD = np.array([58.395, 57.12, 57.375])
COLORS = np.array([c["color"] for c in FOLDER_CLASSES], np.uint8)  # [3, 3]
RUN_SIZE = (64, 128)  # the run's image_size: the default inference bound
PROG = "python -m daformer_edu.predict: error: "


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A run folder (``checkpoint.pt`` of a folder-dataset run) and its student and teacher."""
    from daformer_edu.train import Trainer, make_config

    base = tmp_path_factory.mktemp("predict")
    make_domain(base / "src", 0, n=2)
    make_domain(base / "tgt", 1, n=2)
    cfg = make_config(
        "smoke",
        embed_dim=16,
        head_channels=16,
        image_size=RUN_SIZE,
        crop_size=(64, 64),
        iterations=1,
        val_length=1,
        synthetic_train_length=4,
        progress=False,
        out=str(base / "run"),
        source="folder",
        source_root=str(base / "src"),
        target="folder",
        target_root=str(base / "tgt"),
    )
    trainer = Trainer(cfg)
    randomize_(trainer.model, 6)  # seeds whose networks predict all three classes on the photos below
    randomize_(trainer.teacher, 4)
    trainer.save()
    return base / "run", {"model": trainer.model.eval(), "ema_model": trainer.teacher.eval()}


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Images of odd sizes and kinds, and the RGB pixels each must be read as (written out per kind)."""
    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    (root / "nested" / "deeper").mkdir(parents=True)
    rgb = {}
    a = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    Image.fromarray(a).save(root / "a.png")
    rgb["a"] = a
    Image.fromarray(rng.integers(0, 256, (100, 61, 3), dtype=np.uint8)).save(root / "nested" / "b.jpg")
    rgb["nested/b"] = np.asarray(Image.open(root / "nested" / "b.jpg").convert("RGB"))  # the JPEG as decoded
    gray = rng.integers(0, 256, (45, 70), dtype=np.uint8)
    Image.fromarray(gray, mode="L").save(root / "nested" / "deeper" / "gray.png")
    rgb["nested/deeper/gray"] = np.repeat(gray[..., None], 3, axis=2)  # one channel → three
    rgba = rng.integers(0, 256, (50, 50, 4), dtype=np.uint8)
    Image.fromarray(rgba, mode="RGBA").save(root / "rgba.png")
    rgb["rgba"] = rgba[..., :3]  # alpha dropped
    c = rng.integers(0, 256, (33, 20, 3), dtype=np.uint8)
    Image.fromarray(c).save(root / "nested" / "c.BMP", format="BMP")  # upper-case suffix
    rgb["nested/c"] = c
    (root / "notes.txt").write_text("not an image")  # not searched for
    return root, rgb


def expected_ids(model, image: np.ndarray, bound) -> np.ndarray:
    """The whole-image protocol by hand: keep-ratio resize (cv2), normalise, forward, bilinear to full size, argmax."""
    h, w = image.shape[:2]
    s = min(max(bound) / max(h, w), min(bound) / min(h, w))  # mmcv.imrescale's scale
    oh, ow = int(h * s + 0.5), int(w * s + 0.5)
    small = image if (oh, ow) == (h, w) else cv2.resize(image, (ow, oh), interpolation=cv2.INTER_LINEAR)
    x = torch.from_numpy(((small - MEAN) / STD).transpose(2, 0, 1)).float()[None]  # [1, 3, oh, ow]
    with torch.no_grad():
        logits = model(x)  # [1, K, oh/4, ow/4]
    logits = F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False)
    return logits.argmax(1)[0].numpy()  # [h, w]


def read(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im)


def test_folder_input_matches_a_hand_computation_and_mirrors_the_layout(run, photos, tmp_path):
    run_dir, models = run
    root, rgb = photos
    out = tmp_path / "seg"
    written = predict_images(run_dir, [root], out, overlay=True, progress=False)
    names = ["a", "nested/b", "nested/c", "nested/deeper/gray", "rgba"]  # sorted paths; notes.txt skipped
    assert written == [out / f"{n}_{kind}.png" for n in names for kind in ("labelTrainIds", "color", "overlay")]
    seen = set()
    for name in names:
        image = rgb[name]
        ids = read(out / f"{name}_labelTrainIds.png")
        assert ids.dtype == np.uint8 and ids.shape == image.shape[:2], name  # the input's size
        assert np.array_equal(ids, expected_ids(models["model"], image, RUN_SIZE)), name
        color = read(out / f"{name}_color.png")
        assert np.array_equal(color, COLORS[ids]), name  # the run's classes.json
        blend = read(out / f"{name}_overlay.png")
        assert np.array_equal(blend, ((image.astype(int) + COLORS[ids] + 1) // 2).astype(np.uint8)), name
        seen |= set(np.unique(ids).tolist())
    assert seen == {0, 1, 2}  # a model that predicts every class: the comparisons above can fail
    # one pixel by hand: a.png's top-left pixel and the colour of its class, averaged and rounded half up
    (r, g, b), c = rgb["a"][0, 0], read(out / "a_labelTrainIds.png")[0, 0]
    colour = FOLDER_CLASSES[c]["color"]
    assert read(out / "a_overlay.png")[0, 0].tolist() == [
        (int(r) + colour[0] + 1) // 2,
        (int(g) + colour[1] + 1) // 2,
        (int(b) + colour[2] + 1) // 2,
    ]


def test_file_inputs_exif_orientation_and_the_teacher_at_another_size(run, photos, tmp_path, capsys):
    run_dir, models = run
    root, rgb = photos
    # a JPEG stored 40×60 whose EXIF says "rotate 90° clockwise to view" (orientation 6): viewers show it 60×40
    stored = np.random.default_rng(1).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(tmp_path / "turned.jpg", exif=exif)
    upright = np.rot90(np.asarray(Image.open(tmp_path / "turned.jpg").convert("RGB")), k=-1)  # [60, 40, 3]
    out = tmp_path / "seg"
    written = main(
        [
            "--checkpoint",
            str(run_dir / "checkpoint.pt"),
            str(root / "a.png"),
            str(tmp_path / "turned.jpg"),
            "--out",
            str(out),
        ]
    )
    assert written == [out / f"{n}_{k}.png" for n in ("a", "turned") for k in ("labelTrainIds", "color")]
    assert "2 images" in capsys.readouterr().out
    ids = read(out / "turned_labelTrainIds.png")
    assert ids.shape == (60, 40) and np.array_equal(ids, expected_ids(models["model"], upright, RUN_SIZE))
    # --which ema_model reads the teacher, --size sets the bound
    main(
        [
            "--checkpoint",
            str(run_dir),
            str(root / "nested"),
            "--out",
            str(out / "t"),
            "--which",
            "ema_model",
            "--size",
            "32",
            "48",
        ]
    )
    for name in ("b", "c", "deeper/gray"):
        image = rgb[f"nested/{name}"]
        ids = read(out / "t" / f"{name}_labelTrainIds.png")
        assert np.array_equal(ids, expected_ids(models["ema_model"], image, (32, 48))), name
    student = expected_ids(models["model"], rgb["nested/b"], (32, 48))
    assert not np.array_equal(read(out / "t" / "b_labelTrainIds.png"), student)  # not the student


def _official_checkpoint(path, seed=0):
    """A 19-class MiT-B0 segmentor with random weights, saved as the released mmseg checkpoint (student only)."""
    from daformer_edu.models import build_segmentor

    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = randomize_(build_segmentor("mit_b0", num_classes=19, embed_dim=16, channels=16), seed).eval()
    ours = model.state_dict()
    torch.save(
        {"state_dict": {f"model.{off}": ours[key] for off, key in official_to_ours().items()}, "meta": {"iter": 40000}},
        path,
    )
    return model


def test_a_released_checkpoint_uses_cityscapes_and_512x1024(photos, tmp_path):
    root, rgb = photos
    model = _official_checkpoint(tmp_path / "latest.pth")
    out = tmp_path / "seg"
    predict_images(tmp_path / "latest.pth", [root / "a.png"], out, progress=False)
    ids = read(out / "a_labelTrainIds.png")
    assert np.array_equal(ids, expected_ids(model, rgb["a"], (512, 1024)))  # 37×53 → 512×734, back to 37×53
    cityscapes = {
        0: (128, 64, 128),
        1: (244, 35, 232),
        2: (70, 70, 70),
        8: (107, 142, 35),
        10: (70, 130, 180),
        11: (220, 20, 60),
        13: (0, 0, 142),
        18: (119, 11, 32),
    }  # the official colours of some trainIds
    color = read(out / "a_color.png")
    checked = [c for c in np.unique(ids).tolist() if c in cityscapes]
    assert checked, np.unique(ids)
    for c in checked:
        assert (color[ids == c] == cityscapes[c]).all(), c


def _fails(argv, capsys, *words):
    """The command stops with exit status 2 and one line on stderr that holds ``words``, no traceback."""
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert e.value.code == 2 and len(lines) == 1 and lines[0].startswith(PROG), err
    assert "Traceback" not in err
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def test_mistakes_end_with_one_line_and_exit_status_2(run, photos, tmp_path, capsys):
    run_dir, _ = run
    root, _ = photos
    image, out = str(root / "a.png"), str(tmp_path / "out")
    _fails(["--checkpoint", str(tmp_path / "nowhere.pth"), image, "--out", out], capsys, "nowhere.pth")
    (tmp_path / "not_a_run").mkdir()
    _fails(["--checkpoint", str(tmp_path / "not_a_run"), image, "--out", out], capsys, "not_a_run", "checkpoint.pt")
    data = (run_dir / "checkpoint.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])  # a copy that did not finish
    _fails(["--checkpoint", str(tmp_path / "cut.pt"), image, "--out", out], capsys, "cut.pt", "truncated")
    (tmp_path / "empty").mkdir()
    _fails(["--checkpoint", str(run_dir), str(tmp_path / "empty"), "--out", out], capsys, "empty", "no .png")
    _fails(["--checkpoint", str(run_dir), str(tmp_path / "gone.png"), "--out", out], capsys, "gone.png")
    _fails(["--checkpoint", str(run_dir), image, "--out", out, "--size", "0", "64"], capsys, "size=(0, 64)")
    _official_checkpoint(tmp_path / "latest.pth")  # the student alone
    _fails(
        ["--checkpoint", str(tmp_path / "latest.pth"), image, "--out", out, "--which", "ema_model"], capsys, "ema_model"
    )
    two = tmp_path / "two.json"
    two.write_text(json.dumps(FOLDER_CLASSES[:2]))
    _fails(["--checkpoint", str(run_dir), image, "--out", out, "--classes", str(two)], capsys, "3 classes", "two.json")
    # two inputs that would write the same files (a.png twice)
    (tmp_path / "twice").mkdir()
    shutil.copy(root / "a.png", tmp_path / "twice" / "a.png")
    _fails(["--checkpoint", str(run_dir), image, str(tmp_path / "twice"), "--out", out], capsys, "a_color.png")
    assert not (tmp_path / "out").exists()  # nothing was written by any of them


def test_unreadable_images_are_skipped_and_named(run, photos, tmp_path, capsys):
    run_dir, _ = run
    root, _ = photos
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(root / "a.png", folder / "good.png")
    shutil.copy(root / "nested" / "b.jpg", folder / "z_ok.jpg")
    (folder / "broken.jpg").write_bytes((root / "nested" / "b.jpg").read_bytes()[:200])  # truncated JPEG
    (folder / "fake.png").write_bytes(b"this is text")
    line = _fails(
        ["--checkpoint", str(run_dir), str(folder), "--out", str(tmp_path / "out")],
        capsys,
        "2 of 4 images",
        "broken.jpg",
        "fake.png",
    )
    assert "good.png" not in line and "z_ok.jpg" not in line
    for name in ("good", "z_ok"):  # the readable ones were all written
        assert (tmp_path / "out" / f"{name}_color.png").is_file()
    assert not (tmp_path / "out" / "broken_color.png").exists()
    with pytest.raises(PredictError) as e:  # the API: the same, with the files that were written
        predict_images(run_dir, [folder], tmp_path / "api", progress=False)
    assert len(e.value.written) == 4 and all(p.is_file() for p in e.value.written)


def test_a_run_folder_moved_away_from_its_dataset_needs_classes(run, photos, tmp_path, capsys):
    run_dir, models = run
    root, rgb = photos
    state = torch.load(run_dir / "checkpoint.pt", map_location="cpu", weights_only=False)
    state["config"]["source_root"] = state["config"]["target_root"] = str(tmp_path / "elsewhere")
    torch.save(state, tmp_path / "moved.pt")
    argv = ["--checkpoint", str(tmp_path / "moved.pt"), str(root / "a.png"), "--out", str(tmp_path / "out")]
    _fails(argv, capsys, "elsewhere", "--classes")
    table = [dict(c, color=[255 - v for v in c["color"]]) for c in FOLDER_CLASSES]  # other colours
    (tmp_path / "classes.json").write_text(json.dumps(table))
    main([*argv, "--classes", str(tmp_path / "classes.json")])
    ids = read(tmp_path / "out" / "a_labelTrainIds.png")
    assert np.array_equal(ids, expected_ids(models["model"], rgb["a"], RUN_SIZE))
    assert np.array_equal(read(tmp_path / "out" / "a_color.png"), 255 - COLORS[ids])  # the given file's colours
