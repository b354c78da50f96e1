"""Which notebook cells strict ``pytest --nbval`` does NOT compare, and why.

``.ci/run`` runs every notebook with ``--nbval`` (strict): each code cell's outputs are compared with the
committed ones, after ``tests/nbval_sanitize.cfg`` (addresses, timings, progress bars). A cell whose first line
is ``# NBVAL_IGNORE_OUTPUT`` is still executed but its outputs are not compared. That is right only for output
that measures this machine (a timing) or comes out of a training run, and for an ipywidgets ``interact`` cell,
whose figure lands in the widget's Output area under Jupyter/nbconvert but in the cell under nbval. Adding a
marker must be a visible decision: this test lists every marked cell of notebooks 01–11 (read from the .ipynb
JSON) and requires the list to equal ``IGNORED`` below, one line of reason each.

It also guards the runner difference that made figures appear twice under nbval: nbval executes cells with
``store_history=False``, so IPython cannot see a trailing ``;`` and displays the last expression's value (a
Figure shown a second time, a ``False`` from ``compare``). Compared cells must therefore not end in a
``;``-silenced expression — end a plotting cell with ``plt.show()`` instead.
"""

from __future__ import annotations

import io
import json
import tokenize
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
MARKER = "# NBVAL_IGNORE_OUTPUT"

MEASUREMENT = "prints a time measured on this machine"
TRAINING = "prints the result of a training run"
WIDGET = "ipywidgets interact: its figure goes to the widget's Output under Jupyter, into the cell under nbval"

# (notebook, cell id) -> why its output is not compared.
IGNORED = {
    ("02_efficient_self_attention.ipynb", "75d01c1f"): MEASUREMENT + " (attention cost, measured)",
    ("02_efficient_self_attention.ipynb", "22bf420d"): MEASUREMENT + " (the notebook's running time)",
    ("02_efficient_self_attention.ipynb", "18f72819"): WIDGET,
    ("03_mix_ffn.ipynb", "3163a8c3"): MEASUREMENT + " (the notebook's running time)",
    ("04_fusion_decoder.ipynb", "ffd87c0e"): MEASUREMENT + " (the notebook's running time)",
    ("05_pseudo_label_weighting.ipynb", "43245c67"): TRAINING + " (200 steps of the tiny net, with its time)",
    ("05_pseudo_label_weighting.ipynb", "f0423a43"): TRAINING + " (05: the trained teacher's pixel accuracy)",
    ("05_pseudo_label_weighting.ipynb", "b3b1efd8"): TRAINING + " (05: q_T per image of the trained teacher)",
    ("05_pseudo_label_weighting.ipynb", "bd524fd0"): TRAINING + " (05: the trained teacher's accuracy above τ)",
    ("05_pseudo_label_weighting.ipynb", "e3fc5413"): TRAINING
    + " (05: q_T per image and per batch of the trained teacher)",
    ("05_pseudo_label_weighting.ipynb", "f9ef290b"): TRAINING + " (05: L_T of the trained student)",
    ("05_pseudo_label_weighting.ipynb", "e51cc0a1"): TRAINING + " (05: losses of a DACS step on the trained networks)",
    ("05_pseudo_label_weighting.ipynb", "aff3af2c"): WIDGET,
    ("05_pseudo_label_weighting.ipynb", "x05-exp1-run"): TRAINING
    + " (05: L_T of the trained student under three weightings)",
    ("06_rare_class_sampling.ipynb", "c2b97aff"): MEASUREMENT + " (the notebook's running time)",
    ("06_rare_class_sampling.ipynb", "6f40580a"): WIDGET,
    ("07_thing_mask_pooling.ipynb", "8fc10d3d"): WIDGET,
    ("08_feature_distance.ipynb", "4ba8e1a6"): TRAINING + " (08: linear probes on the random and the embedded encoder)",
    ("08_feature_distance.ipynb", "b0f2a2c5"): TRAINING + " (10 pretraining steps, with their time)",
    ("08_feature_distance.ipynb", "f1f50172"): TRAINING + " (8 segmentation steps, with their time)",
    # 09 runs with preset "auto": the committed outputs come from papermill's cpu-demo run (three 1,500-iteration runs),
    # CI executes it with the smoke preset (6 iterations), so everything printed from those runs differs by design.
    (
        "09_full_uda.ipynb",
        "ee8c33ea",
    ): "prints the preset 'auto' resolved to (committed: cpu-demo; under pytest: smoke)",
    ("09_full_uda.ipynb", "55cf685d"): TRAINING + " (09: a run killed and resumed)",
    ("09_full_uda.ipynb", "2406ecd9"): TRAINING + " (09: source-only, DAFormer, oracle, with their times)",
    ("09_full_uda.ipynb", "880c19db"): TRAINING + " (09: the runs' per-class IoU table)",
    ("09_full_uda.ipynb", "45f890ac"): TRAINING + " (09: the runs' comparison table and DAFormer − source-only)",
    ("09_full_uda.ipynb", "7d5fbaf2"): TRAINING + " (09: predictions of the trained models)",
    ("09_full_uda.ipynb", "d4213e54"): TRAINING
    + " (09: the teacher's pseudo-label snapshots, at the run's iterations)",
    ("09_full_uda.ipynb", "ffcef06b"): TRAINING + " (09: mIoU by hand of the last trained model; NaN classes vary)",
    ("09_full_uda.ipynb", "bb8e2926"): TRAINING + " (09: sliding window vs whole image on the trained model)",
    ("09_full_uda.ipynb", "be3d0523"): TRAINING + " (09: two iterations on the GTA/Cityscapes layouts)",
    ("09_full_uda.ipynb", "own-classes-train"): TRAINING + " (09: two iterations between two folder domains)",
    ("09_full_uda.ipynb", "3f783835"): TRAINING + " (09: thing cells per iteration of the DAFormer run)",
    ("09_full_uda.ipynb", "curve-facts"): TRAINING + " (09: where the runs' curves peak and end, q_T's rise)",
    ("09_full_uda.ipynb", "against-code"): TRAINING + " (09: the classes DAFormer makes worse in this run)",
    ("09_full_uda.ipynb", "paper-table"): TRAINING + " (09: this run's three numbers beside the paper's)",
    ("09_full_uda.ipynb", "exp1-code"): TRAINING + " (09: 20 iterations of the experiment on α_max)",
    ("10_domain_generalization.ipynb", "b48170f4"): TRAINING + " (10: source-only and BlindNet, with their times)",
    ("10_domain_generalization.ipynb", "b7c94c93"): TRAINING + " (10: their target IoU per class after 50 steps)",
    ("11_unsupervised_stego.ipynb", "21402360"): TRAINING + " (11: the STEGO head's losses, with its time)",
    ("11_unsupervised_stego.ipynb", "63e51dc6"): TRAINING + " (11: scores of the trained head's clusters)",
    ("11_unsupervised_stego.ipynb", "ac145c6c"): TRAINING + " (11: the linear probe trained on the codes)",
    ("11_unsupervised_stego.ipynb", "ad6c90fd"): TRAINING + " (11: the closing table holds this run's scores)",
}

