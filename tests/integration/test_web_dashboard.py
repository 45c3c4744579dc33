"""The web dashboard in a real browser (Debian's chromium via Playwright) against a real devnet.

One devnet + dashboard per module (conftest_web.web_env). Wallet actions go through an
injected EIP-1193 provider backed by anvil's unlocked accounts, so every signature and
transaction is real. Failing tests leave a screenshot in out/web-failures/.
"""

from __future__ import annotations

import re
import time
from decimal import Decimal

import httpx
import pytest

from tests.integration.conftest_web import (  # noqa: F401 - fixtures
    PageHandle,
    browser,
    page_for,
    screenshot,
    web_env,
    web_failure_hook,
)

pytestmark = pytest.mark.integration

SPREAD, H100 = 7, 5


def _market(env, kind):
    return next(m for m in env.manifest["markets"] if m["kind"] == kind)


def _connect(h: PageHandle, path: str = "/trade") -> None:
    h.page.goto(path)
    h.page.click("#connect")
    h.page.wait_for_function("document.querySelector('#connect').textContent.includes('…')")


def test_markets_and_curves_render(page_for, web_env):
    from web3 import Web3

    c = web_env.manifest["contracts"]["Clearinghouse"]
    ch = Web3(Web3.HTTPProvider(web_env.rpc_url)).eth.contract(address=c["address"], abi=c["abi"])
    before = ch.functions.market_count().call()
    h = page_for()
    p = h.page
    p.goto("/")
    # every listed market, the deploy's and the lister's (the default devnet's full depth: hundreds;
    # the lister may list more between two reads), one page of 50 at a time
    rows = p.locator("#markets-table tbody tr")
    total = int(re.search(r"of (\d+)", p.locator("#markets-pager").inner_text()).group(1))
    assert before <= total <= ch.functions.market_count().call()
    assert total > 50 and rows.count() == 50
    text = p.locator("#markets-table").inner_text()
    for m in web_env.manifest["markets"]:
        assert m["symbol"] in text
    assert "HB_WEST" in text and "peak hours" in text and "H100-SXM GPU-hour" in text and "Compute spread" in text
    # the deploy's markets were asked for marks (the fixture) and are quoted: live, marked to their tick
    mine = [p.locator(f'#markets-table tr[data-id="{m["id"]}"]') for m in web_env.manifest["markets"]]
    assert all(r.locator(".status.s-live").count() == 1 for r in mine)
    marks = [r.locator('[data-f="mark"]').inner_text().splitlines()[0].strip() for r in mine]
    assert all(re.match(r"^-?[\d,]+\.\d{2,4}$", x) for x in marks), marks  # to each market's tick
    for g in ("power", "compute", "spread"):
        p.wait_for_selector(f"#curve-{g} .uplot canvas")
    screenshot(h, "markets")
    p.click("#markets-next")  # the next page: the lister's windows 51..100
    p.wait_for_selector('#markets-table tr[data-id="51"]')
    assert rows.count() == 50 and "Markets 51–100 of" in p.locator("#markets-pager").inner_text()
    # a read-only account page for any address: the market maker's
    p.goto(f"/account/{web_env.address('market_maker')}")
    p.wait_for_selector("#acct:not([hidden])")
    assert "USD" in p.locator("#a-collateral").inner_text()


def test_book_updates_when_sdk_posts(page_for, web_env):
    from sdk.client import Client

    h = page_for()
    p = h.page
    p.goto(f"/markets/{H100}")
    p.wait_for_selector("#ws-state.live")
    p.wait_for_selector("#bids td.pos")
    c = Client(web_env.manifest_path, web_env.rpc_url, private_key=web_env.keys["user4"], relay_url=web_env.relay_url)
    c.faucet(Decimal("1000"))
    c.deposit(Decimal("500"))
    mark = c.mark(H100).price
    price = (mark * Decimal("0.9")).quantize(Decimal("0.001"))
    c.buy(H100, Decimal("3"), price)
    shown = f"{price:,.3f}"  # the book shows prices to the market's 0.001 tick
    p.wait_for_function(
        "(s) => Array.from(document.querySelectorAll('#bids td.pos')).some(td => td.textContent === s)",
        arg=shown,
        timeout=15_000,
    )
    screenshot(h, "market-book")


