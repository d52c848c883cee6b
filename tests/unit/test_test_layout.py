"""Test modules never import each other: shared helpers live in tests/support or conftest.py."""
from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def imports_from_tests(path: Path) -> list[str]:
    """Every module under `tests` this file imports ('.' for a relative import)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            names.append("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
    return [n for n in names if n == "tests" or n.startswith(("tests.", "."))]


def is_test_module(name: str) -> bool:
    """A test_*.py or conftest.py module, or a relative import (always of a test folder's)."""
    last = name.rsplit(".", 1)[-1]
    return name.startswith(".") or last.startswith("test_") or last == "conftest"


def offending_imports(path: Path) -> list[str]:
    """Imports of test modules; outside tests/airflow also of helpers not in tests/support."""
    in_support = ("tests.support", "tests.support.")
    own_helpers = "airflow" in path.relative_to(TESTS).parts  # harness.py, owned with its venv
    return [n for n in imports_from_tests(path) if is_test_module(n)
            or not (own_helpers or n == in_support[0] or n.startswith(in_support[1]))]


def test_no_test_module_imports_another_test_module():
    modules = sorted(TESTS.rglob("test_*.py")) + sorted(TESTS.rglob("conftest.py"))
    assert len(modules) > 30  # the scan found the suite
    offenders = {str(path.relative_to(TESTS)): found for path in modules
                 if (found := offending_imports(path))}
    assert offenders == {}


def test_the_scan_sees_an_import_of_a_test_module(tmp_path):
    module = tmp_path / "test_x.py"
    module.write_text("from tests.integration.test_api_serve import serve\n"
                      "import tests.e2e.conftest\nfrom . import helpers\n"
                      "from tests.reliability.backlog import legacy_backlog\n"
                      "from tests.support.cli import cli\n")
    assert [n for n in imports_from_tests(module) if is_test_module(n)] == [
        "tests.integration.test_api_serve", "tests.e2e.conftest", "."]
    assert len(imports_from_tests(module)) == 5
