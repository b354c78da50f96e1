"""Evaluate a checkpoint on a val split with the official protocol: ``python -m daformer_edu.evaluate``.

    python -m daformer_edu.evaluate --checkpoint work_dirs/211108_1622_gta2cs_daformer_s0_7f24c/latest.pth \\
        --dataset cityscapes --root data/cityscapes [--which ema_model] [--out DIR] [--save-predictions]
    python -m daformer_edu.evaluate --checkpoint runs/my_run --dataset folder --root data/my_domain --out DIR

``--dataset cityscapes``: Cityscapes val, 19 classes. ``--dataset folder``: your own classes, a
:class:`~daformer_edu.data.folder.FolderDataset` root with ``images/val``, ``labels/val`` and ``classes.json``
(the class names, colours and K come from it; the checkpoint must have K outputs). ``--size`` defaults to
512×1024 on Cityscapes; on a folder dataset to the run's ``image_size`` (a checkpoint of this package, the size
its validation ran at), else 512×1024.

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
what the official ``test.sh`` scores; ``ema_model``: the EMA teacher); ``--checkpoint`` is the file or a run
folder of ``python -m daformer_edu.train`` (its ``checkpoint.pt``). Writes ``metrics.json`` (and with
``--save-predictions``, in ``predictions/``, one ``{name}_labelTrainIds.png`` per image, uint8 trainIds, and
``{name}_color.png``, the classes' colours: the dataset's palette) into ``--out``.

A mistake you can fix (no dataset, no checkpoint, a truncated one, classes that do not fit) ends the command with
one line, ``python -m daformer_edu.evaluate: error: …``, and exit status 2.

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
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from . import metrics
from .data.classes import CLASSES, SYNTHIA_16, ClassTable
from .data.io import DatasetError
from .data.transforms import Compose, Resize
from .models import build_segmentor
from .models.mit import MIT_CONFIGS
from .models.weights import SegmentorWeightsError, load_converted_state, segmentor_state_dict

__all__ = [
    "evaluate_checkpoint",
    "read_checkpoint",
    "run_config",
    "load_checkpoint_model",
    "infer_architecture",
    "save_prediction",
    "format_table",
    "one_line",
    "USER_ERRORS",
    "main",
]

DATASETS = ("cityscapes", "folder")
OFFICIAL_SIZE = (512, 1024)  # H×W: Cityscapes' 2048×1024 resized to 1024×512, every DAFormer config's test size

# The errors a user can act on: printed as one line by the command line (a programming error keeps its traceback).
USER_ERRORS = (ValueError, FileNotFoundError, DatasetError)  # SegmentorWeightsError is a ValueError


def _parse_size(text: str) -> tuple[int, int]:
    """``"512x1024"`` → ``(512, 1024)`` (H×W)."""
    m = re.fullmatch(r"\s*(\d+)\s*[x,]\s*(\d+)\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"--size {text!r}: expected HxW, e.g. 512x1024 (the official 1024×512 W×H)")
    return int(m.group(1)), int(m.group(2))


def one_line(err: BaseException) -> str:
    """The message of ``err`` on one line, as the command lines print it (``… error: <message>``).

    An error re-raised from a DataLoader worker carries the worker's traceback: only its last message is kept.
    """
    text = str(err).strip()
    if "Original Traceback" in text:  # torch's ExceptionWrapper: the original message ends the traceback
        lines = text.splitlines()
        starts = [i for i, line in enumerate(lines) if re.match(rf"[\w.]*{type(err).__name__}: ", line)]
        if starts:
            text = "\n".join(lines[starts[-1] :]).split(": ", 1)[1]
    return " ".join(text.split())


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
    depths = [
        1
        + max(
            (int(m.group(1)) for k in state if (m := re.match(rf"encoder\.stages\.{i}\.blocks\.(\d+)\.", k))),
            default=-1,
        )
        for i in range(4)
    ]
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
    return {
        "encoder": names[0],
        "num_classes": int(classifier.shape[0]),
        "embed_dim": int(embed.shape[0]),
        "channels": int(classifier.shape[1]),
    }


def _numpy_array_globals() -> list:
    """What ``torch.load(weights_only=True)`` needs to rebuild the numpy arrays of a trainer checkpoint (numpy's RNG
    state, a uint32 array): the array and dtype constructors, and the numeric dtypes, never numpy's object dtype."""
    core = getattr(np, "_core", None) or np.core  # numpy 2 | numpy 1
    numeric = (
        np.bool_,
        np.uint8,
        np.int8,
        np.uint16,
        np.int16,
        np.uint32,
        np.int32,
        np.uint64,
        np.int64,
        np.float16,
        np.float32,
        np.float64,
    )
    return [core.multiarray._reconstruct, np.ndarray, np.dtype, *{type(np.dtype(t)) for t in numeric}]


