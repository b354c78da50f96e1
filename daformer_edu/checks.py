"""Self-checks for students: compare your answer with the library's.

In the spirit of nn-zero-to-hero's ``cmp``: every notebook derives a piece by hand and then calls
``compare("name", theirs, reference)`` to see whether it matches the production code. The exercises of
every notebook (cells tagged ``exercise``) are checked the same way.

Taught in: notebooks/01_overlapping_patch_embed.ipynb
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["compare"]


def _as_tensor(x) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu()
    return torch.as_tensor(np.asarray(x))


def compare(name: str, theirs, reference, atol: float = 1e-5, rtol: float = 1e-4) -> bool:
    """Print in words whether ``theirs`` equals ``reference``; return True when it does.

    Equal means ``|theirs − ref| ≤ atol + rtol·|ref|`` for every element (``torch.allclose``'s rule), and exactly
    equal for integer and boolean tensors. One line, ``name | verdict``, where the verdict is one of

    - ``exact`` — integer or boolean tensors that are equal, or floats compared with ``atol=0, rtol=0`` that are
      bit-for-bit equal;
    - ``match within atol 1e-05 + rtol 0.0001·|ref|`` — floats equal up to the stated tolerance. Whether their
      last bits also agree depends on the CPU and the torch build, so the verdict does not say: the line reads
      the same on every machine;
    - ``DIFFERENT: …`` — how many elements are off and the largest difference (two significant digits), or NaNs
      in different places, or a shape or length mismatch (reported, not raised, so a student sees it).

    NaN counts as equal to NaN in the same place (e.g. the IoU of a class absent from both); the line then says
    how many NaNs there were. Tuples and lists are compared element by element.

    Taught in: notebooks/01_overlapping_patch_embed.ipynb
    """
    label = f"{name:<24} |"
    if isinstance(theirs, (tuple, list)) and isinstance(reference, (tuple, list)):
        if len(theirs) != len(reference):
            print(f"{label} DIFFERENT: length {len(theirs)} vs reference length {len(reference)}")
            return False
        return all([compare(f"{name}[{i}]", a, b, atol, rtol) for i, (a, b) in enumerate(zip(theirs, reference))])
    a, b = _as_tensor(theirs), _as_tensor(reference)
    if a.shape != b.shape:
        print(f"{label} DIFFERENT: shape {tuple(a.shape)} vs reference shape {tuple(b.shape)}")
        return False
    floating = a.is_floating_point() or b.is_floating_point()
    a64, b64 = (a.double(), b.double()) if floating else (a.long(), b.long())
    nan_a = torch.isnan(a64) if floating else torch.zeros_like(a64, dtype=torch.bool)
    nan_b = torch.isnan(b64) if floating else torch.zeros_like(b64, dtype=torch.bool)
    if not torch.equal(nan_a, nan_b):
        where = tuple(torch.nonzero(nan_a != nan_b)[0].tolist())
        print(
            f"{label} DIFFERENT: NaN in one and a number in the other at {int((nan_a != nan_b).sum())} "
            f"place(s), first at index {where}"
        )
        return False
    nans = int(nan_a.sum())
    note = f" ({nans} NaN in both, in the same places)" if nans else ""
    keep = ~nan_a
    diff = torch.where(a64 == b64, 0, (a64 - b64).abs())  # equal infinities differ by 0, not by inf − inf = NaN
    if not floating:
        if bool((diff == 0).all()):
            print(f"{label} exact")
            return True
        off = int((diff != 0).sum())
        where = tuple(torch.nonzero(diff)[0].tolist())
        print(
            f"{label} DIFFERENT: {off} of {a.numel()} elements differ, max diff {int(diff.max())}, "
            f"first at index {where}"
        )
        return False
    bad = (diff > atol + rtol * b64.abs()) & keep
    if not bool(bad.any()):
        verdict = "exact" if atol == 0 and rtol == 0 else f"match within atol {atol:g} + rtol {rtol:g}·|ref|"
        print(f"{label} {verdict}{note}")
        return True
    print(
        f"{label} DIFFERENT: {int(bad.sum())} of {a.numel()} elements off by more than "
        f"atol {atol:g} + rtol {rtol:g}·|ref|; largest difference {float(diff[keep].max()):.2g}"
    )
    return False
