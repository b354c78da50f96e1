"""Warmup + poly learning rate (hand-worked, official log value) and DAFormer's AdamW parameter groups."""

import pytest
import torch
from torch import nn

from daformer_edu.uda.schedule import lr_at, param_groups, set_lr


def test_lr_at_matches_the_official_log_and_hand_worked_values():
    # iteration 49 (50th step): 6e-5 · (1 − 49/40000) · (1 − (1 − 49/1500)(1 − 1e-6))
    hand = 6e-5 * (1 - 49 / 40000) * (1 - (1 - 49 / 1500) * (1 - 1e-6))
    assert lr_at(49, 6e-5) == pytest.approx(hand, rel=1e-12)
    assert f"{lr_at(49, 6e-5):.3e}" == "1.958e-06"  # the official training log
    assert lr_at(0, 6e-5) == pytest.approx(6e-5 * 1e-6)  # warmup starts at warmup_ratio · lr
    assert lr_at(1500, 6e-5) == pytest.approx(6e-5 * (1 - 1500 / 40000))  # warmup over: pure poly
    assert lr_at(20000, 6e-5) == pytest.approx(3e-5)
    assert lr_at(40000, 6e-5) == 0.0
    assert lr_at(20000, 6e-5, power=2.0) == pytest.approx(6e-5 * 0.25)
    assert lr_at(10, 1.0, warmup_iters=0, max_iters=100) == pytest.approx(0.9)  # no warmup


def test_lr_is_continuous_at_the_end_of_warmup_and_increasing_before():
    lrs = [lr_at(t, 6e-5) for t in range(0, 1600)]
    assert all(b > a for a, b in zip(lrs[:1499], lrs[1:1500]))
    assert lrs[1500] - lrs[1499] == pytest.approx(0.0, abs=6e-5 / 1000)


def test_lr_at_rejects_out_of_range_iterations():
    with pytest.raises(ValueError, match="iteration"):
        lr_at(40001, 6e-5)
    with pytest.raises(ValueError):
        lr_at(-1, 6e-5)


class _Toy(nn.Module):
    """Named like the official modules: encoder.fc / encoder.norm, head.conv / head.bn."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Module()
        self.encoder.fc, self.encoder.norm = nn.Linear(4, 4), nn.LayerNorm(4)
        self.head = nn.Module()
        self.head.conv, self.head.bn = nn.Conv2d(4, 3, 1), nn.BatchNorm2d(3)


def _mmcv_rule(model, base_lr=6e-5, wd=0.01):
    """Independent re-statement of mmcv's custom_keys: longest key first, first substring match wins."""
    custom = {"head": dict(lr_mult=10.0), "pos_block": dict(decay_mult=0.0), "norm": dict(decay_mult=0.0)}
    keys = sorted(sorted(custom), key=len, reverse=True)
    out = {}
    for name, _ in model.named_parameters():
        lr, decay = base_lr, wd
        for k in keys:
            if k in name:
                lr = base_lr * custom[k].get("lr_mult", 1.0)
                decay = wd * custom[k].get("decay_mult", 1.0)
                break
        out[name] = (lr, decay)
    return out


def _ours(model, groups):
    by_id = {id(p): (g["lr"], g["weight_decay"]) for g in groups for p in g["params"]}
    return {name: by_id[id(p)] for name, p in model.named_parameters()}


def _same(a, b):
    assert a.keys() == b.keys()
    for name in a:
        assert a[name] == pytest.approx(b[name], rel=1e-12), name


def test_param_groups_hand_worked_on_a_toy_model():
    model = _Toy()
    groups = {g["name"]: g for g in param_groups(model)}
    assert [len(groups[n]["params"]) for n in ("encoder", "encoder_norm", "head")] == [2, 2, 4]
    assert groups["encoder"]["params"][1] is model.encoder.fc.bias  # biases ARE decayed (official)
    assert (groups["encoder"]["lr"], groups["encoder"]["weight_decay"]) == (6e-5, 0.01)
    assert (groups["encoder_norm"]["lr"], groups["encoder_norm"]["weight_decay"]) == (6e-5, 0.0)
    assert groups["head"]["lr"] == pytest.approx(6e-4) and groups["head"]["weight_decay"] == 0.01  # BN too
    _same(_ours(model, groups.values()), _mmcv_rule(model))
    torch.optim.AdamW(param_groups(model), lr=6e-5)  # accepted by the optimiser


@pytest.mark.filterwarnings("ignore:build_segmentor")
def test_param_groups_on_the_real_segmentor_follow_the_official_rule():
    from daformer_edu.models import build_segmentor

    model = build_segmentor("mit_b0", "daformer", num_classes=19, embed_dim=32, channels=32)
    groups = param_groups(model)
    _same(_ours(model, groups), _mmcv_rule(model))
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))


def test_param_groups_errors_and_frozen_parameters():
    with pytest.raises(ValueError, match=r"\.encoder"):
        param_groups(nn.Linear(2, 2))
    model = _Toy()
    model.extra = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="outside"):
        param_groups(model)
    model.extra.requires_grad_(False)  # frozen: left out, no error
    model.encoder.norm.requires_grad_(False)
    names = [g["name"] for g in param_groups(model)]
    assert names == ["encoder", "head"]


def test_set_lr_scales_each_group():
    model = _Toy()
    opt = torch.optim.AdamW(param_groups(model), lr=6e-5)
    lrs = set_lr(opt, 49)
    assert lrs[0] == pytest.approx(lr_at(49, 6e-5)) and lrs[-1] == pytest.approx(lr_at(49, 6e-4))
    set_lr(opt, 20000)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([3e-5, 3e-5, 3e-4])
