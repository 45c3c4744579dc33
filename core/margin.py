"""The margin rules, written once and exactly as ``contracts/Clearinghouse.vy`` applies them.

Units (DESIGN §3): quantity in signed thousandths of a unit (long > 0), prices and marks in
signed collateral base units per unit, money in base units, rates in basis points.

Contract rules mirrored here (each names the Vyper function):

    value(q, mark)       = floor(q * mark / 1000)                       _summary (against the account)
    margin(q, f, r, m)   = ceil(|q| * (f * 10_000 + r * |m|) / 10^7)     _margin (against the account)
    equity               = collateral + sum(value - open_notional)       _summary
    IM, MM               = sum of margin() over legs not settled         _summary
    stale margin         = MM of legs whose mark is stale and market not halted (a halted
                           market is valued at its last mark, the guardian's call)
    unhealthy            = MM > 0 and equity - stale margin < MM        _unhealthy (liquidate,
                           is_liquidatable): a stale leg counts one MM against the account, so no
                           stale market can shield it
    risk-increasing fill must leave equity >= IM on fresh marks          _check_initial_margin
    a side whose risk does not grow: equity >= IM, or equity >= 0 and
    health (equity / MM) does not fall                                   _check_health_kept

Three forms of the same rule:

* the exact integer scalar API (:func:`summarise`, :func:`apply_fill`, :func:`trade_refusal`,
  :func:`liquidation_mark`) for pre-trade checks, the SDK and the tests that compare it with the
  contract on random states;
* :func:`screen_cells` (sparse book) and :func:`screen` (dense matrices, the same code), a
  numpy float64 screen of many accounts at once for the liquidator, with a proven error bound that makes it conservative (it never misses an account the exact rule
  calls unhealthy); the liquidator confirms every candidate on chain before it sends anything;
* the order reservation rule (:func:`order_need`, :func:`reserved`, :func:`reservation`) that
  the relay applies to resting orders and the SDK applies before it posts one, so both say the
  same thing about the same book.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import NamedTuple, Protocol

import numpy as np

QUANTITY_SCALE = 1_000  # thousandths per unit
BPS = 10_000  # basis points per 100%


# ---------------------------------------------------------------- integer arithmetic (the contract's)


def floor_div(a: int, b: int) -> int:
    """Toward -infinity (b > 0): the contract's ``_floor_div``."""
    return a // b


