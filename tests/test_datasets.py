"""Real-dataset loaders on tiny fixture trees (64×32 PNGs written here), conversion, transforms, class tables."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from daformer_edu.data import (
    CityscapesDataset,
    Compose,
    DatasetError,
    DatasetNotFoundError,
    GTADataset,
    Normalize,
    RandomCrop,
    RandomFlip,
    Resize,
    SynthiaDataset,
    compute_class_stats,
    denormalize,
)
from daformer_edu.data import classes as C
from daformer_edu.data.convert import main as convert_main
from helpers import write_png16_rgb

H, W = 32, 64
# Cityscapes label ids and the trainIds they must become (from the Cityscapes label definition)
CS_IDS = np.array([7, 8, 11, 26, 33, 0, 1, 23])
CS_TRAIN = np.array([0, 1, 2, 13, 18, 255, 255, 10])
# Synthia class ids → trainIds (SYNTHIA RAND-CITYSCAPES README): road 3, car 8, sky 1, rider 17, void 0, lanemarking 22
SY_IDS = np.array([3, 8, 1, 17, 0, 22, 10, 19])
SY_TRAIN = np.array([0, 13, 10, 12, 255, 255, 11, 15])


def _stripes(values):
    """A [H, W] map made of vertical stripes, one per value."""
    cols = np.repeat(np.arange(len(values)), W // len(values))
    return np.tile(np.asarray(values)[cols], (H, 1))


def _image(seed):
    return np.random.default_rng(seed).integers(0, 256, (H, W, 3), dtype=np.uint8)


@pytest.fixture
def gta_root(tmp_path):
    root = tmp_path / "gta"
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    for i in range(3):
        Image.fromarray(_image(i)).save(root / "images" / f"{i:05d}.png")
        lab = Image.fromarray(_stripes(np.roll(CS_IDS, i)).astype(np.uint8))
        if i == 0:  # GTA ships palette PNGs: the stored indices are the ids, not the colours
            lab = Image.frombytes("P", lab.size, lab.tobytes())
            lab.putpalette([v for k in range(256) for v in (k, 255 - k, 0)])
        lab.save(root / "labels" / f"{i:05d}.png")
    return root


@pytest.fixture
def synthia_root(tmp_path):
    root = tmp_path / "synthia"
    (root / "RGB").mkdir(parents=True)
    (root / "GT" / "LABELS").mkdir(parents=True)
    for i in range(2):
        Image.fromarray(_image(10 + i)).save(root / "RGB" / f"{i:07d}.png")
        lab = np.zeros((H, W, 3), np.uint16)
        lab[..., 0] = _stripes(np.roll(SY_IDS, i))
        lab[..., 1] = 1000 + i  # instance ids in channel 1 must not matter
        write_png16_rgb(root / "GT" / "LABELS" / f"{i:07d}.png", lab)
    return root


@pytest.fixture
def cs_root(tmp_path):
    root = tmp_path / "cityscapes"
    for split in ("train", "val"):
        for k, city in enumerate(("aachen", "bremen")):
            (root / "leftImg8bit" / split / city).mkdir(parents=True)
            (root / "gtFine" / split / city).mkdir(parents=True)
            stem = f"{city}_000000_0000{k}9"
            Image.fromarray(_image(20 + k)).save(root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png")
            Image.fromarray(_stripes(np.roll(CS_IDS, k)).astype(np.uint8)).save(
                root / "gtFine" / split / city / f"{stem}_gtFine_labelIds.png"
            )
    return root


# --- reading --------------------------------------------------------------------------------------
def test_gta_reads_images_and_maps_ids(gta_root):
    assert Image.open(gta_root / "labels" / "00000.png").mode == "P"
    ds = GTADataset(gta_root)
    assert len(ds) == 3 and ds.names == ["00000", "00001", "00002"]
    for i in range(3):
        img, lab = ds.load(i)
        assert np.array_equal(img, _image(i))
        assert np.array_equal(lab, _stripes(np.roll(CS_TRAIN, i)))
    item = ds[1]
    assert item["image"].shape == (3, H, W) and item["label"].dtype == torch.int64 and item["name"] == "00001"


def test_synthia_reads_16bit_labels(synthia_root):
    ds = SynthiaDataset(synthia_root)
    for i in range(2):
        img, lab = ds.load(i)
        assert np.array_equal(img, _image(10 + i))
        assert np.array_equal(lab, _stripes(np.roll(SY_TRAIN, i)))
    # Pillow would have lost the ids: it keeps only the high byte of 16-bit RGB
    pil = np.asarray(Image.open(synthia_root / "GT" / "LABELS" / "0000000.png"))
    assert pil[..., 0].max() == 0


def test_cityscapes_splits_and_unlabelled_target(cs_root):
    val = CityscapesDataset(cs_root, "val")
    assert val.names == ["aachen/aachen_000000_000009", "bremen/bremen_000000_000019"]
    assert np.array_equal(val.load(1)[1], _stripes(np.roll(CS_TRAIN, 1)))
    tgt = CityscapesDataset(cs_root, "train", labels=False)
    assert set(tgt[0]) == {"image", "name"}
    with pytest.raises(PermissionError):
        tgt.load_label(0)


def test_converted_label_files_are_preferred(gta_root):
    special = np.full((H, W), 5, np.uint8)
    Image.fromarray(special).save(gta_root / "labels" / "00002_labelTrainIds.png")
    assert np.array_equal(GTADataset(gta_root).load(2)[1], special)


# --- bad input ------------------------------------------------------------------------------------
def test_missing_root_names_path_layout_and_fix(tmp_path):
    for cls, args in ((GTADataset, ()), (SynthiaDataset, ()), (CityscapesDataset, ("val",))):
        with pytest.raises(DatasetNotFoundError) as e:
            cls(tmp_path / "nowhere", *args)
        msg = str(e.value)
        assert str(tmp_path / "nowhere") in msg and "Expected layout" in msg
        assert "python -m daformer_edu.data.convert" in msg


def test_truncated_image_names_the_file(gta_root):
    path = gta_root / "images" / "00001.png"
    path.write_bytes(path.read_bytes()[:150])
    ds = GTADataset(gta_root)
    with pytest.raises(DatasetError, match="00001.png"):
        ds[1]
    (gta_root / "images" / "00002.png").write_bytes(b"not an image at all")
    with pytest.raises(DatasetError, match="00002.png"):
        ds.load(2)


def test_size_mismatch_names_both_files_and_sizes(gta_root):
    Image.fromarray(np.zeros((16, 40), np.uint8)).save(gta_root / "labels" / "00000.png")
    with pytest.raises(DatasetError) as e:
        GTADataset(gta_root).load(0)
    msg = str(e.value)
    assert "images/00000.png" in msg and "labels/00000.png" in msg and "64x32" in msg and "40x16" in msg


def test_unknown_ids_become_ignore_with_one_warning(gta_root):
    lab = _stripes(CS_IDS).astype(np.uint8)
    lab[0, :3] = [40, 41, 40]
    Image.fromarray(lab).save(gta_root / "labels" / "00001.png")
    ds = GTADataset(gta_root)
    with pytest.warns(UserWarning) as rec:
        out = ds.load(1)[1]
    msgs = [str(r.message) for r in rec if "unknown label values" in str(r.message)]
    assert len(msgs) == 1 and "00001.png" in msgs[0] and "[40, 41]" in msgs[0]
    assert (out[0, :3] == 255).all()
    assert np.array_equal(out[1:], _stripes(CS_TRAIN)[1:])


def test_missing_label_file_is_named(gta_root):
    (gta_root / "labels" / "00002.png").unlink()
    with pytest.raises(DatasetError, match="00002.png"):
        GTADataset(gta_root).load(2)


# --- conversion + RCS statistics ------------------------------------------------------------------
def test_convert_gta_writes_train_ids_and_stats(gta_root):
    assert convert_main(["gta", str(gta_root)]) == 0
    for i in range(3):
        written = np.asarray(Image.open(gta_root / "labels" / f"{i:05d}_labelTrainIds.png"))
        assert np.array_equal(written, _stripes(np.roll(CS_TRAIN, i)))
    stats = json.loads((gta_root / "sample_class_stats.json").read_text())
    per_stripe = H * (W // len(CS_IDS))
    assert stats[0] == {
        "file": "00000",
        "0": per_stripe,
        "1": per_stripe,
        "2": per_stripe,
        "13": per_stripe,
        "18": per_stripe,
        "10": per_stripe,
    }
    swc = json.loads((gta_root / "samples_with_class.json").read_text())
    assert swc["13"] == [["00000", per_stripe], ["00001", per_stripe], ["00002", per_stripe]]
    assert "255" not in swc
    # the loader now reads the converted files and its statistics file
    ds = GTADataset(gta_root)
    assert all(p.name.endswith("_labelTrainIds.png") for p in ds.labels)
    assert compute_class_stats(ds)[0][13] == per_stripe


def test_convert_synthia_and_cityscapes(synthia_root, cs_root):
    convert_main(["synthia", str(synthia_root)])
    written = np.asarray(Image.open(synthia_root / "GT" / "LABELS" / "0000001_labelTrainIds.png"))
    assert np.array_equal(written, _stripes(np.roll(SY_TRAIN, 1)))
    convert_main(["cityscapes", str(cs_root)])
    p = cs_root / "gtFine" / "val" / "bremen" / "bremen_000000_000019_gtFine_labelTrainIds.png"
    assert np.array_equal(np.asarray(Image.open(p)), _stripes(np.roll(CS_TRAIN, 1)))
    stats = json.loads((cs_root / "sample_class_stats.json").read_text())
    assert [e["file"] for e in stats] == ["aachen/aachen_000000_000009", "bremen/bremen_000000_000019"]


# --- class tables ---------------------------------------------------------------------------------
def test_class_tables_agree_with_each_other():
    by_train = {lab.train_id: lab.name for lab in C.CITYSCAPES_LABELS if 0 <= lab.train_id < 255}
    assert [by_train[t] for t in range(19)] == list(C.CLASSES)
    for t, i in C.TRAINID_TO_CITYSCAPES_ID.items():
        assert C.CITYSCAPES_ID_TO_TRAINID[i] == t
    assert sorted(SY for SY in C.SYNTHIA_ID_TO_TRAINID.values()) == sorted(C.SYNTHIA_16)
    assert set(C.THING_CLASSES) | set(C.STUFF_CLASSES) == set(range(19))
    assert C.lut_from_mapping({7: 0, 26: 13})[[7, 26, 3]].tolist() == [0, 13, 255]


@pytest.mark.parity
def test_class_table_matches_cityscapesscripts_when_installed():
    labels = pytest.importorskip("cityscapesscripts.helpers.labels")
    theirs = {lab.id: lab.trainId for lab in labels.labels if lab.id >= 0}
    assert theirs == C.CITYSCAPES_ID_TO_TRAINID


# --- transforms -----------------------------------------------------------------------------------
def test_resize_keep_ratio_follows_mmseg():
    assert Resize((720, 1280)).output_size(1052, 1914) == (704, 1280)  # GTA frame
    assert Resize((512, 1024)).output_size(1024, 2048) == (512, 1024)  # Cityscapes frame
    img, lab = Resize((16, 32))(_image(0), _stripes(CS_IDS).astype(np.uint8))
    assert img.shape == (16, 32, 3) and lab.shape == (16, 32)
    assert set(np.unique(lab)) <= set(CS_IDS.tolist())  # nearest: no new values


def test_random_crop_cat_max_ratio():
    # class 0 everywhere except a column band of class 1 at x in [56, 64)
    lab = np.zeros((H, W), np.uint8)
    lab[:, 56:] = 1
    img = _image(0)
    crop = RandomCrop((16, 16), cat_max_ratio=0.75)
    rng = np.random.default_rng(0)
    ok = 0
    for _ in range(50):
        _, c = crop(img, lab, rng)
        counts = np.bincount(c.ravel(), minlength=2)
        ok += counts.max() / counts.sum() < 0.75
    assert ok > 35  # most crops pass (a random crop alone would pass ~1 time in 7)
    plain = RandomCrop((16, 16))
    rng = np.random.default_rng(0)
    hits = sum(np.bincount(plain(img, lab, rng)[1].ravel(), minlength=2).max() < 0.75 * 256 for _ in range(50))
    assert hits < 15
    # forced window, padding when the input is small, and no label at all
    i2, l2 = crop(img, lab, crop_box=(4, 46))
    assert np.array_equal(l2, lab[4:20, 46:62]) and np.array_equal(i2, img[4:20, 46:62])
    with pytest.raises(ValueError, match="does not fit"):
        crop(img, lab, crop_box=(4, 50))
    big = RandomCrop((40, 70))
    i3, l3 = big(img, lab, np.random.default_rng(0))
    assert i3.shape == (40, 70, 3) and (l3[32:] == 255).all()
    assert crop(img, None, np.random.default_rng(0))[1] is None


def test_flip_normalize_and_denormalize():
    img, lab = _image(3), _stripes(CS_IDS).astype(np.uint8)
    fi, fl = RandomFlip(1.0)(img, lab, np.random.default_rng(0))
    assert np.array_equal(fi, img[:, ::-1]) and np.array_equal(fl, lab[:, ::-1])
    x, y = Normalize()(np.full((2, 2, 3), 255, np.uint8), np.zeros((2, 2), np.uint8))
    assert x.shape == (3, 2, 2) and y.dtype == torch.int64
    assert torch.allclose(
        x[:, 0, 0], torch.tensor([(255 - 123.675) / 58.395, (255 - 116.28) / 57.12, (255 - 103.53) / 57.375])
    )
    t, _ = Normalize()(img)
    assert np.array_equal(denormalize(t), img)
    assert np.array_equal(denormalize(t[None])[0], img)
    pipe = Compose([Resize((32, 64)), RandomCrop((16, 16)), RandomFlip(0.5), Normalize()])
    a, b = pipe(img, lab, np.random.default_rng(7))
    assert a.shape == (3, 16, 16) and b.shape == (16, 16)


def test_dataloader_workers_draw_different_crops(gta_root):
    ds = GTADataset(gta_root, transform=[RandomCrop((8, 8))])
    torch.manual_seed(0)
    loader = torch.utils.data.DataLoader(torch.utils.data.Subset(ds, [0, 0, 0, 0]), batch_size=1, num_workers=2)
    crops = [b["image"] for b in loader]
    assert not all(torch.equal(crops[0], c) for c in crops[1:])
