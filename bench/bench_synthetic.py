"""Benchmarks of the embedded synthetic domain pair.

    python bench/bench_synthetic.py                 # generator speed: images/s at 256×128 on one CPU core
    python bench/bench_synthetic.py --gap           # the domain gap: source-only vs target oracle, target-val mIoU

Speed: ``render`` (image + label), ``label only`` (what the RCS statistics need) and a full training item
(render → random crop → flip → normalise), best of 3 repeats, one thread. Target ≥ 100 images/s.

Gap: MiT-B0 + a narrow DAFormer head trained from scratch (no ImageNet weights here) on 256×128 images,
(a) on labelled source images ("source-only") and (b) on labelled target training images ("oracle"),
both evaluated on target val. The gap must be real: source-only clearly below the oracle, and the rare
classes (train, bus, traffic light/sign, ...) hardest for source-only. On a shared 2-core CPU only a few dozen
iterations fit into minutes; the numbers below came from a GPU (H200, one CPU core feeding the renderer):

    python bench/bench_synthetic.py --gap --device cuda --iters 4000 --batch 8 --workers 3 --val-len 150 \
        --selftrain 2000 --max-minutes 1.1
    source-only 32.3 (1554 it; 64.4 on source val) | oracle 64.0 (1725 it) | gap 31.6 mIoU points

``--selftrain N`` adds a minimal DACS loop (mean teacher, ClassMix, q_T; no strong augmentation, no ignored
bonnet rows) warm-started from the source-only model, only as a sanity check: the real method is
``daformer_edu/uda`` + ``daformer_edu/train.py``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch


def bench_speed(size=(128, 256), n=200, repeats=3):
    from daformer_edu.data import Compose, RandomCrop, RandomFlip
    from daformer_edu.data.synthetic import SyntheticDomain

    torch.set_num_threads(1)
    rows = []
    for domain, split in (("source", "train"), ("target", "val")):
        ds = SyntheticDomain(domain, split, size=size, length=10 * n)
        aug = SyntheticDomain(
            domain,
            split,
            size=size,
            length=10 * n,
            transform=Compose([RandomCrop((size[0], size[0]), cat_max_ratio=0.75), RandomFlip()]),
        )
        ds.render(0)
        res = {}
        for what, fn in (
            ("render", lambda i: ds.render(i)),
            ("label only", lambda i: ds.load_label(i)),
            ("train item", lambda i: aug[i]),
        ):
            best_wall = best_cpu = math.inf
            for r in range(repeats):
                t, c = time.perf_counter(), time.process_time()
                for i in range(r * n, (r + 1) * n):
                    fn(i)
                best_wall = min(best_wall, time.perf_counter() - t)
                best_cpu = min(best_cpu, time.process_time() - c)
            res[what] = (n / best_cpu, n / best_wall)
        rows.append((domain, res))
    print(
        f"synthetic generator, {size[1]}x{size[0]} (W x H), 1 thread, best of {repeats} x {n} images, "
        "images per CPU-second (per wall-second):"
    )
    for domain, res in rows:
        print(f"  {domain:<7} " + "  ".join(f"{k}: {c:5.0f} ({w:4.0f}) img/s" for k, (c, w) in res.items()))
    return rows


def _loader(ds, batch, workers, shuffle, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.utils.data.DataLoader(
        ds,
        batch_size=batch,
        shuffle=shuffle,
        num_workers=workers,
        drop_last=shuffle,
        generator=g,
        persistent_workers=workers > 0,
    )


def train_one(mode, args, device):
    from daformer_edu.data import Compose, RandomFlip
    from daformer_edu.data.synthetic import SyntheticDomain
    from daformer_edu.metrics import evaluate
    from daformer_edu.models import build_segmentor

    torch.manual_seed(args.seed)
    size = (args.height, args.width)
    aug = Compose([RandomFlip(0.5)])
    if mode == "source-only":
        train = SyntheticDomain("source", "train", size=size, length=args.train_len, seed=args.seed, transform=aug)
    else:  # oracle: the target training images *with* their labels
        train = SyntheticDomain(
            "target", "train", size=size, length=args.train_len, seed=args.seed, transform=aug, labels=True
        )
    val = SyntheticDomain("target", "val", size=size, length=args.val_len, seed=0)
    model = build_segmentor(
        "mit_b0", "daformer", num_classes=19, embed_dim=args.width_head, channels=args.width_head
    ).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    warm = max(args.iters // 20, 1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda it: min((it + 1) / warm, 1.0) * (1 - it / args.iters) ** 0.9)
    loader = _loader(train, args.batch, args.workers, True, args.seed)
    use_amp = device.type == "cuda"
    it, t0, losses = 0, time.perf_counter(), []
    model.train()
    while it < args.iters and time.perf_counter() - t0 < 60 * args.max_minutes:
        for batch in loader:
            x, y = batch["image"].to(device, non_blocking=True), batch["label"].to(device, non_blocking=True)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                logits = model(x)
            loss = torch.nn.functional.cross_entropy(logits.float(), y, ignore_index=255)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
            it += 1
            if it % max(args.iters // 10, 1) == 0:
                print(
                    f"  [{mode}] it {it}/{args.iters} loss {np.mean(losses[-20:]):.3f} {time.perf_counter() - t0:.0f}s",
                    flush=True,
                )
            if it >= args.iters or time.perf_counter() - t0 > 60 * args.max_minutes:
                break
    train_s = time.perf_counter() - t0
    if it < args.iters:
        print(f"  [{mode}] stopped by --max-minutes after {it} iterations")
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
        res = evaluate(model, _loader(val, 8, args.workers, False, 0), num_classes=19, device=device, progress=False)
        if mode == "source-only":  # in-domain check: the model did learn its own domain
            src_val = SyntheticDomain("source", "val", size=size, length=args.val_len, seed=0)
            res["source_val"] = evaluate(
                model, _loader(src_val, 8, args.workers, False, 0), num_classes=19, device=device, progress=False
            )
    res["train_s"], res["iters"] = train_s, it
    res["model"] = model
    return res


def _infinite(loader):
    while True:
        yield from loader


def self_train(model, args, device):
    """A minimal DACS self-training check (mean teacher + ClassMix + confidence weight), warm-started from the
    source-only model. Only here to show the gap can be narrowed; the real method is daformer_edu/uda + train.py."""
    import copy

    import torch.nn.functional as F

    from daformer_edu.data import Compose, RandomFlip
    from daformer_edu.data.synthetic import SyntheticDomain
    from daformer_edu.metrics import evaluate

    size = (args.height, args.width)
    aug = Compose([RandomFlip(0.5)])
    src = _infinite(
        _loader(
            SyntheticDomain("source", "train", size=size, length=args.train_len, seed=args.seed, transform=aug),
            args.batch,
            args.workers,
            True,
            args.seed + 1,
        )
    )
    tgt = _infinite(
        _loader(
            SyntheticDomain("target", "train", size=size, length=args.train_len, seed=args.seed, transform=aug),
            args.batch,
            args.workers,
            True,
            args.seed + 2,
        )
    )
    teacher = copy.deepcopy(model).eval()
    for p_ in teacher.parameters():
        p_.requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr / 2, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda it: (1 - it / args.selftrain) ** 0.9)
    gen = torch.Generator(device="cpu").manual_seed(args.seed)
    use_amp = device.type == "cuda"
    model.train()
    t0 = time.perf_counter()
    it = 0
    while it < args.selftrain and time.perf_counter() - t0 < 60 * args.max_minutes:
        s, t = next(src), next(tgt)
        xs, ys, xt = s["image"].to(device), s["label"].to(device), t["image"].to(device)
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            prob = torch.softmax(teacher(xt).float(), dim=1)
        conf, pseudo = prob.max(dim=1)  # [B, H, W]
        q = (conf > 0.968).float().mean(dim=(1, 2))  # [B] confidence weight q_T
        mask = torch.zeros_like(ys, dtype=torch.bool)
        for b in range(ys.shape[0]):  # ClassMix: paste half of the source image's classes
            cls = torch.unique(ys[b])
            cls = cls[cls != 255]
            chosen = cls[torch.randperm(len(cls), generator=gen)[: (len(cls) + 1) // 2].to(cls.device)]
            mask[b] = torch.isin(ys[b], chosen)
        m = mask[:, None].float()
        xm = m * xs + (1 - m) * xt
        jitter = 1 + 0.2 * (torch.rand(xm.shape[0], 1, 1, 1, device=device) - 0.5)
        xm = xm * jitter  # a mild contrast change
        ym = torch.where(mask, ys, pseudo)
        wm = torch.where(mask, torch.ones_like(conf), q[:, None, None].expand_as(conf))
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            out_s, out_m = model(xs), model(xm)
        loss = F.cross_entropy(out_s.float(), ys, ignore_index=255)
        loss = loss + (F.cross_entropy(out_m.float(), ym, ignore_index=255, reduction="none") * wm).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        with torch.no_grad():  # EMA teacher, alpha = min(1 - 1/(t + 1), 0.999)
            alpha = min(1 - 1 / (it + 1), 0.999)
            for pt, ps in zip(teacher.parameters(), model.parameters()):
                pt.mul_(alpha).add_(ps.detach(), alpha=1 - alpha)
            for bt, bs in zip(teacher.buffers(), model.buffers()):
                bt.copy_(bs)
        it += 1
        if it % max(args.selftrain // 10, 1) == 0:
            print(
                f"  [self-training] it {it}/{args.selftrain} loss {loss.item():.3f} q_T {q.mean():.2f} "
                f"{time.perf_counter() - t0:.0f}s",
                flush=True,
            )
    val = SyntheticDomain("target", "val", size=size, length=args.val_len, seed=0)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
        res = evaluate(teacher, _loader(val, 8, args.workers, False, 0), num_classes=19, device=device, progress=False)
    res["train_s"], res["iters"] = time.perf_counter() - t0, it
    return res


def bench_gap(args):
    from daformer_edu.data.classes import CLASSES
    from daformer_edu.viz import format_comparison_table

    device = torch.device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(args.threads)
    results = {}
    for mode in ("source-only", "oracle"):
        results[mode] = train_one(mode, args, device)
        print(f"{mode}: target-val mIoU {results[mode]['miou']:.1f}  ({results[mode]['train_s']:.0f} s)", flush=True)
    if args.selftrain > 0:
        st = self_train(results["source-only"]["model"], args, device)
        print(f"source-only + {st['iters']} it minimal self-training: target-val mIoU {st['miou']:.1f}", flush=True)
        results = {"source-only": results["source-only"], "+ self-training": st, "oracle": results["oracle"]}
    its = "/".join(str(v["iters"]) for v in results.values())
    print(
        f"\nMiT-B0 + DAFormer head (width {args.width_head}), from scratch, {args.width}x{args.height}, "
        f"{its} iterations x batch {args.batch}, device {device}, seed {args.seed}; target val "
        f"{args.val_len} images"
    )
    table = {k: v["iou"] for k, v in results.items()}
    table["source-only @ source val"] = results["source-only"]["source_val"]["iou"]
    print(format_comparison_table(table, CLASSES))
    gap = results["oracle"]["miou"] - results["source-only"]["miou"]  # percent: mIoU points
    print(f"gap (oracle - source-only): {gap:.1f} mIoU points")
    if args.json:
        with open(args.json, "w") as f:
            out = {
                k: {"miou": v["miou"], "iou": v["iou"], "train_s": v["train_s"], "iters": v["iters"]}
                for k, v in results.items()
            }
            out["source-only"]["source_val_miou"] = results["source-only"]["source_val"]["miou"]
            json.dump(out | {"args": vars(args)}, f, indent=1)
    return results


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--gap", action="store_true", help="measure source-only vs oracle target mIoU")
    p.add_argument("--iters", type=int, default=150)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--width-head", type=int, default=64, help="embed/fusion width of the DAFormer head")
    p.add_argument("--height", type=int, default=128)
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--train-len", type=int, default=2000)
    p.add_argument("--val-len", type=int, default=100)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", 1)))
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="write the gap results to this file")
    p.add_argument("--max-minutes", type=float, default=30.0, help="stop each training run after this long")
    p.add_argument(
        "--selftrain",
        type=int,
        default=0,
        help="then this many iterations of a minimal DACS self-training from the source-only model",
    )
    args = p.parse_args(argv)
    if args.gap:
        bench_gap(args)
    else:
        bench_speed()
    return 0


if __name__ == "__main__":
    sys.exit(main())
