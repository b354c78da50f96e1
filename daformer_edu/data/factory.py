"""Datasets of a run, by kind: what the trainer asks for instead of knowing each dataset class.

``build_datasets(config)`` → ``{"source", "target", "val"}``: the labelled source training split, the target
training split (no labels; labelled for the ``oracle``), and the labelled target validation split, each with the
transforms of the official data configs. ``class_table(datasets)`` is the run's ``ClassTable``;
``build_rcs_sampler(dataset, config, classes)`` builds Rare Class Sampling from the dataset's own statistics
(``class_stats``, ``label_pixels``, ``rcs_min_pixels``: methods of every dataset of the package).

Sizes as the official data configs: the source resized (keep ratio) to ``source_image_size(config)`` (gpu-full:
GTA 720×1280, Synthia 760×1280), Cityscapes to ``image_size`` (512×1024), then ``crop_size`` crops. Validation
follows mmseg's test pipeline: the image is resized to ``image_size`` for whole-image inference and the label stays
at full resolution (Cityscapes 2048×1024); ``metrics.evaluate`` resizes the logits to it. The synthetic pair is
rendered at ``image_size`` with its labels, so there nothing is resized.

Taught in: notebooks/09_full_uda.ipynb
"""

from __future__ import annotations

from pathlib import Path

import torch

from . import transforms as T
from .classes import ClassTable
from .io import DatasetNotFoundError

__all__ = ["build_datasets", "source_image_size", "class_table", "build_rcs_sampler", "OFFICIAL_IMAGE_SIZE"]

# The official resize bounds (H, W) of DAFormer's data configs (uda_gta_to_cityscapes_512x512,
# uda_synthia_to_cityscapes_512x512): mmseg's Resize(img_scale=(1280, 720)) etc., keep ratio.
OFFICIAL_IMAGE_SIZE = {"gta": (720, 1280), "synthia": (760, 1280), "cityscapes": (512, 1024)}


def source_image_size(config) -> tuple[int, int]:
    """The resize bound of the source images: ``config.source_image_size`` if set, else the official one.

    Synthetic and folder sources: ``image_size``. GTA / Synthia: the official bound scaled by ``f``, the keep-ratio
    factor from Cityscapes' official 512×1024 to ``image_size`` — f = 1 for gpu-full, so GTA 1914×1052 → 1280×704
    and Synthia stays 1280×760; a smaller ``image_size`` shrinks the source with the target, so that objects keep
    the official source/target scale ratio.

    Taught in: notebooks/09_full_uda.ipynb
    """
    if config.source_image_size is not None:
        return config.source_image_size
    if config.source in ("synthetic", "folder"):
        return config.image_size
    ref = OFFICIAL_IMAGE_SIZE["cityscapes"]
    f = min(max(config.image_size) / max(ref), min(config.image_size) / min(ref))
    h, w = OFFICIAL_IMAGE_SIZE[config.source]
    return int(h * f + 0.5), int(w * f + 0.5)


def _transforms(config) -> dict[str, T.Compose]:
    """The pipelines: labelled crops (source; oracle target), unlabelled target crops, validation."""

    def labelled(size):
        steps = [T.Resize(size), T.RandomCrop(config.crop_size, config.cat_max_ratio), T.RandomFlip(0.5)]
        if config.use_photometric_distortion:  # official source-only and oracle configs
            steps.append(T.PhotoMetricDistortion())
        return T.Compose(steps)

    return {
        "source": labelled(source_image_size(config)),
        "oracle": labelled(config.image_size),
        # No cat_max_ratio on target crops, as the official target pipeline: it would read target labels.
        "target": T.Compose([T.Resize(config.image_size), T.RandomCrop(config.crop_size), T.RandomFlip(0.5)]),
        "val": T.Compose([T.Resize(config.image_size, resize_label=False)]),  # labels at full resolution
    }


def _folder_split(root) -> str | None:
    """A folder dataset's training split: ``"train"`` when ``ROOT/images/train`` exists, else the flat layout."""
    return "train" if (Path(root) / "images" / "train").is_dir() else None


def _root(config, side: str) -> Path:
    """``config.<side>_root`` as a path that exists, or a one-line error naming it and the layout to give."""
    root, kind = getattr(config, f"{side}_root"), getattr(config, side)
    if root is None or not Path(root).exists():
        raise DatasetNotFoundError(
            f"{side}_root={root!r} does not exist; give the folder of the {kind} download "
            "(layouts: data/README.md in the repository)"
        )
    return Path(root)


