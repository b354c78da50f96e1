"""The paper's data sizes and evaluation protocol on real layouts.

Fake GTA / Synthia / Cityscapes trees are written here in the real layouts and at the real frame sizes
(constant-colour images, striped labels: small PNGs). Expected numbers are worked out by hand from mmseg's
rules (``mmcv.imrescale``: s = min(long bound / long side, short bound / short side), size int(x·s + 0.5)),
DAFormer's data configs (GTA 1280×720, Synthia 1280×760, Cityscapes 1024×512, keep ratio) and mmseg's test
protocol (whole image at 1024×512, logits resized to the full-resolution label, scored there).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

import daformer_edu.metrics as metrics
from daformer_edu.data import Resize
from daformer_edu.data.factory import build_datasets
from daformer_edu.train import Trainer, make_config
from helpers import write_png16_rgb  # Synthia's 16-bit label PNG, written by hand

pytestmark = pytest.mark.filterwarnings("ignore:build_segmentor")

GTA_HW = (1052, 1914)  # GTA5 frames, H × W
SYNTHIA_HW = (760, 1280)  # SYNTHIA RAND-CITYSCAPES
CITYSCAPES_HW = (1024, 2048)


def _halves(h, w, left, right):
    """A [h, w] uint8 label: ``left`` in columns x < w // 2, ``right`` from there on."""
    lab = np.full((h, w), left, np.uint8)
    lab[:, w // 2 :] = right
    return lab


def _png(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def _image(h, w, value=90):
    return np.full((h, w, 3), value, np.uint8)


def _gta(root, hw=GTA_HW):
    # Cityscapes label ids: 7 = road (trainId 0) on the left half, 26 = car (trainId 13) on the right half
    _png(root / "images" / "00000.png", _image(*hw))
    _png(root / "labels" / "00000.png", _halves(*hw, 7, 26))
    return root


def _synthia(root, hw=SYNTHIA_HW):
    # Synthia class ids in channel 0: 3 = road (trainId 0) left, 8 = car (trainId 13) right
    _png(root / "RGB" / "0000000.png", _image(*hw))
    lab = np.zeros((*hw, 3), np.uint16)
    lab[..., 0] = _halves(*hw, 3, 8)
    write_png16_rgb(root / "GT" / "LABELS" / "0000000.png", lab)
    return root


def _cityscapes(root, train_hw=CITYSCAPES_HW, val_labels=(), val_hw=CITYSCAPES_HW):
    """Cityscapes layout: one train image (no label needed), one val pair per label in ``val_labels``."""
    _png(root / "leftImg8bit" / "train" / "aachen" / "aachen_000000_000019_leftImg8bit.png", _image(*train_hw))
    for k, lab in enumerate(val_labels or [_halves(*val_hw, 7, 8)]):
        stem = f"frankfurt_000000_{k:06d}"
        _png(root / "leftImg8bit" / "val" / "frankfurt" / f"{stem}_leftImg8bit.png", _image(*lab.shape))
        _png(root / "gtFine" / "val" / "frankfurt" / f"{stem}_gtFine_labelIds.png", lab)
    return root


# --- Resize = mmseg's keep-ratio rescale ------------------------------------------------------------
def test_resize_gives_mmseg_keep_ratio_sizes_for_the_real_frames():
    # By hand: GTA 1914×1052 into (1280, 720): s = min(1280/1914, 720/1052) = min(0.66876, 0.68441) = 0.66876,
    # H = int(1052·0.66876 + 0.5) = int(704.03) = 704, W = 1280. Synthia 1280×760 into (1280, 760): s = 1.
    # Cityscapes 2048×1024 into (1024, 512): s = 0.5. Either order of the bound gives the same answer.
    for bound, hw, expected in (
        ((720, 1280), GTA_HW, (704, 1280)),
        ((760, 1280), SYNTHIA_HW, (760, 1280)),
        ((512, 1024), CITYSCAPES_HW, (512, 1024)),
    ):
        for b in (bound, bound[::-1]):
            image, label = Resize(b)(_image(*hw), _halves(*hw, 0, 1))
            assert image.shape == (*expected, 3) and label.shape == expected, (b, hw)
    # evaluation: the image alone is resized, the label stays at full resolution
    image, label = Resize((512, 1024), resize_label=False)(_image(*CITYSCAPES_HW), _halves(*CITYSCAPES_HW, 0, 1))
    assert image.shape == (512, 1024, 3) and label.shape == CITYSCAPES_HW


def test_evaluate_and_the_trainer_validate_on_the_same_mmcv_resized_pixels(tmp_path, monkeypatch):
    # Two noisy val frames of 130×262 (not a power-of-two factor): keep ratio into (64, 128) gives
    # s = min(128/262, 64/130) = 0.48855 → 64 × 128. The trainer's val set (smoke: image_size (64, 128)) and
    # python -m daformer_edu.evaluate --size 64x128 must hand the network the same tensors: the uint8 image resized
    # as OpenCV's INTER_LINEAR (written out in test_resize), then normalised; the label at full size.
    import warnings

    from daformer_edu.evaluate import evaluate_checkpoint
    from daformer_edu.models import build_segmentor
    from helpers import cv2_linear_reference

    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (130, 262, 3), dtype=np.uint8) for _ in range(2)]
    cs = _cityscapes(tmp_path / "cs", train_hw=(64, 128), val_labels=[_halves(130, 262, 7, 8)] * 2)
    for k, frame in enumerate(frames):
        _png(cs / "leftImg8bit" / "val" / "frankfurt" / f"frankfurt_000000_{k:06d}_leftImg8bit.png", frame)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_segmentor("mit_b0", "daformer", num_classes=19, embed_dim=16, channels=16)
    ckpt = tmp_path / "model.pth"
    torch.save(model.state_dict(), ckpt)
    seen = []

    def recording_predict(model, image, size=None, out_size=None, **kwargs):
        seen.append((image.clone(), size))
        return torch.zeros((image.shape[0], *out_size), dtype=torch.long)

    monkeypatch.setattr(metrics, "predict", recording_predict)
    evaluate_checkpoint(ckpt, cs, size=(64, 128), device="cpu", progress=False)
    cfg = make_config(
        "smoke",
        source="gta",
        source_root=str(_gta(tmp_path / "gta", hw=(76, 128))),
        target="cityscapes",
        target_root=str(cs),
        out=None,
    )
    val = build_datasets(cfg)["val"]
    assert len(seen) == len(val) == 2
    mean, std = np.array([123.675, 116.28, 103.53]), np.array([58.395, 57.12, 57.375])
    for (image, size), frame, item in zip(seen, frames, val):
        assert size is None and tuple(image.shape) == (1, 3, 64, 128)  # resized by the dataset, not by predict
        assert torch.equal(image[0], item["image"])  # the trainer's validation pixels, bit for bit
        expected = (cv2_linear_reference(frame, 64, 128) - mean) / std  # [64, 128, 3]
        assert np.allclose(item["image"].permute(1, 2, 0).numpy(), expected, atol=1e-5)
        assert tuple(item["label"].shape) == (130, 262)  # scored at full resolution


