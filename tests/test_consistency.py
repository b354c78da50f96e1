"""The library and the notebooks must not drift apart (the failure that broke d2l's readers).

Checked here, mechanically:
- every module of ``daformer_edu`` declares ``__all__`` (its public API) and defines every name it lists;
- every public function / class has a docstring (a ``Taught in:`` line, where one is written, names a notebook
  that exists);
- the README's notebook map (the table under "## The notebooks": notebook → library piece) holds: every piece a
  row names exists in the package, and that notebook's code cells import it, or use it through a module they
  import (``test_map_check_fails_on_a_doctored_row`` shows the check failing on doctored rows);
- no notebook re-defines a name the package exports (a student would then test their copy, not ours);
- every notebook imports ``daformer_edu``, is committed executed, has no error output, and any
  widget output carries its state (GitHub refuses to render widget metadata without state).
"""

from __future__ import annotations

import ast
import fnmatch
import importlib
import inspect
import json
import pkgutil
import re
from pathlib import Path

import pytest

import daformer_edu

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
PACKAGE = "daformer_edu"

# Modules that are command-line entry points only.
SKIP_MODULES = {"daformer_edu.__main__"}


def _modules():
    yield daformer_edu
    for info in pkgutil.walk_packages(daformer_edu.__path__, prefix="daformer_edu."):
        if info.name in SKIP_MODULES or info.name.rsplit(".", 1)[-1].startswith("_"):
            continue
        yield importlib.import_module(info.name)


MODULES = list(_modules())


def _public():
    """(module name, public name, object) for every name a module defines in its own ``__all__``."""
    out = []
    for mod in MODULES:
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name, None)
            # A package re-exports names; the defining module is the one that must document them.
            defined_here = getattr(obj, "__module__", mod.__name__) == mod.__name__
            if defined_here or not (inspect.isfunction(obj) or inspect.isclass(obj)):
                out.append((mod.__name__, name, obj))
    return out


PUBLIC = _public()
EXPORTED = {name for mod in MODULES for name in getattr(mod, "__all__", [])}


def _code_cells(path: Path) -> list[str]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


