"""The course site's home page is generated from the notebooks and the README's map (daformer_edu/site.py); the
Markdown pages of daformer_edu/pages/ are pages of the site, and the README (short) links each of them.

Checked on a hand-made README, hand-made notebooks and pages, so a row is compared with what the test wrote, not
with the builder's own reading of the repository. The real build, served and visited in a browser:
tests/test_browser.py.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import pytest

from daformer_edu import course, site

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "daformer_edu" / "pages").glob("*.md"))
README_MAX_LINES = 120

README = """# x

| notebook | what it builds | library piece |
|---|---|---|
| `01_alpha` | patches and tokens | `models.mit.OverlapPatchEmbed` |
| `02_beta` | attention's cost | `models.mit.EfficientSelfAttention` |

Some prose | with a bar | that is not a row.
"""


def _nb(title: str, exercise: bool) -> dict:
    first = {
        "cell_type": "markdown",
        "id": "title",
        "metadata": {},
        "source": f"# {title}\n\n**Time:** reading "
        "≈ 7 min (1 words, 2 lines of code) · running ≈ 12 s on a 2-core CPU (measured)",
    }
    cells = [
        first,
        {
            "cell_type": "code",
            "id": "code",
            "metadata": {"tags": ["exercise"] if exercise else []},
            "source": "x = 1",
            "outputs": [],
            "execution_count": 1,
        },
    ]
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def test_home_page_is_the_notebook_map(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(README, encoding="utf-8")
    paths = [Path("01_alpha.ipynb"), Path("02_beta.ipynb")]
    nbs = {"01_alpha": _nb("01 · Alpha: a long subtitle", exercise=True), "02_beta": _nb("02 · Beta", exercise=False)}
    home = site._home_page(paths, nbs, readme)
    rows = [line for line in home.splitlines() if line.startswith("| [")]
    assert rows[0] == (
        "| [01 · Alpha](01_alpha.ipynb) | patches and tokens | `models.mit.OverlapPatchEmbed` | "
        "7 min reading, 12 s running | {download}`student edition <_student/01_alpha.ipynb>` |"
    )
    assert rows[1] == (
        "| [02 · Beta](02_beta.ipynb) | attention's cost | `models.mit.EfficientSelfAttention` | "
        "7 min reading, 12 s running |  |"
    ), "no exercise, no student edition to offer"
    assert home.index("01_alpha\n02_beta") > home.index("```{toctree}"), "every notebook is a page of the site"


def test_page_gets_the_student_edition_link_after_its_title_and_nothing_else():
    nb = _nb("01 · Alpha", exercise=True)
    page = site._page_notebook(nb, "01_alpha")
    assert len(page["cells"]) == 3 and page["cells"][0] == nb["cells"][0] and page["cells"][2] == nb["cells"][1]
    assert "{download}`student edition <_student/01_alpha.ipynb>`" in page["cells"][1]["source"]
    assert len(nb["cells"]) == 2, "the committed notebook is not changed"
    assert site._page_notebook(_nb("02 · Beta", exercise=False), "02_beta")["cells"] == _nb("02 · Beta", False)["cells"]


def test_readme_map_reads_the_repository_table():
    rows = site._readme_map(Path(__file__).resolve().parents[1] / "README.md")
    notebooks = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert sorted(rows) == notebooks, "the README's notebook map and notebooks/ list different notebooks"


# -- the Markdown pages ---------------------------------------------------------------------------------------


def _write_pages(folder: Path, names: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / f"{name}.md").write_text(f"Some words.\n\n# Page {name}\n\nText.\n", encoding="utf-8")


def test_pages_come_in_page_order_then_by_name(tmp_path):
    _write_pages(tmp_path, ["zeta", "training", "alpha", "course"])
    assert [p.stem for p in site.site_pages(tmp_path)] == ["course", "training", "alpha", "zeta"]
    assert site.PAGE_ORDER[:2] == ("course", "training"), "the test assumes this order of PAGE_ORDER"


@pytest.mark.parametrize("name", ["index", "03_gamma"])
def test_a_page_named_like_the_home_page_or_a_notebook_is_refused(tmp_path, name):
    _write_pages(tmp_path, ["course", name])
    with pytest.raises(ValueError, match=name):
        site.site_pages(tmp_path)


def test_home_page_lists_the_pages_and_puts_them_in_a_toctree(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(README, encoding="utf-8")
    _write_pages(tmp_path / "pages", ["alpha", "course"])
    pages = site.site_pages(tmp_path / "pages")
    paths = [Path("01_alpha.ipynb")]
    home = site._home_page(paths, {"01_alpha": _nb("01 · Alpha", exercise=False)}, readme, pages)
    assert "- [Page course](course.md)\n- [Page alpha](alpha.md)" in home, "each page by its first # heading"
    tocs = re.findall(r"```\{toctree\}\n(.*?)```", home, re.DOTALL)
    assert len(tocs) == 2 and tocs[0].split("\n\n")[1].split() == ["01_alpha"]
    assert tocs[1].split("\n\n")[1].split() == ["course", "alpha"], "the pages, in their order, after the notebooks"


@pytest.mark.browser  # builds a (small) site with Sphinx
def test_every_repository_page_is_in_the_built_sites_toctree(tmp_path):
    pytest.importorskip("myst_nb", reason='the site needs the [site] extra: pip install -e ".[site]"')
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    for stem, title in [("01_alpha", "01 · Alpha"), ("02_beta", "02 · Beta")]:
        course.write_notebook(_nb(title, exercise=False), notebooks / f"{stem}.ipynb")
    readme = tmp_path / "README.md"
    readme.write_text(README, encoding="utf-8")
    out = site.build(tmp_path / "html", notebooks, readme)
    assert PAGES, "daformer_edu/pages/ holds no page"
    sidebar = (out / "01_alpha.html").read_text(encoding="utf-8")  # the toctree, as the sidebar of a notebook page
    more = sidebar[sidebar.index('caption-text">More') :]
    for page in PAGES:
        assert (out / f"{page.stem}.html").is_file(), f"{page.name} is not a page of the built site"
        assert f'<a class="reference internal" href="{page.stem}.html">' in more, f"{page.name} is not in the toctree"


def test_pages_are_package_data():
    tomllib = pytest.importorskip("tomllib")  # Python ≥ 3.11
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["package-data"]
    globs = data.get("daformer_edu", [])
    missing = [p.name for p in PAGES if not any(fnmatch.fnmatch(f"pages/{p.name}", g) for g in globs)]
    assert not missing, f"pyproject.toml's package-data for daformer_edu does not ship {missing}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_page_links_resolve_on_github_and_in_the_site(page):
    """A relative link is to another page (``name.md``, which both GitHub and the site resolve); a repository file
    outside the folder is named in backticks, since the site has no such file."""
    links = re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8"))
    local = [link for link in links if not re.match(r"https?://", link)]
    bad = [link for link in local if not re.fullmatch(r"[\w-]+\.md(#[\w-]+)?", link)]
    assert not bad, f"{page.name}: links that would break in the built site: {bad}"
    missing = [link for link in local if not (page.parent / link.split("#")[0]).is_file()]
    assert not missing, f"{page.name}: links to pages that do not exist: {missing}"
    assert page.read_text(encoding="utf-8").startswith("# "), f"{page.name}: a page opens with its # title"


def test_readme_is_short_and_links_every_page():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    n = len(text.splitlines())
    assert n <= README_MAX_LINES, (
        f"README.md has {n} lines; keep it at {README_MAX_LINES} or fewer (move text to a page)"
    )
    linked = re.findall(r"\]\((daformer_edu/pages/[^)#\s]+\.md)(?:#[^)]*)?\)", text)
    assert linked, "README.md links no page of daformer_edu/pages/"
    missing = sorted({link for link in linked if not (ROOT / link).is_file()})
    assert not missing, f"README.md links pages that do not exist: {missing}"
    unlinked = [p.name for p in PAGES if f"daformer_edu/pages/{p.name}" not in linked]
    assert not unlinked, f"README.md does not link the pages {unlinked}"
