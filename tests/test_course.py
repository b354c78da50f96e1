"""The course: template, exercises with hidden solutions, experiments, the editions, the grader, measured times.

- ``student_edition`` / ``solutions_edition`` / ``notebook_time`` on a small notebook built here, with
  numbers worked out by hand;
- every committed notebook follows the template and carries 2–4 exercises (stub → solution → self-check; the
  stub's ``NotImplementedError`` message short and naming its exercise), 3–5 check-your-understanding questions
  with answers, and (notebooks 02–09) at least one experiment (text → code → outcome in ``<details>``);
- every notebook's ``**Time:**`` line is the one its committed run measures (drift is caught);
- the student edition of each notebook, executed: exactly the self-check cells fail, each with the stub's
  ``NotImplementedError``, and the experiments run; the committed edition (with solutions) runs clean under nbval;
- the grader, on a student edition built here: one exercise solved → exactly that one passes; a submission
  with a syntax error, one whose kernel dies, one that runs out of time, one that cannot be read → rows with
  ``passed=false`` and the reason, nothing raised.

Each structure check is a function that returns its findings, shown passing and failing on notebooks built here
before it is run on the committed ones.
"""

from __future__ import annotations

import ast
import csv
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
            cell["metadata"]["execution"] = {
                "iopub.execute_input": "2026-12-01T10:00:00.000000Z",
                "shell.execute_reply": f"2026-12-01T10:00:{seconds:09.6f}Z",
            }
    return cell


def _toy():
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"widgets": {"state": {}}},
        "cells": [
            _cell("markdown", "# 99 · Toy\n\n**Time:** old"),  # words: 99, Toy (the Time line is not counted)
            _cell("code", "import math\n# a comment\nx = 1\n", seconds=1.5),  # 2 lines
            _cell(
                "code", 'def my_f(x):\n    raise NotImplementedError("Exercise 1: add one")\n', [course.EXERCISE], 0.25
            ),  # 2 lines
            _cell("code", "def my_f(x):\n    return x + 1\n", [course.SOLUTION], 0.25),  # 2 lines
            _cell("code", "compare('f', my_f(1), 2)\n", [course.SELF_CHECK], 2.0),  # 1 line
            _cell("markdown", "1. Why?", [course.QUESTION]),  # 2 words (1, Why)
            _cell("markdown", "<details><summary>Answer</summary>Because.</details>", [course.SOLUTION]),  # 2 words
            _cell("markdown", "Predict, then run.", [course.EXPERIMENT]),  # 3 words
            _cell("code", "print(x)\n", [course.EXPERIMENT], 1.0),  # 1 line
            _cell("markdown", "<details>It prints 1.</details>", [course.SOLUTION]),  # 3 words (It prints 1)
        ],
    }


def test_student_edition_drops_the_exercises_answers_and_outputs():
    nb = _toy()
    student = course.student_edition(nb)
    assert [c["source"] for c in student["cells"]] == [nb["cells"][i]["source"] for i in (0, 1, 2, 4, 5, 6, 7, 8, 9)]
    code = [c for c in student["cells"] if c["cell_type"] == "code"]
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in code)
    assert "widgets" not in student["metadata"]
    assert len(nb["cells"]) == 10 and nb["cells"][1]["outputs"], "the input notebook must not be modified"


def test_student_edition_without_answers_drops_every_solution_cell():
    nb = _toy()
    lab = course.student_edition(nb, answers=False)
    assert [c["source"] for c in lab["cells"]] == [nb["cells"][i]["source"] for i in (0, 1, 2, 4, 5, 7, 8)]


def test_solutions_edition_keeps_title_and_tagged_cells_only():
    nb = _toy()
    sol = course.solutions_edition(nb)
    assert [c["source"] for c in sol["cells"]] == [nb["cells"][i]["source"] for i in (0, 2, 3, 4, 5, 6, 7, 8, 9)]


