"""sdk.models: derived account figures in human units."""

from __future__ import annotations

from decimal import Decimal

from sdk.models import Fill, Position
from tests.utils.sdk_helpers import account, position


def test_account__free_collateral_is_min_of_collateral_and_excess():
    a = account(1_000_000_000, [position(1, 1000, 1, 1)], equity=900_000_000, im=300_000_000, mm=200_000_000)
    assert a.free_collateral == Decimal("600") and a.unrealised_pnl == Decimal("-100")
    assert a.margin_usage == Decimal("0.3333") and a.health_ratio == Decimal("4.5")
    rich = account(100_000_000, [position(1, 1000, 1, 1)], equity=900_000_000, im=300_000_000)
    assert rich.free_collateral == Decimal("100")  # cannot withdraw unrealised gains
    flat = account(5_000_000)
    assert flat.free_collateral == Decimal("5") and flat.health_ratio is None and flat.margin_usage == 0


def test_account__underwater__no_free_collateral_infinite_usage():
    a = account(10, [position(1, 1000, 1, 1)], equity=-5, im=100, mm=50)
    assert a.free_collateral == 0 and a.margin_usage == Decimal("Infinity")


def test_position__entry_pnl_side():
    p = Position(5, "H100", -40_000, -99_200_000, 2_500_000, 31_000_000, 20_000_000, Decimal("2.863637"))
    assert p.side == "short" and p.quantity == Decimal("-40") and p.entry_price == Decimal("2.48")
    assert p.unrealised_pnl == Decimal("-0.8") and p.notional == Decimal("-100")
    assert p.initial_margin == Decimal("31") and p.maintenance_margin == Decimal("20")


def test_fill__sides_and_fees_per_party():
    f = Fill("0x01", 1, "0xMaker", "0xTaker", True, 40_000, 2_480_000, 19_840, 49_600, 10, "0x02", 0)
    assert f.side_of("0xmaker") == "buy" and f.side_of("0xTAKER") == "sell" and f.side_of("0xother") is None
    assert f.fee_of("0xTaker") == Decimal("0.0496") and f.fee_of("0xMaker") == Decimal("0.01984")
    assert f.quantity * f.price == Decimal("99.2")
