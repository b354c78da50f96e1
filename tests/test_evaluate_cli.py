"""``python -m daformer_edu.evaluate`` on a tiny Cityscapes val tree and a tiny checkpoint in the official layout, and
``--dataset folder`` on a three-class folder tree (``helpers.make_domain``).

The expected numbers are computed here independently: images read with PIL, resized as mmcv resizes them
(OpenCV's INTER_LINEAR on the uint8 image, written out in ``test_resize.cv2_linear_reference``), normalised with
numpy, the network run by hand at the inference size, logits resized to the label, argmax, confusion matrix with
``np.bincount`` and IoU = TP / (TP + FP + FN).
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from daformer_edu.evaluate import main
from daformer_edu.models import build_segmentor
from daformer_edu.models.weights import SegmentorWeightsError
from helpers import FOLDER_CLASSES, cv2_linear_reference, make_domain, official_to_ours

H, W = 64, 128  # the tiny "full-size" label
SIZE = (32, 64)  # inference size (the official 512×1024 scaled down)
NAMES = ["aachen/aachen_000000_000019", "aachen/aachen_000001_000019", "bremen/bremen_000000_000019"]
MEAN = np.array([123.675, 116.28, 103.53])
STD = np.array([58.395, 57.12, 57.375])


def _tiny_model(seed, num_classes=19):
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_segmentor("mit_b0", num_classes=num_classes, embed_dim=16, channels=16)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # non-trivial BN statistics and a classifier that predicts many classes
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
        model.head.classifier.weight.mul_(20)
    return model.eval()


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("cityscapes")
    rng = np.random.default_rng(0)
    for name in NAMES:
        city = name.split("/")[0]
        (root / "leftImg8bit/val" / city).mkdir(parents=True, exist_ok=True)
        (root / "gtFine/val" / city).mkdir(parents=True, exist_ok=True)
        image = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
        label = rng.integers(0, 19, (H, W), dtype=np.uint8)
        label[rng.random((H, W)) < 0.1] = 255
        Image.fromarray(image).save(root / f"leftImg8bit/val/{name}_leftImg8bit.png")
        Image.fromarray(label).save(root / f"gtFine/val/{name}_gtFine_labelTrainIds.png")
    student, teacher = _tiny_model(1), _tiny_model(2)
    sd = {}
    for prefix, model in (("model", student), ("ema_model", teacher)):
        ours = model.state_dict()
        for off, key in official_to_ours().items():
            sd[f"{prefix}.{off}"] = ours[key].clone()
    ckpt = root / "latest.pth"
    torch.save({"state_dict": sd, "meta": {"iter": 40000, "CLASSES": ("road",)}}, ckpt)
    return root, ckpt, {"model": student, "ema_model": teacher}


def _expected(root, model):
    """Predictions and IoU computed by hand."""
    confusion = np.zeros((19, 19), dtype=np.int64)
    preds = {}
    for name in NAMES:
        image = np.asarray(Image.open(root / f"leftImg8bit/val/{name}_leftImg8bit.png"))  # [H, W, 3] uint8
        label = np.asarray(Image.open(root / f"gtFine/val/{name}_gtFine_labelTrainIds.png")).astype(np.int64)
        image = cv2_linear_reference(image, *SIZE).astype(np.float64)  # mmseg: resize, then normalise
        x = torch.from_numpy(((image - MEAN) / STD).transpose(2, 0, 1)).float()[None]  # [1, 3, 32, 64]
        with torch.no_grad():
            logits = model(x)  # [1, 19, 32, 64]
        logits = F.interpolate(logits, size=(H, W), mode="bilinear", align_corners=False)
        pred = logits.argmax(1)[0].numpy()
        preds[name] = pred
        keep = label != 255
        confusion += np.bincount(19 * label[keep] + pred[keep], minlength=361).reshape(19, 19)
    tp = np.diag(confusion).astype(float)
    union = confusion.sum(0) + confusion.sum(1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, tp / union, np.nan)
    return preds, confusion, iou


@pytest.mark.parametrize("which", ["model", "ema_model"])
def test_metrics_and_predictions_match_a_hand_computation(tree, tmp_path, which, capsys):
    root, ckpt, models = tree
    out = tmp_path / "eval"
    main(
        [
            "--checkpoint",
            str(ckpt),
            "--dataset",
            "cityscapes",
            "--root",
            str(root),
            "--which",
            which,
            "--size",
            "32x64",
            "--out",
            str(out),
            "--save-predictions",
            "--synthia-16",
            "--device",
            "cpu",
        ]
    )
    preds, confusion, iou = _expected(root, models[which])
    m = json.loads((out / "metrics.json").read_text())
    assert m["architecture"] == {"encoder": "mit_b0", "num_classes": 19, "embed_dim": 16, "channels": 16}
    assert m["num_images"] == 3 and m["size"] == [32, 64] and m["which"] == which
    assert np.array_equal(np.array(m["confusion"]), confusion)
    assert m["miou"] == pytest.approx(100 * np.nanmean(iou), abs=1e-3)
    keep16 = [c for c in range(19) if c not in (9, 14, 16)]
    assert m["miou_16"] == pytest.approx(100 * np.nanmean(iou[keep16]), abs=1e-3)
    for c, (name, v) in enumerate(m["per_class_iou"].items()):
        assert (v is None) if np.isnan(iou[c]) else v == pytest.approx(100 * iou[c], abs=1e-3), name
    assert m["acc"] == pytest.approx(100 * np.trace(confusion) / confusion.sum(), abs=1e-3)
    assert len(set(np.concatenate([p.ravel() for p in preds.values()]).tolist())) > 3  # a non-trivial model
    for name, pred in preds.items():
        png = np.asarray(Image.open(out / "predictions" / f"{name}_labelTrainIds.png"))
        assert png.dtype == np.uint8 and png.shape == (H, W)
        assert np.array_equal(png, pred), name
    printed = capsys.readouterr().out
    assert "sidewalk" in printed and f"mIoU (19 classes): {m['miou']:.2f}" in printed


@pytest.mark.slow
def test_student_and_teacher_differ(tree, tmp_path):
    root, ckpt, _ = tree
    res = {
        w: main(["--checkpoint", str(ckpt), "--root", str(root), "--which", w, "--size", "32x64"])
        for w in ("model", "ema_model")
    }
    assert res["model"]["confusion"] != res["ema_model"]["confusion"]


def test_clear_errors(tree, tmp_path, capsys):
    root, ckpt, models = tree
    with pytest.raises(SystemExit) as e:  # missing dataset root: the dataset's own error
        main(["--checkpoint", str(ckpt), "--root", str(tmp_path / "nowhere")])
    assert e.value.code == 2 and "leftImg8bit" in capsys.readouterr().err
    wrong = tmp_path / "mit_b0.pth"  # an ImageNet encoder checkpoint is not a segmentor checkpoint
    torch.save({f"patch_embed1.proj.{p}": torch.zeros(3) for p in ("weight", "bias")}, wrong)
    with pytest.raises(SystemExit) as e:
        main(["--checkpoint", str(wrong), "--root", str(root)])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "no 'model.*' keys" in err and "patch_embed1" in err
    with pytest.raises(SystemExit) as e:
        main(["--checkpoint", str(ckpt), "--root", str(root), "--which", "teacher"])
    assert "['ema_model', 'model']" in capsys.readouterr().err
    from daformer_edu.evaluate import evaluate_checkpoint

    with pytest.raises(SegmentorWeightsError, match="shape mismatch"):  # --encoder that does not fit the weights
        evaluate_checkpoint(ckpt, root, encoder="mit_b1")


def test_a_pickled_object_needs_trust(tree, tmp_path, capsys):
    import argparse

    root, ckpt, _ = tree
    odd = tmp_path / "odd.pth"
    torch.save({**torch.load(ckpt, weights_only=True), "args": argparse.Namespace(seed=0)}, odd)
    with pytest.raises(SystemExit):
        main(["--checkpoint", str(odd), "--root", str(root), "--size", "32x64"])
    assert "--trust-checkpoint" in capsys.readouterr().err
    ok = main(["--checkpoint", str(odd), "--root", str(root), "--size", "32x64", "--trust-checkpoint"])
    assert ok["confusion"] == main(["--checkpoint", str(ckpt), "--root", str(root), "--size", "32x64"])["confusion"]


# --- --dataset folder: your own classes -------------------------------------------------------------------------
FOLDER_K = len(FOLDER_CLASSES)


@pytest.fixture(scope="module")
def folder_tree(tmp_path_factory):
    """A folder dataset (images/val, labels/val, classes.json; 3 classes, 64×128) and two 3-class checkpoints of
    one network: the official layout, and a trainer checkpoint (config with image_size 32×64, numpy RNG state)."""
    base = tmp_path_factory.mktemp("folder")
    written = make_domain(base / "data", 1, splits=("val",), n=3)  # {stem: (image, label)}
    model = _tiny_model(3, num_classes=FOLDER_K)
    ours = model.state_dict()
    official = base / "latest.pth"
    torch.save({"state_dict": {f"model.{off}": ours[key].clone() for off, key in official_to_ours().items()}}, official)
    run = base / "run"
    run.mkdir()
    torch.save(
        {
            "config": {"image_size": [32, 64], "source": "folder", "encoder": "mit_b0"},
            "model": ours,
            "teacher": None,
            "rng": {
                "numpy": np.random.default_rng(0).bit_generator.state,
                "legacy": np.random.RandomState(0).get_state(),
            },
        },
        run / "checkpoint.pt",
    )
    return base / "data", official, run, model, written


def _expected_folder(written, model):
    """Predictions (at the 64×128 label) and the 3×3 confusion matrix, by hand; inference at 32×64."""
    confusion = np.zeros((FOLDER_K, FOLDER_K), dtype=np.int64)
    preds = {}
    for stem, (image, label) in sorted(written.items()):
        small = cv2_linear_reference(image, 32, 64).astype(np.float64)  # 64×128 → 32×64, as mmcv
        x = torch.from_numpy(((small - MEAN) / STD).transpose(2, 0, 1)).float()[None]  # [1, 3, 32, 64]
        with torch.no_grad():
            logits = F.interpolate(model(x), size=label.shape, mode="bilinear", align_corners=False)
        pred = logits.argmax(1)[0].numpy()  # [64, 128]
        preds[stem] = pred
        keep = label != 255
        gt = label[keep].astype(np.int64)
        confusion += np.bincount(FOLDER_K * gt + pred[keep], minlength=FOLDER_K**2).reshape(FOLDER_K, FOLDER_K)
    return preds, confusion


def test_folder_dataset_scores_its_own_classes(folder_tree, tmp_path, capsys):
    root, official, run, model, written = folder_tree
    out = tmp_path / "eval"
    main(
        [
            "--checkpoint",
            str(official),
            "--dataset",
            "folder",
            "--root",
            str(root),
            "--size",
            "32x64",
            "--out",
            str(out),
            "--save-predictions",
            "--device",
            "cpu",
        ]
    )
    preds, confusion = _expected_folder(written, model)
    m = json.loads((out / "metrics.json").read_text())
    assert m["num_classes"] == 3 and m["num_images"] == 3 and m["dataset"] == "folder"
    assert np.array_equal(np.array(m["confusion"]), confusion)
    tp = np.diag(confusion)
    iou = tp / (confusion.sum(0) + confusion.sum(1) - tp)
    assert list(m["per_class_iou"]) == ["sky", "ground", "blob"]  # the names of classes.json
    assert [m["per_class_iou"][c["name"]] for c in FOLDER_CLASSES] == pytest.approx(100 * iou, abs=1e-3)
    assert m["miou"] == pytest.approx(100 * iou.mean(), abs=1e-3)
    assert len(set(np.concatenate([p.ravel() for p in preds.values()]).tolist())) == 3  # a non-trivial model
    colours = np.array([c["color"] for c in FOLDER_CLASSES], np.uint8)
    for stem, pred in preds.items():
        ids = np.asarray(Image.open(out / "predictions" / f"{stem}_labelTrainIds.png"))
        assert ids.dtype == np.uint8 and np.array_equal(ids, pred), stem
        color = np.asarray(Image.open(out / "predictions" / f"{stem}_color.png"))
        assert color.shape == (64, 128, 3) and np.array_equal(color, colours[pred]), stem
    assert "blob" in capsys.readouterr().out
    # a run folder of this package: read without --trust-checkpoint (numpy arrays in it), its image_size the default
    again = main(["--checkpoint", str(run), "--dataset", "folder", "--root", str(root), "--device", "cpu"])
    assert again["size"] == [32, 64] and again["confusion"] == m["confusion"]


def test_folder_dataset_errors(folder_tree, tree, tmp_path, capsys):
    root, _, run, _, _ = folder_tree
    _, ckpt19, _ = tree

    def fails(argv, *words):
        with pytest.raises(SystemExit) as e:
            main(argv)
        err = capsys.readouterr().err
        lines = err.strip().splitlines()
        assert e.value.code == 2 and len(lines) == 1 and "Traceback" not in err, err
        assert all(w in lines[0] for w in words), (words, lines[0])

    fails(
        ["--checkpoint", str(ckpt19), "--dataset", "folder", "--root", str(root)],
        "19 classes",
        "classes.json",
        "lists 3",
    )
    empty = ["--checkpoint", str(run), "--dataset", "folder", "--root", str(tmp_path)]
    fails(empty, "classes.json not found")
    (tmp_path / "classes.json").write_text(json.dumps(FOLDER_CLASSES))
    fails(empty, "images/val")
    fails(["--checkpoint", str(run), "--dataset", "folder", "--root", str(root), "--which", "ema_model"], "teacher")
    cut = tmp_path / "cut.pth"
    cut.write_bytes((run / "checkpoint.pt").read_bytes()[:300])
    fails(["--checkpoint", str(cut), "--dataset", "folder", "--root", str(root)], "cut.pth", "truncated")
