"""Issue 15 in the browser: the dashboard's pool pages on a real devnet (anvil + the real deploy),
a Pool deployed by devnet.pool.create_pool and recorded in the manifest, a member who joined and
declared capacity through sdk.pool, and a hedge the manager approved on chain and a taker filled.
One devnet for both widths; the dashboard runs as a child process. Screenshots: out/web-screens/."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from eth_account import Account

from core import abi as core_abi
from devnet.anvil import ANVIL_KEYS
from devnet.pool import create_pool
from sdk.client import Client
from sdk.pool import PoolClient
from tests.integration.conftest_web import (  # noqa: F401 - fixtures
    CHROMIUM,
    WebEnv,
    browser,
    page_for,
    screenshot,
    web_failure_hook,
)
from tests.utils.plain_web3 import contract, fund, push_mark, send

pytestmark = pytest.mark.integration

OWNER, MANAGER, MEMBER, TAKER = ANVIL_KEYS[0], ANVIL_KEYS[12], ANVIL_KEYS[13], ANVIL_KEYS[14]
MARK = 1_500_000  # base units per GPU-hour (fixture, as tests/integration/test_pool_devnet.py)
USDC = 10**6
HEDGE = 1_000_000  # thousandths: a 1,000 GPU-hour short


@pytest.fixture(scope="module")
def web_env(devnet, tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no chromium at {CHROMIUM} (make browser installs Debian's chromium)")
    from apps.web.server import WebProcess
    from sdk.reader import Reader

    anvil, _, path = devnet
    entry = create_pool(
        anvil.url,
        path,
        OWNER,
        Account.from_key(MANAGER).address,
        gpu_classes=["H100-SXM"],
        nodes=["HB_WEST"],
        warp=True,
    )
    manifest = json.loads(path.read_text())
    w3 = Reader(path, anvil.url).w3
    (mid,) = (int(k) for k in entry["markets"])
    push_mark(w3, manifest, next(x for x in manifest["markets"] if x["id"] == mid), MARK)
    fund(w3, manifest, TAKER, 1_000_000 * USDC)
    c = Client(path, anvil.url, private_key=MEMBER)
    c.faucet(Decimal(100_000))
    p = PoolClient(c, entry["address"])
    p.join(Decimal(20_000))
    p.declare("H100-SXM", "HB_WEST", 100, Decimal("0.5"))  # 100 GPUs, half their hours committed
    pool = w3.eth.contract(address=entry["address"], abi=core_abi.abi("Pool"))
    now = w3.eth.get_block("latest")["timestamp"]
    order = (pool.address, mid, False, HEDGE, MARK, now, now + 600, False)
    send(w3, pool.functions.approve_order(order), MANAGER)
    send(w3, contract(w3, manifest, "Exchange").functions.fill(order, b"", HEDGE), TAKER)
    tmp = tmp_path_factory.mktemp("webpool")
    web = WebProcess(path, anvil.url, None, log_path=tmp / "web.log").start()
    try:
        env = WebEnv(anvil.url, "", path, manifest, {"member": MEMBER}, web.url)
        env.pool = entry["address"]  # type: ignore[attr-defined]
        yield env
    finally:
        web.stop()


def test_pool_page__desktop_connected_wallet_and_phone(page_for, web_env):
    member = Account.from_key(MEMBER).address
    # desktop, the member's wallet: the list links the pool; connecting shows my share
    h = page_for("member", 1280, 900)
    h.page.goto("/pools")
    h.page.click("#pools a[href='/pool/default']")
    h.page.wait_for_selector("#pool-nav")
    h.page.click("#connect")
    h.page.wait_for_url(f"**/pool/default?account={member}")
    assert h.page.inner_text("#me-value").endswith("USD")
    assert Decimal(h.page.inner_text("#me-value").split()[0]) > Decimal(19_000)  # 20,000 joined, less fees/PnL
    assert "100 × H100-SXM at HB_WEST, 50 % committed" in h.page.inner_text("#me-declared")
    rows = h.page.inner_text("#pool-positions")
    # hedged vs declared GPU-hours of the window: 100 GPUs x 50 % x 744 h (December 2026) = 37,200
    assert "short 1000" in rows and "1000 / 37200" in rows and "2.7 %" in rows, rows
    assert "USD" in h.page.inner_text("#pool-margin-per-hour")
    assert "cspread pool join default 1000" in h.page.inner_text("#pool-commands")
    screenshot(h, "pool-1280")

    # join, declare and leave through the page: the dev wallet signs the server-built txs, the chain moves
    from web3 import Web3

    pool = Web3(Web3.HTTPProvider(web_env.rpc_url)).eth.contract(address=web_env.pool, abi=core_abi.abi("Pool"))
    shares0 = pool.functions.balanceOf(member).call()
    h.page.fill("#pool-join-usd", "abc")  # bad input: a clear message, nothing sent
    h.page.click("#pool-join")
    h.page.wait_for_selector("#pool-msg:has-text('not a number')")
    assert pool.functions.balanceOf(member).call() == shares0
    h.page.fill("#pool-join-usd", "500")
    h.page.click("#pool-join")
    h.page.wait_for_selector("#pool-msg:has-text('Joined with 500 USD')", timeout=60_000)
    shares1 = pool.functions.balanceOf(member).call()
    assert shares1 > shares0 and pool.functions.convertToAssets(shares1 - shares0).call() >= 499 * USDC
    h.page.wait_for_selector("#pool-msg", state="hidden")  # the page reloaded with the new share
    h.page.fill("#pool-declare-count", "110")
    h.page.fill("#pool-declare-commit", "0.5")
    h.page.click("#pool-declare")
    h.page.wait_for_selector("#pool-msg:has-text('Declared 110 GPUs')", timeout=60_000)
    assert pool.functions.capacity(member).call()[2:] == (110, 5_000)
    h.page.wait_for_selector("#pool-msg", state="hidden")
    assert "110 × H100-SXM at HB_WEST" in h.page.inner_text("#me-declared")
    h.page.fill("#pool-leave-usd", "200")
    h.page.click("#pool-leave")
    # free collateral covers 200 USD here, so it is paid now (the queued path: tests/unit/web/test_web_pool.py)
    h.page.wait_for_selector("#pool-msg:has-text('Left with 200 USD, paid to your wallet')", timeout=60_000)
    shares2 = pool.functions.balanceOf(member).call()
    assert shares2 < shares1 and pool.functions.convertToAssets(shares1 - shares2).call() >= 200 * USDC - 1

    # phone, no wallet: ?account= by address, nothing wider than the screen
    h = page_for(None, 390, 844)
    h.page.goto(f"/pool/{web_env.pool}?account={member}")
    h.page.wait_for_selector("#me-value")
    assert h.page.inner_text("h1").startswith("Pool default")
    assert h.page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(h, "pool-390")

    # a name that is no pool: a page saying so, 4xx
    r = h.page.goto("/pool/nosuchpool")
    assert r.status == 422 and "neither an address nor a pool" in h.page.inner_text("main")
    h.errors.clear()  # the 422 document load is the expected console line
