"""Human units <-> chain integers: the ONE place any package converts them (DESIGN §3).

Chain units:
    price     signed collateral base units per 1 unit (USDC, 6 dp: $45.23/MWh = 45_230_000)
    quantity  integer thousandths of a unit (QUANTITY_SCALE = 1000; 1 kWh = 1 for power)
    notional  quantity * price / QUANTITY_SCALE, base units (exact on tick x step)
    rates     basis points (10_000 = 100%)

Human units: ``Decimal`` USD, ``Decimal`` MWh / GPU-hours, ``Decimal`` fractions. Floats are
refused wherever money or size is an input (``0.1`` is not ``Decimal("0.1")``): the error is
:class:`~core.errors.InvalidAmount` (a ``ValueError``). The one exception is a *statistic* (a
mark, an index mean computed in float64), which :func:`float_usd_to_base` rounds half-to-even
through the float's shortest repr, and a column of prices read from decimal text, which
:func:`exact_units` converts only when no digit would be lost.

Rounding never favours a user against the protocol:
    * a buy limit rounds DOWN to the tick, a sell limit rounds UP (never a worse price than
      asked; the order just becomes a little less aggressive);
    * an order quantity rounds DOWN to the step (never more exposure than asked), and a size
      below the market minimum is an error, not silently raised;
    * USD amounts must be exact at 6 dp unless a rounding is named (``down``/``up``/``half_even``);
    * fees and margin requirements round UP (as the contracts do), valuations DOWN;
    * settlement values are exact rational means rounded once, half-to-even (:func:`div_half_even`).
"""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext
from numbers import Integral
from typing import Literal, Protocol

import numpy as np

from core import margin as _margin
from core.errors import BelowMinimum, InvalidAmount, InvalidOrder

USDC_DECIMALS = 6
USD_SCALE = 10**USDC_DECIMALS  # base units per USD
QUANTITY_DECIMALS = 3
QUANTITY_SCALE = 10**QUANTITY_DECIMALS  # thousandths per unit
BPS_DECIMALS = 4
BPS = 10**BPS_DECIMALS  # basis points per 100%
INT256_MIN, INT256_MAX = -(2**255), 2**255 - 1
UINT256_MAX = 2**256 - 1
PRICE_QUANTUM = Decimal(1).scaleb(-USDC_DECIMALS)  # 1 base unit in USD

Number = Decimal | int | str
Side = Literal["buy", "sell"]
Rounding = Literal["exact", "down", "up", "half_even"]

_ROUNDING = {"down": ROUND_FLOOR, "up": ROUND_CEILING, "half_even": ROUND_HALF_EVEN}
# enough digits that no uint256/int256 conversion ever rounds inside Decimal arithmetic
_PREC = 100


class MarketUnits(Protocol):
    """What tick and lot rounding needs of a market (``sdk.models.Market`` satisfies it)."""

    id: int
    symbol: str
    price_tick: int  # base units per unit
    quantity_step: int  # thousandths
    min_quantity: int  # thousandths


def to_decimal(value: Number, what: str = "amount", *, floats: bool = False) -> Decimal:
    """``Decimal``, ``int`` or numeric ``str`` -> finite ``Decimal``.

    Floats are refused unless ``floats=True`` names a statistic, which then goes through its
    shortest repr (``0.1`` -> ``Decimal("0.1")``, not the binary ``0.1000000000000000055...``)."""
    if isinstance(value, bool) or (isinstance(value, (float, np.floating)) and not floats):
        raise InvalidAmount(
            f"{what} {value!r} is a {type(value).__name__}; pass a Decimal, int or str "
            f"(e.g. Decimal('{value}')) so no precision is lost"
        )
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, Integral):
        d = Decimal(int(value))
    elif isinstance(value, (str, float, np.floating)):
        try:
            d = Decimal(str(value).strip().replace("_", ""))
        except InvalidOperation:
            raise InvalidAmount(f"{what} {value!r} is not a number") from None
    else:
        raise InvalidAmount(f"{what} must be a Decimal, int or str, got {type(value).__name__}")
    if not d.is_finite():
        raise InvalidAmount(f"{what} must be finite, got {value!r}")
    if d and d.adjusted() > 77:  # beyond every uint256/int256 the chain holds; scaling it would overflow Decimal
        raise InvalidAmount(f"{what} {value!r} is too large")
    return d


