"""Run the dashboard: ``python -m sdk.web --manifest ... --rpc ... --relay ... --port N``; and
:class:`WebProcess`, the dashboard as a child process on a free port, stopped by PID."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from sdk.devnet import free_port
from sdk.processes import ServiceProcess

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


class WebProcess(ServiceProcess):
    """``python -m sdk.web`` as a child process (own session, free port), stopped by PID."""

    name = "dashboard"
    health_path = "/api/health"

    def __init__(self, manifest: str | Path, rpc: str, relay: str | None = None, port: int | None = None,
                 oracle_urls: list[str] | None = None, log_path: str | Path | None = None):
        port = port or free_port()
        cmd = [sys.executable, "-m", "sdk.web", "--manifest", str(manifest), "--rpc", rpc,
               "--port", str(port), "--log-level", "warning"]
        if relay:
            cmd += ["--relay", relay]
        for o in oracle_urls or []:
            cmd += ["--oracle", o]
        super().__init__(cmd, port, dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1"), log_path)

