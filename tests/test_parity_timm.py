"""Numerical equivalence with timm's ``pvt_v2_b0`` (random init, nothing downloaded).

PVTv2-B0 is MiT-B0 with MLP ratios [8, 8, 4, 4]. timm keeps SegFormer's norms: nn.LayerNorm (eps 1e-5)
in the patch embedding and the spatial reduction, timm's LayerNorm (eps 1e-6) in blocks and stage ends —
our defaults. Its linear-attention option (``pvt_v2_b2_li``) stays off.
"""

import pytest
import timm
import torch

from daformer_edu.models import load_encoder_weights, mit_b0
from helpers import randomize_  # weights far from uniform attention

pytestmark = pytest.mark.parity  # timm's pvt_v2_b0 is the reference


def test_encoder_matches_timm_pvt_v2_b0():
    torch.manual_seed(0)
    ref_model = randomize_(timm.create_model("pvt_v2_b0", pretrained=False), seed=7).eval()
    assert ref_model.stages[0].blocks[0].norm1.eps == 1e-6 and ref_model.patch_embed.norm.eps == 1e-5
    ours = load_encoder_weights(mit_b0(mlp_ratios=[8, 8, 4, 4]), ref_model.state_dict()).eval()
    n_ref = sum(p.numel() for n, p in ref_model.named_parameters() if not n.startswith("head."))
    assert sum(p.numel() for p in ours.parameters()) == n_ref
    x = torch.randn(2, 3, 97, 131)
    with torch.no_grad():
        ref = ref_model.forward_intermediates(x, intermediates_only=True)
        mine = ours(x)
    for i, (a, b) in enumerate(zip(mine, ref)):
        assert a.shape == b.shape, f"stage {i + 1}"
        assert b.abs().mean() > 0.1, "reference output is degenerate"
        diff = (a - b).abs().max().item()
        assert diff <= 1e-4, f"stage {i + 1}: max abs diff {diff:.2e}"
