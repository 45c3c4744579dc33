"""Issue 12, point 6: two relay processes on one PostgreSQL database, on a real anvil.

Relay A serves the API only; relay B also runs the matching loop. Orders posted to either are
in both books; a crossing order posted to A is matched by B. Then, with automine off, B claims
a crossing pair and sends the match; while the transaction waits in the mempool, B is killed
with SIGKILL (by PID). A carries on (accepts orders, serves the book); the block is mined; a
replacement matcher process on the same database (what a supervisor restarts) starts, and the
dead process's claim is reconciled against the chain (by the replacement's start, or by any
relay once the claim's lease has run out). Nothing is lost (every order posted
to A or B is still known, with its chain status) and nothing duplicated (one fill per match
on-chain, one trade row per log, positions exact).

Every process (anvil, PostgreSQL, the relays) is started and stopped by PID.
"""

from __future__ import annotations

import os
import signal

import httpx
import pytest
from eth_account import Account
from web3 import Web3

from devnet.anvil import ANVIL_KEYS
from devnet.postgres import PostgresServer
from devnet.processes import RelayProcess
from relay.orders import Order, domain_separator, sign_order
from relay.store import SqlOrderStore
from scripts._keepers_env import wait_until
from tests.utils.plain_web3 import contract, marked_market

pytestmark = pytest.mark.integration
USDC = 10**6
# where claims are leases (issue 12 point 3), any relay settles a dead matcher's claims once the
# lease runs out; a short one keeps the test quick (ignored by a relay without leases)
LEASE = {"CSPREAD_RELAY_LEASE": "3"}


@pytest.fixture(scope="module")
def pg():
    with PostgresServer() as server:
        yield server


@pytest.fixture
def world(devnet, pg, tmp_path):
    anvil, manifest, path = devnet
    w3 = Web3(Web3.HTTPProvider(anvil.url))
    market = marked_market(w3, manifest, "H100-SXM", 2_500_000, ANVIL_KEYS[5:9], 20_000 * USDC)
    url = pg.create_database()
    started: list[RelayProcess] = []

    def relay(name: str, match_key: str | None = None) -> RelayProcess:
        r = RelayProcess(
            str(path),
            anvil.url,
            url,
            match_key=match_key,
            log_path=str(tmp_path / f"{name}.log"),
            extra_env=LEASE,
        )
        started.append(r)
        return r.start()

    yield w3, manifest, market, url, relay
    for r in reversed(started):
        r.stop()


def _wire(w3, manifest, key, market, is_buy, qty, price, nonce):
    acct = Account.from_key(key)
    o = Order(acct.address, market["id"], is_buy, qty, price, nonce, w3.eth.get_block("latest")["timestamp"] + 3_600)
    sep = domain_separator(manifest["chain_id"], manifest["contracts"]["Exchange"]["address"])
    return {**o.as_dict(), "signature": "0x" + sign_order(o, acct, sep).hex()}


def _post(relay, wire) -> str:
    r = httpx.post(relay.url + "/orders", json=wire, timeout=30)
    assert r.status_code == 201, r.text
    return r.json()["hash"]


def _status(relay, h) -> str:
    return httpx.get(f"{relay.url}/orders/{h}", timeout=30).json()["status"]


