"""Issue 14, points 2 and 3 without a chain: numbers read like money (prices to the tick, money to
the cent, units, local + UTC times, no chain integers), `1,5` and `-10` on the command line, the
dashboard's one-line start errors, and the plan/execution reports of point 1 in words."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from apps.cli import common
from apps.cli.common import decimal_arg, price, usd
from apps.cli.main import app
from sdk.hedge import fillable_units
from sdk.models import Execution, HedgePlan, LegDepth, LegResult, Position, time_text
from tests.utils.sdk_helpers import NOW

ROOT = Path(__file__).resolve().parents[3]
ENV = {
    "CSPREAD_PRIVATE_KEY": "",
    "CSPREAD_RELAY_URL": "",
    "CSPREAD_KEY_ENV": "",
    "CSPREAD_KEYFILE": "",
    "COLUMNS": "200",
}


@pytest.fixture
def chicago(monkeypatch):
    """The machine's local zone is US Central (the operator in West Texas)."""
    monkeypatch.setenv("TZ", "America/Chicago")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


# ---------------------------------------------------------------- parsing


def test_decimal_comma__refused_not_read_as_fifteen():
    with pytest.raises(typer.BadParameter, match=r"write decimals with a point \(1\.5\)"):
        decimal_arg("1,5", "AMOUNT")
    with pytest.raises(typer.BadParameter):
        decimal_arg("1,50,0", "AMOUNT")


def test_thousands_separators__still_accepted():
    assert decimal_arg("1,000", "AMOUNT") == Decimal(1000)
    assert decimal_arg("100,000.5", "AMOUNT") == Decimal("100000.5")
    assert decimal_arg("1_000", "AMOUNT") == Decimal(1000)
    assert decimal_arg("-10", "PRICE") == Decimal(-10)


def test_deposit_1_comma_5__exit_2_with_advice_nothing_sent():
    r = CliRunner().invoke(app, ["deposit", "1,5"], env={**ENV, "CSPREAD_PRIVATE_KEY": "0x" + "11" * 32})
    assert r.exit_code == 2
    assert "1.5" in r.output and "comma" in r.output


def test_negative_price__says_to_use_double_dash(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["cspread", "sell", "1", "5", "-10"])
    r = CliRunner().invoke(app, ["sell", "1", "5", "-10"], env=ENV)
    assert r.exit_code == 2
    assert "No such option" not in r.output
    assert "-10 looks like an option" in r.output and "--" in r.output and "negative" in r.output


# ---------------------------------------------------------------- formatting


def test_price__to_the_markets_tick_money_to_the_cent():
    assert price(Decimal("45.231234"), Decimal("0.01")) == "45.23"
    assert price(Decimal("546.772119"), Decimal("0.01")) == "546.77"
    assert price(Decimal("1.86"), Decimal("0.0001")) == "1.8600"
    assert price(Decimal("2.5"), Decimal("0.001")) == "2.500"
    assert price(Decimal("-12.5"), Decimal("0.01")) == "-12.50"
    assert price(Decimal("12345.678"), None) == "12,345.68"
    assert usd(Decimal("0.004")) == "0.00" and usd(Decimal("1234.565")) == "1,234.56"
    assert usd(Decimal("5"), signed=True) == "+5.00"


def test_times__utc_and_local(chicago):
    ts = 1794333600  # 2026-11-10 18:00 UTC
    assert time_text(ts) == "2026-11-10 18:00 UTC (12:00 CST local)"
    assert common.when(ts) == time_text(ts) and common.when(0) == "—"


