"""Weight loading from the three published key layouts, checked end to end against HF's forward.

Every layout is produced here, independently of weights.py: HF and timm state dicts come from real
(random-init) models; the HF checkpoint names (``nvidia/mit-b*`` files) and SegFormer's ``mit_b*.pth``
names are written out below from the module names of the two codebases.
"""

import re
import warnings

import pytest
import timm
import torch
from transformers import SegformerConfig, SegformerForSemanticSegmentation, SegformerModel

from daformer_edu.models import build_segmentor, load_encoder_weights, mit_b0
from daformer_edu.models.weights import EncoderWeightsError, convert_hf, convert_segformer, convert_timm, detect_format

pytestmark = pytest.mark.parity  # the HF transformers and timm layouts come from the real libraries

X = torch.randn(1, 3, 67, 45, generator=torch.Generator().manual_seed(0))

# HF (transformers >= 5 module names) block suffix -> (HF checkpoint name, SegFormer mit_b*.pth name)
BLOCK_NAMES = {
    "layernorm_before": ("layer_norm_1", "norm1"),
    "layernorm_after": ("layer_norm_2", "norm2"),
    "attention.q_proj": ("attention.self.query", "attn.q"),
    "attention.k_proj": ("attention.self.key", None),  # SegFormer: K and V share attn.kv
    "attention.v_proj": ("attention.self.value", None),
    "attention.o_proj": ("attention.output.dense", "attn.proj"),
    "attention.sequence_reduction.sequence_reduction": ("attention.self.sr", "attn.sr"),
    "attention.sequence_reduction.layer_norm": ("attention.self.layer_norm", "attn.norm"),
    "mlp.fc1": ("mlp.dense1", "mlp.fc1"),
    "mlp.dwconv.dwconv": ("mlp.dwconv.dwconv", "mlp.dwconv.dwconv"),
    "mlp.fc2": ("mlp.dense2", "mlp.fc2"),
}


@pytest.fixture(scope="module")
def hf_model():
    torch.manual_seed(1)
    model = SegformerModel(SegformerConfig()).eval()  # b0 config
    with torch.no_grad():  # non-trivial values so a wrong mapping changes the output
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


@pytest.fixture(scope="module")
def hf_out(hf_model):
    with torch.no_grad():
        return hf_model(pixel_values=X, output_hidden_states=True).hidden_states


def _checkpoint_names(hf_sd):
    """HF's checkpoint (transformers 4.x) names: encoder.block.0.0.attention.self.query.weight, …"""
    out = {}
    for k, v in hf_sd.items():
        i, rest = re.match(r"stages\.(\d)\.(.*)", k).groups()
        if rest.startswith("patch_embeddings."):
            out[f"encoder.patch_embeddings.{i}.{rest[len('patch_embeddings.') :]}"] = v
        elif rest.startswith("layer_norm."):
            out[f"encoder.layer_norm.{i}.{rest[len('layer_norm.') :]}"] = v
        else:
            j, name, param = re.match(r"blocks\.(\d+)\.(.*)\.(weight|bias)", rest).groups()
            out[f"encoder.block.{i}.{j}.{BLOCK_NAMES[name][0]}.{param}"] = v
    return out


def _segformer_names(hf_sd):
    """SegFormer's mit_b*.pth names: patch_embed1.proj, block1.0.attn.kv, norm1, plus the ImageNet head."""
    out = {}
    for k, v in hf_sd.items():
        i, rest = re.match(r"stages\.(\d)\.(.*)", k).groups()
        s = int(i) + 1
        if rest.startswith("patch_embeddings."):
            out[f"patch_embed{s}.{rest[len('patch_embeddings.') :].replace('layer_norm', 'norm')}"] = v
        elif rest.startswith("layer_norm."):
            out[f"norm{s}.{rest[len('layer_norm.') :]}"] = v
        else:
            j, name, param = re.match(r"blocks\.(\d+)\.(.*)\.(weight|bias)", rest).groups()
            if name == "attention.k_proj":
                v_key = k.replace("k_proj", "v_proj")
                out[f"block{s}.{j}.attn.kv.{param}"] = torch.cat([v, hf_sd[v_key]], 0)
            elif name != "attention.v_proj":
                out[f"block{s}.{j}.{BLOCK_NAMES[name][1]}.{param}"] = v
    out["head.weight"], out["head.bias"] = torch.zeros(1000, 256), torch.zeros(1000)  # ImageNet classifier
    return out


