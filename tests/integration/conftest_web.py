"""Fixtures of the browser tests (tests/integration/test_web_*.py), imported by those modules.

* ``web_env``: a real devnet (``devnet.stack.Stack``: anvil + deploy + 3 reporters + pusher,
  liquidator, settler + relay with matching + market maker) with the dashboard as a uvicorn
  child process on a free port (``apps.web.WebProcess``, stopped by PID). One per module.
* ``browser``: Debian's chromium driven by Playwright (sync API).
* ``page_for``: a factory of pages with an injected EIP-1193 wallet (``window.ethereum``)
  that forwards ``eth_requestAccounts``/``eth_accounts``/``eth_chainId``/
  ``eth_signTypedData_v4``/``eth_sendTransaction`` to anvil's unlocked accounts over JSON-RPC
  (real signatures), collects console errors, and saves a screenshot to ``out/web-failures/``
  when the test fails.

Chain clock: anvil starts at 2026-11-10T18:00Z and the reporters replay the vendored data
with per-dataset offsets (docs/methodology.md §8), so every default market has a fresh mark.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
FAILURES = ROOT / "out" / "web-failures"
SCREENS = ROOT / "out" / "web-screens"
CHROMIUM = os.environ.get("CSPREAD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CHAIN_T0 = 1794333600  # 2026-11-10T18:00:00Z
REPLAY_OFFSETS = {
    "ERCOT": -157766400,  # -> 2021-11-10
    "GPU": -31536000,  # -> 2025-11-10 (inside the GPU data, 2025-10-19..11-16)
    "PJM": -41990400,
}  # -> 2025-07-12 (inside May-Jul 2025)


@dataclass
class WebEnv:
    rpc_url: str
    relay_url: str
    manifest_path: Path
    manifest: dict
    keys: dict[str, str]
    web_url: str
    reporter_urls: list[str] = field(default_factory=list)

    def address(self, role: str) -> str:
        from eth_account import Account

        return Account.from_key(self.keys[role]).address


def _wait_fresh(rpc: str, manifest: dict, timeout: float = 90.0, reporter_urls: list[str] | None = None) -> None:
    """Until the manifest markets' marks are fresh. With `reporter_urls`, first ask them for these
    marks (POST /marks/requests, as sdk.Client.request_marks does: on a templated devnet the pusher
    pushes only needed marks) and mine a block every few seconds (the pusher acts per block and
    anvil mines on demand)."""
    from web3 import Web3

    w3 = Web3(Web3.HTTPProvider(rpc))
    c = manifest["contracts"]["Clearinghouse"]
    ch = w3.eth.contract(address=c["address"], abi=c["abi"])
    deadline = time.monotonic() + timeout
    ids = [m["id"] for m in manifest["markets"]]
    for url in reporter_urls or []:
        try:
            httpx.post(url + "/marks/requests", json={"feed_ids": [m["mark_feed"] for m in manifest["markets"]]})
        except httpx.HTTPError:
            pass  # another reporter takes it; the wait below says if none did
    mined = time.monotonic()
    while time.monotonic() < deadline:
        if all(ch.functions.mark(i).call()[2] for i in ids):
            return
        if reporter_urls and time.monotonic() - mined > 3:
            w3.provider.make_request("evm_mine", [])
            mined = time.monotonic()
        time.sleep(0.5)
    raise AssertionError(f"marks of markets {ids} not fresh within {timeout:.0f} s")


def _wait_quotes(relay: str, market_ids: list[int], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            books = [httpx.get(f"{relay}/markets/{m}/book", timeout=2).json() for m in market_ids]
            if all(b["bids"] and b["asks"] for b in books):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"the market maker did not quote markets {market_ids} within {timeout:.0f} s")


@pytest.fixture(scope="module")
def web_env(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no chromium at {CHROMIUM} (make browser installs Debian's chromium)")
    from apps.web.server import WebProcess

    tmp = tmp_path_factory.mktemp("web")
    reuse = os.environ.get("CSPREAD_WEB_DEVNET")  # dev loop: a running devnet's info JSON
    if reuse:
        info = json.loads(Path(reuse).read_text())
        manifest_path = Path(info["manifest"])
        env = WebEnv(
            info["rpc"],
            info["relay"],
            manifest_path,
            json.loads(manifest_path.read_text()),
            info["keys"],
            "",
            info.get("reporters", []),
        )
        stack = None
    else:
        from devnet.stack import Stack

        stack = Stack(
            tmp / "stack",
            anvil_timestamp=CHAIN_T0,
            oracle_env={"CSPREAD_ORACLE_REPLAY_OFFSETS": json.dumps(REPLAY_OFFSETS)},
        )
        stack.start()
        env = WebEnv(
            stack.rpc_url,
            stack.relay_url,
            stack.manifest_path,
            stack.manifest,
            dict(stack.keys),
            "",
            list(stack.reporter_urls),
        )
    web = None
    try:
        if stack is not None:  # marks are pushed where needed: ask for the ones waited for
            stack.request_marks([m["id"] for m in env.manifest["markets"]])
        _wait_fresh(env.rpc_url, env.manifest)
        _wait_quotes(env.relay_url, [m["id"] for m in env.manifest["markets"]])
        web = WebProcess(
            env.manifest_path, env.rpc_url, env.relay_url, oracle_urls=env.reporter_urls[:1], log_path=tmp / "web.log"
        ).start()
        env.web_url = web.url
        yield env
    finally:
        if web is not None:
            web.stop()
        if stack is not None:
            stack.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


# A minimal EIP-1193 provider; every request goes to Python (expose_function) and from there to anvil.
WALLET_JS = """
(() => {
  const listeners = {};
  window.ethereum = {
    isCspreadTestWallet: true,
    on(ev, fn) { (listeners[ev] = listeners[ev] || []).push(fn); },
    removeListener(ev, fn) { listeners[ev] = (listeners[ev] || []).filter((f) => f !== fn); },
    async request({ method, params }) {
      const r = await window.__cspreadWalletRpc(method, params || []);
      if (r.error) { const e = new Error(r.error.message); e.code = r.error.code; throw e; }
      return r.result;
    },
  };
})();
"""
FORWARDED = {
    "eth_chainId",
    "eth_signTypedData_v4",
    "eth_sendTransaction",
    "eth_blockNumber",
    "eth_getBalance",
    "eth_call",
    "eth_estimateGas",
    "eth_getTransactionReceipt",
    "net_version",
}


class Wallet:
    """The Python side of the injected provider: one anvil account, authorised on request."""

    def __init__(self, rpc_url: str, address: str):
        self.rpc_url, self.address = rpc_url, address
        self.authorised = False
        self.calls: list[str] = []

    def __call__(self, method: str, params: list) -> dict:
        self.calls.append(method)
        if method == "eth_requestAccounts":
            self.authorised = True
            return {"result": [self.address]}
        if method == "eth_accounts":
            return {"result": [self.address] if self.authorised else []}
        if method == "wallet_switchEthereumChain":
            return {"result": None}
        if method not in FORWARDED:
            return {"error": {"code": 4200, "message": f"test wallet does not support {method}"}}
        if method in ("eth_signTypedData_v4", "eth_sendTransaction") and not self.authorised:
            return {"error": {"code": 4100, "message": "not authorised"}}
        r = httpx.post(
            self.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout=30
        ).json()
        return {"error": r["error"]} if "error" in r else {"result": r["result"]}


class PageHandle:
    def __init__(self, page, wallet: Wallet | None, errors: list[str]):
        self.page, self.wallet, self.errors = page, wallet, errors


@pytest.fixture
def page_for(browser, web_env, request, web_failure_hook):
    """``page_for(role=None, width=1280, height=900)`` -> PageHandle; asserts no console errors at teardown."""
    made: list[tuple] = []

    def make(role: str | None = None, width: int = 1280, height: int = 900) -> PageHandle:
        ctx = browser.new_context(viewport={"width": width, "height": height}, base_url=web_env.web_url)
        wallet = None
        if role is not None:
            wallet = Wallet(web_env.rpc_url, web_env.address(role))
            ctx.expose_function("__cspreadWalletRpc", wallet)
            ctx.add_init_script(WALLET_JS)
        page = ctx.new_page()
        page.set_default_timeout(20_000)
        errors: list[str] = []
        page.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
        h = PageHandle(page, wallet, errors)
        made.append((ctx, h))
        return h

    yield make
    failed = getattr(request.node, "_web_failed", False)
    for i, (ctx, h) in enumerate(made):
        if failed:
            FAILURES.mkdir(parents=True, exist_ok=True)
            try:
                h.page.screenshot(path=str(FAILURES / f"{request.node.name}-{i}.png"), full_page=True)
            except Exception:  # noqa: BLE001 - a screenshot is best effort
                pass
        ctx.close()
    if not failed:
        for _, h in made:
            assert not h.errors, f"console errors: {h.errors}"


class _FailureFlag:
    """Marks the test item when its call phase failed, so page_for can take a screenshot."""

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        rep = yield
        if rep.when == "call" and rep.failed:
            item._web_failed = True
        return rep


@pytest.fixture(scope="session", autouse=False)
def web_failure_hook(request):
    pm = request.config.pluginmanager
    if not pm.has_plugin("cspread-web-failures"):
        pm.register(_FailureFlag(), "cspread-web-failures")
    yield


def screenshot(h: PageHandle, name: str) -> Path:
    SCREENS.mkdir(parents=True, exist_ok=True)
    p = SCREENS / f"{name}.png"
    h.page.screenshot(path=str(p), full_page=True)
    return p


def clean_failures() -> None:
    shutil.rmtree(FAILURES, ignore_errors=True)
