"""mmseg's ``PhotoMetricDistortion`` (the official source-only and oracle pipelines), on hand-worked pixels.

The coins and factors are scripted (``_Scripted`` answers ``integers`` / ``uniform`` from a list, in the order
mmseg draws them), so each expected pixel follows from mmseg 0.16's steps by hand: ``uint8(clip(x·α + β))``
(truncation), OpenCV's uint8 HSV (V = max, S = round(255·(max − min)/max), H = round(30·(G − B)/(max − min)) for a
red maximum, in 0..179; back to RGB rounded).
"""

from __future__ import annotations

import numpy as np
import pytest

from daformer_edu.data import Compose, PhotoMetricDistortion, RandomCrop, RandomFlip, Resize


class _Scripted:
    """A stand-in for ``numpy.random.Generator`` that returns the given draws in order."""

    def __init__(self, draws):
        self.draws = list(draws)

    def integers(self, *args):
        return self.draws.pop(0)

    def uniform(self, *args):
        return self.draws.pop(0)


def _run(pixels, draws):
    rng = _Scripted(draws)
    out, label = PhotoMetricDistortion()(np.array([pixels], np.uint8), "label", rng)
    assert label == "label" and out.dtype == np.uint8 and not rng.draws  # every scripted draw was used
    return out[0].tolist()


def test_brightness_then_contrast_last_truncates_to_uint8():
    # brightness coin 1, δ = 20.7; mode 0; saturation coin 0; hue coin 0; contrast coin 1, α = 1.5.
    # (100, 200, 250) + 20.7 = (120.7, 220.7, 270.7) → clip, truncate (120, 220, 255)
    #                  → ×1.5 (180, 330, 382.5) → (180, 255, 255)
    # (0, 10, 5) → (20, 30, 25) → (30, 45, 37.5 → 37);  (200, 100, 50) → (220, 120, 70) → (255, 180, 105)
    out = _run([[100, 200, 250], [0, 10, 5], [200, 100, 50]], [1, 20.7, 0, 0, 0, 1, 1.5])
    assert out == [[180, 255, 255], [30, 45, 37], [255, 180, 105]]


def test_contrast_first_then_saturation_in_opencv_hsv():
    # brightness coin 0; mode 1 → contrast coin 1, α = 0.5; saturation coin 1, α = 0.5; hue coin 0.
    # (100, 200, 250) × 0.5 = (50, 100, 125): V 125, S round(255·75/125) = 153, H (blue max)
    # round(30·(R − G)/75 + 120) = 100. S × 0.5 = 76.5 → 76. Back: h = 100·6/180 = 3 + 1/3 (sextant 3),
    # s = 76/255, v = 125: (R, G, B) = (v(1 − s), v(1 − s/3), v) = (87.75 → 88, 112.6 → 113, 125).
    # (200, 100, 50) × 0.5 = (100, 50, 25): V 100, S round(191.25) = 191, H round(30·25/75) = 10; S → 95.
    # h = 1/3 (sextant 0), s = 95/255: (v, v(1 − s·2/3), v(1 − s)) = (100, 75.2 → 75, 62.7 → 63).
    out = _run([[100, 200, 250], [200, 100, 50]], [0, 1, 1, 0.5, 1, 0.5, 0])
    assert out == [[88, 113, 125], [100, 75, 63]]


@pytest.mark.parametrize("shift, expected", [(-17, [200, 50, 85]), (15, [200, 175, 50])])
def test_hue_shift_wraps_modulo_180(shift, expected):
    # (200, 100, 50): V 200, S round(255·150/200) = 191, H round(30·50/150) = 10.
    # −17: H = (10 − 17) mod 180 = 173 → h = 5.767 (sextant 5, f 0.767), s = 191/255:
    #      (v, v(1 − s), v(1 − s·f)) = (200, 50.2 → 50, 85.2 → 85).
    # +15: H = 25 → h = 0.833 (sextant 0): (v, v(1 − s(1 − f)), v(1 − s)) = (200, 175.0 → 175, 50.2 → 50).
    # draws: brightness coin 0; mode 0; saturation coin 0; hue coin 1, shift; contrast coin 0
    assert _run([[200, 100, 50]], [0, 0, 0, 1, shift, 0]) == [expected]


