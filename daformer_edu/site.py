"""The course as a static web site: ``python -m daformer_edu.site build OUT_DIR`` (then open OUT_DIR/index.html).

One page per notebook, rendered from the *committed* notebooks with their outputs (nothing is re-executed, so
the figures are those of the committed runs), a home page that is the notebook map, and on each page and on the
home a download link to the notebook's student edition (``python -m daformer_edu.course student``: the
exercises' answers removed, outputs cleared) where the notebook has exercises. The Markdown pages of
``daformer_edu/pages/`` (the course, the adaptation run, real data, measured records …; the README links them by
their repository path) are pages of the site too, after the notebooks in the table of contents: those named in
``PAGE_ORDER`` in that order, then any other ``*.md`` of the folder by name, so a new page cannot be left out.

The home page is generated, not written: each notebook's title and Time line come from its first cell, and
"what it builds" / "library piece" from the notebook map in the repository's README.md (the table
``| notebook | what it builds | library piece |``), so the site cannot drift from either.

Why Sphinx + MyST-NB (with the Jupyter Book 1 theme, ``sphinx-book-theme``): it is what Jupyter Book 1 is made
of, pure Python from PyPI, and it builds offline. Jupyter Book 2 / ``mystmd`` (the ecosystem's newer choice)
downloads its site template from a web API at build time (``jupyter-book build --html`` stops at
"Querying template metadata from https://api.mystmd.org/templates/site/myst/book-theme" without internet),
so it cannot build here or in CI. Maths is rendered by a MathJax shipped in a wheel
(``sphinx-mathjax-offline``), so the pages need no network either; widget outputs are shown as their static
text (their JavaScript would come from a CDN) — each notebook has a static figure beside its widget.

Needs the ``site`` extra: ``pip install -e ".[site]"`` (27 s into a fresh venv). Measured on this project's 2-core
CPU: the whole site (11 notebooks, 68 figures, 44 MB) takes 15 s of CPU, 46 s of wall time on the machine shared
with other jobs (load 8): ``time python -m daformer_edu.site build /tmp/site``.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path

from daformer_edu import course

__all__ = ["PAGES_DIR", "PAGE_ORDER", "build", "main", "site_pages"]

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
STUDENT_DIR = "_student"  # inside the Sphinx source folder; the download role copies each file into the site
PAGES_DIR = Path(__file__).resolve().parent / "pages"  # Markdown pages, shipped as package data
PAGE_ORDER = (
    "course",
    "training",
    "real_data",
    "released_model",
    "library",
    "siblings",
    "paper_vs_official",
    "measured",
    "testing",
)


def site_pages(pages_dir: Path | None = None) -> list[Path]:
    """The Markdown pages of the site: those in ``PAGE_ORDER`` first, in that order, then the others by name."""
    found = {p.stem: p for p in Path(pages_dir or PAGES_DIR).glob("*.md")}
    clash = sorted(s for s in found if s == "index" or re.match(r"^\d\d_", s))
    if clash:
        raise ValueError(
            f"{pages_dir or PAGES_DIR}: page names {clash} clash with the home page or a notebook; rename them"
        )
    return [found[s] for s in PAGE_ORDER if s in found] + [found[s] for s in sorted(set(found) - set(PAGE_ORDER))]


def _page_title(path: Path) -> str:
    """A Markdown page's title: its first ``# `` heading (the file name if it has none)."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return path.stem


def _readme_map(readme: Path) -> dict[str, tuple[str, str]]:
    """``{"01_overlapping_patch_embed": (what it builds, library piece)}`` from the README's notebook table."""
    rows = {}
    if readme.is_file():
        for line in readme.read_text(encoding="utf-8").splitlines():
            m = re.match(r"^\|\s*`(\d\d_\w+)`\s*\|(.*)\|(.*)\|\s*$", line)
            if m:
                rows[m.group(1)] = (m.group(2).strip(), m.group(3).strip())
    return rows


