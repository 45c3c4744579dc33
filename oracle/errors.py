"""Exceptions of the oracle package. All derive from :class:`OracleError` and from the
matching builtin (``LookupError`` / ``ValueError``), so callers can catch either."""

from __future__ import annotations


class OracleError(Exception):
    """Base class of every oracle error."""


class SeriesUnavailable(OracleError, LookupError):
    """A source has no data for the requested series (e.g. ERCOT real-time in the replay)."""


class WindowOpen(OracleError, ValueError):
    """A settlement value was requested before the delivery window closed."""


class MissingData(OracleError, ValueError):
    """Delivery hours (or GPU fixings) without a price; ``missing`` holds their UTC starts."""

    def __init__(self, message: str, missing: tuple[int, ...] = ()):
        super().__init__(message)
        self.missing = missing


class NoEstimate(OracleError, ValueError):
    """No trailing data to estimate the unrealised part of a delivery window."""
