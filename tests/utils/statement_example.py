"""The hedge statement's worked example (tests/unit/core/test_core_statement.py checks every figure
of it by hand; the rendering tests draw it): two delivery months of an H100 site at HB_WEST."""

from __future__ import annotations

from fractions import Fraction

from core import statement as cs

JAN = 1798783200  # 2027-01-01 00:00 CST (America/Chicago) in unix s
FEB = 1801461600  # 2027-02-01 00:00 CST
TZ = "America/Chicago"
USD = 10**6

COMPUTE = cs.MarketInfo(1, "H100-SXM.2027-01", "COMPUTE", JAN, FEB, "UTC", "GPU-hour", 100, gpu="H100-SXM")
POWER = cs.MarketInfo(2, "ERCOT.HB_WEST.DA.ATC.2027-01", "POWER", JAN, FEB, TZ, "MWh", 10_000, node="HB_WEST")
SPREAD = cs.MarketInfo(
    3, "SPREAD.H100-SXM.HB_WEST.2027-02", "SPREAD", FEB, FEB + 28 * 86400, TZ, "GPU-hour", 100, Fraction(12, 10_000)
)
MARKETS = {m.id: m for m in (COMPUTE, POWER, SPREAD)}


def tx(n: int) -> str:
    return "0x" + f"{n:064x}"


def fill(mid, delta, price, fee, block, log=0):
    return cs.LedgerEvent("fill", mid, delta, price, fee, block, log, tx(block * 100 + log))


EVENTS = [
    fill(1, -100_000, 2 * USD, USD // 10, 10),
    fill(1, -50_000, 2_300_000, USD // 10, 11),
    fill(2, 180, 40 * USD, USD // 100, 12),
    fill(3, -720_000, 1_850_000, 0, 13),
    cs.LedgerEvent("settlement", 3, 720_000, 1_700_000, 0, 20, 0, tx(2000), pnl=108 * USD),
]


def holdings(block=30):
    src = cs.Source(block, None, "position")
    return {
        1: cs.Holding(-150_000, -315 * USD, 2_200_000, src),
        2: cs.Holding(180, 7_200_000, 45 * USD, src),
        3: cs.Holding(0, 0, 1_700_000, src),
    }


def months(span=("2027-01", "2027-12")):
    legs = cs.build_legs(MARKETS, EVENTS, holdings(), span)
    by = {}
    for leg in legs:
        by.setdefault(leg.month, []).append(leg)
    refs = {mo: cs.reference_from_legs(ls) for mo, ls in by.items()}
    refs["2027-02"] = (2 * USD, 40 * USD, ())  # the SPREAD month's reference: a listed COMPUTE/POWER pair
    return cs.group_months(legs, span, refs)
