"""``compare`` says in words what it found; each verdict checked on a case worked out by hand."""

import math

import torch

from daformer_edu.checks import compare


def test_match_exact_and_different(capsys):
    a = torch.tensor([1.0, 2.0, 3.0])
    # Floats within the tolerance: one verdict, whether the last bits agree or not (that depends on the machine).
    assert compare("same", a, a.clone())
    same = capsys.readouterr().out
    assert compare("close", a + torch.tensor([0.0, 2.4e-7, 0.0]), a)
    close = capsys.readouterr().out
    assert same.split("| ", 1)[1] == close.split("| ", 1)[1] == "match within atol 1e-05 + rtol 0.0001·|ref|\n"
    # Bit-equality only when asked for with atol = rtol = 0.
    assert compare("bits", a, a.clone(), atol=0, rtol=0)
    assert capsys.readouterr().out.rstrip().endswith("| exact")
    assert not compare("bits-off", a + torch.tensor([0.0, 2.4e-7, 0.0]), a, atol=0, rtol=0)
    assert "DIFFERENT: 1 of 3 elements off by more than atol 0 + rtol 0·|ref|" in capsys.readouterr().out
    assert not compare("far", a + torch.tensor([0.0, 0.0, 0.5]), a)
    out = capsys.readouterr().out
    assert "DIFFERENT: 1 of 3 elements off" in out and out.rstrip().endswith("largest difference 0.5")


def test_verdict_names_no_position_and_rounds_the_difference(capsys):
    # The position of the largest float difference is arbitrary under round-off noise: never printed.
    ref = torch.zeros(1000)
    theirs = ref.clone()
    theirs[871] = 0.0004731
    assert not compare("noise-free position", theirs, ref)
    out = capsys.readouterr().out
    assert "871" not in out and "largest difference 0.00047" in out


def test_tolerance_is_atol_plus_rtol_times_reference(capsys):
    ref = torch.tensor([1000.0])
    assert compare("rel", ref + 0.05, ref)  # 0.05 ≤ 1e-5 + 1e-4·1000 = 0.10001
    assert not compare("rel-off", ref + 0.2, ref)  # 0.2 > 0.10001
    capsys.readouterr()


def test_nan_in_the_same_place_is_equal_and_said(capsys):
    iou = torch.tensor([50.0, math.nan, 20.0])  # a class absent from both
    assert compare("iou", iou, iou.clone())
    assert "match within atol 1e-05 + rtol 0.0001·|ref| (1 NaN in both, in the same places)" in capsys.readouterr().out
    assert not compare("iou-off", iou, torch.tensor([50.0, 0.0, 20.0]))
    assert "NaN in one and a number in the other at 1 place(s), first at index (1,)" in capsys.readouterr().out


def test_infinities(capsys):
    inf = math.inf
    assert compare("inf", torch.tensor([1.0, inf, -inf]), torch.tensor([1.0, inf, -inf]), atol=0, rtol=0)
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
