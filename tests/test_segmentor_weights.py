"""The released DAFormer checkpoint layout loads into EncoderDecoder, every tensor where it belongs.

The official key layout is written out by hand in ``tests/helpers.py`` from the official code (mmseg
``EncoderDecoder`` with ``backbone`` = SegFormer's ``MixVisionTransformer``, ``decode_head`` = ``DAFormerHead``
with a ``DepthwiseSeparableASPPModule`` fusion of mmcv ``ConvModule`` s named ``conv`` / ``bn``), together with
where each key belongs in our module. The package's own renaming rules are not used to build it.
"""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F

from daformer_edu.models import build_segmentor
from daformer_edu.models.weights import (
    SegmentorWeightsError,
    load_converted_state,
    load_segmentor_weights,
    segmentor_state_dict,
)
from helpers import DILATIONS, official_to_ours  # the official key layout, written out by hand


def _model(num_classes=19, embed_dim=32, channels=24):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_segmentor("mit_b0", num_classes=num_classes, embed_dim=embed_dim, channels=channels).eval()


def official_checkpoint(model, seed=0, prefixes=("model", "ema_model", "imnet_model")):
    """An mmseg UDA checkpoint in the official layout: distinct random tensors per prefix and key."""
    g = torch.Generator().manual_seed(seed)
    shapes = {k: v.shape for k, v in model.state_dict().items()}
    sd = {}
    for prefix in prefixes:
        for off, ours in official_to_ours().items():
            if prefix == "imnet_model" and not off.startswith("backbone."):
                continue  # the FD model: an encoder only... and the official one carries a head too; keep it short
            if off.endswith("num_batches_tracked"):
                t = torch.tensor(int(torch.randint(1, 10**6, (1,), generator=g)), dtype=torch.long)
            elif off.endswith("running_var"):
                t = torch.rand(shapes[ours], generator=g) + 0.5
            else:
                t = torch.randn(shapes[ours], generator=g)
            sd[f"{prefix}.{off}"] = t
    return {"state_dict": sd, "meta": {"CLASSES": ("road", "sidewalk"), "iter": 40000, "mmseg_version": "0.16.0"}}


def test_official_mapping_covers_our_module_exactly():
    # the hand-written official layout names every tensor of our segmentor once (none left over)
    model = _model()
    mapping = official_to_ours()
    assert len(set(mapping.values())) == len(mapping)
    assert set(mapping.values()) == set(model.state_dict())


@pytest.mark.parametrize("which", ["model", "ema_model"])
def test_every_tensor_lands_where_it_belongs(which):
    model = _model()
    ckpt = official_checkpoint(model)
    load_segmentor_weights(model, ckpt, which=which)
    ours = model.state_dict()  # parameters and BN buffers (running stats, num_batches_tracked)
    for off, key in official_to_ours().items():
        assert torch.equal(ours[key], ckpt["state_dict"][f"{which}.{off}"]), f"{which}.{off} did not land in {key}"


def test_plain_state_dict_file_and_wrapped_all_accepted(tmp_path):
    ref = _model()
    ckpt = official_checkpoint(ref)
    load_segmentor_weights(ref, ckpt)
    for source in (ckpt["state_dict"], {"state_dict": ckpt["state_dict"]}, tmp_path / "latest.pth"):
        if not isinstance(source, dict):
            torch.save(ckpt, source)
        model = _model()
        load_segmentor_weights(model, source)
        for k, v in ref.state_dict().items():
            assert torch.equal(model.state_dict()[k], v), k
    # a single mmseg segmentor without the UDA wrapper (backbone.*, decode_head.* at the top)
    single = {k[len("model.") :]: v for k, v in ckpt["state_dict"].items() if k.startswith("model.")}
    model = _model()
    load_segmentor_weights(model, single)
    assert torch.equal(model.head.classifier.weight, single["decode_head.conv_seg.weight"])
    with pytest.raises(SegmentorWeightsError, match="single model"):
        load_segmentor_weights(_model(), single, which="ema_model")