def _title_and_time(nb: dict) -> tuple[str, str]:
    """The first cell's ``# NN · Title`` and the running part of its ``**Time:**`` line."""
    first = course.cell_source(nb["cells"][0])
    title = first.splitlines()[0].lstrip("# ").strip()
    time = course.TIME_LINE.search(first)
    running = re.search(r"running ≈ ([^(]*?) on", time.group(0)) if time else None
    reading = re.search(r"reading ≈ (\d+ min)", time.group(0)) if time else None
    return title, (f"{reading.group(1)} reading, {running.group(1)} running" if reading and running else "")


def _has_exercises(nb: dict) -> bool:
    return any(course.EXERCISE in course.cell_tags(c) for c in nb["cells"])


def _download(stem: str) -> str:
    return f"{{download}}`student edition <{STUDENT_DIR}/{stem}.ipynb>`"


def _home_page(notebooks: list[Path], nbs: dict[str, dict], readme: Path, pages: list[Path] = ()) -> str:
    """The notebook map as a MyST page: title → page, what it builds, library piece, time, student edition; then
    the list of the Markdown ``pages``. Two tables of contents: the notebooks, then the pages."""
    rows = _readme_map(readme)
    lines = [
        "# daformer_edu — DAFormer, built piece by piece",
        "",
        "One notebook per piece of DAFormer (Hoyer et al., CVPR 2022), each checked against the library "
        "`daformer_edu`. The pages show the committed runs; to run a notebook yourself, download its "
        "**student edition** (exercises without their answers, outputs cleared) and open it in JupyterLab "
        "next to an installed `daformer_edu` (`pip install -e .` in the repository).",
        "",
        "| notebook | what it builds | library piece | time | download |",
        "|---|---|---|---|---|",
    ]
    for path in notebooks:
        nb = nbs[path.stem]
        title, time = _title_and_time(nb)
        builds, piece = rows.get(path.stem, ("", ""))
        download = _download(path.stem) if _has_exercises(nb) else ""
        short = title.split(":")[0]  # "01 · Overlapping patch embedding: how …" → before the colon
        lines.append(f"| [{short}]({path.stem}.ipynb) | {builds} | {piece} | {time} | {download} |")
    if pages:
        lines += ["", "## More", ""] + [f"- [{_page_title(p)}]({p.stem}.md)" for p in pages]
    lines += ["", "```{toctree}", ":hidden:", ":maxdepth: 1", ":caption: Notebooks", ""]
    lines += [p.stem for p in notebooks] + ["```", ""]
    if pages:
        lines += ["```{toctree}", ":hidden:", ":maxdepth: 1", ":caption: More", ""] + [p.stem for p in pages]
        lines += ["```", ""]
    return "\n".join(lines)


def _page_notebook(nb: dict, stem: str) -> dict:
    """The notebook as its page shows it: a student-edition link after the title cell (no other change)."""
    page = json.loads(json.dumps(nb))
    if _has_exercises(nb):
        note = {
            "cell_type": "markdown",
            "id": "site-student-edition",
            "metadata": {},
            "source": f"**Student edition:** {_download(stem)} — this notebook without the exercises' "
            "answers, outputs cleared; its self-checks fail until you write each exercise.",
        }
        page["cells"].insert(1, note)
    return page


def _favicon(path: Path) -> None:
    """A 16×16 icon in the Cityscapes colours of road, car and vegetation (a page without one logs a 404)."""
    from PIL import Image

    img = Image.new("RGB", (16, 16), (128, 64, 128))  # road
    img.paste((0, 0, 142), (3, 6, 13, 12))  # car
    img.paste((107, 142, 35), (0, 0, 16, 4))  # vegetation
    img.save(path)


def _write_sources(src: Path, notebooks: Path, readme: Path, pages: list[Path]) -> None:
    """The Sphinx source folder: the student editions, one page per notebook, the Markdown pages, the home page."""
    paths = course.find_notebooks(notebooks)
    nbs = {p.stem: course.read_notebook(p) for p in paths}
    course.write_edition("student", src / STUDENT_DIR, notebooks)
    for p in paths:
        course.write_notebook(_page_notebook(nbs[p.stem], p.stem), src / p.name)
    for page in pages:
        shutil.copyfile(page, src / page.name)
    _favicon(src / "favicon.png")
    (src / "index.md").write_text(_home_page(paths, nbs, readme, pages), encoding="utf-8")


