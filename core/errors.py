"""The typed errors the core raises.

One base, :class:`ComputeSpreadError`; each subclass also inherits the builtin it behaves like
(``ValueError`` for bad input), so ``except ValueError`` keeps working. ``sdk.errors`` re-exports
these as part of the SDK's error hierarchy, so an SDK user catches them under the same names.
"""

from __future__ import annotations

from typing import Any


class ComputeSpreadError(Exception):
    """Base of every Compute Spread error. ``reason`` is the contract's revert reason when there was one."""

    def __init__(self, message: str, *, reason: str | None = None, **details: Any):
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.details = details
        for k, v in details.items():
            setattr(self, k, v)

    def __str__(self) -> str:
        return self.message


class InvalidAmount(ComputeSpreadError, ValueError):
    """A money or size value is a float, not a number, negative or finer than the chain allows."""


class InvalidOrder(ComputeSpreadError, ValueError):
    """The order itself is malformed (side, tick, step, expiry, market mismatch)."""


class BelowMinimum(InvalidOrder):
    """The size is below the market's minimum quantity (``minimum`` in units)."""


class ManifestError(ComputeSpreadError, ValueError):
    """The deployment manifest is missing, unreadable, lacks a field or disagrees with its specs;
    the message says which."""


class StatementError(ComputeSpreadError, ValueError):
    """A hedge statement cannot be made from what was asked (the subclasses say why)."""


class InvalidAccount(StatementError):
    """The account is not an Ethereum address (0x followed by 40 hex digits)."""


class InvalidMonthRange(StatementError):
    """The month range is not ``YYYY-MM`` or ``YYYY-MM..YYYY-MM`` with the start not after the end."""


class NoPositions(StatementError):
    """The account held no position delivering in the months asked for."""


class LedgerMismatch(StatementError):
    """The account's fills and settlements do not reproduce the position the Clearinghouse holds
    (events missing from the range read): a statement built on them would not verify."""
