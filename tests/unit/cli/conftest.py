"""The CLI unit tests reuse the SDK unit fixtures (markets from markets/default.json, no chain)."""

from tests.unit.sdk.conftest import default_markets  # noqa: F401
