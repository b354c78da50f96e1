"""ClassMix masks, the domain mix and the strong augmentation, with hand-worked examples."""
import itertools
import math

import pytest
import torch

from daformer_edu.uda.dacs import blur_kernel_size, classmix_masks, mix, strong_augment

LABEL = torch.tensor([[0, 0, 1, 1],
                      [2, 2, 255, 3],
                      [2, 5, 5, 3]])  # classes {0, 1, 2, 3, 5} (+ ignore): n = 5 -> ceil(5/2) = 3 pasted


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
            blr = strong_augment(x, generator=g, jitter_p=0.0, blur_p=0.5, blur_sigma=(1.0, 1.0),
                                 per_batch_coins=per_batch)
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
    jittered = [bool(((strong_augment(x, generator=g, blur_p=0.0, per_batch_coins=True) - x).abs() > 1e-3).any())
                for _ in range(300)]
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