# thousands grouped with commas: 1,000 and -12,345.6 (a decimal comma, 1,5, is not this)
_GROUPED = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?")


def typed_decimal(text: str) -> Decimal:
    """A number as a person types it: ``1,000`` and ``1_000`` group thousands; ``1,5`` (a
    decimal comma) is refused rather than silently read as 15. :class:`InvalidAmount` whose
    message starts after the caller's name for the field ("write decimals with a point (1.5)...",
    "is not a number", "is not a finite number")."""
    v = str(text).strip().replace("_", "")
    if "," in v:
        if not _GROUPED.fullmatch(v):
            raise InvalidAmount(
                f"write decimals with a point ({v.replace(',', '.')}); a comma only groups thousands (1,000)"
            )
        v = v.replace(",", "")
    try:
        d = Decimal(v)
    except InvalidOperation:
        raise InvalidAmount("is not a number") from None
    if not d.is_finite():
        raise InvalidAmount("is not a finite number")
    return d


def _to_int(d: Decimal, rounding: Rounding, what: str, finest: str) -> int:
    if rounding == "exact":
        if d != d.to_integral_value():
            raise InvalidAmount(f"{what} is finer than {finest}; round it first or pass rounding='down'/'up'")
        return int(d)
    if rounding not in _ROUNDING:
        raise ValueError(f"rounding must be 'exact', 'down', 'up' or 'half_even', got {rounding!r}")
    return int(d.to_integral_value(rounding=_ROUNDING[rounding]))


def _base_int(units: int, what: str = "units") -> int:
    """An integer amount of chain units; bools, floats and strings are refused (``TypeError``)."""
    if isinstance(units, bool) or not isinstance(units, Integral):
        raise TypeError(f"{what} must be int, got {type(units).__name__}")
    return int(units)


# ---------------------------------------------------------------- money


def usd_to_base(usd: Number, rounding: Rounding = "exact") -> int:
    """USD -> collateral base units (6 dp). ``exact`` refuses sub-micro-dollar amounts."""
    d = to_decimal(usd, "USD amount")
    with localcontext(prec=_PREC):
        return _to_int(d.scaleb(USDC_DECIMALS), rounding, f"{d} USD", "1e-6 USD (the collateral's 6 decimals)")


def base_to_usd(units: int) -> Decimal:
    """Collateral base units -> USD (exact, any int256)."""
    with localcontext(prec=_PREC):
        return Decimal(_base_int(units)).scaleb(-USDC_DECIMALS)


def positive_usd(usd: Number, what: str = "amount") -> int:
    """A strictly positive exact USD amount as base units (deposits, withdrawals, faucet)."""
    units = usd_to_base(usd)
    if units <= 0:
        raise InvalidAmount(f"{what} must be positive, got {usd} USD")
    return units


def float_usd_to_base(price_usd: float | Number) -> int:
    """A USD *statistic* (a float64 mark or index, or any Decimal/int/str) -> int256 base units,
    rounded half-to-even to the micro-dollar (no drift on average).

    ``float_usd_to_base(45.23) == 45_230_000``; ``float_usd_to_base(0.0000005) == 0`` (ties to
    even); ``float_usd_to_base(0.1 + 0.2) == 300_000`` (the float's shortest repr, not its binary
    expansion). NaN, infinities and bools are :class:`InvalidAmount`."""
    d = to_decimal(price_usd, "price", floats=True)
    units = usd_to_base(d, "half_even")
    if not INT256_MIN <= units <= INT256_MAX:
        raise InvalidAmount(f"price {price_usd!r} does not fit int256 base units")
    return units


# ---------------------------------------------------------------- quantity


