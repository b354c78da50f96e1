"""ClassTable: the Cityscapes table against the official label definition, classes.json validation (each
error names the file and the value), equality of the two domains' tables, and the palettes that take it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from daformer_edu.data.classes import CLASSES_JSON_EXAMPLE, ClassTable
from daformer_edu.viz import colorize, overlay, plot_class_legend


def _entries():
    """Three classes written by hand, deliberately not in id order."""
    return [
        {"name": "car", "id": 2, "color": [0, 0, 142], "thing": True},
        {"name": "sky", "id": 0, "color": [70, 130, 180], "thing": False},
        {"name": "ground", "id": 1, "color": [128, 64, 128]},  # "thing" may be left out
    ]


# --- the Cityscapes table -------------------------------------------------------------------------
@pytest.mark.parity
def test_cityscapes_table_matches_cityscapesscripts():
    # cityscapesscripts is in the dev extra: this cross-check runs, it does not skip
    try:
        from cityscapesscripts.helpers import labels
    except ImportError:
        pytest.fail("cityscapesscripts is not installed: it is in the dev extra, pip install -e '.[dev]'")
    train = sorted((lab for lab in labels.labels if 0 <= lab.trainId < 255), key=lambda lab: lab.trainId)
    table = ClassTable.cityscapes()
    assert table.num_classes == 19 and table.ids == tuple(range(19))
    assert table.names == tuple(lab.name for lab in train)
    assert table.colors == tuple(tuple(lab.color) for lab in train)
    # DAFormer's things (official imnet_feature_dist_classes) = Cityscapes' instance classes + traffic light/sign
    with_instances = {lab.trainId for lab in train if lab.hasInstances}
    assert set(table.things) == with_instances | {6, 7}
    assert set(table.stuff) == set(range(19)) - set(table.things)


def test_every_dataset_of_the_package_speaks_the_cityscapes_table():
    from daformer_edu.data import SegmentationDataset
    from daformer_edu.data.synthetic import SyntheticDomain

    assert SegmentationDataset.classes == ClassTable.cityscapes()
    assert SyntheticDomain("source", "val", size=(32, 64), length=1).classes.names[13] == "car"


# --- reading and writing classes.json ---------------------------------------------------------------
def test_entries_in_any_order_give_ids_by_position():
    table = ClassTable.from_entries(_entries(), origin="x.json")
    assert table.names == ("sky", "ground", "car")
    assert table.colors == ((70, 130, 180), (128, 64, 128), (0, 0, 142))
    assert table.things == (2,) and table.stuff == (0, 1)
    assert table.palette.dtype == np.uint8 and table.palette.tolist() == [[70, 130, 180], [128, 64, 128], [0, 0, 142]]
    assert len(table) == 3


def test_write_json_then_from_json_round_trips(tmp_path):
    table = ClassTable.from_entries(_entries())
    path = table.write_json(tmp_path / "classes.json")
    data = json.loads(path.read_text())
    assert data[2] == {"name": "car", "id": 2, "color": [0, 0, 142], "thing": True}
    again = ClassTable.from_json(tmp_path)  # a folder is read as folder/classes.json
    assert again == table and again.origin == str(path)
    assert ClassTable.from_json(ClassTable.cityscapes().write_json(tmp_path / "cs.json")) == ClassTable.cityscapes()


def test_the_example_in_the_error_messages_is_itself_valid():
    assert ClassTable.from_entries(json.loads(CLASSES_JSON_EXAMPLE)).names == ("background", "road", "car")


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda e: e.append({"name": "bus", "id": 2, "color": [0, 60, 100]}), r"duplicate id 2: 'car' and 'bus'"),
        (
            lambda e: e.append({"name": "car", "id": 3, "color": [0, 60, 100]}),
            r"duplicate class name 'car' \(ids 2 and 3\)",
        ),
        (
            lambda e: e.append({"name": "bus", "id": 5, "color": [0, 60, 100]}),
            r"ids \[0, 1, 2, 5\] are not 0\.\.3 \(missing \[3\]\)",
        ),
        (lambda e: e[1].update(id=3), r"ids \[1, 2, 3\] are not 0\.\.2 \(missing \[0\]\)"),
        (lambda e: e[0].update(color=[0, 0]), r"class 2 \('car'\) has colour \[0, 0\]; a colour must be 3 integers"),
        (lambda e: e[0].update(color=[0, 0, 256]), r"colour \[0, 0, 256\]"),
        (lambda e: e[0].update(color=[0.5, 0, 0]), r"colour \[0\.5, 0, 0\]"),
        (lambda e: e[0].update(color="red"), r"colour 'red'"),
        (lambda e: e[0].update(id=255), r"id 255; an id is an integer in 0\.\.254"),
        (lambda e: e[0].update(id="2"), r"id '2'"),
        (lambda e: e[0].update(thing="yes"), r"thing='yes'; use true or false"),
        (lambda e: e[0].update(colour=[1, 2, 3]), r"unknown key\(s\) \['colour'\]"),
        (lambda e: e[0].pop("color"), r"lacks \['color'\]"),
        (lambda e: e[0].update(name=""), r"class id 2 has name ''"),
    ],
)
def test_bad_entries_are_rejected_naming_the_file_and_the_value(change, match):
    entries = _entries()
    change(entries)
    with pytest.raises(ValueError, match=match) as err:
        ClassTable.from_entries(entries, origin="course/classes.json")
    assert "course/classes.json" in str(err.value)


@pytest.mark.parametrize("content", ['{"name": "sky", "id": 0, "color": [0, 0, 0]}', "[]", '["sky"]', "[{"])
def test_a_file_that_is_not_a_list_of_classes_is_rejected(tmp_path, content):
    path = tmp_path / "classes.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=str(path)):
        ClassTable.from_json(path)


def test_a_missing_classes_json_says_how_to_write_one(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        ClassTable.from_json(tmp_path)
    msg = str(err.value)
    assert str(tmp_path / "classes.json") in msg and '"thing": true' in msg and "write_json" in msg


def test_direct_construction_validates_too():
    with pytest.raises(ValueError, match=r"2 names but 1 colours"):
        ClassTable(("a", "b"), ((0, 0, 0),))
    with pytest.raises(ValueError, match=r"thing class 2 is not a class id 0\.\.1"):
        ClassTable(("a", "b"), ((0, 0, 0), (1, 1, 1)), things=(2,))
    with pytest.raises(ValueError, match="empty"):
        ClassTable((), ())


# --- one table for both domains ---------------------------------------------------------------------
def test_check_matches_names_both_tables_and_the_difference():
    a = ClassTable.from_entries(_entries(), origin="src/classes.json")
    b = ClassTable.from_entries(_entries(), origin="tgt/classes.json")
    a.check_matches(b)  # same content, different files: equal
    other = _entries()
    other[0]["thing"] = False
    c = ClassTable.from_entries(other, origin="tgt/classes.json")
    with pytest.raises(
        ValueError,
        match=r"target classes \(tgt/classes.json\) differ from the source classes "
        r"\(src/classes.json\): things \[2\] vs \[\]",
    ):
        a.check_matches(c)


# --- metrics names and palettes ---------------------------------------------------------------------
def test_colorize_and_overlay_take_a_table():
    table = ClassTable.from_entries(_entries())
    label = np.array([[0, 1], [2, 255]])
    expected = np.array([[[70, 130, 180], [128, 64, 128]], [[0, 0, 142], [0, 0, 0]]], dtype=np.uint8)
    assert np.array_equal(colorize(label, palette=table), expected)
    assert np.array_equal(colorize(label, table.palette), expected)
    # default: Cityscapes colours (id 2 = building (70, 70, 70))
    assert colorize(label)[1, 0].tolist() == [70, 70, 70]
    image = np.full((2, 2, 3), 100, np.uint8)
    blended = overlay(image, label, alpha=1.0, palette=table)
    assert np.array_equal(blended[:1], expected[:1]) and blended[1, 1].tolist() == [100, 100, 100]


def test_class_legend_takes_a_table():
    table = ClassTable.from_entries(_entries())
    fig = plot_class_legend(classes=table)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["0 sky", "1 ground", "2 car"]
    colours = [tuple(np.round(np.asarray(p.get_facecolor()[:3]) * 255).astype(int)) for p in fig.axes[0].patches]
    assert colours == [(70, 130, 180), (128, 64, 128), (0, 0, 142)]