# Compared cells that may end in a ';' (none: every plotting cell ends with plt.show()).
SEMICOLON_ENDINGS_ALLOWED: set[tuple[str, str]] = set()


def _code_cells():
    for path in sorted(NOTEBOOKS.glob("[01][0-9]_*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] == "code":
                yield path.name, cell["id"], "".join(cell["source"])


def _is_ignored(source: str) -> bool:
    return source.lstrip().startswith(MARKER)


def _ends_with_semicolon(source: str) -> bool:
    skip = (tokenize.ENDMARKER, tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT)
    if source.lstrip().startswith(("%", "!")):
        return False
    tokens = [t for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.type not in skip]
    return bool(tokens) and tokens[-1].string == ";"


def test_ignored_cells_are_exactly_the_allow_list():
    found = {(nb, cid) for nb, cid, src in _code_cells() if _is_ignored(src)}
    unexpected = sorted(found - IGNORED.keys())
    missing = sorted(IGNORED.keys() - found)
    assert not unexpected, (
        f"cells marked {MARKER} that tests/test_nbval_markers.py does not list: {unexpected}. "
        "Print the value in a stable form (rounded, or compare()'s verdict) instead, or add "
        "the cell to IGNORED with its reason if it measures this machine or a training run."
    )
    assert not missing, f"IGNORED lists cells that are not marked (or no longer exist): {missing}; remove them"


def test_marker_is_the_first_line_and_spelled_exactly():
    # nbval looks for the marker among the cell's comment lines; a typo silently compares (or a stray copy
    # in a string silently ignores). Keep it the first line so a reader sees it.
    for nb, cid, src in _code_cells():
        if "NBVAL" in src:
            assert src.startswith(MARKER + "\n"), f"{nb} cell {cid}: put exactly '{MARKER}' on the first line"


def test_reasons_are_one_line():
    for key, reason in IGNORED.items():
        assert reason.strip() and "\n" not in reason, key


def test_compared_cells_do_not_end_with_a_semicolon():
    offenders = sorted(
        (nb, cid)
        for nb, cid, src in _code_cells()
        if not _is_ignored(src) and _ends_with_semicolon(src) and (nb, cid) not in SEMICOLON_ENDINGS_ALLOWED
    )
    assert not offenders, (
        f"{offenders}: nbval runs cells with store_history=False, so a trailing ';' does not "
        "hide the last value there (a Figure is shown twice). End with plt.show() or assign."
    )


def test_most_code_cells_are_compared(capsys):
    cells = list(_code_cells())
    ignored = sum(_is_ignored(src) for _, _, src in cells)
    compared = len(cells) - ignored
    with capsys.disabled():
        print(f"\nstrict nbval: {compared} code cells compared, {ignored} ignored ({len(cells)} in notebooks 01–11)")
    assert ignored <= 0.15 * len(cells), f"{ignored} of {len(cells)} code cells ignored: too many to call it tested"


@pytest.mark.parametrize(
    "source, expected",
    [
        ("plot(x);", True),
        ("plot(x);   # a comment\n", True),
        ("plot(x)\nplt.show()", False),
        ("for i in range(3):\n    f(i);\nprint(1)", False),
        ("a = 'x;'", False),
    ],
)
def test_semicolon_detector(source, expected):
    assert _ends_with_semicolon(source) is expected