def _torch_load(path: Path, trust_checkpoint: bool):
    if trust_checkpoint:  # a pickle with more than tensors: only for files you trust
        return torch.load(path, map_location="cpu", weights_only=False)
    safe = getattr(torch.serialization, "safe_globals", None)  # torch >= 2.5
    if safe is None:
        return torch.load(path, map_location="cpu", weights_only=True)
    with safe(_numpy_array_globals()):
        return torch.load(path, map_location="cpu", weights_only=True)


def read_checkpoint(checkpoint: str | os.PathLike, trust_checkpoint: bool = False) -> tuple[Path, dict]:
    """Read a checkpoint file, or the ``checkpoint.pt`` of a run folder: ``(its path, its content)``.

    ``torch.load(weights_only=True)``: tensors, containers, numbers, strings and the numpy arrays a checkpoint of
    this package holds (numpy's RNG state); any other Python object is refused, so a file from elsewhere cannot run
    code. ``trust_checkpoint=True`` loads anything (only for a file you trust). Errors name the file and the fix:
    ``FileNotFoundError`` (no such file; a folder without ``checkpoint.pt``), ``SegmentorWeightsError`` (an archive
    not extracted, a truncated or foreign file, an object that needs ``trust_checkpoint``).
    """
    path = Path(checkpoint).expanduser()
    if path.is_dir():
        if not (path / "checkpoint.pt").is_file():
            raise FileNotFoundError(
                f"{path} is a folder without checkpoint.pt: pass a run folder of python -m daformer_edu.train (its "
                "--out) or a checkpoint file (the official release: latest.pth inside the extracted archive)"
            )
        path = path / "checkpoint.pt"
    if not path.is_file():
        raise FileNotFoundError(
            f"no checkpoint file at {path}: pass a .pth/.pt file or a run folder of "
            "python -m daformer_edu.train (its --out, which holds checkpoint.pt)"
        )
    if path.name.endswith((".tar.gz", ".tgz", ".tar", ".zip")):
        raise SegmentorWeightsError(
            f"{path} is an archive; extract it first (tar -xzf {path.name}) and pass the .pth inside (the official "
            "GTA→Cityscapes release: 211108_1622_gta2cs_daformer_s0_7f24c/latest.pth)"
        )
    try:
        raw = _torch_load(path, trust_checkpoint)
    except Exception as err:  # a damaged file raises many types: RuntimeError, EOFError, KeyError, UnpicklingError
        text = str(err)
        if "Weights only load failed" in text:
            found = re.search(r"GLOBAL (\S+)|but got (<[^>]+>)", text)
            what = f" ({found.group(1) or found.group(2)})" if found else ""
            raise SegmentorWeightsError(
                f"{path} holds Python objects other than tensors{what}, which torch.load(weights_only=True) refuses. "
                "If you trust the file, add --trust-checkpoint (trust_checkpoint=True)"
            ) from None
        reason = text.strip().splitlines()[0] if text.strip() else type(err).__name__
        raise SegmentorWeightsError(
            f"{path} is not a readable checkpoint ({reason}): the file is truncated or was not written by "
            "torch.save; download or copy it again"
        ) from None
    if not isinstance(raw, Mapping):
        raise SegmentorWeightsError(f"{path} holds a {type(raw).__name__}, not a checkpoint dict of weights.")
    return path, raw


