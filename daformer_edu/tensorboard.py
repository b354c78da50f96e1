"""Live training curves in TensorBoard: the run's log records as scalars, its pseudo-label snapshots as images.

``log.jsonl`` stays the record of a run (notebook 09 and ``bench/`` read it). With ``tensorboard=True`` the
trainer also writes the same numbers as TensorBoard event files into ``<run folder>/tensorboard/``, so that

    tensorboard --logdir runs          # then open http://localhost:6006

shows, while the run goes, the losses (source and target cross-entropy, the feature distance: DAFormer §3), the
learning rate (warmup + poly, §3.3), q_T (the teacher's confidence weight, DACS / §3.1), the share of FD's thing
cells, the EMA α and the mIoU of every evaluation; and, in the Images tab, the teacher's pseudo-labels of a few
fixed target images at every evaluation, which is how self-training can be watched sharpening them.

=========================  ========================================================================
tag                        what
=========================  ========================================================================
``train/<key>``            every number of a training log record: ``loss``, ``source_ce``,
                           ``target_ce``, ``feature_distance``, ``lr``, ``q_t``, ``fd_cells``, …
``val/miou``               each evaluation's mIoU (percent); ``val/miou_16`` too when present
``val/iou/<class>``        each class's IoU (percent); a class without a value (None) is skipped
``snapshots/<i>``          target image ``i``'s pseudo-label map in the class colours (ignore = black)
``snapshots/q_t/<i>``      its q_T
=========================  ========================================================================

The step of every value is the iteration. TensorBoard stores scalars as float32. A resumed run passes
``resumed_at`` (the checkpoint's iteration): TensorBoard then discards what the killed run wrote after it, as the
trainer drops those lines from ``log.jsonl``. Optional: ``pip install -e ".[tensorboard]"``.
"""

from __future__ import annotations

import numbers
import os
from pathlib import Path

import numpy as np
import torch

__all__ = ["TensorBoardLogger", "TensorBoardUnavailableError", "check_tensorboard_available"]

_INSTALL = 'pip install -e ".[tensorboard]"'


class TensorBoardUnavailableError(ModuleNotFoundError):
    """``tensorboard=True`` but the ``tensorboard`` package is not installed (the message says how to install it)."""


def _summary_writer_class():
    try:
        from torch.utils.tensorboard import SummaryWriter  # imports the tensorboard package
    except ImportError:
        raise TensorBoardUnavailableError(
            f"tensorboard=True needs the tensorboard package, which is not installed: "
            f"{_INSTALL} (or pip install tensorboard), or set tensorboard=false"
        ) from None
    return SummaryWriter


def check_tensorboard_available() -> None:
    """Raise :class:`TensorBoardUnavailableError` (one line, with the install command) if TensorBoard is missing.

    Cheap: for config time, before a run prepares its data.
    """
    _summary_writer_class()


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _colour_table(palette, labels: np.ndarray) -> np.ndarray:
    """``palette`` (uint8 ``[K, 3]`` or a ``ClassTable``) as a ``[256, 3]`` lookup table, black from K on (ignore 255)."""
    colours = np.asarray(getattr(palette, "palette", palette))
    if colours.ndim != 2 or colours.shape[1] != 3 or not 0 < len(colours) <= 255:
        raise ValueError(
            f"TensorBoardLogger.log_snapshot: palette must be [K, 3] RGB colours with 0 < K <= 255, "
            f"got shape {colours.shape}"
        )
    stray = np.unique(labels[(labels >= len(colours)) & (labels != 255)])
    if stray.size:
        raise ValueError(
            f"TensorBoardLogger.log_snapshot: label ids {stray.tolist()} have no colour in the palette of "
            f"{len(colours)} classes (255 = ignore); pass the run's palette"
        )
    lut = np.zeros((256, 3), np.uint8)
    lut[: len(colours)] = colours
    return lut


class TensorBoardLogger:
    """Writes a run's training records, evaluations and pseudo-label snapshots as TensorBoard events (module text).

    ``TensorBoardLogger(run_dir)`` writes into ``run_dir/tensorboard/``. ``resumed_at``: the iteration a resumed run
    starts from (its checkpoint's); the events the killed run wrote after it (steps > ``resumed_at``) are discarded,
    those up to it stay. ``flush_secs``: how often the events reach the disk.
    Raises :class:`TensorBoardUnavailableError` if the ``tensorboard`` package is missing. The losses it shows are
    DAFormer's (§3: L_S, L_T weighted by q_T, λ_FD·L_FD); the learning rate follows §3.3's warmup.
    """

    def __init__(self, run_dir: str | os.PathLike, *, resumed_at: int = 0, flush_secs: int = 10):
        writer_class = _summary_writer_class()
        self.log_dir = Path(run_dir) / "tensorboard"
        purge_step = resumed_at + 1 if resumed_at else None  # TensorBoard drops steps >= purge_step
        self.writer = writer_class(log_dir=str(self.log_dir), purge_step=purge_step, flush_secs=flush_secs)

    def log_train(self, iteration: int, record: dict) -> None:
        """Every number of a training log record as ``train/<key>`` (``iteration`` is the step, not a value)."""
        for key, value in record.items():
            if key != "iteration" and _is_number(value):
                self.writer.add_scalar(f"train/{key}", float(value), iteration)

    def log_eval(self, iteration: int, result: dict) -> None:
        """An evaluation (``Trainer.evaluate``'s dict): ``val/miou``, ``val/miou_16``, ``val/iou/<class>``."""
        for key in ("miou", "miou_16"):
            if _is_number(result.get(key)):
                self.writer.add_scalar(f"val/{key}", float(result[key]), iteration)
        for name, iou in (result.get("per_class_iou") or {}).items():
            if iou is not None:
                self.writer.add_scalar(f"val/iou/{name}", float(iou), iteration)

    def log_snapshot(self, iteration: int, labels, palette, q_t) -> None:
        """Pseudo-labels ``[n, H, W]`` (uint8 class ids, 255 = ignore) coloured by ``palette`` ``[K, 3]``, and q_T ``[n]``.

        Image ``i`` is ``snapshots/<i>``, its q_T ``snapshots/q_t/<i>``. ``palette``: uint8 ``[K, 3]`` or the run's
        ``ClassTable``. A class id ≥ K other than 255 is an error (the palette does not fit the labels).
        """
        labels = labels.cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
        q_t = q_t.cpu().numpy() if isinstance(q_t, torch.Tensor) else np.asarray(q_t)
        if labels.ndim != 3 or labels.dtype != np.uint8 or q_t.shape != labels.shape[:1]:
            raise ValueError(
                f"TensorBoardLogger.log_snapshot: labels must be uint8 [n, H, W] and q_t [n]; got labels "
                f"{labels.dtype} {labels.shape} and q_t {q_t.shape}"
            )
        lut = _colour_table(palette, labels)  # [256, 3]
        for i, (label, q) in enumerate(zip(labels, q_t)):
            self.writer.add_image(f"snapshots/{i}", lut[label], iteration, dataformats="HWC")  # [H, W, 3] uint8
            self.writer.add_scalar(f"snapshots/q_t/{i}", float(q), iteration)

    def flush(self) -> None:
        """Write the pending events to disk now."""
        self.writer.flush()

    def close(self) -> None:
        """Flush and close the event file (the end of ``fit``)."""
        self.writer.close()

    def __enter__(self) -> TensorBoardLogger:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
