"""Rare Class Sampling: f_c, P(c) (hand-worked, limits in T) and the sampler (draws, re-crops, state)."""

import json
import math

import numpy as np
import pytest
import torch

from daformer_edu.data.base import SegmentationDataset
from daformer_edu.uda.rcs import (
    RareClassSampler,
    cached_class_stats,
    class_frequencies,
    rcs_probabilities,
    scaled_min_pixels,
    total_class_pixels,
)

FREQ = [0.6, 0.3, 0.1, 0.0]  # class 3 never occurs


def test_class_frequencies_hand_worked():
    assert class_frequencies([6, 3, 1, 0]).tolist() == pytest.approx([0.6, 0.3, 0.1, 0.0])
    # the paper's denominator N·H·W, ignore pixels included: 20 pixels of which 10 labelled
    assert class_frequencies([6, 3, 1, 0], total_pixels=20).tolist() == pytest.approx([0.3, 0.15, 0.05, 0.0])
    with pytest.raises(ValueError):
        class_frequencies([0, 0, 0])
    with pytest.raises(ValueError):
        class_frequencies([6, 3, 1], total_pixels=5)


def test_rcs_probabilities_hand_worked():
    # T = 1: exp(0.4), exp(0.7), exp(0.9) = 1.49182, 2.01375, 2.45960; sum 5.96517
    assert rcs_probabilities(FREQ, 1.0).tolist() == pytest.approx([0.250089, 0.337584, 0.412327, 0.0], abs=1e-6)
    # T = 0.1: exp(4), exp(7), exp(9) = 54.598, 1096.633, 8103.084; sum 9254.315
    assert rcs_probabilities(FREQ, 0.1).tolist() == pytest.approx([0.0058998, 0.1185002, 0.8756000, 0.0], abs=1e-6)


def test_absent_class_has_probability_zero_and_limits_in_T():
    for T in (1e-6, 1e-3, 0.01, 1.0, 1e6):
        p = rcs_probabilities(FREQ, T)
        assert p[3] == 0.0 and torch.isfinite(p).all()
        assert p.sum().item() == pytest.approx(1.0)
    assert rcs_probabilities(FREQ, 1e-6).tolist() == pytest.approx([0.0, 0.0, 1.0, 0.0])  # T→0: the rarest
    assert rcs_probabilities(FREQ, 1e6).tolist() == pytest.approx([1 / 3, 1 / 3, 1 / 3, 0.0])  # T→∞: uniform
    with pytest.raises(ValueError, match="temperature"):
        rcs_probabilities(FREQ, 0.0)
    with pytest.raises(ValueError):
        rcs_probabilities([0.0, 0.0], 0.01)


STATS = [  # official sample_class_stats.json layout: string keys after json
    {"file": "a.png", "0": 900, "1": 100},
    {"file": "b.png", "0": 800, "2": 150, "1": 50},
    {"file": "c.png", "0": 990, "2": 10},
    {"file": "d.png", "0": 700, "1": 300},
]


def test_stats_loading_and_counts(tmp_path):
    path = tmp_path / "sample_class_stats.json"
    path.write_text(json.dumps(STATS))
    assert total_class_pixels(STATS, num_classes=4).tolist() == [3390, 450, 160, 0]
    assert total_class_pixels(path, num_classes=4).tolist() == [3390, 450, 160, 0]  # from the json file
    assert RareClassSampler(path, min_pixels=40, num_classes=4).files == ["a.png", "b.png", "c.png", "d.png"]
    with pytest.raises(FileNotFoundError):
        total_class_pixels(tmp_path / "missing.json")
    with pytest.raises(ValueError, match="outside"):
        total_class_pixels(STATS, num_classes=2)
    assert scaled_min_pixels((1052, 1914)) == 3000
    assert scaled_min_pixels((256, 512)) == round(3000 * 256 * 512 / (1052 * 1914))  # 195


def test_sampler_draws_classes_with_P_and_only_eligible_images():
    s = RareClassSampler(STATS, temperature=1.0, min_pixels=40, seed=0, num_classes=4)
    f = torch.tensor([3390, 450, 160, 0]) / 4000
    assert torch.allclose(s.probabilities, rcs_probabilities(f, 1.0))
    assert s.samples_with_class == {0: [0, 1, 2, 3], 1: [0, 1, 3], 2: [1], 3: []}
    n = 6000
    draws = [s.draw() for _ in range(n)]
    for c, i in draws:
        assert i in s.samples_with_class[c]
    class_draws = torch.bincount(torch.tensor([c for c, _ in draws]), minlength=4)
    assert torch.allclose(class_draws / n, s.probabilities.float(), atol=0.025)