def quantity_to_units(quantity: Number, rounding: Rounding = "exact") -> int:
    """MWh / GPU-hours -> thousandths. ``exact`` refuses sizes finer than 0.001 unit."""
    d = to_decimal(quantity, "quantity")
    with localcontext(prec=_PREC):
        return _to_int(d.scaleb(QUANTITY_DECIMALS), rounding, f"quantity {d}", "0.001 unit")


def units_to_quantity(units: int) -> Decimal:
    """Thousandths -> MWh / GPU-hours (exact)."""
    with localcontext(prec=_PREC):
        return Decimal(_base_int(units)).scaleb(-QUANTITY_DECIMALS)


# ---------------------------------------------------------------- rates


def bps_to_fraction(bps: int) -> Decimal:
    """Basis points -> fraction (exact: 250 -> 0.025)."""
    return Decimal(_base_int(bps, "bps")).scaleb(-BPS_DECIMALS)


def fraction_to_bps(fraction: Number, rounding: Rounding = "exact") -> int:
    """Fraction -> basis points. ``exact`` refuses a rate finer than 1 bp."""
    return _to_int(to_decimal(fraction, "rate").scaleb(BPS_DECIMALS), rounding, f"rate {fraction}", "1 bp")


# ---------------------------------------------------------------- tick and lot rounding


def _check_side(side: str) -> str:
    s = str(side).lower()
    if s not in ("buy", "sell"):
        raise InvalidOrder(f"side must be 'buy' or 'sell', got {side!r}")
    return s


def round_price(market: MarketUnits, price: Number, side: Side) -> Decimal:
    """Round a USD limit price to the market's tick, never in the user's favour:
    a buy rounds down, a sell rounds up (negative prices included: floor/ceiling)."""
    return base_to_usd(price_to_units(market, price, side))


def price_to_units(market: MarketUnits, price: Number, side: Side | None = None) -> int:
    """USD limit -> base units on the market's tick. With ``side`` it rounds as
    :func:`round_price`; without, an off-tick price is an :class:`InvalidOrder`."""
    d = to_decimal(price, "price")
    tick = int(market.price_tick)
    with localcontext(prec=_PREC):
        ticks = d.scaleb(USDC_DECIMALS) / tick
    if side is None:
        if ticks != ticks.to_integral_value():
            raise InvalidOrder(
                f"price {d} USD is not on {market.symbol}'s tick of {base_to_usd(tick)} USD; "
                f"use round_price(market, price, side)"
            )
        n = int(ticks)
    else:
        n = int(ticks.to_integral_value(rounding=ROUND_FLOOR if _check_side(side) == "buy" else ROUND_CEILING))
    units = n * tick
    if not INT256_MIN <= units <= INT256_MAX:
        raise InvalidOrder(f"price {d} USD is out of range")
    return units


def round_quantity(market: MarketUnits, quantity: Number) -> Decimal:
    """Round a size down to the market's step; below the minimum is :class:`BelowMinimum`."""
    return units_to_quantity(quantity_to_step(market, quantity))


def quantity_to_step(market: MarketUnits, quantity: Number, exact: bool = False) -> int:
    """Size in units -> thousandths, rounded down to the step (or refused when ``exact``)."""
    d = to_decimal(quantity, "quantity")
    if d <= 0:
        raise InvalidOrder(f"quantity must be positive, got {d}")
    step = int(market.quantity_step)
    with localcontext(prec=_PREC):
        steps = d.scaleb(QUANTITY_DECIMALS) / step
    if exact and steps != steps.to_integral_value():
        raise InvalidOrder(f"quantity {d} is not a multiple of {market.symbol}'s step {units_to_quantity(step)}")
    units = int(steps.to_integral_value(rounding=ROUND_FLOOR)) * step
    if units < int(market.min_quantity):
        raise BelowMinimum(
            f"quantity {d} (rounded down to the step: {units_to_quantity(units)}) is below {market.symbol}'s "
            f"minimum of {units_to_quantity(int(market.min_quantity))}; trade at least that much",
            market_id=market.id,
            minimum=units_to_quantity(int(market.min_quantity)),
        )
    return units


