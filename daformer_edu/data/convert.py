"""Convert a downloaded dataset for training: trainId label files + Rare Class Sampling statistics.

    python -m daformer_edu.data.convert gta ROOT          # ROOT/images, ROOT/labels
    python -m daformer_edu.data.convert synthia ROOT      # ROOT/RGB, ROOT/GT/LABELS
    python -m daformer_edu.data.convert cityscapes ROOT   # ROOT/leftImg8bit, ROOT/gtFine

For every label it writes ``*_labelTrainIds.png`` next to the original (the raw ids mapped with the
tables of ``classes.py``; unknown ids → 255 with a warning), and into ROOT the two files that the official
DAFormer conversion scripts write for Rare Class Sampling:

- ``sample_class_stats.json``: ``[{"file": name, "<trainId>": n_pixels, ...}, ...]``, one entry per sample;
- ``samples_with_class.json``: ``{"<trainId>": [[name, n_pixels], ...], ...}``.

(For Cityscapes the statistics describe the training split.) The loaders use the converted files when
they exist and convert on the fly when they do not, so this step is optional but makes loading faster.

Taught in: notebooks/06_rare_class_sampling.ipynb
"""

from __future__ import annotations

import argparse
import sys
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from PIL import Image

from .base import save_class_stats
from .classes import NUM_CLASSES

__all__ = ["convert_dataset"]


def _convert_one(args):
    dataset, index = args
    label = dataset.load_label(index)  # [H, W] uint8 trainIds
    src = dataset.labels[index]
    if not src.name.endswith("_labelTrainIds.png"):
        stem = src.name[: -len(".png")]
        if stem.endswith("_gtFine_labelIds"):
            stem = stem[: -len("_labelIds")]
        Image.fromarray(label).save(src.with_name(f"{stem}_labelTrainIds.png"))
    counts = np.bincount(label.ravel(), minlength=256)[:NUM_CLASSES]
    return {"file": dataset.name(index), **{c: int(n) for c, n in enumerate(counts) if n > 0}}


def convert_dataset(kind: str, root, nproc: int = 1, progress: bool = True) -> list[dict]:
    """Write ``*_labelTrainIds.png`` for every label of the dataset at ``root`` and the RCS statistics files.

    ``kind`` is "gta", "synthia" or "cityscapes". Returns the statistics (``compute_class_stats`` format).

    Taught in: notebooks/06_rare_class_sampling.ipynb
    """
    from tqdm.auto import tqdm

    from .cityscapes import CityscapesDataset
    from .gta import GTADataset
    from .synthia import SynthiaDataset

    root = Path(root)
    if kind == "gta":
        jobs = [("train", GTADataset(root))]
    elif kind == "synthia":
        jobs = [("train", SynthiaDataset(root))]
    elif kind == "cityscapes":
        jobs = [
            (split, CityscapesDataset(root, split)) for split in ("train", "val") if (root / "gtFine" / split).is_dir()
        ]
        if not jobs:
            CityscapesDataset(root, "train")  # raises the layout error
    else:
        raise ValueError(f"kind must be 'gta', 'synthia' or 'cityscapes', got {kind!r}")
    stats = None
    for split, ds in jobs:
        work = [(ds, i) for i in range(len(ds))]
        desc = f"{kind} {split}" if kind == "cityscapes" else kind
        if nproc > 1:
            with Pool(nproc) as pool:
                out = list(
                    tqdm(pool.imap(_convert_one, work, chunksize=8), total=len(work), desc=desc, disable=not progress)
                )
        else:
            out = [_convert_one(w) for w in tqdm(work, desc=desc, disable=not progress)]
        if split == "train":
            stats = out
    if stats is not None:
        save_class_stats(stats, root)
    return stats or []


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m daformer_edu.data.convert", description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=["gta", "synthia", "cityscapes"])
    parser.add_argument("root", help="dataset root folder")
    parser.add_argument("--nproc", type=int, default=1, help="worker processes")
    args = parser.parse_args(argv)
    stats = convert_dataset(args.kind, args.root, args.nproc)
    if stats:
        print(
            f"converted {args.kind} at {args.root}: {len(stats)} training labels; "
            "wrote sample_class_stats.json and samples_with_class.json"
        )
    else:
        print(f"converted {args.kind} at {args.root} (no labelled training split: no RCS statistics written)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
