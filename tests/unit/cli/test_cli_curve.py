"""`cspread markets` filters and pages, `cspread curve` strips, `cspread calendar`: over the real
markets/default.json listed for six successive months (a stub reader stands in for the chain)."""

from __future__ import annotations

import json

import pytest

from apps.cli.common import State
from scripts._markets import load_markets
from sdk.models import Mark, MarketStatus
from tests.unit.cli.test_cli_format import StubReader, invoke
from tests.utils.sdk_helpers import NOW, market_from_entry

MONTH = 31 * 86400


@pytest.fixture
def strip_markets():
    """Every default market listed from six successive chain times: six monthly windows per
    monthly series; marks falling 0.25 USD a month from 45.231234 (more decimals than any tick)."""
    out, mid = [], 1
    for k in range(6):
        for lm in load_markets(None, NOW + k * MONTH):
            m = market_from_entry(lm.manifest_entry(mid))
            if any(x.symbol == m.symbol for x in out):
                continue
            settled = k == 0 and m.symbol.endswith("HE17")
            mark = Mark(mid, m.mark_feed, 45_231_234 - 250_000 * k, NOW - 30, True)
            out.append(
                type(m)(
                    **{
                        **m.__dict__,
                        "status": MarketStatus.SETTLED if settled else MarketStatus.LIVE,
                        "mark": mark,
                        "long_open_interest": 12_500 * k,
                        "settlement_price_units": 44_100_000 if settled else None,
                    }
                )
            )
            mid += 1
    return out


@pytest.fixture
def stubbed(monkeypatch, strip_markets):
    reader = StubReader(strip_markets)
    monkeypatch.setattr(State, "reader", lambda self: reader)
    return reader


def js(r):
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


def test_markets__node_and_kind_filters(stubbed):
    got = js(invoke("markets", "--node", "hb_west", "--json"))
    assert got and all("HB_WEST" in m["symbol"] for m in got)
    assert {m["kind"] for m in got} == {"POWER", "SPREAD"}
    assert [m["id"] for m in got] == sorted(m["id"] for m in got)  # listing order
    gpus = js(invoke("markets", "--kind", "COMPUTE", "--series", "H100-SXM", "--json"))
    assert [m["symbol"] for m in gpus] == [f"H100-SXM.{p}" for p in ("2026-12", "2027-01", "2027-02", "2027-03",
                                                                    "2027-04", "2027-05")]  # fmt: skip


def test_markets__window_range(stubbed):
    got = js(invoke("markets", "--series", "ERCOT.HB_WEST.DA.PEAK", "--from", "2027-01", "--to", "2027-02", "--json"))
    assert [m["symbol"].rsplit(".", 1)[1] for m in got] == ["2027-01", "2027-02"]


def test_markets__pages_with_limit_offset_and_cursor(stubbed, strip_markets):
    first = js(invoke("markets", "--limit", "10", "--json"))
    assert first["total"] == len(strip_markets) and len(first["markets"]) == 10 and first["next_cursor"]
    second = js(invoke("markets", "--limit", "10", "--cursor", first["next_cursor"], "--json"))
    by_offset = js(invoke("markets", "--limit", "10", "--offset", "10", "--json"))
    assert [m["id"] for m in second["markets"]] == [m["id"] for m in by_offset["markets"]] == list(range(11, 21))
    table = invoke("markets", "--limit", "5")
    assert table.exit_code == 0 and "markets 1-5 of" in table.stdout and "--cursor" in table.stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--kind", "GAS"), "POWER, COMPUTE, SPREAD"),
        (("--from", "Dec"), "2026-12-05"),
        (("--from", "2027-03", "--to", "2027-01"), "before it starts"),
        (("--limit", "0"), "between 1 and 500"),
        (("--cursor", "garbage!"), "start again"),
        (("--status", "open"), "live, stale"),
    ],
)
def test_markets__bad_filters__usage_error_with_the_fix(stubbed, args, words):
    r = invoke("markets", *args)
    assert r.exit_code == 2 and words in r.stderr and "Traceback" not in r.stderr


def test_markets__nothing_matches__says_so(stubbed):
    r = invoke("markets", "--node", "NOWHERE")
    assert r.exit_code == 0 and "no market matches these filters" in r.stdout


def test_curve__strip_in_delivery_order_prices_to_the_tick(stubbed):
    r = invoke("curve", "HB_WEST", "PEAK")
    assert r.exit_code == 0, r.stderr
    out = r.stdout
    assert "ERCOT.HB_WEST.DA.PEAK forward curve" in out and "USD/MWh" in out
    months = ["2026-12", "2027-01", "2027-02", "2027-03", "2027-04", "2027-05"]
    pos = [out.index(m) for m in months]
    assert pos == sorted(pos)  # delivery order
    assert "45.23" in out and "45.231234" not in out  # to the 0.01 tick, never the chain's 6 decimals
    assert "UTC" in out  # times in UTC (and local when the machine's zone differs)
    data = js(invoke("curve", "HB_WEST", "PEAK", "--json"))
    assert [s["series"] for s in data] == ["ERCOT.HB_WEST.DA.PEAK"]
    pts = data[0]["points"]
    assert [p["period"] for p in pts] == months and pts[0]["mark"] == "45.23" and pts[1]["mark"] == "44.98"
    assert pts[1]["open_interest"] == "12.5" and pts[0]["index"] is None and pts[0]["status"] == "live"


