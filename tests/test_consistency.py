"""The library and the notebooks must not drift apart (the failure that broke d2l's readers).

Checked here, mechanically:
- every module of ``daformer_edu`` declares ``__all__`` (its public API);
- every public function / class has a docstring whose ``Taught in:`` line names a notebook that exists;
- every public name is used by some notebook (or is listed in NOT_IN_NOTEBOOKS with the reason);
- no notebook re-defines a name the package exports (a student would then test their copy, not ours);
- every notebook imports ``daformer_edu``, is committed executed, has no error output, and any
  widget output carries its state (GitHub refuses to render widget metadata without state).
"""
from __future__ import annotations

import ast
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

# Public names that no notebook needs to call, each with the reason.
NOT_IN_NOTEBOOKS: dict[str, str] = {
    "main": "command-line entry points (python -m daformer_edu.course / .train / .pretrain)",
    "stamp_time": "command-line only: python -m daformer_edu.course times",
    "write_edition": "command-line only: python -m daformer_edu.course student|solutions OUT_DIR",
}

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
            obj = getattr(mod, name)
            # A package re-exports names; the defining module is the one that must document them.
            defined_here = getattr(obj, "__module__", mod.__name__) == mod.__name__
            if defined_here or not (inspect.isfunction(obj) or inspect.isclass(obj)):
                out.append((mod.__name__, name, obj))
    return out


PUBLIC = _public()
EXPORTED = {name for mod in MODULES for name in getattr(mod, "__all__", [])}


def _code_cells(path: Path) -> list[str]:
    nb = json.loads(path.read_text())
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


def _python_only(src: str) -> str:
    """Drop IPython magics and shell escapes so ``ast`` can parse a cell."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in src.splitlines())


def test_notebooks_exist():
    assert NOTEBOOKS, "no notebooks found under notebooks/"


@pytest.mark.parametrize("mod", MODULES, ids=lambda m: m.__name__)
def test_module_declares_all(mod):
    assert hasattr(mod, "__all__"), f"{mod.__name__} has no __all__: declare its public API"
    missing = [n for n in mod.__all__ if not hasattr(mod, n)]
    assert not missing, f"{mod.__name__}.__all__ names {missing}, which the module does not define"


@pytest.mark.parametrize("modname,name,obj", PUBLIC, ids=[f"{m}.{n}" for m, n, _ in PUBLIC])
def test_public_docstring_says_where_it_is_taught(modname, name, obj):
    if not (inspect.isfunction(obj) or inspect.isclass(obj)):
        pytest.skip("constants carry no docstring")
    doc = inspect.getdoc(obj) or ""
    assert doc, f"{modname}.{name} has no docstring"
    m = re.search(r"Taught in:\s*(notebooks/\S+\.ipynb)", doc)
    assert m, f"{modname}.{name}: docstring needs a line 'Taught in: notebooks/NN_name.ipynb'"
    assert (ROOT / m.group(1)).exists(), f"{modname}.{name}: 'Taught in' names {m.group(1)}, which does not exist"


def test_every_public_name_is_used_by_a_notebook():
    text = "\n".join(src for nb in NOTEBOOKS for src in _code_cells(nb))
    unused = sorted(
        f"{m}.{n}" for m, n, _ in PUBLIC if n not in NOT_IN_NOTEBOOKS and not re.search(rf"\b{re.escape(n)}\b", text)
    )
    assert not unused, f"public names no notebook uses (teach them, or list them in NOT_IN_NOTEBOOKS): {unused}"


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
    data = json.loads(nb.read_text())
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
