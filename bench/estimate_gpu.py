"""Estimates, not measurements: seconds per DAFormer iteration and peak GPU memory for other MiT sizes, crops and
precisions, from counts on the CPU calibrated by the one measured GPU step.

    python bench/estimate_gpu.py            # the table (a minute on a CPU: every count runs on the meta device)

What is counted, per training iteration of mode ``uda`` (batch 2): the forward FLOPs F of the segmentor (encoder and
DAFormer head, ``torch.utils.flop_counter.FlopCounterMode`` on the meta device: shapes only, no arithmetic), the
iteration's FLOPs ≈ 7·F + F_enc (student forward + backward on the source and on the mixed crop, 3·F each; teacher
forward F; the frozen ImageNet encoder's forward F_enc — a backward costs about twice its forward; the counter's own
backward numbers overcount grouped convolutions, so they are not used), the number of aten operations (≈ GPU kernel
launches) of the same passes, and the bytes of the tensors autograd saves for the backward (activations).

Calibration (bench/results/gpu_h200_2026-11-26.md, one H200, bf16, MiT-B5 at 512²): 0.307 s per iteration, of which
the GPU was busy 124 ms (the step is bound by the CPU launching ~15,500 kernels), peak memory 7.73 GiB. So

- GPU time ≈ FLOPs / (the effective bf16 rate of that step); fp32 with TF32 matmuls: half that rate (an assumption);
- launch time ≈ operations × (0.307 s / the measured step's operation count);
- s / iteration ≈ max(launch time, GPU time);
- memory ≈ 7.73 GiB × (weights + optimiser + activations of the configuration) / (the same of the measured one),
  fp32 activations counted at twice the bf16 bytes.

Every number this prints is an estimate; the measured page says so.
"""

from __future__ import annotations

import warnings

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from daformer_edu.models import build_segmentor

MEASURED = dict(encoder="mit_b5", crop=512, seconds=0.307, gpu_busy=0.124, peak_gib=7.73)  # H200, bf16
BATCH, HEAD = 2, 256


class _CountOps(TorchDispatchMode):
    """Counts the aten operations dispatched (each is one or a few GPU kernels)."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.count += 1
        return func(*args, **(kwargs or {}))


def _counts(encoder: str, crop: int) -> dict:
    """FLOPs, operations and saved-activation bytes of one uda iteration, on the meta device (fp32 shapes)."""
    with warnings.catch_warnings(), torch.device("meta"):
        warnings.simplefilter("ignore")
        net = build_segmentor(encoder, "daformer", num_classes=19, embed_dim=HEAD, channels=HEAD, head_init="pytorch")
    x = torch.randn(BATCH, 3, crop, crop, device="meta")
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        net(x)
    fwd = fc.get_total_flops()
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        net.encoder(x)
    enc = fc.get_total_flops()
    saved: list[int] = []
    with (
        _CountOps() as ops,
        torch.autograd.graph.saved_tensors_hooks(
            lambda t: saved.append(t.numel() * t.element_size()) or t, lambda t: t
        ),
    ):
        net(x).mean().backward()  # one student forward + backward
    student_ops = ops.count
    with torch.no_grad(), _CountOps() as ops:
        net(x)
    fwd_ops = ops.count
    params = sum(p.numel() for p in net.parameters())
    enc_params = sum(p.numel() for p in net.encoder.parameters())
    return {
        "flops": 7 * fwd + enc,
        "ops": 2 * student_ops + 2 * fwd_ops,
        "activations": sum(saved),
        "params": params,
        "enc_params": enc_params,
    }


def _memory_bytes(c: dict, precision: str) -> float:
    """Weights (student fp32 + AdamW's two moments + gradients; teacher; frozen encoder) and one pass's activations."""
    weights = 4 * (4 * c["params"] + c["params"] + c["enc_params"])
    return weights + c["activations"] * (1.0 if precision == "fp32" else 0.5)


def main() -> None:
    ref = _counts(MEASURED["encoder"], MEASURED["crop"])
    bf16_rate = ref["flops"] / MEASURED["gpu_busy"]  # FLOP/s the measured step reached on the GPU
    per_op = MEASURED["seconds"] / ref["ops"]  # seconds of launching per operation
    ref_mem = _memory_bytes(ref, "bf16")
    print(
        f"calibration: {ref['flops'] / 1e12:.2f} TFLOP and {ref['ops']} operations per MiT-B5 512² iteration; "
        f"effective bf16 rate {bf16_rate / 1e12:.0f} TFLOP/s, {1e6 * per_op:.1f} µs per operation"
    )
    print("ESTIMATES (not measured): uda iteration, batch 2, one H100/H200-class GPU")
    print(
        f"{'encoder':<8}{'crop':>6}{'precision':>10}{'TFLOP/it':>10}{'s/it':>7}{'40k it':>9}{'peak GiB':>10}"
        f"{'fits 11 / 16 / 24 GB':>24}"
    )
    for encoder in ("mit_b0", "mit_b3", "mit_b4", "mit_b5"):
        for crop in (512, 384):
            c = _counts(encoder, crop)
            for precision in ("fp32", "bf16"):
                rate = bf16_rate if precision == "bf16" else bf16_rate / 2
                seconds = max(c["ops"] * per_op, c["flops"] / rate)
                gib = MEASURED["peak_gib"] * _memory_bytes(c, precision) / ref_mem
                fits = " / ".join("yes" if gib * 1.1 < gb * 0.93 else "no" for gb in (11, 16, 24))  # 10 % margin
                print(
                    f"{encoder:<8}{crop:>6}{precision:>10}{c['flops'] / 1e12:>10.2f}{seconds:>7.2f}"
                    f"{seconds * 40000 / 3600:>8.1f}h{gib:>10.1f}{fits:>24}"
                )


if __name__ == "__main__":
    main()
