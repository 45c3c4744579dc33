"""Human units <-> chain integers: the ONE place the SDK converts them (DESIGN §3).

Chain units:
    price     signed collateral base units per 1 unit (USDC, 6 dp: $45.23/MWh = 45_230_000)
    quantity  integer thousandths of a unit (QUANTITY_SCALE = 1000; 1 kWh = 1 for power)
    notional  quantity * price / QUANTITY_SCALE, base units (exact on tick x step)
    rates     basis points (10_000 = 100%)

Human units at the SDK surface: ``Decimal`` USD, ``Decimal`` MWh / GPU-hours. Floats are
refused everywhere money or size is involved (``0.1`` is not ``Decimal("0.1")``).

Rounding never favours the user against the protocol:
    * a buy limit rounds DOWN to the tick, a sell limit rounds UP (you never pay/receive a
      worse price than you asked; the order just becomes a little less aggressive);
    * an order quantity rounds DOWN to the step (never more exposure than asked), and a size
      below the market minimum is an error, not silently raised;
    * USD amounts to deposit/withdraw must be exact at 6 dp unless a rounding is named;
    * fees and margin requirements round UP (as the contracts do), valuations DOWN.
"""
from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation, localcontext
from typing import Literal, Protocol, Union

from core import margin as _margin
from sdk.errors import BelowMinimum, InvalidAmount, InvalidOrder

USDC_DECIMALS = 6
USD_SCALE = 10**USDC_DECIMALS  # base units per USD
QUANTITY_SCALE = 1_000  # thousandths per unit
BPS = 10_000  # basis points per 100%
INT256_MIN, INT256_MAX = -(2**255), 2**255 - 1
UINT256_MAX = 2**256 - 1

Number = Union[Decimal, int, str]
Side = Literal["buy", "sell"]
Rounding = Literal["exact", "down", "up"]

_ROUNDING = {"down": ROUND_FLOOR, "up": ROUND_CEILING}


class MarketUnits(Protocol):
    """What rounding needs of a market (``sdk.models.Market`` satisfies it)."""

    id: int
    symbol: str
    price_tick: int  # base units per unit
    quantity_step: int  # thousandths
    min_quantity: int  # thousandths


def to_decimal(value: Number, what: str = "amount") -> Decimal:
    """``Decimal``, ``int`` or numeric ``str`` -> finite ``Decimal``. Floats are refused."""
    if isinstance(value, bool) or isinstance(value, float):
        raise InvalidAmount(f"{what} {value!r} is a {type(value).__name__}; pass a Decimal, int or str "
                            f"(e.g. Decimal('{value}')) so no precision is lost")
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, int):
        d = Decimal(value)
    elif isinstance(value, str):
        try:
            d = Decimal(value.strip().replace("_", ""))
        except InvalidOperation:
            raise InvalidAmount(f"{what} {value!r} is not a number") from None
    else:
        raise InvalidAmount(f"{what} must be a Decimal, int or str, got {type(value).__name__}")
    if not d.is_finite():
        raise InvalidAmount(f"{what} must be finite, got {value!r}")
    if d and d.adjusted() > 77:  # beyond every uint256/int256 the chain holds; scaling it would overflow Decimal
        raise InvalidAmount(f"{what} {value!r} is too large")
    return d


def _to_int(d: Decimal, rounding: Rounding, what: str, finest: str) -> int:
    if rounding == "exact":
        if d != d.to_integral_value():
            raise InvalidAmount(f"{what} is finer than {finest}; round it first or pass rounding='down'/'up'")
        return int(d)
    if rounding not in _ROUNDING:
        raise ValueError(f"rounding must be 'exact', 'down' or 'up', got {rounding!r}")
    return int(d.to_integral_value(rounding=_ROUNDING[rounding]))


# ---------------------------------------------------------------- money


# enough digits that no uint256/int256 conversion ever rounds inside Decimal arithmetic
_PREC = 100


def usd_to_base(usd: Number, rounding: Rounding = "exact") -> int:
    """USD -> collateral base units (6 dp). ``exact`` refuses sub-micro-dollar amounts."""
    d = to_decimal(usd, "USD amount")
    with localcontext(prec=_PREC):
        return _to_int(d.scaleb(USDC_DECIMALS), rounding, f"{d} USD", "1e-6 USD (the collateral's 6 decimals)")


def base_to_usd(units: int) -> Decimal:
    """Collateral base units -> USD (exact)."""
    with localcontext(prec=_PREC):
        return Decimal(int(units)).scaleb(-USDC_DECIMALS)


def positive_usd(usd: Number, what: str = "amount") -> int:
    """A strictly positive exact USD amount as base units (deposits, withdrawals, faucet)."""
    units = usd_to_base(usd)
    if units <= 0:
        raise InvalidAmount(f"{what} must be positive, got {usd} USD")
    return units


# ---------------------------------------------------------------- quantity


def quantity_to_units(quantity: Number, rounding: Rounding = "exact") -> int:
    """MWh / GPU-hours -> thousandths."""
    d = to_decimal(quantity, "quantity")
    with localcontext(prec=_PREC):
        return _to_int(d.scaleb(3), rounding, f"quantity {d}", "0.001 unit")


def units_to_quantity(units: int) -> Decimal:
    """Thousandths -> MWh / GPU-hours (exact)."""
    with localcontext(prec=_PREC):
        return Decimal(int(units)).scaleb(-3)


# ---------------------------------------------------------------- rates


def bps_to_fraction(bps: int) -> Decimal:
    return Decimal(int(bps)) / BPS


def fraction_to_bps(fraction: Number, rounding: Rounding = "exact") -> int:
    return _to_int(to_decimal(fraction, "rate").scaleb(4), rounding, "rate", "1 bp")


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
            raise InvalidOrder(f"price {d} USD is not on {market.symbol}'s tick of {base_to_usd(tick)} USD; "
                               f"use round_price(market, price, side)")
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
        steps = d.scaleb(3) / step
    if exact and steps != steps.to_integral_value():
        raise InvalidOrder(f"quantity {d} is not a multiple of {market.symbol}'s step {units_to_quantity(step)}")
    units = int(steps.to_integral_value(rounding=ROUND_FLOOR)) * step
    if units < int(market.min_quantity):
        raise BelowMinimum(
            f"quantity {d} (rounded down to the step: {units_to_quantity(units)}) is below {market.symbol}'s "
            f"minimum of {units_to_quantity(market.min_quantity)}; trade at least that much",
            market_id=market.id, minimum=units_to_quantity(market.min_quantity))
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