def test_loaded_head_computes_the_official_forward():
    # the official DAFormerHead forward written with torch.nn.functional on the official tensors
    model = _model()
    ckpt = official_checkpoint(model)
    load_segmentor_weights(model, ckpt)
    w = {k[len("model.decode_head.") :]: v for k, v in ckpt["state_dict"].items() if k.startswith("model.decode_head.")}
    feats = [torch.randn(2, c, 16 // 2**i, 24 // 2**i) for i, c in enumerate([32, 64, 160, 256])]

    def bn(x, p):
        return F.batch_norm(
            x, w[p + "running_mean"], w[p + "running_var"], w[p + "weight"], w[p + "bias"], training=False, eps=1e-5
        )

    embeds = []
    for i, f in enumerate(feats):
        x = f.flatten(2).transpose(1, 2) @ w[f"embed_layers.{i}.proj.weight"].T + w[f"embed_layers.{i}.proj.bias"]
        x = x.transpose(1, 2).reshape(2, -1, *f.shape[-2:])
        embeds.append(F.interpolate(x, size=(16, 24), mode="bilinear", align_corners=False) if i else x)
    x = torch.cat(embeds, dim=1)  # _c[0], _c[1], _c[2], _c[3]
    outs = []
    for j, d in enumerate(DILATIONS):
        p = f"fuse_layer.aspp_modules.{j}."
        if d == 1:
            outs.append(F.relu(bn(F.conv2d(x, w[p + "conv.weight"]), p + "bn.")))
        else:
            y = F.conv2d(x, w[p + "depthwise_conv.conv.weight"], padding=d, dilation=d, groups=x.shape[1])
            y = F.relu(bn(y, p + "depthwise_conv.bn."))
            outs.append(F.relu(bn(F.conv2d(y, w[p + "pointwise_conv.conv.weight"]), p + "pointwise_conv.bn.")))
    y = F.relu(
        bn(F.conv2d(torch.cat(outs, 1), w["fuse_layer.bottleneck.conv.weight"], padding=1), "fuse_layer.bottleneck.bn.")
    )
    expected = F.conv2d(y, w["conv_seg.weight"], w["conv_seg.bias"])
    with torch.no_grad():
        got = model.head(feats)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


def test_unknown_and_missing_keys_are_listed():
    ckpt = official_checkpoint(_model())
    sd = dict(ckpt["state_dict"])
    sd["model.decode_head.fuse_layer.image_pool.1.conv.weight"] = torch.zeros(3)
    del sd["model.decode_head.fuse_layer.bottleneck.bn.running_var"]
    with pytest.raises(SegmentorWeightsError) as e:
        load_segmentor_weights(_model(), sd)
    msg = str(e.value)
    assert "model.decode_head.fuse_layer.image_pool.1.conv.weight" in msg and "unexpected" in msg
    assert "head.fusion.bottleneck.1.running_var" in msg and "missing" in msg


def test_convert_then_load_in_two_steps_as_evaluate_does():
    # segmentor_state_dict converts (our keys, and their checkpoint names); load_converted_state loads strictly
    ckpt = official_checkpoint(_model(), seed=3)
    state, origin = segmentor_state_dict(ckpt, "ema_model")
    assert origin["head.classifier.weight"] == "ema_model.decode_head.conv_seg.weight"
    model = load_converted_state(_model(), state, origin, "two steps")
    assert torch.equal(
        model.state_dict()["head.classifier.weight"], ckpt["state_dict"]["ema_model.decode_head.conv_seg.weight"]
    )
    with pytest.raises(SegmentorWeightsError, match=r"^two steps: .*shape mismatch.*ema_model\.decode_head\.conv_seg"):
        load_converted_state(_model(num_classes=16), state, origin, "two steps")


def test_shape_mismatch_and_absent_which_are_clear_errors():
    ckpt = official_checkpoint(_model())
    with pytest.raises(SegmentorWeightsError, match="shape mismatch.*conv_seg"):
        load_segmentor_weights(_model(num_classes=16), ckpt)
    with pytest.raises(SegmentorWeightsError) as e:
        load_segmentor_weights(_model(), ckpt, which="teacher")
    assert "'teacher.*'" in str(e.value) and "['ema_model', 'imnet_model', 'model']" in str(e.value)
    with pytest.raises(FileNotFoundError, match="no checkpoint file"):
        load_segmentor_weights(_model(), "/nonexistent/latest.pth")


def test_own_trainer_checkpoint_student_and_teacher():
    student, teacher = _model(), _model()
    for p in teacher.parameters():
        p.data.add_(1.0)
    ckpt = {"model": student.state_dict(), "teacher": teacher.state_dict(), "config": {}, "iteration": 3}
    for which, ref in (("model", student), ("ema_model", teacher)):
        model = _model()
        load_segmentor_weights(model, ckpt, which=which)
        for k, v in ref.state_dict().items():
            assert torch.equal(model.state_dict()[k], v), (which, k)
