"""Run the relay (and optionally the matching loop) in one process.

    cspread-relay --manifest deployments/31337.json --rpc-url http://127.0.0.1:8545 --port 8600
    CSPREAD_MATCHER_KEY=0x... cspread-relay ... --match

The shared options read CSPREAD_MANIFEST, CSPREAD_RPC_URL, CSPREAD_PORT, CSPREAD_DB and
CSPREAD_KEY_ENV; every other setting has a CSPREAD_RELAY_* variable (relay/config.py).
"""

from __future__ import annotations

import argparse
import logging

import uvicorn

from core.options import add_shared
from relay.app import create_app
from relay.config import RelaySettings


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        prog="cspread-relay", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_shared(
        p,
        "--manifest",
        "--rpc-url",
        "--port",
        "--db",
        "--key-env",
        defaults={"--port": 8600},
        helps={"--key-env": "name of the env var holding the matcher's hex key (default CSPREAD_MATCHER_KEY)"},
    )
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


if __name__ == "__main__":
    main()
