"""`make demo` end to end: the narrated month on a real local stack (anvil, deploy, reporters,
keepers, relay, market makers) exits 0, writes the chart and narrates the liquidation and the
settlement. Runs in `make test` (about 2 minutes on 2 cores)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from devnet.anvil import ROOT

pytestmark = pytest.mark.integration


def test_make_demo_end_to_end():
    png = ROOT / "out" / "demo.png"
    if png.exists():
        png.unlink()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CSPREAD_")}
    # act three has its own test (test_demo_pool.py): this one keeps to the first two acts' budget
    env.update(PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1", DEMO_POOL="0")
    proc = subprocess.run(
        [sys.executable, "-m", "scripts.demo"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=420
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert png.exists() and png.stat().st_size > 10_000, "out/demo.png was not written"
    assert "Liquidation (chain event" in out, out[-4000:]
    assert "Settlement finalised" in out and "SPREAD.H100-SXM.HB_WEST.2021-02" in out, out[-4000:]
    assert "settled operator" in out and "bad debt" in out, out[-4000:]
    assert "out/demo.png" in out
    # issue 10: the lister lists the curve (nobody types a market in) and the chart draws each series
    # as a curve, more than one listed window a line
    listed = re.search(r"The lister keeper .*? listed (\d+)\s+delivery\s+windows", out, re.S)
    assert listed and int(listed.group(1)) > 0, out[-4000:]
    panel = re.search(r"Curve panel of out/demo.png: (.*)", out)
    assert panel, out[-4000:]
    points = {name: int(n) for name, n in re.findall(r"(\S+) (\d+) points", panel.group(1))}
    assert len(points) >= 3 and all(n > 1 for n in points.values()), panel.group(0)
