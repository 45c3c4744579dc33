"""Shared argument parsing for the examples: manifest, RPC and key from flags or env."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from sdk.errors import ComputeSpreadError  # noqa: E402


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--manifest", default=os.environ.get("CS_MANIFEST", "deployments/31337.json"))
    p.add_argument("--rpc", default=os.environ.get("CS_RPC_URL", "http://127.0.0.1:8545"))
    p.add_argument("--key", default=os.environ.get("CS_PRIVATE_KEY"), help="hex private key (or env CS_PRIVATE_KEY)")
    return p


def run(main) -> None:
    """Typed SDK errors become one clear line and exit code 1."""
    try:
        main()
    except ComputeSpreadError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
