"""The project speaks of itself as it is: no development-history wording in any tracked text file.

A reader meets the repository as it stands. Words that only make sense to whoever built it — the step of the
work a number was measured at ("stop 15", "fix 4"), the tracker's ticket ("issue 11"), the sitting it was done
in ("this session"), the states the synthetic data went through ("the first world", "world 2", "the current
world"), the package's past ("the first version", "an earlier version") or the notes it was reviewed with
("one of our source reviews", "a review's typo") — are replaced by what they mean: what was measured, how and
when (a date), what a setting does.

Every file ``git ls-files`` lists with a text suffix below (and scripts that start with ``#!``) is read: for a
notebook, each cell's source and its text outputs; for any other file, its lines. A hit names the file, the
line (in a notebook: the cell, and the line within its source or output) and the words. This file is not read:
it spells the patterns out.

Legitimate uses are allowed by a precise rule, shown in ``test_each_pattern_fails_on_a_doctored_line``:

- an issue number of *another* project: the word right before "issue" is one of ``OTHER_PROJECTS`` (possibly
  with ``'s``) or an ``owner/repo`` (``lhoyer/DAFormer issue 74``, ``HRDA issue 47``); a link such as
  ``github.com/lhoyer/DAFormer/issues/74`` never matches (no space before the number);
- "session" as a thing of the tools: a Jupyter / kernel / browser / terminal session, a lab or study session of
  the course, or an identifier (``start_new_session=True``, ``client.session``, ``Session(``).
"""

from __future__ import annotations

import bisect
import itertools
import json
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SUFFIXES = {".py", ".md", ".ipynb", ".sh", ".cfg", ".toml", ".yml", ".yaml", ".json", ".txt", ".rst"}

#: projects whose issue trackers the package may cite by number ("DAFormer issue 74")
OTHER_PROJECTS = (
    "DAFormer HRDA MIC SegFormer mmsegmentation mmseg mmcv STEGO BlindNet timm transformers PyTorch torch torchvision "
    "nbval nbclient papermill Jupyter JupyterLab ipywidgets matplotlib Sphinx MyST-NB cityscapesScripts"
).split()
_PROJECT = "(?:" + "|".join(re.escape(p) for p in OTHER_PROJECTS) + r"|(?<![\w.-])(?!and/or\b)[\w.-]+/[\w.-]+)(?:'s)?"
_TOOL_SESSION = (
    r"(?:jupyter|jupyterlab|kernel|browser|chromium|terminal|shell|python|ipython|ssh|tmux|lab|study|"
    r"class|tutorial|interactive|notebook)"
)

#: (what it is, the pattern, what makes a hit legitimate: a pattern whose match covers the hit, or None)
PATTERNS = [
    ("a step of the work", re.compile(r"\bstop \d+\b", re.I), None),
    ("a step of the work", re.compile(r"\bfix(?:es)? #?\d+\b", re.I), None),
    ("the tracker's ticket", re.compile(r"\bissues? #?\d+\b", re.I), re.compile(_PROJECT + r" issues? #?\d+\b", re.I)),
    (
        "the sitting it was done in",
        re.compile(r"\bsessions?\b", re.I),
        re.compile(_TOOL_SESSION + r" sessions?\b|(?<=\.)sessions?\b|\bsessions?(?=[(=\[])", re.I),
    ),
    ("a state of the synthetic data", re.compile(r"\b(?:first|current|previous) world\b", re.I), None),
    ("a state of the synthetic data", re.compile(r"\bworld ?\d+\b", re.I), None),
    ("the package's past", re.compile(r"\b(?:first|earlier|previous|older)[*_]*(?: |-)[*_]*versions?\b", re.I), None),
    ("the review notes", re.compile(r"\bour (?:source )?reviews?\b", re.I), None),
    ("the review notes", re.compile(r"\ba review's\b", re.I), None),
]


_ANY = re.compile("|".join("(?:" + p.pattern.replace(" ", r"\s+") + ")" for _, p, _ in PATTERNS), re.I)


def _hits(text: str) -> list[re.Match]:
    """The development-history matches in ``text`` (legitimate uses left out)."""
    out = []
    for _, pattern, allowed in PATTERNS:
        ok = [m.span() for m in allowed.finditer(text)] if allowed else []
        out += [m for m in pattern.finditer(text) if not any(a <= m.start() and m.end() <= b for a, b in ok)]
    return out


def hits_in_line(text: str) -> list[str]:
    """The development-history words in one line of text."""
    return [m.group(0) for m in _hits(text)]


def _line_hits(lines: list[str], k: int) -> list[str]:
    """The hits of line ``k``, plus those of a phrase wrapped onto the next line ("the first\nversion")."""
    found = hits_in_line(lines[k])
    if k + 1 < len(lines):
        head = lines[k].rstrip()
        joined = head + " " + lines[k + 1].lstrip()
        found += [m.group(0) for m in _hits(joined) if m.start() < len(head) < m.end()]
    return found


