"""BlindNet wrapper, views and training loop: runs, stays finite, and never touches a target image."""

import dataclasses
import warnings

import matplotlib
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from daformer_edu.data.synthetic import SyntheticDomain
from daformer_edu.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from daformer_edu.dg import (
    ORIGINAL_VIEW,
    STYLE_VIEW,
    BlindNet,
    BlindNetConfig,
    PhotometricAugment,
    decode_with_features,
    evaluate_target,
    make_views,
    train_blindnet,
)

TINY = dict(
    iterations=2,
    batch_size=2,
    image_size=(64, 96),
    crop_size=(64, 64),
    synthetic_train_length=8,
    val_length=2,
    projection_dim=16,
    samples_per_class=8,
)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "training from scratch"
        yield


def test_decode_with_features_is_the_heads_forward():
    model = BlindNet(BlindNetConfig(**TINY)).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        feats = model.segmentor.extract_features(x)
        logits, inner = decode_with_features(model.segmentor.head, feats)
        assert torch.equal(logits, model.segmentor.head(feats))  # bit for bit
    assert inner["embed"].shape == (2, 4 * 32, 16, 16) and inner["fused"].shape == (2, 32, 16, 16)
    emb = model.projections["fused"](inner["fused"])
    torch.testing.assert_close(emb.norm(dim=1), torch.ones(2, 16, 16))  # L2-normalised per pixel
    from daformer_edu.models import SegFormerHead

    with pytest.raises(TypeError, match="DAFormerHead"):
        decode_with_features(SegFormerHead([32, 64, 160, 256], embed_dim=8), feats)


def _submodules_one_by_one(self, features, return_features=False):
    """Reference for DAFormerHead.forward: the head's submodules called one by one (DAFormer §3.2)."""
    size = features[0].shape[-2:]
    embedded = []
    for f, embed in zip(features, self.embeds):
        B, _, h, w = f.shape
        x = embed(f.flatten(2).transpose(1, 2)).transpose(1, 2).reshape(B, -1, h, w)  # [B, E, h, w]
        if (h, w) != tuple(size):
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)  # [B, E, H/4, W/4]
        embedded.append(x)
    embed_cat = torch.cat(embedded, dim=1)  # [B, 4E, H/4, W/4]
    fused = self.fusion(embed_cat)  # [B, C, H/4, W/4]
    logits = self.classifier(self.dropout(fused))  # [B, K, H/4, W/4]
    return (logits, {"embed": embed_cat, "fused": fused}) if return_features else logits


def test_training_losses_are_those_of_the_heads_submodules_one_by_one(monkeypatch):
    from daformer_edu.models.heads import DAFormerHead

    cfg = BlindNetConfig(**dict(TINY, iterations=3))
    ours = train_blindnet(cfg).history
    monkeypatch.setattr(DAFormerHead, "forward", _submodules_one_by_one)
    reference = train_blindnet(cfg).history
    assert ours == reference  # bit for bit: every loss of every step


def test_crops_come_from_the_shared_stream_7():
    import daformer_edu.dg.blindnet as bn

    cfg = BlindNetConfig(**dict(TINY, batch_size=3, seed=4))
    source = bn._source_dataset(cfg)
    stream = bn._crop_stream(source, cfg)
    assert (stream.seed, stream.stream) == (4, 7)
    for t in (0, 5):
        batch = stream.batch(t, cfg.batch_size)
        for k in range(cfg.batch_size):  # crop k of step t: its own generator default_rng([seed, 7, t, k])
            rng = np.random.default_rng([cfg.seed, 7, t, k])
            item = source.get(int(rng.integers(len(source))), rng=rng)
            assert torch.equal(batch["image"][k], item["image"]) and torch.equal(batch["label"][k], item["label"])
    assert not torch.equal(stream.batch(0, 3)["image"], stream.batch(1, 3)["image"])  # control: steps differ


