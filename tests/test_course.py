"""The course: template, exercises with hidden solutions, the student edition, measured times.

- ``student_edition`` / ``solutions_edition`` / ``notebook_time`` on a small notebook built here, with
  numbers worked out by hand;
- every committed notebook follows the template and carries 2–4 exercises (stub → solution → self-check)
  and 3–5 check-your-understanding questions with answers;
- every notebook's ``**Time:**`` line is the one its committed run measures (drift is caught);
- the student edition of each notebook, executed: exactly the self-check cells fail, each with the stub's
  ``NotImplementedError``; the committed edition (with solutions) runs clean under nbval.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from daformer_edu import course

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _cell(kind, source, tags=(), seconds=None):
    cell = {"cell_type": kind, "metadata": {"tags": list(tags)} if tags else {}, "source": source}
    if kind == "code":
        cell.update(outputs=[{"output_type": "stream", "name": "stdout", "text": "x\n"}], execution_count=1)
        if seconds is not None:
            cell["metadata"]["execution"] = {"iopub.execute_input": "2026-12-01T10:00:00.000000Z",
                                             "shell.execute_reply": f"2026-12-01T10:00:{seconds:09.6f}Z"}
    return cell


def _toy():
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {"widgets": {"state": {}}}, "cells": [
        _cell("markdown", "# 99 · Toy\n\n**Time:** old"),  # words: 99, Toy (the Time line is not counted)
        _cell("code", "import math\n# a comment\nx = 1\n", seconds=1.5),                     # 2 lines
        _cell("code", "def my_f(x):\n    raise NotImplementedError\n", [course.EXERCISE], 0.25),  # 2 lines
        _cell("code", "def my_f(x):\n    return x + 1\n", [course.SOLUTION], 0.25),           # 2 lines
        _cell("code", "compare('f', my_f(1), 2)\n", [course.SELF_CHECK], 2.0),               # 1 line
        _cell("markdown", "1. Why?", [course.QUESTION]),                                       # 2 words (1, Why)
        _cell("markdown", "<details><summary>Answer</summary>Because.</details>", [course.SOLUTION]),  # 2 words
    ]}


def test_student_edition_drops_solutions_and_outputs():
    nb = _toy()
    student = course.student_edition(nb)
    assert [c["source"] for c in student["cells"]] == [nb["cells"][i]["source"] for i in (0, 1, 2, 4, 5)]
    code = [c for c in student["cells"] if c["cell_type"] == "code"]
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in code)
    assert "widgets" not in student["metadata"]
    assert len(nb["cells"]) == 7 and nb["cells"][1]["outputs"], "the input notebook must not be modified"


def test_solutions_edition_keeps_title_and_tagged_cells_only():
    nb = _toy()
    sol = course.solutions_edition(nb)
    assert [c["source"] for c in sol["cells"]] == [nb["cells"][i]["source"] for i in (0, 2, 3, 4, 5, 6)]


def test_notebook_time_by_hand():
    t = course.notebook_time(_toy())
    # words: "99 Toy" = 2 (the Time line is not counted), "1 Why" = 2, "Answer Because" = 2 (tags stripped) -> 6
    # code lines (comments and blanks skipped): 2 + 2 + 2 + 1 = 7
    assert (t.words, t.code_lines) == (6, 7)
    assert t.running_s == pytest.approx(1.5 + 0.25 + 0.25 + 2.0)
    assert t.reading_min == 1  # ceil(6/180 + 7/20) = ceil(0.38)
    assert "running ≈ 4 s" in course.format_time_line(t)


def test_notebook_time_needs_an_executed_notebook():
    nb = _toy()
    del nb["cells"][1]["metadata"]["execution"]
    with pytest.raises(ValueError, match="code cell 1 has no execution record"):
        course.notebook_time(nb)


def test_command_line_writes_both_editions_and_stamps_times(tmp_path):
    src = tmp_path / "nb"
    src.mkdir()
    (src / "99_toy.ipynb").write_text(json.dumps(_toy()))
    assert course.main(["student", str(tmp_path / "s"), "--notebooks", str(src)]) == 0
    assert course.main(["solutions", str(tmp_path / "o"), "--notebooks", str(src)]) == 0
    assert len(json.loads((tmp_path / "s" / "99_toy.ipynb").read_text())["cells"]) == 5
    assert len(json.loads((tmp_path / "o" / "99_toy.solutions.ipynb").read_text())["cells"]) == 6
    assert course.main(["times", "--check", "--notebooks", str(src)]) == 1  # "**Time:** old" is stale
    assert course.main(["times", "--notebooks", str(src)]) == 0
    assert course.main(["times", "--check", "--notebooks", str(src)]) == 0
    first = json.loads((src / "99_toy.ipynb").read_text())["cells"][0]["source"]
    assert first.startswith("# 99 · Toy\n\n**Time:** reading ≈ 1 min")
    with pytest.raises(FileNotFoundError, match="no notebooks"):
        course.main(["student", str(tmp_path / "x"), "--notebooks", str(tmp_path / "empty")])


# -- the committed notebooks ----------------------------------------------------------------------------
def _nb(path):
    return json.loads(path.read_text())


def _src(cell):
    return "".join(cell["source"])


def _tags(cell):
    return cell.get("metadata", {}).get("tags", [])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_template(path):
    cells = _nb(path)["cells"]
    first = _src(cells[0])
    assert first.startswith(f"# {path.name[:2]} · "), f"{path.name}: the first cell starts with '# NN · Title'"
    missing = [f for f in course.OPENING_FIELDS if f not in first]
    assert not missing, f"{path.name}: the opening cell lacks {missing}"
    headings = [line.strip() for c in cells if c["cell_type"] == "markdown"
                for line in _src(c).splitlines() if line.startswith("## ")]
    assert tuple(h for h in headings[-3:]) == course.CLOSING_SECTIONS, (
        f"{path.name}: the last three sections must be {course.CLOSING_SECTIONS}, found {headings[-3:]}")
    refs = _src([c for c in cells if c["cell_type"] == "markdown" and "## References" in _src(c)][-1])
    assert re.search(r"https://arxiv\.org/abs/\d{4}\.\d{4,5}", refs), f"{path.name}: References need arXiv links"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_exercises_and_questions(path):
    cells = _nb(path)["cells"]
    exercises = [i for i, c in enumerate(cells) if course.EXERCISE in _tags(c) and c["cell_type"] == "code"]
    assert 2 <= len(exercises) <= 4, f"{path.name}: {len(exercises)} exercise stubs, the course wants 2–4"
    for i in exercises:
        assert "raise NotImplementedError" in _src(cells[i]), f"{path.name} cell {i}: a stub raises NotImplementedError"
        assert course.SOLUTION in _tags(cells[i + 1]) and cells[i + 1]["cell_type"] == "code", (
            f"{path.name} cell {i}: the next cell is its solution (code, tagged 'solution')")
        after = [c for c in cells[i + 2:] if c["cell_type"] == "code"]
        assert after and course.SELF_CHECK in _tags(after[0]) and "compare(" in _src(after[0]), (
            f"{path.name} cell {i}: the next code cell after the solution is a self-check calling compare(...)")
        assert re.search(r"^\s*assert\b", _src(after[0]), re.MULTILINE), (
            f"{path.name} cell {i}: the self-check must assert compare's verdict, so a wrong answer (or a wrong "
            "solution in the committed notebook) fails instead of only printing DIFFERENT")
    questions = [c for c in cells if course.QUESTION in _tags(c)]
    n = sum(len(re.findall(r"^\d+\. ", _src(c), re.MULTILINE)) for c in questions)
    assert 3 <= n <= 5, f"{path.name}: {n} check-your-understanding questions, the course wants 3–5"
    for c in questions:
        k = cells.index(c)
        answer = cells[k + 1]
        assert course.SOLUTION in _tags(answer) and "<details>" in _src(answer), (
            f"{path.name}: the cell after the questions holds the answers, tagged 'solution', in <details>")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_time_line_is_the_measured_one(path):
    nb = _nb(path)
    stated = course.TIME_LINE.search(_src(nb["cells"][0]))
    assert stated, f"{path.name}: no **Time:** line"
    measured = course.format_time_line(course.notebook_time(nb))
    assert stated.group(0) == measured, (
        f"{path.name}: the Time line is not the committed run's; run `python -m daformer_edu.course times`\n"
        f"  stated:   {stated.group(0)}\n  measured: {measured}")


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_student_edition_fails_exactly_at_the_self_checks(path, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    student = course.student_edition(_nb(path))
    nb = nbformat.reads(json.dumps(student), as_version=4)
    env_note = os.environ.get("DAFORMER_EDU_AUTO_PRESET")
    assert env_note == "smoke", "tests/conftest.py sets the smoke preset for notebook 09"
    client = nbclient.NotebookClient(nb, timeout=900, kernel_name="python3", allow_errors=True,
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    failed = {i for i, c in enumerate(nb.cells) if c.cell_type == "code"
              and any(o.get("output_type") == "error" for o in c.get("outputs", []))}
    checks = {i for i, c in enumerate(nb.cells) if course.SELF_CHECK in c.get("metadata", {}).get("tags", [])}
    assert failed == checks, (f"{path.name}: student edition failed at cells {sorted(failed)}, "
                              f"self-checks are {sorted(checks)}")
    for i in checks:
        errs = [o for o in nb.cells[i].outputs if o.get("output_type") == "error"]
        assert errs[0]["ename"] == "NotImplementedError", f"{path.name} cell {i}: {errs[0]['ename']}"


# -- prose that matches its outputs ----------------------------------------------------------------------
# A number with a unit of measurement in the prose (seconds, minutes, %, mIoU, points, ×): where it quotes a
# run of this notebook it must be read from that run, so it must appear in the notebook's outputs. A cell
# that quotes a paper or a record file (the number is not this notebook's) is tagged 'quotes' and names
# its source.
MEASURED = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s?(?:s|ms|min|minutes|seconds|mIoU|%|points?|×)(?!\w)")
QUOTES = "quotes"


def _outputs_text(cells) -> str:
    parts = []
    for c in cells:
        for o in c.get("outputs", []):
            parts.append("".join(o.get("text", "")))
            for kind in ("text/plain", "text/markdown", "text/html"):
                parts.append("".join(o.get("data", {}).get(kind, "")))
    return "\n".join(parts)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_prose_numbers_are_read_from_outputs(path):
    cells = _nb(path)["cells"]
    outputs = _outputs_text(cells)
    typed = []
    for i, c in enumerate(cells):
        if c["cell_type"] != "markdown" or QUOTES in _tags(c) or i == 0:  # cell 0: the measured Time line
            continue
        text = re.sub(r"\$[^$]*\$", " ", _src(c))  # maths is worked by hand, not measured
        typed += [(i, m.group(0)) for m in MEASURED.finditer(text) if m.group(1) not in outputs]
    assert not typed, (f"{path.name}: prose quotes numbers no output of this notebook prints {typed}: print them "
                       f"from the run (and quote the printout), or tag the cell '{QUOTES}' and name the source")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_stderr_noise_in_committed_outputs(path):
    noise = [(i, "".join(o.get("text", ""))[:80]) for i, c in enumerate(_nb(path)["cells"])
             for o in c.get("outputs", []) if o.get("name") == "stderr"
             and not re.search(r"\d+%\|", "".join(o.get("text", "")))]  # progress bars are fine
    assert not noise, f"{path.name}: stderr in committed outputs {noise}: silence it at the source or explain it"


def test_readme_quotes_the_main_jobs_measured_time():
    """The README's "about N min" for the main command is notebook 09's measured running time (its Time line)."""
    readme = (ROOT / "README.md").read_text()
    t = course.notebook_time(_nb(ROOT / "notebooks" / "09_full_uda.ipynb"))
    m = re.search(r"the main job takes about (\d+) min", readme)
    assert m, "README: the sentence 'the main job takes about N min' is gone"
    assert int(m.group(1)) == round(t.running_s / 60), (
        f"README says about {m.group(1)} min for the main job; notebook 09's committed run took {t.running_s:.0f} s")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_cell_has_an_id(path):
    """nbformat 4.5 cells carry an ``id`` (a cell added by hand without one is a future nbformat error)."""
    missing = [i for i, c in enumerate(_nb(path)["cells"]) if "id" not in c]
    assert not missing, f"{path.name}: cells {missing} have no id: run nbformat.validator.normalize on the notebook"
