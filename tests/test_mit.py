"""Mix Transformer: parameter counts, shapes, and each layer against a hand-written version of its equation.

Parity with HF transformers / timm lives in test_parity_hf.py / test_parity_timm.py.
"""

import math

import pytest
import torch
import torch.nn as nn

from daformer_edu.models import mit
from daformer_edu.models.mit import (
    Block,
    DropPath,
    EfficientSelfAttention,
    MiTConfig,
    MixFFN,
    MixTransformer,
    OverlapPatchEmbed,
)
from helpers import randomize_

# Encoder parameters of the same architectures in HF transformers (SegformerModel, no head).
PARAM_COUNTS = {
    "mit_b0": 3_319_392,
    "mit_b1": 13_151_424,
    "mit_b2": 24_196_288,
    "mit_b3": 44_072_128,
    "mit_b4": 60_842_688,
    "mit_b5": 81_443_008,
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(PARAM_COUNTS))
def test_parameter_counts_match_hf(name):
    encoder = getattr(mit, name)()
    assert sum(p.numel() for p in encoder.parameters()) == PARAM_COUNTS[name]


def test_configs_follow_segformer_table():
    assert mit.mit_b0().embed_dims == [32, 64, 160, 256]
    depths = {"mit_b1": [2, 2, 2, 2], "mit_b2": [3, 4, 6, 3], "mit_b3": [3, 4, 18, 3], "mit_b5": [3, 6, 40, 3]}
    for name, d in depths.items():
        cfg = mit.MIT_CONFIGS[name]
        assert cfg.depths == d and cfg.embed_dims == [64, 128, 320, 512]
        assert cfg.num_heads == [1, 2, 5, 8] and cfg.reduction_ratios == [8, 4, 2, 1] and cfg.mlp_ratios == [4] * 4


@pytest.mark.parametrize("hw", [(97, 131), (33, 65), (64, 64), (32, 45)])
def test_output_shapes_follow_conv_arithmetic(hw):
    encoder = mit.mit_b0().eval()
    with torch.no_grad():
        feats = encoder(torch.randn(1, 3, *hw))
    h, w = hw
    h, w = (h + 2 * 3 - 7) // 4 + 1, (w + 2 * 3 - 7) // 4 + 1  # stage 1: kernel 7, stride 4, padding 3
    expected = []
    for i, c in enumerate([32, 64, 160, 256]):
        if i > 0:
            h, w = (h + 2 - 3) // 2 + 1, (w + 2 - 3) // 2 + 1  # kernel 3, stride 2, padding 1
        expected.append((1, c, h, w))
    assert [tuple(f.shape) for f in feats] == expected
    # the same numbers are the ceilings of H / 4, H / 8, H / 16, H / 32
    assert [f.shape[-2] for f in feats] == [math.ceil(hw[0] / s) for s in (4, 8, 16, 32)]
    assert all(f.is_contiguous() for f in feats)


def test_patch_embed_kernels_and_no_positional_parameters():
    encoder = mit.mit_b2()
    convs = [
        (s.patch_embed.proj.kernel_size[0], s.patch_embed.proj.stride[0], s.patch_embed.proj.padding[0])
        for s in encoder.stages
    ]
    assert convs == [(7, 4, 3), (3, 2, 1), (3, 2, 1), (3, 2, 1)]
    assert not [n for n, _ in encoder.named_parameters() if "pos" in n]
    with pytest.raises(ValueError, match="must exceed stride"):
        OverlapPatchEmbed(3, 8, patch_size=4, stride=4)


def test_overlap_patch_embed_returns_tokens_and_grid():
    embed = OverlapPatchEmbed(3, 16, patch_size=7, stride=4)
    x = torch.randn(2, 3, 30, 41)
    tokens, (H, W) = embed(x)
    assert (H, W) == (8, 11) and tokens.shape == (2, 88, 16)
    conv = embed.proj(x)  # [2, 16, 8, 11] -> token n = row * W + col
    ref = nn.functional.layer_norm(conv[:, :, 3, 5], (16,), embed.norm.weight, embed.norm.bias, 1e-5)
    torch.testing.assert_close(tokens[:, 3 * 11 + 5], ref)


def test_reduction_conv_absent_when_r_is_1():
    encoder = mit.mit_b0()
    for stage, r in zip(encoder.stages, [8, 4, 2, 1]):
        for block in stage.blocks:
            if r == 1:
                assert block.attn.sr is None and block.attn.sr_norm is None
            else:
                assert block.attn.sr.kernel_size == (r, r) and block.attn.sr.stride == (r, r)
    assert not [k for k in encoder.stages[3].state_dict() if ".sr" in k]
    assert not [k for k in EfficientSelfAttention(64, 2, 1).state_dict() if k.startswith("sr")]


def _attention_by_hand(attn: EfficientSelfAttention, x: torch.Tensor, H: int, W: int) -> torch.Tensor:
    """SegFormer Eq. 2 literally (Reshape(N/R², C·R²) + Linear) and Eq. 1 with explicit matmuls."""
    B, N, C = x.shape
    R, h = attn.reduction_ratio, attn.num_heads
    kv_in = x
    if R > 1:
        grid = x.reshape(B, H, W, C)
        Hr, Wr = H // R, W // R
        patches = grid[:, : Hr * R, : Wr * R].reshape(B, Hr, R, Wr, R, C)  # split into R×R patches
        patches = patches.permute(0, 1, 3, 5, 2, 4).reshape(B, Hr * Wr, C * R * R)  # [B, N/R², C·R²]
        linear_w = attn.sr.weight.reshape(C, C * R * R)  # the conv kernel is that Linear(C·R², C)
        kv_in = patches @ linear_w.T + attn.sr.bias
        kv_in = nn.functional.layer_norm(kv_in, (C,), attn.sr_norm.weight, attn.sr_norm.bias, attn.sr_norm.eps)
    q = x @ attn.q.weight.T + attn.q.bias
    kv = kv_in @ attn.kv.weight.T + attn.kv.bias
    k, v = kv[..., :C], kv[..., C:]  # first C outputs are K, last C are V
    d = C // h
    heads = []
    for i in range(h):
        qi, ki, vi = q[..., i * d : (i + 1) * d], k[..., i * d : (i + 1) * d], v[..., i * d : (i + 1) * d]
        scores = qi @ ki.transpose(1, 2) / math.sqrt(d)
        heads.append(torch.softmax(scores, dim=-1) @ vi)
    return torch.cat(heads, dim=-1) @ attn.proj.weight.T + attn.proj.bias


