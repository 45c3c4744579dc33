"""Liquidation maths, written once and exactly as ``contracts/Clearinghouse.vy`` does it:
``liquidate`` / ``_liquidate_partial`` (size that restores health, health-capped penalty),
``_liquidation_price``, ``_reward`` / ``_pay_reward`` (keeper reward from the insurance fund),
the insolvent path (close-out or flag for ADL) and ``deleverage``'s ranking of counterparties.

Units as in :mod:`core.margin`: thousandths, base units, base units per unit, bps.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import NamedTuple

from core.margin import BPS, QUANTITY_SCALE, Leg, Summary, apply_fill, ceil_div, summarise, value

MAX_ADL_BATCH = 16  # counterparties per deleverage call (contracts/constants.vy)


def liquidation_price(mark: int, quantity: int, tick: int) -> int:
    """The mark rounded to the tick in the favour of the account holding ``quantity``
    (``_liquidation_price``): down for a short, up for a long."""
    p = mark // tick * tick
    if quantity > 0 and p < mark:
        p += tick
    return p


@dataclass(frozen=True)
class LiquidationParams:
    """``Clearinghouse.liquidation_params()``: penalty_bps (of MM), penalty_cap_bps (of notional),
    reward_bps (of notional taken), min_reward and max_reward (base units)."""

    penalty_bps: int = 5_000
    penalty_cap_bps: int = 1_000
    reward_bps: int = 10
    min_reward: int = 10**6
    max_reward: int = 1_000 * 10**6

    def reward(self, size: int, price: int) -> int:
        """Reward for taking ``size`` thousandths at ``price`` (``_reward``), before the fund's cap."""
        n = size * abs(price) // QUANTITY_SCALE
        return min(self.min_reward + n * self.reward_bps // BPS, self.max_reward)

    def penalty_per_unit(self, mm_per_unit: int, price: int) -> int:
        """Penalty per unit: a share of the MM per unit, at most a share of |price|."""
        return min(mm_per_unit * self.penalty_bps // BPS, abs(price) * self.penalty_cap_bps // BPS)

    def fund_carries(self, equity: int, open_markets: int, fund: int) -> bool:
        """Whether ``liquidate`` may close out an insolvent account (else it only flags it for ADL):
        the fund must carry the deficit plus the minimum reward of every leg."""
        return max(-equity, 0) + open_markets * self.min_reward <= fund

    def adl_shortfall(self, equity: int, open_markets: int, fund: int, size: int, price: int) -> int:
        """What ``deleverage`` must assign to counterparties (> 0 or it reverts "insurance covers"):
        the caller's reward plus the other legs' minimum rewards, minus equity and the fund."""
        return self.reward(size, price) + (open_markets - 1) * self.min_reward - equity - fund

    def paid(self, size: int, price: int, fund: int, penalty: int = 0, cap: int | None = None) -> int:
        """``_pay_reward``: the reward actually paid out of the fund after the penalty went in."""
        r = min(self.reward(size, price), fund + penalty)
        return r if cap is None else min(r, cap)


def mm_per_unit(mm_fixed: int, mm_rate_bps: int, mark: int) -> int:
    """The maintenance margin of one unit at ``mark`` as ``_liquidate_partial`` reckons it (rounded down)."""
    return mm_fixed + mm_rate_bps * abs(mark) // BPS


def partial_size(held: int, cap: int, maintenance: int, e: int, u: int, pu: int, step: int, min_quantity: int) -> int:
    """``_liquidate_partial``'s size (thousandths): the smallest multiple of ``step`` that restores
    equity >= MM (taking x moves equity by -pu x and MM by -u x), the whole position when the
    account cannot afford the penalty on that size (pu MM > e u), at most ``cap`` rounded down to
    the step, never leaving a remainder below ``min_quantity``. 0 means the call reverts
    ("zero quantity"). ``e`` is equity minus stale margin."""
    size = held
    ee = max(e, 0)
    if ee > 0 and u > pu and pu * maintenance <= ee * u:
        needed = ceil_div((maintenance - ee) * QUANTITY_SCALE, u - pu)
        size = min(size, ceil_div(needed, step) * step)
    cap = cap // step * step
    size = min(size, cap)
    if size < held and held - size < min_quantity:
        size = held
        if held > cap:
            size = (held - min_quantity) // step * step
    return size


def health_capped_penalty(size: int, pu: int, before: Summary, after: Summary) -> int:
    """The penalty, capped so that the account's health ratio never falls:
    (e1 - p) / m1 >= e0 / m0 (and never below zero)."""
    hcap = after.equity
    if after.maintenance > 0:
        hcap = after.equity - ceil_div(before.equity * after.maintenance, before.maintenance)
    return max(min(size * pu // QUANTITY_SCALE, hcap), 0)


class Outcome(NamedTuple):
    size: int  # thousandths taken (0: nothing moved)
    price: int  # base units per unit
    penalty: int  # base units, account -> fund
    reward: int  # base units, fund -> liquidator
    flagged: bool  # insolvent beyond the fund: flagged for deleverage instead


@dataclass(frozen=True)
class Lot:
    """A market's lot: price tick (base units per unit), quantity step and minimum (thousandths)."""

    price_tick: int
    quantity_step: int
    min_quantity: int


def liquidate(
    collateral: int,
    legs: Mapping[int, Leg],
    market_id: int,
    quantity: int,
    lot: Lot,
    params: LiquidationParams,
    fund: int,
) -> Outcome:
    """What ``Clearinghouse.liquidate(account, market_id, quantity)`` does to an account with
    ``collateral`` and ``legs`` (market id -> Leg): the size taken, the price, the penalty and the
    reward. ValueError with the contract's reason when it would revert (the liquidator's own
    margin check, which needs the liquidator's account, is not part of this)."""
    s = summarise(collateral, legs.values())
    if not s.unhealthy:
        raise ValueError("account healthy")
    leg = legs.get(market_id)
    if leg is None or leg.quantity == 0:
        raise ValueError("no position")
    if leg.settled:
        return Outcome(0, leg.mark, 0, 0, False)  # the leg is settled instead
    if not (leg.fresh or leg.halted):
        raise ValueError("stale mark")
    q0 = leg.quantity
    price = liquidation_price(leg.mark, q0, lot.price_tick)
    if s.equity <= 0:
        deficit = max(-s.equity, 0)
        if not params.fund_carries(s.equity, s.open_markets, fund):
            return Outcome(0, price, 0, 0, True)
        cap = fund - deficit - (s.open_markets - 1) * params.min_reward
        return Outcome(abs(q0), price, 0, params.paid(abs(q0), price, fund, 0, cap), False)
    u = mm_per_unit(leg.risk.mm_fixed, leg.risk.mm_rate_bps, leg.mark)
    pu = params.penalty_per_unit(u, price)
    size = partial_size(
        abs(q0), quantity, s.maintenance, s.equity - s.stale_margin, u, pu, lot.quantity_step, lot.min_quantity
    )
    if size <= 0:
        raise ValueError("zero quantity")
    x = -size if q0 > 0 else size
    f = apply_fill(collateral, q0, leg.open_notional, x, price)
    after_legs = dict(legs)
    after_legs[market_id] = replace(leg, quantity=f.quantity, open_notional=f.open_notional)
    after = summarise(f.collateral, after_legs.values())
    penalty = health_capped_penalty(size, pu, s, after)
    return Outcome(size, price, penalty, params.paid(size, price, fund, penalty), False)


# ---------------------------------------------------------------- auto-deleveraging


def adl_score(quantity: int, open_notional: int, equity: int, mark: int) -> int:
    """``deleverage``'s rank of a counterparty: profit x notional / equity (profit x leverage),
    integer maths exactly as the contract computes it (0 when not in profit or insolvent)."""
    profit = value(quantity, mark) - open_notional
    if profit <= 0 or equity <= 0:
        return 0
    return profit * (abs(quantity) * abs(mark) // QUANTITY_SCALE) // equity


@dataclass(frozen=True)
class Counterparty:
    account: str
    quantity: int
    profit: int  # base units, at the mark (capped at the counterparty's equity)
    score: int


def rank_counterparties(
    account_q: int, holders: list[tuple[str, int, int, int]], mark: int, shortfall: int, limit: int = MAX_ADL_BATCH
) -> list[Counterparty]:
    """The counterparties to pass to ``deleverage``: solvent opposite positions in profit, ranked by
    non-increasing profit x leverage (ties by address, so the order is deterministic), cut as
    soon as their give-up (at most their profit on the part closed against them) covers the
    shortfall or the account's position is used up; at most ``limit``.

    holders: (account, quantity, open_notional, equity) of every holder of the market (the
    account itself is skipped). Everything is integer and exact: feed it on-chain values.
    """
    side = 1 if account_q > 0 else -1
    ranked = []
    for a, q, on, eq in holders:
        if q == 0 or (q > 0) == (side > 0):
            continue
        profit = value(q, mark) - on
        if profit <= 0 or eq <= 0:  # the contract refuses an insolvent counterparty
            continue
        # it gives up at most its profit and never more than its equity (the contract's cap)
        ranked.append(Counterparty(a, q, min(profit, eq), adl_score(q, on, eq, mark)))
    ranked.sort(key=lambda c: (-c.score, c.account.lower()))
    out, remaining, left = [], abs(account_q), shortfall
    for c in ranked:
        if len(out) >= limit or remaining <= 0 or left <= 0:
            break
        x = min(remaining, abs(c.quantity))
        out.append(c)
        left -= c.profit * x // abs(c.quantity)
        remaining -= x
    return out
