"""Self-checks for students: compare your answer with the library's.

In the spirit of nn-zero-to-hero's ``cmp``: every notebook derives a piece by hand and then calls
``compare("name", theirs, reference)`` to see whether it matches the production code.

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
    """Print whether ``theirs`` equals ``reference`` exactly, closely, or not at all.

    Prints one line: ``name | exact: … | close: … | max diff: …`` and returns ``close``.
    Shapes must match; a shape mismatch is reported (not raised) so a student sees what went wrong.
    Tuples/lists are compared element by element.

    Taught in: notebooks/01_overlapping_patch_embed.ipynb
    """
    if isinstance(theirs, (tuple, list)) and isinstance(reference, (tuple, list)):
        if len(theirs) != len(reference):
            print(f"{name:<24} | length mismatch: {len(theirs)} vs {len(reference)}")
            return False
        return all([compare(f"{name}[{i}]", a, b, atol, rtol) for i, (a, b) in enumerate(zip(theirs, reference))])
    a, b = _as_tensor(theirs), _as_tensor(reference)
    if a.shape != b.shape:
        print(f"{name:<24} | shape mismatch: {tuple(a.shape)} vs {tuple(b.shape)}")
        return False
    exact = bool(torch.equal(a, b))
    if a.is_floating_point() or b.is_floating_point():
        a64, b64 = a.double(), b.double()
        close = bool(torch.allclose(a64, b64, atol=atol, rtol=rtol, equal_nan=True))
        maxdiff = (a64 - b64).abs().nan_to_num(0.0).max().item() if a.numel() else 0.0
    else:
        close = exact
        maxdiff = (a.long() - b.long()).abs().max().item() if a.numel() else 0
    print(f"{name:<24} | exact: {exact!s:<5} | close: {close!s:<5} | max diff: {maxdiff:.3g}")
    return close
