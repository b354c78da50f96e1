"""Measured records the notebooks read: the ablation tables of the CPU presets, shipped with the package.

``load_record("cpu-demo")`` is the table ``python bench/ablate.py --preset cpu-demo`` wrote (three training seeds of
source-only, DAFormer, DAFormer minus one strategy each, and the oracle; target-val mIoU and per-class IoU per seed);
``"cpu-long"`` the same recipe run twice as long. They live in the package, not in ``bench/``, so that an installed
package (``pip install daformer_edu``) can show them; ``bench/results/`` keeps the write-ups that describe them.

Taught in: notebooks/09_full_uda.ipynb
"""
from __future__ import annotations

import json
from importlib import resources

__all__ = ["RECORDS", "load_record"]

RECORDS = ("cpu-demo", "cpu-long")


def load_record(name: str) -> dict:
    """The ablation record of preset ``name``: ``{variant: {"mean", "std", "per_seed", "per_class_iou", …}}``.

    Taught in: notebooks/09_full_uda.ipynb
    """
    if name not in RECORDS:
        raise ValueError(f"load_record: no record {name!r}; the package ships {list(RECORDS)}")
    return json.loads((resources.files(__name__) / f"{name}_ablation.json").read_text(encoding="utf-8"))
