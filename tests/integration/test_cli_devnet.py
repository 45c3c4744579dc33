"""Every `cspread` command against a real devnet: anvil + the real deploy + the relay process.

A few commands run through the installed console script (`.venv/bin/cspread`) as a subprocess,
the rest through typer's CliRunner in-process (same app object, ~1 s faster each). Marks are
pushed the way the pusher keeper does (signed reports from anvil reporters 1-2). The relay runs
without its matching loop so resting orders stay put for --take. Tests run in file order: the
last one warps the chain clock to settle a market.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from eth_account import Account
from typer.testing import CliRunner

from apps.cli.main import app
from devnet.anvil import ANVIL_KEYS
from scripts._keepers_env import wait_until
from sdk.client import Client
from sdk.reader import Reader
from tests.utils.sdk_helpers import push_price

pytestmark = pytest.mark.integration

CSPREAD = str(Path(sys.executable).with_name("cspread"))
MAKER, TAKER, HEDGER, POOR = ANVIL_KEYS[9], ANVIL_KEYS[10], ANVIL_KEYS[11], ANVIL_KEYS[12]
MARKS = {1: 40_000_000, 3: 45_000_000, 5: 2_500_000, 7: 2_400_000}  # market id -> mark, base units
H100, SPREAD, HOURLY, B200 = 5, 7, 1, 6  # ids in markets/default.json order


@pytest.fixture(scope="module")
def env(devnet, start_relay):
    """The CLI's environment (overrides the keepers' `env`): the module's devnet, marks pushed,
    and a relay without its matching loop."""
    anvil, manifest, path = devnet
    relay = start_relay()
    r = Reader(path, anvil.url)
    owner = Client(path, anvil.url, private_key=ANVIL_KEYS[0])
    for mid, price in MARKS.items():
        push_price(r, owner, r._static_market(mid).mark_feed, price)
    return (
        {
            "CSPREAD_MANIFEST": str(path),
            "CSPREAD_RPC_URL": anvil.url,
            "CSPREAD_RELAY_URL": relay.url,
            "CSPREAD_PRIVATE_KEY": "",
            "CSPREAD_KEY_ENV": "",
            "COLUMNS": "200",
        },
        anvil,
        r,
        owner,
    )


def cli(env, *args, key=None, input=None):
    """In-process run; returns the typer Result (stdout, stderr, exit_code)."""
    e = dict(env[0], CSPREAD_PRIVATE_KEY=key or "")
    return CliRunner().invoke(app, list(args), env=e, input=input, catch_exceptions=False)


def run(env, *args, key=None, timeout=60):
    """The real console script as a subprocess."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("CSPREAD_")}
    e.update(env[0])
    if key:
        e["CSPREAD_PRIVATE_KEY"] = key
    else:
        e.pop("CSPREAD_PRIVATE_KEY", None)
    e.pop("CSPREAD_KEY_ENV", None)
    return subprocess.run([CSPREAD, *args], env=e, capture_output=True, text=True, timeout=timeout)


def js(result):
    return json.loads(result.stdout)


def one_error_line(stderr: str) -> str:
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ") and "Traceback" not in stderr
    return lines[0]


def addr(key):
    return Account.from_key(key).address


# ---------------------------------------------------------------- reads


def test_markets__entry_point__json_lists_every_market(env):
    p = run(env, "markets", "--json")
    assert p.returncode == 0, p.stderr
    ms = json.loads(p.stdout)
    assert [m["id"] for m in ms] == list(range(1, 8))
    h100 = ms[H100 - 1]
    assert h100["symbol"] == "H100-SXM.2026-12" or h100["symbol"].startswith("H100-SXM.")
    assert h100["mark"] == "2.500000" and h100["status"] == "live" and h100["tick"] == "0.001000"
    assert ms[B200 - 1]["status"] == "stale" and ms[B200 - 1]["mark"] is None
    assert "GPU-hour index" in h100["description"]


def test_markets__entry_point__table(env):
    p = run(env, "markets")
    assert p.returncode == 0, p.stderr
    assert "SPREAD.H100-SXM.HB_WEST" in p.stdout and "never reported" in p.stdout and "live" in p.stdout


# ---------------------------------------------------------------- collateral


def test_faucet_deposit_withdraw__moves_collateral(env):
    for key in (MAKER, TAKER):
        assert cli(env, "faucet", "50000", key=key).exit_code == 0
        r = cli(env, "deposit", "40000", "--json", key=key)
        assert r.exit_code == 0, r.stderr
        assert js(r)["collateral"] == "40000.000000"
    r = cli(env, "withdraw", "1000", key=MAKER)
    assert r.exit_code == 0 and "withdrew 1,000.00 USD" in r.stdout
    assert js(cli(env, "account", "--json", key=MAKER))["collateral"] == "39000.000000"
    r = cli(env, "withdraw", "1000000", key=MAKER)
    assert r.exit_code == 1 and "39,000.00 USD" in one_error_line(r.stderr)


# ---------------------------------------------------------------- orders and fills