def test_times__utc_machine_says_utc_once(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        assert time_text(1794333600) == "2026-11-10 18:00 UTC"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_position__prints_readably_to_the_tick():
    p = Position(
        7,
        "SPREAD.H100-SXM.HB_WEST.2026-12",
        -720_000,
        -1_340_064_000,
        1_861_234,
        1_000_000_000,
        600_000_000,
        Decimal("3.123456"),
        price_tick=100,
        unit="GPU-hour",
    )
    s = str(p)
    assert s.startswith("short 720 GPU-hour SPREAD.H100-SXM.HB_WEST.2026-12: entry 1.8612, mark 1.8612 USD/GPU-hour")
    assert "liquidation price 3.1235 USD/GPU-hour" in s and "unrealised PnL" in s and " USD" in s
    assert not re.search(r"\d\.\d{5,}", s), s  # no 6-decimal chain values


# ---------------------------------------------------------------- point 1 in words


def test_fillable__only_crossing_size_and_never_your_own():
    bids = [(1_860_000, 50_000), (1_850_000, 50_000), (1_800_000, 900_000)]
    assert fillable_units(bids, [], 1_840_000, "sell") == 100_000
    assert fillable_units(bids, [(1_860_000, 20_000)], 1_840_000, "sell") == 80_000
    asks = [(40_000_000, 10_000), (41_000_000, 10_000)]
    assert fillable_units(asks, [], 40_500_000, "buy") == 10_000


def test_thin_book__plan_warns_what_rests_where_until_when(default_markets, chicago):
    spread = next(m for m in default_markets if m.kind == "SPREAD")
    depth = LegDepth(
        spread.id, spread.symbol, spread.unit, "sell", 720_000, 1_824_000, 100_000, NOW + 86_400, spread.price_tick
    )
    text = depth.text()
    assert "holds only 100 GPU-hour of bids at or above 1.8240 USD/GPU-hour" in text
    assert "100 of 720 fill now, 620 GPU-hour would rest as a sell order at 1.8240 USD/GPU-hour until" in text
    assert time_text(NOW + 86_400) in text and "UTC" in text and "local" in text
    plan = HedgePlan("Hedge 720 H100-SXM GPU-hours", (), 1_000_000, 10_000, 0, (), (depth,))
    assert plan.thin and "WARNING thin book" in plan.summary()
    full = replace(depth, fillable_units=720_000)
    assert not full.thin and "covers all 720 GPU-hour" in full.text()


def test_execution__filled_x_of_y_z_resting_at_p_until_t(default_markets, chicago):
    spread = next(m for m in default_markets if m.kind == "SPREAD")
    leg = LegResult(
        spread.id,
        spread.symbol,
        "GPU-hour",
        "sell",
        720_000,
        100_000,
        620_000,
        1_824_000,
        NOW + 86_400,
        spread.price_tick,
        "0xabc",
    )
    ex = Execution(["fill", "order"], (leg,))
    assert list(ex) == ["fill", "order"] and not ex.complete  # still the list it always was
    assert ex.summary() == (
        f"{spread.symbol} sell: filled 100 of 720 GPU-hour, 620 resting at 1.8240 USD/GPU-hour "
        f"until {time_text(NOW + 86_400)}"
    )
    done = replace(leg, filled_units=720_000, resting_units=0, resting_price_units=None, expiry=None)
    assert done.text() == f"{spread.symbol} sell: filled 720 of 720 GPU-hour"


# ---------------------------------------------------------------- relay messages: no chain integers


def test_relay_messages__human_units_not_base_units():
    from relay.validation import price_text, qty_text
    from relay.validation import usd as relay_usd

    assert price_text(2_092_500, 100) == "2.0925 USD" and price_text(45_230_000, 10_000) == "45.23 USD"
    assert qty_text(10_050) == "10.05" and qty_text(1000) == "1"
    assert relay_usd(67_625_000) == "67.62 USD"
    src = (ROOT / "relay" / "validation.py").read_text()
    assert 'base units"' not in src and '(thousandths)"' not in src


# ---------------------------------------------------------------- point 2: the dashboard starts or says why


def _web(*args, env_extra=None, timeout=60):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CSPREAD_")}
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "apps.web", *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env
    )


def test_web__missing_manifest__one_line_no_traceback(tmp_path):
    r = _web("--manifest", str(tmp_path / "nope.json"), "--port", "0")
    assert r.returncode == 1
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: the dashboard cannot start"), r.stderr
    assert "Traceback" not in r.stderr and "CSPREAD_MANIFEST" in lines[0]


def test_web__reads_the_devnet_env_names(tmp_path, monkeypatch):
    """What env.sh exports (CSPREAD_MANIFEST, CSPREAD_RPC_URL, CSPREAD_RELAY_URL, CSPREAD_ORACLE_URL)
    is what `python -m apps.web` reads: one set of names everywhere."""
    import uvicorn

    import apps.web.app
    from apps.web import server

    manifest = tmp_path / "m.json"
    manifest.write_text("{}")
    seen = {}
    monkeypatch.setattr(
        apps.web.app,
        "create_app",
        lambda m, rpc, relay, oracle_urls=(): (
            seen.update(manifest=m, rpc=rpc, relay=relay, oracles=list(oracle_urls)) or "app"
        ),
    )
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app, port=kw["port"]))
    for k, v in {
        "CSPREAD_MANIFEST": str(manifest),
        "CSPREAD_RPC_URL": "http://127.0.0.1:1111",
        "CSPREAD_RELAY_URL": "http://127.0.0.1:2222",
        "CSPREAD_ORACLE_URL": "http://127.0.0.1:3333",
    }.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("CSPREAD_RPC", raising=False)
    server.main(["--port", "0"])
    assert seen == {
        "manifest": str(manifest),
        "rpc": "http://127.0.0.1:1111",
        "relay": "http://127.0.0.1:2222",
        "oracles": ["http://127.0.0.1:3333"],
        "app": "app",
        "port": 0,
    }
    env_sh = (ROOT / "apps" / "cli" / "devnet.py").read_text()
    for name in ("CSPREAD_MANIFEST", "CSPREAD_RPC_URL", "CSPREAD_RELAY_URL", "CSPREAD_ORACLE_URL"):
        assert f"export {name}=" in env_sh