def test_two_relays_one_postgres__shared_book__kill9_mid_match__nothing_lost_or_duplicated(world):
    w3, manifest, market, url, relay = world
    mid = market["id"]
    ch = contract(w3, manifest, "Clearinghouse")
    seller, buyer = (Account.from_key(k).address for k in ANVIL_KEYS[5:7])
    a = relay("a")
    b = relay("b", match_key=ANVIL_KEYS[9])

    # orders posted to both relays: one book
    resting = [
        _post(a, _wire(w3, manifest, ANVIL_KEYS[7], market, True, 1_000, 2_000_000 + i * 10_000, 100 + i))
        for i in range(5)
    ] + [
        _post(b, _wire(w3, manifest, ANVIL_KEYS[8], market, False, 1_000, 3_000_000 + i * 10_000, 100 + i))
        for i in range(5)
    ]
    for r in (a, b):
        book = httpx.get(f"{r.url}/markets/{mid}/book").json()
        assert {o["hash"] for o in book["orders"]} == set(resting)
    # the same order posted to the other relay is a duplicate there
    dup = _wire(w3, manifest, ANVIL_KEYS[7], market, True, 1_000, 2_000_000, 100)
    assert httpx.post(b.url + "/orders", json=dup).json()["code"] == "duplicate"

    # a crossing pair posted to A is matched by B (A runs no matcher)
    ask = _post(a, _wire(w3, manifest, ANVIL_KEYS[5], market, False, 10_000, 2_490_000, 1))
    bid = _post(a, _wire(w3, manifest, ANVIL_KEYS[6], market, True, 10_000, 2_510_000, 1))
    wait_until(lambda: ch.functions.position(buyer, mid).call()[0] == 10_000, what="B's match on-chain")
    wait_until(lambda: _status(a, ask) == "filled" and _status(a, bid) == "filled", what="A sees the fill")

    # kill -9 B mid-match: automine off, B claims the next crossing pair and sends; its
    # transaction sits in the mempool when B dies
    w3.provider.make_request("evm_setAutomine", [False])
    store = SqlOrderStore(url)
    try:
        ask2 = _post(a, _wire(w3, manifest, ANVIL_KEYS[5], market, False, 5_000, 2_480_000, 2))
        bid2 = _post(b, _wire(w3, manifest, ANVIL_KEYS[6], market, True, 5_000, 2_520_000, 2))
        wait_until(lambda: store.get(ask2).in_flight and store.get(bid2).in_flight, what="B's claim")
        wait_until(
            lambda: w3.provider.make_request("txpool_status", [])["result"]["pending"] not in (0, "0x0"),
            what="B's match transaction in the mempool",
        )
        os.kill(b.proc.pid, signal.SIGKILL)
        b.proc.wait(10)

        # A carries on: posts and reads work while B is dead
        late = _post(a, _wire(w3, manifest, ANVIL_KEYS[7], market, True, 1_000, 1_900_000, 200))
        assert late in {o["hash"] for o in httpx.get(f"{a.url}/markets/{mid}/book").json()["orders"]}

        w3.provider.make_request("evm_mine", [])
        w3.provider.make_request("evm_setAutomine", [True])
        assert ch.functions.position(buyer, mid).call()[0] == 15_000  # B's transaction landed, once

        # the replacement matcher releases the dead claim; the pair is reconciled with the chain
        c = relay("c", match_key=ANVIL_KEYS[9])
        wait_until(
            lambda: _status(a, ask2) == "filled" and _status(c, bid2) == "filled", timeout=60, what="reconciled pair"
        )
        assert not store.get(ask2).in_flight and not store.get(bid2).in_flight

        # and matching carries on
        ask3 = _post(a, _wire(w3, manifest, ANVIL_KEYS[5], market, False, 2_000, 2_470_000, 3))
        bid3 = _post(a, _wire(w3, manifest, ANVIL_KEYS[6], market, True, 2_000, 2_530_000, 3))
        wait_until(lambda: ch.functions.position(buyer, mid).call()[0] == 17_000, what="C's match")
        wait_until(lambda: _status(a, ask3) == "filled" and _status(a, bid3) == "filled", what="filled in the book")
    finally:
        w3.provider.make_request("evm_setAutomine", [True])
        store.close()

    # nothing duplicated: exact positions, one trade row per fill log, three fills in all
    assert ch.functions.position(buyer, mid).call() == [17_000, 10_000 * 2_490 + 5_000 * 2_480 + 2_000 * 2_470]
    assert ch.functions.position(seller, mid).call()[0] == -17_000
    trades = httpx.get(f"{a.url}/markets/{mid}/trades", params={"limit": 100}).json()
    keys = [(t["tx_hash"], t["log_index"]) for t in trades]
    assert len(keys) == len(set(keys)) == 3
    assert sorted(int(t["quantity"]) for t in trades) == [2_000, 5_000, 10_000]
    # nothing lost: every resting order posted to A or B is still open in both relays
    for r in (a, c):
        open_hashes = {o["hash"] for o in httpx.get(f"{r.url}/orders", params={"limit": 1000}).json()}
        assert open_hashes == set(resting) | {late}
