"""Confusion matrix, IoU and mIoU against a hand-worked example; inference at label size; evaluate()."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

from daformer_edu.metrics import (
    SlidingWindow,
    confusion_matrix,
    evaluate,
    iou_per_class,
    mean_iou,
    pixel_accuracy,
    predict,
)

# Worked by hand. Pairs (gt, pred), the 255 pixel skipped:
# (0,0) (0,1) (1,1) (1,1) / (2,2) (1,0) (0,0)
#   M = [[2, 1, 0],      IoU_0 = 2 / (3 + 3 - 2) = 0.5
#        [1, 2, 0],      IoU_1 = 2 / (3 + 3 - 2) = 0.5
#        [0, 0, 1]]      IoU_2 = 1 / (1 + 1 - 1) = 1.0      mIoU = 2/3, pixel accuracy = 5/7
LABEL = torch.tensor([[0, 0, 1, 1], [2, 255, 1, 0]])
PRED = torch.tensor([[0, 1, 1, 1], [2, 2, 0, 0]])
M = torch.tensor([[2, 1, 0], [1, 2, 0], [0, 0, 1]])


def test_hand_worked_confusion_and_iou():
    conf = confusion_matrix(PRED, LABEL, 3)
    assert conf.dtype == torch.int64 and torch.equal(conf, M)
    assert torch.allclose(iou_per_class(conf), torch.tensor([0.5, 0.5, 1.0], dtype=torch.float64))
    assert mean_iou(conf) == pytest.approx(2 / 3)
    assert pixel_accuracy(conf) == pytest.approx(5 / 7)
    assert mean_iou(conf, classes=[0, 2]) == pytest.approx(0.75)
    # accumulation over batches is a sum
    assert torch.equal(confusion_matrix(PRED[:1], LABEL[:1], 3) + confusion_matrix(PRED[1:], LABEL[1:], 3), M)


def test_absent_classes():
    # class 3 in neither labels nor predictions: NaN and left out of the mean
    conf = confusion_matrix(PRED, LABEL, 4)
    iou = iou_per_class(conf)
    assert math.isnan(iou[3]) and mean_iou(conf) == pytest.approx(2 / 3)
    # class 3 predicted but never in the labels: IoU 0, and it counts
    conf = confusion_matrix(torch.tensor([0, 3]), torch.tensor([0, 0]), 4)
    iou = iou_per_class(conf)
    assert iou[0] == pytest.approx(0.5) and iou[3] == 0.0 and math.isnan(iou[1])
    assert mean_iou(conf) == pytest.approx(0.25)
    empty = confusion_matrix(torch.tensor([1]), torch.tensor([255]), 3)
    assert empty.sum() == 0 and math.isnan(mean_iou(empty))


def test_bad_values_raise():
    with pytest.raises(ValueError, match="outside"):
        confusion_matrix(torch.tensor([0]), torch.tensor([7]), 3)
    with pytest.raises(ValueError, match="prediction values"):
        confusion_matrix(torch.tensor([5]), torch.tensor([0]), 3)
    with pytest.raises(ValueError, match="same shape"):
        confusion_matrix(torch.zeros(2), torch.zeros(3), 3)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    p = torch.randint(0, 19, (2, 64, 64))
    lab = torch.randint(0, 19, (2, 64, 64))
    lab[:, :5] = 255
    assert torch.equal(confusion_matrix(p.cuda(), lab.cuda(), 19).cpu(), confusion_matrix(p, lab, 19))


class _Pooled(nn.Module):
    """1×1 conv then 2× average pooling: logits at half resolution."""

    def __init__(self, k=4):
        super().__init__()
        self.conv = nn.Conv2d(3, k, 1)

    def forward(self, x):
        return nn.functional.avg_pool2d(self.conv(x), 2)


def test_predict_returns_label_size():
    torch.manual_seed(0)
    model = _Pooled()
    x = torch.randn(2, 3, 16, 32)
    assert predict(model, x).shape == (2, 16, 32)
    assert predict(model, x[0]).shape == (16, 32)
    assert predict(model, x, size=(8, 16)).shape == (2, 16, 32)
    assert predict(model, x, out_size=(32, 64)).shape == (2, 32, 64)
    assert predict(model, x, return_logits=True).shape == (2, 4, 16, 32)


def test_sliding_window_equals_whole_image_for_a_pointwise_model():
    torch.manual_seed(0)
    model = nn.Conv2d(3, 5, 1)  # every pixel on its own: windows must not change anything
    x = torch.randn(1, 3, 20, 37)
    whole = predict(model, x, return_logits=True)
    slid = predict(model, x, sliding_window=SlidingWindow(crop=(8, 16), stride=(5, 10)), return_logits=True)
    assert torch.allclose(whole, slid, atol=1e-5)


class _ReadsChannel0(nn.Module):
    """A 'perfect' model for images whose channel 0 holds the class id: logits = -(x0 - c)²."""

    def __init__(self, k):
        super().__init__()
        self.k = k
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        c = torch.arange(self.k, dtype=x.dtype).view(1, -1, 1, 1)
        return -((x[:, :1] - c) ** 2) + self.dummy


class _Toy(torch.utils.data.Dataset):
    def __len__(self):
        return 3

    def __getitem__(self, i):
        lab = torch.randint(0, 4, (8, 8), generator=torch.Generator().manual_seed(i))
        img = torch.stack([lab.float(), torch.zeros(8, 8), torch.zeros(8, 8)])
        lab[0] = 255
        return {"image": img, "label": lab, "name": str(i)}


def test_evaluate_perfect_model_and_restores_mode():
    model = _ReadsChannel0(4).train()
    res = evaluate(model, _Toy(), num_classes=4, device="cpu", progress=False)
    assert res["miou"] == pytest.approx(100.0) and res["acc"] == pytest.approx(100.0)  # percent
    assert res["confusion"].sum() == 3 * 7 * 8  # ignore row skipped
    assert len(res["iou"]) == 4 and model.training
    loader = torch.utils.data.DataLoader(_Toy(), batch_size=2)
    assert torch.equal(evaluate(model, loader, 4, "cpu", progress=False)["confusion"], res["confusion"])


def test_evaluate_refuses_unlabelled_target():
    from daformer_edu.data import LabelsNotAvailableError, SyntheticDomain

    with pytest.raises(LabelsNotAvailableError):
        evaluate(_ReadsChannel0(19), SyntheticDomain("target", "train", size=(16, 32), length=2), 19, "cpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_predict_moves_a_cpu_image_to_the_model_and_back():
    torch.manual_seed(0)
    model = nn.Conv2d(3, 4, 1).eval()
    x = torch.randn(2, 3, 8, 8)
    cpu = predict(model, x)
    out = predict(model.cuda(), x)  # CPU image, CUDA model
    assert out.device.type == "cpu" and torch.equal(out, cpu)


class _Fixed(nn.Module):
    """Predicts ``PRED`` for one image whatever it sees (one-hot logits)."""

    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return nn.functional.one_hot(PRED, 3).permute(2, 0, 1)[None].float() + self.dummy  # [1, 3, 2, 4]


def test_evaluate_reports_percent_and_the_confusion_functions_fractions():
    # the hand-worked example above: IoU 0.5, 0.5, 1 → 50, 50, 100 %; mIoU 2/3 → 66.67 %; accuracy 5/7 → 71.43 %
    data = [{"image": torch.zeros(1, 3, 2, 4), "label": LABEL[None]}]
    res = evaluate(_Fixed(), data, num_classes=3, device="cpu", progress=False)
    assert torch.equal(res["confusion"], M)
    assert res["iou"] == pytest.approx([50.0, 50.0, 100.0])
    assert res["miou"] == pytest.approx(200 / 3) and res["acc"] == pytest.approx(500 / 7)
    assert mean_iou(res["confusion"]) == pytest.approx(2 / 3)  # functions of M stay fractions
    assert pixel_accuracy(res["confusion"]) == pytest.approx(5 / 7)
    assert iou_per_class(res["confusion"]).tolist() == pytest.approx([0.5, 0.5, 1.0])
    absent = evaluate(_Fixed(), data, num_classes=4, device="cpu", progress=False)["iou"]
    assert math.isnan(absent[3])  # a class in neither labels nor predictions stays NaN