def ceil_div(a: int, b: int) -> int:
    """Toward +infinity (b > 0): the contract's ``_ceil_div`` / ``_ceil_udiv``."""
    return -((-a) // b)


def trunc_div(a: int, b: int) -> int:
    """Toward zero (b > 0): Vyper's ``//`` on signed integers."""
    q = abs(a) // b
    return q if a >= 0 else -q


def value(quantity: int, mark: int) -> int:
    """Mark-to-market value of ``quantity`` at ``mark``, base units, rounded down (against the account)."""
    return floor_div(int(quantity) * int(mark), QUANTITY_SCALE)


def notional(quantity: int, price: int) -> int:
    """Signed notional of a fill as ``_apply_fill`` books it (truncated; exact on tick x step)."""
    return trunc_div(int(quantity) * int(price), QUANTITY_SCALE)


def margin(quantity: int, fixed: int, rate_bps: int, mark: int) -> int:
    """|q| * (fixed + rate * |mark|) / 1000, base units, rounded up (``_margin``)."""
    return ceil_div(abs(int(quantity)) * (int(fixed) * BPS + int(rate_bps) * abs(int(mark))), QUANTITY_SCALE * BPS)


def grows(q0: int, delta: int) -> bool:
    """True when moving a position from ``q0`` by ``delta`` grows its risk: |q| up, or a flip (``_grows``)."""
    q1 = q0 + delta
    return abs(q1) > abs(q0) or (q1 != 0 and q0 != 0 and (q1 > 0) != (q0 > 0))


# ---------------------------------------------------------------- accounts


@dataclass(frozen=True)
class Risk:
    """A market's margin parameters: fixed parts in base units per unit, rates in bps of |mark|."""

    im_fixed: int
    im_rate_bps: int
    mm_fixed: int
    mm_rate_bps: int


@dataclass(frozen=True)
class Leg:
    """One open position as the margin rules see it."""

    quantity: int  # signed thousandths
    open_notional: int  # base units
    mark: int  # base units per unit (the settlement price once settled)
    risk: Risk
    fresh: bool = True  # mark age <= max_price_age and not disputed (settled: always)
    halted: bool = False
    settled: bool = False


@dataclass(frozen=True)
class Summary:
    """``Clearinghouse._summary``: every field in base units."""

    collateral: int
    equity: int
    initial: int
    maintenance: int
    fresh: bool = True  # every mark the account depends on is fresh
    open_markets: int = 0
    stale_margin: int = 0  # MM of the stale legs (halted legs excluded)

    @property
    def excess(self) -> int:
        """equity - IM (negative = initial margin missing)."""
        return self.equity - self.initial

    @property
    def unhealthy(self) -> bool:
        """What ``liquidate`` and ``is_liquidatable`` test (``_unhealthy``)."""
        return self.maintenance > 0 and self.equity - self.stale_margin < self.maintenance


def summarise(collateral: int, legs: Iterable[Leg]) -> Summary:
    """``Clearinghouse._summary`` over an account's legs (flat legs are skipped, as the contract
    only walks its open markets)."""
    equity, im, mm, stale, n, fresh = int(collateral), 0, 0, 0, 0, True
    for g in legs:
        if g.quantity == 0:
            continue
        n += 1
        fresh = fresh and g.fresh
        equity += value(g.quantity, g.mark) - g.open_notional
        if g.settled:
            continue  # value is final: nothing left to margin
        r = g.risk
        im += margin(g.quantity, r.im_fixed, r.im_rate_bps, g.mark)
        leg_mm = margin(g.quantity, r.mm_fixed, r.mm_rate_bps, g.mark)
        mm += leg_mm
        if not g.fresh and not g.halted:
            stale += leg_mm
    return Summary(int(collateral), equity, im, mm, fresh, n, stale)


class Fill(NamedTuple):
    collateral: int
    quantity: int
    open_notional: int
    realised: int
    grew: bool


def apply_fill(collateral: int, quantity: int, open_notional: int, delta: int, price: int, fee: int = 0) -> Fill:
    """``Clearinghouse._apply_fill``: move a position by ``delta`` at ``price``, realise PnL on the
    reduced part (the closed share of the open notional rounded up, against the account) and
    charge ``fee``."""
    q0, on0 = int(quantity), int(open_notional)
    q1 = q0 + delta
    n = notional(delta, price)
    realised = 0
    if q0 == 0 or (q0 > 0) == (delta > 0):
        on1 = on0 + n
    elif abs(delta) <= abs(q0):
        closed_on = ceil_div(on0 * abs(delta), abs(q0))
        realised = -n - closed_on
        on1 = on0 - closed_on
    else:  # flip: close all of q0, open the rest at price
        realised = trunc_div(q0 * price, QUANTITY_SCALE) - on0
        on1 = trunc_div(q1 * price, QUANTITY_SCALE)
    if q1 == 0:
        on1 = 0
    return Fill(int(collateral) + realised - int(fee), q1, on1, realised, grows(q0, delta))


def health_kept(before: Summary, after: Summary) -> bool:
    """``_check_health_kept`` for a side whose risk did not grow: at or above IM, or solvent with
    a health ratio (equity / MM) that did not fall."""
    if after.equity >= after.initial:
        return True
    return after.equity >= 0 and after.equity * before.maintenance >= before.equity * after.maintenance


def trade_refusal(before: Summary, after: Summary, grew: bool) -> str | None:
    """The contract's reason (without the ``Clearinghouse: `` prefix) for refusing one side of a
    trade whose account goes from ``before`` to ``after``, or None when it passes."""
    if grew:
        if not after.fresh:
            return "stale mark"
        return None if after.equity >= after.initial else "insufficient margin"
    return None if health_kept(before, after) else "health would fall"


def liquidation_mark(summary: Summary, quantity: int, mark: int, mm_rate_bps: int) -> int | None:
    """The mark of one position's market at which the account's equity meets its maintenance
    margin, other marks fixed, in base units per unit rounded to the adverse side (the first
    mark at which it is liquidatable: a long's root rounded down, a short's up); None for a flat
    position or when no mark liquidates it.

    With Q the signed size in units, S = |Q|, r the MM rate, E and MM the account's equity and
    maintenance margin now at mark m:

        equity(p) = E + Q (p - m),  MM(p) = MM - S r |m| + S r |p|  (the fixed part does not move)

    h(p) = equity(p) - MM(p) = A + Q p - S r |p| with A = E - Q m - MM + S r |m|, piecewise
    linear; its root is solved on p >= 0 and on p < 0 and the one on its own side nearest the
    mark kept. Exact up to the contract's per-position rounding (< 1 base unit each), which only
    makes the chain call the account liquidatable a hair earlier.
    """
    if quantity == 0:
        return None
    q = Decimal(int(quantity)) / QUANTITY_SCALE
    s = abs(q)
    r = Decimal(int(mm_rate_bps)) / BPS
    m = Decimal(int(mark))
    a = Decimal(summary.equity) - q * m - Decimal(summary.maintenance) + s * r * abs(m)
    roots = []
    for sign in (1, -1):  # p >= 0: |p| = p; p < 0: |p| = -p
        slope = q - s * r * sign
        if slope == 0:
            continue
        p = -a / slope
        if (sign == 1 and p >= 0) or (sign == -1 and p < 0):
            roots.append(p)
    if not roots:
        return None
    p = min(roots, key=lambda x: abs(x - m))
    return int(p.to_integral_value(rounding=ROUND_FLOOR if quantity > 0 else ROUND_CEILING))


# ---------------------------------------------------------------- many accounts at once (numpy)


@dataclass
class MarketVector:
    """Per-market vectors aligned with a position matrix's columns."""

    market_ids: list[int]
    mark: np.ndarray  # base units per unit (the settlement price once settled)
    fresh: np.ndarray  # bool: mark age <= max_price_age, not disputed (always true once settled)
    mm_fixed: np.ndarray  # base units per unit
    mm_rate_bps: np.ndarray
    halted: np.ndarray  # bool
    settled: np.ndarray  # bool
    price_tick: np.ndarray | None = None  # base units per unit (None: 1, no rounding)
    quantity_step: np.ndarray | None = None  # thousandths (None: 1)
    min_quantity: np.ndarray | None = None  # thousandths (None: 0)

    @classmethod
    def empty(cls, market_ids: list[int]) -> MarketVector:
        n = len(market_ids)
        return cls(
            list(market_ids),
            np.zeros(n),
            np.zeros(n, bool),
            np.zeros(n),
            np.zeros(n),
            np.zeros(n, bool),
            np.zeros(n, bool),
            np.ones(n),
            np.ones(n),
            np.zeros(n),
        )

    def column(self, market_id: int) -> int | None:
        """The index of ``market_id`` in these vectors (built once per vector, not per lookup)."""
        idx = self.__dict__.get("_index")
        if idx is None or len(idx) != len(self.market_ids):
            idx = self.__dict__["_index"] = {m: j for j, m in enumerate(self.market_ids)}
        return idx.get(market_id)

    def tick(self, j: int) -> int:
        return 1 if self.price_tick is None else max(int(self.price_tick[j]), 1)

    def lot(self, j: int) -> tuple[int, int]:
        """(quantity_step, min_quantity) in thousandths."""
        step = 1 if self.quantity_step is None else max(int(self.quantity_step[j]), 1)
        return step, 0 if self.min_quantity is None else int(self.min_quantity[j])

    def actionable(self, j: int) -> bool:
        """``liquidate`` may act on this market now: fresh or halted (last mark), not settled."""
        return not self.settled[j] and (bool(self.fresh[j]) or bool(self.halted[j]))


@dataclass
class ScanResult:
    equity: np.ndarray  # base units, per account
    maintenance: np.ndarray  # base units, per account
    fresh: np.ndarray  # bool: every market the account holds has a fresh mark
    stale_margin: np.ndarray  # MM of the legs with a stale mark (halted legs excluded)
    liquidatable: np.ndarray  # bool: equity - stale MM < MM + error bound (inclusive screen)
    shortfall: np.ndarray  # MM + stale MM - equity
    insolvent: np.ndarray  # bool: holds a position and equity <= error bound: ADL screen
    error: np.ndarray  # the bound used per account, base units (0 where the floats are exact)


_EXACT = 2.0**53  # float64 holds every integer below this exactly
_U = 2.0**-53  # float64 unit roundoff


@dataclass(frozen=True)
class Cells:
    """A sparse accounts x markets book: one entry per (account, market) cell the keeper holds,
    as parallel arrays (COO). Cells with ``qty == 0`` (closed positions) may be present; they
    count for nothing, exactly as a zero in a dense matrix."""

    row: np.ndarray  # int: the account's row (0 .. n_accounts - 1)
    col: np.ndarray  # int: the market's index into the MarketVector
    qty: np.ndarray  # signed thousandths (float64)
    open_notional: np.ndarray  # base units (float64)
    n_accounts: int

    @classmethod
    def from_dense(cls, qty: np.ndarray, open_notional: np.ndarray) -> Cells:
        """The non-zero cells of dense accounts x markets matrices."""
        qty = np.asarray(qty, dtype=float)
        r, c = np.nonzero(qty)
        return cls(r, c, qty[r, c], np.asarray(open_notional, dtype=float)[r, c], qty.shape[0])


def screen(
    qty: np.ndarray, open_notional: np.ndarray, collateral: np.ndarray, mv: MarketVector, tolerance: float = 0.0
) -> ScanResult:
    """:func:`screen_cells` over dense accounts x markets matrices (columns aligned with ``mv``)."""
    return screen_cells(Cells.from_dense(qty, open_notional), collateral, mv, tolerance)


def _per_account(cells: Cells, x: np.ndarray) -> np.ndarray:
    return np.bincount(cells.row, weights=x, minlength=cells.n_accounts)[: cells.n_accounts]


def screen_cells(cells: Cells, collateral: np.ndarray, mv: MarketVector, tolerance: float = 0.0) -> ScanResult:
    """:func:`summarise` / ``_unhealthy`` for every account at once, in float64, over a sparse
    book (work and memory proportional to the positions held, not accounts x markets).

    Conservative by construction, with this bound (base units, per account):

    * every cell product (|q * mark| and |q| * (fixed * 1e4 + rate * |mark|)) and the account's
      sum of magnitudes M = |collateral| + sum(|q * mark| / 1000 + |open_notional| + 2 MM_cell)
      below 2**53: the screen is exact. Each division by 1000 or 1e7 of an exact integer x is
      then off by at most u|x| < 1/1000 (resp. 1e-7), less than the distance from a non-integer
      quotient to the next integer, so floor/ceil land where integer maths lands, and every
      partial sum is an integer below 2**53 (in any summation order);
    * otherwise error = 3 n + 1 + 16 (n + 2) u M, with n the legs held and u = 2**-53: each cell
      is off by at most 1 (floor/ceil) plus a few u of its size, and a sum of n + 2 terms, in
      any order, by at most (n + 2) u M.

    An account is a candidate when ``equity - stale MM < MM + error + tolerance * n`` (never
    missing one the exact rule calls unhealthy); candidates are confirmed with the exact rule
    (``is_liquidatable`` on chain) before any transaction. ``tests/unit/core/test_margin_screen.py``
    runs the bound against the exact integers on adversarial states, dense and sparse.
    """
    c = np.asarray(cells.col, dtype=np.intp)
    q = np.asarray(cells.qty, dtype=float)
    on = np.asarray(cells.open_notional, dtype=float)
    coll = np.asarray(collateral, dtype=float)[: cells.n_accounts]
    mark = np.asarray(mv.mark, dtype=float)[c]
    settled = np.asarray(mv.settled, bool)[c]
    fresh_c = np.asarray(mv.fresh, bool)[c]
    halted = np.asarray(mv.halted, bool)[c]
    held = q != 0
    prod = q * mark
    # only open positions count (the contract walks the account's open markets)
    equity = coll + _per_account(cells, np.where(held, np.floor(prod / QUANTITY_SCALE) - on, 0.0))
    per_unit = np.where(
        settled,
        0.0,
        np.asarray(mv.mm_fixed, dtype=float)[c] * BPS + np.asarray(mv.mm_rate_bps, dtype=float)[c] * np.abs(mark),
    )
    mprod = np.abs(q) * per_unit
    mm_cell = np.ceil(mprod / (QUANTITY_SCALE * BPS))
    mm = _per_account(cells, mm_cell)
    stale_cell = ~fresh_c & ~halted & ~settled
    stale_mm = _per_account(cells, mm_cell * stale_cell)
    fresh = _per_account(cells, (held & ~fresh_c).astype(float)) == 0
    n_held = _per_account(cells, held.astype(float))
    mag = np.abs(coll) + _per_account(cells, np.abs(prod) / QUANTITY_SCALE + np.abs(on) * held + 2 * mm_cell)
    big = (_per_account(cells, ((np.abs(prod) >= _EXACT) | (mprod >= _EXACT)).astype(float)) > 0) | (mag >= _EXACT)
    err = np.where(big, 3 * n_held + 1 + 16 * (n_held + 2) * _U * mag, 0.0)
    slack = err + tolerance * n_held
    liq = (mm > 0) & (equity - stale_mm < mm + slack)
    insolvent = (n_held > 0) & (equity <= slack)
    return ScanResult(equity, mm, fresh, stale_mm, liq, mm + stale_mm - equity, insolvent, err)


# ---------------------------------------------------------------- resting orders (the relay's reservation)


class OrderMarket(Protocol):
    """What the reservation rule needs of a market (the relay's ``MarketInfo`` has it)."""

    im_fixed: int  # base units per unit
    im_rate_bps: int
    mark: int  # base units per unit


@dataclass(frozen=True)
class MarketMargin:
    """An :class:`OrderMarket` built from any source (the SDK's market and its mark)."""

    im_fixed: int
    im_rate_bps: int
    mark: int


class Resting(NamedTuple):
    """A resting order's exposure: reduce-only orders reserve nothing and are left out."""

    market_id: int
    is_buy: bool
    remaining: int  # thousandths still fillable
    price: int  # base units per unit


def order_need(is_buy: bool, quantity: int, price: int, m: OrderMarket, fee_bps: int) -> int:
    """Free margin (base units) a fill of ``quantity`` at ``price`` may consume, conservatively:

      IM of the size                            ceil(q * (im_fixed * 1e4 + im_rate_bps * max(|price|, |mark|)) / 1e7)
    + what the fill loses against the mark      ceil(max(0, price - mark for a buy, mark - price for a sell) * q / 1000)
    + the fee at the higher of maker and taker  ceil(|q * price| * fee_bps / 1e7)
    """
    if quantity <= 0:
        return 0
    # the chain margins the position at the mark, not the order price: with negative prices a buy
    # above the mark (or a sell below it) has |price| < |mark|, so |price| alone under-reserves
    im = ceil_div(quantity * (m.im_fixed * BPS + m.im_rate_bps * max(abs(price), abs(m.mark))), QUANTITY_SCALE * BPS)
    adverse = (price - m.mark) if is_buy else (m.mark - price)
    adverse = ceil_div(max(0, adverse) * quantity, QUANTITY_SCALE)
    fee = ceil_div(abs(quantity * price) * fee_bps, QUANTITY_SCALE * BPS)
    return im + adverse + fee


def reserved(
    rows: Iterable[Resting | tuple[int, bool, int, int]], markets: Mapping[int, OrderMarket], fee_bps: int
) -> int:
    """Margin reserved by resting orders: per market the larger of the buy side's and the sell
    side's summed :func:`order_need` (only one side can grow the position), summed over markets.
    Rows in markets missing from ``markets`` (unlisted) reserve nothing."""
    buys: dict[int, int] = {}
    sells: dict[int, int] = {}
    for mid, is_buy, rem, price in rows:
        m = markets.get(mid)
        if m is None:
            continue
        side = buys if is_buy else sells
        side[mid] = side.get(mid, 0) + order_need(is_buy, rem, price, m, fee_bps)
    return reserved_from_sides(buys, sells)


def reserved_from_sides(buys: Mapping[int, int], sells: Mapping[int, int]) -> int:
    """:func:`reserved` from per-market sums of :func:`order_need` of each side (what a relay that
    keeps those sums up to date, instead of re-reading every resting order, has at hand)."""
    return sum(max(buys.get(mid, 0), sells.get(mid, 0)) for mid in buys.keys() | sells.keys())


class Reservation(NamedTuple):
    before: int  # reserved by the resting orders alone, base units
    need: int  # reserved with the new order, base units
    free: int  # equity - IM, base units

    @property
    def ok(self) -> bool:
        return self.need <= self.free

    @property
    def missing(self) -> int:
        return max(0, self.need - self.free)


def reservation(
    free: int,
    resting: Iterable[Resting | tuple[int, bool, int, int]],
    new: Resting | None,
    markets: Mapping[int, OrderMarket],
    fee_bps: int,
) -> Reservation:
    """Whether the account's free margin (equity - IM) carries its resting orders plus ``new``
    (None: the resting ones alone), every one fully filled at its limit. The relay refuses an
    order for which this is not ``ok``; the SDK asks the same before it posts one."""
    rows = list(resting)
    before = reserved(rows, markets, fee_bps)
    need = before if new is None else reserved([*rows, new], markets, fee_bps)
    return Reservation(before, need, int(free))