def test_sampler_total_pixels_is_the_papers_f_c_denominator():
    # STATS: 4 images, 3390 + 450 + 160 = 4000 labelled pixels; as 4 images of 50×25 = 5000 pixels, 1000 ignore
    official = RareClassSampler(STATS, temperature=1.0, min_pixels=40, num_classes=4)
    paper = RareClassSampler(STATS, temperature=1.0, min_pixels=40, num_classes=4, total_pixels=4 * 50 * 25)
    assert official.frequencies.tolist() == pytest.approx([3390 / 4000, 450 / 4000, 160 / 4000, 0.0])
    assert paper.frequencies.tolist() == pytest.approx([3390 / 5000, 450 / 5000, 160 / 5000, 0.0])
    # P(c) = softmax((1 − f_c)/T) over the occurring classes, by hand for T = 1
    e = [math.exp(1 - n / 5000) for n in (3390, 450, 160)]
    assert paper.probabilities.tolist() == pytest.approx([v / sum(e) for v in e] + [0.0])


def test_sampler_drops_a_class_without_an_eligible_image():
    # class 2 occurs (10 and 150 pixels), but no image holds more than min_pixels=200 of it
    s = RareClassSampler(STATS, temperature=0.01, min_pixels=200, seed=0, num_classes=4)
    assert s.dropped_classes == [2]
    assert s.probabilities[2] == 0 and s.probabilities.sum().item() == pytest.approx(1.0)
    # T small: the rarest remaining class (1) is drawn every time
    assert all(s.draw()[0] == 1 for _ in range(50))
    with pytest.raises(ValueError, match="min_pixels"):
        RareClassSampler(STATS, min_pixels=10_000, num_classes=4)


def test_sampler_recrops_until_the_class_shows():
    s = RareClassSampler(STATS, temperature=1e-4, min_pixels=40, min_crop_ratio=0.5, seed=0, num_classes=4)
    counts = iter([0, 5, 21, 99])  # pixels of the drawn class in successive crops; accept > 40·0.5 = 20

    def load_crop(index):
        label = torch.zeros(10, 10, dtype=torch.long)
        label.view(-1)[: next(counts)] = 2  # the sampler always draws class 2 at T→0
        return {"label": label, "index": index}

    item, c, recrops, short = s.sample(load_crop)
    assert c == 2 and item["index"] == 1 and int((item["label"] == 2).sum()) == 21
    assert recrops == 2 and not short

    calls = []

    def never(index):
        calls.append(index)
        return {"label": torch.zeros(10, 10, dtype=torch.long)}

    drawn = s.sample(never)
    assert len(calls) == 11 and drawn.recrops == 10 and drawn.short  # first crop + 10 re-crops, the last one kept


def test_sampler_state_dict_resumes_the_same_sequence():
    a = RareClassSampler(STATS, temperature=1.0, min_pixels=40, seed=7, num_classes=4)
    for _ in range(13):
        a.draw()
    state = a.state_dict()
    expected = [a.draw() for _ in range(20)]
    b = RareClassSampler(STATS, temperature=1.0, min_pixels=40, seed=123, num_classes=4)
    b.load_state_dict(state)
    assert [b.draw() for _ in range(20)] == expected
    with pytest.raises(ValueError, match="images"):
        RareClassSampler(STATS[:3], temperature=1.0, min_pixels=40, num_classes=4).load_state_dict(state)


class _TinyLabels(SegmentationDataset):
    """A minimal dataset of the package (names, labels), counting how often labels are counted."""

    def __init__(self, labels):
        super().__init__()
        self.labels, self.calls = labels, 0

    def __len__(self):
        return len(self.labels)

    def name(self, i):
        return f"img{i}"

    def load(self, i):
        label = self.labels[i].numpy().astype(np.uint8)
        return np.zeros(label.shape + (3,), np.uint8), label

    def class_pixel_counts(self, i):
        self.calls += 1
        return super().class_pixel_counts(i)


def test_cached_class_stats_computes_once_and_recomputes_on_mismatch(tmp_path):
    labels = [torch.tensor([[0, 0], [13, 255]]), torch.tensor([[1, 1], [1, 16]])]
    ds = _TinyLabels(labels)
    stats = cached_class_stats(ds, tmp_path)
    assert stats == [{"file": "img0", 0: 2, 13: 1}, {"file": "img1", 1: 3, 16: 1}]
    assert (tmp_path / "sample_class_stats.json").exists() and (tmp_path / "samples_with_class.json").exists()
    assert cached_class_stats(ds, tmp_path) == stats and ds.calls == 2  # second call read the cache
    bigger = _TinyLabels(labels + [torch.zeros(2, 2, dtype=torch.long)])
    assert len(cached_class_stats(bigger, tmp_path)) == 3 and bigger.calls == 3  # stale cache recomputed
