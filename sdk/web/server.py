"""Run the dashboard: ``python -m sdk.web --manifest ... --rpc ... --relay ... --port N``; and
:class:`WebProcess`, the dashboard as a child process on a free port, stopped by PID."""
from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m sdk.web", description="Compute Spread web dashboard")
    p.add_argument("--manifest", default=os.environ.get("CSPREAD_MANIFEST", "deployments/31337.json"),
                   help="deployment manifest (deployments/<chain_id>.json)")
    p.add_argument("--rpc", default=os.environ.get("CSPREAD_RPC", "http://127.0.0.1:8545"), help="JSON-RPC URL")
    p.add_argument("--relay", default=os.environ.get("CSPREAD_RELAY"), help="order relay URL (book, orders, stream)")
    p.add_argument("--oracle", action="append", default=[],
                   help="an oracle reporter's URL, for the index column and chart (repeatable)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8700)
    p.add_argument("--log-level", default="info")
    a = p.parse_args(argv)
    import uvicorn

    from sdk.web.app import create_app

    logging.basicConfig(level=a.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    app = create_app(a.manifest, a.rpc, a.relay, oracle_urls=a.oracle)
    print(f"Compute Spread dashboard: http://{a.host}:{a.port}/", flush=True)
    uvicorn.run(app, host=a.host, port=a.port, log_level=a.log_level, access_log=False)


class WebProcess:
    """``python -m sdk.web`` as a child process (own session, free port), stopped by PID."""

    def __init__(self, manifest: str | Path, rpc: str, relay: str | None = None, port: int | None = None,
                 oracle_urls: list[str] | None = None, log_path: str | Path | None = None):
        from sdk.devnet import free_port

        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.cmd = [sys.executable, "-m", "sdk.web", "--manifest", str(manifest), "--rpc", rpc,
                    "--port", str(self.port), "--log-level", "warning"]
        if relay:
            self.cmd += ["--relay", relay]
        for o in oracle_urls or []:
            self.cmd += ["--oracle", o]
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> "WebProcess":
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(self.cmd, env=env, cwd=str(ROOT), stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dashboard exited with {self.proc.returncode} (see {self.log_path})")
            try:
                if httpx.get(self.url + "/api/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"dashboard did not answer on {self.url} within {timeout:.0f} s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.proc = None

    def __enter__(self) -> "WebProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
