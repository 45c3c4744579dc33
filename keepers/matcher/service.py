"""Run the relay (and optionally the matching loop) in one process.

    cspread-relay --manifest deployments/31337.json --rpc-url http://127.0.0.1:8545 --port 8600
    CSPREAD_MATCHER_KEY=0x... cspread-relay ... --match

The shared options read CSPREAD_MANIFEST, CSPREAD_RPC_URL, CSPREAD_PORT, CSPREAD_DB and
CSPREAD_KEY_ENV; every other setting has a CSPREAD_RELAY_* variable (keepers/matcher/config.py).
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

import uvicorn

from keepers.matcher.app import create_app
from keepers.matcher.config import RelaySettings
from sdk.devnet import free_port
from sdk.options import add_shared
from sdk.processes import ServiceProcess


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="cspread-relay", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_shared(p, "--manifest", "--rpc-url", "--port", "--db", "--key-env", defaults={"--port": 8600}, helps={
        "--key-env": "name of the env var holding the matcher's hex key (default CSPREAD_MATCHER_KEY)"})
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--match", action="store_true", help="run the matching loop (key from --key-env)")
    p.add_argument("--no-margin-check", action="store_true", help="accept orders without the margin pre-check")
    p.add_argument("--log-level", default="info")
    a = p.parse_args(argv)
    over: dict = {}
    if a.manifest:
        over["manifest"] = a.manifest
    if a.rpc_url:
        over["rpc_url"] = a.rpc_url
    if a.db:
        over["database_url"] = a.db if "://" in a.db else f"sqlite:///{a.db}"
    if a.match:
        over["match"] = True
    if a.key_env:
        over["matcher_key_env"] = a.key_env
    if a.no_margin_check:
        over["check_margin"] = False
    settings = RelaySettings(**over)
    logging.basicConfig(level=a.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    uvicorn.run(create_app(settings), host=a.host, port=a.port, log_level=a.log_level, access_log=False)


class RelayProcess(ServiceProcess):
    """The relay as a child process on a free port, started and stopped by PID (tests, bench, devnet)."""

    name = "relay"

    def __init__(self, manifest: str, rpc: str, db: str, port: int | None = None, match_key: str | None = None,
                 log_path: str | None = None, extra_env: dict | None = None):
        port = port or free_port()
        cmd = [sys.executable, "-m", "keepers.matcher.service", "--manifest", str(manifest), "--rpc-url", rpc,
               "--port", str(port), "--db", str(db), "--log-level", "warning"]
        env = dict(os.environ, **(extra_env or {}))
        if match_key:
            cmd.append("--match")
            env["CSPREAD_MATCHER_KEY"] = match_key
        super().__init__(cmd, port, env, log_path)


if __name__ == "__main__":
    main()