def test_curve__gpu_strip_to_its_finer_tick(stubbed):
    data = js(invoke("curve", "H100-SXM", "--kind", "COMPUTE", "--json"))
    assert len(data) == 1 and data[0]["unit"] == "GPU-hour" and data[0]["points"][0]["mark"] == "45.231"


def test_curve__settled_window_shown_only_on_request(stubbed):
    first = "ERCOT.HB_WEST.DA.HOURLY.2026-11-16HE17"
    pts = js(invoke("curve", "HB_WEST", "HOURLY", "--json"))[0]["points"]
    assert first not in [p["symbol"] for p in pts] and len(pts) == 5
    pts = js(invoke("curve", "HB_WEST", "HOURLY", "--settled", "--json"))[0]["points"]
    assert pts[0]["symbol"] == first and pts[0]["status"] == "settled" and pts[0]["settlement_price"] == "44.10"


def test_curve__unknown_series__one_line_error(stubbed):
    r = invoke("curve", "HB_NOWHERE", "PEAK")
    assert r.exit_code == 1 and r.stderr.startswith("error: no listed series matches HB_NOWHERE PEAK")
    assert "cspread markets" in r.stderr and r.stderr.count("\n") == 1


def test_curve__index_from_the_reporters(stubbed, strip_markets, monkeypatch):
    peak = [m for m in strip_markets if m.symbol.startswith("ERCOT.HB_WEST.DA.PEAK")]
    got = {peak[0].mark_feed.lower(): 44_000_000}
    monkeypatch.setattr("apps.web.backend.reporter_index_prices", lambda http, urls: got)
    pts = js(invoke("curve", "HB_WEST", "PEAK", "--oracle-url", "http://127.0.0.1:1", "--json"))[0]["points"]
    assert pts[0]["index"] == "44.00" and pts[0]["basis"] == "1.23" and pts[1]["index"] is None


def test_calendar__fixing_order_value_and_finality(stubbed):
    rows = js(invoke("calendar", "--node", "HB_WEST", "--json"))
    fixes = [r["fixes_at"] for r in rows]
    assert fixes == sorted(fixes) and all(r["status"] != "settled" for r in rows)
    row = next(r for r in rows if r["symbol"] == "ERCOT.HB_WEST.DA.PEAK.2026-12")
    assert row["fixes_at"] == row["delivery_end"] and row["final_from"] == row["delivery_end"] + 3600
    assert row["value"] == "45.23" and row["value_is_final"] is False
    settled = js(invoke("calendar", "--node", "HB_WEST", "--settled", "--json"))
    he17 = next(r for r in settled if r["symbol"].endswith("2026-11-16HE17"))
    assert he17["value"] == "44.10" and he17["value_is_final"] is True
    table = invoke("calendar", "--series", "ERCOT.HB_WEST.DA.PEAK")
    assert table.exit_code == 0 and "mark: expected" in table.stdout and "Settlement calendar" in table.stdout


# ---------------------------------------------------------------- cspread hedge ... --months N


@pytest.fixture
def strip_reader(monkeypatch, strip_markets):
    from tests.unit.sdk.test_sdk_hedge_strip import MARKS, StripReader

    reader = StripReader(strip_markets, {m.id: MARKS[m.kind] for m in strip_markets})
    reader.chain_id = 31337
    monkeypatch.setattr(State, "reader", lambda self: reader)
    return reader


def test_hedge_spread__months_plans_a_strip_in_one_plan(strip_reader):
    r = invoke("hedge", "spread", "--gpu", "H100-SXM", "--node", "HB_WEST", "--gpu-hours", "720", "--months", "3",
               "--dry-run", "--json")  # fmt: skip
    plan = js(r)
    assert [o["symbol"] for o in plan["orders"]] == [
        f"SPREAD.H100-SXM.HB_WEST.{p}" for p in ("2026-12", "2027-01", "2027-02")
    ]
    assert "for 3 months (2026-12 to 2027-02)" in plan["description"]
    table = invoke("hedge", "spread", "--gpu", "H100-SXM", "--node", "HB_WEST", "--gpu-hours", "720", "--months",
                   "2", "--month", "2027-02", "--dry-run")  # fmt: skip
    assert table.exit_code == 0, table.stderr
    assert "SPREAD.H100-SXM.HB_WEST.2027-02" in table.stdout and "2027-03" in table.stdout
    assert "2026-12" not in table.stdout.split("margin needed")[0].split("\n", 1)[1]


def test_hedge_power__months_strip(strip_reader):
    plan = js(invoke("hedge", "power", "--node", "HB_WEST", "--mw", "5", "--profile", "peak", "--months", "2",
                     "--dry-run", "--json"))  # fmt: skip
    assert [o["symbol"] for o in plan["orders"]] == ["ERCOT.HB_WEST.DA.PEAK.2026-12", "ERCOT.HB_WEST.DA.PEAK.2027-01"]


@pytest.mark.parametrize(
    "args, words",
    [(("--months", "0"), "from 1 to 36"), ((), "give --month 2026-12 (one window) or --months N")],
)
def test_hedge__window_arguments__usage_error(strip_reader, args, words):
    r = invoke("hedge", "spread", "--gpu", "H100-SXM", "--node", "HB_WEST", "--gpu-hours", "1", *args, "--dry-run")
    assert r.exit_code == 2 and words in r.stderr
