"""Training crops that are a pure function of (seed, stream, iteration, slot): resumable, worker-independent.

The training loops that crop a dataset draw their crops here: the DAFormer trainer (``stream=0`` source,
``stream=1`` target) and BlindNet (``stream=7``, ``dg/blindnet.py``). Crop ``k`` of iteration ``t`` comes from
``numpy.random.default_rng([seed, stream, t, k])``, so

- the data order needs no iterator state: a resumed run asks for iteration ``t`` and gets exactly the crops
  the killed run would have seen;
- any number of DataLoader workers (or DDP ranks, which take slots ``rank·B … rank·B + B − 1``) give the same
  crops as one process;
- two streams of one run (``stream=0`` source, ``stream=1`` target) never share a draw.

With a ``RareClassSampler`` (uda/rcs.py) the sampler's generator is re-seeded from the same key before each
draw, so RCS draws (class, image, re-crops) are also a function of the key.

Two loops keep their own draws, because this stream would change their results: pre-training (``pretrain.py``:
whole object pictures from an in-memory tensor, indices and flips from a torch generator seeded with
``seed·1000003 + step``, which the command recorded in the shipped weights reproduces bit for bit) and STEGO
(``unsupervised/stego.py``: no crops, distinct images of precomputed features, drawn from the one generator that
also draws the kNN partners, the sampled points and the random pairings).
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["CropStream", "BatchKeys", "collate_crops", "crop_loader"]


class CropStream(torch.utils.data.Dataset):
    """Item ``(t, k)`` = crop ``k`` of iteration ``t`` of ``dataset``, drawn from ``default_rng([seed, stream, t, k])``.

    ``dataset`` must offer ``get(index, rng=...)`` (every dataset of ``daformer_edu.data`` does: it crops and
    flips with that generator). ``sampler``: a ``RareClassSampler`` that picks the image (and re-crops for its
    class) instead of a uniform index. Each item carries ``"rcs_class"``: the class RCS drew, −1 without RCS.

    Taught in: notebooks/09_full_uda.ipynb
    """

    def __init__(self, dataset, seed: int, stream: int, sampler=None):
        self.dataset, self.seed, self.stream, self.sampler = dataset, seed, stream, sampler

    def __len__(self) -> int:  # keys are (t, k); the length is never used for sampling
        return len(self.dataset)

    def rng(self, t: int, k: int) -> np.random.Generator:
        """The generator of crop ``k`` of iteration ``t``."""
        return np.random.default_rng([self.seed, self.stream, t, k])

    def __getitem__(self, key: tuple[int, int]) -> dict:
        t, k = key
        rng = self.rng(t, k)
        if self.sampler is None:
            item = self.dataset.get(int(rng.integers(len(self.dataset))), rng=rng)
            item["rcs_class"] = -1
        else:
            self.sampler.generator.manual_seed(int(rng.integers(2**62)))
            drawn = self.sampler.sample(lambda i: self.dataset.get(i, rng=rng))
            item = drawn.item
            item["rcs_class"] = drawn.c
        return item

    def batch(self, t: int, batch_size: int, rank: int = 0) -> dict:
        """The collated batch of iteration ``t`` (slots ``rank·B … rank·B + B − 1``), as a loader gives it."""
        return collate_crops([self[key] for key in BatchKeys.keys(t, batch_size, rank)])


class BatchKeys(torch.utils.data.Sampler):
    """Yields the keys of one batch per iteration, ``[(t, rank·B + b) for b < B]``, for t = start … end − 1.

    Taught in: notebooks/09_full_uda.ipynb
    """

    def __init__(self, start: int, end: int, batch_size: int, rank: int = 0):
        self.start, self.end, self.batch_size, self.rank = start, end, batch_size, rank

    @staticmethod
    def keys(t: int, batch_size: int, rank: int = 0) -> list[tuple[int, int]]:
        """The keys of iteration ``t`` on ``rank``."""
        return [(t, rank * batch_size + b) for b in range(batch_size)]

    def __iter__(self):
        for t in range(self.start, self.end):
            yield self.keys(t, self.batch_size, self.rank)

    def __len__(self) -> int:
        return self.end - self.start


def collate_crops(items: list[dict]) -> dict:
    """Stack crops into a batch: ``image`` [B, 3, h, w], ``label`` [B, h, w] (when every crop has one),
    ``name`` (list), ``rcs_class`` [B].

    Taught in: notebooks/09_full_uda.ipynb
    """
    out = {
        "image": torch.stack([it["image"] for it in items]),
        "name": [it["name"] for it in items],
        "rcs_class": torch.tensor([it.get("rcs_class", -1) for it in items]),
    }
    if all("label" in it for it in items):
        out["label"] = torch.stack([it["label"] for it in items])
    return out


def crop_loader(
    stream: CropStream,
    start: int,
    end: int,
    batch_size: int,
    rank: int = 0,
    num_workers: int = 0,
    pin_memory: bool = False,
) -> torch.utils.data.DataLoader:
    """A DataLoader over iterations ``start … end − 1`` of ``stream`` (one batch per iteration).

    Its generator is private: making the loader draws nothing from torch's global RNG, or a resumed run would be
    one draw out of step with the uninterrupted one.

    Taught in: notebooks/09_full_uda.ipynb
    """
    return torch.utils.data.DataLoader(
        stream,
        batch_sampler=BatchKeys(start, end, batch_size, rank),
        num_workers=num_workers,
        collate_fn=collate_crops,
        pin_memory=pin_memory,
        persistent_workers=False,
        generator=torch.Generator().manual_seed(stream.seed),
    )
