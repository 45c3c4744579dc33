"""Issue 12 point 3 with real processes: a relay is killed (SIGKILL, by PID) while its matcher's
`match_orders` sits in the mempool, so both orders stay claimed (`in_flight`) in the database.
A second relay process on the same database, without a matcher, settles the claims with the
chain once their lease (3 s here) runs out: a match that landed is recorded as filled; a match
that never landed leaves both orders open and cancellable. Before leases, the orders stayed in
flight (a signed cancel got 409, a filled order showed as open) until a matcher restarted."""

from __future__ import annotations

import os
import signal

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from web3 import Web3

from devnet.anvil import ANVIL_KEYS, rpc
from devnet.processes import RelayProcess
from relay.orders import Order, cancel_message, domain_separator, sign_order
from scripts._keepers_env import wait_until
from tests.utils.plain_web3 import marked_market

pytestmark = pytest.mark.integration
USDC = 10**6
SELLER, BUYER, MATCHER = ANVIL_KEYS[5], ANVIL_KEYS[6], ANVIL_KEYS[9]
LEASE = {"CSPREAD_RELAY_LEASE": "3"}


@pytest.fixture(scope="module")
def market(devnet):
    anvil, manifest, _ = devnet
    w3 = Web3(Web3.HTTPProvider(anvil.url))
    return marked_market(w3, manifest, "H100-SXM", 2_500_000, [SELLER, BUYER], 20_000 * USDC)


@pytest.fixture
def relays(devnet, tmp_path):
    """start(match) -> a RelayProcess on this test's database; all stopped at the end (by PID)."""
    anvil, _, path = devnet
    started: list[RelayProcess] = []

    def start(match: bool) -> RelayProcess:
        r = RelayProcess(
            str(path),
            anvil.url,
            str(tmp_path / "relay.db"),
            match_key=MATCHER if match else None,
            log_path=str(tmp_path / f"relay{len(started)}.log"),
            extra_env=LEASE,
        )
        started.append(r)
        r.start()
        return r

    yield start
    for r in started:
        r.stop()
    rpc(anvil.url, "evm_setAutomine", [True])


_nonce = iter(range(50_000, 10**6))


def _post(url, devnet, market, key, is_buy, price):
    anvil, manifest, _ = devnet
    acct = Account.from_key(key)
    now = int(rpc(anvil.url, "eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
    o = Order(acct.address, market["id"], is_buy, 10_000, price, next(_nonce), now + 3_600)
    sep = domain_separator(manifest["chain_id"], manifest["contracts"]["Exchange"]["address"])
    r = httpx.post(url + "/orders", json={**o.as_dict(), "signature": "0x" + sign_order(o, acct, sep).hex()})
    assert r.status_code == 201, r.text
    return r.json()["hash"]


def _cancel(url, key, h):
    sig = Account.from_key(key).sign_message(encode_defunct(text=cancel_message(h))).signature.hex()
    return httpx.delete(f"{url}/orders/{h}", headers={"X-Signature": "0x" + sig.removeprefix("0x")})


def _crash_mid_match(devnet, market, relays) -> tuple[str, str, str]:
    """Relay 1 with its matcher; the crossing pair's match sent but not mined; relay 1 killed."""
    anvil = devnet[0]
    r1 = relays(match=True)
    ask = _post(r1.url, devnet, market, SELLER, False, 2_490_000)
    rpc(anvil.url, "evm_setAutomine", [False])
    bid = _post(r1.url, devnet, market, BUYER, True, 2_510_000)
    pending = wait_until(
        lambda: rpc(anvil.url, "eth_getBlockByNumber", ["pending", False])["transactions"],
        what="the matcher's transaction in the mempool",
    )
    os.killpg(r1.proc.pid, signal.SIGKILL)  # mid-match: claimed, sent, not mined, never released
    r1.proc.wait(10)
    return ask, bid, pending[0]


def test_relay_claim_lease__killed_mid_match_and_tx_landed__next_relay_records_fill(devnet, market, relays):
    ask, bid, tx = _crash_mid_match(devnet, market, relays)
    rpc(devnet[0].url, "evm_setAutomine", [True])
    rpc(devnet[0].url, "evm_mine")  # the dead matcher's transaction lands
    assert rpc(devnet[0].url, "eth_getTransactionReceipt", [tx])["status"] == "0x1"
    r2 = relays(match=False)
    for h in (ask, bid):
        wait_until(lambda h=h: httpx.get(f"{r2.url}/orders/{h}").json()["status"] == "filled", what=f"{h} filled")
    trades = httpx.get(f"{r2.url}/markets/{market['id']}/trades").json()
    assert tx in {t["tx_hash"] for t in trades}


def test_relay_claim_lease__killed_mid_match_and_tx_dropped__orders_released(devnet, market, relays):
    ask, bid, tx = _crash_mid_match(devnet, market, relays)
    rpc(devnet[0].url, "anvil_dropTransaction", [tx])  # the match never lands
    rpc(devnet[0].url, "evm_setAutomine", [True])
    r2 = relays(match=False)
    # once the lease has run out, the claims are settled with the chain: both open, cancellable
    r = wait_until(lambda: (x := _cancel(r2.url, SELLER, ask)).status_code == 200 and x, timeout=30, what="cancel")
    assert r.json()["status"] == "cancelled"
    got = httpx.get(f"{r2.url}/orders/{bid}").json()
    assert got["status"] == "open" and got["remaining"] == "10000"
