"""Pre-train a MiT encoder on the embedded "ImageNet" (``SyntheticObjects``): the weights the package ships.

DAFormer starts from ImageNet-1k weights; SegFormer pre-trained MiT as a classifier: the encoder, global
average pooling of its last stage, one linear layer. We do the same on the synthetic object photos, with
their image-level multi-labels (binary cross-entropy per class, as for multi-label ImageNet variants):

    logits = W · mean_{h,w} MiT(x)[-1] + b           # [B, 19]
    L = BCE(logits, labels)                          # labels: the classes in the picture (multi-hot)

The training pictures are rendered once into memory (``--images``, a fixed set like ImageNet's), then
AdamW with a linear warmup and a cosine decay runs ``--iterations`` steps of ``--batch-size`` random
pictures (flipped half the time). The result is the encoder's state dict in float16 with a ``meta`` record
(the exact command, every setting, the time it took, the validation score), written atomically.

    python -m daformer_edu.pretrain --encoder mit_b0 --out daformer_edu/models/embedded_weights/mit_b0_objects.pt

On this project's 2-core CPU the default settings take about 8 minutes (460 s measured alone); run again,
the command reproduces the shipped weights bit for bit (checked: all 176 tensors equal).
A run is checkpointed every ``--checkpoint-interval`` steps to ``OUT.partial``; run the same command
again and it continues from there (the batches are a pure function of ``(seed, step)``).

Taught in: notebooks/08_feature_distance.ipynb
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from .data.classes import NUM_CLASSES
from .data.synthetic.objects import SyntheticObjects
from .models.segmentor import ENCODERS

__all__ = ["PretrainConfig", "ObjectClassifier", "pretrain", "linear_probe"]


@dataclass
class PretrainConfig:
    """Settings of one pre-training run (defaults: the shipped MiT-B0 file).

    Taught in: notebooks/08_feature_distance.ipynb
    """

    encoder: str = "mit_b0"
    out: str = "mit_b0_objects.pt"
    images: int = 40000  # training pictures rendered once (a fixed set, like ImageNet)
    val_images: int = 2000  # held-out pictures for the score in meta
    size: int = 64  # picture side (pixels)
    iterations: int = 3000
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_iters: int = 150
    seed: int = 0  # training randomness (init, batches, drop-path)
    data_seed: int = 0  # which pictures exist
    checkpoint_interval: int = 500
    probe: bool = True  # score the result with linear_probe on source and target val scenes (meta only)
    progress: bool = True

    def __post_init__(self):
        if self.encoder not in ENCODERS:
            raise ValueError(f"pretrain: encoder={self.encoder!r}; choose one of {list(ENCODERS)}")
        for name in ("images", "val_images", "iterations", "batch_size", "checkpoint_interval"):
            if getattr(self, name) < 1:
                raise ValueError(f"pretrain: {name}={getattr(self, name)} must be a positive integer")
        if self.size < 32 or self.size % 32:
            raise ValueError(f"pretrain: size={self.size} must be a multiple of 32 (the encoder's stride)")


class ObjectClassifier(nn.Module):
    """MiT encoder + global average pooling of its last stage + one linear layer (SegFormer's ImageNet set-up).

    ``forward(x [B, 3, S, S]) → logits [B, 19]``; only ``encoder`` is kept afterwards.

    Taught in: notebooks/08_feature_distance.ipynb
    """

    def __init__(self, encoder: nn.Module, num_classes: int = NUM_CLASSES):
        super().__init__()
        self.encoder = encoder
        self.norm = nn.LayerNorm(encoder.embed_dims[-1])
        self.fc = nn.Linear(encoder.embed_dims[-1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.encoder(x)[-1]  # [B, C4, S/32, S/32]
        return self.fc(self.norm(f.mean(dim=(2, 3))))  # [B, K]


def _render_object_set(split: str, n: int, size: int, seed: int = 0, progress: bool = False):
    """Render ``n`` pictures of ``SyntheticObjects(split)`` into memory: ``(uint8 [n, S, S, 3], float [n, 19])``."""
    from tqdm.auto import tqdm

    ds = SyntheticObjects(split, size=size, length=n, seed=seed)
    images = np.empty((n, size, size, 3), np.uint8)
    labels = np.empty((n, NUM_CLASSES), np.float32)
    for i in tqdm(range(n), desc=f"render {split} objects", disable=not progress, dynamic_ncols=True):
        images[i], labels[i], _ = ds.render(i)
    return torch.from_numpy(images), torch.from_numpy(labels)


def _normalise(images_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 [B, S, S, 3] → ImageNet-normalised float [B, 3, S, S] (the same statistics the datasets use)."""
    from .data.transforms import IMAGENET_MEAN, IMAGENET_STD

    x = images_uint8.permute(0, 3, 1, 2).float()
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def _lr(cfg: PretrainConfig, t: int) -> float:
    if t < cfg.warmup_iters:
        return cfg.lr * (t + 1) / cfg.warmup_iters
    p = (t - cfg.warmup_iters) / max(cfg.iterations - cfg.warmup_iters, 1)
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * p))


