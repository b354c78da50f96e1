"""``compare`` says in words what it found; each verdict checked on a case worked out by hand."""
import math

import torch

from daformer_edu.checks import compare


def test_exact_close_and_different(capsys):
    a = torch.tensor([1.0, 2.0, 3.0])
    assert compare("exact", a, a.clone())
    assert capsys.readouterr().out.rstrip().endswith("| exact")
    # 2.4e-7 off: close, and the difference is reported rounded up to a power of ten.
    assert compare("close", a + torch.tensor([0.0, 2.4e-7, 0.0]), a)
    assert "close: equal up to 1e-06" in capsys.readouterr().out
    assert not compare("far", a + torch.tensor([0.0, 0.0, 0.5]), a)
    out = capsys.readouterr().out
    assert "DIFFERENT: 1 of 3 elements off" in out and "max diff 0.5 at index (2,)" in out


def test_tolerance_is_atol_plus_rtol_times_reference(capsys):
    ref = torch.tensor([1000.0])
    assert compare("rel", ref + 0.05, ref)             # 0.05 ≤ 1e-5 + 1e-4·1000 = 0.10001
    assert not compare("rel-off", ref + 0.2, ref)      # 0.2 > 0.10001
    capsys.readouterr()


def test_nan_in_the_same_place_is_equal_and_said(capsys):
    iou = torch.tensor([50.0, math.nan, 20.0])         # a class absent from both
    assert compare("iou", iou, iou.clone())
    assert "exact (1 NaN in both, in the same places)" in capsys.readouterr().out
    assert not compare("iou-off", iou, torch.tensor([50.0, 0.0, 20.0]))
    assert "NaN in one and a number in the other at 1 place(s), first at index (1,)" in capsys.readouterr().out


def test_infinities(capsys):
    inf = math.inf
    assert compare("inf", torch.tensor([1.0, inf, -inf]), torch.tensor([1.0, inf, -inf]))
    assert capsys.readouterr().out.rstrip().endswith("| exact")
    assert not compare("inf-off", torch.tensor([1.0, inf]), torch.tensor([1.0, 5.0]))
    assert "DIFFERENT: 1 of 2 elements off" in capsys.readouterr().out


def test_integers_shapes_and_sequences(capsys):
    assert compare("ints", torch.tensor([1, 2]), [1, 2])
    assert not compare("ints-off", torch.tensor([1, 3, 5]), torch.tensor([1, 2, 5]))
    assert "1 of 3 elements differ, max diff 1, first at index (1,)" in capsys.readouterr().out
    assert not compare("shape", torch.ones(3), torch.ones(2))
    assert "DIFFERENT: shape (3,) vs reference shape (2,)" in capsys.readouterr().out
    assert compare("tuple", (torch.ones(2), torch.zeros(1)), [torch.ones(2), torch.zeros(1)])
    assert not compare("len", (torch.ones(2),), [torch.ones(2), torch.ones(2)])
    assert "DIFFERENT: length 1 vs reference length 2" in capsys.readouterr().out
