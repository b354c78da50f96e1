"""Export to the real on-disk layouts (GTA, Cityscapes) and the command line behind it.

``python -m daformer_edu.data.synthetic export DIR --layout gta|cityscapes --n N`` (``main``) writes PNGs that
the real loaders (``GTADataset``, ``CityscapesDataset``) and the conversion script read.

Taught in: notebooks/09_full_uda.ipynb
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from .dataset import SPLITS, SyntheticDomain
from .grammar import DOMAINS

__all__ = ["export"]


# ------------------------------------------------------------------------------------------------
# Export to the real on-disk layouts
# ------------------------------------------------------------------------------------------------
def export(
    directory: str | Path,
    layout: str = "gta",
    n: int = 100,
    size: tuple[int, int] = (256, 512),
    domain: str | None = None,
    split: str = "train",
    seed: int = 0,
    progress: bool = False,
) -> Path:
    """Write ``n`` synthetic samples as PNG files in GTA's or Cityscapes' on-disk layout.

    - ``layout="gta"`` (default domain "source"): ``DIR/images/00000.png`` and ``DIR/labels/00000.png`` with
      Cityscapes *label ids* (as GTA ships them; convert or load them with ``GTADataset``).
    - ``layout="cityscapes"`` (default domain "target"):
      ``DIR/leftImg8bit/{split}/synth/synth_000000_000019_leftImg8bit.png`` and, where the split has labels,
      ``DIR/gtFine/{split}/synth/synth_000000_000019_gtFine_labelIds.png``. The target training split is
      written without labels, as it is used in UDA.

    Taught in: notebooks/09_full_uda.ipynb
    """
    from tqdm.auto import tqdm

    from ..classes import TRAINID_TO_CITYSCAPES_ID

    if layout not in ("gta", "cityscapes"):
        raise ValueError(f"layout must be 'gta' or 'cityscapes', got {layout!r}")
    domain = domain or ("source" if layout == "gta" else "target")
    ds = SyntheticDomain(domain, split, size=size, length=n, seed=seed)
    lut = np.zeros(256, np.uint8)
    for t, i in TRAINID_TO_CITYSCAPES_ID.items():
        lut[t] = i
    root = Path(directory)
    for i in tqdm(range(n), desc=f"export {layout}", disable=not progress):
        if ds.has_labels:
            image, label = ds.render(i)
        else:
            image, label = ds.render_image(i), None
        if layout == "gta":
            img_path = root / "images" / f"{i:05d}.png"
            lab_path = root / "labels" / f"{i:05d}.png"
        else:
            stem = f"synth_{i:06d}_000019"
            img_path = root / "leftImg8bit" / split / "synth" / f"{stem}_leftImg8bit.png"
            lab_path = root / "gtFine" / split / "synth" / f"{stem}_gtFine_labelIds.png"
        img_path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(img_path)
        if label is not None:
            lab_path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(lut[label]).save(lab_path)
    return root


def _parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 512x256 (W x H), got {text!r}") from None
    return h, w


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m daformer_edu.data.synthetic", description="Export the synthetic domain pair as PNG files."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("export", help="write PNGs in the GTA or Cityscapes on-disk layout")
    ex.add_argument("directory")
    ex.add_argument("--layout", choices=["gta", "cityscapes"], default="gta")
    ex.add_argument("--n", type=int, default=100)
    ex.add_argument("--size", type=_parse_size, default=(256, 512), help="W x H, e.g. 512x256")
    ex.add_argument(
        "--domain", choices=list(DOMAINS), default=None, help="default: source for gta, target for cityscapes"
    )
    ex.add_argument("--split", choices=list(SPLITS), default="train")
    ex.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error(f"--n must be positive, got {args.n}")
    root = export(args.directory, args.layout, args.n, args.size, args.domain, args.split, args.seed, progress=True)
    print(f"wrote {args.n} samples to {root}")
    return 0
