"""The layer contract (pyproject.toml, [tool.importlinter]) holds on this tree and breaks on a wrong import.

`lint-imports` runs on the real tree, then on copies of it with one deliberately wrong import each:
the contract must say which rule broke. So CI (`make test`) fails on a layering mistake even where
`make lint` is not run.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGES = ("harbor_site", "system", "common", "projects", "audit", "registry", "policies", "scanning")


def _lint(root: Path, *contracts: str) -> subprocess.CompletedProcess:
    arguments = [str(LINT_IMPORTS), "--no-cache"]
    for contract in contracts:
        arguments += ["--contract", contract]
    return subprocess.run(arguments, cwd=root, capture_output=True, text=True, timeout=300, check=False)


def test_the_tree_keeps_the_contract():
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """A copy of the packages lint-imports reads (tests included: the contract ignores their imports by name)."""
    copy = tmp_path_factory.mktemp("tree")
    ignore = shutil.ignore_patterns("__pycache__")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, copy / package, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


@pytest.fixture
def tree(pristine, tmp_path) -> Path:
    copy = tmp_path / "tree"
    shutil.copytree(pristine, copy)
    return copy


def test_the_copy_keeps_the_contract(pristine):
    result = _lint(pristine)
    assert result.returncode == 0, result.stdout + result.stderr


WRONG_IMPORTS = [
    # (module that gets the import, the import, the contract it breaks)
    ("common/events.py", "from registry.oci import views", "kernel"),
    ("common/events.py", "from registry.oci import views", "layers"),
    ("registry/services/manifests.py", "import policies.selectors", "registry-core"),
    ("registry/services/manifests.py", "import policies.selectors", "layers"),
    ("registry/services/artifacts.py", "import scanning", "registry-core"),
    ("registry/digest.py", "from django.db import models", "pure"),
    ("policies/rules.py", "from policies.models import ImmutabilityRule", "pure"),
    ("projects/quotas.py", "from registry.models import Blob", "layers"),
    ("audit/services.py", "from projects.models import Project", "layers"),
    ("registry/services/gc_jobs.py", "from registry import tasks", "edges-registry"),
    ("registry/services/tokens.py", "from registry.auth.token import token_issue", "edges-registry"),
    ("policies/services.py", "from registry.api_selectors import artifacts", "edges-registry"),
    ("audit/api/views.py", "from projects.api import serializers", "edges-projects"),
]


@pytest.mark.parametrize(("module", "statement", "contract"), WRONG_IMPORTS)
def test_a_wrong_import_breaks_the_contract(tree, module, statement, contract):
    path = tree / module
    path.write_text(path.read_text() + f"\n{statement}  # deliberately wrong\n")
    result = _lint(tree, contract)
    assert result.returncode != 0, result.stdout + result.stderr
    assert "BROKEN" in result.stdout
