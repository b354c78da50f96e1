"""Segment your own images with a checkpoint: ``python -m daformer_edu.predict``.

    python -m daformer_edu.predict --checkpoint runs/uda photos/ street.jpg --out runs/uda/seg --overlay
    python -m daformer_edu.predict --checkpoint 211108_1622_gta2cs_daformer_s0_7f24c/latest.pth frame.png --out seg

Per image, at the image's own size, into ``--out``:

- ``<stem>_labelTrainIds.png``: uint8 ``[H, W]``, the class id (train id) of every pixel;
- ``<stem>_color.png``: RGB, every pixel the colour of its class (the run's class table);
- ``<stem>_overlay.png`` (``--overlay``): image and colours half and half, ``(image + colour + 1) // 2`` per channel.

A file input writes straight into ``--out``. A folder input is searched recursively for .png .jpg .jpeg .bmp
files (sorted; files inside ``--out`` are skipped) and its layout is mirrored: ``photos/day/a.jpg`` →
``OUT/day/a_color.png``. Two inputs that would write the same files are an error.

The protocol is ``python -m daformer_edu.evaluate``'s, DAFormer's whole-image inference (``metrics.predict``):

1. the uint8 image resized, keep ratio, to the bound ``--size`` with mmcv's arithmetic (``data.transforms.Resize``,
   OpenCV ``INTER_LINEAR``), then normalised with the ImageNet mean and std;
2. one forward pass over the whole resized image; the logits ``[1, K, h, w]`` resized (bilinear) to the image's
   full size ``[1, K, H, W]`` and the argmax taken there.

``--size`` defaults to the run's ``image_size`` (the size its validation ran at), else 512×1024 (Cityscapes'
1024×512, the released checkpoints').

The checkpoint (``--checkpoint``): a run folder of ``python -m daformer_edu.train`` or its ``checkpoint.pt``, a
released mmseg checkpoint (``latest.pth``) or a plain segmentor state dict; the network's sizes are read from the
weights (``evaluate.load_checkpoint_model``); ``--which model`` is the student, ``ema_model`` the EMA teacher. The
classes (names, colours): the run's config, saved in the checkpoint, names its source; a folder dataset
(``source=folder``) gives its ``source_root/classes.json``, every other run and every checkpoint without a config
the 19 Cityscapes classes. ``--classes FILE`` gives a ``classes.json`` yourself (a run folder copied to a machine
without its dataset). The table must have as many classes as the network has outputs.

Images are read as RGB: a greyscale image repeated in the three channels, the alpha channel of RGBA dropped, and
a JPEG turned upright as its EXIF orientation says, so that the outputs line up with the image as viewers show it.

Errors: a mistake you can fix — a missing or unreadable checkpoint, a ``--which`` it does not hold, classes that do
not fit, a missing input or an input folder without images — stops before any image with one line,
``python -m daformer_edu.predict: error: …``, and exit status 2. An unreadable image does not stop the others:
every readable image is segmented and written, then one line names the unreadable ones (exit status 2), so a
folder of 1,000 photos with one broken JPEG still gives 999 results and says which one is missing.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from . import metrics
from .data.classes import ClassTable
from .data.transforms import Normalize, Resize
from .evaluate import (
    OFFICIAL_SIZE,
    USER_ERRORS,
    load_checkpoint_model,
    one_line,
    read_checkpoint,
    run_config,
    save_prediction,
)

__all__ = [
    "IMAGE_SUFFIXES",
    "PredictError",
    "find_images",
    "read_rgb",
    "run_classes",
    "segment",
    "overlay_image",
    "predict_images",
    "main",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")  # what a folder input is searched for


class PredictError(RuntimeError):
    """A mistake the user can fix: a missing input, an unreadable image, classes that do not fit the checkpoint.

    ``written``: the files written before it was raised (the readable images, when some were not).
    """

    def __init__(self, message: str, written: list[Path] | None = None):
        super().__init__(message)
        self.written = list(written or [])


def find_images(inputs, out=None) -> list[tuple[Path, Path]]:
    """``(image file, output name)`` for every input; the output name is a path without suffix, relative to ``out``.

    A file stands for itself (name: its stem; any format Pillow reads). A folder is searched recursively for
    ``IMAGE_SUFFIXES`` (any case), sorted, skipping files inside ``out``; names keep the path below the folder.
    Raises :class:`PredictError` for an input that does not exist, a folder without images, and two inputs
    that would write the same output name.
    """
    skip = Path(out).resolve() if out is not None else None
    found: list[tuple[Path, Path]] = []
    for item in map(Path, inputs):
        if item.is_dir():
            files = sorted(
                p
                for p in item.rglob("*")
                if p.is_file()
                and p.suffix.lower() in IMAGE_SUFFIXES
                and not (skip is not None and p.resolve().is_relative_to(skip))
            )
            if not files:
                raise PredictError(
                    f"{item} holds no {' '.join(IMAGE_SUFFIXES)} image (searched with its "
                    "sub-folders, outside --out); pass a folder with images, or the image files"
                )
            found += [(p, p.relative_to(item).with_suffix("")) for p in files]
        elif item.is_file():
            found.append((item, Path(item.stem)))
        else:
            raise PredictError(f"input {item} does not exist; pass image files or folders of images")
    seen: dict[Path, Path] = {}
    for path, name in found:
        if name in seen:
            raise PredictError(
                f"{seen[name]} and {path} would both write {name}_color.png (and the other outputs) in "
                "--out; rename one of them, or segment them in two runs with different --out"
            )
        seen[name] = path
    return found


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    """An image file as uint8 ``[H, W, 3]`` RGB, upright as its EXIF orientation says; :class:`PredictError` if
    it cannot be read (missing, truncated, not an image).
    """
    try:
        with Image.open(path) as im:
            im.load()  # decodes now: a truncated file fails here
            return np.array(ImageOps.exif_transpose(im).convert("RGB"))  # [H, W, 3] uint8
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise PredictError(f"{path} ({one_line(err)})") from None


def run_classes(config: dict | None, num_classes: int, classes: str | os.PathLike | None = None) -> ClassTable:
    """The class table of a checkpoint: ``classes`` (a ``classes.json``) if given, else the run's (module text).

    ``config``: the run's ``TrainConfig`` as a dict (``evaluate.run_config``) or None. A folder-dataset run reads
    ``source_root/classes.json``; everything else is Cityscapes' 19. The table must have ``num_classes`` classes
    (the network's outputs); otherwise, or when the run's ``classes.json`` is gone, :class:`PredictError`.
    """
    if classes is not None:
        table = ClassTable.from_json(classes)
    elif config and "folder" in (config.get("source"), config.get("target")):
        side = "source" if config.get("source") == "folder" else "target"
        path = Path(str(config.get(f"{side}_root"))) / "classes.json"
        if not path.is_file():
            raise PredictError(
                f"the checkpoint's run was trained on the folder dataset {path.parent}, whose "
                f"classes.json is not there (moved, or another machine); pass it with --classes FILE"
            )
        table = ClassTable.from_json(path)
    else:
        table = ClassTable.cityscapes()
    if table.num_classes != num_classes:
        raise PredictError(
            f"the checkpoint predicts {num_classes} classes but {table.origin} lists "
            f"{table.num_classes} ({', '.join(table.names)}); pass the run's classes.json with "
            "--classes FILE"
        )
    return table


def segment(model: torch.nn.Module, image: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    """Class ids ``[H, W]`` (long, CPU) of one uint8 RGB image ``[H, W, 3]``, with the whole-image protocol."""
    resized, _ = Resize(tuple(size), resize_label=False)(image)  # [h, w, 3] uint8, keep ratio (cv2)
    x, _ = Normalize()(resized)  # [3, h, w] float, ImageNet statistics
    return metrics.predict(model, x, out_size=image.shape[:2])  # [H, W]: logits resized, then argmax


def overlay_image(image: np.ndarray, color: np.ndarray) -> np.ndarray:
    """Image and class colours half and half: ``(image + color + 1) // 2`` (uint8 ``[H, W, 3]`` each)."""
    return ((image.astype(np.uint16) + color + 1) // 2).astype(np.uint8)  # [H, W, 3]


def _load(checkpoint, which: str, size, classes, trust_checkpoint: bool):
    """The network, its class table and the inference size (``size``, else the run's ``image_size``, else 512×1024)."""
    path, raw = read_checkpoint(checkpoint, trust_checkpoint)
    model, arch = load_checkpoint_model(raw, which, name=path)
    config = run_config(path, raw)
    table = run_classes(config, arch["num_classes"], classes)
    if size is None:
        size = config["image_size"] if config and config.get("image_size") else OFFICIAL_SIZE
    return model, table, tuple(int(v) for v in size)


def predict_images(
    checkpoint,
    inputs,
    out,
    which: str = "model",
    overlay: bool = False,
    size=None,
    classes=None,
    device: str | None = None,
    progress: bool | None = None,
    trust_checkpoint: bool = False,
) -> list[Path]:
    """Segment image files and folders with a checkpoint; write the PNGs (module text) and return their paths.

    ``checkpoint``: a run folder, its ``checkpoint.pt``, a released ``latest.pth`` or a segmentor state dict;
    ``inputs``: image files and folders (:func:`find_images`); ``out``: the output folder; ``which``: ``"model"``
    (student) or ``"ema_model"`` (teacher); ``overlay``: also write ``<stem>_overlay.png``; ``size``: the inference
    bound ``(H, W)`` (default: the run's ``image_size``, else 512×1024); ``classes``: a ``classes.json`` to use
    instead of the run's (:func:`run_classes`); ``device``: default CUDA when available; ``progress``: the tqdm bar
    (None: on a terminal unless ``TQDM_DISABLE=1``). Per image the list holds the trainId PNG, the colour PNG and,
    with ``overlay``, the overlay. A user's mistake raises :class:`PredictError` (or the checkpoint's
    ``FileNotFoundError`` / ``SegmentorWeightsError``) before any image is written; unreadable images are skipped,
    and a :class:`PredictError` naming them is raised after the others are written (its ``written``).
    """
    from tqdm.auto import tqdm

    if size is not None and (len(size) != 2 or min(size) < 1):
        raise PredictError(f"size={tuple(size)}: expected two positive integers H W, e.g. 512 1024")
    images = find_images(inputs, out)  # before loading the checkpoint: a mistyped input fails at once
    model, table, size = _load(checkpoint, which, size, classes, trust_checkpoint)
    model.to(device or ("cuda" if torch.cuda.is_available() else "cpu")).eval()
    if progress is None:  # tqdm's disable=None: a bar on a terminal, none in a log file; none with TQDM_DISABLE=1
        disable = True if os.environ.get("TQDM_DISABLE", "").lower() in ("1", "true") else None
    else:
        disable = not progress
    written: list[Path] = []
    failed: list[str] = []
    for path, name in tqdm(images, desc=f"predict ({which})", unit="image", disable=disable):
        try:
            image = read_rgb(path)  # [H, W, 3] uint8
        except PredictError as err:
            failed.append(str(err))
            continue
        ids = segment(model, image, size)  # [H, W] class ids
        written += save_prediction(ids, out, str(name), table.palette)
        if overlay:
            written.append(Path(out) / f"{name}_overlay.png")
            Image.fromarray(overlay_image(image, table.palette[ids.numpy()])).save(written[-1])
    if failed:
        shown = "; ".join(failed[:3]) + (f"; and {len(failed) - 3} more" if len(failed) > 3 else "")
        raise PredictError(
            f"{len(failed)} of {len(images)} images could not be read and were skipped: {shown}. The "
            f"other {len(images) - len(failed)} were written to {out}; replace or convert the "
            "unreadable files and run them again",
            written,
        )
    return written


def main(argv: list[str] | None = None) -> list[Path]:
    """``python -m daformer_edu.predict``: parse the command line, segment the images, print where they went.

    Returns the files written; a user's mistake ends the command with one line and exit status 2 (module text).
    """
    p = argparse.ArgumentParser(prog="python -m daformer_edu.predict", description=__doc__.split("\n\n")[0])
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files and folders (searched recursively)")
    p.add_argument(
        "--checkpoint",
        required=True,
        help="a run folder of python -m daformer_edu.train (checkpoint.pt), a .pth/.pt file",
    )
    p.add_argument("--out", required=True, help="output folder (a folder input's layout is mirrored in it)")
    p.add_argument(
        "--which",
        default="model",
        choices=("model", "ema_model"),
        help="model (the student, default) | ema_model (the EMA teacher)",
    )
    p.add_argument("--overlay", action="store_true", help="also write <stem>_overlay.png, image and colours blended")
    p.add_argument(
        "--size",
        type=int,
        nargs=2,
        metavar=("H", "W"),
        default=None,
        help="inference size, a keep-ratio bound as mmseg's Resize (default: the run's image_size, else 512 1024)",
    )
    p.add_argument(
        "--classes",
        default=None,
        metavar="FILE",
        help="a classes.json for the colours and names (default: the run's; Cityscapes otherwise)",
    )
    p.add_argument("--device", default=None, help="cuda | cpu (default: cuda if available)")
    p.add_argument(
        "--trust-checkpoint",
        action="store_true",
        help="load with torch.load(weights_only=False), only for a file you trust that needs it",
    )
    args = p.parse_args(argv)
    try:
        written = predict_images(
            args.checkpoint,
            args.inputs,
            args.out,
            which=args.which,
            overlay=args.overlay,
            size=args.size,
            classes=args.classes,
            device=args.device,
            trust_checkpoint=args.trust_checkpoint,
        )
    except (PredictError, *USER_ERRORS) as err:
        p.exit(2, f"{p.prog}: error: {one_line(err)}\n")
    per_image = 3 if args.overlay else 2
    print(f"{len(written) // per_image} images → {args.out}")
    return written


if __name__ == "__main__":
    main(sys.argv[1:])
