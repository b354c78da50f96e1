"""``environment.yml`` is the tested environment: its pins name the package's own dependencies, satisfy the ranges in
``pyproject.toml``, and the README names the same versions as the ones the committed outputs were produced with."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "environment.yml").read_text().splitlines():
        m = re.match(r"\s*-\s*([A-Za-z0-9_.\-]+)==([^\s#]+)", line)
        if m:
            pins[canonicalize_name(m.group(1))] = m.group(2)
    return pins


def _requirements() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"]) + [r for extra in project["optional-dependencies"].values() for r in extra]
    return {canonicalize_name(r.name): r for r in map(Requirement, reqs)}


def test_pins_are_dependencies_within_their_ranges():
    pins, reqs = _pins(), _requirements()
    assert pins, "environment.yml pins nothing"
    for name, version in pins.items():
        if name in ("pytest", "ipykernel", "jupyterlab", "nbclient"):  # test and notebook tooling, dev extra or below
            continue
        assert name in reqs, f"environment.yml pins {name}, which pyproject.toml does not depend on"
        assert reqs[name].specifier.contains(version, prereleases=True), (
            f"environment.yml pins {name}=={version}, outside pyproject.toml's {reqs[name]}"
        )


@pytest.mark.parametrize("name", ["torch", "numpy", "matplotlib"])
def test_readme_names_the_pinned_versions(name):
    readme = (ROOT / "README.md").read_text()
    assert f"{name} {_pins()[name]}" in readme, (
        f"README.md should say the outputs were made with {name} {_pins()[name]}"
    )
