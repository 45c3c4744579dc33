"""Issue 10 / 14.5 in the browser: real forward curves (one line per series, a point per listed
window, axes sized to what is listed) and the settlement calendar, at desktop and phone widths,
on a real devnet (anvil + deploy + reporters + pusher) listing four months of each monthly
series from markets/default.json, with the dashboard as a child process. Screenshots go to
out/web-screens/ (ignored)."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest

from tests.integration.conftest_web import (  # noqa: F401 - fixtures
    CHAIN_T0,
    CHROMIUM,
    REPLAY_OFFSETS,
    PageHandle,
    WebEnv,
    _wait_fresh,
    browser,
    page_for,
    screenshot,
    web_failure_hook,
)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
WIDTHS = [pytest.param((1280, 900), id="desktop"), pytest.param((390, 844), id="phone")]
MONTHS = 4  # monthly windows listed per monthly series


def _markets_file(path: Path) -> Path:
    """markets/default.json with every monthly series listed for the next MONTHS months."""
    data = json.loads((ROOT / "markets" / "default.json").read_text())
    out = []
    for e in data["markets"]:
        out.append(e)
        if e["delivery"]["period"] == "month":
            for k in range(2, MONTHS + 1):
                out.append({**e, "delivery": {**e["delivery"], "offset": k}})
    path.write_text(json.dumps({**data, "markets": out}))
    return path


@pytest.fixture(scope="module")
def web_env(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no chromium at {CHROMIUM} (make browser installs Debian's chromium)")
    from apps.web.server import WebProcess
    from devnet.stack import Stack

    tmp = tmp_path_factory.mktemp("curve")
    stack = Stack(
        tmp / "stack",
        anvil_timestamp=CHAIN_T0,
        markets=_markets_file(tmp / "markets.json"),
        oracle_env={"CSPREAD_ORACLE_REPLAY_OFFSETS": json.dumps(REPLAY_OFFSETS)},
        relay=False,
        market_maker=False,
    )
    web = None
    try:
        stack.start()
        env = WebEnv(
            stack.rpc_url, "", stack.manifest_path, stack.manifest, dict(stack.keys), "", list(stack.reporter_urls)
        )
        # the pusher keeps only needed marks on a templated devnet: ask for these (as a client does)
        stack.wait_fresh(timeout=180)
        # a still-growing curve makes the page and /api/curves disagree by the windows listed in
        # between (run 3: 9 rows vs 11): the pages are read once the lister has listed its depth
        stack.wait_until(
            lambda: (g := stack.listed()).get("due", 0) > 0 and g.get("missing", 1) == 0,
            300,
            1.0,
            "the lister to list every series to its depth",
        )
        web = WebProcess(
            env.manifest_path, env.rpc_url, None, oracle_urls=env.reporter_urls[:1], log_path=tmp / "web.log"
        ).start()
        env.web_url = web.url
        yield env
    finally:
        if web is not None:
            web.stop()
        stack.stop()


def _no_overflow(h: PageHandle, what: str) -> None:
    overflow = h.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{what} overflows the viewport by {overflow}px"


def _monthly(env, prefix: str) -> list[dict]:
    return sorted((m for m in env.manifest["markets"] if m["symbol"].startswith(prefix)), key=lambda m: m["symbol"])


@pytest.mark.parametrize("size", WIDTHS)
def test_curves__one_line_per_series_a_point_per_window_axes_to_what_is_listed(page_for, web_env, size):
    peak = _monthly(web_env, "ERCOT.HB_WEST.DA.PEAK.")
    assert len(peak) == MONTHS
    h = page_for(None, width=size[0], height=size[1])
    p = h.page
    p.goto("/")  # the markets page draws the same curves (curves.js)
    for g in ("power", "compute", "spread"):
        p.wait_for_selector(f"#curve-{g} .uplot canvas")
    p.goto("/curves")
    p.wait_for_selector("#curve-power .uplot canvas")
    # the chart: one legend entry per POWER series, the x axis from the first start to the last end
    api = p.evaluate("fetch('/api/curves').then(r => r.json())")
    power_series = {s["series"] for s in api["power"]["series"]}
    legend = p.locator("#curve-power .u-legend .u-series").all_inner_texts()
    assert len(legend) == 1 + len(power_series)  # uPlot's x entry + one per series
    ax = api["power"]["axes"]
    starts = [pt["t"] for s in api["power"]["series"] for pt in s["points"]]
    assert ax["x_min"] == min(starts) and ax["x_max"] == max(
        pt["t_end"] for s in api["power"]["series"] for pt in s["points"]
    )
    marks = [float(pt["mark"]) for s in api["power"]["series"] for pt in s["points"] if pt["mark"] is not None]
    assert ax["y_min_f"] < min(marks) and ax["y_max_f"] > max(marks)
    # the strip table: every listed PEAK window in delivery order (the deploy's MONTHS and the
    # lister's windows from the approved template), marks to the 0.01 tick
    listed = sorted(
        pt["period"] for s in api["power"]["series"] if s["series"] == "ERCOT.HB_WEST.DA.PEAK" for pt in s["points"]
    )
    n = len(listed)
    assert n >= MONTHS
    table = p.locator('table.strip[data-series="ERCOT.HB_WEST.DA.PEAK"]')
    rows = table.locator("tbody tr")
    assert rows.count() == n
    periods = [rows.nth(i).locator("td[data-label='Window'] a").inner_text().strip() for i in range(n)]
    assert periods == sorted(periods) == listed
    deployed = [m["symbol"].rsplit(".", 1)[1] for m in peak]
    assert set(deployed) <= set(periods)
    for i in (periods.index(x) for x in deployed):  # the marks the fixture asked for
        mark = rows.nth(i).locator("td").nth(1).inner_text().strip()
        assert re.fullmatch(r"-?[\d,]+\.\d{2}", mark), mark
    # a deployed month's row (the fixture asked for its mark; the lister's current month has none yet)
    gpu_month = _monthly(web_env, "H100-SXM.")[0]["symbol"].rsplit(".", 1)[1]
    gpu_row = p.locator('table.strip[data-series="H100-SXM"] tbody tr', has_text=gpu_month).first
    gpu_mark = gpu_row.locator("td").nth(1).inner_text().strip()
    assert re.fullmatch(r"[\d,]+\.\d{3}", gpu_mark), gpu_mark  # the GPU tick: 0.001
    if size[0] < 600:  # phone: rows become labelled cards, the mark stays on screen
        box = rows.first.locator("td").nth(1).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= size[0] + 1
    _no_overflow(h, "/curves")
    screenshot(h, f"curve-curves-{size[0]}")
    # filters narrow the strips
    q = "?node=HB_WEST&kind=POWER&from=" + periods[1]
    p.goto("/curves" + q)
    p.wait_for_selector("#curve-power .uplot canvas")
    sub = p.evaluate(f"fetch('/api/curves{q}').then(r => r.json())")
    kept = [pt for s in sub["power"]["series"] if s["series"] == "ERCOT.HB_WEST.DA.PEAK" for pt in s["points"]]
    assert 0 < len(kept) < n and all(pt["period"] >= periods[1] for pt in kept)
    assert p.locator('table.strip[data-series="ERCOT.HB_WEST.DA.PEAK"] tbody tr').count() == len(kept)
    assert p.locator('table.strip[data-series="H100-SXM"]').count() == 0


@pytest.mark.parametrize("size", WIDTHS)
def test_calendar__what_fixes_when_at_what_value(page_for, web_env, size):
    from web3 import Web3

    c = web_env.manifest["contracts"]["Clearinghouse"]
    ch = Web3(Web3.HTTPProvider(web_env.rpc_url)).eth.contract(address=c["address"], abi=c["abi"])
    before = ch.functions.market_count().call()
    h = page_for(None, width=size[0], height=size[1])
    p = h.page
    p.goto("/calendar")
    p.wait_for_selector("section.cal-day")
    days = [d.get_attribute("data-day") for d in p.locator("section.cal-day").all()]
    assert days == sorted(days) and len(days) >= 3
    # nothing is settled yet: every listed market fixes, the deploy's and the lister's windows (the
    # lister may list a window between two reads as the hour rolls: the page count lies between)
    rows = p.locator("section.cal-day tbody tr").count()
    api = p.evaluate("fetch('/api/calendar').then(r => r.json())")
    assert before <= rows <= api["count"] <= ch.functions.market_count().call()
    assert before > len(web_env.manifest["markets"])  # the lister's windows are on the calendar too
    symbols = {e["symbol"] for d in api["days"] for e in d["entries"]}
    assert {m["symbol"] for m in web_env.manifest["markets"]} <= symbols
    row = p.locator("tr", has_text=_monthly(web_env, "ERCOT.HB_WEST.DA.PEAK.")[0]["symbol"]).first
    value = row.locator("td[data-label='Value']").inner_text().strip()
    assert re.fullmatch(r"-?[\d,]+\.\d{2} USD/MWh \(mark: expected\)", value), value
    for label in ("Fixes at", "Trading ends", "Final from"):
        t = row.locator(f"td[data-label='{label}']").inner_text().strip()
        assert "UTC" in t and re.search(r"20\d\d", t), (label, t)  # the viewer's zone, UTC alongside
    _no_overflow(h, "/calendar")
    screenshot(h, f"curve-calendar-{size[0]}")
    # a bad filter: an error page saying how to write it (fetched aside: a 422 load logs a console error)
    bad = p.request.get("/calendar?from=someday", headers={"accept": "text/html"})
    assert bad.status == 422 and "2026-12-05" in bad.text() and "<html" in bad.text()


@pytest.mark.parametrize("size", WIDTHS)
def test_basis__own_prices_against_the_index_with_hedge_effectiveness(page_for, web_env, size):
    from apps.cli.index import index_values
    from oracle.settings import OracleSettings

    days = ["2021-03-01", "2021-03-02", "2021-03-03", "2021-03-04", "2021-03-05"]
    idx = index_values(["ERCOT", "HB_WEST", "DA", "ATC"], days, OracleSettings())
    h = page_for(None, width=size[0], height=size[1])
    p = h.page
    p.goto("/basis")
    p.select_option("#b-series", "ERCOT.HB_WEST.DA.ATC")
    # a typo first: the line and the fix are named, nothing is computed
    p.fill("#b-text", "date,price\n2021-03-01,30\n2021-03-02,30,5\n")
    p.click("#b-go")
    p.wait_for_selector("#b-msg.error")
    assert "line 3" in p.locator("#b-msg").inner_text() and p.locator("#b-result").is_hidden()
    p.fill("#b-text", "date,price\n" + "".join(f"{d},{idx[d] + Decimal('1.75')}\n" for d in days) + "2030-06-01,40\n")
    p.click("#b-go")
    p.wait_for_selector("#b-result:not([hidden])")
    assert p.locator("#b-overlap").inner_text() == "5 days"
    assert p.locator("#b-mean").inner_text() == "1.75 USD/MWh"
    assert p.locator("#b-vr").inner_text() == "100.0%" and p.locator("#b-r2").inner_text() == "1.0000"
    assert "2030-06-01" in p.locator("#b-missing").inner_text()
    assert p.locator("#b-rows tbody tr").count() == 5
    basis_cell = p.locator("#b-rows tbody tr td[data-label='Basis']").first
    assert basis_cell.inner_text().strip() == "1.75"
    p.wait_for_selector("#b-chart .uplot canvas")
    _no_overflow(h, "/basis")
    screenshot(h, f"curve-basis-{size[0]}")


@pytest.mark.parametrize("size", WIDTHS)
def test_hedge_planner__a_strip_of_months_in_one_plan(page_for, web_env, size):
    h = page_for(None, width=size[0], height=size[1])
    p = h.page
    p.goto("/hedge")
    first = _monthly(web_env, "SPREAD.H100-SXM.HB_WEST.")[0]["symbol"].rsplit(".", 1)[1]
    p.select_option("select[name='month']", first)
    p.select_option("#h-months", "3")
    p.click("#plan-btn")
    p.wait_for_selector("#legs tbody tr")
    symbols = [x.strip() for x in p.locator("#legs tbody tr td[data-label='Market']").all_inner_texts()]
    assert len(symbols) == 3 and all(s.startswith("SPREAD.H100-SXM.HB_WEST.") for s in symbols)
    assert symbols == sorted(symbols) and symbols[0].endswith(first)
    assert "for 3 months" in p.locator("#plan-desc").inner_text()
    assert "one month" in p.locator("#pnl-power").inner_text()
    _no_overflow(h, "/hedge")
    screenshot(h, f"curve-strip-hedge-{size[0]}")


@pytest.mark.parametrize("size", WIDTHS)
def test_order_ticket__pre_trade_liquidation_price_with_a_leverage_choice(page_for, web_env, size):
    peak = _monthly(web_env, "ERCOT.HB_WEST.DA.PEAK.")[0]
    h = page_for(None, width=size[0], height=size[1])
    p = h.page
    p.goto(f"/trade?market={peak['id']}")
    p.fill("#o-qty", "10")
    p.wait_for_selector("#o-liq")
    limit = Decimal(p.input_value("#o-price"))
    notional = f"notional {10 * limit:,.2f} USD"  # the preview is of this order, not of an earlier one
    p.wait_for_function("t => document.querySelector('#o-preview').textContent.includes(t)", arg=notional)
    options = p.locator("#o-lev option").all_inner_texts()
    assert options and options[-1].startswith("max (")
    liq = p.locator("#o-liq").inner_text().strip()
    assert re.fullmatch(r"-?[\d,]+\.\d{2} USD/MWh", liq), liq  # to the 0.01 tick, with its unit
    assert "margin" in p.locator("#o-preview").inner_text() and "USD" in p.locator("#o-preview").inner_text()
    # a long at more leverage is liquidated closer to its price
    if len(options) > 1:
        first = Decimal(liq.split()[0].replace(",", ""))
        p.select_option("#o-lev", str(len(options) - 1))
        last = Decimal(p.locator("#o-liq").inner_text().split()[0].replace(",", ""))
        assert last >= first
    _no_overflow(h, "/trade")
    screenshot(h, f"curve-ticket-{size[0]}")
