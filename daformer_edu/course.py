"""The course around the notebooks: student and solution editions, the template, measured times.

Every notebook ``notebooks/NN_*.ipynb`` is committed *with* its solutions, so it runs end to end and CI
checks it. Cells carry Jupyter tags (cell metadata ``"tags"``) that say what they are:

=============  ======  ============================================================================
tag            kind    what it holds
=============  ======  ============================================================================
``exercise``   code    a stub the student fills in: ``def my_…(…): raise NotImplementedError(…)``
``solution``   code    the instructor's answer to the stub just above (re-defines the same name)
``self-check`` code    ``compare(…)`` of the student's function against the library
``question``   md      "Check your understanding": 3–5 short numbered questions
``solution``   md      their answers, each in a collapsed ``<details>`` block
=============  ======  ============================================================================

``python -m daformer_edu.course student OUT_DIR`` writes the **student edition**: every ``solution`` cell
removed, every output cleared, so each self-check fails (the stub raises ``NotImplementedError``) until the
student writes the piece, and nothing else fails. ``python -m daformer_edu.course solutions OUT_DIR``
writes the **solutions alone** (per notebook: its title, then the exercise, question, solution and
self-check cells in order). ``python -m daformer_edu.course times`` rewrites each notebook's ``**Time:**``
line from its committed run (``--check`` only reports drift), so the time a student reads is measured.

The template every notebook follows (checked by ``tests/test_course.py``): the first cell opens with the
title, then **You will be able to**, **Prerequisites:**, **Paper:**, **Time:**; the last three sections are
``## Summary``, ``## What comes next`` and ``## References`` (with arXiv links).
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

__all__ = [
    # the template: tag names, the opening fields and closing sections, the reading speeds
    "EXERCISE", "SOLUTION", "SELF_CHECK", "QUESTION", "OPENING_FIELDS", "CLOSING_SECTIONS", "WORDS_PER_MIN",
    "CODE_LINES_PER_MIN", "TIME_LINE",
    # reading and writing notebooks (also used by daformer_edu.site and the tests)
    "cell_tags", "cell_source", "read_notebook", "write_notebook", "without_outputs", "find_notebooks",
    "default_notebooks_dir",
    # the editions and the measured time
    "NotebookTime", "student_edition", "solutions_edition", "notebook_time", "format_time_line",
    "stamp_time", "write_edition", "main",
]

EXERCISE, SOLUTION, SELF_CHECK, QUESTION = "exercise", "solution", "self-check", "question"
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


def student_edition(nb: dict) -> dict:
    """The notebook a student works in: ``solution`` cells removed, every output and count cleared."""
    return without_outputs(nb, [c for c in nb["cells"] if SOLUTION not in cell_tags(c)])


def solutions_edition(nb: dict) -> dict:
    """The solutions alone: the title cell, then every exercise, question, solution and self-check cell."""
    keep = {EXERCISE, SOLUTION, SELF_CHECK, QUESTION}
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
                raise ValueError(f"code cell {i} has no execution record: execute the notebook with Jupyter "
                                 "(nbconvert --execute, papermill) before measuring its time")
            running += (_stamp(end) - _stamp(start)).total_seconds()
    reading = math.ceil(words / WORDS_PER_MIN + code_lines / CODE_LINES_PER_MIN)
    return NotebookTime(reading_min=reading, running_s=running, words=words, code_lines=code_lines)


def _running_text(seconds: float) -> str:
    return f"{max(1, round(seconds))} s" if seconds < 90 else f"{round(seconds / 60)} min"


def format_time_line(t: NotebookTime) -> str:
    """The template's ``**Time:**`` line for ``t``."""
    return (f"**Time:** reading ≈ {t.reading_min} min ({t.words} words, {t.code_lines} lines of code) · "
            f"running ≈ {_running_text(t.running_s)} on a 2-core CPU (measured: the committed run; "
            "`python -m daformer_edu.course times` rewrites this line)")


def stamp_time(path: Path, write: bool = True) -> tuple[str, str]:
    """Put the measured ``**Time:**`` line into the first cell of notebook ``path``; return (old, new)."""
    nb = read_notebook(path)
    first = nb["cells"][0]
    src = cell_source(first)
    m = TIME_LINE.search(src)
    if m is None:
        raise ValueError(f"{path}: the first cell has no '**Time:**' line (the template's opening fields are "
                         f"{', '.join(OPENING_FIELDS)})")
    new = format_time_line(notebook_time(nb))
    if write and m.group(0) != new:
        first["source"] = src[: m.start()] + new + src[m.end():]
        write_notebook(nb, path)
    return m.group(0), new


def find_notebooks(folder: Path) -> list[Path]:
    """The course notebooks ``NN_*.ipynb`` in ``folder``, in order; ``FileNotFoundError`` if there are none."""
    found = sorted(Path(folder).glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise FileNotFoundError(f"no notebooks NN_*.ipynb in {folder}: pass --notebooks DIR (the repository's "
                                "notebooks/ folder)")
    return found


def write_edition(kind: str, out_dir: Path, notebooks: Path) -> list[Path]:
    """Write the ``student`` or ``solutions`` edition of every notebook in ``notebooks`` to ``out_dir``."""
    make = {"student": student_edition, "solutions": solutions_edition}[kind]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in find_notebooks(notebooks):
        name = path.name if kind == "student" else path.stem + ".solutions.ipynb"
        write_notebook(make(read_notebook(path)), out_dir / name)
        written.append(out_dir / name)
    return written


def default_notebooks_dir() -> Path:
    """The repository's ``notebooks/`` (beside the package), else ``notebooks/`` in the working directory."""
    here = Path(__file__).resolve().parents[1] / "notebooks"
    return here if here.is_dir() else Path.cwd() / "notebooks"


def main(argv: list[str] | None = None) -> int:
    """``python -m daformer_edu.course {student,solutions} OUT_DIR`` or ``… times [--check]``."""
    p = argparse.ArgumentParser(prog="python -m daformer_edu.course", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    for kind, text in (("student", "notebooks without solutions, outputs cleared"),
                       ("solutions", "the solutions alone, one notebook per notebook")):
        s = sub.add_parser(kind, help=text)
        s.add_argument("out_dir", type=Path)
        s.add_argument("--notebooks", type=Path, default=None, help="source folder (default: the repo's notebooks/)")
    t = sub.add_parser("times", help="rewrite each notebook's **Time:** line from its committed run")
    t.add_argument("--check", action="store_true", help="only report lines that differ; exit 1 if any")
    t.add_argument("--notebooks", type=Path, default=None)
    t.add_argument("paths", nargs="*", type=Path, help="only these notebooks (default: all in --notebooks)")
    args = p.parse_args(argv)
    folder = args.notebooks or default_notebooks_dir()
    if args.command == "times":
        drift = 0
        for path in args.paths or find_notebooks(folder):
            old, new = stamp_time(path, write=not args.check)
            if old != new:
                drift += 1
                print(f"{path.name}: {'differs' if args.check else 'updated'}\n  was: {old}\n  now: {new}")
        return 1 if (args.check and drift) else 0
    for path in write_edition(args.command, args.out_dir, folder):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
