"""An ImportError in the project's own code must fail a test, never skip it (issue 13): only
optional third-party tools (a browser driver, a PostgreSQL driver) may be import-skipped."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OWN = ("apps", "chain", "core", "devnet", "keepers", "oracle", "relay", "scripts", "sdk", "tests")
SKIP = re.compile(r"importorskip\(\s*[\"']([\w.]+)[\"']")


def test_no_importorskip_of_the_projects_own_modules():
    offenders = [
        f"{p.relative_to(ROOT)}:{i}: {m.group(1)}"
        for p in sorted((ROOT / "tests").rglob("*.py"))
        if p != Path(__file__).resolve()  # its own self-check below names one
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if (m := SKIP.search(line)) and m.group(1).split(".")[0] in OWN
    ]
    assert not offenders, f"import-skips of our own modules hide breakage: {offenders}"


def test_guard_reads_the_tests():
    assert any(SKIP.search(p.read_text()) is None for p in (ROOT / "tests").rglob("test_*.py"))
    assert SKIP.search('x = pytest.importorskip("core.series", reason="y")').group(1) == "core.series"