def test_training_steps_are_finite_and_never_load_target(monkeypatch):
    seen = []
    original_load = SyntheticDomain.load

    def guarded_load(self, index):
        if self.domain == "target":
            raise AssertionError("a target image was loaded during training")
        seen.append(self.domain)
        return original_load(self, index)

    monkeypatch.setattr(SyntheticDomain, "load", guarded_load)
    monkeypatch.setattr(SyntheticDomain, "render_image", lambda *a, **k: (_ for _ in ()).throw(AssertionError()))
    cfg = BlindNetConfig(**TINY)
    result = train_blindnet(cfg)
    assert len(result.history) == 2 and seen and set(seen) == {"source"}
    for rec in result.history:
        assert all(np.isfinite(v) for v in rec.values())
        assert rec["cml"] > 0 and rec["ccl"] > 0 and rec["cwcl"] > 0
    base = train_blindnet(cfg.source_only())
    assert all(r["cml"] == 0 and r["cwcl"] == 0 for r in base.history)
    monkeypatch.setattr(SyntheticDomain, "load", original_load)
    out = evaluate_target(result.model, cfg)  # only now is the target val split read
    m = out["confusion"].double().numpy()  # [K, K] counts
    tp = np.diag(m)
    with np.errstate(invalid="ignore"):
        iou = tp / (m.sum(0) + m.sum(1) - tp)  # NaN: class absent
    assert out["miou"] == pytest.approx(100 * np.nanmean(iou))  # percent
    assert out["acc"] == pytest.approx(100 * tp.sum() / m.sum())
    assert out["iou"] == pytest.approx(list(100 * iou), nan_ok=True)


def test_target_dataset_is_refused():
    target = SyntheticDomain("target", "train", size=(64, 96), length=4)
    with pytest.raises(ValueError, match="source domain only"):
        train_blindnet(BlindNetConfig(**TINY), source=target)


def test_config_validation():
    with pytest.raises(ValueError, match="style_views"):
        BlindNetConfig(style_views=False)
    with pytest.raises(ValueError, match="decoder_levels"):
        BlindNetConfig(decoder_levels=("nope",))
    so = BlindNetConfig().source_only()
    assert not so.style_views and so.cml_weight == so.sdcl_weight == 0


