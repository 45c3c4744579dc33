"""Child processes started and stopped by PID, each in its own session (so its children go too).

One place for what the devnet, the stack, the relay and the dashboard all need: spawn with a
log file, wait until healthy, stop with SIGTERM then SIGKILL. Nothing else on the machine is
touched.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from devnet.anvil import free_port


def stop_group(proc: subprocess.Popen | None, grace: float = 10.0) -> None:
    """SIGTERM the process group of `proc`, SIGKILL after `grace` seconds; idempotent."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(5)


def http_ok(url: str, codes: tuple[int, ...] = (200,)) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code in codes
    except httpx.HTTPError:
        return False


def wait_until_healthy(
    proc: subprocess.Popen, healthy: Callable[[], bool], timeout: float, what: str, log_path: str | Path | None = None
) -> None:
    """Poll `healthy()` until True; raise RuntimeError if `proc` exits or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} (see {log_path or 'its output'})")
        if healthy():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not become healthy within {timeout:.0f} s (see {log_path or 'its output'})")


def service_cmd(module: str, manifest: str | Path, rpc: str, port: int, *extra: str) -> list[str]:
    """``python -m <module>`` with the options every HTTP service shares (docs/cli.md: the
    manifest, the RPC, its port) and quiet logs; ``extra`` options after them."""
    shared = ["--manifest", str(manifest), "--rpc-url", rpc, "--port", str(port)]
    return [sys.executable, "-m", module, *shared, *extra, "--log-level", "warning"]


class ServiceProcess:
    """An HTTP service as a child process on `port`, healthy when GET `health_path` answers 200."""

    name = "service"
    health_path = "/health"

    def __init__(
        self,
        cmd: list[str],
        port: int,
        env: dict[str, str] | None = None,
        log_path: str | Path | None = None,
        cwd: str | Path | None = None,
    ):
        self.cmd, self.port, self.cwd = cmd, port, cwd
        self.url = f"http://127.0.0.1:{port}"
        self.env = dict(os.environ if env is None else env)
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0):
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            self.cmd, env=self.env, cwd=self.cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            wait_until_healthy(
                self.proc, lambda: http_ok(self.url + self.health_path), timeout, self.name, self.log_path
            )
        except RuntimeError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        stop_group(self.proc)
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class RelayProcess(ServiceProcess):
    """The relay as a child process on a free port, started and stopped by PID (tests, bench, devnet)."""

    name = "relay"

    def __init__(
        self,
        manifest: str,
        rpc: str,
        db: str,
        port: int | None = None,
        match_key: str | None = None,
        log_path: str | None = None,
        extra_env: dict | None = None,
    ):
        port = port or free_port()
        cmd = service_cmd("relay.service", manifest, rpc, port, "--db", str(db))
        env = dict(os.environ, **(extra_env or {}))
        if match_key:
            cmd.append("--match")
            env["CSPREAD_MATCHER_KEY"] = match_key
        super().__init__(cmd, port, env, log_path)


class KeeperProcess(ServiceProcess):
    """A keeper console script (``python -m keepers.<name>``: pusher, liquidator, settler, lister)
    as a child process with its Prometheus endpoint on a free port, healthy when ``/metrics``
    answers; the key travels in an env var named by ``--key-env``, never on the command line."""

    health_path = "/metrics"

    def __init__(
        self,
        name: str,
        manifest: str | Path,
        rpc: str,
        key: str | None = None,
        args: list[str] | tuple[str, ...] = (),
        port: int | None = None,
        log_path: str | Path | None = None,
        extra_env: dict | None = None,
        poll_interval: float = 0.2,
    ):
        self.name = name
        port = port or free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CSPREAD_")}
        env.update(extra_env or {})
        cmd = [
            sys.executable,
            "-m",
            f"keepers.{name}",
            "--manifest",
            str(manifest),
            "--rpc-url",
            rpc,
            "--metrics-port",
            str(port),
            "--poll-interval",
            str(poll_interval),
        ]
        if key:
            env["CSPREAD_KEEPER_KEY"] = key
            cmd += ["--key-env", "CSPREAD_KEEPER_KEY"]
        super().__init__(cmd + list(args), port, env, log_path)

    def metrics(self) -> dict[str, float]:
        """Unlabelled samples of ``/metrics`` (``cspread_<name>_`` prefix dropped)."""
        out = {}
        prefix = f"cspread_{self.name}_"
        for line in httpx.get(self.url + "/metrics", timeout=5).text.splitlines():
            if line.startswith(prefix) and "{" not in line:
                k, v = line.split()
                out[k.removeprefix(prefix)] = float(v)
        return out