def test_all_coins_down_leaves_the_image_and_draws_are_those_of_mmseg():
    img = np.random.default_rng(0).integers(0, 256, (4, 6, 3), dtype=np.uint8)
    out, _ = PhotoMetricDistortion()(img, None, _Scripted([0, 1, 0, 0, 0]))  # brightness, mode, contrast, sat, hue
    assert np.array_equal(out, img)
    with pytest.raises(ValueError, match="Generator"):
        PhotoMetricDistortion()(img, None)
    with pytest.raises(ValueError, match="uint8"):
        PhotoMetricDistortion()(img.astype(np.float32), None, np.random.default_rng(0))


def test_draw_ranges_with_a_real_generator():
    # Each step has probability 1/2, so over many images about half change brightness; δ stays within ±32 and the
    # hue shift within −18 … 17 (uniform and integer draws as numpy's, the upper end excluded for integers).
    img = np.full((2, 2, 3), 128, np.uint8)  # grey: saturation and hue change nothing
    t = PhotoMetricDistortion()
    changed = []
    for seed in range(400):
        out, _ = t(img, None, np.random.default_rng(seed))
        assert (out == out[0, 0]).all()
        assert 0 <= int(out[0, 0, 0]) <= min(255, int((128 + 32) * 1.5))
        changed.append(int(out[0, 0, 0]) != 128)
    # P(unchanged) = P(no brightness and no contrast) = 1/4 (a changed value can round back to 128, rarely)
    assert 0.68 < np.mean(changed) < 0.82


def test_appended_to_the_pipeline_it_draws_after_the_crop_and_flip():
    rng0 = np.random.default_rng(0)
    img = rng0.integers(0, 256, (48, 96, 3), dtype=np.uint8)
    label = rng0.integers(0, 19, (48, 96), dtype=np.uint8)
    plain = [Resize((32, 64)), RandomCrop((16, 16), cat_max_ratio=0.75), RandomFlip(0.5)]
    for seed in range(5):
        rng = np.random.default_rng(seed)
        ref_img, ref_label = Compose(plain)(img, label, rng)  # the default pipeline ...
        ref_img, _ = PhotoMetricDistortion()(ref_img, ref_label, rng)  # ... then the distortion
        out_img, out_label = Compose(plain + [PhotoMetricDistortion()])(img, label, np.random.default_rng(seed))
        assert np.array_equal(out_label, ref_label) and np.array_equal(out_img, ref_img)


def _distorted(datasets) -> dict[str, bool]:
    out = {}
    for name, ds in datasets.items():
        base = getattr(ds, "dataset", ds)
        out[name] = any(isinstance(t, PhotoMetricDistortion) for t in getattr(base.transform, "transforms", []))
    return out


def test_the_official_baselines_distort_their_labelled_crops_and_uda_never_does():
    """The released source-only and oracle configs put PhotoMetricDistortion after the flip; the UDA config and the
    validation pipeline have none. The CPU presets keep the pipelines their records were measured with (none)."""
    from daformer_edu.config import make_config
    from daformer_edu.data.factory import build_datasets

    def run(preset, mode, **kw):
        return _distorted(
            build_datasets(
                make_config(
                    preset,
                    mode=mode,
                    out=None,
                    synthetic_train_length=4,
                    val_length=2,
                    image_size=(64, 128),
                    crop_size=(64, 64),
                    **kw,
                )
            )
        )

    assert run("gpu-full", "uda") == {"source": False, "target": False, "val": False}
    assert run("gpu-full", "source-only") == {"source": True, "target": False, "val": False}
    assert run("gpu-full", "oracle") == {"source": True, "target": True, "val": False}  # labelled target crops
    assert run("smoke", "source-only") == {"source": False, "target": False, "val": False}
    assert run("smoke", "uda", photometric_distortion=True)["source"]
