"""Driving `cspread devnet up` as a subprocess in integration tests."""
from __future__ import annotations

import subprocess
import time

from sdk.cli.devnet import READY


def read_until_ready(proc: subprocess.Popen, timeout: float = 240) -> str:
    """The devnet's stdout up to and including its ready line. Fails with what it printed if it exits
    first (stdout and stderr) or stays silent about being ready for `timeout` seconds; stopping it
    (SIGINT, so it stops its children) stays with the caller."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:  # exited: its stderr is complete
            raise AssertionError(f"devnet exited before ready:\n{''.join(lines)}{proc.stderr.read()}")
        lines.append(line)
        if line.startswith(READY):
            return "".join(lines)
    raise AssertionError(f"devnet not ready within {timeout:.0f} s:\n{''.join(lines)}")