def _blocks(name: str, text: str):
    """(where, lines) for the file's text; for a notebook, each cell's source and each text output."""
    if not name.endswith(".ipynb"):
        yield "line", text.splitlines()
        return
    for i, cell in enumerate(json.loads(text).get("cells", [])):
        src = cell.get("source", "")
        yield f"cell {i} line", ("".join(src) if isinstance(src, list) else src).splitlines()
        for o in cell.get("outputs", []):
            parts = [o.get("text", ""), o.get("evalue", "")]
            parts += [o.get("data", {}).get(kind, "") for kind in ("text/plain", "text/markdown")]
            yield f"cell {i} output line", "".join("".join(p) if isinstance(p, list) else p for p in parts).splitlines()


def scan(name: str, text: str) -> list[str]:
    """``"file:where N: words  | line"`` for every hit in a file's text (a notebook is read cell by cell).

    One pass of ``_ANY`` (every pattern, any whitespace for a space: a superset) over each block finds the
    lines worth a closer look; only those are checked line by line.
    """
    out = []
    for where, lines in _blocks(name, text):
        block = "\n".join(lines)
        starts = list(itertools.accumulate((len(line) + 1 for line in lines[:-1]), initial=0))
        suspects = sorted({bisect.bisect_right(starts, m.start()) - 1 for m in _ANY.finditer(block)})
        for k in suspects:
            if found := _line_hits(lines, k):
                out.append(f"{name}:{where} {k + 1}: {', '.join(found)}  | {lines[k].strip()[:160]}")
    return out


def _tracked() -> list[Path]:
    try:
        names = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the tracked files cannot be listed")
    out = []
    for name in names.splitlines():
        path = ROOT / name
        if not path.is_file() or path == Path(__file__).resolve():  # this file spells the patterns out
            continue
        if path.suffix in SUFFIXES or (not path.suffix and path.read_bytes()[:2] == b"#!"):
            out.append(path)
    return out


def test_no_development_history_wording():
    hits = []
    for path in _tracked():
        hits += scan(str(path.relative_to(ROOT)), path.read_text(encoding="utf-8", errors="replace"))
    assert not hits, "development-history wording (say what was measured, how and when instead):\n" + "\n".join(hits)


DOCTORED = [
    "alone, the same three runs took 539 s at stop 15",
    "# --- fix 1: the source is resized to the official size",
    "Why: issue 11 asks whether the head should start as mmcv starts it",
    "see issue #12",
    "the head init and/or issue 11",
    "(no GPU this session).",
    "this session's committed run",
    "Sessions were short",
    "a record from the first world",
    "Section 8 is the current world's run",
    "source 363 img/s (world 2: surface patterns)",
    "the official rules against the package's first version",
    "an earlier version of this notebook",
    "this package's first-version rules",
    "one of our source reviews writes max",
    "(a review's typo)",
]
LEGITIMATE = [
    "subprocess.Popen(cmd, start_new_session=True)",
    "a known bug: https://github.com/lhoyer/DAFormer/issues/74 (the official code)",
    "DAFormer issue 74 and HRDA issue 47 explain the crop",
    "as discussed in lhoyer/DAFormer issue 74",
    "the kernel session ends; in a two-hour lab session; JupyterLab sessions",
    "client.session.close(); Session(timeout=3)",
    "the world's palette; a world where hue is the only cue; WORLD_SIZE",
    "the stop-gradient of the teacher; the issue is numerical",
    "probes_world1_2026-12-01.md",
]


@pytest.mark.parametrize("line", DOCTORED)
def test_each_pattern_fails_on_a_doctored_line(line):
    assert hits_in_line(line), f"not caught: {line!r}"
    assert scan("x.md", f"fine\n{line}\n")[0].startswith("x.md:line 2: ")


@pytest.mark.parametrize("line", LEGITIMATE)
def test_legitimate_uses_pass(line):
    assert hits_in_line(line) == []


def test_every_pattern_is_exercised():
    """Each pattern catches at least one doctored line, so none of them is dead."""
    for what, pattern, _ in PATTERNS:
        assert any(pattern.search(line) for line in DOCTORED), f"{what}: {pattern.pattern} catches no doctored line"


def test_a_phrase_wrapped_onto_the_next_line_is_caught():
    assert scan("x.py", "kept as the first\nversion of the rules\n") == [
        "x.py:line 1: first version  | kept as the first"
    ]
    assert scan("x.md", "run on the *first* version of\n") == [
        "x.md:line 1: first* version  | run on the *first* version of"
    ]


def test_notebooks_are_read_cell_by_cell():
    nb = {
        "cells": [
            {"cell_type": "markdown", "source": ["# Title\n", "fine"]},
            {
                "cell_type": "code",
                "source": "x = 1",
                "outputs": [{"output_type": "stream", "name": "stdout", "text": ["ok\n", "measured at stop 3\n"]}],
            },
        ]
    }
    assert scan("n.ipynb", json.dumps(nb)) == ["n.ipynb:cell 1 output line 2: stop 3  | measured at stop 3"]
    nb["cells"][0]["source"] = "one of our source reviews"
    assert scan("n.ipynb", json.dumps(nb))[0].startswith("n.ipynb:cell 0 line 1: our source reviews")