def _images(n=2, h=32, w=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    raw = torch.rand(n, 3, h, w, generator=g) * 200 + 20  # 0..255 scale, unclamped room
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return raw, (raw - mean) / std


def test_views_are_seeded_and_keep_geometry():
    _, x = _images()
    a1, s1 = make_views(x, torch.Generator().manual_seed(3))
    a2, s2 = make_views(x, torch.Generator().manual_seed(3))
    assert torch.equal(a1, a2) and torch.equal(s1, s2) and s1.shape == x.shape
    assert (s1 - x).abs().mean() > (a1 - x).abs().mean()  # the style view moves further
    assert ORIGINAL_VIEW.blur_p == 1 and STYLE_VIEW.jitter_p == 1 and STYLE_VIEW.hue == 0.3


def test_brightness_only_is_a_multiplication_in_pixel_space():
    raw, x = _images()
    aug = PhotometricAugment(brightness=0.5, contrast=0, saturation=0, hue=0, jitter_p=1, blur_p=0)
    y = aug(x, torch.Generator().manual_seed(1))
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    out = y * std + mean  # [B, 3, H, W] 0..255
    ratio = out / raw
    unclamped = out < 254.9
    for b in range(2):
        r = ratio[b][unclamped[b]]
        assert 0.5 <= r.mean() <= 1.5 and (r - r.mean()).abs().max() < 1e-3  # one factor per image


def test_dg_plots_return_figures():
    from daformer_edu.viz import plot_contrastive_samples, plot_covariance_matrices

    fig = plot_covariance_matrices({"a": torch.eye(3), "b": np.ones((3, 3))})
    assert isinstance(fig, matplotlib.figure.Figure) and len(fig.axes) == 3  # two matrices, one shared colourbar
    assert fig.axes[2].get_label() == "<colorbar>"
    img = torch.zeros(3, 16, 16)
    lab = torch.zeros(16, 16, dtype=torch.long)
    fig = plot_contrastive_samples(img, lab, [[2, 3], [5, 5]], [[8, 8]], anchor_classes=[0, 1], title="t")
    assert isinstance(fig, matplotlib.figure.Figure) and len(fig.axes) == 2


def test_photometric_augment_keeps_black_pixels_finite():
    # As in DACS's strong augmentation: a black pixel un-normalises to about −3e-8 and torchvision's adjust_hue
    # returns NaN below 0, so the augmentation must clamp to [0, 1] first.
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    pixels = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    pixels[:, :, :4] = 0.0
    images = (pixels * 255 - mean) / std
    aug = PhotometricAugment(blur_p=0)
    for seed in range(20):
        assert torch.isfinite(aug(images, torch.Generator().manual_seed(seed))).all(), f"seed {seed}"


def test_pretrained_start_loads_the_embedded_encoder():
    """``BlindNetConfig(pretrained="embedded")`` starts from the package's ImageNet stand-in, like ``TrainConfig``."""
    from daformer_edu.dg.blindnet import BlindNet, BlindNetConfig
    from daformer_edu.models.embedded import load_embedded_weights

    torch.manual_seed(0)
    net = BlindNet(BlindNetConfig(pretrained="embedded"))
    shipped = load_embedded_weights("mit_b0")  # the file's tensors, float16 → float32
    ours = net.segmentor.encoder.state_dict()
    for name, value in shipped.items():
        assert torch.equal(ours[name], value.to(ours[name].dtype)), name
    torch.manual_seed(0)
    random = BlindNet(BlindNetConfig(pretrained=None)).segmentor.encoder.state_dict()  # control: random weights
    assert any(not torch.equal(random[n], ours[n]) for n in shipped)


def test_defaults_start_from_the_embedded_weights_with_pytorchs_head_init():
    """The default run starts as BlindNet's does, from a pre-trained encoder; the head starts as PyTorch starts it
    (measured better for BlindNet at this scale than mmcv's init, the package default: BlindNetConfig.head_init)."""
    from daformer_edu.models.embedded import load_embedded_weights

    torch.manual_seed(0)
    net = BlindNet(BlindNetConfig())
    shipped = load_embedded_weights("mit_b0")
    ours = net.segmentor.encoder.state_dict()
    assert all(torch.equal(ours[n], v.to(ours[n].dtype)) for n, v in shipped.items())
    cls = net.segmentor.head.classifier  # PyTorch: W, b ~ U(±1/√fan_in); mmcv: W ~ N(0, 0.01), b = 0
    bound = 1 / cls.weight[0].numel() ** 0.5
    assert cls.bias.abs().max() > 0 and cls.bias.abs().max() <= bound and cls.weight.abs().max() <= bound
    torch.manual_seed(0)
    mmcv = BlindNet(BlindNetConfig(head_init="mmcv")).segmentor.head.classifier
    assert torch.equal(mmcv.bias, torch.zeros_like(mmcv.bias)) and 0.007 < float(mmcv.weight.std()) < 0.013


# --- the official rules in the training loop ----------------------------------------------------------------


def test_cwcl_split_reads_the_original_views_prediction(monkeypatch):
    import daformer_edu.dg.blindnet as bn
    from daformer_edu.models.heads import DAFormerHead

    seen = {}
    real_forward, real_cwcl = DAFormerHead.forward, bn.class_wise_contrastive_loss

    def spy_forward(head, feats, return_features=False):
        out = real_forward(head, feats, return_features=return_features)
        if return_features:
            seen["logits4"] = out[0].detach()  # [2B, K, h, w]: original half first, then the style half
        return out

    def spy_cwcl(emb, emb_aug, label, split, *args, **kwargs):
        seen.setdefault("split", split.clone())
        seen.setdefault("kwargs", kwargs)
        return real_cwcl(emb, emb_aug, label, split, *args, **kwargs)

    monkeypatch.setattr(DAFormerHead, "forward", spy_forward)
    monkeypatch.setattr(bn, "class_wise_contrastive_loss", spy_cwcl)
    cfg = BlindNetConfig(**dict(TINY, iterations=1))
    train_blindnet(cfg)
    pred = seen["logits4"].argmax(1)  # [2B, h, w]
    B = cfg.batch_size
    assert not torch.equal(pred[:B], pred[B:])  # the two views disagree somewhere, so the test can tell
    assert torch.equal(seen["split"], pred[:B])  # hard = wrong in the ORIGINAL view (official)
    assert seen["kwargs"].get("per_image") is True
    seen.clear()
    train_blindnet(dataclasses.replace(cfg, cwcl_split_view="augmented"))
    assert torch.equal(seen["split"], seen["logits4"].argmax(1)[B:])


def test_original_view_is_blurred_too(monkeypatch):
    import daformer_edu.dg.augment as aug

    calls = []
    real_blur = aug.TF.gaussian_blur

    def counting_blur(img, *args, **kwargs):
        calls.append(tuple(img.shape))
        return real_blur(img, *args, **kwargs)

    monkeypatch.setattr(aug.TF, "gaussian_blur", counting_blur)
    cfg = BlindNetConfig(**dict(TINY, iterations=1))
    train_blindnet(cfg)
    assert len(calls) == 2 * cfg.batch_size  # every crop: once in the original view, once in the style view
    calls.clear()
    train_blindnet(dataclasses.replace(cfg, original_blur=False))
    assert len(calls) == cfg.batch_size  # only the style view


def test_instance_norm_sits_in_the_forward_path():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 64, 64) * 3 + 1
    model = BlindNet(BlindNetConfig(**TINY)).eval()
    with torch.no_grad():
        feats = model.segmentor.extract_features(x)  # 4 maps
        for level in (0, 1):  # the regularised levels: zero mean, unit (biased) variance per image and channel
            f = feats[level].flatten(2)  # [B, C, HW]
            torch.testing.assert_close(f.mean(-1), torch.zeros(f.shape[:2]), atol=1e-5, rtol=0)
            torch.testing.assert_close(f.var(-1, unbiased=False), torch.ones(f.shape[:2]), atol=1e-3, rtol=0)
        # the next stage reads the normalised map (it is in the path, not only in the losses)
        torch.testing.assert_close(model.segmentor.encoder.stages[2](feats[1]), feats[2])
        assert feats[2].flatten(2).var(-1, unbiased=False).sub(1).abs().max() > 0.1  # stage 3 is left alone
        plain = BlindNet(BlindNetConfig(**dict(TINY, instance_norm=False))).eval()
        f0 = plain.segmentor.extract_features(x)[0].flatten(2)
        assert f0.mean(-1).abs().max() > 1e-2 or f0.var(-1, unbiased=False).sub(1).abs().max() > 1e-2


def test_simple_rules_and_source_only_switch_the_official_rules_off():
    cfg = BlindNetConfig()
    assert (
        cfg.cwcl_split_view,
        cfg.per_image_sampling,
        cfg.sdcl_detach_negatives,
        cfg.ccl_detach_original,
        cfg.original_blur,
        cfg.instance_norm,
        cfg.sdcl_negatives,
    ) == ("original", True, False, True, True, True, 20)
    old = cfg.simple_rules()
    assert old == cfg.previous_defaults()  # the other name of the same rules
    assert (
        old.cwcl_split_view,
        old.per_image_sampling,
        old.sdcl_detach_negatives,
        old.ccl_detach_original,
        old.original_blur,
        old.instance_norm,
    ) == ("augmented", False, True, False, False, False)
    assert not cfg.source_only().instance_norm
    with pytest.raises(ValueError, match="cwcl_split_view"):
        BlindNetConfig(cwcl_split_view="style")