def test_notebook_time_by_hand():
    t = course.notebook_time(_toy())
    # words: "99 Toy" = 2 (the Time line is not counted), "1 Why" = 2, "Answer Because" = 2 (tags stripped),
    # "Predict then run" = 3, "It prints 1" = 3 -> 12
    # code lines (comments and blanks skipped): 2 + 2 + 2 + 1 + 1 = 8
    assert (t.words, t.code_lines) == (12, 8)
    assert t.running_s == pytest.approx(1.5 + 0.25 + 0.25 + 2.0 + 1.0)
    assert t.reading_min == 1  # ceil(12/180 + 8/20) = ceil(0.47)
    assert "running ≈ 5 s" in course.format_time_line(t)


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
    assert course.main(["student", str(tmp_path / "lab"), "--without-answers", "--notebooks", str(src)]) == 0
    assert course.main(["solutions", str(tmp_path / "o"), "--notebooks", str(src)]) == 0
    assert len(json.loads((tmp_path / "s" / "99_toy.ipynb").read_text())["cells"]) == 9
    assert len(json.loads((tmp_path / "lab" / "99_toy.ipynb").read_text())["cells"]) == 7
    assert len(json.loads((tmp_path / "o" / "99_toy.solutions.ipynb").read_text())["cells"]) == 9
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
    headings = [
        line.strip()
        for c in cells
        if c["cell_type"] == "markdown"
        for line in _src(c).splitlines()
        if line.startswith("## ")
    ]
    assert tuple(h for h in headings[-3:]) == course.CLOSING_SECTIONS, (
        f"{path.name}: the last three sections must be {course.CLOSING_SECTIONS}, found {headings[-3:]}"
    )
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
            f"{path.name} cell {i}: the next cell is its solution (code, tagged 'solution')"
        )
        after = [c for c in cells[i + 2 :] if c["cell_type"] == "code"]
        assert after and course.SELF_CHECK in _tags(after[0]) and "compare(" in _src(after[0]), (
            f"{path.name} cell {i}: the next code cell after the solution is a self-check calling compare(...)"
        )
        assert re.search(r"^\s*assert\b", _src(after[0]), re.MULTILINE), (
            f"{path.name} cell {i}: the self-check must assert compare's verdict, so a wrong answer (or a wrong "
            "solution in the committed notebook) fails instead of only printing DIFFERENT"
        )
    questions = [c for c in cells if course.QUESTION in _tags(c)]
    n = sum(len(re.findall(r"^\d+\. ", _src(c), re.MULTILINE)) for c in questions)
    assert 3 <= n <= 5, f"{path.name}: {n} check-your-understanding questions, the course wants 3–5"
    for c in questions:
        k = cells.index(c)
        answer = cells[k + 1]
        assert course.SOLUTION in _tags(answer) and "<details>" in _src(answer), (
            f"{path.name}: the cell after the questions holds the answers, tagged 'solution', in <details>"
        )


# -- the structure checks: functions that return their findings, shown passing and failing first ------------
STUB_MESSAGE_MAX = 60  # characters: "Exercise 2: alpha = min(1 - 1/(t+1), alpha_max)" fits, a recipe does not
EXPERIMENT_NOTEBOOKS = [p for p in NOTEBOOKS if 2 <= int(p.name[:2]) <= 9]


def stub_problems(cells) -> list[str]:
    """Each stub's ``raise NotImplementedError("…")``: a plain string of at most 60 characters naming
    "Exercise" (the hint belongs in the exercise's text, not in a traceback)."""
    out = []
    for i, c in enumerate(cells):
        if c["cell_type"] != "code" or course.EXERCISE not in _tags(c):
            continue
        try:
            tree = ast.parse(_src(c))
        except SyntaxError as e:
            out.append(f"cell {i}: the stub does not parse ({e.msg})")
            continue
        raises = [
            n.exc
            for n in ast.walk(tree)
            if isinstance(n, ast.Raise)
            and isinstance(n.exc, ast.Call)
            and getattr(n.exc.func, "id", None) == "NotImplementedError"
        ]
        if not raises:
            out.append(f'cell {i}: the stub has no raise NotImplementedError("Exercise N: …")')
        for call in raises:
            arg = call.args[0] if call.args else None
            if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
                out.append(f"cell {i}: NotImplementedError's message is not a plain string")
            elif len(arg.value) > STUB_MESSAGE_MAX or "Exercise" not in arg.value:
                out.append(
                    f"cell {i}: NotImplementedError({arg.value!r}) has {len(arg.value)} characters; "
                    f"at most {STUB_MESSAGE_MAX}, naming 'Exercise'"
                )
    return out


