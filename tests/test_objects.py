"""The embedded "ImageNet" (SyntheticObjects): deterministic, object-centric, labelled per image, and blind to
the target domain — it never samples a street scene, never builds a SyntheticDomain, never uses the target
palette, and its pictures are not target scenes (one large subject, no bonnet)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import daformer_edu.data.synthetic.objects as objects_mod
from daformer_edu.data.classes import IGNORE_INDEX, NUM_CLASSES
from daformer_edu.data.synthetic import SyntheticDomain
from daformer_edu.data.synthetic.objects import SUBJECTS, SyntheticObjects, sample_object_scene
from daformer_edu.data.synthetic.raster import _rasterize

THINGS = range(11, 19)  # person … bicycle


def test_pictures_are_a_pure_function_of_seed_split_index():
    a, b = SyntheticObjects("train", size=64, length=10), SyntheticObjects("train", size=64, length=10)
    for i in (0, 7):
        ia, la, sa = a.render(i)
        ib, lb, sb = b.render(i)
        assert np.array_equal(ia, ib) and np.array_equal(la, lb) and sa == sb
    assert not np.array_equal(a.render(0)[0], SyntheticObjects("val", size=64, length=10).render(0)[0])
    assert not np.array_equal(a.render(0)[0], SyntheticObjects("train", size=64, length=10, seed=1).render(0)[0])
    item = a[3]
    assert item["image"].shape == (3, 64, 64) and item["labels"].shape == (NUM_CLASSES,)
    assert "label" not in item  # image-level labels only, as on ImageNet


def test_labels_hold_the_subject_and_every_class_with_enough_pixels():
    ds = SyntheticObjects("train", size=64, length=40, min_share=0.02)
    for i in range(40):
        _, labels, subject = ds.render(i)
        assert labels[subject] == 1
        # independent recount from the rasterised scene of the same key
        rng = np.random.default_rng([0, 2, 0, i, 0])
        scene, name = sample_object_scene(rng)
        assert SUBJECTS[name] == subject
        cv = _rasterize(scene, 64, 64)
        label = np.array([t[0] for t in cv.table])[cv.inst]
        for c in range(NUM_CLASSES):
            share = (label == c).mean()
            if c != subject:
                assert labels[c] == (share >= 0.02), (i, c, share)


def test_every_subject_appears_and_fills_the_picture():
    SyntheticObjects("train", size=64, length=300)  # the dataset constructs (the scenes come from the grammar)
    seen, thing_share = set(), []
    for i in range(300):
        rng = np.random.default_rng([0, 2, 0, i, 0])
        scene, name = sample_object_scene(rng)
        seen.add(name)
        if SUBJECTS[name] in THINGS:
            label = np.array([t[0] for t in _rasterize(scene, 64, 64).table])[_rasterize(scene, 64, 64).inst]
            thing_share.append((label == SUBJECTS[name]).mean())
    assert seen == set(SUBJECTS)
    assert np.median(thing_share) > 0.08  # the subject is large, not a speck in a street


def test_it_never_touches_the_target_domain(monkeypatch):
    """What would make it cheat: rendering target scenes or reading target labels. Forbid both, then render."""
    import daformer_edu.data.synthetic.dataset as dataset_mod
    import daformer_edu.data.synthetic.grammar as grammar_mod

    def forbidden(*args, **kwargs):
        raise AssertionError("SyntheticObjects must not use the street-scene sampler or the domain datasets")

    monkeypatch.setattr(grammar_mod, "sample_scene", forbidden)
    monkeypatch.setattr(dataset_mod, "sample_scene", forbidden)
    monkeypatch.setattr(dataset_mod.SyntheticDomain, "__init__", forbidden)
    ds = SyntheticObjects("train", size=64, length=20)
    for i in range(20):
        ds[i]
    source = inspect.getsource(objects_mod)
    for name in ("sample_scene", "SyntheticDomain(", "TARGET_LAYOUT", "_TGT_TABLE", "_LAYOUTS"):
        assert name not in source.replace("``sample_scene``", "").replace("``SyntheticDomain``", ""), name


def test_pictures_are_not_target_scenes():
    objects = SyntheticObjects("val", size=64, length=40)
    target = SyntheticDomain("target", "val", size=(64, 128), length=40)
    obj_things, tgt_things, obj_ignore = [], [], 0
    for i in range(40):
        _, labels, subject = objects.render(i)
        rng = np.random.default_rng([0, 2, 1, i, 0])
        scene, _ = sample_object_scene(rng)
        assert scene.hood == 0.0  # no ego-vehicle bonnet
        cv = _rasterize(scene, 64, 64)
        lab = np.array([t[0] for t in cv.table])[cv.inst]
        obj_ignore += int((lab == IGNORE_INDEX).sum())
        obj_things.append(len(set(np.unique(lab)) & set(THINGS)))
        tgt_things.append(len(set(np.unique(target.render(i)[1])) & set(THINGS)))
    assert obj_ignore == 0
    # one subject per picture, not a street full of things (measured: ~0.7 thing classes vs ~2.6)
    assert np.mean(obj_things) < 0.5 * np.mean(tgt_things)
    # and no object picture equals any target picture
    tgt = {target.render_image(i).tobytes() for i in range(40)}
    assert not any(objects.render(i)[0].tobytes() in tgt for i in range(40))


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="split='test'"):
        SyntheticObjects("test")
    with pytest.raises(ValueError, match="size=16"):
        SyntheticObjects(size=16)
    with pytest.raises(ValueError, match="subject='dog'.*'car'"):
        sample_object_scene(np.random.default_rng(0), subject="dog")
    with pytest.raises(IndexError):
        SyntheticObjects(length=3).render(3)
