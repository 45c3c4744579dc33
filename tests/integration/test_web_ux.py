"""Issue 14 in a real browser: one test per numbered point 1-4, each at desktop (1280 px) and
phone (390 px) width, asserting what the user sees. Screenshots go to out/web-screens/ (ignored).

The devnet and its dashboard are started the way the docs tell a user to: ``cspread devnet up
--web`` (point 2), as a child process stopped with SIGINT; its table gives the dashboard's URL.
Wallet actions go through the injected EIP-1193 provider of conftest_web (anvil's unlocked
accounts), so every signature and transaction is real.

Dev loop: ``CSPREAD_UX_DEVNET=<workdir>/devnet.json`` reuses a running ``cspread devnet up --web``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest_web import (  # noqa: F401 - fixtures
    CHROMIUM,
    PageHandle,
    WebEnv,
    _wait_fresh,
    _wait_quotes,
    browser,
    page_for,
    screenshot,
    web_failure_hook,
)
from tests.utils.devnet_up import read_until_ready, ready

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CSPREAD = str(Path(sys.executable).with_name("cspread"))
CHAIN_T0 = "2026-11-10T18:00Z"
WIDTHS = [pytest.param((1280, 900), id="desktop"), pytest.param((390, 844), id="phone")]
SPREAD = 7
# a price as the dashboard shows it: thousands separated, exactly the tick's decimals
TICK_DECIMALS = {"POWER": 2, "COMPUTE": 3, "SPREAD": 4}
CHAIN_INTEGER = re.compile(r"(?<![\d.,])\d{7,}(?![\d.,])")  # 2092500-like base units in a message


def _env_without_cspread() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CSPREAD_")}


@pytest.fixture(scope="module")
def web_env(tmp_path_factory):
    """``cspread devnet up --web`` as a user runs it; the URL comes from the devnet's own table."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no chromium at {CHROMIUM} (make browser installs Debian's chromium)")
    reuse = os.environ.get("CSPREAD_UX_DEVNET")
    proc, table = None, ""
    if reuse:
        info = json.loads(Path(reuse).read_text())
        table = f"web dashboard {info['web_url']}"
    else:
        work = tmp_path_factory.mktemp("ux") / "devnet"
        proc = subprocess.Popen(
            [CSPREAD, "devnet", "up", "--web", "--workdir", str(work), "--timestamp", CHAIN_T0],
            env=_env_without_cspread(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        lines = read_until_ready(proc, 240)
        table = "".join(lines)
        if not ready(lines):
            proc.kill()
            pytest.fail("devnet did not start:\n" + table + proc.stderr.read())
        info = json.loads((work / "devnet.json").read_text())
    manifest_path = Path(info["manifest"])
    keys = {name: u["private_key"] for name, u in info["users"].items()}
    env = WebEnv(
        info["rpc_url"],
        info["relay_url"],
        manifest_path,
        json.loads(manifest_path.read_text()),
        keys,
        info["web_url"],
        list(info["reporter_urls"]),
    )
    env.table = table  # type: ignore[attr-defined]
    env.info = info  # type: ignore[attr-defined]
    try:
        _wait_fresh(env.rpc_url, env.manifest, reporter_urls=env.reporter_urls)
        _wait_quotes(env.relay_url, [m["id"] for m in env.manifest["markets"]])
        yield env
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(90)
            except subprocess.TimeoutExpired:
                proc.kill()


def _funded(env, role: str, usd: int) -> str:
    from sdk.client import Client

    c = Client(env.manifest_path, env.rpc_url, private_key=env.keys[role], relay_url=env.relay_url)
    if c.me().collateral < usd:
        c.faucet(Decimal(usd))
        c.deposit(Decimal(usd))
    return c.address


def _connect(h: PageHandle, path: str) -> None:
    h.page.goto(path)
    h.page.click("#connect")
    h.page.wait_for_function("document.querySelector('#connect').textContent.includes('…')")


def _no_overflow(h: PageHandle, what: str) -> None:
    overflow = h.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{what} overflows the viewport by {overflow}px"


def _visible_in_viewport(h: PageHandle, selector: str) -> None:
    box = h.page.locator(selector).first.bounding_box()
    width = h.page.viewport_size["width"]
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width + 1, (selector, box, width)


# ---------------------------------------------------------------- point 2: the dashboard starts


@pytest.mark.parametrize("size", WIDTHS)
def test_point2_devnet_web_serves_the_dashboard_and_env_names_work(page_for, web_env, size, tmp_path):
    table = web_env.table
    assert re.search(r"web dashboard\s+│?\s*http://127\.0\.0\.1:\d+", table), table
    assert web_env.web_url in table
    env_text = Path(web_env.info["manifest"]).with_name("env.sh").read_text()
    assert f"export CSPREAD_WEB_URL={web_env.web_url}" in env_text and "export CSPREAD_RPC_URL=" in env_text
    h = page_for(width=size[0], height=size[1])
    p = h.page
    p.goto(web_env.web_url + "/")
    p.wait_for_selector("#markets-table tbody tr")
    # every listed market: the deploy's and the lister's windows (the default devnet: hundreds)
    assert p.locator("#markets-table tbody tr").count() > len(web_env.manifest["markets"])
    for m in web_env.manifest["markets"]:
        assert p.locator(f'#markets-table tr[data-id="{m["id"]}"]').count() == 1
    _no_overflow(h, "/")
    screenshot(h, f"ux-p2-devnet-web-{size[0]}")

    # docs/web.md: `source env.sh` then `python -m apps.web --port N` reads the same variable names
    env_sh = Path(web_env.info["manifest"]).with_name("env.sh")
    from devnet.anvil import free_port

    port = free_port()
    log = (tmp_path / "web.log").open("w")
    proc = subprocess.Popen(
        ["bash", "-c", f"source {env_sh} && exec {sys.executable} -m apps.web --port {port} --log-level warning"],
        env=_env_without_cspread(),
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, (tmp_path / "web.log").read_text()
            time.sleep(0.3)
        info = httpx.get(f"http://127.0.0.1:{port}/api/info").json()
        assert info["relay"] is True and info["oracle"] is True  # CSPREAD_RELAY_URL / CSPREAD_ORACLE_URL were read
        p.goto(f"http://127.0.0.1:{port}/")
        p.wait_for_selector("#markets-table tbody tr")
        assert "no relay configured" not in p.locator("footer").inner_text()
    finally:
        p.goto("about:blank")  # leave that dashboard before stopping it (its pages poll)
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(15)
        log.close()
    # and a dashboard that cannot start says why in one line
    r = subprocess.run(
        [sys.executable, "-m", "apps.web", "--manifest", str(tmp_path / "missing.json")],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env_without_cspread(),
        cwd=ROOT,
    )
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


# ---------------------------------------------------------------- point 3: numbers read like money


@pytest.mark.parametrize("size", WIDTHS)
def test_point3_prices_to_tick_money_to_cent_times_with_zone(page_for, web_env, size):
    h = page_for("user2", width=size[0], height=size[1])
    p = h.page
    p.goto("/")
    p.wait_for_selector("#markets-table tbody tr")
    for m in web_env.manifest["markets"]:
        row = p.locator(f'#markets-table tr[data-id="{m["id"]}"]')
        mark = row.locator('[data-f="mark"]').inner_text().splitlines()[0].strip()
        dec = TICK_DECIMALS[m["kind"]]
        assert re.fullmatch(rf"-?[\d,]+\.\d{{{dec}}}", mark), (m["symbol"], mark)
        change = row.locator('[data-f="change_24h"]').inner_text().strip()
        assert change.endswith("USD") or "no change" in change, (m["symbol"], change)
        assert change != "0"
    _no_overflow(h, "/")
    screenshot(h, f"ux-p3-markets-{size[0]}")

    # an account with a hedge: positions to the tick, money to the cent, fills with times and zones
    _funded(web_env, "user2", 20_000)
    from sdk.client import Client

    c = Client(web_env.manifest_path, web_env.rpc_url, private_key=web_env.keys["user2"], relay_url=web_env.relay_url)
    if not any(x.market_id == SPREAD for x in c.me().positions):
        c.execute(c.hedge_compute_spread("H100-SXM", "HB_WEST", Decimal("30"), "2026-12"))
    _connect(h, "/account")
    p.wait_for_selector("#positions tbody tr td[data-label='Liq. price']")
    row = p.locator("#positions tbody tr", has_text="SPREAD.H100-SXM.HB_WEST").first
    text = row.inner_text()
    for label, pattern in (
        ("Entry", r"\d\.\d{4}$"),
        ("Mark", r"\d\.\d{4}$"),
        ("Unrealised PnL", r"[+-]?[\d,]*\.\d{2} USD$"),
        ("Initial margin", r"[\d,]+\.\d{2} USD$"),
        ("Liq. price", r"\d\.\d{4} USD/GPU-hour$|^none$"),
    ):
        cell = row.locator(f"td[data-label='{label}']").inner_text().strip()
        assert re.search(pattern, cell), (label, cell)
    assert not re.search(r"\d\.\d{5,}", text), text
    fill_time = p.locator("#fills tbody tr td[data-label='Time']").first.inner_text()
    assert "UTC" in fill_time and re.search(r"20\d\d", fill_time), fill_time  # a time, not a block number
    for sel in ("#a-equity", "#a-collateral", "#a-rpnl"):
        assert re.fullmatch(r"-?[\d,]+\.\d{2} USD", p.locator(sel).inner_text().strip()), sel
    _no_overflow(h, "/account")
    screenshot(h, f"ux-p3-account-{size[0]}")

    # a refusal names dollars, never chain integers
    p.goto(f"/trade?market={SPREAD}")
    p.fill("#o-qty", "900000")
    p.select_option("#o-side", "sell")
    p.click("#order-btn")
    p.wait_for_selector("#order-msg.error")
    msg = p.locator("#order-msg").inner_text()
    assert "InsufficientMargin" in msg and "USD" in msg and not CHAIN_INTEGER.search(msg.replace(",", "")), msg
    screenshot(h, f"ux-p3-rejected-{size[0]}")


# ---------------------------------------------------------------- point 1: the hedge fills, or says what rests


@pytest.mark.parametrize("size", WIDTHS)
def test_point1_planner_default_fills_and_thin_book_warns_before_signing(page_for, web_env, size):
    role = "user3" if size[0] > 500 else "user4"
    _funded(web_env, role, 50_000)
    h = page_for(role, width=size[0], height=size[1])
    p = h.page
    _connect(h, "/hedge")
    p.click("#plan-btn")  # the planner's defaults: 8 GPUs, 90 %, the first month
    p.wait_for_selector("#legs tbody tr .leg-status:text('ready to sign')")
    hours = Decimal(p.locator("#p-hours").inner_text().replace(",", ""))
    assert hours > 5000
    depth = p.locator("#plan-depth").inner_text()
    assert "the book covers all" in depth and "Thin book" not in depth, depth
    # the pre-trade liquidation price: the account as it is, and per leverage choice
    lev = p.locator("#leverage tbody").inner_text()
    assert "your account as it is" in lev and "1x" in lev and "max (" in lev, lev
    assert re.search(r"SPREAD\.H100-SXM\.HB_WEST\.2026-12: \d+\.\d{4} USD/GPU-hour", lev), lev
    p.click("#place-btn")
    p.wait_for_selector("#place-msg.ok", timeout=30_000)
    p.wait_for_selector("#exec-report li", timeout=30_000)
    p.wait_for_function("document.querySelector('#exec-report li').textContent.includes('filled')")
    # the market maker's depth covers the default hedge: all of it fills
    deadline = time.monotonic() + 40
    report = ""
    while time.monotonic() < deadline:
        report = p.locator("#exec-report").inner_text()
        m = re.search(r"filled ([\d,.]+) of ([\d,.]+) GPU-hour", report)
        if m and m.group(1) == m.group(2):
            break
        time.sleep(1)
    m = re.search(r"filled ([\d,.]+) of ([\d,.]+) GPU-hour", report)
    assert m and m.group(1) == m.group(2), report
    screenshot(h, f"ux-p1-default-filled-{size[0]}")

    # a plan bigger than the book: warned before anyone signs, with what rests where until when
    p.fill('input[name="count"]', "120")
    p.fill('input[name="utilisation"]', "100")
    p.click("#plan-btn")
    p.wait_for_selector("#plan-depth li.warn")
    warn_text = p.locator("#plan-depth li.warn").first.inner_text()
    assert "Thin book" in warn_text and "would rest as a sell order at" in warn_text and "until" in warn_text
    assert re.search(r"at \d\.\d{4} USD/GPU-hour until .*UTC", warn_text), warn_text
    assert "anyway" in p.locator("#place-btn").inner_text()
    _visible_in_viewport(h, "#plan-depth li.warn")
    _no_overflow(h, "/hedge")
    screenshot(h, f"ux-p1-thin-book-{size[0]}")


# ---------------------------------------------------------------- point 4: not blind after placing


@pytest.mark.parametrize("size", WIDTHS)
def test_point4_notifications_history_coverage_phone_layout_error_pages(page_for, web_env, size):
    role = "user5" if size[0] > 500 else "user1"
    me = _funded(web_env, role, 30_000)
    h = page_for(role, width=size[0], height=size[1])
    p = h.page
    _connect(h, "/hedge")
    p.fill('input[name="count"]', "2")
    p.click("#plan-btn")
    p.wait_for_selector("#legs tbody tr .leg-status:text('ready to sign')")
    p.click("#place-btn")
    p.wait_for_selector("#place-msg.ok", timeout=30_000)
    # a fill notification, without reloading anything
    p.wait_for_selector(".toast.ok:has-text('Filled: sell')", timeout=40_000)
    toast = p.locator(".toast.ok", has_text="Filled: sell").first.inner_text()
    assert "SPREAD.H100-SXM.HB_WEST" in toast and "USD/GPU-hour" in toast and "UTC" in toast, toast
    _visible_in_viewport(h, ".toast.ok")
    screenshot(h, f"ux-p4-fill-toast-{size[0]}")

    # the account: live numbers, realised PnL, the hedge coverage panel; on a phone PnL + liq. price stay visible
    p.goto("/account")
    p.wait_for_selector("#positions tbody tr td[data-label='Liq. price']")
    cov = p.locator("#coverage tbody").inner_text()
    assert "2026-12" in cov and "SPREAD.H100-SXM.HB_WEST" in cov and "GPU-hour" in cov, cov
    assert re.search(r"USD", p.locator("#a-rpnl").inner_text())
    for sel in (
        "#positions tbody tr td[data-label='Unrealised PnL']",
        "#positions tbody tr td[data-label='Liq. price']",
    ):
        _visible_in_viewport(h, sel)
    _no_overflow(h, "/account")
    screenshot(h, f"ux-p4-account-{size[0]}")

    # history: deposits and fills with their times
    p.goto(f"/history/{me}")
    p.wait_for_selector("#history tbody tr.k-fill")
    rows = p.locator("#history tbody").inner_text()
    assert "deposit" in rows and "fill" in rows and "UTC" in rows, rows
    assert p.locator("#history tbody tr.k-deposit").count() >= 1
    orders = p.locator("#history tbody tr.k-order").first.inner_text()
    assert "placed sell" in orders and "USD/GPU-hour" in orders and "expires" in orders, orders
    # the CSV export for accounting: a ledger with UTC times and cents
    csv_href = p.locator("#hist-csv").get_attribute("href")
    csv_text = httpx.get(web_env.web_url + csv_href).text
    assert csv_text.splitlines()[0] == "time_utc,kind,details,cash_usd,tx_hash,block"
    assert re.search(
        r'^20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ,deposit,"deposit [\d,]+\.\d\d USD",\d+\.\d\d,0x', csv_text, re.M
    ), csv_text
    assert ",fill," in csv_text
    _no_overflow(h, "/history")
    screenshot(h, f"ux-p4-history-{size[0]}")

    # liquidation warning and settlement: the notifier's reaction to the account turning so
    # (forced here by answering the account poll; a devnet cannot move real prices on demand)
    real = httpx.get(f"{web_env.web_url}/api/account/{me}").json()

    def doctored(route):
        a = dict(
            real,
            liquidation_warning=True,
            liquidatable=False,
            settlements=[
                {
                    "market_id": SPREAD,
                    "symbol": "SPREAD.H100-SXM.HB_WEST.2026-12",
                    "unit": "GPU-hour",
                    "quantity": "-10",
                    "pnl": "12.34",
                    "settlement_price": "2.0000",
                    "ts": 1796083200,
                    "time_text": "",
                    "tx_hash": "0x" + "ab" * 32,
                    "key": "0xab:7",
                }
            ],
        )
        route.fulfill(status=200, content_type="application/json", body=json.dumps(a))

    p.route(re.compile(r".*/api/account/0x[0-9a-fA-F]{40}$"), doctored)
    p.wait_for_selector(".toast.error:has-text('Liquidation warning')", timeout=20_000)
    assert "within 20% of the maintenance margin" in p.locator(".toast.error").first.inner_text()
    p.wait_for_selector(".toast:has-text('Settled: SPREAD.H100-SXM.HB_WEST.2026-12')", timeout=20_000)
    p.unroute(re.compile(r".*/api/account/0x[0-9a-fA-F]{40}$"))
    screenshot(h, f"ux-p4-warnings-{size[0]}")

    # proper error pages, not raw JSON
    for path, title in (
        ("/markets/999", "Market not found"),
        ("/markets/abc", "Page not found"),
        ("/no-such-page", "Page not found"),
    ):
        r = p.goto(path)
        assert r.status == 404 and "text/html" in r.headers["content-type"], path
        assert p.locator("h1").inner_text() == title
        body = p.locator("main").inner_text()
        assert "{" not in body and "All markets" in body
        _no_overflow(h, path)
    p.goto("/markets/999")
    assert "999" in p.locator("#error-message").inner_text()
    screenshot(h, f"ux-p4-error-page-{size[0]}")
    h.errors[:] = [e for e in h.errors if "404" not in e]  # the 404 page loads are the point here
