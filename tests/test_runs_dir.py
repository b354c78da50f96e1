"""Runs started by the tests go to ``$DAFORMER_EDU_RUNS_DIR`` (a temporary folder the root conftest.py makes), not
into the checkout: notebook 09 under nbval used to leave its checkpoints in ``notebooks/runs/``."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NB09 = ROOT / "notebooks" / "09_full_uda.ipynb"


def test_runs_dir_is_a_temporary_folder_outside_the_checkout():
    runs = Path(os.environ["DAFORMER_EDU_RUNS_DIR"]).resolve()
    assert runs.is_dir(), f"$DAFORMER_EDU_RUNS_DIR={runs} does not exist"
    assert ROOT not in runs.parents and runs != ROOT, f"$DAFORMER_EDU_RUNS_DIR={runs} is inside the checkout {ROOT}"


def _status() -> set[str]:
    done = subprocess.run(
        ["git", "status", "--porcelain", "--ignored", "--untracked-files=all", "notebooks"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"not a git checkout ({done.stderr.strip()})")
    return set(done.stdout.splitlines())


@pytest.mark.slow
def test_notebook_09_writes_its_runs_under_the_runs_dir():
    """Notebook 09's parameters and set-up cells, run as nbval runs them (kernel in notebooks/, this environment):
    every run's ``out`` must lie under ``$DAFORMER_EDU_RUNS_DIR``, and then one smoke iteration writes nothing
    into the checkout."""
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(NB09, as_version=4)
    by_id = {c.get("id"): c for c in nb.cells}
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    setup = by_id["ee8c33ea"]  # "1 · Set-up": imports, makes `configs` from `out_dir`
    probe = nbformat.v4.new_code_cell(
        "import dataclasses, json\n"
        "one = Trainer(dataclasses.replace(configs[modes[0]], iterations=1, eval_interval=0, val_length=2,\n"
        "                                  checkpoint_interval=1, progress=False))\n"
        "one.fit()\n"
        "print(json.dumps({m: str(Path(c.out).resolve()) for m, c in configs.items()}))"
    )
    run = nbformat.v4.new_notebook(cells=[params, setup, probe], metadata=nb.metadata)
    before = _status()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    client = nbclient.NotebookClient(
        run, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NB09.parent)}}
    )
    client.execute(env=env)
    stdout = "".join(o["text"] for o in run.cells[-1].outputs if o.get("name") == "stdout")
    outs = json.loads(stdout.strip().splitlines()[-1])
    runs = Path(os.environ["DAFORMER_EDU_RUNS_DIR"]).resolve()
    for mode, out in outs.items():
        assert runs in Path(out).parents, f"notebook 09 writes the {mode} run to {out}, not under {runs}"
    assert (Path(outs[next(iter(outs))]) / "metrics.json").is_file(), "the one-iteration run wrote no metrics.json"
    assert _status() == before, f"running notebook 09's cells changed the checkout: {sorted(_status() - before)}"
