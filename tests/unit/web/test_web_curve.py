"""Dashboard forward curves, settlement calendar and paged markets (apps.web.backend over core.curve),
with the fake client listing the default markets for four successive months."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from scripts._markets import load_markets
from sdk.models import MarketStatus
from tests.unit.web.conftest import NOW
from tests.utils.sdk_helpers import market_from_entry

MONTH = 31 * 86400


@pytest.fixture
def strips_listed(fake_client):
    """Four months of every default series (ids 1..), the first hourly window settled."""
    ms, mid = {}, 1
    for k in range(4):
        for lm in load_markets(None, NOW + k * MONTH):
            m = market_from_entry(lm.manifest_entry(mid))
            if any(x.symbol == m.symbol for x in ms.values()):
                continue
            ms[mid] = m
            mid += 1
    fake_client._markets = ms
    base_market = type(fake_client).market

    def market(self, ref, block="latest"):
        m = base_market(self, ref, block)
        if m.id == 1:
            return dataclasses.replace(m, status=MarketStatus.SETTLED, settlement_price_units=44_100_000)
        return m

    fake_client.market = market.__get__(fake_client)
    return ms


def test_curves__one_line_per_series_points_per_window_axes_to_what_is_listed(backend, strips_listed):
    c = backend.curves()
    power = {s["series"]: s for s in c["power"]["series"]}
    peak = power["ERCOT.HB_WEST.DA.PEAK"]
    assert [p["period"] for p in peak["points"]] == ["2026-12", "2027-01", "2027-02", "2027-03"]
    assert peak["points"][0]["mark"] == "45.23" and peak["unit"] == "MWh" and peak["tz"] == "America/Chicago"
    assert "ERCOT.HB_WEST.DA.HOURLY" in power and len(power["ERCOT.HB_WEST.DA.HOURLY"]["points"]) == 3  # settled out
    ax = c["power"]["axes"]
    starts = [p["t"] for s in c["power"]["series"] for p in s["points"]]
    ends = [p["t_end"] for s in c["power"]["series"] for p in s["points"]]
    assert ax["x_min"] == min(starts) and ax["x_max"] == max(ends)
    assert ax["y_min_f"] < 45.23 < ax["y_max_f"] and ax["y_max_f"] - ax["y_min_f"] < 10  # not from zero
    gpu = {s["series"]: s for s in c["compute"]["series"]}
    assert gpu["H100-SXM"]["points"][0]["mark"] == "2.500"  # the GPU tick: 0.001


def test_curves__filters_by_node_and_window(backend, strips_listed):
    c = backend.curves({"node": "HB_WEST", "from": "2027-01", "to": "2027-02"})
    assert c["compute"]["series"] == [] and c["compute"]["axes"] is None
    peak = next(s for s in c["power"]["series"] if s["series"] == "ERCOT.HB_WEST.DA.PEAK")
    assert [p["period"] for p in peak["points"]] == ["2027-01", "2027-02"]


def test_calendar__days_in_order_value_final_or_expected(backend, strips_listed):
    cal = backend.calendar({"node": "HB_WEST"})
    days = [d["day"] for d in cal["days"]]
    assert days == sorted(days) and cal["count"] == sum(len(d["entries"]) for d in cal["days"])
    rows = [e for d in cal["days"] for e in d["entries"]]
    assert all(e["status"] != "settled" for e in rows)
    peak = next(e for e in rows if e["symbol"] == "ERCOT.HB_WEST.DA.PEAK.2026-12")
    assert peak["value_text"] == "45.23 USD/MWh (mark: expected)" and peak["final_from"] == peak["fixes_at"] + 3600
    assert "CST" in peak["fixes_at_text"] and "UTC" in peak["fixes_at_text"]
    settled = backend.calendar({"node": "HB_WEST", "settled": "1"})
    first = next(e for d in settled["days"] for e in d["entries"] if e["id"] == 1)
    assert first["value_text"] == "44.10 USD/MWh (final)" and first["value_is_final"]


def test_market_page__filters_and_cursor_pages(backend, strips_listed):
    first = backend.market_page({"limit": "5"})
    assert len(first["markets"]) == 5 and first["total"] == len(strips_listed) and first["next_cursor"]
    nxt = backend.market_page({"limit": "5", "cursor": first["next_cursor"]})
    assert [m["id"] for m in nxt["markets"]] == [6, 7, 8, 9, 10]
    gpu = backend.market_page({"kind": "COMPUTE", "series": "H100-SXM"})
    assert [m["period"] for m in gpu["markets"]] == ["2026-12", "2027-01", "2027-02", "2027-03"]


@pytest.mark.parametrize(
    "query, words",
    [
        ("kind=GAS", "POWER, COMPUTE, SPREAD"),
        ("from=December", "2026-12-05"),
        ("limit=abc", "whole numbers"),
        ("limit=0", "between 1 and 500"),
        ("cursor=zzz", "start again"),
    ],
)
def test_api_markets__bad_filter__422_with_the_fix(api, strips_listed, query, words):
    r = api.get(f"/api/markets?{query}")
    assert r.status_code == 422 and words in r.json()["message"]


def test_api_markets__no_query__the_whole_list_as_before(api, strips_listed):
    r = api.get("/api/markets")
    assert r.status_code == 200 and isinstance(r.json(), list) and len(r.json()) == len(strips_listed)


def test_pages__curves_and_calendar_render_the_strips_and_fixings(api, strips_listed):
    html = api.get("/curves", headers={"accept": "text/html"}).text
    assert "ERCOT.HB_WEST.DA.PEAK" in html and "2027-03" in html and 'id="curve-power"' in html
    assert "45.23" in html and "45.230000" not in html
    cal = api.get("/calendar?node=HB_WEST", headers={"accept": "text/html"}).text
    assert "Settlement calendar" in cal and "(mark: expected)" in cal and "ERCOT.HB_WEST.DA.PEAK.2026-12" in cal
    bad = api.get("/calendar?from=soon", headers={"accept": "text/html"})
    assert bad.status_code == 422 and "2026-12-05" in bad.text and "<html" in bad.text


# ---------------------------------------------------------------- basis (the operator's own prices)


def test_basis_series__daily_and_monthly_series_not_hourly_not_spread(backend):
    got = [s["series"] for s in backend.basis_series()]
    assert "ERCOT.HB_WEST.DA.ATC" in got and "H100-SXM" in got
    assert not any("HOURLY" in s or s.startswith("SPREAD") for s in got)


def test_api_basis__index_plus_premium__perfect_hedge_and_missing_listed(api):
    from apps.cli.index import index_values
    from oracle.settings import OracleSettings

    days = ["2021-03-01", "2021-03-02", "2021-03-03", "2021-03-04"]
    idx = index_values(["ERCOT", "HB_WEST", "DA", "ATC"], days, OracleSettings())
    text = "date,price\n" + "".join(f"{d},{idx[d] + 3}\n" for d in days) + "2031-01-01,5\n"
    r = api.post("/api/basis", json={"series": "ERCOT.HB_WEST.DA.ATC", "text": text})
    assert r.status_code == 200, r.text
    b = r.json()
    assert b["overlap"] == 4 and b["mean_basis"] == "3.00" and b["variance_reduction"] == "1.0000"
    assert b["r_squared"] == "1.0000" and b["missing_index"] == ["2031-01-01"] and b["unit"] == "MWh"


@pytest.mark.parametrize(
    "body, words",
    [
        ({"series": "ERCOT.HB_WEST.DA.ATC", "text": "2021-03-01,4\n2021-03-02,x"}, "line 2: price 'x' is not a number"),
        ({"series": "ERCOT.HB_WEST.DA.ATC", "text": ""}, "no prices given"),
        ({"series": "ERCOT.HB_WEST.DA.ATC"}, "send your prices as text"),
        ({"series": "NOPE", "text": "2021-03-01,4"}, "is not listed here"),
        ({"series": "ERCOT.HB_WEST.DA.ATC", "text": "x" * 400_001}, "400 kB"),
    ],
)
def test_api_basis__bad_input__422_naming_the_fix(api, body, words):
    r = api.post("/api/basis", json=body)
    assert r.status_code == 422 and words in r.json()["message"]


def test_page__basis_renders_the_series_choice(api):
    html = api.get("/basis", headers={"accept": "text/html"}).text
    assert "Basis and hedge effectiveness" in html and 'value="ERCOT.HB_WEST.DA.ATC"' in html


# ---------------------------------------------------------------- accounting CSV: realised PnL per row


def test_accounting__realised_pnl_per_row_by_the_clearinghouse_rule(api, fake_client):
    from sdk.models import Fill, Settlement
    from tests.unit.web.conftest import MAKER, TRADER, checksum

    me = checksum(TRADER)
    peak = 3  # ERCOT.HB_WEST.DA.PEAK (tick 0.01)

    def fill(block, maker_is_buy, qty, price, fee):
        # the account is the taker: maker_is_buy=True means the account sells
        return Fill("0x" + "0f" * 32, peak, checksum(MAKER), me, maker_is_buy, qty, price, 0, fee, block,
                    "0x" + f"{block:064x}", 0)  # fmt: skip

    fake_client.fills = lambda a: [
        fill(10, False, 10_000, 40_000_000, 200_000),  # buy 10 MWh at 40.00, fee 0.20
        fill(20, True, 4_000, 45_500_000, 90_000),  # sell 4 at 45.50: realises 4 x 5.50 = 22.00
    ]
    fake_client.liquidations = lambda a: []
    fake_client.settlements = lambda a: [Settlement(me, peak, 6_000, 33_000_000, 30, "0x" + "5e" * 32, 45_500_000)]
    r = api.get(f"/api/account/{me}/accounting.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = r.text.splitlines()
    assert lines[0] == (
        "time_utc,kind,market_id,symbol,side,quantity,unit,price,fee_usd,realised_pnl_usd,cash_usd,position_after,"
        "block,tx_hash"
    )
    rows = [dict(zip(lines[0].split(","), x.split(","), strict=True)) for x in lines[1:]]
    assert [x["kind"] for x in rows] == ["fill", "fill", "settlement"]
    assert rows[0]["side"] == "buy" and rows[0]["realised_pnl_usd"] == "0.00" and rows[0]["cash_usd"] == "-0.20"
    assert rows[1]["side"] == "sell" and rows[1]["price"] == "45.50" and rows[1]["realised_pnl_usd"] == "22.00"
    assert rows[1]["cash_usd"] == "21.91" and rows[1]["position_after"] == "6"
    assert rows[2]["realised_pnl_usd"] == "33.00" and rows[2]["position_after"] == "0" and rows[2]["block"] == "30"
    assert rows[0]["time_utc"].endswith("Z") and rows[1]["tx_hash"] == "0x" + f"{20:064x}"


def test_accounting__every_event_kind_and_a_bad_address(api):
    from tests.unit.web.conftest import TRADER

    kinds = [x.split(",")[1] for x in api.get(f"/api/account/{TRADER}/accounting.csv").text.splitlines()[1:]]
    assert sorted(kinds) == ["fill", "liquidation", "settlement"]
    r = api.get("/api/account/0x123/accounting.csv")
    assert r.status_code == 422 and r.json()["error"] == "InvalidAmount"


# ---------------------------------------------------------------- order ticket: pre-trade liquidation price


def test_order_preview__liquidation_price_per_leverage_matches_the_margin_rule(api):
    r = api.post("/api/orders/preview", json={"market_id": 3, "side": "buy", "quantity": "10", "price": "45.23"})
    assert r.status_code == 200, r.text
    p = r.json()
    assert p["price"] == "45.23" and p["notional"] == "452.30" and p["symbol"] == "ERCOT.HB_WEST.DA.PEAK.2026-12"
    # IM per MWh = 60 + 30% x 45.23 = 73.569: 10 MWh need 735.69 USD; taker fee 5 bps of 452.30
    assert p["margin_needed"] == "735.69" and p["fee"] == "0.23"
    best = p["leverage"][-1]
    assert best["label"].startswith("max") and best["collateral"] == "735.92"
    # held alone with IM + fee, a long is liquidated when C - fee + q(L - P) = q(40 + 20% L):
    # L = (40 + P - 73.569) / 0.8 = 14.57625 USD/MWh (shown to the tick)
    liq = Decimal(best["liquidation"][0]["price"])
    assert abs(liq - Decimal("14.57625")) <= Decimal("0.01") and best["liquidation"][0]["price"].count(".") == 1
    assert len(best["liquidation"][0]["price"].split(".")[1]) == 2


def test_order_preview__with_the_connected_account_first(api):
    from tests.unit.web.conftest import TRADER

    body = {"account": TRADER, "market_id": 7, "side": "buy", "quantity": "100", "price": "2.4"}
    rows = api.post("/api/orders/preview", json=body).json()["leverage"]
    assert rows[0]["label"] == "your account as it is" and rows[0]["liquidation"][0]["price"].count(".") == 1


@pytest.mark.parametrize(
    "body, words",
    [
        ({"market_id": 3, "side": "hold", "quantity": "1", "price": "40"}, "buy or sell"),
        ({"market_id": 3, "side": "buy", "quantity": "0.01", "price": "40"}, "below"),
        ({"market_id": "x", "side": "buy", "quantity": "1", "price": "40"}, "market's number"),
        ({"market_id": 3, "side": "buy", "quantity": "1", "price": "40", "account": "0x12"}, "not an Ethereum"),
    ],
)
def test_order_preview__bad_input__4xx(api, body, words):
    r = api.post("/api/orders/preview", json=body)
    assert 400 <= r.status_code < 500 and words in r.json()["message"]


# ---------------------------------------------------------------- hedge planner: a strip in one plan


def test_hedge_plan__months_plans_a_strip_each_month_its_own_hours(api, strips_listed):
    body = {"gpu": "H100-SXM", "node": "HB_WEST", "month": "2026-12", "count": "8", "utilisation": "90"}
    one = api.post("/api/hedge/plan", json=body).json()
    strip = api.post("/api/hedge/plan", json={**body, "months": "3"}).json()
    assert [x["symbol"] for x in strip["legs"]] == [
        f"SPREAD.H100-SXM.HB_WEST.{p}" for p in ("2026-12", "2027-01", "2027-02")
    ]
    assert strip["legs"][0]["quantity"] == one["legs"][0]["quantity"]  # December alike in both
    assert Decimal(strip["gpu_hours"]) == sum(Decimal(x["quantity"]) for x in strip["legs"])
    assert strip["months"] == 3 and " to " in strip["window_text"] and strip["scenarios"]["available"] is False
    assert Decimal(strip["margin_needed"]) > 2 * Decimal(one["margin_needed"])


def test_hedge_plan__bad_months__422(api):
    r = api.post("/api/hedge/plan", json={"gpu": "H100-SXM", "node": "HB_WEST", "month": "2026-12", "months": "99"})
    assert r.status_code == 422 and "from 1 to 36" in r.json()["message"]
