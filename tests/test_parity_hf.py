"""Numerical equivalence with HF transformers' Segformer (random init, nothing downloaded).

HF's LayerNorms all use eps 1e-5, so our encoder is built with ``layer_norm_eps=1e-5``: the comparison is
exact up to float32 rounding, not loosened. Weights are randomised with a large scale first, because the
default init (std 0.02) makes every attention map nearly uniform and would hide e.g. a missing 1/√d.
"""

import pytest
import torch
from transformers import SegformerConfig, SegformerModel
from transformers.models.segformer.modeling_segformer import SegformerDecodeHead

from daformer_edu.models import SegFormerHead, load_encoder_weights, mit_b0, mit_b2
from helpers import randomize_

pytestmark = pytest.mark.parity  # HF transformers' Segformer is the reference

B0 = dict(hidden_sizes=[32, 64, 160, 256], depths=[2, 2, 2, 2])
B2 = dict(hidden_sizes=[64, 128, 320, 512], depths=[3, 4, 6, 3])
X_SHAPE = (2, 3, 97, 131)  # sides that are not multiples of 32


def _hf_stages(model: SegformerModel, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    with torch.no_grad():
        return model(pixel_values=x, output_hidden_states=True).hidden_states


@pytest.mark.slow
@pytest.mark.parametrize("cfg,build", [(B0, mit_b0), (B2, mit_b2)], ids=["b0", "b2"])
def test_encoder_matches_hf_segformer_model(cfg, build):
    torch.manual_seed(0)
    hf = randomize_(SegformerModel(SegformerConfig(**cfg)), seed=1).eval()
    ours = load_encoder_weights(build(layer_norm_eps=1e-5), hf.state_dict()).eval()
    x = torch.randn(X_SHAPE)
    ref = _hf_stages(hf, x)
    with torch.no_grad():
        mine = ours(x)
    assert len(ref) == len(mine) == 4
    for i, (a, b) in enumerate(zip(mine, ref)):
        assert a.shape == b.shape, f"stage {i + 1}"
        assert b.abs().mean() > 0.1, "reference output is degenerate"
        diff = (a - b).abs().max().item()
        assert diff <= 1e-4, f"stage {i + 1}: max abs diff {diff:.2e}"


def test_parity_check_can_fail_on_swapped_k_and_v():
    """The comparison above is sharp enough to catch a K/V mix-up in one block."""
    hf = randomize_(SegformerModel(SegformerConfig(**B0)), seed=2).eval()
    ours = load_encoder_weights(mit_b0(layer_norm_eps=1e-5), hf.state_dict()).eval()
    kv = ours.stages[1].blocks[0].attn.kv
    with torch.no_grad():
        kv.weight.copy_(kv.weight.roll(kv.in_features, dims=0))
        kv.bias.copy_(kv.bias.roll(kv.in_features))
    x = torch.randn(X_SHAPE)
    ref = _hf_stages(hf, x)
    with torch.no_grad():
        mine = ours(x)
    assert (mine[0] - ref[0]).abs().max() <= 1e-4  # stage 1 untouched
    assert (mine[1] - ref[1]).abs().max() > 1e-2


def test_segformer_head_matches_hf_decode_head():
    cfg = SegformerConfig(**B0, decoder_hidden_size=64, num_labels=7)
    hf = randomize_(SegformerDecodeHead(cfg), seed=4).eval()
    ours = SegFormerHead([32, 64, 160, 256], num_classes=7, embed_dim=64).eval()
    with torch.no_grad():  # HF -> ours by hand: the mapping itself is what this test checks
        for i in range(4):
            ours.embeds[i].load_state_dict(hf.linear_projections[i].proj.state_dict())
        ours.fuse[0].weight.copy_(hf.linear_fuse.weight)
        ours.fuse[1].load_state_dict(hf.batch_norm.state_dict())
        ours.classifier.load_state_dict(hf.classifier.state_dict())
        feats = [torch.randn(2, c, h, w) for c, (h, w) in zip([32, 64, 160, 256], [(25, 33), (13, 17), (7, 9), (4, 5)])]
        ref, mine = hf(feats), ours(feats)
    assert mine.shape == ref.shape == (2, 7, 25, 33)
    assert (mine - ref).abs().max() <= 1e-4