# --- the source is resized to the official size -----------------------------------------------------
def _crop_fits(dataset, top, left):
    """Does a 512×512 crop at (top, left) fit into the source image as resized by the pipeline?"""
    try:
        item = dataset.get(0, crop_box=(top, left))
    except ValueError:
        return False
    assert item["label"].shape == (512, 512)
    return True


@pytest.mark.parametrize("source, resized", [("gta", (704, 1280)), ("synthia", (760, 1280))])
def test_gpu_full_resizes_the_source_to_the_official_size(tmp_path, source, resized):
    root = (_gta if source == "gta" else _synthia)(tmp_path / source)
    cfg = make_config(
        "gpu-full",
        source=source,
        source_root=str(root),
        target="cityscapes",
        target_root=str(_cityscapes(tmp_path / "cs")),
        out=None,
    )
    src = build_datasets(cfg)["source"]
    h, w = resized
    # The resized image is exactly h × w: the last 512×512 window fits, one pixel further does not.
    assert _crop_fits(src, h - 512, w - 512)
    assert not _crop_fits(src, h - 511, w - 512) and not _crop_fits(src, h - 512, w - 511)
    # The road | car boundary of the label sits at x = w/2 of the resized frame (nearest resize: ±1); a crop
    # centred there has it at column 256 (a random flip after the crop mirrors it onto itself).
    label = src.get(0, crop_box=(0, w // 2 - 256))["label"]  # [512, 512]
    sides = {int(label[0, 0]), int(label[0, -1])}
    assert sides == {0, 13}
    assert (label[:, :255] == label[0, 0]).all() and (label[:, 257:] == label[0, -1]).all()


def test_gpu_full_resizes_cityscapes_to_1024x512_and_keeps_val_labels_at_full_resolution(tmp_path):
    cfg = make_config(
        "gpu-full",
        source="gta",
        source_root=str(_gta(tmp_path / "gta")),
        target="cityscapes",
        target_root=str(_cityscapes(tmp_path / "cs")),
        out=None,
    )
    data = build_datasets(cfg)
    target = data["target"]  # 2048×1024 → 1024×512: the last window fits, one pixel further does not
    assert _crop_fits_target(target, 0, 1024 - 512)
    assert not _crop_fits_target(target, 1, 0) and not _crop_fits_target(target, 0, 1024 - 511)
    val = data["val"][0]
    assert tuple(val["image"].shape) == (3, 512, 1024)  # inference size
    assert tuple(val["label"].shape) == CITYSCAPES_HW  # scored at full resolution


def _crop_fits_target(dataset, top, left):
    try:
        item = dataset.get(0, crop_box=(top, left))
    except ValueError:
        return False
    assert "label" not in item and tuple(item["image"].shape) == (3, 512, 512)
    return True


def test_source_image_size_overrides_and_scales_with_image_size(tmp_path):
    root = str(_gta(tmp_path / "gta"))
    cs = str(_cityscapes(tmp_path / "cs", train_hw=(256, 512)))
    # An explicit bound wins: (360, 640): s = min(640/1914, 360/1052) = 0.33438 → 352 × 640 (1052·0.33438 = 351.8).
    cfg = make_config(
        "gpu-full",
        source="gta",
        source_root=root,
        target="cityscapes",
        target_root=cs,
        out=None,
        source_image_size=(360, 640),
        crop_size=(64, 64),
    )
    src = build_datasets(cfg)["source"]
    assert src.get(0, crop_box=(352 - 64, 640 - 64))["label"].shape == (64, 64)
    with pytest.raises(ValueError):
        src.get(0, crop_box=(352 - 63, 0))
    # None with a smaller image_size: the official bound scaled like the target's. image_size (64, 128) is
    # 1/8 of 512×1024, so GTA's bound is (90, 160): s = min(160/1914, 90/1052) = 0.083595 → 88 × 160.
    cfg = make_config("smoke", source="gta", source_root=root, target="cityscapes", target_root=cs, out=None)
    src = build_datasets(cfg)["source"]
    assert src.get(0, crop_box=(88 - 64, 160 - 64))["label"].shape == (64, 64)
    with pytest.raises(ValueError):
        src.get(0, crop_box=(88 - 63, 0))
    with pytest.raises(ValueError, match="source_image_size"):
        make_config("smoke", source_image_size=(16, 16))


# --- scored at full label resolution; Synthia's 16 classes ------------------------------------------
class _Constant(torch.nn.Module):
    """A 'segmentor' that predicts class ``c`` everywhere, at its input size, and records the input shapes."""

    def __init__(self, c: int, num_classes: int = 19):
        super().__init__()
        self.c, self.num_classes = c, num_classes
        self.scale = torch.nn.Parameter(torch.ones(()))  # so that evaluate finds a device
        self.inputs: list[tuple[int, ...]] = []

    def forward(self, x):
        self.inputs.append(tuple(x.shape))
        logits = torch.zeros(x.shape[0], self.num_classes, *x.shape[-2:])
        logits[:, self.c] = self.scale
        return logits


def _stripes(h, w, a, b):
    """1-pixel-wide vertical stripes a, b, a, b, … (a shrink by 4 with nearest keeps only one of them)."""
    lab = np.full((h, w), a, np.uint8)
    lab[:, 1::2] = b
    return lab


def _trainer_with_constant_model(tmp_path, source, label_ids, monkeypatch):
    """A smoke trainer on a Cityscapes val tree (256×512 labels, inference at 64×128), student = _Constant(road)."""
    src_root = (_gta if source == "gta" else _synthia)(tmp_path / source, hw=(76, 128))
    cs = _cityscapes(tmp_path / "cs", train_hw=(64, 128), val_labels=[_stripes(256, 512, *label_ids)] * 2)
    cfg = make_config(
        "smoke",
        mode="source-only",
        source=source,
        source_root=str(src_root),
        target="cityscapes",
        target_root=str(cs),
        embed_dim=16,
        head_channels=16,
        iterations=1,
        progress=False,
        out=str(tmp_path / "run"),
    )
    trainer = Trainer(cfg)
    trainer.networks.model = _Constant(0)  # road everywhere
    counted = []  # labelled pixels in each confusion matrix evaluate builds
    original = metrics.confusion_matrix

    def counting(*args, **kwargs):
        m = original(*args, **kwargs)
        counted.append(int(m.sum()))
        return m

    monkeypatch.setattr(metrics, "confusion_matrix", counting)
    return trainer, counted


def test_trainer_scores_at_the_full_label_resolution(tmp_path, monkeypatch):
    # Labels: 1-pixel stripes of road (id 7 → 0) and sidewalk (id 8 → 1) at 256×512; the prediction is road.
    # At full resolution: IoU_road = 1/2, IoU_sidewalk = 0 → mIoU 25 %. Shrunk 4× with nearest, one stripe
    # colour survives and the number would be 100 % or 0 %.
    trainer, counted = _trainer_with_constant_model(tmp_path, "gta", (7, 8), monkeypatch)
    result = trainer.evaluate()
    assert result["miou"] == pytest.approx(25.0)
    assert result["per_class_iou"]["road"] == pytest.approx(50.0)
    assert result["per_class_iou"]["sidewalk"] == pytest.approx(0.0)
    assert sum(counted) == 2 * 256 * 512  # every full-resolution label pixel counted once
    assert {s[-2:] for s in trainer.model.inputs} == {(64, 128)}  # whole-image inference at image_size
    assert "miou_16" not in result  # GTA → Cityscapes: 19 classes only


def test_synthia_runs_also_report_the_16_class_miou(tmp_path, monkeypatch):
    # Labels: road (id 7 → 0) and terrain (id 22 → 9; not annotated in Synthia) stripes; prediction road.
    # 19 classes: IoU_road = 1/2, IoU_terrain = 0 → 25 %. Synthia's 16 (terrain excluded): road alone → 50 %.
    trainer, _ = _trainer_with_constant_model(tmp_path, "synthia", (7, 22), monkeypatch)
    result = trainer.evaluate()
    assert result["miou"] == pytest.approx(25.0) and result["miou_16"] == pytest.approx(50.0)
    (tmp_path / "run").mkdir()  # fit() makes it; here the run is only evaluated
    final = trainer._finish()
    assert final["final_miou_16"] == pytest.approx(50.0)
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["final_miou_16"] == pytest.approx(50.0)