def experiment_problems(cells) -> tuple[int, list[str]]:
    """(complete experiments, problems): an experiment is a markdown cell tagged ``experiment``, then one or
    more code cells tagged ``experiment``, then a markdown cell tagged ``solution`` with ``<details>``."""

    def is_(c, kind, tag):
        return c["cell_type"] == kind and tag in _tags(c)

    done, out = 0, []
    for i, c in enumerate(cells):
        if is_(c, "code", course.EXPERIMENT) and not (i and course.EXPERIMENT in _tags(cells[i - 1])):
            out.append(f"cell {i}: an experiment's code follows its text (a markdown cell tagged 'experiment')")
        if not is_(c, "markdown", course.EXPERIMENT):
            continue
        j = i + 1
        while j < len(cells) and is_(cells[j], "code", course.EXPERIMENT):
            j += 1
        if j == i + 1:
            out.append(f"cell {i}: the experiment's text is not followed by its code (a code cell tagged 'experiment')")
        elif j == len(cells) or not (is_(cells[j], "markdown", course.SOLUTION) and "<details>" in _src(cells[j])):
            out.append(
                f"cell {j}: after the experiment's code comes its outcome (markdown tagged 'solution', in <details>)"
            )
        else:
            done += 1
    return done, out


def student_run_problems(cells) -> list[str]:
    """On an executed student edition: the cells that failed must be exactly the self-checks, each with the
    stub's ``NotImplementedError``; an experiment's code must run."""
    failed = {
        i: next(o["ename"] for o in c.get("outputs", []) if o.get("output_type") == "error")
        for i, c in enumerate(cells)
        if c["cell_type"] == "code" and any(o.get("output_type") == "error" for o in c.get("outputs", []))
    }
    checks = {i for i, c in enumerate(cells) if course.SELF_CHECK in _tags(c)}
    out = []
    for i in sorted(set(failed) | checks):
        if i not in checks:
            what = "an experiment's code" if course.EXPERIMENT in _tags(cells[i]) else "a cell that is no self-check"
            out.append(f"cell {i}: {what} fails ({failed[i]}) in the student edition")
        elif i not in failed:
            out.append(f"cell {i}: the self-check passes without a solution")
        elif failed[i] != "NotImplementedError":
            out.append(f"cell {i}: the self-check fails with {failed[i]}, not the stub's NotImplementedError")
    return out


def test_stub_check_passes_and_fails():
    cells = _toy()["cells"]
    assert stub_problems(cells) == []
    cells[2]["source"] = 'def my_f(x):\n    raise NotImplementedError("Exercise 1: ' + "x" * 48 + '")'  # 60
    assert stub_problems(cells) == []
    for source, found in [
        ('def my_f(x):\n    raise NotImplementedError("Exercise 1: ' + "x" * 49 + '")', "at most 60"),  # 61
        (
            'def my_f(x):\n    raise NotImplementedError("Exercise 1: add one to x, then return x "\n'
            '                              "as an integer, not as a float")',
            "has 69 characters",
        ),
        ('def my_f(x):\n    raise NotImplementedError("add one")', "naming 'Exercise'"),
        ('def my_f(x):\n    raise NotImplementedError(f"Exercise {1}")', "not a plain string"),
        ("def my_f(x):\n    raise NotImplementedError", "no raise NotImplementedError"),
        ('def my_f(x):\n    raise NotImplementedError("Exercise 1"', "does not parse"),
    ]:
        cells[2]["source"] = source
        problems = stub_problems(cells)
        assert len(problems) == 1 and found in problems[0] and problems[0].startswith("cell 2:"), (source, problems)


