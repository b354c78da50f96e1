"""ClassMix masks, the domain mix and the strong augmentation, with hand-worked examples."""

import itertools
import math

import pytest
import torch

from daformer_edu.uda.dacs import blur_kernel_size, classmix_masks, mix, strong_augment

LABEL = torch.tensor(
    [[0, 0, 1, 1], [2, 2, 255, 3], [2, 5, 5, 3]]
)  # classes {0, 1, 2, 3, 5} (+ ignore): n = 5 -> ceil(5/2) = 3 pasted


def _chosen_classes(mask, label):
    """The classes whose pixels are all in the mask (and the mask is exactly their union)."""
    classes = [c for c in label.unique().tolist() if c != 255]
    chosen = [c for c in classes if bool(mask[label == c].all())]
    union = torch.zeros_like(label, dtype=torch.bool)
    for c in chosen:
        union |= label == c
    assert torch.equal(mask.bool(), union), "mask must be exactly the union of whole classes"
    return chosen


def test_classmix_picks_half_of_the_classes_per_image():
    g = torch.Generator().manual_seed(0)
    masks = classmix_masks(torch.stack([LABEL, LABEL]), generator=g)
    assert masks.shape == (2, 1, 3, 4) and masks.dtype == torch.float32
    for m in masks:
        chosen = _chosen_classes(m[0], LABEL)
        assert len(chosen) == 3
        assert m[0][LABEL == 255].sum() == 0  # ignore is never pasted
    # every 3-subset is reachable and the choice is uniform-ish
    seen = set()
    g = torch.Generator().manual_seed(1)
    for _ in range(300):
        seen.add(tuple(_chosen_classes(classmix_masks(LABEL[None], generator=g)[0, 0], LABEL)))
    assert seen == set(itertools.combinations([0, 1, 2, 3, 5], 3))


def test_classmix_small_cases_and_all_ignore():
    one_class = torch.full((1, 2, 2), 7)
    assert torch.equal(classmix_masks(one_class), torch.ones(1, 1, 2, 2))  # ceil(1/2) = 1: everything
    ignore = torch.full((1, 2, 2), 255)
    assert torch.equal(classmix_masks(ignore), torch.zeros(1, 1, 2, 2))  # nothing to paste
    two = torch.tensor([[[1, 2], [2, 1]]])
    assert classmix_masks(two).sum() == 2  # ceil(2/2) = 1 class of two, two pixels each


def test_classmix_batch_pool_draws_from_the_whole_batch():
    labels = torch.stack([torch.zeros(2, 2, dtype=torch.long), torch.tensor([[1, 2], [3, 3]])])
    # per image: image 0 has one class -> always fully pasted
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        assert classmix_masks(labels, generator=g)[0].sum() == 4
    # batch pool {0,1,2,3}: image 0 is pasted only when class 0 is among the 2 drawn (prob 1/2)
    g = torch.Generator().manual_seed(0)
    pasted = [bool(classmix_masks(labels, batch_pool=True, generator=g)[0].sum() > 0) for _ in range(200)]
    assert 60 < sum(pasted) < 140


def test_classmix_is_reproducible_with_a_generator():
    labels = torch.randint(0, 19, (3, 16, 16))
    a = classmix_masks(labels, generator=torch.Generator().manual_seed(5))
    b = classmix_masks(labels, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_mix_hand_worked():
    mask = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]]])  # [1, 1, 2, 2]
    src_img, trg_img = torch.full((1, 3, 2, 2), 1.0), torch.full((1, 3, 2, 2), -1.0)
    assert mix(mask, src_img, trg_img)[0, 0].tolist() == [[1.0, -1.0], [-1.0, 1.0]]
    src_lbl, trg_lbl = torch.tensor([[[3, 4], [5, 6]]]), torch.tensor([[[7, 8], [9, 10]]])
    out = mix(mask, src_lbl, trg_lbl)
    assert out.dtype == torch.long and out.tolist() == [[[3, 8], [9, 6]]]
    w = mix(mask, torch.ones(1, 2, 2), torch.full((1, 2, 2), 0.25))  # source weight 1, target q_T
    assert w.tolist() == [[[1.0, 0.25], [0.25, 1.0]]]
    with pytest.raises(ValueError):
        mix(mask, src_img, trg_lbl)


def test_blur_kernel_size_is_odd_and_about_a_tenth():
    assert [blur_kernel_size(s) for s in (512, 256, 128, 64, 1024, 10)] == [51, 25, 13, 7, 103, 1]