def test_web__port_in_use__one_line(tmp_path):
    manifest = tmp_path / "m.json"
    manifest.write_text("{}")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    try:
        r = _web("--manifest", str(manifest), "--port", str(s.getsockname()[1]))
    finally:
        s.close()
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "is in use" in r.stderr and len([x for x in r.stderr.splitlines() if x.strip()]) == 1


def test_devnet_up__web_block_is_reached(monkeypatch, tmp_path):
    """`--web` starts the dashboard after the stack (it once sat after a `raise`) and lists its URL."""
    import apps.cli.devnet as dv

    started = {}

    class FakeStack:
        def __init__(self, workdir, **kw):
            self.log_dir, self.manifest_path = tmp_path / "logs", tmp_path / "manifest.json"
            self.log_dir.mkdir(parents=True, exist_ok=True)
            self.rpc_url, self.relay_url, self.reporter_urls = "http://127.0.0.1:1", "http://127.0.0.1:2", ["http://r"]
            self.processes, self.anvil, self.ports = {}, None, {}
            self.keys = {f"user{i}": "0x" + f"{i:02x}" * 32 for i in range(1, 6)}

        def start(self):
            return self

        def stop(self):
            started["stopped"] = True

        def alive(self):
            raise KeyboardInterrupt  # leave the wait loop at once

    class FakeWeb:
        url = "http://127.0.0.1:8765"

        def __init__(self, *a, **kw):
            started["web_args"] = a

        def start(self, timeout=30):
            started["web"] = True
            self.proc = type("P", (), {"pid": 4242})()
            return self

        def stop(self):
            started["web_stopped"] = True

    import apps.web.server
    import devnet.stack

    monkeypatch.setattr(devnet.stack, "Stack", FakeStack)
    monkeypatch.setattr(apps.web.server, "WebProcess", FakeWeb)
    r = CliRunner().invoke(app, ["devnet", "up", "--workdir", str(tmp_path / "w"), "--web"], env=ENV)
    assert r.exit_code == 0, r.output
    assert started.get("web") and started.get("web_stopped") and started.get("stopped")
    assert "web dashboard" in r.output and "http://127.0.0.1:8765" in r.output
    env_sh = (tmp_path / "w" / "env.sh").read_text()
    assert "CSPREAD_WEB_URL=http://127.0.0.1:8765" in env_sh and "CSPREAD_RPC_URL=" in env_sh
    _ = dv


# ---------------------------------------------------------------- point 5: pre-trade liquidation price


def test_pre_trade_liquidation__more_collateral_further_away_and_exact(default_markets):
    from dataclasses import replace as dc_replace

    from sdk.hedge import hedge_compute_spread, leverage_choices, plan_liquidation_prices
    from sdk.margin import Holding, apply_fill, summarise
    from tests.utils.sdk_helpers import FakeReader, account

    marks = {m.id: {"POWER": 45_000_000, "COMPUTE": 2_500_000, "SPREAD": 2_400_000}[m.kind] for m in default_markets}
    r = FakeReader(default_markets, marks, account(10_000 * 10**6))
    plan = hedge_compute_spread(r, "H100-SXM", "HB_WEST", Decimal("720"), "2026-12")
    (leg,) = plan.orders
    choices = leverage_choices(r, plan)
    assert [c["label"] for c in choices][0] == "1x" and choices[-1]["label"].startswith("max (")
    floor = plan.margin_needed + plan.fees
    assert choices[-1]["collateral"] == floor and all(c["collateral"] >= floor for c in choices)
    prices = [c["liquidation"][leg.market.id] for c in choices]  # a short: less collateral, closer liquidation
    assert all(a > b for a, b in zip(prices, prices[1:], strict=False)), prices
    assert prices[-1] > Decimal("2.40")  # above today's mark for a short
    # exact: at the liquidation mark equity meets maintenance margin (to the base unit)
    liq = plan_liquidation_prices(r, plan, collateral=floor)[leg.market.id]
    coll, h = apply_fill(
        int(floor * 10**6), Holding(leg.market, 0, 0, 2_400_000), -leg.quantity_units, leg.price_units, leg.fee_units
    )
    at = summarise(coll, {leg.market.id: dc_replace(h, mark=int(liq * 10**6))})
    before = summarise(coll, {leg.market.id: dc_replace(h, mark=int(liq * 10**6) - 1)})
    assert at.equity < at.maintenance and before.equity >= before.maintenance
    # the account as it is (10,000 USD, no positions) is further from liquidation than max leverage
    mine = plan_liquidation_prices(r, plan, account="0xabc")[leg.market.id]
    assert mine > prices[-1]