def run_config(checkpoint_path: str | os.PathLike, checkpoint: Mapping) -> dict | None:
    """The ``TrainConfig`` (as a dict) of the run that wrote a checkpoint, or None for a checkpoint of other code.

    ``python -m daformer_edu.train`` saves it in ``checkpoint.pt`` (key ``config``) and as ``config.json`` in the run
    folder: the one in the checkpoint first, else a ``config.json`` beside the file that holds a ``TrainConfig``
    (``image_size``, ``source``, ``encoder``). The official release has neither: None.
    """
    config = checkpoint.get("config")
    if isinstance(config, Mapping):
        return dict(config)
    beside = Path(checkpoint_path).parent / "config.json"
    if beside.is_file():
        try:
            saved = json.loads(beside.read_text())
        except (OSError, ValueError):
            return None
        if isinstance(saved, dict) and {"image_size", "source", "encoder"} <= set(saved):
            return saved
    return None


def save_prediction(pred, out_dir: str | os.PathLike, name: str, palette: np.ndarray | None = None) -> list[Path]:
    """Write one prediction: ``{name}_labelTrainIds.png`` and, given a palette, ``{name}_color.png``; returns the paths.

    ``pred``: ``[H, W]`` class ids (tensor or array), written as a uint8 greyscale PNG; ``palette``: uint8 ``[K, 3]``,
    the colour PNG is ``palette[pred]`` (RGB). ``name`` may hold folders (``frankfurt/frankfurt_000000_000294``).
    """
    from PIL import Image

    ids = torch.as_tensor(pred).cpu().numpy().astype(np.uint8)  # [H, W] uint8 trainIds
    base = Path(out_dir) / name
    base.parent.mkdir(parents=True, exist_ok=True)
    paths = [base.parent / f"{base.name}_labelTrainIds.png"]
    Image.fromarray(ids).save(paths[0])
    if palette is not None:
        paths.append(base.parent / f"{base.name}_color.png")
        Image.fromarray(np.asarray(palette, dtype=np.uint8)[ids]).save(paths[1])  # [H, W, 3] RGB
    return paths


def _percent(v: float) -> float | None:
    return None if math.isnan(v) else round(100 * v, 3)


def load_checkpoint_model(
    checkpoint,
    which: str = "model",
    encoder: str | None = None,
    trust_checkpoint: bool = False,
    name: str | os.PathLike | None = None,
) -> tuple[torch.nn.Module, dict]:
    """The segmentor stored in ``checkpoint`` (its MiT size and widths read from the weights) and that architecture.

    ``checkpoint``: a released mmseg checkpoint, a plain segmentor state dict, this package's ``checkpoint.pt`` or
    the run folder holding it — a path (read with :func:`read_checkpoint`, ``torch.load(weights_only=True)`` unless
    ``trust_checkpoint``), or the content :func:`read_checkpoint` returned (``name``: its path, for messages);
    ``which``: ``"model"``, ``"ema_model"`` (the teacher) or ``"imnet_model"``.

    Taught in: notebooks/09_full_uda.ipynb
    """
    if isinstance(checkpoint, Mapping):
        source, name = checkpoint, "<checkpoint dict>" if name is None else name
    else:
        name, source = read_checkpoint(checkpoint, trust_checkpoint)
    state, origin = segmentor_state_dict(source, which)
    arch = infer_architecture(state)
    if encoder is not None:
        arch["encoder"] = encoder
    with warnings.catch_warnings():  # "training from scratch": the weights come next
        warnings.simplefilter("ignore")
        model = build_segmentor(
            arch["encoder"],
            "daformer",
            num_classes=arch["num_classes"],
            embed_dim=arch["embed_dim"],
            channels=arch["channels"],
        )
    load_converted_state(model, state, origin, f"evaluate(checkpoint={os.fspath(name)!r}, which={which!r})")
    return model, arch