def test_buy__limit__posted_to_relay_and_visible_in_book_and_orders(env):
    p = run(env, "buy", "H100-SXM.2026-12", "100", "2.45", "--json", key=MAKER)
    assert p.returncode == 0, p.stderr
    o = json.loads(p.stdout)
    assert o["posted"] and o["side"] == "buy" and o["price"] == "2.450000" and o["quantity"] == "100.000"
    book = js(cli(env, "book", str(H100), "--json"))
    assert book["bids"][0] == {"price": "2.450000", "quantity": "100.000"}
    assert o["hash"] in [x["hash"] for x in book["orders"]]
    mine = js(cli(env, "orders", "--json", key=MAKER))
    assert [x["hash"] for x in mine] == [o["hash"]] and mine[0]["remaining"] == "100.000"
    human = cli(env, "book", "H100-SXM.2026-12")
    assert human.exit_code == 0 and "2.45" in human.stdout and o["hash"] in human.stdout


def test_sell__take_hash__fills_on_chain_at_maker_price(env):
    bid = js(cli(env, "orders", "--json", key=MAKER))[0]
    r = cli(env, "sell", str(H100), "30", "2.40", "--take", bid["hash"], "--json", key=TAKER)
    assert r.exit_code == 0, r.stderr
    fills = js(r)["fills"]
    assert len(fills) == 1 and fills[0]["price"] == "2.450000" and fills[0]["quantity"] == "30.000"
    pos = js(cli(env, "positions", "--json", key=TAKER))
    assert pos[0]["market_id"] == H100 and pos[0]["quantity"] == "-30.000" and pos[0]["side"] == "short"
    assert Decimal(pos[0]["liquidation_price"]) > Decimal("2.5")
    fl = js(cli(env, "fills", "--json", key=TAKER))
    assert fl[-1]["role"] == "taker" and fl[-1]["side"] == "sell"
    maker_fills = js(cli(env, "fills", addr(MAKER), "--json"))  # any address, no key needed
    assert maker_fills[-1]["role"] == "maker" and maker_fills[-1]["side"] == "buy"
    assert "taker" in cli(env, "fills", key=TAKER).stdout


def test_sell__take_best__sweeps_the_book_up_to_qty(env):
    r = cli(env, "sell", "H100-SXM.2026-12", "50", "2.40", "--take-best", "--json", key=TAKER)
    assert r.exit_code == 0, r.stderr
    out = js(r)
    assert sum(Decimal(f["quantity"]) for f in out["fills"]) == 50 and out["unfilled"] == "0.000"
    assert js(cli(env, "positions", "--json", key=TAKER))[0]["quantity"] == "-80.000"
    r = cli(env, "sell", str(H100), "50", "2.40", "--take-best", key=TAKER)  # only 20 left at 2.45
    assert r.exit_code == 0 and "30 GPU-hour not filled" in r.stderr.replace("\n", " ")


def test_cancel__one_and_all(env):
    a = js(cli(env, "sell", str(H100), "10", "2.70", "--json", key=MAKER))["hash"]
    b = js(cli(env, "sell", str(H100), "10", "2.80", "--json", key=MAKER))["hash"]
    r = cli(env, "cancel", a, key=MAKER)
    assert r.exit_code == 0 and a in r.stdout
    assert a not in [x["hash"] for x in js(cli(env, "orders", "--json", key=MAKER))]
    assert cli(env, "cancel", "--all", key=MAKER).exit_code == 0
    wait_until(lambda: not js(cli(env, "orders", "--json", key=MAKER)), 15, 0.3, "every order cancelled")
    assert js(cli(env, "orders", "--json", key=MAKER)) == []
    r = cli(env, "cancel", b, key=MAKER)
    assert r.exit_code == 1 and "not among your open orders" in one_error_line(r.stderr)


def test_account__shows_equity_margin_bar_and_liquidation_price(env):
    r = cli(env, "account", key=TAKER)
    assert r.exit_code == 0, r.stderr
    for word in ("equity", "initial margin", "free collateral", "margin usage", "liq. price", "H100-SXM"):
        assert word in r.stdout
    assert "█" in r.stdout or "░" in r.stdout
    a = js(cli(env, "account", addr(TAKER), "--json"))
    assert a["positions"][0]["quantity"] == "-100.000" and Decimal(a["initial_margin"]) > 0
    assert Decimal(a["equity"]) - Decimal(a["initial_margin"]) == Decimal(a["free_collateral"])
    assert set(a["pnl"]) == {"realised", "fees", "unrealised", "total"}


# ---------------------------------------------------------------- hedges


def test_hedge_spread__yes__rests_a_spread_sell(env):
    assert cli(env, "faucet", "20000", key=HEDGER).exit_code == 0
    assert cli(env, "deposit", "20000", key=HEDGER).exit_code == 0
    p = run(
        env,
        "hedge",
        "spread",
        "--gpu",
        "H100-SXM",
        "--node",
        "HB_WEST",
        "--gpu-hours",
        "720",
        "--month",
        "2026-12",
        "--yes",
        "--json",
        key=HEDGER,
    )
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    leg = out["plan"]["orders"][0]
    assert leg["symbol"].startswith("SPREAD.H100-SXM.HB_WEST") and leg["side"] == "sell"
    assert leg["quantity"] == "720.000" and leg["limit_price"] == "2.352000"  # mark 2.40 - 2 %
    assert [o["quantity"] for o in out["orders"]] == ["720.000"] and out["fills"] == []
    book = js(cli(env, "book", str(SPREAD), "--json"))
    assert book["asks"][0] == {"price": "2.352000", "quantity": "720.000"}


