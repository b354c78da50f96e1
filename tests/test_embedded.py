"""The shipped "ImageNet" weights (models/embedded.py): small, float16, loaded deterministically by name, a clear
error for encoders without a file, and features that beat random ones on a task pre-training never saw."""

from __future__ import annotations

import os
import warnings

import pytest
import torch
import torch.nn.functional as F

from daformer_edu.data.synthetic import SyntheticDomain
from daformer_edu.models import build_segmentor, mit_b0
from daformer_edu.models.embedded import EMBEDDED_WEIGHTS, embedded_meta, embedded_weights_path, load_embedded_weights
from daformer_edu.pretrain import linear_probe
from daformer_edu.train import make_config


def test_the_file_is_small_float16_and_says_how_it_was_made():
    path = embedded_weights_path("mit_b0")
    assert os.path.getsize(path) <= 10 * 2**20
    raw = torch.load(path, map_location="cpu", weights_only=True)
    assert all(v.dtype == torch.float16 for v in raw["state_dict"].values())
    meta = embedded_meta("mit_b0")
    assert meta["command"].startswith("python -m daformer_edu.pretrain --encoder mit_b0")
    assert meta["seconds"] > 0 and meta["config"]["encoder"] == "mit_b0"
    assert set(raw["state_dict"]) == set(mit_b0().state_dict())


def test_loading_is_deterministic_and_exact():
    weights = load_embedded_weights("mit_b0")
    nets = []
    for seed in (0, 1):  # a different random init before loading must not matter
        torch.manual_seed(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # "training from scratch" must not be said
            nets.append(
                build_segmentor("mit_b0", "daformer", num_classes=19, pretrained="embedded", embed_dim=32, channels=32)
            )
    a, b = nets[0].encoder.state_dict(), nets[1].encoder.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert all(torch.equal(a[k], weights[k]) for k in a)
    assert all(torch.equal(v, weights[k]) for k, v in load_embedded_weights("mit_b0").items())


def test_an_encoder_without_shipped_weights_gets_a_list_of_those_that_exist():
    assert list(EMBEDDED_WEIGHTS) == ["mit_b0"]
    with pytest.raises(ValueError, match=r"ships weights for \['mit_b0'\] only, not for 'mit_b2'"):
        build_segmentor("mit_b2", "daformer", num_classes=19, pretrained="embedded")
    with pytest.raises(ValueError, match=r"encoder='mit_b5'.*\['mit_b0'\]"):
        make_config("smoke", encoder="mit_b5", pretrained="embedded")
    assert make_config("smoke", pretrained="embedded").pretrained == "embedded"


@pytest.mark.slow
@pytest.mark.parametrize("domain", ["source", "target"])
def test_shipped_features_beat_random_ones_on_a_linear_probe(domain):
    torch.manual_seed(0)
    random_encoder = mit_b0()
    shipped = build_segmentor("mit_b0", "daformer", num_classes=19, pretrained="embedded").encoder
    acc_random = linear_probe(random_encoder, domain)
    acc_shipped = linear_probe(shipped, domain)
    assert acc_shipped > acc_random + 5, (acc_shipped, acc_random)


@pytest.mark.slow
def test_linear_probe_on_an_encoder_that_sees_the_label():
    """Control: an 'encoder' whose features are the one-hot label itself must be probed to (nearly) 100 %,
    and one whose features are constant to the majority class only."""

    ds = SyntheticDomain("source", "val", size=(128, 256), length=40)
    lookup = {ds[i]["image"].double().sum().item(): ds[i]["label"] for i in range(40)}

    class Oracle(torch.nn.Module):
        def forward(self, x):
            y = lookup[x[0].double().sum().item()].clone()
            y[y == 255] = 0
            onehot = F.one_hot(y, 19).permute(2, 0, 1)[None].float()  # [1, 19, H, W]
            # cell centres (4 + 8k) of the stride-8 grid, as the probe reads its labels
            return [
                onehot,
                onehot[..., 4::8, 4::8],
                onehot[..., 4::8, 4::8][..., ::2, ::2] * 0,
                onehot[..., 4::8, 4::8][..., ::4, ::4] * 0,
            ]

    assert linear_probe(Oracle(), "source") > 99