def test_experiment_check_passes_and_fails():
    cells = _toy()["cells"]
    assert experiment_problems(cells) == (1, [])
    assert experiment_problems(cells[:7]) == (0, [])  # no experiment: nothing wrong, none counted
    two_code_cells = cells[:9] + [_cell("code", "print(2)", [course.EXPERIMENT])] + cells[9:]
    assert experiment_problems(two_code_cells) == (1, [])
    no_outcome = cells[:9] + [_cell("markdown", "It prints 1.", [course.SOLUTION])]  # not in <details>
    assert experiment_problems(no_outcome) == (
        0,
        ["cell 9: after the experiment's code comes its outcome (markdown tagged 'solution', in <details>)"],
    )
    assert experiment_problems(cells[:9])[0] == 0  # the outcome is missing
    no_code = cells[:8] + cells[9:]
    assert experiment_problems(no_code) == (
        0,
        ["cell 7: the experiment's text is not followed by its code (a code cell tagged 'experiment')"],
    )
    orphan = cells[:7] + cells[8:]
    assert experiment_problems(orphan) == (
        0,
        ["cell 7: an experiment's code follows its text (a markdown cell tagged 'experiment')"],
    )


def _ran(cell, ename=None):
    """A copy of ``cell`` as if executed: with an error output ``ename``, or without output."""
    error = {"output_type": "error", "ename": ename, "evalue": "", "traceback": []}
    return {**cell, "outputs": [error] if ename else []}


def test_student_run_check_passes_and_fails():
    student = course.student_edition(_toy())["cells"]  # 0 title, 1 code, 2 stub, 3 check, …, 7 experiment code
    good = [_ran(c, "NotImplementedError" if course.SELF_CHECK in _tags(c) else None) for c in student]
    assert student_run_problems(good) == []
    broken_experiment = good[:7] + [_ran(good[7], "ZeroDivisionError")] + good[8:]
    assert student_run_problems(broken_experiment) == [
        "cell 7: an experiment's code fails (ZeroDivisionError) in the student edition"
    ]
    broken_setup = good[:1] + [_ran(good[1], "NameError")] + good[2:]
    assert student_run_problems(broken_setup) == [
        "cell 1: a cell that is no self-check fails (NameError) in the student edition"
    ]
    solved = good[:3] + [_ran(good[3])] + good[4:]
    assert student_run_problems(solved) == ["cell 3: the self-check passes without a solution"]
    wrong = good[:3] + [_ran(good[3], "NameError")] + good[4:]
    assert student_run_problems(wrong) == [
        "cell 3: the self-check fails with NameError, not the stub's NotImplementedError"
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stub_messages_are_short_and_name_the_exercise(path):
    problems = stub_problems(_nb(path)["cells"])
    assert not problems, f"{path.name}: " + "; ".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_experiments_are_text_code_outcome(path):
    done, problems = experiment_problems(_nb(path)["cells"])
    assert not problems, f"{path.name}: " + "; ".join(problems)
    if path in EXPERIMENT_NOTEBOOKS:
        assert done >= 1, f"{path.name}: notebooks 02–09 hold at least one experiment (text → code → outcome)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_time_line_is_the_measured_one(path):
    nb = _nb(path)
    stated = course.TIME_LINE.search(_src(nb["cells"][0]))
    assert stated, f"{path.name}: no **Time:** line"
    measured = course.format_time_line(course.notebook_time(nb))
    assert stated.group(0) == measured, (
        f"{path.name}: the Time line is not the committed run's; run `python -m daformer_edu.course times`\n"
        f"  stated:   {stated.group(0)}\n  measured: {measured}"
    )


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_student_edition_fails_exactly_at_the_self_checks(path, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("nbclient")
    student = course.student_edition(_nb(path))
    nb = nbformat.reads(json.dumps(student), as_version=4)
    env_note = os.environ.get("DAFORMER_EDU_AUTO_PRESET")
    assert env_note == "smoke", "tests/conftest.py sets the smoke preset for notebook 09"
    client = course.headless_client(nb, path.parent, timeout=900, allow_errors=True)
    client.execute()
    problems = student_run_problems(nb.cells)
    assert not problems, f"{path.name}: " + "; ".join(problems)


# -- the grader -----------------------------------------------------------------------------------------------
def _lab():
    """A small course notebook with two exercises, an experiment and a question (instructor's edition)."""
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
        "cells": [
            _cell("markdown", "# 98 · Lab"),
            _cell("code", "from pathlib import Path\n"),
            _cell(
                "code",
                'def my_double(x):\n    raise NotImplementedError("Exercise 1: return 2·x")\n',
                [course.EXERCISE],
            ),
            _cell("code", "def my_double(x):\n    return 2 * x\n", [course.SOLUTION]),
            _cell("code", 'print("my_double(3) =", my_double(3))\nassert my_double(3) == 6\n', [course.SELF_CHECK]),
            _cell("markdown", "Predict the output.", [course.EXPERIMENT]),
            _cell("code", "print(sum(range(4)))\n", [course.EXPERIMENT]),
            _cell("markdown", "<details>6: 0 + 1 + 2 + 3.</details>", [course.SOLUTION]),
            _cell(
                "code",
                'def my_square(x):\n    raise NotImplementedError("Exercise 2: return x·x")\n',
                [course.EXERCISE],
            ),
            _cell("code", "def my_square(x):\n    return x * x\n", [course.SOLUTION]),
            # reads a file beside the notebook: passes only if the grader runs the notebook in its own folder
            _cell("code", 'assert my_square(int(Path("four.txt").read_text())) == 16\n', [course.SELF_CHECK]),
            _cell("markdown", "1. Why?", [course.QUESTION]),
            _cell("markdown", "<details>Because.</details>", [course.SOLUTION]),
        ],
    }


def _submission(folder: Path, edit=None, name="lab.ipynb") -> Path:
    """The student edition of ``_lab()`` with exercise 2 solved in its stub (and ``edit(cells)`` applied)."""
    student = course.student_edition(_lab())
    cells = student["cells"]
    stub = next(c for c in cells if "my_square" in _src(c) and course.EXERCISE in _tags(c))
    stub["source"] = "def my_square(x):\n    return x * x\n"
    if edit:
        edit(cells)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "four.txt").write_text("4\n")
    course.write_notebook(student, folder / name)
    return folder / name


