"""Benches and the devnet are tools a user runs from an installed package: they never import the
test suite (issue 13). The check parses every module's imports, so a bench that reaches into
``tests`` fails here rather than on a machine without the tests directory."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
# imports of tests.utils this round could not move without editing another engineer's files
# (the titanoboa deployers the pool bench uses: tests/utils/deployers.py, contract_helpers.py);
# the test below also fails once such an entry no longer imports tests, so the list only shrinks
KNOWN: set[str] = set()


def _test_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = (
            [a.name for a in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
            if isinstance(node, ast.ImportFrom) and node.level == 0
            else []
        )
        found += [n for n in names if n == "tests" or n.startswith("tests.")]
    return found


def _tools() -> list[Path]:
    return sorted((ROOT / "scripts").glob("bench*.py")) + sorted((ROOT / "devnet").glob("*.py"))


@pytest.mark.parametrize("path", _tools(), ids=lambda p: str(p.relative_to(ROOT)))
def test_tool_imports_no_test_module(path):
    rel = str(path.relative_to(ROOT))
    if rel in KNOWN:
        assert _test_imports(path), f"{rel} no longer imports tests: drop it from KNOWN"
        return
    assert _test_imports(path) == [], f"{rel} imports the test suite: move what it needs into devnet/ or core/"


def test_the_check_sees_a_test_import(tmp_path):
    bad = tmp_path / "bench_bad.py"
    bad.write_text("def run():\n    from tests.utils.postgres import PostgresServer\n    import tests.utils\n")
    assert _test_imports(bad) == ["tests.utils.postgres", "tests.utils"]


def test_postgres_server_lives_in_devnet():
    from devnet.postgres import PostgresServer

    assert PostgresServer.__module__ == "devnet.postgres"
    assert not (ROOT / "tests" / "utils" / "postgres.py").exists()
