"""Demo act three (scripts/demo_pool.py) end to end on its own devnet, with 40 hosts instead of
1,000 (the same code path; `make demo` with DEMO_POOL=1 runs the 1,000): hosts at two ERCOT
nodes join in batches, the manager keeper hedges both February windows over the replayed month,
and each host's outcome without and with the pool is printed and charted."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from devnet.anvil import ROOT

pytestmark = pytest.mark.integration


def test_demo_pool_act_three():
    png = ROOT / "out" / "demo_pool.png"
    if png.exists():
        png.unlink()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CSPREAD_")}
    env.update(PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1", COLUMNS="160")
    proc = subprocess.run(
        [sys.executable, "-m", "scripts.demo_pool", "--hosts", "40"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "40 hosts joined and declared their GPUs" in out
    # every step shows the pool short at both nodes once the keeper has hedged
    shorts = re.findall(r"pool short HB_WEST ([\d,]+) GPU-h, HB_NORTH ([\d,]+) GPU-h", out) or re.findall(
        r"pool short HB_NORTH ([\d,]+) GPU-h, HB_WEST ([\d,]+) GPU-h", out
    )
    assert len(shorts) >= 7, out[-4000:]
    assert all(int(a.replace(",", "")) > 0 and int(b.replace(",", "")) > 0 for a, b in shorts), shorts
    assert "without and with the pool" in out
    rows = re.findall(r"(HB_WEST|HB_NORTH)\s*│\s*20\s*│", out)
    assert sorted(rows) == ["HB_NORTH", "HB_WEST"], out[-3000:]
    assert png.exists() and png.stat().st_size > 10_000
