"""Cross-margin arithmetic in Python, mirroring the Clearinghouse (pure, no chain access).

Used for pre-flight checks (will this trade / withdrawal pass the initial-margin check?),
hedge plans and liquidation prices. All values are chain integers (base units, thousandths);
the rounding is the contract's: valuations round down, margins up.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Mapping

from core import units as u
from sdk.models import Market


@dataclass(frozen=True)
class Holding:
    """One open position with what is needed to margin it."""

    market: Market
    quantity: int  # signed thousandths
    open_notional: int  # base units
    mark: int  # base units per unit
    settled: bool = False


@dataclass(frozen=True)
class Summary:
    collateral: int
    equity: int
    initial: int
    maintenance: int

    @property
    def excess(self) -> int:
        """equity - IM (negative = initial margin missing)."""
        return self.equity - self.initial


def summarise(collateral: int, holdings: Mapping[int, Holding]) -> Summary:
    """Clearinghouse._summary over ``holdings`` (market id -> Holding)."""
    equity, im, mm = collateral, 0, 0
    for h in holdings.values():
        if h.quantity == 0:
            continue
        equity += u.value_units(h.quantity, h.mark) - h.open_notional
        if h.settled:
            continue
        im += u.margin_units(h.quantity, h.market.im_fixed, h.market.im_rate_bps, h.mark)
        mm += u.margin_units(h.quantity, h.market.mm_fixed, h.market.mm_rate_bps, h.mark)
    return Summary(collateral, equity, im, mm)


def apply_fill(collateral: int, holding: Holding, delta: int, price: int, fee: int) -> tuple[int, Holding]:
    """Clearinghouse._apply_fill: move the position by ``delta`` at ``price``, charge ``fee``.
    Returns (new collateral, new holding)."""
    q0, on0 = holding.quantity, holding.open_notional
    q1 = q0 + delta
    notional = u.notional_units(delta, price)
    realised = 0
    if q0 == 0 or (q0 > 0) == (delta > 0):
        on1 = on0 + notional
    elif abs(delta) <= abs(q0):
        closed_on = u.ceil_div(on0 * abs(delta), abs(q0))
        realised = -notional - closed_on
        on1 = on0 - closed_on
    else:
        realised = _trunc_div(q0 * price, u.QUANTITY_SCALE) - on0
        on1 = _trunc_div(q1 * price, u.QUANTITY_SCALE)
    if q1 == 0:
        on1 = 0
    return collateral + realised - fee, replace(holding, quantity=q1, open_notional=on1)


def _trunc_div(a: int, b: int) -> int:
    q = abs(a) // b
    return q if a >= 0 else -q


def grows(q0: int, delta: int) -> bool:
    """True when moving q0 by delta grows risk (|q| up, or a flip) - Clearinghouse._grows."""
    q1 = q0 + delta
    return abs(q1) > abs(q0) or (q1 != 0 and q0 != 0 and (q1 > 0) != (q0 > 0))


def project_trade(collateral: int, holdings: Mapping[int, Holding], market: Market, mark: int,
                  delta: int, price: int, fee: int) -> Summary:
    """The account summary after a fill of ``delta`` thousandths at ``price`` paying ``fee``."""
    hs = dict(holdings)
    h = hs.get(market.id) or Holding(market, 0, 0, mark)
    collateral, hs[market.id] = apply_fill(collateral, h, delta, price, fee)
    return summarise(collateral, hs)


def liquidation_price(summary: Summary, holding: Holding) -> Decimal | None:
    """The mark of ``holding``'s market at which equity = maintenance margin, other marks fixed.

    With Q the signed size (units), S = |Q|, f and r the market's MM fixed (base units per
    unit) and rate, E and MM the account's equity and maintenance margin now at mark m:

        equity(p) = E + Q (p - m)
        MM(p)     = MM - S (f + r|m|) + S (f + r|p|)

    h(p) = equity(p) - MM(p) = A + Q p - S r |p| with A = E - Q m - MM + S r |m|, piecewise
    linear in p; its root is solved on p >= 0 and p < 0 and the one on its own side kept.
    Rounded to the base unit (1e-6 USD) toward the adverse side: the first mark at which the
    account is liquidatable (a long's root rounded down, a short's up). Exact up to the
    contract's per-position rounding (< 1 base unit each), which only makes the chain call it
    liquidatable a hair earlier. None for a flat or settled position, or when no price
    liquidates it.
    """
    if holding.quantity == 0 or holding.settled:
        return None
    m = holding.market
    Q = Decimal(holding.quantity) / u.QUANTITY_SCALE
    S = abs(Q)
    r = Decimal(m.mm_rate_bps) / u.BPS
    mark = Decimal(holding.mark)
    A = Decimal(summary.equity) - Q * mark - Decimal(summary.maintenance) + S * r * abs(mark)
    roots = []
    for sign in (1, -1):  # p >= 0: |p| = p; p < 0: |p| = -p
        slope = Q - S * r * sign
        if slope == 0:
            continue
        p = -A / slope
        if (sign == 1 and p >= 0) or (sign == -1 and p < 0):
            roots.append(p)
    if not roots:
        return None
    p = min(roots, key=lambda x: abs(x - mark))
    n = p.to_integral_value(rounding=ROUND_FLOOR if holding.quantity > 0 else ROUND_CEILING)
    return u.base_to_usd(int(n))
