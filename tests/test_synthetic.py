"""The embedded synthetic domain pair: determinism, splits, label hiding, statistics, export."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from daformer_edu.data import Compose, LabelsNotAvailableError, RandomCrop, RandomFlip
from daformer_edu.data.base import compute_class_stats, load_class_stats, samples_with_class, save_class_stats
from daformer_edu.data.classes import IGNORE_INDEX, NUM_CLASSES
from daformer_edu.data.synthetic import SOURCE_LAYOUT, TARGET_LAYOUT, SyntheticDomain, main, render_scene, sample_scene

SIZE = (64, 128)


@pytest.fixture(scope="module")
def source_stats():
    ds = SyntheticDomain("source", "train", size=SIZE, length=300)
    return np.array([[ds.class_pixel_counts(i).get(c, 0) for c in range(NUM_CLASSES)] for i in range(300)])


def test_render_shapes_and_values():
    for domain in ("source", "target"):
        for size in (SIZE, (37, 91)):
            img, lab = SyntheticDomain(domain, "val", size=size).render(3)
            assert img.shape == (*size, 3) and img.dtype == np.uint8
            assert lab.shape == size and lab.dtype == np.uint8
            values = set(np.unique(lab).tolist())
            assert values <= set(range(NUM_CLASSES)) | {IGNORE_INDEX}


def test_deterministic_from_seed_split_index():
    a = SyntheticDomain("target", "val", size=SIZE, seed=3).render(7)
    b = SyntheticDomain("target", "val", size=SIZE, seed=3).render(7)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    others = [
        SyntheticDomain("target", "val", size=SIZE, seed=4).render(7),
        SyntheticDomain("target", "val", size=SIZE, seed=3).render(8),
        SyntheticDomain("source", "val", size=SIZE, seed=3).render(7),
    ]
    for o in others:
        assert not np.array_equal(a[1], o[1])
    # train and val are different scenes
    t = SyntheticDomain("source", "train", size=SIZE, seed=3).render(7)
    v = SyntheticDomain("source", "val", size=SIZE, seed=3).render(7)
    assert not np.array_equal(t[1], v[1])


def test_same_scene_at_any_resolution():
    small = SyntheticDomain("source", "val", size=(64, 128)).render(5)[1]
    big = SyntheticDomain("source", "val", size=(128, 256)).render(5)[1]
    agree = (big[::2, ::2] == small).mean()  # nearest downsampling of the 2x render
    assert agree > 0.85, agree


def test_target_train_never_hands_out_labels():
    ds = SyntheticDomain("target", "train", size=SIZE, length=4)
    item = ds[0]
    assert set(item) == {"image", "name"}
    for call in (
        lambda: ds.render(0),
        lambda: ds.load_label(0),
        lambda: ds.class_pixel_counts(0),
        lambda: compute_class_stats(ds),
    ):
        with pytest.raises(LabelsNotAvailableError, match="evaluation only"):
            call()
    assert ds.load(0)[1] is None
    img = ds.render_image(0)
    assert img.shape == (*SIZE, 3)
    # the oracle dataset is an explicit opt-in and shows the same images
    oracle = SyntheticDomain("target", "train", size=SIZE, length=4, labels=True)
    o_img, o_lab = oracle.render(0)
    assert np.array_equal(o_img, img) and o_lab.shape == SIZE


def test_items_follow_the_contract():
    ds = SyntheticDomain("source", "train", size=SIZE, length=5)
    item = ds[2]
    assert item["image"].dtype == torch.float32 and item["image"].shape == (3, *SIZE)
    assert item["label"].dtype == torch.int64 and item["label"].shape == SIZE
    assert item["name"] == "source_train_000002"
    assert abs(float(item["image"].mean())) < 3.0  # normalised, not 0..255
    with pytest.raises(IndexError):
        ds[5]
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=2)))
    assert batch["image"].shape == (2, 3, *SIZE)


def test_long_tail_in_source(source_stats):
    present = (source_stats > 0).mean(axis=0)  # share of images holding each class
    share = source_stats.sum(axis=0) / source_stats.sum()
    for common in (0, 2, 8, 13):  # road, building, vegetation, car
        assert present[common] > 0.9
    assert 0.0 < present[16] < 0.1, present[16]  # train in a few percent of the images
    for rare in (12, 16, 17, 18):  # rider, train, motorcycle, bicycle
        assert share[rare] < 0.005, (rare, share[rare])
    assert (present > 0).all(), "every class must occur somewhere"
    assert share[0] > 20 * share[16]


def test_target_layout_differs():
    rng = np.random.default_rng(0)
    src = [sample_scene(rng, SOURCE_LAYOUT) for _ in range(100)]
    tgt = [sample_scene(rng, TARGET_LAYOUT) for _ in range(100)]
    assert np.mean([s.cam_h for s in tgt]) < np.mean([s.cam_h for s in src]) - 0.3
    count = lambda scenes, k: np.mean([sum(t["kind"] == k for t in s.things) for s in scenes])  # noqa: E731
    assert count(tgt, "person") > 1.5 * count(src, "person")
    assert count(tgt, "bicycle") > 1.5 * count(src, "bicycle")
    # the ego vehicle's bonnet exists only in the target (as ignore, like Cityscapes)
    assert all(s.hood == 0 for s in src) and all(s.hood > 0 for s in tgt)


def test_things_at_several_scales():
    rng = np.random.default_rng(1)
    heights = []
    for _ in range(60):
        s = sample_scene(rng, SOURCE_LAYOUT)
        heights += [s.focal * SIZE[1] * 1.5 / t["z"] for t in s.things if t["kind"] == "car"]
    assert max(heights) / min(heights) > 5


def test_renderers_differ_in_texture():
    """Source: flat colours (a smooth sky); target: clouds, texture and sensor noise."""
    rng = np.random.default_rng(2)
    scene = sample_scene(rng, SOURCE_LAYOUT)
    src, lab = render_scene(scene, SIZE, "source")
    tgt, lab2 = render_scene(scene, SIZE, "target", np.random.default_rng(0))
    assert np.array_equal(lab, lab2)  # same scene, same label
    sky = lab == 10
    inner = sky.copy()
    inner[1:-1, 1:-1] &= sky[:-2, 1:-1] & sky[2:, 1:-1] & sky[1:-1, :-2] & sky[1:-1, 2:]
    inner[[0, -1]], inner[:, [0, -1]] = False, False
    assert inner.sum() > 50

    def roughness(im):  # mean |discrete Laplacian| over the inner sky pixels
        g = im.astype(float).mean(-1)
        lap = 4 * g[1:-1, 1:-1] - g[:-2, 1:-1] - g[2:, 1:-1] - g[1:-1, :-2] - g[1:-1, 2:]
        return np.abs(lap)[inner[1:-1, 1:-1]].mean()

    assert roughness(src) < 0.5  # a smooth skybox gradient at most
    assert roughness(tgt) > 3 * roughness(src) + 1.0
    assert np.abs(src.astype(int) - tgt.astype(int)).mean() > 20  # a different palette


def test_class_pixel_counts_and_stats_files(tmp_path):
    ds = SyntheticDomain("source", "train", size=SIZE, length=6)
    _, lab = ds.render(4)
    counts = ds.class_pixel_counts(4)
    expect = {c: int((lab == c).sum()) for c in range(NUM_CLASSES) if (lab == c).any()}
    assert counts == expect
    stats = compute_class_stats(ds)
    assert [e["file"] for e in stats] == [ds.name(i) for i in range(6)]
    assert {k: v for k, v in stats[4].items() if k != "file"} == expect
    save_class_stats(stats, tmp_path)
    assert load_class_stats(tmp_path / "sample_class_stats.json") == stats
    inv = samples_with_class(stats)
    assert inv[0] == [(e["file"], e[0]) for e in stats if 0 in e]


def test_forced_crop_and_seeded_transforms():
    tf = Compose([RandomCrop((32, 32), cat_max_ratio=0.75), RandomFlip(0.0)])
    ds = SyntheticDomain("source", "train", size=SIZE, length=4, transform=tf, seed=5)
    _, lab = ds.render(1)
    item = ds.get(1, crop_box=(16, 40))
    assert torch.equal(item["label"], torch.from_numpy(lab[16:48, 40:72]).long())
    # the same seed gives the same sequence of crops; repeated calls draw new crops
    ds1 = SyntheticDomain("source", "train", size=SIZE, length=4, transform=tf, seed=5)
    ds2 = SyntheticDomain("source", "train", size=SIZE, length=4, transform=tf, seed=5)
    seq1 = [ds1[1]["label"] for _ in range(4)]
    seq2 = [ds2[1]["label"] for _ in range(4)]
    assert all(torch.equal(a, b) for a, b in zip(seq1, seq2))
    assert not all(torch.equal(seq1[0], s) for s in seq1[1:])


def test_export_cli_round_trip(tmp_path):
    from daformer_edu.data import CityscapesDataset, GTADataset

    assert main(["export", str(tmp_path / "gta"), "--layout", "gta", "--n", "3", "--size", "64x32"]) == 0
    gta = GTADataset(tmp_path / "gta")
    src = SyntheticDomain("source", "train", size=(32, 64))
    for i in range(3):
        a, b = gta.load(i)
        c, d = src.render(i)
        assert np.array_equal(a, c) and np.array_equal(b, d)
    main(["export", str(tmp_path / "cs"), "--layout", "cityscapes", "--split", "val", "--n", "2", "--size", "64x32"])
    main(["export", str(tmp_path / "cs"), "--layout", "cityscapes", "--split", "train", "--n", "2", "--size", "64x32"])
    val = CityscapesDataset(tmp_path / "cs", "val")
    tgt = SyntheticDomain("target", "val", size=(32, 64))
    assert np.array_equal(val.load(1)[1], tgt.render(1)[1])
    assert not (tmp_path / "cs" / "gtFine" / "train").exists()  # target train is written without labels
    assert "label" not in CityscapesDataset(tmp_path / "cs", "train", labels=False)[0]


def test_bad_arguments():
    with pytest.raises(ValueError, match="domain"):
        SyntheticDomain("gta")
    with pytest.raises(ValueError, match="split"):
        SyntheticDomain("source", "test")
    with pytest.raises(ValueError, match="size"):
        SyntheticDomain(size=(4, 4))


def test_stuff_classes_carry_surface_patterns_in_both_renderers(monkeypatch):
    """Terrain, vegetation, wall, fence and sidewalk are not flat colours: a cue that colour jitter cannot remove.
    Control: the same pictures with the pattern amplitudes set to 0 are much flatter inside those classes."""
    import daformer_edu.data.synthetic.render as render_mod
    from daformer_edu.data.synthetic.texture import _PART_PATTERN

    assert set(_PART_PATTERN) == {"vegetation", "terrain", "wall", "fence", "sidewalk"}

    def spread(domain):  # class → median over pictures of (std / mean) of grey inside the class (borders removed)
        ds = SyntheticDomain(domain, "val", size=(128, 256), length=12)
        out = {c: [] for c in (1, 3, 4, 8, 9)}  # sidewalk, wall, fence, vegetation, terrain
        for i in range(12):
            image, label = ds.render(i)
            grey = image.astype(float).mean(-1)
            for c in out:
                inner = label == c
                inner[1:-1, 1:-1] &= (
                    (label[:-2, 1:-1] == c) & (label[2:, 1:-1] == c) & (label[1:-1, :-2] == c) & (label[1:-1, 2:] == c)
                )
                inner[[0, -1]], inner[:, [0, -1]] = False, False
                if inner.sum() > 40:
                    out[c].append(grey[inner].std() / max(grey[inner].mean(), 1.0))
        return {c: float(np.median(v)) for c, v in out.items() if v}

    with_patterns = {d: spread(d) for d in ("source", "target")}
    monkeypatch.setattr(render_mod, "_AMP_SOURCE", render_mod._AMP_SOURCE * 0)
    monkeypatch.setattr(render_mod, "_AMP_TARGET", render_mod._AMP_TARGET * 0)
    flat = {d: spread(d) for d in ("source", "target")}
    for c, value in with_patterns["source"].items():  # the game engine draws every pattern crisply
        assert value > flat["source"][c] + 0.05, ("source", c, value, flat["source"][c])
    # the camera's blur keeps the coarse ones (leaves, grass, boards) and washes out most of the one-pixel
    # joints of blocks and paving at 128×256 (measured: +0.02 and +0.00 there)
    for c in (4, 8, 9):
        assert with_patterns["target"][c] > flat["target"][c] + 0.03, ("target", c)


def test_target_light_changes_from_picture_to_picture():
    """The camera's exposure and white balance vary per picture: the same scene, rendered with different random
    states, has a clearly different mean brightness and red/blue balance."""
    scene = sample_scene(np.random.default_rng(5), TARGET_LAYOUT)
    means = np.array(
        [
            render_scene(scene, (64, 128), "target", np.random.default_rng(k))[0].reshape(-1, 3).mean(0)
            for k in range(12)
        ]
    )  # [12, 3]
    assert means.mean(1).std() / means.mean() > 0.08
    assert (means[:, 0] / means[:, 2]).std() > 0.05