@pytest.mark.parametrize("R,heads,hw", [(1, 2, (6, 7)), (2, 1, (9, 11)), (4, 4, (16, 12))])
def test_efficient_attention_matches_equations_1_and_2(R, heads, hw):
    C = 32
    attn = randomize_(EfficientSelfAttention(C, heads, R), seed=R)
    x = torch.randn(2, hw[0] * hw[1], C)
    with torch.no_grad():
        mine = attn(x, hw)
        ref = _attention_by_hand(attn, x, *hw)
    assert mine.shape == (2, hw[0] * hw[1], C)
    torch.testing.assert_close(mine, ref, atol=1e-5, rtol=1e-4)
    if R > 1:
        assert attn.reduce(x, hw).shape == (2, (hw[0] // R) * (hw[1] // R), C)


def test_mix_ffn_matches_equation_3():
    ffn = randomize_(MixFFN(8, 24), seed=3)
    H, W = 5, 6
    x = torch.randn(2, H * W, 8)
    with torch.no_grad():
        mine = ffn(x, (H, W))
        hidden = (x @ ffn.fc1.weight.T + ffn.fc1.bias).reshape(2, H, W, 24)
        padded = nn.functional.pad(hidden, (0, 0, 1, 1, 1, 1))  # zero padding of the grid
        kernel = ffn.dwconv.weight[:, 0]  # [24, 3, 3]: one 3×3 filter per channel
        conv = sum(padded[:, dy : dy + H, dx : dx + W] * kernel[:, dy, dx] for dy in range(3) for dx in range(3))
        conv = conv + ffn.dwconv.bias
        gelu = 0.5 * conv * (1 + torch.erf(conv / math.sqrt(2)))  # exact GELU
        ref = gelu.reshape(2, H * W, 24) @ ffn.fc2.weight.T + ffn.fc2.bias
    torch.testing.assert_close(mine, ref, atol=1e-5, rtol=1e-4)


def test_block_is_pre_norm_residual():
    block = randomize_(Block(16, 2, mlp_ratio=2, reduction_ratio=2), seed=5).eval()
    x, hw = torch.randn(1, 36, 16), (6, 6)
    with torch.no_grad():
        y = x + block.attn(block.norm1(x), hw)
        y = y + block.ffn(block.norm2(y), hw)
        torch.testing.assert_close(block(x, hw), y)


def test_drop_path_rates_are_linear_and_drop_whole_samples():
    encoder = mit.mit_b2()
    rates = [b.drop_path.p for s in encoder.stages for b in s.blocks]
    assert rates == pytest.approx([0.1 * j / 15 for j in range(16)])
    dp = DropPath(0.5)
    x = torch.ones(2000, 3, 4)
    assert torch.equal(dp.eval()(x), x)
    y = dp.train()(x)
    per_sample = y.reshape(2000, -1)
    assert ((per_sample == 0).all(1) | (per_sample == 2).all(1)).all()  # 0 or 1 / (1 - p), whole sample
    assert 0.4 < (per_sample[:, 0] == 0).float().mean() < 0.6


def test_layer_norm_eps_is_configurable():
    default, hf_like = mit.mit_b0(), mit.mit_b0(layer_norm_eps=1e-5)
    assert default.stages[0].blocks[0].norm1.eps == 1e-6 and default.stages[3].norm.eps == 1e-6
    assert default.stages[0].patch_embed.norm.eps == 1e-5 and default.stages[0].blocks[0].attn.sr_norm.eps == 1e-5
    assert all(m.eps == 1e-5 for m in hf_like.modules() if isinstance(m, nn.LayerNorm))


def test_overrides_and_errors():
    enc = mit.mit_b1(mlp_ratios=[8, 8, 4, 4], drop_path_rate=0.0, in_channels=1)
    assert enc.stages[0].blocks[0].ffn.fc1.out_features == 8 * 64
    assert enc.stages[2].blocks[0].ffn.fc1.out_features == 4 * 320
    assert enc(torch.randn(1, 1, 64, 64))[3].shape == (1, 512, 2, 2)
    assert mit.MIT_CONFIGS["mit_b1"].mlp_ratios == [4, 4, 4, 4]  # the preset is not mutated
    with pytest.raises(TypeError, match="mlp_ratio"):
        mit.mit_b0(mlp_ratio=4)
    with pytest.raises(ValueError, match="expects an image batch"):
        mit.mit_b0()(torch.randn(1, 4, 64, 64))
    with pytest.raises(ValueError, match="too small"):
        mit.mit_b0()(torch.randn(1, 3, 16, 16))
    with pytest.raises(ValueError, match="4 values"):
        MiTConfig(depths=[2, 2, 2])
    assert isinstance(MixTransformer(), MixTransformer)


def test_gradients_reach_every_parameter():
    encoder = mit.mit_b0().train()
    feats = encoder(torch.randn(2, 3, 64, 64))
    sum(f.square().mean() for f in feats).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in encoder.parameters())
