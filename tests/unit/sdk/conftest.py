"""Fixtures of the SDK unit tests: markets from the real markets/default.json, no chain."""

from __future__ import annotations

import pytest

from scripts._markets import load_markets
from tests.utils.sdk_helpers import NOW, market_from_entry


@pytest.fixture(scope="session")
def default_markets():
    return [market_from_entry(m.manifest_entry(i + 1)) for i, m in enumerate(load_markets(None, NOW))]
