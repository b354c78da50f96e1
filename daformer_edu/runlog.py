"""What a run writes while it runs: ``log.jsonl`` (the record), the history in memory, and TensorBoard events.

``RunLog(out, config, classes)`` is the trainer's notebook: ``start(iteration)`` prepares the run folder (a new run
writes ``config.json``; a resumed one drops the log lines its killed predecessor wrote after the checkpoint),
``train``/``evaluation``/``snapshot`` append one record each — to ``history``, to ``log.jsonl`` and, with
``config.tensorboard``, to ``out/tensorboard/`` — and ``close()`` ends a ``fit``. ``finish(result)`` writes the final
``metrics.json`` and the pseudo-label snapshots. ``out=None`` keeps everything in memory (benchmarks, other ranks).

Taught in: notebooks/09_full_uda.ipynb
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import torch

from .tensorboard import TensorBoardLogger

__all__ = ["RunLog"]


class RunLog:
    """The records of one run: ``history`` (every log line as a dict), ``snapshots`` (pseudo-labels per evaluation).

    Taught in: notebooks/09_full_uda.ipynb
    """

    def __init__(self, out: Path | None, config, classes):
        self.out, self.config, self.classes = out, config, classes
        self.history: list[dict] = []
        self.snapshots: dict[int, dict[str, torch.Tensor]] = {}
        self._tb: TensorBoardLogger | None = None

    def start(self, iteration: int) -> None:
        """Make the run folder; a new run writes ``config.json``, a resumed one trims ``log.jsonl`` to ``iteration``."""
        if self.out is None:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        path = self.out / "log.jsonl"
        if iteration == 0:
            path.unlink(missing_ok=True)
            (self.out / "config.json").write_text(json.dumps(asdict(self.config), indent=2) + "\n")
        elif path.exists():
            lines = [ln for ln in path.read_text().splitlines() if ln and json.loads(ln)["iteration"] <= iteration]
            path.write_text("".join(ln + "\n" for ln in lines))
        if self.config.tensorboard:
            self._tb = TensorBoardLogger(self.out, resumed_at=iteration)

    def _append(self, record: dict) -> None:
        self.history.append(record)
        if self.out is not None:
            with open(self.out / "log.jsonl", "a") as f:
                f.write(json.dumps(record) + "\n")

    def train(self, iteration: int, log: dict) -> None:
        """One training record: the step's scalars (losses, lr, q_T, FD cells, times)."""
        self._append({"iteration": iteration, "split": "train", **log})
        if self._tb:
            self._tb.log_train(iteration, log)

    def evaluation(self, iteration: int, result: dict) -> None:
        """One evaluation record: mIoU and per-class IoU in percent."""
        self._append({"iteration": iteration, "split": "val", **result})
        if self._tb:
            self._tb.log_eval(iteration, result)

    def snapshot(self, iteration: int, labels: torch.Tensor, q_t: torch.Tensor) -> None:
        """The teacher's pseudo-labels (uint8 ``[n, H, W]``) and each image's q_T (``[n]``) at an evaluation."""
        self.snapshots[iteration] = {"labels": labels, "q_t": q_t}
        if self._tb:
            self._tb.log_snapshot(iteration, labels, self.classes, q_t)

    def close(self) -> None:
        """End of a ``fit``: flush and close the TensorBoard events."""
        if self._tb:
            self._tb.close()
            self._tb = None

    def finish(self, result: dict) -> None:
        """Write ``metrics.json`` and ``snapshots.pt`` (nothing when ``out`` is None)."""
        if self.out is not None:
            (self.out / "metrics.json").write_text(json.dumps(result, indent=2) + "\n")
            torch.save(self.snapshots, self.out / "snapshots.pt")
