"""The README's development checks hold: ruff is clean, mypy --strict passes on the package,
and the layering declared in .importlinter is kept and covers every package."""

from __future__ import annotations

import ast
import configparser
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_ruff_is_clean() -> None:
    result = subprocess.run([BIN / "ruff", "check", "reconciler", "tests", "bench"],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_mypy_strict_passes_on_the_package() -> None:
    result = subprocess.run([BIN / "mypy"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success" in result.stdout


def test_layering_contracts_are_kept() -> None:
    result = subprocess.run([BIN / "lint-imports", "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def contract_sources(config_text: str) -> dict[str, set[str]]:
    """Contract name → the reconciler modules it constrains (sources, or every layer)."""
    parser = configparser.ConfigParser()
    parser.read_string(config_text)
    out: dict[str, set[str]] = {}
    for section in parser.sections():
        if not section.startswith("importlinter:contract:"):
            continue
        contract = parser[section]
        listed = contract.get("source_modules", "") + "\n" + contract.get("layers", "")
        out[contract["name"]] = {line.strip() for line in listed.splitlines() if line.strip()}
    return out


def uncovered_modules(package: Path, constrained: set[str]) -> list[str]:
    """Sub-packages and top-level modules of ``package`` no contract constrains.

    ``cli`` (the entry point, nothing may import it) and ``__main__`` need none.
    """
    names = [p.name for p in package.iterdir() if p.is_dir() and (p / "__init__.py").exists()]
    names += [p.stem for p in package.glob("*.py") if p.stem not in ("__init__", "__main__", "cli")]
    return sorted(f"{package.name}.{name}" for name in names if f"{package.name}.{name}" not in constrained)


def test_every_package_has_a_contract() -> None:
    """A new package must say what it may import (ARCHITECTURE.md, "Layers")."""
    contracts = contract_sources((ROOT / ".importlinter").read_text())
    constrained = set().union(*contracts.values())
    assert uncovered_modules(ROOT / "reconciler", constrained) == []


def test_a_package_without_a_contract_is_found(tmp_path: Path) -> None:
    package = tmp_path / "reconciler"
    (package / "core").mkdir(parents=True)
    (package / "core" / "__init__.py").write_text("")
    (package / "newpkg").mkdir()
    (package / "newpkg" / "__init__.py").write_text("")
    (package / "cli.py").write_text("")
    (package / "errors.py").write_text("")
    contracts = contract_sources(
        "[importlinter]\nroot_package = reconciler\n\n"
        "[importlinter:contract:x]\nname = x\ntype = forbidden\n"
        "source_modules =\n    reconciler.core\nforbidden_modules =\n    httpx\n"
    )
    assert uncovered_modules(package, set().union(*contracts.values())) == [
        "reconciler.errors", "reconciler.newpkg",
    ]


def imports_of_test_modules(tests_root: Path) -> list[str]:
    """``file:line module`` for every import of a test module (anything under ``tests`` but
    ``tests.support``, or a relative import): tests share helpers through ``tests/support``
    and fixtures through ``conftest.py``, never by importing each other."""
    found: list[str] = []
    for path in sorted(tests_root.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                names = [("." * node.level) + (node.module or "")]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                inside = name.startswith(".") or name == "tests" or name.startswith("tests.")
                if inside and not (name == "tests.support" or name.startswith("tests.support.")):
                    found.append(f"{path.relative_to(tests_root.parent)}:{node.lineno} {name}")
    return found


def test_no_test_module_imports_another() -> None:
    assert imports_of_test_modules(ROOT / "tests") == []


def test_an_import_of_a_test_module_is_found(tmp_path: Path) -> None:
    tests = tmp_path / "tests"
    (tests / "sync").mkdir(parents=True)
    (tests / "support").mkdir()
    (tests / "support" / "jobs.py").write_text("import json\n")
    (tests / "sync" / "test_a.py").write_text(
        "from tests.support.jobs import make_job\nimport tests.support.git\n"
    )
    (tests / "sync" / "test_b.py").write_text(
        "from tests.sync.test_a import make_job\nfrom .conftest import repo\n"
        "def f():\n    import tests.daemon.harness\n"
    )
    assert imports_of_test_modules(tests) == [
        "tests/sync/test_b.py:1 tests.sync.test_a",
        "tests/sync/test_b.py:2 .conftest",
        "tests/sync/test_b.py:4 tests.daemon.harness",
    ]
