"""Evaluate a checkpoint on Cityscapes val with the official protocol: ``python -m daformer_edu.evaluate``.

    python -m daformer_edu.evaluate --checkpoint work_dirs/211108_1622_gta2cs_daformer_s0_7f24c/latest.pth \\
        --dataset cityscapes --root data/cityscapes [--which ema_model] [--out DIR] [--save-predictions]

The protocol of every DAFormer config (``test_cfg=dict(mode='whole')``, the test pipeline of
``configs/_base_/datasets/uda_gta_to_cityscapes_512x512.py``):

1. **whole-image inference**: the 2048×1024 image is resized to 1024×512 (H×W = 512×1024, ``--size``: a bound,
   keep ratio, as mmseg's ``Resize(keep_ratio=True)``), and the network sees all of it at once (no sliding
   window; that is HRDA's). As mmseg, the uint8 image is resized with OpenCV (``cv2.INTER_LINEAR``: at the
   factor 2 each pixel is the mean of a 2×2 block, rounded) and normalised afterwards: the dataset transform
   ``Compose([Resize(size, resize_label=False)])``, the one the trainer validates with, so in-training
   validation and this command see the same pixels;
2. the logits are resized bilinearly to the full label size (2048×1024) and the argmax is taken there
   (mmseg's ``whole_inference(rescale=True)``);
3. IoU per class over the confusion matrix of the whole split, 19 classes, label 255 ignored; the mIoU is
   the mean over the classes that occur (:mod:`daformer_edu.metrics`). ``--synthia-16`` adds the mIoU over
   the 16 classes Synthia labels (``SYNTHIA_16``), the number reported for Synthia→Cityscapes.

The network is built to fit the checkpoint: the MiT size is read from its tensor shapes (patch-embedding
widths and blocks per stage; ``--encoder`` to say it), the head's widths and the number of classes likewise.
Weights load with :func:`~daformer_edu.models.weights.load_segmentor_weights` (``--which model``: the student,
what the official ``test.sh`` scores; ``ema_model``: the EMA teacher). Writes ``metrics.json`` (and with
``--save-predictions`` one ``{name}_labelTrainIds.png`` per image, uint8 trainIds) into ``--out``.

Taught in: notebooks/09_full_uda.ipynb
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import time
import warnings
from pathlib import Path

import torch

from . import metrics
from .data.classes import CLASSES, SYNTHIA_16
from .data.transforms import Compose, Resize
from .models import build_segmentor
from .models.mit import MIT_CONFIGS
from .models.weights import SegmentorWeightsError, load_converted_state, segmentor_state_dict

__all__ = ["evaluate_checkpoint", "load_checkpoint_model", "infer_architecture", "format_table", "main"]

DATASETS = ("cityscapes",)


def _parse_size(text: str) -> tuple[int, int]:
    """``"512x1024"`` → ``(512, 1024)`` (H×W)."""
    m = re.fullmatch(r"\s*(\d+)\s*[x,]\s*(\d+)\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"--size {text!r}: expected HxW, e.g. 512x1024 (the official 1024×512 W×H)")
    return int(m.group(1)), int(m.group(2))


def infer_architecture(state: dict[str, torch.Tensor]) -> dict:
    """Read the segmentor's sizes from a state dict in this package's layout (``encoder.*``, ``head.*``).

    Returns ``{"encoder": "mit_bX", "num_classes": K, "embed_dim": E, "channels": C}``: the MiT size from
    the patch-embedding widths and the number of blocks per stage (``MIT_CONFIGS``), ``K`` and ``C`` from the
    classifier ``[K, C, 1, 1]``, ``E`` from the first embedding ``[E, C_1]``. Raises
    :class:`~daformer_edu.models.weights.SegmentorWeightsError` when a size cannot be read.

    Taught in: notebooks/09_full_uda.ipynb
    """
    try:
        dims = [int(state[f"encoder.stages.{i}.patch_embed.proj.weight"].shape[0]) for i in range(4)]
        classifier = state["head.classifier.weight"]
        embed = state["head.embeds.0.weight"]
    except KeyError as e:
        raise SegmentorWeightsError(
            f"evaluate: cannot read the network's sizes, the checkpoint has no {e.args[0]!r} (expected a MiT encoder "
            "and the DAFormer head; keys seen: " + ", ".join(sorted(state)[:8]) + ", …)."
        ) from None
    depths = [1 + max((int(m.group(1)) for k in state
                       if (m := re.match(rf"encoder\.stages\.{i}\.blocks\.(\d+)\.", k))), default=-1) for i in range(4)]
    branches = {int(m.group(1)) for k in state if (m := re.match(r"head\.fusion\.branches\.(\d+)\.", k))}
    if len(branches) != 4:
        raise SegmentorWeightsError(
            f"evaluate: the head has {len(branches)} context branches; only DAFormer's four (dilations 1, 6, 12, 18) "
            "can be rebuilt from a checkpoint."
        )
    names = [n for n, c in MIT_CONFIGS.items() if list(c.embed_dims) == dims and list(c.depths) == depths]
    if not names:
        raise SegmentorWeightsError(
            f"evaluate: no MiT size has embed_dims {dims} and depths {depths} (read from the checkpoint); "
            f"known: { {n: (c.embed_dims, c.depths) for n, c in MIT_CONFIGS.items()} }."
        )
    return {"encoder": names[0], "num_classes": int(classifier.shape[0]), "embed_dim": int(embed.shape[0]),
            "channels": int(classifier.shape[1])}


def _save_prediction(pred: torch.Tensor, out_dir: Path, name: str) -> Path:
    from PIL import Image

    path = out_dir / f"{name}_labelTrainIds.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pred.to(torch.uint8).cpu().numpy()).save(path)  # [H, W] uint8 trainIds
    return path


def _percent(v: float) -> float | None:
    return None if math.isnan(v) else round(100 * v, 3)


def load_checkpoint_model(checkpoint, which: str = "model", encoder: str | None = None,
                          trust_checkpoint: bool = False) -> tuple[torch.nn.Module, dict]:
    """The segmentor stored in ``checkpoint`` (its MiT size and widths read from the weights) and that architecture.

    ``checkpoint``: a released mmseg checkpoint, a plain segmentor state dict or this package's ``checkpoint.pt``;
    ``which``: ``"model"``, ``"ema_model"`` (the teacher) or ``"imnet_model"``. Read with
    ``torch.load(weights_only=True)`` unless ``trust_checkpoint`` (a file you trust that holds other objects).

    Taught in: notebooks/09_full_uda.ipynb
    """
    source = checkpoint
    if trust_checkpoint:  # a pickle with more than tensors: only for files you trust
        source = torch.load(os.fspath(checkpoint), map_location="cpu", weights_only=False)
    state, origin = segmentor_state_dict(source, which)
    arch = infer_architecture(state)
    if encoder is not None:
        arch["encoder"] = encoder
    with warnings.catch_warnings():  # "training from scratch": the weights come next
        warnings.simplefilter("ignore")
        model = build_segmentor(arch["encoder"], "daformer", num_classes=arch["num_classes"],
                                embed_dim=arch["embed_dim"], channels=arch["channels"])
    load_converted_state(model, state, origin, f"evaluate(checkpoint={os.fspath(checkpoint)!r}, which={which!r})")
    return model, arch


def _confusion(model, data, num_classes: int, num_workers: int, progress, desc: str,
               pred_dir: Path | None) -> torch.Tensor:
    """One confusion matrix over ``data`` (whole-image inference, logits resized to each full-size label)."""
    from tqdm.auto import tqdm

    loader = torch.utils.data.DataLoader(data, batch_size=1, shuffle=False, num_workers=num_workers)
    confusion = torch.zeros((num_classes, num_classes), dtype=torch.long)
    bar = {} if progress is None else {"disable": not progress}  # None: tqdm's default (TQDM_DISABLE works)
    for batch in tqdm(loader, total=len(data), desc=desc, **bar):
        label = batch["label"]  # [1, H, W] full size
        pred = metrics.predict(model, batch["image"], out_size=label.shape[-2:])  # [1, H, W]: image already at size
        confusion += metrics.confusion_matrix(pred, label, num_classes)
        if pred_dir is not None:
            _save_prediction(pred[0], pred_dir, batch["name"][0])
    return confusion


def evaluate_checkpoint(
    checkpoint: str | os.PathLike,
    root: str | os.PathLike,
    dataset: str = "cityscapes",
    which: str = "model",
    encoder: str | None = None,
    size: tuple[int, int] = (512, 1024),
    synthia_16: bool = False,
    out: str | os.PathLike | None = None,
    save_predictions: bool = False,
    device: str | None = None,
    num_workers: int = 0,
    max_images: int | None = None,
    progress: bool | None = None,
    trust_checkpoint: bool = False,
) -> dict:
    """Score a checkpoint on ``dataset``'s val split with the official protocol (module docstring); returns metrics.

    The returned dict (also ``out/metrics.json`` when ``out`` is given): ``miou`` (percent, 19 classes),
    ``per_class_iou`` (``{name: percent or None}``, None for a class absent from labels and predictions),
    ``acc`` (pixel accuracy, percent), ``miou_16`` (with ``synthia_16``), ``confusion`` (``[K, K]`` counts,
    rows = ground truth), ``num_images``, ``size``, ``checkpoint``, ``which``, ``architecture``, ``seconds``.
    The checkpoint is read with ``torch.load(weights_only=True)``; ``trust_checkpoint=True`` lifts that for a
    file you trust that holds other Python objects.

    Taught in: notebooks/09_full_uda.ipynb
    """
    if dataset not in DATASETS:
        raise ValueError(f"evaluate: dataset={dataset!r} is not supported; use one of {DATASETS}.")
    if save_predictions and out is None:
        raise ValueError("evaluate: save_predictions needs an output folder (--out DIR).")
    from .data.cityscapes import CityscapesDataset

    # The image resized as mmseg's test pipeline (cv2, keep ratio), the label left at full size (2048×1024).
    data = CityscapesDataset(root, "val", transform=Compose([Resize(size, resize_label=False)]))
    model, arch = load_checkpoint_model(checkpoint, which, encoder, trust_checkpoint)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device).eval()
    K = arch["num_classes"]
    if synthia_16 and K != len(CLASSES):
        raise SegmentorWeightsError(f"evaluate: synthia_16 needs the 19 Cityscapes classes; the checkpoint has {K}.")
    names = list(CLASSES) if K == len(CLASSES) else [str(c) for c in range(K)]
    out = Path(out) if out is not None else None
    n = len(data) if max_images is None else min(len(data), max_images)
    start = time.perf_counter()
    confusion = _confusion(model, torch.utils.data.Subset(data, range(n)), K, num_workers, progress,
                           f"evaluate {which}", out / "predictions" if save_predictions else None)
    iou = metrics.iou_per_class(confusion)
    result = {
        "miou": _percent(metrics.mean_iou(confusion)),
        "per_class_iou": {name: _percent(float(v)) for name, v in zip(names, iou)},
        "acc": _percent(metrics.pixel_accuracy(confusion)),
        "num_classes": K, "num_images": n, "size": list(size), "dataset": dataset, "split": "val",
        "root": os.fspath(root), "checkpoint": os.fspath(checkpoint), "which": which, "architecture": arch,
        "device": str(device), "seconds": round(time.perf_counter() - start, 1), "confusion": confusion.tolist(),
    }
    if synthia_16:
        result["miou_16"] = _percent(metrics.mean_iou(confusion, classes=SYNTHIA_16))
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def format_table(result: dict) -> str:
    """The per-class IoU table and the summary lines, as printed by the command line.

    Taught in: notebooks/09_full_uda.ipynb
    """
    width = max(len(n) for n in result["per_class_iou"])
    lines = [f"{'class':<{width}}  IoU (%)", f"{'-' * width}  -------"]
    for name, v in result["per_class_iou"].items():
        lines.append(f"{name:<{width}}  {'n/a' if v is None else f'{v:7.2f}'}")
    lines.append(f"{'-' * width}  -------")
    lines.append(f"mIoU ({result['num_classes']} classes): {result['miou']:.2f}   pixel accuracy: {result['acc']:.2f}")
    if "miou_16" in result:
        lines.append(f"mIoU (16 Synthia classes): {result['miou_16']:.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    """``python -m daformer_edu.evaluate``: parse the command line, evaluate, print the table.

    Taught in: notebooks/09_full_uda.ipynb
    """
    p = argparse.ArgumentParser(prog="python -m daformer_edu.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", required=True, help="checkpoint file (.pth/.pt): the official release or ours")
    p.add_argument("--dataset", default="cityscapes", choices=DATASETS)
    p.add_argument("--root", required=True, help="dataset folder (Cityscapes: with leftImg8bit/ and gtFine/)")
    p.add_argument("--which", default="model", help="model (student, default, as the official test.sh) | ema_model")
    p.add_argument("--encoder", default=None, choices=sorted(MIT_CONFIGS), help="MiT size (default: from the weights)")
    p.add_argument("--size", type=_parse_size, default=(512, 1024),
                   help="inference size HxW, a keep-ratio bound as mmseg's Resize (default 512x1024)")
    p.add_argument("--synthia-16", action="store_true", help="also report the mIoU over the 16 Synthia classes")
    p.add_argument("--out", default=None, help="folder for metrics.json (and predictions)")
    p.add_argument("--save-predictions", action="store_true", help="write OUT/predictions/{name}_labelTrainIds.png")
    p.add_argument("--device", default=None, help="cuda | cpu (default: cuda if available)")
    p.add_argument("--workers", type=int, default=0, help="DataLoader workers for reading the images")
    p.add_argument("--trust-checkpoint", action="store_true",
                   help="load with torch.load(weights_only=False), only for a file you trust that needs it")
    p.add_argument("--max-images", type=int, default=None, help="evaluate only the first N images (a quick look)")
    args = p.parse_args(argv)
    if args.save_predictions and args.out is None:
        p.error("--save-predictions needs --out DIR")
    try:
        result = evaluate_checkpoint(
            args.checkpoint, args.root, dataset=args.dataset, which=args.which, encoder=args.encoder, size=args.size,
            synthia_16=args.synthia_16, out=args.out, save_predictions=args.save_predictions, device=args.device,
            num_workers=args.workers, max_images=args.max_images, trust_checkpoint=args.trust_checkpoint,
        )
    except (FileNotFoundError, SegmentorWeightsError) as e:  # no dataset, no checkpoint, or one that does not fit
        p.exit(2, f"{p.prog}: error: {e}\n")
    print(format_table(result))
    if args.out is not None:
        print(f"→ {Path(args.out) / 'metrics.json'}")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