def _source(config, tf):
    from . import GTADataset, SynthiaDataset
    from .folder import FolderDataset
    from .synthetic import SyntheticDomain

    if config.source == "synthetic":
        return SyntheticDomain(
            "source",
            "train",
            size=config.image_size,
            length=config.synthetic_train_length,
            seed=config.data_seed,
            transform=tf,
        )
    root = _root(config, "source")
    if config.source == "folder":
        return FolderDataset(root, _folder_split(root), transform=tf, labels=True)
    return {"gta": GTADataset, "synthia": SynthiaDataset}[config.source](root, transform=tf)


def _first(dataset, n: int):
    return torch.utils.data.Subset(dataset, range(min(n, len(dataset)))) if n else dataset


def _target(config, tfs) -> tuple:
    """(target train, target val); the oracle alone gets the target training labels."""
    from . import CityscapesDataset
    from .folder import FolderDataset
    from .synthetic import SyntheticDomain

    oracle = config.mode == "oracle"
    train_tf = tfs["oracle"] if oracle else tfs["target"]
    if config.target == "synthetic":
        kw = dict(size=config.image_size, seed=config.data_seed)
        train = SyntheticDomain(
            "target",
            "train",
            length=config.synthetic_train_length,
            transform=train_tf,
            labels=True if oracle else None,
            **kw,
        )
        return train, SyntheticDomain("target", "val", length=config.val_length, transform=tfs["val"], **kw)
    root = _root(config, "target")
    if config.target == "folder":
        if not (root / "images" / "val").is_dir():
            raise DatasetNotFoundError(
                f"target_root={str(root)!r}: a folder target needs a labelled validation "
                "split, images/val/ and labels/val/ (see daformer_edu/data/folder.py)"
            )
        train = FolderDataset(root, _folder_split(root), transform=train_tf, labels=oracle)
        val = FolderDataset(root, "val", transform=tfs["val"], labels=True)
    else:
        train = CityscapesDataset(root, "train", transform=train_tf, labels=oracle)
        val = CityscapesDataset(root, "val", transform=tfs["val"])
    return train, _first(val, config.val_length)


def build_datasets(config) -> dict[str, torch.utils.data.Dataset]:
    """``{"source": labelled source train, "target": target train, "val": labelled target val}`` of ``config``.

    ``target`` has no labels, except for ``mode="oracle"`` (the supervised upper bound). A dataset root that does
    not exist raises ``DatasetNotFoundError`` naming it.

    Taught in: notebooks/09_full_uda.ipynb
    """
    tfs = _transforms(config)
    train, val = _target(config, tfs)
    return {"source": _source(config, tfs["source"]), "target": train, "val": val}


def class_table(datasets: dict) -> ClassTable:
    """The source dataset's ``ClassTable``; the target's (train and val) must be the same table.

    Taught in: notebooks/09_full_uda.ipynb
    """

    def table(ds):
        while isinstance(ds, torch.utils.data.Subset):
            ds = ds.dataset
        return ds.classes

    source = table(datasets["source"])
    for key in ("target", "val"):
        source.check_matches(table(datasets[key]), "source", f"target ({key})")
    return source


def build_rcs_sampler(dataset, config, classes: ClassTable):
    """Rare Class Sampling over ``dataset`` (DAFormer Eq. 6–7) with the run's T, min_pixels and f_c form.

    ``min_pixels``: ``config.rcs_min_pixels``, or the dataset's own (3000 at GTA's resolution, scaled to its
    labels). f_c's denominator: the labelled pixels Σ_c n_c (official) or N_S·H·W (``rcs_frequency_form="paper"``).

    Taught in: notebooks/09_full_uda.ipynb
    """
    from ..uda.rcs import RareClassSampler

    min_pixels = config.rcs_min_pixels if config.rcs_min_pixels is not None else dataset.rcs_min_pixels()
    total = dataset.label_pixels() if config.rcs_frequency_form == "paper" else None
    return RareClassSampler(
        dataset.class_stats(),
        config.rcs_temperature,
        min_pixels,
        config.rcs_min_crop_ratio,
        seed=config.seed,
        num_classes=len(classes),
        total_pixels=total,
    )
