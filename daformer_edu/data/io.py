"""Reading images and label maps from disk, with errors that say which file is wrong and how to fix it.

Three things go wrong with real downloads, and each gets its own message here:
- a file is missing, truncated or not an image       → ``DatasetError`` naming the file;
- an image and its label differ in size               → ``DatasetError`` naming both files and both sizes;
- a label holds ids the class table does not know     → those pixels become 255 (ignore) and *one* warning
  per file names the file and the values.

A 16-bit PNG (Synthia's ``GT/LABELS``) must not go through Pillow: Pillow reads a 16-bit RGB PNG as 8-bit RGB
by keeping only the high byte, which turns every class id below 256 into 0 without a word. Those files are
decoded with ``torchvision.io.decode_png`` instead, which keeps all 16 bits.

Taught in: notebooks/09_full_uda.ipynb
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from .classes import IGNORE_INDEX

__all__ = [
    "DatasetError",
    "DatasetNotFoundError",
    "LabelsNotAvailableError",
    "read_image",
    "read_label",
    "map_label",
    "check_same_size",
    "label_file_pixels",
]


class DatasetError(RuntimeError):
    """A dataset file is unreadable, truncated, or does not match its partner file.

    Taught in: notebooks/09_full_uda.ipynb
    """


class DatasetNotFoundError(FileNotFoundError):
    """A dataset root (or a folder inside it) does not exist; the message shows the expected layout.

    Taught in: notebooks/09_full_uda.ipynb
    """


class LabelsNotAvailableError(PermissionError):
    """Labels were requested from a split that must not hand them out (target train in UDA).

    Target labels exist only for evaluation: a UDA trainer that could read them would no longer be doing
    *unsupervised* domain adaptation.

    Taught in: notebooks/05_pseudo_label_weighting.ipynb
    """


def _png_bit_depth(path: Path) -> int | None:
    """Bit depth from a PNG header (8 or 16), or None when the file is not a PNG."""
    with open(path, "rb") as f:
        head = f.read(26)
    if len(head) < 26 or head[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return head[24]


def read_image(path: str | Path) -> np.ndarray:
    """Read an RGB image as ``uint8 [H, W, 3]``; a missing/truncated/corrupt file raises ``DatasetError``.

    Taught in: notebooks/09_full_uda.ipynb
    """
    path = Path(path)
    try:
        with Image.open(path) as im:
            im.load()  # decodes now, so a truncated file fails here and not later
            return np.array(im.convert("RGB"))  # [H, W, 3] uint8
    except FileNotFoundError:
        raise DatasetError(f"image file not found: {path}") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise DatasetError(
            f"cannot read image {path}: {e}. The file is truncated, corrupt or not an image; "
            "extract it again from the original archive."
        ) from e


def read_label(path: str | Path, channel: int | None = None) -> np.ndarray:
    """Read a label map of raw ids as an integer array ``[H, W]`` (uint8, or uint16 for 16-bit PNGs).

    Palette (``P``) and greyscale PNGs give their stored indices, never colours. Multi-channel labels need
    ``channel`` (Synthia: ``channel=0`` holds the class id, channel 1 the instance id).

    Taught in: notebooks/09_full_uda.ipynb
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"label file not found: {path}")
    try:
        if _png_bit_depth(path) == 16:
            import torch
            from torchvision.io import ImageReadMode, decode_png

            data = torch.from_numpy(np.fromfile(path, dtype=np.uint8))
            arr = decode_png(data, mode=ImageReadMode.UNCHANGED).permute(1, 2, 0).numpy()  # [H, W, C]
            arr = arr.astype(np.uint16)
        else:
            with Image.open(path) as im:
                im.load()
                arr = np.asarray(im)  # [H, W] or [H, W, C]
    except (OSError, SyntaxError, ValueError, RuntimeError) as e:
        raise DatasetError(
            f"cannot read label {path}: {e}. The file is truncated, corrupt or not a PNG; "
            "extract it again from the original archive."
        ) from e
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 3:
        if channel is None:
            raise DatasetError(
                f"label {path} has {arr.shape[2]} channels; expected a single-channel id image "
                "(is this a colour-coded *_color.png? use the *_labelIds.png / *_labelTrainIds.png files)"
            )
        arr = arr[:, :, channel]
    elif channel not in (None, 0):
        raise DatasetError(f"label {path} has one channel; channel={channel} does not exist")
    return np.ascontiguousarray(arr)


