"""ema_update: α = min(1 − 1/(t+1), α_max), φ ← αφ + (1−α)θ, buffers copied; hand-worked numbers."""

import copy

import pytest
import torch
from torch import nn

from daformer_edu.uda.ema import ema_alpha, ema_update


def _scalar_net(value: float) -> nn.Module:
    net = nn.Sequential(nn.Linear(1, 1, bias=False), nn.BatchNorm1d(1))
    with torch.no_grad():
        net[0].weight.fill_(value)
        net[1].running_mean.fill_(value)
    return net


def test_alpha_schedule_uses_min_not_max():
    assert ema_alpha(0) == 0.0
    assert ema_alpha(1) == 0.5
    assert ema_alpha(3) == 0.75
    assert ema_alpha(998) == 1 - 1 / 999  # 0.998999 < 0.999: not capped yet
    assert ema_alpha(999) == pytest.approx(0.999)
    assert ema_alpha(10**6) == 0.999  # capped: max(·) would have given 0.999999
    assert ema_alpha(10, alpha_max=0.5) == 0.5
    with pytest.raises(ValueError):
        ema_alpha(-1)


def test_iteration_zero_makes_teacher_equal_student():
    torch.manual_seed(1)
    student = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 2, 1))
    teacher = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 2, 1))  # different init
    student(torch.randn(2, 3, 8, 8))  # give the student non-trivial BN running stats
    alpha = ema_update(teacher, student, iteration=0)
    assert alpha == 0.0
    for (n, a), b in zip(teacher.state_dict().items(), student.state_dict().values()):
        assert torch.equal(a, b), n


def test_hand_worked_blend_and_buffer_copy():
    teacher, student = _scalar_net(2.0), _scalar_net(4.0)
    assert ema_update(teacher, student, iteration=1) == 0.5  # 0.5*2 + 0.5*4 = 3
    assert teacher[0].weight.item() == pytest.approx(3.0)
    assert teacher[1].running_mean.item() == 4.0  # buffers are copied, not averaged
    teacher = _scalar_net(2.0)
    ema_update(teacher, student, iteration=3)  # α = 0.75: 1.5 + 1.0
    assert teacher[0].weight.item() == pytest.approx(2.5)
    teacher = _scalar_net(2.0)
    ema_update(teacher, student, iteration=3, alpha_max=0.6)  # α = 0.6: 1.2 + 1.6
    assert teacher[0].weight.item() == pytest.approx(2.8)


def test_large_iteration_uses_alpha_max():
    teacher, student = _scalar_net(2.0), _scalar_net(4.0)
    alpha = ema_update(teacher, student, iteration=100_000)
    assert alpha == 0.999
    assert teacher[0].weight.item() == pytest.approx(0.999 * 2 + 0.001 * 4)
    assert not teacher[0].weight.requires_grad or teacher[0].weight.grad is None


def test_architecture_mismatch_is_an_error():
    student = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="deepcopy"):
        ema_update(nn.Linear(2, 2, bias=False), student, 5)
    with pytest.raises(ValueError, match="shape"):
        ema_update(nn.Linear(2, 3), student, 5)
    ema_update(copy.deepcopy(student), student, 5)  # the intended use works


def test_many_tensors_match_the_per_tensor_formula_bit_for_bit():
    # The update runs as one batched (_foreach_) operation; it must give exactly the bits of the
    # plain per-tensor formula φ·α + θ·(1 − α) written out here, for every tensor of a real network.
    torch.manual_seed(0)
    student = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.GELU(), nn.Conv2d(8, 5, 1), nn.LayerNorm(5))
    teacher = copy.deepcopy(student)
    with torch.no_grad():
        for p in student.parameters():
            p.add_(torch.randn_like(p))
    expected = {
        n: p.detach().clone().mul_(0.75).add_(dict(student.named_parameters())[n].detach(), alpha=0.25)
        for n, p in teacher.named_parameters()
    }
    ema_update(teacher, student, iteration=3)  # α = 0.75
    for n, p in teacher.named_parameters():
        assert torch.equal(p, expected[n]), n


def _tiny_segmentor(drop: bool):
    from daformer_edu.models import build_segmentor

    torch.manual_seed(0)
    kw = {} if drop else dict(encoder_kwargs=dict(drop_path_rate=0.0), head_kwargs=dict(dropout=0.0))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_segmentor("mit_b0", "daformer", num_classes=19, embed_dim=16, channels=16, **kw)


def test_train_mode_teacher_is_deterministic_and_uses_batch_statistics():
    from daformer_edu.uda.ema import set_teacher_mode

    teacher = _tiny_segmentor(drop=True)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    # The bug this guards against: train(True) alone also switches DropPath and Dropout2d on.
    teacher.train(True)
    with torch.no_grad():
        assert not torch.equal(teacher(x), teacher(x)), "control: dropout should make two train-mode passes differ"
    set_teacher_mode(teacher, batch_norm_batch_stats=True)
    with torch.no_grad():
        a, b = teacher(x), teacher(x)
    assert torch.equal(a, b)
    # Independent reference: the same weights in a network built with no dropout / drop-path at all, in
    # train mode, normalises with the batch's statistics; that is what the teacher must compute.
    reference = _tiny_segmentor(drop=False)
    reference.load_state_dict(teacher.state_dict())
    reference.train(True)
    with torch.no_grad():
        torch.testing.assert_close(a, reference(x), rtol=0, atol=1e-6)
        # and batch statistics are really used: running statistics (eval mode) give other logits
        assert (a - reference.eval()(x)).abs().max() > 1e-3
    assert any(isinstance(m, nn.BatchNorm2d) and m.training for m in teacher.modules())


def test_eval_mode_teacher_uses_running_statistics():
    from daformer_edu.uda.ema import set_teacher_mode

    teacher = _tiny_segmentor(drop=True)
    set_teacher_mode(teacher, batch_norm_batch_stats=False)
    assert not any(m.training for m in teacher.modules())