def _rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_find_exercises_names_each_stub_with_its_self_check():
    cells = course.student_edition(_lab())["cells"]
    assert course.find_exercises({"cells": cells}) == [
        course.Exercise("Exercise 1 (my_double)", 2, 3),
        course.Exercise("Exercise 2 (my_square)", 7, 8),
    ]
    no_stub = cells[:2] + cells[3:]  # a self-check whose stub was deleted: named by what it calls
    assert course.find_exercises({"cells": no_stub})[0] == course.Exercise("Exercise 1 (my_double)", None, 2)


def test_headless_client_runs_in_the_folder_without_the_output_widget_mimic(tmp_path):
    """The grader's and the student-edition test's client: no handler for widget comms (nbclient's Output-widget
    mimic left it waiting on an idle kernel at ``interact`` cells), the notebook's folder as working directory."""
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("nbclient")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import os; print(os.getcwd())")])
    client = course.headless_client(nb, tmp_path, timeout=60)
    assert client.comm_open_handlers == {}
    client.execute()
    assert nb.cells[0].outputs[0]["text"].strip() == str(tmp_path)


def test_grader_reports_unreadable_submissions_and_rejects_bad_arguments(tmp_path, capsys):
    (tmp_path / "garbage.ipynb").write_text("{not json")
    (tmp_path / "empty.ipynb").write_text(
        json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [_cell("markdown", "# no exercises")]})
    )
    out = tmp_path / "grades" / "g.csv"
    paths = [str(tmp_path / n) for n in ("garbage.ipynb", "missing.ipynb", "empty.ipynb")]
    assert course.main(["grade", *paths, "--out", str(out)]) == 0
    rows = _rows(out)
    assert [(r["notebook"], r["exercise"], r["passed"]) for r in rows] == [(p, "-", "false") for p in paths]
    assert rows[0]["message"].startswith("cannot be read: NotJSONError")
    assert rows[1]["message"].startswith("cannot be read: FileNotFoundError")
    assert rows[2]["message"].startswith("no exercises")
    for bad in (
        ["grade", "--out", str(out)],
        ["grade", paths[0]],
        ["grade", paths[0], "--out", str(out), "--timeout", "0"],
    ):
        with pytest.raises(SystemExit) as e:
            course.main(bad)
        assert e.value.code == 2, bad


