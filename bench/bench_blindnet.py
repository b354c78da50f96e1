"""BlindNet ablation on the synthetic pair: source-only vs + style views vs + all four losses vs each one removed.

    OMP_NUM_THREADS=1 python bench/bench_blindnet.py                 # tiny CPU preset, 100 steps: 4–7 min
    python bench/bench_blindnet.py --iterations 2000 --seeds 0 1 2 --device cuda   # a real measurement
    python bench/bench_blindnet.py --defaults previous --only "BlindNet (all four)" --seeds 0 1 2

``--defaults published`` (default) uses the official rules of ``BlindNetConfig`` (CWCL split by the original
view's prediction, per-image sampling, SDCL negatives with gradient, CCL original detached, blurred original
view, instance normalisation in the forward path); ``--defaults previous`` the package's simplified rules
(``BlindNetConfig.previous_defaults()``: batch-wide sampling, detached SDCL negatives, no blur on the original
view, instance normalisation only inside CML/CCL).

Every row trains the same tiny network (MiT-B0, DAFormer head of width 32, 64×64 crops, batch 4) from the same
seed on the **source** train split only, then evaluates on the synthetic **target** val split (never seen
in training). Rows:

- ``source-only``: one mildly jittered view, CE only;
- ``+ style views``: CE on the original and the hard style view, no BlindNet loss (isolates the augmentation);
- ``BlindNet (all four)``: + 0.2 CML + 0.2 CCL + 0.3 CWCL + 0.3 SDCL (official weights, τ = 0.07);
- ``− CML`` … ``− SDCL``: BlindNet with that one weight set to 0.

Printed: target mIoU / pixel accuracy (%, mean over seeds) and seconds of training per run. With a few
hundred iterations from scratch the differences are of the order of the seed noise: read them as a
smoke-level ablation, not as a reproduction of the paper's table.
"""
from __future__ import annotations

import argparse
import dataclasses
import time
import warnings

import numpy as np

from daformer_edu.dg import BlindNetConfig, evaluate_target, train_blindnet


def rows(base: BlindNetConfig) -> dict[str, BlindNetConfig]:
    r = dataclasses.replace
    return {
        "source-only": base.source_only(),
        "+ style views (CE only)": r(base, cml_weight=0, ccl_weight=0, cwcl_weight=0, sdcl_weight=0),
        "BlindNet (all four)": base,
        "− CML": r(base, cml_weight=0),
        "− CCL": r(base, ccl_weight=0),
        "− CWCL": r(base, cwcl_weight=0),
        "− SDCL": r(base, sdcl_weight=0),
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--iterations", type=int, default=100)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--val-length", type=int, default=32)
    p.add_argument("--device", default="cpu")
    p.add_argument("--only", nargs="*", default=None, help="row names to run (default: all)")
    p.add_argument("--defaults", choices=("published", "previous"), default="published",
                   help="official BlindNet rules (default) or the package's simplified rules")
    args = p.parse_args(argv)
    warnings.simplefilter("ignore", UserWarning)
    base = BlindNetConfig(iterations=args.iterations, val_length=args.val_length, device=args.device)
    if args.defaults == "previous":
        base = base.previous_defaults()
    table = []
    for name, cfg in rows(base).items():
        if args.only and name not in args.only:
            continue
        mious, accs, secs = [], [], []
        for seed in args.seeds:
            c = dataclasses.replace(cfg, seed=seed)
            res = train_blindnet(c)
            ev = evaluate_target(res.model, c)
            mious.append(ev["miou"])  # percent
            accs.append(ev["acc"])
            secs.append(res.seconds)
        table.append((name, np.mean(mious), np.std(mious), np.mean(accs), np.mean(secs), mious))
        print(f"  done {name}: mIoU {np.mean(mious):.2f} ({np.mean(secs):.0f} s/run)", flush=True)
    print(f"\nBlindNet ablation, synthetic source → target val ({args.val_length} images), {args.iterations} "
          f"iterations, seeds {args.seeds}, device {args.device}, defaults {args.defaults}")
    print(f"{'run':<26} {'mIoU %':>7} {'± sd':>6} {'acc %':>7} {'s/run':>6}  per seed")
    for name, m, sd, acc, s, per in table:
        print(f"{name:<26} {m:7.2f} {sd:6.2f} {acc:7.2f} {s:6.0f}  {' '.join(f'{v:.2f}' for v in per)}")
    return table


if __name__ == "__main__":
    main()