def test_strong_augment_identity_when_switched_off_and_reproducible():
    x = torch.randn(2, 3, 16, 16)
    assert torch.equal(strong_augment(x, jitter_p=0.0, blur_p=0.0), x)
    same = strong_augment(x, generator=torch.Generator().manual_seed(3))
    again = strong_augment(x, generator=torch.Generator().manual_seed(3))
    assert torch.equal(same, again)
    # strength 0: jitter factors are 1 and hue shift 0, so only round-off changes the image
    y = strong_augment(x.clamp(-1.5, 1.5), jitter_p=1.0, blur_p=0.0, jitter_strength=0.0)
    assert torch.allclose(y, x.clamp(-1.5, 1.5), atol=1e-4)


def test_strong_augment_blur_matches_a_hand_built_gaussian():
    sigma = 0.8
    x = torch.zeros(1, 3, 32, 32)
    x[0, :, 10, 20] = 1.0  # impulse far from the border
    y = strong_augment(x, jitter_p=0.0, blur_p=1.0, blur_sigma=(sigma, sigma))
    # 32 px -> kernel 3; separable gaussian exp(-t²/2σ²) normalised over t = -1, 0, 1
    k = torch.tensor([math.exp(-1 / (2 * sigma**2)), 1.0, math.exp(-1 / (2 * sigma**2))])
    k = k / k.sum()
    expected = torch.zeros(32, 32)
    expected[9:12, 19:22] = torch.outer(k, k)
    assert torch.allclose(y[0, 0], expected, atol=1e-6)


def test_strong_augment_probabilities():
    x = torch.rand(400, 3, 8, 8)
    g = torch.Generator().manual_seed(0)
    jittered = (strong_augment(x, generator=g, blur_p=0.0) - x).abs().flatten(1).amax(1) > 1e-3
    assert 0.72 < jittered.float().mean() < 0.88  # p = 0.8
    x32 = torch.rand(400, 3, 32, 32)  # 32 px -> a 3×3 kernel (8 px would give 1×1, no blur at all)
    blurred = (strong_augment(x32, generator=g, jitter_p=0.0) - x32).abs().flatten(1).amax(1) > 0
    assert 0.42 < blurred.float().mean() < 0.58  # p = 0.5


def test_strong_augment_per_batch_coins_jitters_all_images_or_none():
    """Official DACS: one jitter coin and one blur coin per batch (``random.uniform`` before the image loop)."""
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0)).expand(4, 3, 32, 32).contiguous()
    mixed = 0
    for seed in range(40):
        for per_batch in (False, True):
            g = torch.Generator().manual_seed(seed)
            # jitter alone, then blur alone with a fixed σ = 1 (a σ near 0.15 would leave the image as it is)
            jit = strong_augment(x, generator=g, jitter_p=0.5, blur_p=0.0, per_batch_coins=per_batch)
            blr = strong_augment(
                x, generator=g, jitter_p=0.0, blur_p=0.5, blur_sigma=(1.0, 1.0), per_batch_coins=per_batch
            )
            for y in (jit, blr):
                changed = (y - x).abs().flatten(1).amax(1) > 1e-3  # [4]
                if per_batch:
                    assert changed.all() or not changed.any()
                else:
                    mixed += int(changed.any() and not changed.all())
            if per_batch and not torch.equal(jit, x):  # the factors are still drawn per image
                assert not torch.allclose(jit[0], jit[1], atol=1e-3)
    assert mixed > 20  # per image, P(all four coins agree) = 2 · 0.5⁴ = 1/8


def test_strong_augment_per_batch_coins_probabilities():
    x = torch.rand(2, 3, 8, 8)
    g = torch.Generator().manual_seed(1)
    jittered = [
        bool(((strong_augment(x, generator=g, blur_p=0.0, per_batch_coins=True) - x).abs() > 1e-3).any())
        for _ in range(300)
    ]
    assert 0.72 < sum(jittered) / 300 < 0.88  # one coin per batch with p = 0.8


def test_jitter_stays_in_the_valid_colour_range():
    mean = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)
    std = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)
    rgb = torch.rand(8, 3, 8, 8) * 255
    y = strong_augment((rgb - mean) / std, generator=torch.Generator().manual_seed(0), blur_p=0.0)
    back = y * std + mean
    assert back.min() > -1e-3 and back.max() < 255 + 1e-3


def test_black_pixels_never_turn_into_nan():
    # Found by a 1,500-iteration run: un-normalising a black pixel gives about −3e-8, and torchvision's adjust_hue
    # returns NaN for values below 0; the contrast step then spread it over the whole image and training stopped.
    from daformer_edu.uda.dacs import IMAGENET_MEAN, IMAGENET_STD

    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    pixels = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    pixels[:, :, :4] = 0.0  # black rows, as the ego vehicle's bonnet or a vignetted corner
    pixels[:, :, -2:] = 1.0  # and white ones
    images = (pixels * 255 - mean) / std
    assert ((images * std + mean) / 255).min() < 0  # the round trip really leaves [0, 1]
    for seed in range(40):  # every order of the four jitter ops comes up
        out = strong_augment(images, generator=torch.Generator().manual_seed(seed), jitter_p=1.0, blur_p=0.0)
        assert torch.isfinite(out).all(), f"seed {seed}"


