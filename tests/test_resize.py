"""``Resize`` resizes pixels as mmcv does (``mmcv.imrescale`` → ``cv2.resize``): hand-worked values, and a reference.

The reference below re-derives OpenCV's ``INTER_LINEAR`` for uint8 from its definition (centre-aligned source
position, two taps per axis, weights in 1/2048 steps, OpenCV's rounding of the vertical pass) and
``INTER_NEAREST`` (source pixel ⌊x·w/ow⌋), in numpy; the library calls ``cv2.resize`` itself.
"""

from __future__ import annotations

import numpy as np
import pytest

from daformer_edu.data import Resize
from helpers import cv2_linear_reference, cv2_nearest_reference  # OpenCV's arithmetic, written out


def test_2x_downscale_is_the_rounded_mean_of_each_2x2_block():
    img = (np.arange(16, dtype=np.uint8).reshape(4, 4) * 17)[..., None].repeat(3, axis=2)  # 0, 17, …, 255
    out, _ = Resize((2, 2))(img)
    # By hand: (0 + 17 + 68 + 85) / 4 = 42.5 → 43; (34 + 51 + 102 + 119) / 4 = 76.5 → 77;
    # (136 + 153 + 204 + 221) / 4 = 178.5 → 179; (170 + 187 + 238 + 255) / 4 = 212.5 → 213 (halves round up).
    assert out[..., 0].tolist() == [[43, 77], [179, 213]] and (out == out[..., :1]).all()
    # PIL's antialiased bilinear (the "pillow" backend) blends a 4×4 neighbourhood: other values
    assert not np.array_equal(Resize((2, 2), backend="pillow")(img)[0], out)


def test_non_integer_scale_blends_two_taps_with_2048ths():
    # 5 → 3 columns (and rows): scale 5/3. Source positions (x + 0.5)·5/3 − 0.5 = 1/3, 2, 11/3:
    # x = 0: pixels 0, 1 with weights round(2048·2/3) = 1365, 683; x = 1: pixel 2 alone;
    # x = 2: pixels 3, 4 with 683, 1365.
    row = np.array([10, 50, 90, 130, 170], np.uint8)
    img = np.tile(row[None, :, None], (5, 1, 3))  # [5, 5, 3], rows alike
    out, _ = Resize((3, 3))(img)
    # Horizontal pass (×2048): H = 1365·10 + 683·50 = 47800;  90·2048 = 184320;  683·130 + 1365·170 = 320840.
    # Vertical pass, OpenCV's rounding: each tap ⌊⌊H/16⌋·β / 65536⌋, then ⌊(sum + 2) / 4⌋. Rows 0 and 2 (β = 1365,
    # 683): 47800 → ⌊2987·1365/65536⌋ + ⌊2987·683/65536⌋ = 62 + 31 = 93 → 23;  184320 → 239 + 120 = 359 → 90;
    # 320840 → ⌊20052·1365/65536⌋ + ⌊20052·683/65536⌋ = 417 + 208 = 625 → 156 (the exact blend is 156.66).
    # Row 1 (β = 2048, 0): ⌊20052·2048/65536⌋ = 626 → 157; the others as above, 23 and 90.
    assert out[..., 0].tolist() == [[23, 90, 156], [23, 90, 157], [23, 90, 156]]
    # alternating 0 / 255: H = 683·255 = 174165 at both ends → ⌊10885·1365/65536⌋ + ⌊10885·683/65536⌋ = 226 + 113
    # = 339 → 85 (row 1: 340 → 85); pixel 2 (0) in the middle
    alt = np.tile(np.array([0, 255, 0, 255, 0], np.uint8)[None, :, None], (5, 1, 3))
    assert Resize((3, 3))(alt)[0][0, :, 0].tolist() == [85, 0, 85]
    # PIL's antialiased filter reaches further: 10·4/7 + 50·3/7 = 27.1 at x = 0
    assert Resize((3, 3), backend="pillow")(img)[0][0, 0, 0] == 27


def test_label_nearest_takes_floor_of_x_times_scale():
    label = np.tile(np.arange(5, dtype=np.uint8), (5, 1))  # [5, 5], value = column
    _, out = Resize((3, 3))(np.zeros((5, 5, 3), np.uint8), label)
    assert out[0].tolist() == [0, 1, 3]  # ⌊0⌋, ⌊5/3⌋, ⌊10/3⌋
    assert Resize((3, 3), backend="pillow")(np.zeros((5, 5, 3), np.uint8), label)[1][0].tolist() == [0, 2, 4]
    wide = np.tile(np.arange(8, dtype=np.uint8), (4, 1))  # 2× down: the even columns
    assert Resize((2, 4))(np.zeros((4, 8, 3), np.uint8), wide)[1][0].tolist() == [0, 2, 4, 6]


@pytest.mark.parametrize("hw, bound", [((105, 191), (72, 128)), ((64, 128), (32, 64)), ((37, 53), (20, 31))])
def test_matches_the_written_out_opencv_arithmetic(hw, bound):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (*hw, 3), dtype=np.uint8)
    label = rng.integers(0, 19, hw, dtype=np.uint8)
    t = Resize(bound)
    oh, ow = t.output_size(*hw)
    out_img, out_label = t(img, label)
    assert np.array_equal(out_img, cv2_linear_reference(img, oh, ow))
    assert np.array_equal(out_label, cv2_nearest_reference(label, oh, ow))


def test_input_at_the_output_size_is_returned_untouched_and_bad_backend_fails():
    img = np.random.default_rng(1).integers(0, 256, (16, 32, 3), dtype=np.uint8)
    out, _ = Resize((16, 32))(img)
    assert out is img  # the synthetic pair, rendered at its size, is never resampled
    with pytest.raises(ValueError, match="backend"):
        Resize((16, 32), backend="bicubic")
