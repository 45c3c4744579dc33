"""`cspread` without a chain: argument parsing, exit codes, the one-line error contract and the
formatting helpers. A stub reader stands in for the chain only where formatting is tested."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
import typer
from typer.testing import CliRunner

from apps.cli import common
from apps.cli.common import State, expiry_arg, jsonable, period_words, plain, spec_words, usage_bar
from apps.cli.devnet import replay_offsets, timestamp_arg
from apps.cli.main import app
from sdk.errors import InsufficientMargin, StaleMarket, UnknownMarket
from sdk.models import AccountState, Mark, MarketStatus, Position
from tests.utils.sdk_helpers import NOW

KEY = "0x" + "11" * 32
ENV = {
    "CSPREAD_PRIVATE_KEY": "",
    "CSPREAD_RELAY_URL": "",
    "CSPREAD_KEY_ENV": "",
    "CSPREAD_KEYFILE": "",
    "COLUMNS": "200",
}


def invoke(*args, env=None, **kw):
    return CliRunner().invoke(app, list(args), env={**ENV, **(env or {})}, catch_exceptions=False, **kw)


class StubReader:
    """Markets with fixed marks and statuses, one account; raises what it is told to."""

    chain_id = 31337

    def __init__(self, markets, account=None, raises=None):
        self._markets, self._account, self._raises = markets, account, raises

    def now(self):
        return NOW

    def markets(self):
        if self._raises:
            raise self._raises
        return self._markets

    def market(self, ref):
        for m in self._markets:
            if str(ref) in (str(m.id), m.symbol):
                return m
        raise UnknownMarket(f"no market with symbol {ref!r} in deployments/31337.json; list them with markets()")

    def account(self, address):
        return self._account

    def pnl(self, address):
        from sdk.models import PnL

        return PnL(Decimal("1.5"), Decimal("0.25"), Decimal("-2"))


@pytest.fixture
def live_markets(default_markets):
    out = []
    for i, m in enumerate(default_markets):
        status = MarketStatus.STALE if m.kind == "COMPUTE" and "B200" in m.symbol else MarketStatus.LIVE
        mark = Mark(
            m.id,
            m.mark_feed,
            0 if status == MarketStatus.STALE else 2_500_000 + i,
            0 if status == MarketStatus.STALE else NOW - 30,
            status == MarketStatus.LIVE,
        )
        out.append(type(m)(**{**m.__dict__, "status": status, "mark": mark}))
    return out


@pytest.fixture
def stub(monkeypatch):
    def install(reader):
        monkeypatch.setattr(State, "reader", lambda self: reader)
        monkeypatch.setattr(State, "client", lambda self: reader)
        return reader

    return install


# ---------------------------------------------------------------- helpers


def test_jsonable__decimals_as_strings_big_ints_as_strings_enums_as_values():
    got = jsonable({"a": Decimal("1.50"), "n": 2**60, "small": 7, "s": MarketStatus.LIVE, "t": (Decimal(1),)})
    assert got == {"a": "1.50", "n": str(2**60), "small": 7, "s": "live", "t": ["1"]}
    json.dumps(got)


def test_period_words__month_day_hour():
    assert period_words("2026-12") == "Dec 2026"
    assert period_words("2026-11-27") == "27 Nov 2026"
    assert period_words("2026-11-27T16", "America/Chicago") == "27 Nov 2026 16:00-17:00 America/Chicago"
    assert period_words("whenever") == "whenever"


def test_spec_words__each_kind(default_markets):
    words = {}
    for m in default_markets:
        words.setdefault(m.kind, spec_words(m))
    assert "HB_WEST" in words["POWER"] and "USD/MWh" in words["POWER"]
    assert "GPU-hour index" in words["COMPUTE"]
    assert "0.0012 MWh" in words["SPREAD"] and "USD/GPU-hour" in words["SPREAD"]


def test_expiry_arg__durations_unix_iso_and_bad():
    assert expiry_arg("30m", 1000) == 1000 + 1800
    assert expiry_arg("7d", 0) == 7 * 86400
    assert expiry_arg("1800000000", 0) == 1800000000
    assert expiry_arg("2026-12-01T00:00", 0) == int(dt.datetime(2026, 12, 1, tzinfo=dt.UTC).timestamp())
    assert expiry_arg(None, 5) is None
    for bad in ("soon", "60"):
        with pytest.raises(typer.BadParameter):
            expiry_arg(bad, 0)


def test_usage_bar__fill_and_infinite():
    assert "50.0%" in usage_bar(Decimal("0.5"), width=10) and usage_bar(Decimal("0.5"), width=10).count("█") == 5
    assert "∞" in usage_bar(Decimal("Infinity"))
    assert usage_bar(None) == "—"


def test_plain__no_exponent():
    assert plain(Decimal("200000.000000")) == "200000" and plain(Decimal("130984.392000")) == "130984.392"


def test_replay_offsets__whole_hours_and_identity_inside_the_data():
    offs = replay_offsets(int(dt.datetime(2026, 11, 26, 11, 5, tzinfo=dt.UTC).timestamp()))
    assert set(offs) == {"ERCOT", "PJM", "GPU"} and all(v % 3600 == 0 for v in offs.values())
    uri = replay_offsets(1613239200)  # 2021-02-13T18:00Z: inside the ERCOT data
    assert "ERCOT" not in uri and set(uri) == {"PJM", "GPU"}


def test_timestamp_arg__unix_and_iso():
    assert timestamp_arg("1613239200") == 1613239200
    assert timestamp_arg("2021-02-13T18:00Z") == 1613239200
    with pytest.raises(typer.BadParameter):
        timestamp_arg("yesterday")


# ---------------------------------------------------------------- commands over a stub


def test_markets__table_and_json(stub, live_markets):
    stub(StubReader(live_markets))
    r = invoke("markets")
    assert r.exit_code == 0 and "H100-SXM" in r.stdout and "never reported" in r.stdout and "GPU-hour index" in r.stdout
    data = json.loads(invoke("markets", "--json").stdout)
    assert len(data) == len(live_markets) and isinstance(data[0]["tick"], str) and isinstance(data[0]["mark"], str)
    assert {d["status"] for d in data} == {"live", "stale"}
    assert [d["kind"] for d in json.loads(invoke("markets", "--kind", "spread", "--json").stdout)] == ["SPREAD"]


def test_account__panel_bar_positions_and_json(stub, live_markets):
    pos = Position(
        5, "H100-SXM.2026-12", -100_000, -250_000_000, 2_600_000, 77_500_000, 50_000_000, Decimal("183.817069")
    )
    acct = AccountState(
        "0x" + "ab" * 20, 10_000_000_000, 9_990_000_000, 77_500_000, 50_000_000, True, (pos,), 5_000_000, 0
    )
    stub(StubReader(live_markets, acct))
    r = invoke("account", "0x" + "ab" * 20)
    assert r.exit_code == 0, r.stderr
    for s in ("equity", "9,990.00", "free collateral", "0.8%", "183.817", "short"):
        assert s in r.stdout
    assert "183.817069" not in r.stdout  # the liquidation price reads to the market's 0.001 tick
    d = json.loads(invoke("account", "0x" + "ab" * 20, "--json").stdout)
    assert d["equity"] == "9990.000000" and d["positions"][0]["liquidation_price"] == "183.817069"
    assert d["pnl"]["total"] == "-0.75" and d["liquidatable"] is False


def test_sdk_error__one_red_line_exit_1_no_traceback(stub, live_markets):
    stub(StubReader(live_markets, raises=InsufficientMargin("buy 5: 1,234.00 USD missing. Deposit at least that much")))
    r = invoke("markets")
    assert r.exit_code == 1 and r.stdout == ""
    assert r.stderr.strip() == "error: buy 5: 1,234.00 USD missing. Deposit at least that much"
    stub(StubReader(live_markets, raises=StaleMarket("market 6 (B200.2026-12) is stale: its mark feed 0xab")))
    r = invoke("markets")
    assert r.exit_code == 1 and "B200.2026-12) is stale" in r.stderr and "Traceback" not in r.stderr


def test_unexpected_exception__still_one_line(stub, live_markets):
    stub(StubReader(live_markets, raises=KeyError("boom")))
    r = invoke("markets")
    assert r.exit_code == 1 and r.stderr.count("\n") == 1 and r.stderr.startswith("error: KeyError")


def test_unknown_market__sdk_advice_rewritten_for_the_cli(stub, live_markets):
    stub(StubReader(live_markets))
    r = invoke("book", "NOPE", env={"CSPREAD_RELAY_URL": "http://127.0.0.1:9"})
    assert r.exit_code == 1 and "`cspread markets`" in r.stderr and "markets()" not in r.stderr


# ---------------------------------------------------------------- usage errors (exit 2) and missing config


@pytest.mark.parametrize(
    "args",
    [
        ["buy", "5", "10"],  # PRICE missing
        ["sell", "5", "ten", "2"],  # not a number
        ["buy", "5", "1", "2", "--take", "0xab", "--take-best"],  # both
        ["buy", "5", "1", "2", "--take-best", "--expiry", "1h"],  # limit-only option with --take
        ["cancel"],  # neither hash nor --all
        ["cancel", "0xab", "--all"],  # both
        ["hedge", "power", "--node", "HB_WEST", "--mw", "5", "--profile", "PEAK", "--month", "2026-12", "--side", "up"],
        ["positions", "0xnot-an-address"],
        ["nosuchcommand"],
    ],
)
def test_usage_errors__exit_2(args, stub, live_markets):
    stub(StubReader(live_markets))
    assert invoke(*args, env={"CSPREAD_PRIVATE_KEY": KEY}).exit_code == 2


def test_no_key__write_says_how_to_give_one():
    r = invoke("deposit", "10")
    assert r.exit_code == 1 and "CSPREAD_PRIVATE_KEY" in r.stderr and "--key-env" in r.stderr


def test_key_env__unset_variable_named():
    r = invoke("--key-env", "MY_KEY_VAR", "deposit", "10")
    assert r.exit_code == 1 and "MY_KEY_VAR" in r.stderr


def test_key_env__resolves_address_for_reads(stub, live_markets, monkeypatch):
    seen = {}

    class R(StubReader):
        def account(self, address):
            seen["a"] = address
            return AccountState(address, 0, 0, 0, 0, True, ())

    stub(R(live_markets))
    r = invoke("--key-env", "MY_KEY_VAR", "positions", env={"MY_KEY_VAR": KEY})
    assert r.exit_code == 0, r.stderr
    from eth_account import Account

    assert seen["a"] == Account.from_key(KEY).address


def test_orders__no_relay_configured(stub, live_markets):
    stub(StubReader(live_markets))
    r = invoke("orders", "0x" + "ab" * 20)
    assert r.exit_code == 1 and "no order relay configured" in r.stderr


def test_hedge__without_key_needs_dry_run():
    r = invoke("hedge", "spread", "--gpu", "H100-SXM", "--node", "HB_WEST", "--gpu-hours", "720", "--month", "2026-12")
    assert r.exit_code == 1 and "--dry-run" in r.stderr


def test_help__lists_every_command():
    r = invoke("--help")
    for c in (
        "markets",
        "book",
        "deposit",
        "withdraw",
        "faucet",
        "buy",
        "sell",
        "cancel",
        "orders",
        "positions",
        "account",
        "hedge",
        "settlements",
        "fills",
        "devnet",
    ):
        assert c in r.stdout
    assert common.DEFAULT_MANIFEST in r.stdout
