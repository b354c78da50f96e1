"""Measured records the notebooks read, shipped with the package.

- ``load_record("cpu-demo")`` is the table ``python bench/ablate.py --preset cpu-demo`` wrote (three training seeds
  of source-only, DAFormer, DAFormer minus one strategy each, and the oracle; target-val mIoU and per-class IoU per
  seed); ``"cpu-long"`` the same recipe run twice as long. Notebook 09 and notebook 11's closing table read them.
- ``load_record("blindnet")``: BlindNet against source-only, three seeds, with the rules, the start and the head init
  varied one at a time (``python bench/bench_blindnet.py …``, each table names its command). Notebook 10 reads it.
- ``load_record("stego")``: STEGO's shifts b swept as shares of attracted pairs on the embedded MiT-B0, with its
  controls (``python bench/bench_stego.py``). Notebook 11 reads it.

They live in the package, not in ``bench/``, so that an installed package (``pip install daformer_edu``) can show
them; ``bench/results/`` keeps the write-ups that describe them.

Taught in: notebooks/09_full_uda.ipynb
"""

from __future__ import annotations

import json
from importlib import resources

__all__ = ["RECORDS", "load_record"]

RECORDS = ("cpu-demo", "cpu-long", "blindnet", "stego")
_FILES = {
    "cpu-demo": "cpu-demo_ablation.json",
    "cpu-long": "cpu-long_ablation.json",
    "blindnet": "blindnet_2026-12-03.json",
    "stego": "stego_2026-12-03.json",
}


def load_record(name: str) -> dict:
    """The record ``name`` as a dict. ``"cpu-demo"``, ``"cpu-long"``: ``{variant: {"mean", "std", "per_seed",
    "per_class_iou", …}}``. ``"blindnet"``: ``{"date", "machine", "iterations", "batch_size", "val_images",
    "tables": [{"title", "command", "settings", "rows": {row: {"mean", "std", "per_seed", "acc", "seconds",
    "per_class_iou"}}}]}``. ``"stego"``: what ``bench/bench_stego.py --out`` writes (``"runs"``, ``"summary"``,
    ``"best"``, controls), plus ``"date"`` and ``"command"``. mIoU and accuracies in percent.

    Taught in: notebooks/09_full_uda.ipynb
    """
    if name not in RECORDS:
        raise ValueError(f"load_record: no record {name!r}; the package ships {list(RECORDS)}")
    return json.loads((resources.files(__name__) / _FILES[name]).read_text(encoding="utf-8"))
