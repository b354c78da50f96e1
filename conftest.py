"""For every pytest run in this repository (``tests/`` and the notebooks under nbval): runs go to a temporary folder, and
``preset="auto"`` means ``smoke``.

Notebook 09 (and anything else that writes a training run) reads ``$DAFORMER_EDU_RUNS_DIR`` and writes its runs
there instead of ``runs/`` in the checkout; the kernels nbval starts inherit the variable. The folder is made
when pytest starts and removed when it ends (a ``smoke`` run of notebook 09 leaves checkpoints behind), unless
the variable was already set, in which case that folder is used and kept.
"""

import os
import shutil
import tempfile

# preset="auto" resolves to this (daformer_edu.train.resolve_auto_preset): notebook 09 is committed with
# preset = "auto" — the real run for a person with papermill — and pytest executes it with the seconds-long smoke
# preset, also when only notebooks are collected (`pytest --nbval notebooks/09_full_uda.ipynb`).
os.environ.setdefault("DAFORMER_EDU_AUTO_PRESET", "smoke")
os.environ.setdefault("TQDM_DISABLE", "1")

RUNS_DIR_ENV = "DAFORMER_EDU_RUNS_DIR"
_made_here: list[str] = []


def pytest_configure(config):
    if not os.environ.get(RUNS_DIR_ENV):
        os.environ[RUNS_DIR_ENV] = tempfile.mkdtemp(prefix="daformer_edu_runs_")
        _made_here.append(os.environ[RUNS_DIR_ENV])


def pytest_unconfigure(config):
    while _made_here:
        shutil.rmtree(_made_here.pop(), ignore_errors=True)