def _confusion(
    model,
    data,
    num_classes: int,
    num_workers: int,
    progress,
    desc: str,
    pred_dir: Path | None,
    palette: np.ndarray | None,
) -> torch.Tensor:
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
            save_prediction(pred[0], pred_dir, batch["name"][0], palette)
    return confusion


def _val_split(dataset: str, root, size: tuple[int, int]):
    """The val split at inference size (the image resized as mmseg's test pipeline, the label at full size) and
    its ``ClassTable``."""
    transform = Compose([Resize(size, resize_label=False)])
    if dataset == "folder":
        from .data.folder import FolderDataset

        data = FolderDataset(root, "val", transform=transform, labels=True)
        return data, data.classes
    from .data.cityscapes import CityscapesDataset

    return CityscapesDataset(root, "val", transform=transform), ClassTable.cityscapes()


def _class_names(dataset: str, table: ClassTable, K: int, synthia_16: bool) -> list[str]:
    """The names of the checkpoint's K classes; a folder dataset must have exactly K."""
    if dataset == "folder" and K != table.num_classes:
        raise SegmentorWeightsError(
            f"evaluate: the checkpoint predicts {K} classes but {table.origin} lists {table.num_classes} "
            f"({', '.join(table.names)}); evaluate it on a dataset with the classes it was trained on"
        )
    if synthia_16 and (dataset != "cityscapes" or K != len(CLASSES)):
        raise SegmentorWeightsError(
            f"evaluate: synthia_16 needs Cityscapes and its 19 classes; the dataset is "
            f"{dataset!r} and the checkpoint has {K} classes."
        )
    return list(table.names) if K == table.num_classes else [str(c) for c in range(K)]


def _scores(confusion: torch.Tensor, names: list[str], synthia_16: bool) -> dict:
    """mIoU, per-class IoU and pixel accuracy in percent from one confusion matrix (+ Synthia's 16-class mIoU)."""
    iou = metrics.iou_per_class(confusion)
    scores = {
        "miou": _percent(metrics.mean_iou(confusion)),
        "per_class_iou": {name: _percent(float(v)) for name, v in zip(names, iou)},
        "acc": _percent(metrics.pixel_accuracy(confusion)),
    }
    if synthia_16:
        scores["miou_16"] = _percent(metrics.mean_iou(confusion, classes=SYNTHIA_16))
    return scores