# --- colour jitter, kornia 0.5.8's form ("official") ---------------------------------------------------------
# Pixels A = (0.8, 0.4, 0.2), B = (0.1, 0.5, 0.3), C = grey 0.5. kornia's HSV: V = max, S = (max − min) / max
# (plus 1e-6 in the denominator), H from the first channel holding the max:
#   A: V 0.8, S 0.75, H = ((0.8 − 0.2) − (0.8 − 0.4)) / 0.6 / 6 turn = 1/18 turn (20°);
#   B: V 0.5, S 0.8,  H = (2·0.4 + (0.5 − 0.1) − (0.5 − 0.3)) / 0.4 / 6 = 5/12 turn (150°).
# Back to RGB in sextant i with fraction f: p = V(1 − S), q = V(1 − fS), t = V(1 − (1 − f)S);
# (R, G, B) = (V,t,p) (q,V,p) (p,V,t) (p,q,V) (t,p,V) (V,p,q) for i = 0 … 5.
PIXELS = torch.tensor([[0.8, 0.4, 0.2], [0.1, 0.5, 0.3], [0.5, 0.5, 0.5]]).T.reshape(3, 3, 1)  # [3, 3 px, 1]


def _px(x):
    return [[round(v, 4) for v in p] for p in x[:, :, 0].T.tolist()]


@pytest.mark.parametrize(
    "op, factor, expected",
    [
        # brightness is added: x + (b − 1), clamped
        ("brightness", 0.15, [[0.95, 0.55, 0.35], [0.25, 0.65, 0.45], [0.65, 0.65, 0.65]]),
        ("brightness", -0.25, [[0.55, 0.15, 0.0], [0.0, 0.25, 0.05], [0.25, 0.25, 0.25]]),
        # contrast scales: x·c, clamped (no blend with the mean: grey 0.5 moves too)
        ("contrast", 1.5, [[1.0, 0.6, 0.3], [0.15, 0.75, 0.45], [0.75, 0.75, 0.75]]),
        ("contrast", 0.5, [[0.4, 0.2, 0.1], [0.05, 0.25, 0.15], [0.25, 0.25, 0.25]]),
        # saturation scales S in HSV. f = 0.5: A: S 0.375, i 0, f 1/3: p 0.5, t 0.6 → (0.8, 0.6, 0.5);
        # B: S 0.4, i 2, f 0.5: p 0.3, t 0.4 → (0.3, 0.5, 0.4). f = 2 clamps S at 1 (B) or 1 (A: 1.5):
        # A: p 0, t 0.8·(1 − 2/3) → (0.8, 0.2667, 0); B: p 0, t 0.25 → (0, 0.5, 0.25). Grey stays grey.
        ("saturation", 0.5, [[0.8, 0.6, 0.5], [0.3, 0.5, 0.4], [0.5, 0.5, 0.5]]),
        ("saturation", 2.0, [[0.8, 0.2667, 0.0], [0.0, 0.5, 0.25], [0.5, 0.5, 0.5]]),
        # hue turns H (factor in turns, ×2π radians). +1/4: A 20° → 110°, i 1, f 5/6: q 0.3, p 0.2 → (0.3, 0.8, 0.2);
        # B 150° → 240°, i 4, f 0: t 0.1, p 0.1 → (0.1, 0.1, 0.5). −0.1: A 20° → −16° (= 344°), i 5, f 0.7333:
        # p 0.2, q 0.36 → (0.8, 0.2, 0.36); B 150° → 114°, i 1, f 0.9: q 0.14, p 0.1 → (0.14, 0.5, 0.1).
        ("hue", 0.25, [[0.3, 0.8, 0.2], [0.1, 0.1, 0.5], [0.5, 0.5, 0.5]]),
        ("hue", -0.1, [[0.8, 0.2, 0.36], [0.14, 0.5, 0.1], [0.5, 0.5, 0.5]]),
    ],
)
def test_official_jitter_ops_match_hand_worked_kornia_values(op, factor, expected):
    from daformer_edu.uda import dacs

    fn = {
        "brightness": dacs._brightness_official,
        "contrast": dacs._contrast_official,
        "saturation": dacs._saturation_official,
        "hue": dacs._hue_official,
    }[op]
    out = fn(PIXELS, factor)
    assert torch.allclose(out, torch.tensor(expected).T.reshape(3, 3, 1), atol=1e-4), _px(out)