def map_label(raw: np.ndarray, lut: np.ndarray, known: np.ndarray, path: str | Path = "<array>") -> np.ndarray:
    """Raw ids → trainIds with the look-up table ``lut``; ids outside ``known`` become 255 with one warning.

    ``known`` is a boolean table over the same ids as ``lut``: True for every id the label format defines
    (including ids that *mean* ignore, such as Cityscapes' 0 "unlabeled"). Values beyond the table are
    unknown too.

    Taught in: notebooks/09_full_uda.ipynb
    """
    raw = np.asarray(raw)
    if raw.size and int(raw.max()) >= len(lut):
        raw = np.where(raw < len(lut), raw, len(lut) - 1)  # clip for the gather; reported below
        too_big = True
    else:
        too_big = False
    out = lut[raw]  # [H, W] uint8 trainIds
    unknown = ~known[raw]  # [H, W] bool
    if too_big or unknown.any():
        values = np.unique(np.asarray(raw)[unknown]).tolist()
        if too_big:
            values.append(f">= {len(lut)}")
        out[unknown] = IGNORE_INDEX
        shown = values[:12] + (["..."] if len(values) > 12 else [])
        warnings.warn(
            f"{path}: unknown label values {shown} mapped to {IGNORE_INDEX} (ignore); "
            "is this the right dataset type for this file?",
            stacklevel=2,
        )
    return out


def check_same_size(image: np.ndarray, label: np.ndarray, image_path, label_path) -> None:
    """Raise ``DatasetError`` naming both files and both sizes when image and label differ in size.

    Taught in: notebooks/09_full_uda.ipynb
    """
    if image.shape[:2] != label.shape[:2]:
        (ih, iw), (lh, lw) = image.shape[:2], label.shape[:2]
        raise DatasetError(
            f"image and label differ in size: {image_path} is {iw}x{ih} (W x H) but {label_path} is "
            f"{lw}x{lh}. They must be a matching pair; re-extract them, or drop this sample."
        )


def _known_table(ids, size: int = 256) -> np.ndarray:
    """Boolean table over raw ids: True for the ids in ``ids``."""
    known = np.zeros(size, dtype=bool)
    known[[i for i in ids if 0 <= i < size]] = True
    return known


def _require_dir(path: Path, dataset: str, root: Path, layout: str, how: str) -> Path:
    """Return ``path`` if it is a folder, else raise ``DatasetNotFoundError`` with the layout and how to get it."""
    if path.is_dir():
        return path
    missing = "does not exist" if not root.exists() else f"has no folder {path.relative_to(root)}"
    raise DatasetNotFoundError(
        f"{dataset} dataset not found: {root} {missing}.\n"
        f"Expected layout:\n{layout.format(root=root)}\n{how.format(root=root)}"
    )


def _image_label_pairs(dataset: str, root: Path, images_dir: Path, labels_dir: Path, layout: str):
    """The PNG images of ``images_dir`` and, for each, its label in ``labels_dir``.

    A converted ``<stem>_labelTrainIds.png`` (written by ``python -m daformer_edu.data.convert``) wins over the
    raw label of the same name. Raises ``DatasetNotFoundError`` with the layout when there are no images.
    """
    images = sorted(images_dir.glob("*.png"))
    if not images:
        raise DatasetNotFoundError(
            f"{dataset} dataset at {root}: no PNG images in {images_dir}.\nExpected layout:\n{layout.format(root=root)}"
        )
    labels = []
    for img in images:
        converted = labels_dir / f"{img.stem}_labelTrainIds.png"
        labels.append(converted if converted.is_file() else labels_dir / img.name)
    return images, labels


def label_file_pixels(paths) -> int:
    """Σ H·W over label files, from their headers (PIL reads no pixels): N_S·H·W for RCS's f_c.

    Taught in: notebooks/06_rare_class_sampling.ipynb
    """
    from PIL import Image

    total = 0
    for path in paths:
        with Image.open(path) as im:
            total += im.size[0] * im.size[1]
    return total
