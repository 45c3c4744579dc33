"""USD prices <-> contract integers.

The contracts store prices as signed integers in collateral base units per unit
(USDC has 6 decimals, so $45.23/MWh = 45_230_000). Floats are fine for statistics but
not for money crossing the chain boundary, so every price leaving this package goes
through :func:`to_units`, which goes via ``Decimal(str(x))`` (the shortest repr of a
float, so ``0.1`` stays ``0.1``) and rounds half-to-even to the micro-dollar.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

import numpy as np

USDC_DECIMALS = 6
UNIT_SCALE = 10**USDC_DECIMALS  # base units per 1 USD
PRICE_QUANTUM = Decimal("0.000001")  # 1 base unit in USD
INT256_MIN, INT256_MAX = -(2**255), 2**255 - 1


def to_decimal(price_usd: float | int | str | Decimal) -> Decimal:
    """A finite ``Decimal`` for a USD amount; floats go through ``str`` to avoid binary noise."""
    if isinstance(price_usd, bool):
        raise TypeError("price must be a number, not bool")
    try:
        d = price_usd if isinstance(price_usd, Decimal) else Decimal(str(price_usd))
    except InvalidOperation as e:
        raise ValueError(f"not a number: {price_usd!r}") from e
    if not d.is_finite():
        raise ValueError(f"price must be finite, got {price_usd!r}")
    return d


def quantize_usd(price_usd: float | int | str | Decimal) -> Decimal:
    """Round a USD price to 6 decimals, half-to-even (banker's rounding, no drift on average)."""
    return to_decimal(price_usd).quantize(PRICE_QUANTUM, rounding=ROUND_HALF_EVEN)


def to_units(price_usd: float | int | str | Decimal) -> int:
    """USD price -> int256 contract price in USDC base units (may be negative).

    ``to_units(45.23) == 45_230_000``; ``to_units(-0.0000005) == 0`` (half-even);
    ``to_units(0.0000015) == 2``.
    """
    units = int(quantize_usd(price_usd) * UNIT_SCALE)
    if not INT256_MIN <= units <= INT256_MAX:
        raise ValueError(f"price {price_usd!r} does not fit int256 base units")
    return units


def from_units(units: int) -> Decimal:
    """Contract integer -> exact USD ``Decimal``."""
    if isinstance(units, bool) or not isinstance(units, int):
        raise TypeError(f"units must be int, got {type(units).__name__}")
    return Decimal(units).scaleb(-USDC_DECIMALS)  # exact, no context rounding


# --------------------------------------------------------------------------- exact averages
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


def exact_units(prices_usd: np.ndarray, scale: int = UNIT_SCALE) -> np.ndarray:
    """Float USD prices -> exact int64 multiples of 1/``scale`` USD, refusing anything finer.

    A price read from decimal text with at most 6 decimals is the float nearest that decimal,
    so ``rint(x * 10**6)`` recovers the decimal exactly (the float error is far below half a
    unit for any |x| < 10**9). A price with more decimals would be rounded silently, so it is
    refused: the vendored data has 2 (ERCOT) and 6 (PJM) decimals, GPU quotes whole cents.
    """
    x = np.asarray(prices_usd, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError("prices must be finite")
    if np.any(np.abs(x) >= 1e9):
        raise ValueError("price out of range for exact micro-dollar arithmetic")
    u = np.rint(x * scale)
    if not np.all(np.abs(x * scale - u) < 1e-3):
        bad = x[np.abs(x * scale - u) >= 1e-3][:3]
        raise ValueError(f"prices {bad.tolist()} are not whole multiples of 1/{scale} USD; "
                         "settlement arithmetic would not be exact")
    return u.astype(np.int64)