def _python_only(src: str) -> str:
    """Drop IPython magics and shell escapes so ``ast`` can parse a cell."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in src.splitlines())


def test_notebooks_exist():
    assert NOTEBOOKS, "no notebooks found under notebooks/"


# -- the API: __all__ and docstrings ----------------------------------------------------------------------
@pytest.mark.parametrize("mod", MODULES, ids=lambda m: m.__name__)
def test_module_declares_all(mod):
    assert hasattr(mod, "__all__"), f"{mod.__name__} has no __all__: declare its public API"
    missing = [n for n in mod.__all__ if not hasattr(mod, n)]
    assert not missing, f"{mod.__name__}.__all__ names {missing}, which the module does not define"


@pytest.mark.parametrize("modname,name,obj", PUBLIC, ids=[f"{m}.{n}" for m, n, _ in PUBLIC])
def test_public_function_or_class_has_a_docstring(modname, name, obj):
    if not (inspect.isfunction(obj) or inspect.isclass(obj)):
        pytest.skip("constants carry no docstring")
    doc = inspect.getdoc(obj) or ""
    assert doc, f"{modname}.{name} has no docstring: say what it computes and cite its equation or paper section"
    for taught in re.findall(r"Taught in:\s*(notebooks/\S+\.ipynb)", doc):
        assert (ROOT / taught).exists(), f"{modname}.{name}: 'Taught in' names {taught}, which does not exist"


# -- the README's notebook → library map ------------------------------------------------------------------
def _readme_map(text: str) -> dict[str, list[str]]:
    """``{"01_overlapping_patch_embed": ["models.mit.OverlapPatchEmbed"], …}`` from the table under
    "## The notebooks": the backticked names in each row's last column."""
    m = re.search(r"^## The notebooks\s*$(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    assert m, "README.md has no section '## The notebooks'"
    rows = {}
    for line in m.group(1).splitlines():
        row = re.match(r"^\|\s*`(\d\d_\w+)`\s*\|.*\|([^|]*)\|\s*$", line)
        if row:
            rows[row.group(1)] = re.findall(r"`([^`]+)`", row.group(2))
    return rows


README_MAP = _readme_map((ROOT / "README.md").read_text(encoding="utf-8"))


def _resolve(dotted: str):
    """The object a dotted path names (``daformer_edu.models.mit.MixFFN``), or raise ``LookupError``."""
    parts = dotted.split(".")
    for k in range(len(parts), 0, -1):  # the longest importable prefix, then attributes
        try:
            obj = importlib.import_module(".".join(parts[:k]))
        except ImportError:
            continue
        for attr in parts[k:]:
            if not hasattr(obj, attr):
                raise LookupError(dotted)
            obj = getattr(obj, attr)
        return obj
    raise LookupError(dotted)


def _names(parent: str, pattern: str) -> list[str]:
    """The full paths ``parent.name`` that ``pattern`` names: itself if it exists, or the matches of a ``*``
    among ``parent.__all__``."""
    try:
        obj = _resolve(parent)
    except LookupError:
        return []
    if "*" in pattern:
        return [f"{parent}.{n}" for n in fnmatch.filter(getattr(obj, "__all__", []), pattern)]
    return [f"{parent}.{pattern}"] if _exists(f"{parent}.{pattern}") else []


def _exists(dotted: str) -> bool:
    try:
        _resolve(dotted)
    except LookupError:
        return False
    return True


def _expand(pieces: list[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """Each piece of a row as (piece as written, full dotted path), and the problems of pieces that do not exist.

    A dotted piece is a path inside the package (``uda.fd.thing_mask``). A bare name (``train``, ``mit_b*``) is
    looked up first in the module of the piece before it in the row (``models.mit.MixFFN``, ``mit_b*`` →
    ``models.mit.mit_b0`` … ``mit_b5``), then in the package; a ``*`` matches names in that module's ``__all__``.
    """
    out, problems, module = [], [], PACKAGE
    for piece in pieces:
        if "." in piece:
            parent, _, pattern = f"{PACKAGE}.{piece}".rpartition(".")
            bases = [parent]
        else:
            pattern, bases = piece, [module, PACKAGE]
        found = next((names for names in (_names(base, pattern) for base in bases) if names), [])
        if not found:
            problems.append(
                f"`{piece}` does not exist in the package" + (" (it matches no public name)" if "*" in piece else "")
            )
            continue
        out += [(piece, full) for full in found]
        last = found[-1]
        module = last if inspect.ismodule(_resolve(last)) else last.rpartition(".")[0]
    return out, problems


def _used(sources: list[str]) -> set[str]:
    """Every ``daformer_edu`` path the code imports or reaches through an imported module (``U.probe`` with
    ``import daformer_edu.unsupervised as U`` gives ``daformer_edu.unsupervised.probe``)."""
    used: set[str] = set()
    bound: dict[str, str] = {}  # name → the path it stands for; a notebook's cells share one namespace
    for src in sources:
        tree = ast.parse(_python_only(src))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == PACKAGE:
                used.add(node.module)
                for alias in node.names:
                    used.add(f"{node.module}.{alias.name}")
                    bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == PACKAGE:
                        used.add(alias.name)
                        bound[alias.asname or PACKAGE] = alias.name if alias.asname else PACKAGE
        for node in ast.walk(tree):
            chain = []
            while isinstance(node, ast.Attribute):
                chain.insert(0, node.attr)
                node = node.value
            if chain and isinstance(node, ast.Name) and node.id in bound:
                for k in range(1, len(chain) + 1):
                    used.add(".".join([bound[node.id], *chain[:k]]))
    return used


def _map_problems(notebook: str, pieces: list[str], sources: list[str]) -> list[str]:
    """What is wrong with the map row ``notebook → pieces`` for a notebook whose code cells are ``sources``."""
    expanded, problems = _expand(pieces)
    used = _used(sources)
    objects = []
    for path in used:
        try:
            objects.append(_resolve(path))
        except LookupError:
            pass
    for piece, full in expanded:
        obj = _resolve(full)
        if inspect.ismodule(obj):  # a module: imported itself, or something from it (or from a submodule)
            homes = list(used) + [getattr(o, "__module__", None) or "" for o in objects]
            ok = any(home == full or home.startswith(full + ".") for home in homes)
        else:  # a class, function or constant: this very object, under any import path (re-exports count)
            ok = any(o is obj for o in objects)
        if not ok:
            what = full.removeprefix(PACKAGE + ".")
            problems.append(
                f"`{piece}`: the code cells of {notebook} never import {what} nor use it through an "
                "imported module (import the piece the notebook teaches, or correct the README row)"
            )
    return problems


def test_readme_map_lists_every_notebook():
    assert sorted(README_MAP) == [p.stem for p in NOTEBOOKS], (
        f"the README's notebook map lists {sorted(README_MAP)}, notebooks/ holds {[p.stem for p in NOTEBOOKS]}"
    )
    empty = [nb for nb, pieces in README_MAP.items() if not pieces]
    assert not empty, f"README map rows that name no library piece: {empty}"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_imports_the_pieces_its_readme_row_names(nb):
    pieces = README_MAP.get(nb.stem)
    assert pieces, f"README.md's notebook map has no row for `{nb.stem}`"
    problems = _map_problems(nb.name, pieces, _code_cells(nb))
    assert not problems, f"README notebook map, row `{nb.stem}`:\n  " + "\n  ".join(problems)


def test_map_check_fails_on_a_doctored_row():
    """The map check can fail: notebook 01's row with a piece 01 never imports, and with pieces that do not exist."""
    row = README_MAP["01_overlapping_patch_embed"]
    sources = _code_cells(ROOT / "notebooks" / "01_overlapping_patch_embed.ipynb")
    assert _map_problems("01", row, sources) == []
    doctored = _map_problems("01", row + ["uda.rcs"], sources)
    assert len(doctored) == 1 and doctored[0].startswith("`uda.rcs`: the code cells of 01 never import uda.rcs")
    doctored = _map_problems("01", row + ["models.mit.NoSuchLayer", "models.mit.MixFFN", "no_*"], sources)
    assert doctored[:2] == [
        "`models.mit.NoSuchLayer` does not exist in the package",
        "`no_*` does not exist in the package (it matches no public name)",
    ], doctored
    assert len(doctored) == 3 and doctored[2].startswith("`models.mit.MixFFN`: the code cells of 01 never import")
    # the README table parsed as a reader sees it: a bare name belongs to the module before it in the row
    assert _expand(["models.mit.MixFFN", "mit_b*"])[0][-1] == ("mit_b*", "daformer_edu.models.mit.mit_b5")
    table = (
        "## The notebooks\n\n| notebook | what | piece |\n|---|---|---|\n| `01_x` | a `thing` | `uda.ema` |\n\n"
        "## Next\n\n| `02_y` | not the map | `uda.rcs` |\n"
    )
    assert _readme_map(table) == {"01_x": ["uda.ema"]}


def test_usage_through_an_imported_module_counts():
    src = ["import daformer_edu.unsupervised as U\nimport daformer_edu", "U.probe\ndaformer_edu.uda.ema.ema_update(1)"]
    used = _used(src)  # the second cell uses the names the first imported
    assert {"daformer_edu.unsupervised", "daformer_edu.unsupervised.probe", "daformer_edu.uda.ema.ema_update"} <= used
    assert _map_problems("x", ["unsupervised", "uda.ema.ema_update"], src) == []
    assert _map_problems("x", ["uda.rcs"], src) != []


# -- the notebooks ----------------------------------------------------------------------------------------
def _defined_names(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                for sub in ast.walk(t):
                    if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                        names.add(sub.id)
    return names


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_does_not_redefine_package_names(nb):
    clashes = set()
    for src in _code_cells(nb):
        clashes |= _defined_names(ast.parse(_python_only(src))) & EXPORTED
    assert not clashes, f"{nb.name} re-defines package names {sorted(clashes)}: name the derivation differently (my_…)"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_executed_and_clean(nb):
    data = json.loads(nb.read_text(encoding="utf-8"))
    code = [c for c in data["cells"] if c["cell_type"] == "code"]
    assert any("daformer_edu" in "".join(c["source"]) for c in code), f"{nb.name} never imports daformer_edu"
    assert all(c.get("execution_count") for c in code if "".join(c["source"]).strip()), (
        f"{nb.name} has unexecuted cells: run `jupyter nbconvert --to notebook --execute --inplace {nb}`"
    )
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{nb.name} was committed with an error output: {errors[0].get('ename')}"
    has_widgets = any(
        "application/vnd.jupyter.widget-view+json" in o.get("data", {}) for c in code for o in c.get("outputs", [])
    )
    if has_widgets:
        state = data.get("metadata", {}).get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
        assert state.get("state"), f"{nb.name} has widget outputs but no widget state in its metadata"