@pytest.mark.slow
def test_grader_passes_exactly_the_solved_exercises(tmp_path, monkeypatch):
    sub = _submission(tmp_path / "alice")

    def instructors(*args, **kwargs):
        raise AssertionError("the grader read the instructor's notebooks")

    monkeypatch.setattr(course, "find_notebooks", instructors)
    monkeypatch.setattr(course, "default_notebooks_dir", instructors)

    def wrong_answer(cells):  # exercise 1 answered wrongly, with a helper of the student's own
        cells[2]["source"] = "def _twice(x):\n    return x + x\n\n\ndef my_double(x):\n    return _twice(x) + 1\n"

    bob = _submission(tmp_path / "bob", wrong_answer)
    monkeypatch.chdir(tmp_path)  # not the submissions' folder: the grader must run each in its own
    out = tmp_path / "grades.csv"
    assert course.main(["grade", str(sub), str(bob), "--out", str(out), "--timeout", "120"]) == 0
    assert _rows(out) == [
        {
            "notebook": str(sub),
            "exercise": "Exercise 1 (my_double)",
            "passed": "false",
            "message": "NotImplementedError: Exercise 1: return 2·x",
        },
        {"notebook": str(sub), "exercise": "Exercise 2 (my_square)", "passed": "true", "message": "ok"},
        {
            "notebook": str(bob),
            "exercise": "Exercise 1 (my_double)",
            "passed": "false",
            "message": "AssertionError (last printed: my_double(3) = 7)",
        },
        {"notebook": str(bob), "exercise": "Exercise 2 (my_square)", "passed": "true", "message": "ok"},
    ]


def _syntax_error(cells):
    cells[1]["source"] = "from pathlib import Path\nx = (\n"


def _kills_the_kernel(cells):
    cells[1]["source"] = "import os\nos._exit(1)\n"


def _sleeps(cells):
    cells[1]["source"] = "import time\ntime.sleep(60)\n"


@pytest.mark.slow
@pytest.mark.parametrize(
    "edit, timeout, message",
    [
        (
            _syntax_error,
            120,
            [
                "NotImplementedError: Exercise 1: return 2·x",
                "NameError: name 'Path' is not defined (first error: In [1]: SyntaxError: ",
            ],
        ),
        (_kills_the_kernel, 120, ["the kernel died in cell 2 of 11"] * 2),
        (_sleeps, 2, ["out of time: the notebook ran over 2 s in cell 2 of 11"] * 2),
    ],
    ids=["syntax-error", "kernel-dies", "time-out"],
)
def test_grader_reports_broken_submissions(tmp_path, edit, timeout, message):
    sub = _submission(tmp_path, edit)
    grades = course.grade_notebook(sub, timeout=timeout)
    assert [g.exercise for g in grades] == ["Exercise 1 (my_double)", "Exercise 2 (my_square)"]
    assert not any(g.passed for g in grades)
    for g, expected in zip(grades, message):
        assert g.message.startswith(expected), g.message


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
    assert not typed, (
        f"{path.name}: prose quotes numbers no output of this notebook prints {typed}: print them "
        f"from the run (and quote the printout), or tag the cell '{QUOTES}' and name the source"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_stderr_noise_in_committed_outputs(path):
    noise = [
        (i, "".join(o.get("text", ""))[:80])
        for i, c in enumerate(_nb(path)["cells"])
        for o in c.get("outputs", [])
        if o.get("name") == "stderr" and not re.search(r"\d+%\|", "".join(o.get("text", "")))
    ]  # progress bars are fine
    assert not noise, f"{path.name}: stderr in committed outputs {noise}: silence it at the source or explain it"


def test_readme_quotes_the_main_jobs_measured_time():
    """The README's "about N min" for the main command is notebook 09's measured running time (its Time line)."""
    readme = (ROOT / "README.md").read_text()
    t = course.notebook_time(_nb(ROOT / "notebooks" / "09_full_uda.ipynb"))
    m = re.search(r"the main job takes about (\d+) min", readme)
    assert m, "README: the sentence 'the main job takes about N min' is gone"
    assert int(m.group(1)) == round(t.running_s / 60), (
        f"README says about {m.group(1)} min for the main job; notebook 09's committed run took {t.running_s:.0f} s"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_cell_has_an_id(path):
    """nbformat 4.5 cells carry an ``id`` (a cell added by hand without one is a future nbformat error)."""
    missing = [i for i, c in enumerate(_nb(path)["cells"]) if "id" not in c]
    assert not missing, f"{path.name}: cells {missing} have no id: run nbformat.validator.normalize on the notebook"
