"""The course around the notebooks: student and solution editions, a grader, the template, measured times.

Every notebook ``notebooks/NN_*.ipynb`` is committed *with* its solutions, so it runs end to end and CI
checks it. Cells carry Jupyter tags (cell metadata ``"tags"``) that say what they are:

==============  ======  ===========================================================================
tag             kind    what it holds
==============  ======  ===========================================================================
``exercise``    md      the task in words
``exercise``    code    a stub the student fills in: ``def my_…(…): raise NotImplementedError("Exercise N: …")``
``solution``    code    the instructor's answer to the stub just above (re-defines the same name)
``self-check``  code    ``compare(…)`` of the student's function against the library; it asserts the verdict
``experiment``  md      an experiment: what to change or run, and a prediction to write down first
``experiment``  code    the experiment's code; it runs as it is (also in the student edition)
``solution``    md      after an experiment: its outcome and the reason, in a collapsed ``<details>`` block
``question``    md      "Check your understanding": 3–5 short numbered questions
``solution``    md      their answers, each in a collapsed ``<details>`` block
==============  ======  ===========================================================================

``python -m daformer_edu.course student OUT_DIR`` writes the **student edition**: the exercises' answers (the
``solution`` *code* cells) removed and every output cleared, so each self-check fails (the stub raises
``NotImplementedError``) until the student writes the piece, and nothing else fails. The answers to the
questions and the experiments' outcomes (``solution`` *markdown* cells, folded in ``<details>``) stay, for
students who work alone; ``--without-answers`` drops them too (a graded lab).
``python -m daformer_edu.course solutions OUT_DIR`` writes the **solutions alone** (per notebook: its title,
then the exercise, experiment, question, solution and self-check cells in order).

``python -m daformer_edu.course grade SUBMISSION.ipynb … --out grades.csv [--timeout 600]`` **grades** handed-in
student editions: it runs each notebook as handed in (nbclient, kernel ``python3``, in the notebook's own
folder, at most ``--timeout`` seconds per notebook, on through errors) and writes one row per exercise,
``notebook,exercise,passed,message``: passed when the exercise's self-check cell ran without an error; the
message is that error in one line, or ``ok``. A notebook that cannot be read, whose kernel dies or that runs
out of time gets ``passed=false`` on every exercise and the reason. The grader never reads the instructor's
notebooks.

``python -m daformer_edu.course times`` rewrites each notebook's ``**Time:**`` line from its committed run
(``--check`` only reports drift), so the time a student reads is measured.

The template every notebook follows (checked by ``tests/test_course.py``): the first cell opens with the
title, then **You will be able to**, **Prerequisites:**, **Paper:**, **Time:**; the last three sections are
``## Summary``, ``## What comes next`` and ``## References`` (with arXiv links).
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import math
import re
import time
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

__all__ = [
    # the template: tag names, the opening fields and closing sections, the reading speeds
    "EXERCISE",
    "SOLUTION",
    "SELF_CHECK",
    "QUESTION",
    "EXPERIMENT",
    "OPENING_FIELDS",
    "CLOSING_SECTIONS",
    "WORDS_PER_MIN",
    "CODE_LINES_PER_MIN",
    "TIME_LINE",
    # reading and writing notebooks (also used by daformer_edu.site and the tests)
    "cell_tags",
    "cell_source",
    "read_notebook",
    "write_notebook",
    "without_outputs",
    "find_notebooks",
    "default_notebooks_dir",
    "headless_client",
    # the editions and the measured time
    "NotebookTime",
    "student_edition",
    "solutions_edition",
    "notebook_time",
    "format_time_line",
    "stamp_time",
    "write_edition",
    # the grader
    "Exercise",
    "Grade",
    "find_exercises",
    "grade_notebook",
    "write_grades",
    "main",
]

EXERCISE, SOLUTION, SELF_CHECK, QUESTION = "exercise", "solution", "self-check", "question"
EXPERIMENT = "experiment"
OPENING_FIELDS = ("**You will be able to**", "**Prerequisites:**", "**Paper:**", "**Time:**")
CLOSING_SECTIONS = ("## Summary", "## What comes next", "## References")

# Reading speeds for the reading-time estimate: prose at 180 words a minute (technical text), code at
# 20 lines a minute (a line read and understood every three seconds; plotting lines go faster).
WORDS_PER_MIN = 180
CODE_LINES_PER_MIN = 20
TIME_LINE = re.compile(r"^\*\*Time:\*\*.*$", re.MULTILINE)


def cell_tags(cell: dict) -> list[str]:
    """The Jupyter tags of ``cell`` (its ``metadata.tags``; ``[]`` if it has none)."""
    return cell.get("metadata", {}).get("tags", [])


def cell_source(cell: dict) -> str:
    """The text of ``cell``, whether the file stores its source as one string or as a list of lines."""
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def read_notebook(path: Path) -> dict:
    """The notebook at ``path`` as its nbformat JSON (a dict), read as UTF-8."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_notebook(nb: dict, path: Path) -> None:
    """Write ``nb`` to ``path`` in Jupyter's own layout (one-space indent, UTF-8 text, a final newline)."""
    Path(path).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def without_outputs(nb: dict, cells: list[dict]) -> dict:
    """A copy of ``nb`` holding copies of ``cells``, every output, execution count, timing and widget state
    cleared (``nb`` itself is not changed)."""
    out = copy.deepcopy({**nb, "cells": cells})
    for cell in out["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
            cell.get("metadata", {}).pop("execution", None)
    out.get("metadata", {}).pop("widgets", None)  # widget state belongs to outputs that are gone
    return out


def student_edition(nb: dict, answers: bool = True) -> dict:
    """The notebook a student works in: the exercises' answers (``solution`` code cells) removed, every output
    and count cleared. ``answers=True`` keeps the ``solution`` markdown cells (the questions' answers, the
    experiments' outcomes, folded in ``<details>``); ``answers=False`` removes them too (a graded lab)."""

    def keep(cell: dict) -> bool:
        return SOLUTION not in cell_tags(cell) or (answers and cell["cell_type"] == "markdown")

    return without_outputs(nb, [c for c in nb["cells"] if keep(c)])


def solutions_edition(nb: dict) -> dict:
    """The solutions alone: the title cell, then every exercise, experiment, question, solution and self-check
    cell."""
    keep = {EXERCISE, EXPERIMENT, SOLUTION, SELF_CHECK, QUESTION}
    return without_outputs(nb, nb["cells"][:1] + [c for c in nb["cells"][1:] if keep & set(cell_tags(c))])


@dataclass(frozen=True)
class NotebookTime:
    """What a notebook costs a student: reading minutes (estimated from its text) and running seconds (measured).

    ``running_s`` sums each code cell's execution time as recorded by Jupyter in the committed notebook
    (``metadata.execution``: from ``iopub.execute_input`` to ``shell.execute_reply``); kernel start-up is
    not included. ``reading_min`` = prose words / 180 + code lines / 20, rounded up.
    """

    reading_min: int
    running_s: float
    words: int
    code_lines: int


def _stamp(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def notebook_time(nb: dict) -> NotebookTime:
    """Reading time from the text, running time from the execution records of the committed run.

    Raises ``ValueError`` naming the first code cell without an execution record (the notebook must be
    executed by Jupyter/nbclient/papermill, which record timing, before its time can be measured).
    """
    words = code_lines = 0
    running = 0.0
    for i, cell in enumerate(nb["cells"]):
        src = cell_source(cell)
        if cell["cell_type"] == "markdown":
            text = TIME_LINE.sub(" ", src)  # the Time line itself is not counted (it would count itself)
            text = re.sub(r"\$[^$]*\$|<[^>]+>|\(https?://[^)]*\)", " ", text)  # maths, tags, link targets
            words += len(re.findall(r"[A-Za-z0-9][\w'’-]*", text))
        elif cell["cell_type"] == "code" and src.strip():
            code_lines += sum(1 for line in src.splitlines() if line.strip() and not line.strip().startswith("#"))
            ex = cell.get("metadata", {}).get("execution", {})
            start, end = ex.get("iopub.execute_input"), ex.get("shell.execute_reply")
            if not (start and end):
                raise ValueError(
                    f"code cell {i} has no execution record: execute the notebook with Jupyter "
                    "(nbconvert --execute, papermill) before measuring its time"
                )
            running += (_stamp(end) - _stamp(start)).total_seconds()
    reading = math.ceil(words / WORDS_PER_MIN + code_lines / CODE_LINES_PER_MIN)
    return NotebookTime(reading_min=reading, running_s=running, words=words, code_lines=code_lines)


def _running_text(seconds: float) -> str:
    return f"{max(1, round(seconds))} s" if seconds < 90 else f"{round(seconds / 60)} min"


def format_time_line(t: NotebookTime) -> str:
    """The template's ``**Time:**`` line for ``t``."""
    return (
        f"**Time:** reading ≈ {t.reading_min} min ({t.words} words, {t.code_lines} lines of code) · "
        f"running ≈ {_running_text(t.running_s)} on a 2-core CPU (measured: the committed run; "
        "`python -m daformer_edu.course times` rewrites this line)"
    )


def stamp_time(path: Path, write: bool = True) -> tuple[str, str]:
    """Put the measured ``**Time:**`` line into the first cell of notebook ``path``; return (old, new)."""
    nb = read_notebook(path)
    first = nb["cells"][0]
    src = cell_source(first)
    m = TIME_LINE.search(src)
    if m is None:
        raise ValueError(
            f"{path}: the first cell has no '**Time:**' line (the template's opening fields are "
            f"{', '.join(OPENING_FIELDS)})"
        )
    new = format_time_line(notebook_time(nb))
    if write and m.group(0) != new:
        first["source"] = src[: m.start()] + new + src[m.end() :]
        write_notebook(nb, path)
    return m.group(0), new


def find_notebooks(folder: Path) -> list[Path]:
    """The course notebooks ``NN_*.ipynb`` in ``folder``, in order; ``FileNotFoundError`` if there are none."""
    found = sorted(Path(folder).glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise FileNotFoundError(
            f"no notebooks NN_*.ipynb in {folder}: pass --notebooks DIR (the repository's notebooks/ folder)"
        )
    return found


def write_edition(kind: str, out_dir: Path, notebooks: Path, answers: bool = True) -> list[Path]:
    """Write the ``student`` or ``solutions`` edition of every notebook in ``notebooks`` to ``out_dir``
    (``answers``: the student edition keeps the questions' answers and the experiments' outcomes)."""
    make = {"student": lambda nb: student_edition(nb, answers), "solutions": solutions_edition}[kind]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in find_notebooks(notebooks):
        name = path.name if kind == "student" else path.stem + ".solutions.ipynb"
        write_notebook(make(read_notebook(path)), out_dir / name)
        written.append(out_dir / name)
    return written


# -- the grader ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Exercise:
    """One exercise of a notebook, found by its tags: ``name`` (``"Exercise 2 (my_ema_step)"``), the index of
    its stub cell (``exercise``, code) and of its self-check cell (``self-check``); either may be ``None`` if
    the notebook lacks it."""

    name: str
    stub: int | None
    check: int | None


@dataclass(frozen=True)
class Grade:
    """One row of the grades: the notebook, the exercise, whether its self-check passed, and why (or ``ok``)."""

    notebook: str
    exercise: str
    passed: bool
    message: str


def find_exercises(nb: dict) -> list[Exercise]:
    """The exercises of ``nb`` in order: each stub with the first self-check after it (before the next stub).

    Exercise k is named ``"Exercise k"`` (k counts the stubs, so a student's edits do not renumber it) plus
    the ``my_*`` / ``My*`` names its stub defines (without a stub: those its self-check uses).
    """
    pairs: list[list] = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        if EXERCISE in cell_tags(cell):
            pairs.append([i, None])
        elif SELF_CHECK in cell_tags(cell):
            if pairs and pairs[-1][1] is None:
                pairs[-1][1] = i
            else:
                pairs.append([None, i])
    out = []
    for k, (stub, check) in enumerate(pairs, 1):
        if stub is not None:
            names = re.findall(r"^(?:def|class)\s+(my_\w+|My\w+)", cell_source(nb["cells"][stub]), re.MULTILINE)
        else:
            names = sorted(set(re.findall(r"\b(my_\w+|My\w+)", cell_source(nb["cells"][check]))))
        out.append(Exercise(f"Exercise {k}" + (f" ({', '.join(names)})" if names else ""), stub, check))
    return out


def _error(cell: dict) -> str | None:
    """The error a code cell raised, in one line (``"NameError: name 'x' is not defined"``), or ``None``.
    A bare ``assert`` has no message: then the cell's last printed line says more (``compare``'s verdict)."""
    printed = [
        line
        for o in cell.get("outputs", [])
        if o.get("name") == "stdout"
        for line in "".join(o.get("text", "")).splitlines()
        if line.strip()
    ]
    for o in cell.get("outputs", []):
        if o.get("output_type") == "error":
            first = (o.get("evalue") or "").strip().splitlines()
            line = f"{o.get('ename', 'Error')}: {first[0]}" if first else o.get("ename", "Error")
            line += f" (last printed: {printed[-1].strip()})" if not first and printed else ""
            return line if len(line) <= 200 else line[:197] + "..."
    return None


def _verdict(cells: list[dict], ex: Exercise) -> tuple[bool, str]:
    """(passed, message) of one exercise in an executed notebook."""
    if ex.check is None:
        return False, "no self-check cell after the exercise (a code cell tagged 'self-check')"
    check = cells[ex.check]
    if check.get("execution_count") is None:
        return False, "the self-check cell did not run (is it empty?)"
    err = _error(check)
    if err is None:
        return True, "ok"
    own = _error(cells[ex.stub]) if ex.stub is not None else None
    if own:
        return False, f"{err} (the exercise cell failed: {own})"
    if err.startswith("NotImplementedError"):  # the stub, not written yet
        return False, err
    for i in range(ex.check):  # the first error before the check, other than the stubs and the self-checks
        first = _error(cells[i]) if not {EXERCISE, SELF_CHECK} & set(cell_tags(cells[i])) else None
        if first:
            return False, f"{err} (first error: In [{cells[i].get('execution_count')}]: {first})"
    return False, err


def headless_client(nb, folder: Path | str, **kwargs):
    """An ``nbclient.NotebookClient`` for ``nb`` run in ``folder``, with nbclient's Output-widget mimic switched off.

    nbclient plays a browser for ``ipywidgets.Output`` (it answers the kernel's widget messages with its own while the
    cell runs). With ipywidgets 8, the ``interact`` cells of notebooks 02, 05, 06 and 07 then left the client waiting
    on an idle kernel now and then: measured on notebook 05's student edition, 2 of 3 runs stopped at its ``interact``
    cell until the time limit; with the mimic off, 0 of 4 (2026-12-03, nbclient 0.11.0). Without it the widget's
    figure lands in the cell's outputs, as under nbval; nothing else changes.
    """
    import nbclient  # here, so that editions and times need no Jupyter machinery

    client = nbclient.NotebookClient(nb, kernel_name="python3", resources={"metadata": {"path": str(folder)}}, **kwargs)
    client.comm_open_handlers = {}  # no Output-widget mimic (above)
    return client


def _execute(nb, folder: Path, timeout: float) -> str | None:
    """Run ``nb`` (an nbformat node, changed in place) in ``folder`` on through errors, its cells at most
    ``timeout`` seconds in all (the kernel's start is not counted); ``None`` if it ran to the end, else why it
    stopped (the kernel died, time ran out, …)."""
    import nbclient  # here, so that editions and times need no Jupyter machinery

    at = {"cell": None, "deadline": time.monotonic() + timeout}  # reset when the first cell starts

    def start(cell, cell_index):  # nbclient calls it before each cell; the clock starts at the first one
        if at["cell"] is None:
            at["deadline"] = time.monotonic() + timeout
        at["cell"] = cell_index
        if time.monotonic() > at["deadline"]:
            raise TimeoutError("out of time")

    client = headless_client(
        nb,
        folder,
        allow_errors=True,
        timeout_func=lambda cell: max(1, math.ceil(at["deadline"] - time.monotonic())),  # 0 would mean no limit
        on_cell_start=start,
    )
    try:
        client.execute()
    except AssertionError:  # nbclient's Ctrl-C / SIGTERM handler shut the kernel down: stop grading
        raise KeyboardInterrupt("grading interrupted") from None
    except Exception as e:  # reported, not raised: the kernel died, time ran out, the kernel would not start
        where = f" in cell {at['cell'] + 1} of {len(nb.cells)}" if at["cell"] is not None else ""
        if isinstance(e, nbclient.exceptions.DeadKernelError):
            return f"the kernel died{where}"
        if isinstance(e, TimeoutError):  # nbclient's CellTimeoutError is one
            return f"out of time: the notebook ran over {timeout:g} s{where}"
        text = str(e).strip().splitlines()
        return f"could not be run{where}: {type(e).__name__}" + (f": {text[0]}" if text else "")
    return None


def grade_notebook(path: Path, timeout: float = 600) -> list[Grade]:
    """Run the submitted notebook ``path`` as handed in, in its own folder, and grade each exercise.

    One :class:`Grade` per exercise: passed when its self-check cell ran without an error. A notebook that
    cannot be read gives one row; one whose kernel dies or that runs over ``timeout`` seconds gives every
    exercise ``passed=False`` with the reason. Nothing is raised for a bad submission.
    """
    import nbformat

    name = str(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # missing cell ids and other fixable details of a hand-edited file
            nb = nbformat.reads(Path(path).read_text(encoding="utf-8"), as_version=4)
        exercises = find_exercises(nb)
    except Exception as e:  # not there, not JSON, not a notebook
        return [Grade(name, "-", False, f"cannot be read: {type(e).__name__}: {e}")]
    if not exercises:
        return [Grade(name, "-", False, "no exercises (code cells tagged 'exercise' or 'self-check') in the notebook")]
    stopped = _execute(nb, Path(path).resolve().parent, timeout)
    if stopped:
        return [Grade(name, ex.name, False, stopped) for ex in exercises]
    return [Grade(name, ex.name, *_verdict(nb.cells, ex)) for ex in exercises]


def write_grades(grades: list[Grade], out: Path) -> None:
    """Write ``grades`` to the CSV file ``out``: ``notebook,exercise,passed,message`` (passed: true/false)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["notebook", "exercise", "passed", "message"])
        for g in grades:
            w.writerow([g.notebook, g.exercise, "true" if g.passed else "false", g.message])


def default_notebooks_dir() -> Path:
    """The repository's ``notebooks/`` (beside the package), else ``notebooks/`` in the working directory."""
    here = Path(__file__).resolve().parents[1] / "notebooks"
    return here if here.is_dir() else Path.cwd() / "notebooks"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m daformer_edu.course", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    for kind, text in (
        ("student", "notebooks without the exercises' answers, outputs cleared"),
        ("solutions", "the solutions alone, one notebook per notebook"),
    ):
        s = sub.add_parser(kind, help=text)
        s.add_argument("out_dir", type=Path)
        s.add_argument("--notebooks", type=Path, default=None, help="source folder (default: the repo's notebooks/)")
        if kind == "student":
            s.add_argument(
                "--without-answers",
                action="store_true",
                help="also drop the questions' answers and the experiments' outcomes (a graded lab)",
            )
    t = sub.add_parser("times", help="rewrite each notebook's **Time:** line from its committed run")
    t.add_argument("--check", action="store_true", help="only report lines that differ; exit 1 if any")
    t.add_argument("--notebooks", type=Path, default=None)
    t.add_argument("paths", nargs="*", type=Path, help="only these notebooks (default: all in --notebooks)")
    g = sub.add_parser("grade", help="run handed-in student editions; one CSV row per exercise")
    g.add_argument("submissions", nargs="+", type=Path, help="the handed-in notebooks (.ipynb)")
    g.add_argument("--out", type=Path, required=True, help="the CSV file: notebook,exercise,passed,message")
    g.add_argument("--timeout", type=float, default=600, help="seconds per notebook (default 600)")
    return p


def main(argv: list[str] | None = None) -> int:
    """``python -m daformer_edu.course {student [--without-answers],solutions} OUT_DIR``, ``… times [--check]``
    or ``… grade SUBMISSION.ipynb … --out grades.csv [--timeout 600]``. Exit status 0 when done (whatever the
    grades), 1 when ``times --check`` finds drift, 2 on bad arguments."""
    p = _parser()
    args = p.parse_args(argv)
    if args.command == "grade":
        if not args.timeout > 0:
            p.error(f"--timeout {args.timeout:g}: give the seconds per notebook, a number > 0")
        grades = []
        for path in args.submissions:
            rows = grade_notebook(path, args.timeout)
            print(f"{path}: {sum(g.passed for g in rows)} of {len(rows)} passed")
            grades += rows
        write_grades(grades, args.out)
        print(f"grades: {args.out}")
        return 0
    folder = args.notebooks or default_notebooks_dir()
    if args.command == "times":
        drift = 0
        for path in args.paths or find_notebooks(folder):
            old, new = stamp_time(path, write=not args.check)
            if old != new:
                drift += 1
                print(f"{path.name}: {'differs' if args.check else 'updated'}\n  was: {old}\n  now: {new}")
        return 1 if (args.check and drift) else 0
    for path in write_edition(args.command, args.out_dir, folder, answers=not getattr(args, "without_answers", False)):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