def evaluate_checkpoint(
    checkpoint: str | os.PathLike,
    root: str | os.PathLike,
    dataset: str = "cityscapes",
    which: str = "model",
    encoder: str | None = None,
    size: tuple[int, int] | None = None,
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

    ``dataset``: ``"cityscapes"`` (19 classes) or ``"folder"`` (a ``FolderDataset`` root with ``images/val``,
    ``labels/val`` and ``classes.json``; the checkpoint must predict its K classes). ``size``: the inference bound
    H×W; None = 512×1024, or on a folder dataset the run's ``image_size`` when the checkpoint is one of this package.
    The returned dict (also ``out/metrics.json`` when ``out`` is given): ``miou`` (percent), ``per_class_iou``
    (``{name: percent or None}``, None for a class absent from labels and predictions), ``acc`` (pixel accuracy,
    percent), ``miou_16`` (with ``synthia_16``), ``confusion`` (``[K, K]`` counts, rows = ground truth),
    ``num_images``, ``size``, ``checkpoint``, ``which``, ``architecture``, ``seconds``. ``save_predictions`` writes
    ``out/predictions/{name}_labelTrainIds.png`` and ``{name}_color.png`` (the dataset's palette; Cityscapes' when
    the checkpoint has its 19 classes). The checkpoint is read with :func:`read_checkpoint`.

    Taught in: notebooks/09_full_uda.ipynb
    """
    if dataset not in DATASETS:
        raise ValueError(f"evaluate: dataset={dataset!r} is not supported; use one of {DATASETS}.")
    if save_predictions and out is None:
        raise ValueError("evaluate: save_predictions needs an output folder (--out DIR).")
    path, raw = read_checkpoint(checkpoint, trust_checkpoint)
    if size is None:
        config = run_config(path, raw) if dataset == "folder" else None
        size = tuple(config["image_size"]) if config and config.get("image_size") else OFFICIAL_SIZE
    data, table = _val_split(dataset, root, size)
    model, arch = load_checkpoint_model(raw, which, encoder, name=checkpoint)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device).eval()
    K = arch["num_classes"]
    names = _class_names(dataset, table, K, synthia_16)
    palette = table.palette if K == table.num_classes else None
    out = Path(out) if out is not None else None
    n = len(data) if max_images is None else min(len(data), max_images)
    start = time.perf_counter()
    confusion = _confusion(
        model,
        torch.utils.data.Subset(data, range(n)),
        K,
        num_workers,
        progress,
        f"evaluate {which}",
        out / "predictions" if save_predictions else None,
        palette,
    )
    result = {
        **_scores(confusion, names, synthia_16),
        "num_classes": K,
        "num_images": n,
        "size": list(size),
        "dataset": dataset,
        "split": "val",
        "root": os.fspath(root),
        "checkpoint": os.fspath(checkpoint),
        "which": which,
        "architecture": arch,
        "device": str(device),
        "seconds": round(time.perf_counter() - start, 1),
        "confusion": confusion.tolist(),
    }
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
    p.add_argument(
        "--checkpoint",
        required=True,
        help="checkpoint file (.pth/.pt: the official release or ours) or a run folder (checkpoint.pt)",
    )
    p.add_argument(
        "--dataset",
        default="cityscapes",
        choices=DATASETS,
        help="cityscapes (19 classes) | folder (images/val, labels/val, classes.json: your classes)",
    )
    p.add_argument(
        "--root",
        required=True,
        help="dataset folder (Cityscapes: with leftImg8bit/ and gtFine/; folder: with classes.json)",
    )
    p.add_argument("--which", default="model", help="model (student, default, as the official test.sh) | ema_model")
    p.add_argument("--encoder", default=None, choices=sorted(MIT_CONFIGS), help="MiT size (default: from the weights)")
    p.add_argument(
        "--size",
        type=_parse_size,
        default=None,
        help="inference size HxW, a keep-ratio bound as mmseg's Resize (default 512x1024; folder: the "
        "run's image_size)",
    )
    p.add_argument("--synthia-16", action="store_true", help="also report the mIoU over the 16 Synthia classes")
    p.add_argument("--out", default=None, help="folder for metrics.json (and predictions)")
    p.add_argument(
        "--save-predictions",
        action="store_true",
        help="write OUT/predictions/{name}_labelTrainIds.png and {name}_color.png",
    )
    p.add_argument("--device", default=None, help="cuda | cpu (default: cuda if available)")
    p.add_argument("--workers", type=int, default=0, help="DataLoader workers for reading the images")
    p.add_argument(
        "--trust-checkpoint",
        action="store_true",
        help="load with torch.load(weights_only=False), only for a file you trust that needs it",
    )
    p.add_argument("--max-images", type=int, default=None, help="evaluate only the first N images (a quick look)")
    args = p.parse_args(argv)
    if args.save_predictions and args.out is None:
        p.error("--save-predictions needs --out DIR")
    try:
        result = evaluate_checkpoint(
            args.checkpoint,
            args.root,
            dataset=args.dataset,
            which=args.which,
            encoder=args.encoder,
            size=args.size,
            synthia_16=args.synthia_16,
            out=args.out,
            save_predictions=args.save_predictions,
            device=args.device,
            num_workers=args.workers,
            max_images=args.max_images,
            trust_checkpoint=args.trust_checkpoint,
        )
    except USER_ERRORS as e:  # no dataset, no checkpoint, one that does not fit, a corrupt image or label
        p.exit(2, f"{p.prog}: error: {one_line(e)}\n")
    print(format_table(result))
    if args.out is not None:
        print(f"→ {Path(args.out) / 'metrics.json'}")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
