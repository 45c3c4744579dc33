"""Run the dashboard: ``cspread-web --manifest ... --rpc-url ... --relay-url ... --port N``; and
:class:`WebProcess`, the dashboard as a child process on a free port, stopped by PID."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from core.options import add_shared
from devnet.anvil import free_port
from devnet.processes import ServiceProcess, service_cmd

#: the same names `cspread` and the devnet's env.sh use (docs/cli.md), so one `source env.sh` serves both
ENV_MANIFEST, ENV_RPC, ENV_RELAY, ENV_ORACLE = (
    "CSPREAD_MANIFEST",
    "CSPREAD_RPC_URL",
    "CSPREAD_RELAY_URL",
    "CSPREAD_ORACLE_URL",
)


def _fail(message: str) -> SystemExit:
    """One line on stderr and exit 1: a service that cannot start says why, without a traceback."""
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr, flush=True)
    return SystemExit(1)


def _why(e: BaseException) -> str:
    text = str(e).splitlines()[0] if str(e).strip() else type(e).__name__
    if "cannot reach the RPC" in text:
        return f"{text} (pass --rpc-url or set {ENV_RPC}; `cspread devnet up` starts a node)"
    return text


def _port_free(host: str, port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="cspread-web", description="Compute Spread web dashboard")
    add_shared(
        p,
        "--manifest",
        "--rpc-url",
        "--relay-url",
        "--port",
        defaults={"--manifest": "deployments/31337.json", "--rpc-url": "http://127.0.0.1:8545", "--port": 8700},
        helps={"--relay-url": "order relay URL (book, orders, stream)"},
    )
    p.add_argument(
        "--oracle-url",
        "--oracle",
        dest="oracle",
        action="append",
        default=None,
        help=f"an oracle reporter's URL, for the index column and chart (repeatable) [env {ENV_ORACLE}, "
        f"comma-separated]",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--log-level", default="info")
    a = p.parse_args(argv)
    oracles = a.oracle if a.oracle is not None else [x for x in os.environ.get(ENV_ORACLE, "").split(",") if x]
    import uvicorn

    from apps.web.app import create_app

    logging.basicConfig(level=a.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if not Path(a.manifest).is_file():
        raise _fail(
            f"the dashboard cannot start: no deployment manifest at {a.manifest} (pass --manifest or set "
            f"{ENV_MANIFEST}; `cspread devnet up` writes one and prints it)"
        )
    if a.port and not _port_free(a.host, a.port):
        raise _fail(f"port {a.port} on {a.host} is in use (another dashboard?): pass --port N")
    try:
        app = create_app(a.manifest, a.rpc_url, a.relay_url, oracle_urls=oracles)
    except Exception as e:  # noqa: BLE001 - the one place a failed start becomes one line
        if os.environ.get("CSPREAD_DEBUG"):
            raise
        raise _fail(f"the dashboard cannot start: {_why(e)}") from None
    print(f"Compute Spread dashboard: http://{a.host}:{a.port}/", flush=True)
    uvicorn.run(app, host=a.host, port=a.port, log_level=a.log_level, access_log=False)


class WebProcess(ServiceProcess):
    """``python -m apps.web`` as a child process (own session, free port), stopped by PID."""

    name = "dashboard"
    health_path = "/api/health"

    def __init__(
        self,
        manifest: str | Path,
        rpc: str,
        relay: str | None = None,
        port: int | None = None,
        oracle_urls: list[str] | None = None,
        log_path: str | Path | None = None,
    ):
        port = port or free_port()
        cmd = service_cmd("apps.web", manifest, rpc, port)
        if relay:
            cmd += ["--relay-url", relay]
        for o in oracle_urls or []:
            cmd += ["--oracle-url", o]
        super().__init__(cmd, port, dict(os.environ, PYTHONUNBUFFERED="1"), log_path)