@torch.no_grad()
def _score(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> dict:
    """Validation: mean over classes of the F1 score at threshold 0.5, and exact-match accuracy."""
    model.eval()
    preds = []
    for i in range(0, len(images), 256):
        preds.append(model(_normalise(images[i : i + 256])) > 0)
    model.train()
    pred = torch.cat(preds).float()
    tp = (pred * labels).sum(0)
    f1 = 2 * tp / (pred.sum(0) + labels.sum(0)).clamp(min=1)
    present = labels.sum(0) > 0
    return {
        "val_mean_f1": round(float(f1[present].mean()) * 100, 2),
        "val_exact_match": round(float((pred == labels).all(1).float().mean()) * 100, 2),
    }


def _resume(partial: Path, cfg: PretrainConfig, model: nn.Module, optimizer) -> tuple[int, float]:
    """Continue from ``partial`` (the last checkpoint of a killed run) when it exists: (step, seconds so far)."""
    if not partial.is_file():
        return 0, 0.0
    state = load_checkpoint(partial)
    if state["config"] != dataclasses.asdict(cfg):
        raise ValueError(
            f"pretrain: {partial} was made with other settings; delete it or use them again "
            f"(checkpoint: {state['config']})"
        )
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    set_rng_state(state["rng"])
    print(f"pretrain: continuing {partial} from step {state['step']}", file=sys.stderr)
    return state["step"], state["seconds"]


def _batch(cfg: PretrainConfig, step: int, train_x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The batch of ``step``: a function of (seed, step) — picture indices and horizontal flips.

    Not ``data.stream.CropStream`` (numpy, one generator per slot): that would change every batch, and the command
    recorded in the shipped weights must reproduce them bit for bit.
    """
    g = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
    idx = torch.randint(len(train_x), (cfg.batch_size,), generator=g)  # [B]
    x = _normalise(train_x[idx])  # [B, 3, S, S]
    flip = torch.rand(cfg.batch_size, generator=g) < 0.5
    x[flip] = x[flip].flip(-1)
    return x, idx


def pretrain(config: PretrainConfig, argv: list[str] | None = None) -> dict:
    """Run the pre-training of ``config`` and write ``config.out``; returns the ``meta`` record.

    Taught in: notebooks/08_feature_distance.ipynb
    """
    from tqdm.auto import tqdm

    from .models import mit

    cfg = config
    out = Path(cfg.out)
    partial = out.with_name(out.name + ".partial")
    start = time.perf_counter()
    torch.manual_seed(cfg.seed)
    model = ObjectClassifier(getattr(mit, cfg.encoder)())
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr
    )
    step, seconds_before = _resume(partial, cfg, model, optimizer)

    train_x, train_y = _render_object_set("train", cfg.images, cfg.size, cfg.data_seed, cfg.progress)
    val_x, val_y = _render_object_set("val", cfg.val_images, cfg.size, cfg.data_seed, cfg.progress)
    model.train()
    bar = tqdm(
        total=cfg.iterations, initial=step, desc=f"pretrain {cfg.encoder}", disable=not cfg.progress, dynamic_ncols=True
    )
    while step < cfg.iterations:
        x, idx = _batch(cfg, step, train_x)  # [B, 3, S, S], [B]
        for group in optimizer.param_groups:
            group["lr"] = _lr(cfg, step)
        loss = F.binary_cross_entropy_with_logits(model(x), train_y[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.3f}")
        if step % cfg.checkpoint_interval == 0 and step < cfg.iterations:
            save_checkpoint(
                {
                    "config": dataclasses.asdict(cfg),
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "rng": rng_state(),
                    "step": step,
                    "seconds": seconds_before + time.perf_counter() - start,
                },
                partial,
            )
    bar.close()
    score = _score(model, val_x, val_y)
    model.eval()
    for domain in ("source", "target") if cfg.probe else ():
        # a held-out task, scored after training (it never feeds back into the weights): see linear_probe
        score[f"probe_{domain}"] = round(linear_probe(model.encoder, domain), 1)
    meta = {
        "command": "python -m daformer_edu.pretrain " + " ".join(argv if argv is not None else sys.argv[1:]),
        "config": dataclasses.asdict(cfg),
        "seconds": round(seconds_before + time.perf_counter() - start, 1),
        "threads": torch.get_num_threads(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "torch": str(torch.__version__),
        **score,
    }
    state = {k: v.detach().to(torch.float16).clone() for k, v in model.encoder.state_dict().items()}
    out.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint({"state_dict": state, "meta": meta}, out)
    partial.unlink(missing_ok=True)
    return meta


def main(argv: list[str] | None = None) -> int:
    defaults = PretrainConfig()
    parser = argparse.ArgumentParser(prog="python -m daformer_edu.pretrain", description=__doc__.split("\n\n")[0])
    parser.add_argument("--encoder", default=defaults.encoder, choices=list(ENCODERS))
    parser.add_argument("--out", required=True, help="the weight file to write (float16 encoder state dict + meta)")
    for f in dataclasses.fields(PretrainConfig):
        if f.name in ("encoder", "out", "progress", "probe"):
            continue
        parser.add_argument("--" + f.name.replace("_", "-"), type=type(f.default), default=f.default)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    kw = {
        f.name: getattr(args, f.name) for f in dataclasses.fields(PretrainConfig) if f.name not in ("progress", "probe")
    }
    try:
        cfg = PretrainConfig(**kw, progress=not args.no_progress)
    except ValueError as err:
        parser.error(str(err))
    meta = pretrain(cfg, argv)
    print(
        f"wrote {cfg.out}: {meta['seconds']:.0f} s, validation mean F1 {meta['val_mean_f1']:.1f} %, "
        f"exact match {meta['val_exact_match']:.1f} %; linear probe on street scenes: source "
        f"{meta['probe_source']:.1f} %, target {meta['probe_target']:.1f} %"
    )
    return 0


def _cell_features(encoder: nn.Module, dataset, indices) -> tuple[torch.Tensor, torch.Tensor]:
    """Stages 2–4 upsampled to stride 8 and concatenated ``[cells, C]``, and the label at each cell centre."""
    X, Y = [], []
    with torch.no_grad():
        for i in indices:
            item = dataset[i]
            f = encoder(item["image"][None])[1:]  # 3 × [1, C_i, H_i, W_i]
            size = f[0].shape[-2:]
            f = torch.cat([F.interpolate(t, size=size, mode="bilinear", align_corners=False) for t in f], 1)[0]
            X.append(f.flatten(1).T)  # [h·w, C]
            Y.append(item["label"][4::8, 4::8].flatten())  # [h·w]
    return torch.cat(X), torch.cat(Y)


def linear_probe(
    encoder: nn.Module,
    domain: str = "source",
    train_images: int = 24,
    test_images: int = 16,
    size: tuple[int, int] = (128, 256),
    ridge: float = 10.0,
) -> float:
    """How much a frozen encoder's features know about street scenes: a linear probe's pixel accuracy (%).

    A task pre-training never saw: the semantic class of each stride-8 cell of ``domain``'s validation
    scenes (source or target). Features: stages 2–4, upsampled to stride 8, concatenated, standardised.
    Classifier: ridge regression on one-hot targets in closed form,
    ``W = (XᵀX + λI)⁻¹ XᵀY`` (λ = ``ridge``), fitted on ``train_images`` scenes and scored on the next
    ``test_images`` (cells labelled 255 are skipped). Deterministic: no random draw anywhere.

    Taught in: notebooks/08_feature_distance.ipynb
    """
    from .data.synthetic import SyntheticDomain

    was_training = encoder.training
    encoder.eval()
    ds = SyntheticDomain(domain, "val", size=size, length=train_images + test_images)
    Xtr, Ytr = _cell_features(encoder, ds, range(train_images))
    Xte, Yte = _cell_features(encoder, ds, range(train_images, train_images + test_images))
    encoder.train(was_training)
    Xtr, Xte = Xtr.double(), Xte.double()  # float64: the normal equations of ~450 features are ill-conditioned
    mean, std = Xtr.mean(0), Xtr.std(0) + 1e-6
    keep = Ytr != 255
    Xtr, Ytr = (Xtr[keep] - mean) / std, Ytr[keep]
    Xte = (Xte - mean) / std
    Xtr, Xte = F.pad(Xtr, (0, 1), value=1.0), F.pad(Xte, (0, 1), value=1.0)  # a bias column
    W = torch.linalg.solve(
        Xtr.T @ Xtr + ridge * torch.eye(Xtr.shape[1], dtype=Xtr.dtype), Xtr.T @ F.one_hot(Ytr, NUM_CLASSES).double()
    )  # [C + 1, K]
    ok = Yte != 255
    return float(((Xte @ W).argmax(1)[ok] == Yte[ok]).float().mean()) * 100


if __name__ == "__main__":
    sys.exit(main())
