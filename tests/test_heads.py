"""Decode heads and the segmentor: structure from the DAFormer paper, a hand-written forward, receptive fields.

SegFormerHead against HF's SegformerDecodeHead is in test_parity_hf.py.
"""

import warnings

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from daformer_edu.models import DAFormerHead, EncoderDecoder, SegFormerHead, build_segmentor, mit_b0
from daformer_edu.models.heads import ContextAwareFusion, ContextBranch

DIMS_B5 = [64, 128, 320, 512]


def _feats(dims, hw=(25, 33), batch=2):
    h, w = hw
    out = []
    for c in dims:
        out.append(torch.randn(batch, c, h, w))
        h, w = (h + 1) // 2, (w + 1) // 2
    return out


def _randomize_bn_(module: nn.Module, seed: int = 0) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(1 + 0.3 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.3 * torch.randn(m.bias.shape, generator=g))
                m.running_mean.copy_(0.2 * torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
    return module


def test_daformer_head_parameter_count_from_the_paper():
    head = DAFormerHead(DIMS_B5, num_classes=19)
    C, E, K = 256, 256, 19
    embeds = sum(c * E + E for c in DIMS_B5)
    cat = 4 * E
    bn = lambda n: 2 * n  # noqa: E731  (weight + bias)
    branch_1x1 = cat * C + bn(C)
    branch_sep = cat * 9 + bn(cat) + cat * C + bn(C)  # depthwise 3×3 + BN, pointwise 1×1 + BN
    bottleneck = 4 * C * C * 9 + bn(C)
    classifier = C * K + K
    expected = embeds + branch_1x1 + 3 * branch_sep + bottleneck + classifier
    assert sum(p.numel() for p in head.parameters()) == expected


def test_daformer_head_structure():
    head = DAFormerHead(DIMS_B5)
    assert [type(e) for e in head.embeds] == [nn.Linear] * 4 and [e.out_features for e in head.embeds] == [256] * 4
    branches = head.fusion.branches
    assert [b.dilation for b in branches] == [1, 6, 12, 18]
    assert branches[0].depthwise is None and branches[0].pointwise[0].kernel_size == (1, 1)
    for b, d in zip(branches[1:], [6, 12, 18]):
        conv = b.depthwise[0]
        assert conv.kernel_size == (3, 3) and conv.dilation == (d, d) and conv.groups == 1024
        assert isinstance(b.depthwise[1], nn.BatchNorm2d) and isinstance(b.depthwise[2], nn.ReLU)
        assert b.pointwise[0].kernel_size == (1, 1) and b.pointwise[0].out_channels == 256
    bott = head.fusion.bottleneck[0]
    assert bott.kernel_size == (3, 3) and (bott.in_channels, bott.out_channels) == (1024, 256)
    assert isinstance(head.dropout, nn.Dropout2d) and head.dropout.p == 0.1
    assert not any(isinstance(m, nn.AdaptiveAvgPool2d) for m in head.modules())  # no image-pooling branch


def test_daformer_head_matches_hand_written_forward():
    dims = [32, 64, 160, 256]
    head = _randomize_bn_(DAFormerHead(dims, num_classes=5, embed_dim=16, channels=8), seed=1).eval()
    feats = _feats(dims)
    with torch.no_grad():
        ups = []
        for f, lin in zip(feats, head.embeds):
            e = torch.einsum("bchw,oc->bohw", f, lin.weight) + lin.bias[:, None, None]
            ups.append(F.interpolate(e, size=(25, 33), mode="bilinear", align_corners=False))
        x = torch.cat(ups, 1)  # [c1, c2, c3, c4]

        def cbr(seq, inp, dilation=1, groups=1):
            conv, bn = seq[0], seq[1]
            pad = dilation * (conv.kernel_size[0] - 1) // 2
            y = F.conv2d(inp, conv.weight, None, padding=pad, dilation=dilation, groups=groups)
            return F.relu(F.batch_norm(y, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps))

        br = head.fusion.branches
        outs = [cbr(br[0].pointwise, x)]
        for b, d in zip(br[1:], [6, 12, 18]):
            outs.append(cbr(b.pointwise, cbr(b.depthwise, x, dilation=d, groups=x.shape[1])))
        y = cbr(head.fusion.bottleneck, torch.cat(outs, 1))
        ref = F.conv2d(y, head.classifier.weight, head.classifier.bias)
        mine = head(feats)
        logits, inner = head(feats, return_features=True)
    assert mine.shape == (2, 5, 25, 33)
    torch.testing.assert_close(mine, ref, atol=1e-5, rtol=1e-4)
    # the inner maps are the hand-written ones: the concatenated embeddings and the fusion output
    assert set(inner) == {"embed", "fused"} and torch.equal(logits, mine)
    assert inner["embed"].shape == (2, 4 * 16, 25, 33) and inner["fused"].shape == (2, 8, 25, 33)
    torch.testing.assert_close(inner["embed"], x, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(inner["fused"], y, atol=1e-5, rtol=1e-4)


def test_daformer_head_return_features_keeps_the_logits_bit_for_bit():
    dims = [32, 64, 160, 256]
    head = _randomize_bn_(DAFormerHead(dims, num_classes=5, embed_dim=16, channels=8), seed=2)
    feats = _feats(dims)
    with torch.no_grad():
        plain = head.eval()(feats)
        logits, inner = head(feats, return_features=True)
        assert torch.equal(logits, plain)  # eval: the same forward pass, nothing recomputed
        assert torch.equal(head.classifier(inner["fused"]), plain)  # the classifier reads "fused" (dropout is off)
        head.train()  # train: dropout draws from torch's generator, the same draws in both calls
        torch.manual_seed(5)
        plain = head(feats)
        torch.manual_seed(5)
        logits, _ = head(feats, return_features=True)
    assert torch.equal(logits, plain)
    assert not torch.equal(head.eval()(feats), plain)  # control: dropout did act in train mode


@pytest.mark.parametrize("dilation", [1, 6, 12])
def test_context_branch_sees_a_dilated_window(dilation):
    """A single perturbed input pixel changes the branch output exactly on the 3×3 taps spaced d apart."""
    branch = _randomize_bn_(ContextBranch(4, 3, dilation), seed=dilation).eval()
    x = torch.randn(1, 4, 41, 41)
    x2 = x.clone()
    x2[0, :, 20, 20] += 5.0
    with torch.no_grad():
        changed = (branch(x2) - branch(x)).abs().amax(1)[0] > 0  # [41, 41]
    ys, xs = torch.nonzero(changed, as_tuple=True)
    offsets = {(int(y) - 20, int(x) - 20) for y, x in zip(ys, xs)}
    if dilation == 1:
        assert offsets == {(0, 0)} and branch.context_size == 1
    else:
        taps = {(dy * dilation, dx * dilation) for dy in (-1, 0, 1) for dx in (-1, 0, 1)}
        assert offsets <= taps and (0, 0) in offsets and len(offsets) >= 5
        assert branch.context_size == 2 * dilation + 1


def test_fusion_branches_can_be_inspected():
    fusion = ContextAwareFusion(16, 8).eval()
    x = torch.randn(1, 16, 20, 20)
    outs = fusion.forward_branches(x)
    assert [o.shape for o in outs] == [(1, 8, 20, 20)] * 4
    torch.testing.assert_close(fusion(x), fusion.bottleneck(torch.cat(outs, 1)))


def test_segformer_head_shape_and_order():
    head = SegFormerHead([32, 64, 160, 256], num_classes=3, embed_dim=8).eval()
    assert head.fuse[0].in_channels == 32 and head.fuse[0].kernel_size == (1, 1)
    assert head(_feats([32, 64, 160, 256])).shape == (2, 3, 25, 33)


@pytest.mark.parametrize("hw", [(97, 131), (64, 64)])
def test_encoder_decoder_upsamples_logits_to_input(hw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_segmentor("mit_b0", num_classes=4, embed_dim=32, channels=16).eval()
    x = torch.randn(2, 3, *hw)
    with torch.no_grad():
        logits = model(x)
        feats = model.extract_features(x)
        ref = F.interpolate(model.head(feats), size=hw, mode="bilinear", align_corners=False)
        both, feats2 = model.forward_with_features(x)
    assert logits.shape == (2, 4, *hw)
    torch.testing.assert_close(logits, ref)
    torch.testing.assert_close(both, logits)
    assert len(feats) == 4 and torch.equal(feats2[3], feats[3])
    assert isinstance(model.encoder, nn.Module) and isinstance(model.head, DAFormerHead)


def test_build_segmentor_defaults_are_daformer():
    with pytest.warns(UserWarning, match="from scratch"):
        model = build_segmentor()
    assert isinstance(model, EncoderDecoder)
    assert model.encoder.embed_dims == DIMS_B5 and [len(s.blocks) for s in model.encoder.stages] == [3, 6, 40, 3]
    assert isinstance(model.head, DAFormerHead) and model.head.classifier.out_channels == 19
    assert [e.out_features for e in model.head.embeds] == [256] * 4
    assert model.head.fusion.bottleneck[0].out_channels == 256


def test_build_segmentor_options_and_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        enc = mit_b0()
        m = build_segmentor(enc, head="segformer", num_classes=3, head_kwargs={"embed_dim": 16})
        assert m.encoder is enc and isinstance(m.head, SegFormerHead) and m.head.embeds[0].out_features == 16
        m = build_segmentor("mit_b0", encoder_kwargs={"drop_path_rate": 0.0}, embed_dim=8, channels=8)
        assert m.encoder.stages[3].blocks[1].drop_path.p == 0.0 and m.head.fusion.bottleneck[0].out_channels == 8
        head = SegFormerHead([32, 64, 160, 256], num_classes=2, embed_dim=8)
        assert build_segmentor("mit_b0", head=head).head is head
        with pytest.raises(ValueError, match="mit_b9"):
            build_segmentor("mit_b9")
        with pytest.raises(ValueError, match="unknown"):
            build_segmentor("mit_b0", head="fcn")
        with pytest.raises(ValueError, match="embed_dims"):
            build_segmentor(nn.Conv2d(3, 3, 1))


def test_pretrained_none_says_so_once_per_call_site():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        for _ in range(3):
            build_segmentor("mit_b0", num_classes=2, embed_dim=8, channels=8)
    scratch = [w for w in caught if "from scratch" in str(w.message)]
    assert len(scratch) == 1 and scratch[0].filename == __file__


# ---------------------------------------------------------------------------------------------- initialisation
def test_mmcv_init_statistics():
    # mmcv ConvModule: kaiming_normal_(mode="fan_out", nonlinearity="relu") → std √(2 / (C_out·k·k)); BN 1 / 0;
    # mmseg BaseDecodeHead: conv_seg ~ N(0, 0.01), bias 0; the embedding nn.Linear keeps PyTorch's default.
    from daformer_edu.models.heads import init_head_like_mmcv

    torch.manual_seed(0)
    head = DAFormerHead([32, 64, 160, 256], num_classes=19, embed_dim=64, channels=96)
    embeds_before = [e.weight.clone() for e in head.embeds]
    assert init_head_like_mmcv(head) is head
    convs = [m for m in head.modules() if isinstance(m, nn.Conv2d) and m is not head.classifier]
    assert len(convs) == 1 + 3 * 2 + 1  # 1×1 branch, 3 × (depthwise, pointwise), bottleneck
    for conv in convs:
        w = conv.weight
        fan_out = w.shape[0] * w.shape[2] * w.shape[3]  # C_out·k·k (groups not divided out, as PyTorch)
        expected = (2.0 / fan_out) ** 0.5
        assert abs(w.std().item() / expected - 1) < 0.1, (tuple(w.shape), w.std().item(), expected)
        assert abs(w.mean().item()) < 0.1 * expected
        assert conv.bias is None
    for bn in (m for m in head.modules() if isinstance(m, nn.BatchNorm2d)):
        assert torch.equal(bn.weight, torch.ones_like(bn.weight)) and torch.equal(bn.bias, torch.zeros_like(bn.bias))
    assert abs(head.classifier.weight.std().item() - 0.01) < 0.001
    assert torch.equal(head.classifier.bias, torch.zeros(19))
    for e, before in zip(head.embeds, embeds_before):
        assert torch.equal(e.weight, before)


def test_build_segmentor_head_init_option():
    from daformer_edu.train import make_config

    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mmcv = build_segmentor("mit_b0", embed_dim=32, channels=48)  # the default: the official initialisation
        torch_default = build_segmentor("mit_b0", embed_dim=32, channels=48, head_init="pytorch")
    # PyTorch's default classifier: U(±1/√fan_in), std 1/√(3·48) ≈ 0.083 with a non-zero bias; mmcv: N(0, 0.01)
    assert abs(torch_default.head.classifier.weight.std().item() - (1 / (3 * 48)) ** 0.5) < 0.01
    assert torch_default.head.classifier.bias.abs().sum() > 0
    assert abs(mmcv.head.classifier.weight.std().item() - 0.01) < 0.002
    assert torch.equal(mmcv.head.classifier.bias, torch.zeros(19))
    with pytest.raises(ValueError, match="head_init='kaiming'.*'mmcv', 'pytorch'"):
        build_segmentor("mit_b0", head_init="kaiming")
    assert make_config("gpu-full").head_init == "mmcv"  # the official recipe
    with pytest.raises(ValueError, match="head_init"):
        make_config("smoke", head_init="xavier")
