"""Shared test setup: a non-interactive plot backend, quiet progress bars, deterministic torch."""
import os

os.environ.setdefault("TQDM_DISABLE", "1")

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
