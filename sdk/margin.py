"""The SDK's view of the margin rules: :mod:`core.margin` (the Clearinghouse's rules, written
once) over the SDK's :class:`~sdk.models.Market` objects.

Used for pre-flight checks (will this trade / withdrawal pass the initial-margin check? will
the relay take this order?), hedge plans and liquidation prices. All values are chain integers
(base units, thousandths); the rounding is the contract's: valuations round down, margins up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

from core import margin as core
from core import units as u
from core.margin import Reservation, Resting, Summary, grows  # noqa: F401 - the SDK's public names
from sdk.models import Market


@dataclass(frozen=True)
class Holding:
    """One open position with what is needed to margin it."""

    market: Market
    quantity: int  # signed thousandths
    open_notional: int  # base units
    mark: int  # base units per unit
    settled: bool = False
    fresh: bool = True  # the mark is fresh (settled: always)
    halted: bool = False

    @property
    def leg(self) -> core.Leg:
        m = self.market
        return core.Leg(
            self.quantity,
            self.open_notional,
            self.mark,
            core.Risk(m.im_fixed, m.im_rate_bps, m.mm_fixed, m.mm_rate_bps),
            self.fresh,
            self.halted,
            self.settled,
        )


def summarise(collateral: int, holdings: Mapping[int, Holding]) -> Summary:
    """Clearinghouse._summary over ``holdings`` (market id -> Holding)."""
    return core.summarise(collateral, (h.leg for h in holdings.values()))


def apply_fill(collateral: int, holding: Holding, delta: int, price: int, fee: int) -> tuple[int, Holding]:
    """Clearinghouse._apply_fill: move the position by ``delta`` at ``price``, charge ``fee``.
    Returns (new collateral, new holding)."""
    f = core.apply_fill(collateral, holding.quantity, holding.open_notional, delta, price, fee)
    return f.collateral, replace(holding, quantity=f.quantity, open_notional=f.open_notional)


def project_trade(
    collateral: int, holdings: Mapping[int, Holding], market: Market, mark: int, delta: int, price: int, fee: int
) -> Summary:
    """The account summary after a fill of ``delta`` thousandths at ``price`` paying ``fee``."""
    hs = dict(holdings)
    h = hs.get(market.id) or Holding(market, 0, 0, mark)
    collateral, hs[market.id] = apply_fill(collateral, h, delta, price, fee)
    return summarise(collateral, hs)


def order_reservation(
    free: int,
    resting: Iterable[Resting],
    new: Resting,
    markets: Mapping[int, Market],
    marks: Mapping[int, int],
    fee_bps: int,
) -> Reservation:
    """The relay's margin rule for a new resting order (:func:`core.margin.reservation`): ``free``
    is equity - IM, ``resting`` the trader's open, not reduce-only orders, ``marks`` market id ->
    mark, ``fee_bps`` the higher of the maker and taker fees."""
    ms = {
        mid: core.MarketMargin(m.im_fixed, m.im_rate_bps, int(marks[mid])) for mid, m in markets.items() if mid in marks
    }
    return core.reservation(free, resting, new, ms, fee_bps)


def liquidation_price(summary: Summary, holding: Holding) -> Decimal | None:
    """The mark (USD per unit) of ``holding``'s market at which equity = maintenance margin,
    other marks fixed, rounded to the base unit toward the adverse side (the first mark at
    which the account is liquidatable): :func:`core.margin.liquidation_mark`. None for a flat or
    settled position, or when no price liquidates it."""
    if holding.quantity == 0 or holding.settled:
        return None
    n = core.liquidation_mark(summary, holding.quantity, holding.mark, holding.market.mm_rate_bps)
    return None if n is None else u.base_to_usd(n)
