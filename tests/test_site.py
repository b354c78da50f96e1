"""The course site's home page is generated from the notebooks and the README's map (daformer_edu/site.py).

Checked on a hand-made README and two hand-made notebooks, so a row is compared with what the test wrote, not with
the builder's own reading of the repository. The real build, served and visited in a browser: tests/test_browser.py.
"""
from __future__ import annotations

from pathlib import Path

from daformer_edu import site

README = """# x

| notebook | what it builds | library piece |
|---|---|---|
| `01_alpha` | patches and tokens | `models.mit.OverlapPatchEmbed` |
| `02_beta` | attention's cost | `models.mit.EfficientSelfAttention` |

Some prose | with a bar | that is not a row.
"""


def _nb(title: str, exercise: bool) -> dict:
    first = {"cell_type": "markdown", "metadata": {}, "source": f"# {title}\n\n**Time:** reading ≈ 7 min "
             "(1 words, 2 lines of code) · running ≈ 12 s on a 2-core CPU (measured)"}
    cells = [first, {"cell_type": "code", "metadata": {"tags": ["exercise"] if exercise else []}, "source": "x = 1",
                     "outputs": [], "execution_count": 1}]
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def test_home_page_is_the_notebook_map(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(README, encoding="utf-8")
    paths = [Path("01_alpha.ipynb"), Path("02_beta.ipynb")]
    nbs = {"01_alpha": _nb("01 · Alpha: a long subtitle", exercise=True), "02_beta": _nb("02 · Beta", exercise=False)}
    home = site._home_page(paths, nbs, readme)
    rows = [line for line in home.splitlines() if line.startswith("| [")]
    assert rows[0] == ("| [01 · Alpha](01_alpha.ipynb) | patches and tokens | `models.mit.OverlapPatchEmbed` | "
                       "7 min reading, 12 s running | {download}`student edition <_student/01_alpha.ipynb>` |")
    assert rows[1] == ("| [02 · Beta](02_beta.ipynb) | attention's cost | `models.mit.EfficientSelfAttention` | "
                       "7 min reading, 12 s running |  |"), "no exercise, no student edition to offer"
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