# ---------------------------------------------------------------- contract arithmetic (core.margin's)

ceil_div = _margin.ceil_div  # toward +infinity (b > 0)
notional_units = _margin.notional  # q * price / 1000 as the Clearinghouse books it (truncated)
margin_units = _margin.margin  # |q| * (fixed + rate * |mark|) / 1000, rounded up
value_units = _margin.value  # q * mark / 1000, rounded down (against the account)


def fee_units(quantity_units: int, price_units: int, fee_bps: int) -> int:
    """Exchange fee: bps of |notional|, rounded up (Exchange._fee)."""
    notional = abs(int(quantity_units) * int(price_units)) // QUANTITY_SCALE
    return ceil_div(notional * int(fee_bps), BPS)


# ---------------------------------------------------------------- exact averages
#
# THE rounding rule of every settlement value: the exact rational mean of the inputs (integer
# micro-dollars, or half-micro-dollars for GPU medians), rounded once to the micro-dollar,
# half-to-even. No float touches a settlement value.


def div_half_even(numerator: int, denominator: int) -> int:
    """``round(numerator / denominator)`` exactly, ties to even (integers of any size)."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    q, r = divmod(int(numerator), int(denominator))  # floor division: 0 <= r < denominator
    twice = 2 * r
    if twice > denominator or (twice == denominator and q % 2 == 1):
        q += 1
    return q


def exact_units(prices_usd: np.ndarray, scale: int = USD_SCALE) -> np.ndarray:
    """Float USD prices -> exact int64 multiples of 1/``scale`` USD, refusing anything finer.

    A price read from decimal text with at most 6 decimals is the float nearest that decimal,
    so ``rint(x * 10**6)`` recovers the decimal exactly (the float error is far below half a
    unit for any |x| < 10**9). A price with more decimals would be rounded silently, so it is
    refused (:class:`InvalidAmount`): the vendored data has 2 (ERCOT) and 6 (PJM) decimals, GPU
    quotes whole cents.
    """
    x = np.asarray(prices_usd, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise InvalidAmount("prices must be finite")
    if np.any(np.abs(x) >= 1e9):
        raise InvalidAmount("price out of range for exact micro-dollar arithmetic")
    u = np.rint(x * scale)
    if not np.all(np.abs(x * scale - u) < 1e-3):
        bad = x[np.abs(x * scale - u) >= 1e-3][:3]
        raise InvalidAmount(
            f"prices {bad.tolist()} are not whole multiples of 1/{scale} USD; settlement arithmetic would not be exact"
        )
    return u.astype(np.int64)


# ---------------------------------------------------------------- native coin

ETH_DECIMALS = 18


def eth_to_wei(eth: Number) -> int:
    """ETH -> wei, exact (a fractional wei is an error)."""
    with localcontext(prec=_PREC):
        return _to_int(to_decimal(eth, "eth").scaleb(ETH_DECIMALS), "exact", "eth", "1 wei")


def wei_to_eth(wei: int) -> Decimal:
    """Wei -> ETH (the chain's native coin, for gas), exact."""
    with localcontext(prec=_PREC):
        return Decimal(_base_int(wei, "wei")).scaleb(-ETH_DECIMALS)


# ---------------------------------------------------------------- floats for statistics and display


def base_to_float(units: np.ndarray | int) -> np.ndarray | float:
    """Base units -> float USD, for statistics, screens and display only (never for money sent on chain)."""
    if isinstance(units, Integral):
        return int(units) / USD_SCALE
    return np.asarray(units, dtype=np.float64) / USD_SCALE


def quantity_to_float(units: np.ndarray | int) -> np.ndarray | float:
    """Thousandths -> float units (MWh, GPU-hours), for statistics and display only."""
    if isinstance(units, Integral):
        return int(units) / QUANTITY_SCALE
    return np.asarray(units, dtype=np.float64) / QUANTITY_SCALE