def _assert_matches_hf(encoder, hf_out):
    with torch.no_grad():
        mine = encoder.eval()(X)
    for i, (a, b) in enumerate(zip(mine, hf_out)):
        assert (a - b).abs().max() <= 1e-4, f"stage {i + 1}"


def test_hf_module_names(hf_model, hf_out):
    sd = hf_model.state_dict()
    assert detect_format(sd) == "hf"
    enc = load_encoder_weights(mit_b0(layer_norm_eps=1e-5), sd)
    attn = hf_model.stages[0].blocks[0].attention
    kv = enc.stages[0].blocks[0].attn.kv.weight
    assert torch.equal(kv[:32], attn.k_proj.weight) and torch.equal(kv[32:], attn.v_proj.weight)
    _assert_matches_hf(enc, hf_out)


def test_hf_checkpoint_names_with_prefix_and_decode_head(hf_model, hf_out, tmp_path):
    sd = {"segformer." + k: v for k, v in _checkpoint_names(hf_model.state_dict()).items()}
    sd["decode_head.linear_c.0.proj.weight"] = torch.zeros(256, 32)  # segmentation head: ignored
    sd["decode_head.classifier.weight"] = torch.zeros(19, 256, 1, 1)
    assert detect_format(sd) == "hf"
    _assert_matches_hf(load_encoder_weights(mit_b0(layer_norm_eps=1e-5), sd), hf_out)
    path = tmp_path / "pytorch_model.bin"
    torch.save(sd, path)
    _assert_matches_hf(load_encoder_weights(mit_b0(layer_norm_eps=1e-5), path, format="hf"), hf_out)


def test_hf_semantic_segmentation_model_state_dict():
    torch.manual_seed(2)
    seg = SegformerForSemanticSegmentation(SegformerConfig(num_labels=5)).eval()
    sd = seg.state_dict()
    assert any(k.startswith("decode_head.") for k in sd) and any(k.startswith("segformer.") for k in sd)
    enc = load_encoder_weights(mit_b0(layer_norm_eps=1e-5), sd)
    with torch.no_grad():
        ref = seg.segformer(pixel_values=X, output_hidden_states=True).hidden_states
    _assert_matches_hf(enc, ref)


def test_segformer_pth_layout_from_file(hf_model, hf_out, tmp_path):
    sd = _segformer_names(hf_model.state_dict())
    assert detect_format(sd) == "segformer"
    path = tmp_path / "mit_b0.pth"
    torch.save(sd, path)
    _assert_matches_hf(load_encoder_weights(mit_b0(layer_norm_eps=1e-5), path), hf_out)
    wrapped = tmp_path / "wrapped.pth"  # {'state_dict': …} as mmcv writes it
    torch.save({"state_dict": sd, "meta": {}}, wrapped)
    _assert_matches_hf(load_encoder_weights(mit_b0(layer_norm_eps=1e-5), wrapped, format="segformer"), hf_out)


def test_timm_layout():
    ref = timm.create_model("pvt_v2_b0", pretrained=False).eval()
    sd = ref.state_dict()
    assert detect_format(sd) == "timm"
    enc = load_encoder_weights(mit_b0(mlp_ratios=[8, 8, 4, 4]), sd)
    assert torch.equal(enc.stages[2].patch_embed.proj.weight, ref.stages[2].downsample.proj.weight)
    assert torch.equal(enc.stages[0].blocks[1].ffn.dwconv.weight, ref.stages[0].blocks[1].mlp.dwconv.weight)


