"""Helpers shared by the oracle tests (imported by name; not a test module)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
# anvil's standard test keys #1 and #2 (public, devnet only)
REPORTER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
REPORTER2_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"
ORACLE_ADDRESS = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"  # the golden vector's placeholder


def utc(s: str) -> int:
    """'2021-03-12T12:00Z' -> unix seconds."""
    return int(dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp())
