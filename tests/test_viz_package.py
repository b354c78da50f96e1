"""``daformer_edu.viz`` is a package of topic modules that re-exports every plot: the old import paths keep working."""

from __future__ import annotations

import importlib
import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest

import daformer_edu.viz as viz

SUBMODULES = ["common", "encoder", "decoder", "self_training", "sampling", "feature_distance", "runs", "siblings"]

# The public names of the single-file ``viz.py`` this package replaced; every one must stay importable.
FORMER_ALL = [
    "colorize",
    "overlay",
    "plot_domain_grid",
    "plot_segmentation",
    "plot_iou_bars",
    "plot_comparison_table",
    "format_comparison_table",
    "plot_class_legend",
    "plot_patch_footprints",
    "plot_token_grids",
    "plot_attention_cost",
    "plot_attention_map",
    "plot_stage_maps",
    "plot_receptive_fields",
    "plot_param_breakdown",
    "plot_training_curves",
    "plot_prediction_grid",
    "plot_pseudo_label_evolution",
    "plot_class_draws",
    "plot_pseudo_labels",
    "plot_classmix",
    "plot_image_row",
    "plot_schedule",
    "plot_rcs_probabilities",
    "plot_thing_mask",
    "plot_feature_distance",
    "plot_covariance_matrices",
    "plot_contrastive_samples",
    "plot_correlation_volume",
    "plot_shift_effect",
    "plot_cluster_maps",
    "plot_setting_table",
    "format_setting_table",
    "plot_image_grid",
    "plot_probe_scores",
]


def test_package_all_is_the_union_of_the_modules():
    mods = [importlib.import_module(f"daformer_edu.viz.{m}") for m in SUBMODULES]
    union = [n for mod in mods for n in mod.__all__]
    assert len(union) == len(set(union)), "a name is exported by two viz modules"
    assert sorted(viz.__all__) == sorted(union)
    assert set(FORMER_ALL) <= set(viz.__all__), "a name of the former viz.py is no longer exported"


@pytest.mark.parametrize("name", FORMER_ALL)
def test_former_names_import_from_the_package_and_live_in_one_topic_module(name):
    obj = getattr(viz, name)
    home = obj.__module__
    assert home.startswith("daformer_edu.viz.") and home.rsplit(".", 1)[1] in SUBMODULES
    assert name in importlib.import_module(home).__all__
    assert "Taught in:" in (inspect.getdoc(obj) or "")


@pytest.mark.parametrize("mod", SUBMODULES)
def test_each_module_says_which_notebooks_it_serves(mod):
    doc = importlib.import_module(f"daformer_edu.viz.{mod}").__doc__ or ""
    assert "notebooks/" in doc, f"daformer_edu.viz.{mod}: module docstring should name the notebooks it serves"


def test_submodules_import_from_another_directory(tmp_path: Path):
    """The installed package (``pip install -e .``) finds the subpackage, not only the repository checkout."""
    code = "import daformer_edu.viz.runs, daformer_edu.viz.siblings; from daformer_edu.viz import plot_iou_bars"
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
