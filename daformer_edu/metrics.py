"""Evaluation: confusion matrix, per-class IoU, mIoU, and whole-image / sliding-window inference.

Semantic segmentation is judged by the intersection over union per class, accumulated over the whole
validation set (not averaged per image):

    IoU_c = TP_c / (TP_c + FP_c + FN_c),        mIoU = mean of IoU_c over the classes that occur

From the confusion matrix ``M`` (rows = ground truth, columns = prediction, pixels with label 255 skipped):
``TP_c = M[c, c]``, ``FN_c = Σ_j M[c, j] − TP_c`` (row sum), ``FP_c = Σ_i M[i, c] − TP_c`` (column sum).
A class that is neither in the labels nor in the predictions has union 0: its IoU is NaN and the mean skips
it (mmseg's rule, used by DAFormer). A class that is predicted but never in the labels has IoU 0 and counts.
Synthia → Cityscapes results average over 16 classes: ``mean_iou(M, classes=SYNTHIA_16)``.

Units. The functions of a confusion matrix (``iou_per_class``, ``mean_iou``, ``pixel_accuracy``) return the
equation's value, a fraction in [0, 1]. Every result a person reads holds **percent**, as papers print it:
``evaluate``'s dict here, ``dg.evaluate_target``, STEGO's ``unsupervised.unsupervised_scores`` and the
``python -m daformer_edu.evaluate`` results (keys ``miou``, ``iou`` / ``per_class_iou``, ``acc``). So
``evaluate(...)["miou"] == 100 * mean_iou(evaluate(...)["confusion"])``.

The protocol of DAFormer (mmseg, ``test_cfg=dict(mode='whole')`` in every DAFormer config): the Cityscapes val
image is resized to 1024×512, the network runs on the whole image, its logits are resized (bilinear) to the
full 2048×1024 label and scored there, 19 classes. ``evaluate`` does this when the dataset gives the image at
the inference size and the label at full resolution (what the trainer builds), or with ``size=(512, 1024)``
on full-size pairs. Sliding-window inference (``SlidingWindow``) is HRDA's protocol, kept as an option.

Taught in: notebooks/09_full_uda.ipynb
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = [
    "confusion_matrix",
    "iou_per_class",
    "mean_iou",
    "pixel_accuracy",
    "SlidingWindow",
    "predict",
    "evaluate",
]


def confusion_matrix(
    pred: torch.Tensor, label: torch.Tensor, num_classes: int, ignore_index: int = 255
) -> torch.Tensor:
    """``[K, K]`` int64 counts, ``M[i, j]`` = pixels of ground-truth class i predicted as j (rows = GT).

    Works on any device with one ``bincount`` over ``K·gt + pred`` (pixels with ``label == ignore_index``
    are dropped). ``pred`` and ``label`` are integer tensors of the same shape (any number of dims).
    Sum the matrices of several batches to evaluate a whole dataset.

    Taught in: notebooks/09_full_uda.ipynb
    """
    if pred.shape != label.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and label {tuple(label.shape)} must have the same shape")
    pred, label = pred.reshape(-1).long(), label.reshape(-1).long()
    keep = label != ignore_index
    pred, label = pred[keep], label[keep]
    if label.numel():
        bad_l = (label < 0) | (label >= num_classes)
        if bad_l.any():
            raise ValueError(
                f"label values {torch.unique(label[bad_l]).tolist()} are outside 0..{num_classes - 1} "
                f"and not the ignore index {ignore_index}"
            )
        bad_p = (pred < 0) | (pred >= num_classes)
        if bad_p.any():
            raise ValueError(f"prediction values {torch.unique(pred[bad_p]).tolist()} are outside 0..{num_classes - 1}")
    idx = label * num_classes + pred  # [N]
    return torch.bincount(idx, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def iou_per_class(confusion: torch.Tensor) -> torch.Tensor:
    """IoU_c = M[c, c] / (row_c + col_c − M[c, c]) as float64 ``[K]`` fractions in [0, 1]; NaN where the union is 0.

    Taught in: notebooks/09_full_uda.ipynb
    """
    m = confusion.double()
    tp = torch.diagonal(m)  # [K]
    union = m.sum(dim=1) + m.sum(dim=0) - tp  # [K] = TP + FN + FP
    return torch.where(union > 0, tp / union.clamp_min(1), torch.full_like(tp, float("nan")))


def mean_iou(confusion: torch.Tensor, classes=None) -> float:
    """Mean IoU over the classes present (NaN-skipping mean), a fraction in [0, 1]; ``classes`` restricts it
    (e.g. ``SYNTHIA_16``).

    Taught in: notebooks/09_full_uda.ipynb
    """
    iou = iou_per_class(confusion)
    if classes is not None:
        iou = iou[list(classes)]
    present = ~torch.isnan(iou)
    return float(iou[present].mean()) if present.any() else float("nan")


def pixel_accuracy(confusion: torch.Tensor) -> float:
    """Share of labelled pixels predicted correctly: trace(M) / sum(M), a fraction in [0, 1].

    Taught in: notebooks/09_full_uda.ipynb
    """
    total = confusion.sum()
    return float(torch.diagonal(confusion).sum().double() / total) if total > 0 else float("nan")


@dataclass
class SlidingWindow:
    """Sliding-window inference settings: ``crop=(h, w)`` windows every ``stride=(sh, sw)`` pixels.

    mmseg's "slide" mode: logits of overlapping windows are summed and divided by how many windows covered
    each pixel. It is HRDA's protocol (Hoyer et al. 2022b, config ``gtaHR2csHR_hrda``: 1024×1024 windows,
    stride 512×512, on full-resolution 2048×1024 Cityscapes), *not* DAFormer's: every DAFormer config uses
    ``test_cfg=dict(mode='whole')``, whole-image inference at 1024×512 (``predict`` without a window).

    Taught in: notebooks/09_full_uda.ipynb
    """

    crop: tuple[int, int]
    stride: tuple[int, int]


def _slide(model, x: torch.Tensor, win: SlidingWindow) -> torch.Tensor:
    B, _, H, W = x.shape
    ch, cw = win.crop
    sh, sw = win.stride
    rows = max(H - ch + sh - 1, 0) // sh + 1
    cols = max(W - cw + sw - 1, 0) // sw + 1
    logits = None
    count = x.new_zeros((1, 1, H, W))
    for r in range(rows):
        for c in range(cols):
            y1, x1 = min(r * sh, max(H - ch, 0)), min(c * sw, max(W - cw, 0))
            y2, x2 = min(y1 + ch, H), min(x1 + cw, W)
            out = model(x[:, :, y1:y2, x1:x2])
            out = F.interpolate(out, size=(y2 - y1, x2 - x1), mode="bilinear", align_corners=False)
            if logits is None:
                logits = x.new_zeros((B, out.shape[1], H, W))
            logits[:, :, y1:y2, x1:x2] += out
            count[:, :, y1:y2, x1:x2] += 1
    return logits / count


@torch.no_grad()
def predict(
    model,
    image: torch.Tensor,
    size=None,
    sliding_window: SlidingWindow | None = None,
    out_size=None,
    return_logits: bool = False,
) -> torch.Tensor:
    """Whole-image inference: class map ``[B, H, W]`` (or ``[H, W]`` for one ``[3, H, W]`` image).

    ``size=(h, w)`` resizes the image before the forward pass (bilinear); ``sliding_window`` runs the model on
    overlapping windows instead of the whole image; the logits are then resized (bilinear) to ``out_size``
    — by default the input size, i.e. the label size when image and label match — before the argmax.
    The model must return logits ``[B, K, h, w]`` (any h, w). ``return_logits=True`` returns the resized
    logits instead of the argmax. The image is moved to the model's device and the result comes back on
    the image's device, so ``predict(cuda_model, cpu_image)`` gives a CPU class map.

    Taught in: notebooks/09_full_uda.ipynb
    """
    single = image.dim() == 3
    x = image.unsqueeze(0) if single else image  # [B, 3, H, W]
    weight = next(model.parameters(), None) if isinstance(model, torch.nn.Module) else None
    if weight is not None:
        x = x.to(weight.device)  # a CPU image into a CUDA model just works
    out_size = tuple(out_size) if out_size is not None else tuple(x.shape[-2:])
    if size is not None and tuple(size) != tuple(x.shape[-2:]):
        x = F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)
    if sliding_window is not None:
        logits = _slide(model, x, sliding_window)
    else:
        logits = model(x)  # [B, K, h, w]
    logits = logits.float()  # resize and compare in fp32, also under bf16 autocast
    if tuple(logits.shape[-2:]) != out_size:
        logits = F.interpolate(logits, size=out_size, mode="bilinear", align_corners=False)
    result = (logits if return_logits else logits.argmax(dim=1)).to(image.device)  # back where the image was
    return result[0] if single else result


@torch.no_grad()
def evaluate(
    model,
    data,
    num_classes: int = 19,
    device=None,
    size=None,
    sliding_window=None,
    batch_size: int = 1,
    max_batches: int | None = None,
    classes=None,
    progress: bool | None = None,
    ignore_index: int = 255,
) -> dict:
    """mIoU of ``model`` on a labelled dataset or DataLoader; returns ``{"miou", "iou", "acc", "confusion"}``.

    ``miou``, ``iou`` (a list of K floats, NaN for absent classes) and ``acc`` (pixel accuracy) are in percent:
    ``100 · mean_iou(confusion, classes)``, ``100 · iou_per_class(confusion)``, ``100 · pixel_accuracy(confusion)``
    (the module's unit rule). ``confusion`` is the ``[K, K]`` CPU tensor of counts. Predictions are made at the
    label size (see ``predict``): the logits are resized (bilinear) to each batch's label, so a label kept at
    full resolution is scored at full resolution — mmseg's protocol. ``size=(h, w)`` resizes the image before
    the forward pass (for datasets that give the image at full size). The model is put in eval mode and
    restored afterwards. The progress bar (``tqdm.auto``) is hidden with ``progress=False`` or the environment
    variable ``TQDM_DISABLE=1``.

    Taught in: notebooks/09_full_uda.ipynb
    """
    from tqdm.auto import tqdm

    if isinstance(data, torch.utils.data.Dataset):
        if getattr(data, "has_labels", True) is False:
            from .data.io import LabelsNotAvailableError

            raise LabelsNotAvailableError(f"cannot evaluate on {data!r}: it has no labels (evaluate on a val split)")
        data = torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=False, num_workers=0)
    if device is None:
        device = next(iter(model.parameters())).device if any(True for _ in model.parameters()) else "cpu"
    was_training = model.training
    model.eval()
    confusion = torch.zeros((num_classes, num_classes), dtype=torch.long, device=device)
    total = len(data) if max_batches is None else min(len(data), max_batches)
    try:
        bar = {} if progress is None else {"disable": not progress}  # None: tqdm's default (TQDM_DISABLE works)
        for b, batch in enumerate(tqdm(data, total=total, desc="evaluate", leave=False, **bar)):
            if max_batches is not None and b >= max_batches:
                break
            if "label" not in batch:
                raise KeyError("evaluate needs labelled items ({'image', 'label'}); this batch has no 'label'")
            image = batch["image"].to(device)
            label = batch["label"].to(device)
            pred = predict(model, image, size=size, sliding_window=sliding_window, out_size=label.shape[-2:])
            confusion += confusion_matrix(pred, label, num_classes, ignore_index)
    finally:
        model.train(was_training)
    confusion = confusion.cpu()
    iou = iou_per_class(confusion)  # [K] fractions
    return {
        "miou": 100 * mean_iou(confusion, classes),
        "iou": [100 * float(v) for v in iou],
        "acc": 100 * pixel_accuracy(confusion),
        "confusion": confusion,
    }
