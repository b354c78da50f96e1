import torch

from daformer_edu.checks import compare


def test_compare_reports_exact_close_and_mismatch(capsys):
    a = torch.tensor([1.0, 2.0, 3.0])
    assert compare("exact", a, a.clone())
    assert "exact: True" in capsys.readouterr().out
    assert compare("close", a + 1e-7, a)
    out = capsys.readouterr().out
    assert "exact: False" in out and "close: True" in out
    assert not compare("far", a + 0.5, a)
    assert "max diff: 0.5" in capsys.readouterr().out
    assert not compare("shape", a, a[:2])
    assert "shape mismatch" in capsys.readouterr().out


def test_compare_integers_and_sequences(capsys):
    assert compare("ints", torch.tensor([1, 2]), [1, 2])
    assert not compare("ints-off", torch.tensor([1, 3]), torch.tensor([1, 2]))
    assert compare("tuple", (torch.ones(2), torch.zeros(1)), [torch.ones(2), torch.zeros(1)])
    assert not compare("len", (torch.ones(2),), [torch.ones(2), torch.ones(2)])