def _normalised(pixels01):
    from daformer_edu.uda.dacs import IMAGENET_MEAN, IMAGENET_STD

    mean, std = torch.tensor(IMAGENET_MEAN).view(3, 1, 1), torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return (pixels01 * 255 - mean) / std, mean, std


def test_official_colour_jitter_draws_factors_then_order_and_applies_all_four():
    # kornia 0.5.8 draws brightness, contrast, hue, saturation factors, then the order (randperm(4)); every op runs.
    from daformer_edu.uda import dacs

    x01 = torch.rand(3, 5, 7, generator=torch.Generator().manual_seed(1))
    img, mean, std = _normalised(x01)
    for seed in range(6):
        out = dacs.colour_jitter(
            img, torch.Generator().manual_seed(seed), mean, std, 0.2, 0.2, 0.2, 0.2, jitter="official"
        )
        g = torch.Generator().manual_seed(seed)
        b, c, h, f = (
            0.8 + 0.4 * torch.rand((), generator=g).item(),
            0.8 + 0.4 * torch.rand((), generator=g).item(),
            -0.2 + 0.4 * torch.rand((), generator=g).item(),
            0.8 + 0.4 * torch.rand((), generator=g).item(),
        )
        y = (img * std + mean) / 255
        for op in torch.randperm(4, generator=g).tolist():
            y = [
                lambda z: dacs._brightness_official(z, b - 1),
                lambda z: dacs._contrast_official(z, c),
                lambda z: dacs._saturation_official(z, f),
                lambda z: dacs._hue_official(z, h),
            ][op](y)
        assert torch.allclose(out, (y * 255 - mean) / std, atol=1e-5), seed


def test_official_jitter_moves_a_grey_image_further_than_torchvision():
    # On a uniform grey 0.5 image saturation and hue do nothing, torchvision's contrast blends with the image's own
    # mean (nothing either) and its brightness multiplies: 0.5·[0.8, 1.2] = [0.4, 0.6]. kornia adds brightness and
    # scales contrast, in either order: (0.5 ± 0.2)·[0.8, 1.2] or 0.5·[0.8, 1.2] ± 0.2, i.e. within [0.2, 0.84].
    from daformer_edu.uda import dacs

    img, mean, std = _normalised(torch.full((3, 4, 4), 0.5))
    grey = {}
    for form in ("torchvision", "official"):
        values = [
            (
                (
                    dacs.colour_jitter(
                        img, torch.Generator().manual_seed(s), mean, std, 0.2, 0.2, 0.2, 0.2, jitter=form
                    )
                    * std
                    + mean
                )
                / 255
            )
            for s in range(200)
        ]
        assert all(torch.allclose(v, v[0, 0, 0].expand_as(v), atol=1e-5) for v in values)  # stays uniform grey
        grey[form] = torch.tensor([v[0, 0, 0].item() for v in values])
    assert grey["torchvision"].min() >= 0.4 - 1e-5 and grey["torchvision"].max() <= 0.6 + 1e-5
    assert grey["official"].min() >= 0.2 - 1e-5 and grey["official"].max() <= 0.84 + 1e-5
    assert grey["official"].min() < 0.33 and grey["official"].max() > 0.7


def test_strong_augment_jitter_form_default_and_check():
    import inspect

    assert inspect.signature(strong_augment).parameters["jitter"].default == "torchvision"
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(0)).clamp(-1.5, 1.5)
    a = strong_augment(x, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, strong_augment(x, generator=torch.Generator().manual_seed(5), jitter="torchvision"))
    a = strong_augment(x, generator=torch.Generator().manual_seed(5), jitter_p=1.0, blur_p=0.0)
    b = strong_augment(x, generator=torch.Generator().manual_seed(5), jitter_p=1.0, blur_p=0.0, jitter="official")
    assert b.shape == x.shape and torch.isfinite(b).all() and not torch.allclose(a, b, atol=1e-3)
    with pytest.raises(ValueError, match="jitter"):
        strong_augment(x, jitter="kornia")


def test_official_jitter_keeps_black_and_white_pixels_finite():
    from daformer_edu.uda.dacs import IMAGENET_MEAN, IMAGENET_STD

    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    pixels = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    pixels[:, :, :4], pixels[:, :, -2:] = 0.0, 1.0
    images = (pixels * 255 - mean) / std
    for seed in range(24):
        out = strong_augment(
            images, generator=torch.Generator().manual_seed(seed), jitter_p=1.0, blur_p=0.0, jitter="official"
        )
        back = out * std + mean
        assert torch.isfinite(out).all() and back.min() > -1e-3 and back.max() < 255 + 1e-3, seed