def test_wallet_deposit_hedge_fill_and_position(page_for, web_env):
    from sdk.client import Client

    h = page_for("user1")
    p = h.page
    me = web_env.address("user1")
    before = Decimal(httpx.get(f"{web_env.web_url}/api/account/{me}").json()["collateral"])
    _connect(h, "/trade")
    p.fill("#amount", "20000")
    p.click("#faucet-btn")
    p.wait_for_selector("#collateral-msg.ok:text('Minted 20000')", timeout=30_000)
    p.fill("#amount", "5000")
    p.click("#deposit-btn")
    p.wait_for_selector("#collateral-msg.ok:text('Deposited 5000')", timeout=30_000)
    assert Decimal(httpx.get(f"{web_env.web_url}/api/account/{me}").json()["collateral"]) == before + 5000
    p.wait_for_function(
        "(s) => document.querySelector('#t-collateral').textContent.startsWith(s)",
        arg=f"{before + 5000:,.2f}".removesuffix(".00"),
    )

    p.goto("/hedge")
    p.fill('input[name="count"]', "1")
    p.fill('input[name="utilisation"]', "2")
    p.select_option('select[name="month"]', _market(web_env, "SPREAD")["symbol"].rsplit(".", 1)[1])
    p.click("#plan-btn")
    p.wait_for_selector("#p-hours:text-is('14.88')")  # 1 GPU x 2% x 744 h of December
    p.wait_for_selector("#legs tbody tr .leg-status:text('ready to sign')")
    p.wait_for_selector("#pnl-power .uplot canvas")
    assert "SPREAD.H100-SXM.HB_WEST" in p.locator("#legs").inner_text()
    p.click("#place-btn")
    p.wait_for_selector("#place-msg.ok", timeout=30_000)
    assert "eth_signTypedData_v4" in h.wallet.calls
    screenshot(h, "hedge-placed")

    # the market maker matches on its own clock: give it time on a loaded 2-core machine
    deadline = time.monotonic() + 45
    pos = None
    while time.monotonic() < deadline:
        acct = httpx.get(f"{web_env.web_url}/api/account/{me}").json()
        pos = next((x for x in acct["positions"] if x["market_id"] == SPREAD), None)
        if pos and not acct["open_orders"]:
            break
        time.sleep(0.5)
    if not acct["open_orders"] and pos is None:
        pytest.fail("the hedge order neither rested nor filled")
    if acct["open_orders"]:  # the market maker did not take all of it: be the counterparty with the SDK
        taker = Client(
            web_env.manifest_path, web_env.rpc_url, private_key=web_env.keys["user5"], relay_url=web_env.relay_url
        )
        taker.faucet(Decimal("10000"))
        taker.deposit(Decimal("5000"))
        for o in taker.relay.orders(me):
            taker.fill(o)
    p.goto("/account")
    p.wait_for_selector("#positions tbody tr td:has-text('SPREAD.H100-SXM.HB_WEST')", timeout=20_000)
    row = p.locator("#positions tbody tr", has_text="SPREAD.H100-SXM.HB_WEST").inner_text()
    assert "short" in row
    assert p.locator("#fills tbody tr").count() >= 1
    assert "USD" in p.locator("#a-equity").inner_text()
    screenshot(h, "account")


def test_rejected_orders_show_their_message(page_for, web_env):
    h = page_for("user3")  # never deposited
    p = h.page
    _connect(h, f"/trade?market={SPREAD}")
    p.fill("#o-qty", "1000")
    p.select_option("#o-side", "sell")
    p.click("#order-btn")
    p.wait_for_selector("#order-msg.error")
    msg = p.locator("#order-msg").inner_text()
    assert "InsufficientMargin" in msg and "missing" in msg and "0x" not in msg, msg
    # the relay's own verdict: hedge orders signed without collateral behind them
    p.goto("/hedge")
    p.fill('input[name="count"]', "1")
    p.fill('input[name="utilisation"]', "2")
    p.click("#plan-btn")
    p.wait_for_selector("#p-hours:text-is('14.88')")
    p.wait_for_selector("#legs .leg-status:text('ready to sign')")
    p.click("#place-btn")
    p.wait_for_selector("#place-msg.error", timeout=20_000)
    msg = p.locator("#place-msg").inner_text()
    assert "relay rejected the order" in msg and "insufficient_margin" in msg and "missing" in msg, msg
    # a withdrawal beyond the collateral is refused before the wallet is asked
    p.goto("/trade")
    p.fill("#amount", "10")
    p.click("#withdraw-btn")
    p.wait_for_selector("#collateral-msg.error")
    assert "InsufficientCollateral" in p.locator("#collateral-msg").inner_text()
    screenshot(h, "rejected")


def test_phone_width(page_for, web_env):
    h = page_for("user2", width=390, height=844)
    p = h.page
    for path, ready in (
        ("/", "#curve-spread .uplot"),
        (f"/markets/{SPREAD}", "#ws-state.live"),
        ("/hedge", "#legs tbody tr"),
        ("/trade", "#o-market"),
        ("/account", "#acct-address"),
    ):
        p.goto(path)
        p.wait_for_selector(ready)
        overflow = p.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{path} overflows the phone width by {overflow}px"
        screenshot(h, "phone" + path.replace("/", "-").rstrip("-"))