def test_converters_agree_with_each_other(hf_model):
    hf_sd = hf_model.state_dict()
    a = convert_hf(hf_sd)
    b = convert_hf(_checkpoint_names(hf_sd))
    c = convert_segformer({k: v for k, v in _segformer_names(hf_sd).items() if not k.startswith("head.")})
    assert set(a) == set(b) == set(c) == set(mit_b0().state_dict())
    assert all(torch.equal(a[k], b[k]) and torch.equal(a[k], c[k]) for k in a)
    assert set(convert_timm(timm.create_model("pvt_v2_b0").state_dict())) - {"head.weight", "head.bias"} == set(a)


def test_missing_key_is_an_error_naming_keys_and_format(hf_model):
    sd = _segformer_names(hf_model.state_dict())
    del sd["block2.0.attn.kv.weight"]
    with pytest.raises(EncoderWeightsError) as err:
        load_encoder_weights(mit_b0(), sd)
    msg = str(err.value)
    assert "format='segformer'" in msg and "missing" in msg and "stages.1.blocks.0.attn.kv.weight" in msg


def test_unexpected_key_is_an_error_naming_keys_and_format(hf_model):
    sd = dict(hf_model.state_dict())
    sd["stages.0.blocks.0.attention.extra_proj.weight"] = torch.zeros(3)
    with pytest.raises(EncoderWeightsError) as err:
        load_encoder_weights(mit_b0(), sd)
    msg = str(err.value)
    assert "format='hf'" in msg and "unexpected" in msg and "attention.extra_proj.weight" in msg


def test_wrong_size_or_config_is_an_error():
    b2 = SegformerModel(SegformerConfig(hidden_sizes=[64, 128, 320, 512], depths=[3, 4, 6, 3]))
    with pytest.raises(EncoderWeightsError, match="mit_b0"):
        load_encoder_weights(mit_b0(), b2.state_dict())
    pvt = timm.create_model("pvt_v2_b0").state_dict()
    with pytest.raises(EncoderWeightsError, match=r"mlp_ratios=\[8, 8, 4, 4\]"):
        load_encoder_weights(mit_b0(), pvt)  # PVTv2 has MLP ratio 8 in stages 1-2
    with pytest.raises(EncoderWeightsError, match="cannot tell"):
        load_encoder_weights(mit_b0(), {"conv.weight": torch.zeros(1)})
    with pytest.raises(EncoderWeightsError, match="format='timm'"):
        load_encoder_weights(mit_b0(), b2.state_dict(), format="timm")
    with pytest.raises(ValueError, match="format='caffe'"):
        load_encoder_weights(mit_b0(), pvt, format="caffe")
    with pytest.raises(FileNotFoundError, match="no file at.*hf:nvidia/mit-b5"):
        load_encoder_weights(mit_b0(), "/nonexistent/mit_b0.pth")


def test_own_state_dict_round_trip():
    a, b = mit_b0(), mit_b0()
    assert detect_format(a.state_dict()) == "mit"
    load_encoder_weights(b, a.state_dict())
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_build_segmentor_loads_pretrained_path(hf_model, tmp_path):
    path = tmp_path / "mit_b0.pth"
    torch.save(_segformer_names(hf_model.state_dict()), path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "from scratch" warning when weights are given
        model = build_segmentor("mit_b0", num_classes=3, pretrained=str(path), embed_dim=16, channels=16)
    assert torch.equal(model.encoder.stages[3].norm.weight, hf_model.stages[3].layer_norm.weight)


def test_safetensors_file(hf_model, hf_out, tmp_path):
    safetensors = pytest.importorskip("safetensors.torch")
    path = tmp_path / "model.safetensors"
    safetensors.save_file({k: v.contiguous() for k, v in hf_model.state_dict().items()}, str(path))
    _assert_matches_hf(load_encoder_weights(mit_b0(layer_norm_eps=1e-5), path), hf_out)
