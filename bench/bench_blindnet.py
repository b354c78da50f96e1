"""BlindNet ablation on the synthetic pair: source-only vs + style views vs + all four losses vs each one removed.

    OMP_NUM_THREADS=1 python bench/bench_blindnet.py --only source-only "BlindNet (all four)" --seeds 0 1 2 \\
        --out bench/results/blindnet/FILE.json      # the record notebook 10 and the Measured page quote (≈ 8 min)
    OMP_NUM_THREADS=1 python bench/bench_blindnet.py                 # every row, seed 0
    python bench/bench_blindnet.py --iterations 2000 --seeds 0 1 2 --device cuda   # a longer measurement
    python bench/bench_blindnet.py --rules simple --only "BlindNet (all four)" --seeds 0 1 2
    python bench/bench_blindnet.py --head-init mmcv --only source-only "BlindNet (all four)" --seeds 0 1 2

Every row starts from the same weights — ``BlindNetConfig``'s defaults: the embedded MiT-B0 pre-trained on the
package's synthetic "ImageNet" (``--pretrained none`` for random weights), PyTorch's default head init (``--head-init
mmcv`` for the official one; why the default differs: ``BlindNetConfig.head_init``) — and trains
the same small network (MiT-B0, DAFormer head of width 32, 64×64 crops, batch 4) from the same seed on the
**source** train split only, then evaluates on the synthetic **target** val split (never seen in training). Rows:

- ``source-only``: one mildly jittered view, CE only;
- ``+ style views (CE only)``: CE on the original and the hard style view, no BlindNet loss (isolates the
  augmentation);
- ``BlindNet (all four)``: + 0.2 CML + 0.2 CCL + 0.3 CWCL + 0.3 SDCL (official weights, τ = 0.07);
- ``− CML`` … ``− SDCL``: BlindNet with that one weight set to 0.

``--rules official`` (default) uses the official rules of ``BlindNetConfig`` (CWCL split by the original view's
prediction, per-image sampling, SDCL negatives with gradient, CCL original detached, blurred original view,
instance normalisation in the forward path); ``--rules simple`` the simpler rules of
``BlindNetConfig.simple_rules()``.

Printed: target mIoU / pixel accuracy (%, mean over seeds) and seconds of training per run; ``--out`` also writes
them as JSON (per row: ``mean``, ``std``, ``per_seed``, ``acc``, ``seconds``, ``per_class_iou`` per seed; and the
settings). With a hundred
iterations the differences are of the order of the seed noise: read them as a small-scale ablation, not as a
reproduction of the paper's table.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
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


def parse(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--iterations", type=int, default=BlindNetConfig.iterations)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--val-length", type=int, default=32)
    p.add_argument("--device", default="cpu")
    p.add_argument("--only", nargs="*", default=None, help="row names to run (default: all)")
    p.add_argument(
        "--rules",
        "--defaults",
        dest="rules",
        choices=("official", "published", "simple", "previous"),
        default="official",
        help="official BlindNet rules (default) or the simpler ones "
        "(BlindNetConfig.simple_rules(); 'published' and 'previous' are other names of the two)",
    )
    p.add_argument(
        "--pretrained",
        default=BlindNetConfig.pretrained,
        help="encoder start: 'embedded' (default), a weights file, or 'none' for random weights",
    )
    p.add_argument("--head-init", default=BlindNetConfig.head_init, choices=("mmcv", "pytorch"))
    p.add_argument("--lr", type=float, default=BlindNetConfig.lr)
    p.add_argument("--out", default=None, help="write the table as JSON here")
    return p.parse_args(argv)


def main(argv=None):
    args = parse(argv)
    warnings.simplefilter("ignore", UserWarning)
    pretrained = None if str(args.pretrained).lower() == "none" else args.pretrained
    base = BlindNetConfig(
        iterations=args.iterations,
        val_length=args.val_length,
        device=args.device,
        pretrained=pretrained,
        head_init=args.head_init,
        lr=args.lr,
    )
    if args.rules in ("simple", "previous"):
        base = base.simple_rules()
    table = {}
    for name, cfg in rows(base).items():
        if args.only and name not in args.only:
            continue
        mious, accs, secs, ious = [], [], [], []
        for seed in args.seeds:
            c = dataclasses.replace(cfg, seed=seed)
            res = train_blindnet(c)
            ev = evaluate_target(res.model, c)
            mious.append(round(ev["miou"], 2))  # percent
            accs.append(round(ev["acc"], 2))
            secs.append(round(res.seconds, 1))
            ious.append([None if v != v else round(v, 2) for v in map(float, ev["iou"])])  # per class, NaN: absent
            print(
                f"  {name}, seed {seed}: mIoU {ev['miou']:.2f}, acc {ev['acc']:.2f} ({res.seconds:.0f} s)", flush=True
            )
        table[name] = {
            "mean": round(float(np.mean(mious)), 2),
            "std": round(float(np.std(mious)), 2),
            "per_seed": mious,
            "acc": round(float(np.mean(accs)), 2),
            "seconds": secs,
            "per_class_iou": ious,
        }
    print(
        f"\nBlindNet ablation, synthetic source → target val ({args.val_length} images), {args.iterations} "
        f"iterations, seeds {args.seeds}, device {args.device}, rules {args.rules}, pretrained {pretrained}, "
        f"head init {args.head_init}, lr {args.lr:g}"
    )
    print(f"{'run':<26} {'mIoU %':>7} {'± sd':>6} {'acc %':>7} {'s/run':>6}  per seed")
    for name, r in table.items():
        print(
            f"{name:<26} {r['mean']:7.2f} {r['std']:6.2f} {r['acc']:7.2f} {np.mean(r['seconds']):6.0f}  "
            f"{' '.join(f'{v:.2f}' for v in r['per_seed'])}"
        )
    if args.out:
        settings = {
            k: getattr(args, k) for k in ("iterations", "seeds", "val_length", "device", "rules", "head_init", "lr")
        }
        settings.update(pretrained=pretrained, machine=f"{platform.machine()}, {os.cpu_count()} CPUs")
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump({"settings": settings, "rows": table}, fh, indent=1, ensure_ascii=False)
            fh.write("\n")
    return table


if __name__ == "__main__":
    main()
