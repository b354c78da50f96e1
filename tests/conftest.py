"""Shared test setup: a non-interactive plot backend, quiet progress bars, deterministic torch, auto = smoke."""

import os

os.environ.setdefault("TQDM_DISABLE", "1")
# preset="auto" resolves to this (daformer_edu.train.resolve_auto_preset): notebook 09 is committed with
# preset = "auto" — the real run for a person with papermill — and CI executes it with the seconds-long smoke preset.
os.environ.setdefault("DAFORMER_EDU_AUTO_PRESET", "smoke")

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402


@pytest.fixture(autouse=True)
def _seed_and_close_figures():
    torch.manual_seed(0)
    yield
    plt.close("all")
