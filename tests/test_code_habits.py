"""Habits that keep the library readable top to bottom, checked on its source (``ast``, no import):

- no class over 250 lines and no function over 80 (from the ``def``/``class`` line to its last line);
- no private name (``_x``) used across packages: modules of one sub-package (``data/synthetic``, ``viz``, …) may
  share helpers, but what another package needs — or another top-level module of ``daformer_edu`` — is public and
  documented.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "daformer_edu"
SOURCES = sorted(PACKAGE.rglob("*.py"))
MAX_FUNCTION, MAX_CLASS = 80, 250


def _tree(path: Path) -> ast.AST:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _too_long(tree: ast.AST, name: str) -> list[str]:
    out = []
    for node in ast.walk(tree):
        limit = MAX_CLASS if isinstance(node, ast.ClassDef) else MAX_FUNCTION
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            lines = node.end_lineno - node.lineno + 1
            if lines > limit:
                out.append(f"{name}:{node.lineno} {node.name} has {lines} lines (at most {limit})")
    return out


def _home(target: Path) -> Path:
    """The package a module belongs to: its folder, except that each top-level module is a package of its own."""
    return target if target.parent == PACKAGE else target.parent


def _target(path: Path, node: ast.ImportFrom) -> Path:
    """The file a relative or absolute ``from … import`` of ``path`` reads."""
    if node.level:
        base = path.parent
        for _ in range(node.level - 1):
            base = base.parent
    else:
        base = PACKAGE.parent
    module = base.joinpath(*(node.module or "").split(".")) if node.module else base
    return module.with_suffix(".py") if module.with_suffix(".py").exists() else module / "__init__.py"


def _private_imports(tree: ast.AST, path: Path) -> list[str]:
    """``from .x import _y`` and ``module._y`` where ``_y`` lives in another package than ``path``."""
    out, modules = [], {}
    name = path.name
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("daformer_edu")):
            target = _target(path, node)
            for alias in node.names:
                private = alias.name.startswith("_") and not alias.name.startswith("__")
                if private and _home(target) != _home(path):
                    out.append(f"{name}:{node.lineno} imports {alias.name} from {node.module or '.'}")
                sub = target.parent / alias.name
                modules[alias.asname or alias.name] = sub.with_suffix(".py") if sub.with_suffix(".py").exists() else sub
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and _home(modules[node.value.id]) != _home(path)
        ):
            out.append(f"{name}:{node.lineno} uses {node.value.id}.{node.attr}")
    return out


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_no_long_functions_or_classes(path):
    assert _too_long(_tree(path), path.name) == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_no_private_name_crosses_a_module(path):
    assert _private_imports(_tree(path), path) == []


def test_the_checks_can_fail():
    long_function = "def f():\n" + "    x = 1\n" * 80
    assert _too_long(ast.parse(long_function), "m.py") == ["m.py:1 f has 81 lines (at most 80)"]
    assert _too_long(ast.parse("def f():\n" + "    x = 1\n" * 79), "m.py") == []
    sneaky = "from .models.weights import _load\nfrom . import course\ncourse._read(1)\n"
    assert _private_imports(ast.parse(sneaky), PACKAGE / "m.py") == [
        "m.py:1 imports _load from models.weights",
        "m.py:3 uses course._read",
    ]
    # within one sub-package, helpers may be shared
    assert _private_imports(ast.parse("from .common import _image\n"), PACKAGE / "viz" / "runs.py") == []
