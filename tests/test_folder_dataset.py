"""FolderDataset: a course's own two domains (images/, labels/, classes.json) — loading, the errors that name
the file and the value, and a short UDA run whose network, metrics, FD and RCS use the folder's classes."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from daformer_edu.data.classes import ClassTable
from daformer_edu.data.folder import FolderDataset
from daformer_edu.data.io import DatasetError, DatasetNotFoundError
from daformer_edu.train import Trainer, make_config
from helpers import FOLDER_CLASSES as CLASSES  # three classes, one thing: "blob"
from helpers import FOLDER_HW, make_domain
from helpers import folder_image as _image
from helpers import folder_label as _label

pytestmark = pytest.mark.filterwarnings("ignore:build_segmentor")

H, W = FOLDER_HW


# --- loading --------------------------------------------------------------------------------------
def test_folder_dataset_loads_what_was_written(tmp_path):
    written = make_domain(tmp_path / "a", splits=(None,), n=3)
    ds = FolderDataset(tmp_path / "a")
    assert len(ds) == 3 and ds.has_labels and [ds.name(i) for i in range(3)] == ["x00", "x01", "x02"]
    assert ds.classes.names == ("sky", "ground", "blob") and ds.classes.things == (2,)
    for i in range(3):
        img, lab = ds.load(i)
        assert np.array_equal(img, written[ds.name(i)][0]) and np.array_equal(lab, written[ds.name(i)][1])
    item = ds[1]
    assert item["image"].shape == (3, H, W) and item["label"].dtype == torch.long
    # RCS statistics over the folder's 3 classes: counted by hand from _label(1)
    lab = _label(1)
    assert ds.class_pixel_counts(1) == {0: int((lab == 0).sum()), 1: int((lab == 1).sum()), 2: 32 * 72}


def test_splits_jpg_images_and_unlabelled_targets(tmp_path):
    make_domain(tmp_path / "b", domain=1)
    train = FolderDataset(tmp_path / "b", "train")
    assert len(train) == 4 and train.has_labels
    unlabelled = FolderDataset(tmp_path / "b", "train", labels=False)
    assert not unlabelled.has_labels and "label" not in unlabelled[0]
    # a jpg image pairs with the png label of the same stem
    Image.fromarray(_image(_label(0), 1)).save(tmp_path / "b" / "images" / "val" / "extra.jpg")
    Image.fromarray(_label(0), mode="L").save(tmp_path / "b" / "labels" / "val" / "extra.png")
    val = FolderDataset(tmp_path / "b", "val")
    assert "extra" in val.names and np.array_equal(val.load(val.names.index("extra"))[1], _label(0))
    # no labels folder: unlabelled unless labels=True is asked for
    make_domain(tmp_path / "c", splits=("train",), labels=False)
    assert not FolderDataset(tmp_path / "c", "train").has_labels
    with pytest.raises(DatasetNotFoundError, match="labels=True but there is no folder"):
        FolderDataset(tmp_path / "c", "train", labels=True)


# --- errors ---------------------------------------------------------------------------------------
def test_a_label_value_outside_the_table_names_the_file_and_the_value(tmp_path):
    make_domain(tmp_path / "a", splits=(None,), n=2)
    bad = _label(1)
    bad[40, 5] = 7  # not a class of the 3-class table
    bad[41, 5] = 255  # ignore is fine
    path = tmp_path / "a" / "labels" / "x01.png"
    Image.fromarray(bad, mode="L").save(path)
    ds = FolderDataset(tmp_path / "a")
    ds.load(0)  # the good one loads
    with pytest.raises(
        DatasetError,
        match=rf"{path}: label values \[7\] are not classes of .*classes.json "
        r"\(ids 0\.\.2, 255 = ignore\)",
    ):
        ds.load(1)


def test_missing_pieces_are_named(tmp_path):
    make_domain(tmp_path / "a", splits=(None,), n=2)
    (tmp_path / "a" / "labels" / "x01.png").unlink()
    with pytest.raises(DatasetError, match=r"x01.png is missing for .*x01.png"):
        FolderDataset(tmp_path / "a")
    assert len(FolderDataset(tmp_path / "a", labels=False)) == 2
    (tmp_path / "a" / "classes.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"classes.json not found.*Write one"):
        FolderDataset(tmp_path / "a")
    make_domain(tmp_path / "s")  # train/val sub-folders, but no split given
    with pytest.raises(DatasetNotFoundError, match=r"folders \['train', 'val'\]: pass split="):
        FolderDataset(tmp_path / "s")
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        FolderDataset(tmp_path / "nowhere")


def test_a_bad_classes_json_is_named(tmp_path):
    entries = [dict(e) for e in CLASSES]
    entries[2]["id"] = 1
    make_domain(tmp_path / "a", splits=(None,), n=1, classes=entries)
    with pytest.raises(ValueError, match=rf"{tmp_path / 'a' / 'classes.json'}: duplicate id 1: 'ground' and 'blob'"):
        FolderDataset(tmp_path / "a")


def test_image_and_label_of_different_sizes(tmp_path):
    make_domain(tmp_path / "a", splits=(None,), n=1)
    Image.fromarray(_label(0)[:32], mode="L").save(tmp_path / "a" / "labels" / "x00.png")
    with pytest.raises(DatasetError, match="differ in size"):
        FolderDataset(tmp_path / "a").load(0)


# --- training between two folders ----------------------------------------------------------------
def _config(tmp_path, **kw):
    make_domain(tmp_path / "src", domain=0, splits=("train",), n=4)
    make_domain(tmp_path / "tgt", domain=1, splits=("train", "val"), n=4)
    base = dict(
        source="folder",
        target="folder",
        source_root=str(tmp_path / "src"),
        target_root=str(tmp_path / "tgt"),
        iterations=2,
        out=None,
        embed_dim=16,
        head_channels=16,
        image_size=(H, W),
        crop_size=(64, 64),
        val_length=2,
        snapshot_images=1,
        progress=False,
    )
    return make_config("smoke", **{**base, **kw})


@pytest.mark.slow
def test_uda_between_two_folders_uses_their_classes(tmp_path):
    trainer = Trainer(_config(tmp_path))
    assert trainer.classes.names == ("sky", "ground", "blob")
    # the network has K = 3 outputs
    with torch.no_grad():
        assert trainer.model(torch.zeros(1, 3, 64, 64)).shape[1] == 3
    # RCS counts the 3 classes, with the pixels of the 4 source labels counted by hand
    labels = np.stack([_label(i) for i in range(4)])
    assert trainer.sampler.num_classes == 3 and trainer.sampler.probabilities.shape == (3,)
    assert trainer.sampler.pixel_counts.tolist() == [int((labels == c).sum()) for c in range(3)]
    # FD is computed on the folder's thing class (blob): the share of 32×32 cells of the source crops that
    # are ≥ 75 % blob, counted here with numpy, is what the step logs (Cityscapes' things would give 0)
    source, target = trainer.batches(0)
    y = source["label"].numpy()  # [B, 64, 64]
    cells = y.reshape(len(y), 2, 32, 2, 32).transpose(0, 1, 3, 2, 4).reshape(len(y), 2, 2, -1)
    expected = float(((cells == 2).mean(-1) >= 0.75).mean())
    assert expected > 0
    log = trainer.train_step(0, source, target)
    assert log["fd_cells"] == pytest.approx(expected)
    # the metrics name the folder's classes
    result = trainer.fit()
    assert list(result["per_class_iou"]) == ["sky", "ground", "blob"]
    assert len(result["rcs_class_draws"]) == 3 and len(result["source_class_pixels"]) == 3


def test_oracle_on_a_folder_and_a_folder_source_cannot_adapt_to_cityscapes_classes(tmp_path):
    result = Trainer(_config(tmp_path, mode="oracle")).fit()
    assert list(result["per_class_iou"]) == ["sky", "ground", "blob"]
    # a folder source (3 classes) cannot adapt to the synthetic target (Cityscapes' 19): both tables are named
    with pytest.raises(
        ValueError,
        match=r"target \(target\) classes \(Cityscapes .*\) differ from the source "
        rf"classes \({tmp_path / 'src' / 'classes.json'}\)",
    ):
        Trainer(_config(tmp_path, target="synthetic", target_root=None))


def test_two_folders_with_different_tables_are_refused(tmp_path):
    cfg = _config(tmp_path)
    other = [dict(e) for e in CLASSES]
    other[2]["name"] = "car"
    (tmp_path / "tgt" / "classes.json").write_text(json.dumps(other))
    with pytest.raises(ValueError, match=r"names \['sky', 'ground', 'blob'\] vs \['sky', 'ground', 'car'\]"):
        Trainer(cfg)


def test_a_folder_target_needs_a_val_split(tmp_path):
    cfg = _config(tmp_path)
    shutil.rmtree(tmp_path / "tgt" / "images" / "val")
    with pytest.raises(DatasetNotFoundError, match="images/val/ and labels/val/"):
        Trainer(cfg)


def test_the_cityscapes_table_stays_the_default():
    cfg = make_config(
        "smoke",
        embed_dim=16,
        head_channels=16,
        iterations=1,
        out=None,
        val_length=2,
        synthetic_train_length=8,
        progress=False,
    )
    trainer = Trainer(cfg)
    assert trainer.classes == ClassTable.cityscapes()
    with torch.no_grad():
        assert trainer.model(torch.zeros(1, 3, 64, 64)).shape[1] == 19