def build(
    out_dir: Path,
    notebooks: Path | None = None,
    readme: Path | None = None,
    quiet: bool = True,
    pages_dir: Path | None = None,
) -> Path:
    """Build the site into ``out_dir`` (its ``index.html`` is the home page); return ``out_dir``.

    ``notebooks``: the folder of ``NN_*.ipynb`` (default: the repository's ``notebooks/``); ``readme``: where the
    notebook map is read (default: ``README.md`` beside that folder); ``pages_dir``: the Markdown pages (default:
    ``daformer_edu/pages/``, ``site_pages``).
    """
    try:
        from sphinx.application import Sphinx
    except ImportError as err:  # the optional extra is missing
        raise SystemExit(
            f'python -m daformer_edu.site needs Sphinx and MyST-NB ({err}): pip install -e ".[site]"'
        ) from err
    notebooks = Path(notebooks or course.default_notebooks_dir())
    readme = Path(readme or notebooks.parent / "README.md")
    out_dir = Path(out_dir)
    with tempfile.TemporaryDirectory(prefix="daformer_edu_site_") as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        _write_sources(src, notebooks, readme, site_pages(pages_dir))
        warnings = io.StringIO() if quiet else sys.stderr
        config = {
            "project": "daformer_edu",
            "author": "daformer_edu",
            "extensions": ["myst_nb", "sphinx-mathjax-offline"],
            "html_theme": "sphinx_book_theme",
            "html_title": "daformer_edu course",
            "html_favicon": "favicon.png",  # else the browser asks for /favicon.ico and logs a 404
            "html_context": {"default_mode": "light"},  # else the theme logs "Got invalid theme mode"
            "html_theme_options": {
                "use_download_button": True,
                "use_fullscreen_button": False,
                "use_repository_button": False,
                "show_toc_level": 1,
            },
            "exclude_patterns": [f"{STUDENT_DIR}/**"],
            "nb_execution_mode": "off",  # the committed outputs, never re-run
            "nb_ipywidgets_js": {},  # no widget JavaScript from a CDN ...
            "nb_mime_priority_overrides": [("html", WIDGET_VIEW, None)],  # ... so widgets show their static text
            "myst_enable_extensions": ["dollarmath", "amsmath", "colon_fence"],
            "myst_heading_anchors": 3,
            "suppress_warnings": ["myst.header", "mystnb.unknown_mime_type", "misc.highlighting_failure"],
        }
        # MyST-NB writes figure files beside the output folder (OUTDIR/../jupyter_execute): build inside tmp
        html = Path(tmp) / "html"
        app = Sphinx(
            str(src),
            None,
            str(html),
            str(Path(tmp) / "doctrees"),
            "html",
            confoverrides=config,
            status=None if quiet else sys.stdout,
            warning=warnings,
            freshenv=True,
        )
        app.build(force_all=True)
        if app.statuscode:
            raise RuntimeError(f"the site build failed:\n{warnings.getvalue() if quiet else ''}")
        shutil.copytree(html, out_dir, dirs_exist_ok=True)
    return out_dir


def main(argv: list[str] | None = None) -> int:
    """``python -m daformer_edu.site build OUT_DIR [--notebooks DIR]``."""
    p = argparse.ArgumentParser(prog="python -m daformer_edu.site", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build the static course site into OUT_DIR (open OUT_DIR/index.html)")
    b.add_argument("out_dir", type=Path)
    b.add_argument("--notebooks", type=Path, default=None, help="source folder (default: the repo's notebooks/)")
    b.add_argument("--verbose", action="store_true", help="show Sphinx's progress and warnings")
    args = p.parse_args(argv)
    out = build(args.out_dir, args.notebooks, quiet=not args.verbose)
    print(f"{out / 'index.html'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
