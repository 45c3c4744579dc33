"""`cspread devnet up` as a child process in the integration tests: read its table until it
says "devnet ready", and check by PID that every process it started is gone after Ctrl-C."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path


def read_until_ready(proc: subprocess.Popen, timeout: float) -> list[str]:
    """stdout lines up to and including "devnet ready..." (fewer if the process ends or the
    deadline passes first; the caller checks the last line)."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("devnet ready"):
            break
    return lines


def ready(lines: list[str]) -> bool:
    return bool(lines) and lines[-1].startswith("devnet ready")


def alive(pid: int) -> bool:
    """The process exists and is not a zombie (read from /proc, so any PID, not only our children)."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def left_running(pids: set[int], timeout: float) -> list[int]:
    """The PIDs still alive once `timeout` seconds have passed or all of them have exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.2)
    return [p for p in pids if alive(p)]