def test_hedge_power__plan_confirm_execute(env):
    args = ["hedge", "power", "--node", "HB_WEST", "--mw", "5", "--profile", "PEAK", "--month", "2026-12"]
    plan = js(cli(env, *args, "--dry-run", "--json"))  # no key needed for a plan
    assert plan["orders"][0]["side"] == "buy" and plan["orders"][0]["quantity"] == "1760.000"  # 5 MW x 352 h
    r = cli(env, *args, "--yes", key=HEDGER)  # at most 20k deposited < ~131k margin
    assert r.exit_code == 1 and "deposit at least" in one_error_line(r.stderr) and "margin needed" in r.stdout
    assert cli(env, "faucet", "200000", key=HEDGER).exit_code == 0
    assert cli(env, "deposit", "200000", key=HEDGER).exit_code == 0
    r = cli(env, *args, key=HEDGER, input="y\n")  # not a terminal: --yes required
    assert r.exit_code == 1 and "--yes" in one_error_line(r.stderr)
    r = cli(env, *args, "--yes", key=HEDGER)
    assert r.exit_code == 0, r.stderr
    assert "buy: filled 0 of 1,760 MWh, 1,760 resting at" in r.stdout and "until" in r.stdout


# ---------------------------------------------------------------- errors


def test_error__insufficient_margin__shows_missing_usd(env):
    p = run(env, "buy", "ERCOT.HB_WEST.DA.PEAK.2026-12", "5000", "45", key=TAKER)
    assert p.returncode == 1
    line = one_error_line(p.stderr)
    assert "initial margin" in line and "missing" in line and "USD" in line and p.stdout == ""


def test_error__stale_market__names_feed(env):
    r = cli(env, "buy", str(B200), "10", "3", key=TAKER)
    assert r.exit_code == 1
    line = one_error_line(r.stderr)
    assert "B200" in line and "stale" in line and "mark feed 0x" in line and "never been reported" in line


def test_error__unknown_market(env):
    p = run(env, "book", "H100", key=TAKER)
    assert p.returncode == 1
    line = one_error_line(p.stderr)
    assert "no market with symbol 'H100'" in line and "did you mean H100-SXM" in line


def test_error__usage_and_missing_key_and_rpc(env):
    assert cli(env, "buy", "5", "10").exit_code == 2  # PRICE missing
    assert cli(env, "buy", "5", "ten", "2").exit_code == 2
    assert cli(env, "cancel").exit_code == 2
    assert cli(env, "sell", "5", "1", "2", "--take", "0x1", "--take-best", key=TAKER).exit_code == 2
    r = cli(env, "deposit", "10")
    assert r.exit_code == 1 and "needs a key" in one_error_line(r.stderr)
    r = cli(env, "--rpc", "http://127.0.0.1:9", "markets")
    assert r.exit_code == 1 and "cannot reach the RPC" in one_error_line(r.stderr)
    r = cli(env, "positions", "0xnot-an-address")
    assert r.exit_code == 2


def test_error__relay_down_or_missing(env):
    r = cli(env, "--relay", "http://127.0.0.1:9", "book", str(H100))
    assert r.exit_code == 1 and "unreachable" in one_error_line(r.stderr)
    e = (dict(env[0], CSPREAD_RELAY_URL=""),) + env[1:]
    r = cli(e, "orders", key=MAKER)
    assert r.exit_code == 1 and "no order relay configured" in one_error_line(r.stderr)


# ---------------------------------------------------------------- settlement (warps the clock: keep last)


def test_settlements__after_expiry_and_settle(env):
    _, anvil, reader, owner = env
    a = js(cli(env, "buy", str(HOURLY), "1", "40", "--json", key=MAKER))
    r = cli(env, "sell", str(HOURLY), "1", "39", "--take", a["hash"], key=TAKER)
    assert r.exit_code == 0, r.stderr
    m = reader.market(HOURLY)
    anvil.warp(m.delivery_end - reader.now() + 60)
    push_price(reader, owner, m.settlement_feed, 55_000_000)  # observed after delivery end
    anvil.warp(m.dispute_window + 1)
    owner.finalize_settlement(HOURLY)
    for key in (MAKER, TAKER):
        owner.settle(HOURLY, addr(key))
    rows = js(cli(env, "settlements", "--json", key=MAKER))
    assert len(rows) == 1 and rows[0]["market_id"] == HOURLY and rows[0]["settlement_price"] == "55.000000"
    assert rows[0]["pnl"] == "15.000000"  # long 1 MWh from 40 to 55
    human = cli(env, "settlements", addr(TAKER))
    assert human.exit_code == 0 and "-15.00" in human.stdout
    assert js(cli(env, "markets", "--json"))[HOURLY - 1]["status"] == "settled"