# ---------------------------------------------------------------- point 1: the devnet market maker's depth


def _info(mid, mark, tick, step, min_q, im_fixed_usd, im_rate_bps):
    from relay.chainview import MarketInfo

    return MarketInfo(
        mid,
        NOW + 30 * 86_400,
        step,
        min_q,
        tick,
        int(Decimal(im_fixed_usd) * 10**6),
        im_rate_bps,
        False,
        False,
        mark,
        NOW,
        True,
    )


def test_devnet_mm_depth__covers_readme_and_planner_defaults_within_its_margin():
    """The devnet's quoting (devnet.stack.DEVNET_MM_ARGS) on the default markets' margins: the
    README's 720 and the planner's default 5,356 GPU-hours of spread fill inside the 2 % limit,
    and the margin the relay reserves for all quotes fits the market maker's deposit."""
    from apps.marketmaker import MarketMaker, QuoteParams
    from core.margin import reserved as reserved_from_exposure
    from devnet.stack import DEVNET_MM_ARGS, MM_DEPOSIT_USD

    args = dict(zip(DEVNET_MM_ARGS[::2], DEVNET_MM_ARGS[1::2], strict=False))
    mm = MarketMaker(
        QuoteParams(
            levels=int(args["--levels"]),
            level_margin_usd=int(args["--level-margin-usd"]),
            max_position_margin_usd=int(args["--max-position-margin-usd"]),
        )
    )
    markets = {  # id: (mark, tick, step, min, im_fixed, im_rate_bps) as in markets/default.json
        1: _info(1, 47_400_000, 10_000, 1, 100, "300", 5000),
        2: _info(2, 41_250_000, 10_000, 1, 100, "250", 5000),
        3: _info(3, 52_440_000, 10_000, 1, 100, "60", 3000),
        4: _info(4, 58_490_000, 10_000, 1, 100, "25", 2500),
        5: _info(5, 2_177_000, 1_000, 100, 1000, "0.40", 1500),
        6: _info(6, 5_674_000, 1_000, 100, 1000, "0.60", 1500),
        7: _info(7, 2_127_500, 100, 1000, 1000, "0.90", 1500),
    }
    quotes = {mid: mm.quotes(m, 0, MM_DEPOSIT_USD * 10**6, 0) for mid, m in markets.items()}
    spread_bids = [q for q in quotes[7] if q.is_buy]
    limit = markets[7].mark * 98 // 100  # the hedge's sell limit: mark - 2 %
    depth = sum(q.quantity for q in spread_bids if q.price >= limit)
    assert depth >= 42_855_000, depth  # >= the planner figure, so >= 720 and 5,356 GPU-hours too
    assert sum(q.quantity for q in quotes[1] if q.is_buy) <= 200_000  # an hourly MWh stays small (~60 per level)
    rows = [(mid, q.is_buy, q.quantity, q.price) for mid, qs in quotes.items() for q in qs]
    reserved = reserved_from_exposure(rows, markets, 5)
    assert reserved <= MM_DEPOSIT_USD * 10**6 * 6 // 10, reserved  # every quote postable, with room to spare


def test_devnet_up__web_cannot_start__one_line_why_and_everything_stopped(monkeypatch, tmp_path):
    import apps.web.server
    import devnet.stack

    stopped = {}

    class FakeStack:
        def __init__(self, workdir, **kw):
            self.log_dir, self.manifest_path = tmp_path / "logs", tmp_path / "manifest.json"
            self.log_dir.mkdir(parents=True, exist_ok=True)
            self.rpc_url, self.relay_url, self.reporter_urls = "http://127.0.0.1:1", "http://127.0.0.1:2", []
            self.processes, self.anvil, self.ports = {}, None, {}

        def start(self):
            return self

        def stop(self):
            stopped["stack"] = True

    class FailingWeb:
        def __init__(self, *a, log_path=None, **kw):
            self.log_path = log_path

        def start(self, timeout=30):
            self.log_path.write_text(
                "INFO booting\nerror: port 8700 on 127.0.0.1 is in use (another dashboard?): pass --port N\n"
            )
            raise RuntimeError("dashboard exited with 1")

        def stop(self):
            pass

    monkeypatch.setattr(devnet.stack, "Stack", FakeStack)
    monkeypatch.setattr(apps.web.server, "WebProcess", FailingWeb)
    r = CliRunner().invoke(app, ["devnet", "up", "--workdir", str(tmp_path / "w"), "--web"], env=ENV)
    assert r.exit_code == 1 and stopped.get("stack")
    err_lines = [x for x in r.output.splitlines() if x.startswith("error:")]
    assert len(err_lines) == 1, r.output
    assert "the web dashboard failed to start: port 8700 on 127.0.0.1 is in use" in err_lines[0]
    assert "web.log" in r.output and "Traceback" not in r.output
