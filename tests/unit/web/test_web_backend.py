"""apps.web.backend view models over the public SDK (fake client, fake relay transport: conftest)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from eth_account import Account

from apps.web import backend as be
from sdk import errors
from sdk.models import Order
from sdk.signing import order_typed_data, sign_order
from tests.unit.web.conftest import CHAIN_ID, EXCHANGE, NOW, SPREAD_ID, TRADER, checksum

# ---------------------------------------------------------------- formatting helpers


@pytest.mark.parametrize(
    "x, text",
    [
        (Decimal("1.2300"), "1.23"),
        (Decimal("1E+3"), "1000"),
        (0, "0"),
        (Decimal("-0.000001"), "-0.000001"),
        (None, None),
    ],
)
def test_d__plain_decimal_strings(x, text):
    assert be.d(x) == text


def test_px__quantized_to_the_tick_never_six_decimals():
    assert be.places(100) == 4 and be.places(10_000) == 2 and be.places(1_000) == 3 and be.places(0) == 2
    assert be.px(Decimal("2.4"), 100) == "2.4000" and be.px(Decimal("-12.3"), 10_000) == "-12.30"
    assert be.px(None, 100) is None


def test_when__local_time_with_utc_alongside():
    assert be.when(NOW) == "2026-11-15 12:00 UTC"
    assert be.when(NOW, "America/Chicago") == "2026-11-15 06:00 CST (12:00 UTC)"
    assert be.when(0) is None


def test_error_json__typed_never_a_blob():
    e = errors.InsufficientMargin(
        "deposit 4.20 USD", reason="Clearinghouse: insufficient margin", missing=Decimal("4.20"), obj=object()
    )
    assert be.error_json(e) == {
        "error": "InsufficientMargin",
        "message": "deposit 4.20 USD",
        "reason": "Clearinghouse: insufficient margin",
        "details": {"missing": "4.2"},
    }
    raw = be.error_json(ValueError("execution reverted: Clearinghouse: exceeds collateral"))
    assert raw["error"] == "InsufficientCollateral" and "0x" not in raw["message"]


# ---------------------------------------------------------------- markets


def test_markets__every_listed_market_with_mark_on_tick_and_words(backend, fake_client):
    rows = backend.markets()
    assert [r["id"] for r in rows] == sorted(fake_client._markets)
    spread = next(r for r in rows if r["id"] == SPREAD_ID)
    assert spread["kind"] == "SPREAD" and spread["status"] == "live" and spread["status_text"] == "live"
    assert spread["mark"] == "2.4000" and spread["spec_text"].startswith("Compute spread: H100-SXM")
    assert spread["open_interest"] == "5"
    power = next(r for r in rows if r["kind"] == "POWER")
    assert power["mark"] == "45.23" and "MWh" in power["im_text"]


def test_market__mark_history_from_price_updates_and_24h_change(backend):
    m = backend.market(SPREAD_ID)
    assert m["mark_history"][0] == [NOW - 2 * 86_400, 2.3] and len(m["mark_history"]) == 60
    # the newest stored value at or before 24 h ago is 2.3 + 0.01 x 24 = 2.54; mark now 2.40
    assert m["change_24h"] == "-0.1400"
    # a second read asks only for blocks after the last one seen: nothing is counted twice
    again = backend.mark_history(backend.client.market_params(SPREAD_ID).mark_feed)
    assert len(again) == 60 and again[-1][1] == 2_890_000


def test_market__unknown_id__unknown_market(backend):
    with pytest.raises(errors.UnknownMarket):
        backend.market(999)


def test_book_and_trades__from_the_relay_client(backend):
    b = backend.book(SPREAD_ID)
    assert b["bids"] == [{"price": "2.3520", "quantity": "720", "orders": 2}] and b["block"] == 99
    (t,) = backend.trades(SPREAD_ID)
    assert t["price"] == "2.4000" and t["quantity"] == "720" and t["side"] == "sell"


def test_book__no_relay__empty_not_an_error(fake_client):
    fake_client.relay = None
    b = be.Backend("unused.json", "http://unused", None, client=fake_client)
    assert b.book(SPREAD_ID)["bids"] == [] and b.trades(SPREAD_ID) == []


# ---------------------------------------------------------------- accounts


def test_account__positions_fills_settlements_in_human_units(backend):
    a = backend.account(TRADER.lower())
    assert a["address"] == checksum(TRADER) and a["collateral"] == "2000.00"
    (p,) = a["positions"]
    assert (p["symbol"], p["side"], p["quantity"], p["mark"]) == (
        "SPREAD.H100-SXM.HB_WEST.2026-12",
        "short",
        "-720",
        "2.4000",
    )
    assert p["liquidation_price"] == "3.9100"
    (f,) = a["fills"]
    assert f["side"] == "sell" and f["role"] == "taker" and f["fee"] == "0.86" and f["ts"] == NOW - 60 * 12
    assert a["realised_pnl"] == "12.50" and a["fees_paid"] == "0.86" and a["eth_balance"] == "9.8765"
    assert a["allowance_unlimited"] and a["settlements"][0]["pnl"] == "12.00"


def test_account__not_an_address__invalid_amount(backend):
    with pytest.raises(errors.InvalidAmount, match="not an Ethereum address"):
        backend.account("0x123")


def test_history__every_kind_newest_first_with_times(backend):
    h = backend.history(TRADER)
    kinds = [r["kind"] for r in h["rows"]]
    assert set(kinds) == {"deposit", "withdrawal", "liquidation", "fill", "settlement"}
    ts = [r["ts"] for r in h["rows"]]
    assert ts == sorted(ts, reverse=True) and all(ts)
    dep = next(r for r in h["rows"] if r["kind"] == "deposit")
    wd = next(r for r in h["rows"] if r["kind"] == "withdrawal")
    assert (dep["amount"], dep["text"]) == ("2500.00", "deposit 2,500.00 USD")
    assert (wd["amount"], wd["text"]) == ("-500.00", "withdraw 500.00 USD")
    liq = next(r for r in h["rows"] if r["kind"] == "liquidation")
    assert (
        liq["text"]
        == "liquidated 2 MWh of " + backend.client.market_params(1).symbol + " at 47.00 USD/MWh, penalty 1.88 USD"
    )


# ---------------------------------------------------------------- orders


def _signed(key_index: int = 0, **kw):
    acct = Account.from_key("0x" + f"{key_index + 1:064x}")
    o = Order(acct.address, SPREAD_ID, False, 720_000, 2_352_000, 7, NOW + 3600, False)
    o = Order(**{**o.__dict__, **kw})
    return acct, sign_order(o, acct, CHAIN_ID, EXCHANGE)


def test_build_order__typed_data_for_the_wallet_and_the_digest(backend):
    leg = backend.build_order(TRADER, SPREAD_ID, "sell", "720", "2.35201")
    o = Order.from_json(leg["order"])
    assert o.price == 2_352_100 and o.quantity == 720_000 and not o.is_buy  # a sell rounds up to the tick
    assert leg["typed_data"]["domain"] == order_typed_data(o, CHAIN_ID, EXCHANGE)["domain"]
    assert leg["typed_data"]["message"]["nonce"] == str(o.nonce)  # nonces exceed 2**53: strings
    assert leg["hash"] == backend.client.order_hash(o)


def test_build_order__preflight_refusal_is_the_sdk_error(backend):
    with pytest.raises(errors.InsufficientMargin, match="missing"):
        backend.build_order("0x" + "99" * 20, SPREAD_ID, "sell", "1000", "2.4")


def test_submit_order__posts_through_the_relay_client(backend, fake_relay):
    _, s = _signed()
    out = backend.submit_order(s.as_json())
    assert out["hash"] == s.hash and fake_relay.posted == [s.as_json()]


def test_submit_order__relay_refusal__code_and_missing_usd(backend, fake_relay):
    _, s = _signed()
    fake_relay.refuse = (
        400,
        {"detail": "the account cannot carry it", "code": "insufficient_margin", "missing": "1300000000"},
    )
    with pytest.raises(errors.RelayError) as e:
        backend.submit_order(s.as_json())
    assert (
        str(e.value)
        == ("the relay rejected the order (insufficient_margin): the account cannot carry it [missing 1,300.00 USD]")
        and e.value.status == 400
    )


def test_submit_order__posted_twice__second_is_acknowledged(backend, fake_relay):
    _, s = _signed()
    fake_relay.refuse = (409, {"detail": f"order {s.hash} is already known to the relay", "code": "duplicate"})
    assert backend.submit_order(s.as_json())["relay"] == {"hash": s.hash, "duplicate": True}


def test_submit_order__signed_by_someone_else__refused_before_the_relay(backend, fake_relay):
    me, s = _signed()
    _, forged = _signed(1)  # another key's signature, moved onto this order
    body = {"order": s.order.as_json(), "signature": forged.signature}
    with pytest.raises(errors.InvalidOrder, match=f"does not belong to {me.address}"):
        backend.submit_order(body)
    assert fake_relay.posted == []


def test_orders_status__filled_of_total_resting_until(backend):
    _, s = _signed()
    (row,) = backend.orders_status([s.order.as_json()])
    assert row["text"].startswith("SPREAD.H100-SXM.HB_WEST.2026-12 sell: filled 180 of 720 GPU-hour, 540 resting")


def test_tx_status__pending_success_failed_decoded(backend):
    assert backend.tx_status("0x" + "00" * 32) == {"status": "pending"}
    assert backend.tx_status("0x" + "11" * 32) == {"status": "success", "block": 99}
    failed = backend.tx_status("0x" + "22" * 32)
    assert failed["status"] == "failed" and failed["error"] == "InsufficientMargin"
    assert failed["details"] == {"missing": "4.2"}


def test_tx_deposit__unsigned_for_the_connected_wallet(backend):
    out = backend.tx_deposit(TRADER, "100")
    (t,) = out["txs"]
    assert t["tx"]["from"] == checksum(TRADER) and t["tx"]["gas"] == hex(60_000) and t["tx"]["value"] == "0x0"
    assert t["description"] == "deposit 100 USD"


def test_hedge_options__default_month_is_the_first_not_yet_in_delivery(backend, fake_client):
    """The lister keeps the current month listed (it trades to its end): the planner's default
    month is still the next one, whose delivery has not started (the current month's spread had
    no mark and the default plan failed with StaleMarket on the full-depth devnet)."""
    import dataclasses

    spread = next(m for m in fake_client._markets.values() if m.kind == "SPREAD")
    nxt = spread.period
    y, mo = (int(x) for x in nxt.split("-"))
    cur = f"{y - (mo == 1)}-{12 if mo == 1 else mo - 1:02d}"
    current = dataclasses.replace(
        spread,
        id=99,
        symbol=spread.symbol.rsplit(".", 1)[0] + "." + cur,
        delivery_start=fake_client.now() - 86_400,
        delivery_end=spread.delivery_start,
    )
    fake_client._markets[99] = current
    o = backend.hedge_options()
    assert o["months"][0] == cur and o["default_month"] == nxt
