"""Relay + matcher + market maker on a real anvil with the real deploy.

The relay runs as its own process (uvicorn on a free port, started and stopped by PID) with
the matching loop on; traders sign with plain eth_account and post over HTTP.
"""

from __future__ import annotations

import httpx
import pytest
from eth_account import Account
from web3 import Web3

from apps.marketmaker import MarketMakerRunner, QuoteParams
from core.manifest import Manifest
from devnet.anvil import ANVIL_KEYS
from relay.orders import Order, domain_separator, sign_order
from scripts._keepers_env import wait_until
from tests.utils.plain_web3 import contract, marked_market, push_mark, send

pytestmark = pytest.mark.integration
USDC = 10**6


@pytest.fixture(scope="module")
def stack(devnet, start_relay):
    anvil, manifest, path = devnet
    w3 = Web3(Web3.HTTPProvider(anvil.url))
    # (ANVIL_KEYS[4] is not a funded anvil account)
    market = marked_market(w3, manifest, "H100-SXM", 2_500_000, ANVIL_KEYS[5:9], 20_000 * USDC)
    relay = start_relay(match_key=ANVIL_KEYS[9])
    return anvil, manifest, path, w3, market, relay


def _post(relay, manifest, key, market, is_buy, qty, price, nonce, w3):
    acct = Account.from_key(key)
    o = Order(acct.address, market["id"], is_buy, qty, price, nonce, w3.eth.get_block("latest")["timestamp"] + 3_600)
    sep = domain_separator(manifest["chain_id"], manifest["contracts"]["Exchange"]["address"])
    r = httpx.post(relay.url + "/orders", json={**o.as_dict(), "signature": "0x" + sign_order(o, acct, sep).hex()})
    return o, r


def test_relay__crossing_orders__matched_on_chain_at_maker_price(stack):
    anvil, manifest, _, w3, market, relay = stack
    ch = contract(w3, manifest, "Clearinghouse")
    seller, buyer = Account.from_key(ANVIL_KEYS[5]).address, Account.from_key(ANVIL_KEYS[6]).address
    _, r = _post(relay, manifest, ANVIL_KEYS[5], market, False, 10_000, 2_490_000, 1, w3)
    assert r.status_code == 201, r.text
    maker_hash = r.json()["hash"]
    _, r = _post(relay, manifest, ANVIL_KEYS[6], market, True, 10_000, 2_510_000, 1, w3)
    assert r.status_code == 201, r.text
    wait_until(lambda: ch.functions.position(buyer, market["id"]).call()[0] == 10_000, what="the match on-chain")
    assert ch.functions.position(buyer, market["id"]).call() == [10_000, 24_900_000]  # at the maker's $2.49
    assert ch.functions.position(seller, market["id"]).call() == [-10_000, -24_900_000]
    trades = wait_until(lambda: httpx.get(f"{relay.url}/markets/{market['id']}/trades").json(), what="the trade")
    assert trades[0]["order_hash"] == maker_hash and trades[0]["price"] == "2490000"
    wait_until(lambda: httpx.get(f"{relay.url}/orders/{maker_hash}").json()["status"] == "filled", what="filled status")
    assert httpx.get(f"{relay.url}/markets/{market['id']}/book").json()["orders"] == []


def test_relay__order_cancelled_on_chain__dropped_by_follower(stack):
    anvil, manifest, _, w3, market, relay = stack
    o, r = _post(relay, manifest, ANVIL_KEYS[7], market, True, 5_000, 2_000_000, 7, w3)
    assert r.status_code == 201, r.text
    h = r.json()["hash"]
    send(w3, contract(w3, manifest, "Exchange").functions.cancel(o.as_tuple()), ANVIL_KEYS[7])
    got = wait_until(lambda: (x := httpx.get(f"{relay.url}/orders/{h}").json())["status"] != "open" and x, what="drop")
    assert got["status"] == "cancelled"
    # and a replay of it is refused
    sep = domain_separator(manifest["chain_id"], manifest["contracts"]["Exchange"]["address"])
    sig = sign_order(o, Account.from_key(ANVIL_KEYS[7]), sep)
    r = httpx.post(relay.url + "/orders", json={**o.as_dict(), "signature": "0x" + sig.hex()})
    assert r.status_code == 409


def test_relay__wrong_chain_signature__rejected(stack):
    anvil, manifest, _, w3, market, relay = stack
    acct = Account.from_key(ANVIL_KEYS[7])
    o = Order(acct.address, market["id"], True, 5_000, 2_000_000, 99, w3.eth.get_block("latest")["timestamp"] + 600)
    sig = sign_order(o, acct, domain_separator(1, manifest["contracts"]["Exchange"]["address"]))
    r = httpx.post(relay.url + "/orders", json={**o.as_dict(), "signature": "0x" + sig.hex()})
    assert r.status_code == 400 and r.json()["code"] == "bad_signature"


def test_marketmaker__quotes_appear_in_book_and_refresh_cancels_old(stack):
    anvil, manifest, path, w3, market, relay = stack
    mm = MarketMakerRunner(
        Manifest.load(path),
        anvil.url,
        relay.url,
        ANVIL_KEYS[8],
        [market["id"]],
        QuoteParams(levels=2, size=10_000, spread_bps=200),
    )
    assert mm.step()["posted"] == 4
    book = httpx.get(f"{relay.url}/markets/{market['id']}/book").json()
    mine = [o for o in book["orders"] if o["order"]["trader"] == mm.account.address]
    assert len(mine) == 4 and len(book["bids"]) == 2 and len(book["asks"]) == 2
    assert int(book["bids"][0][0]) < 2_500_000 < int(book["asks"][0][0])
    # the mark moves 2 %: cancel_all on-chain, then four new quotes around the new mark
    push_mark(w3, manifest, market, 2_550_000)
    assert mm.step()["posted"] == 4
    live = wait_until(
        lambda: (
            (x := httpx.get(f"{relay.url}/orders", params={"trader": mm.account.address}).json()) and len(x) == 4 and x
        ),
        what="old quotes dropped",
    )
    assert all(int(o["order"]["nonce"]) >= min(int(q["order"]["nonce"]) for q in live) for o in live)
    assert int(httpx.get(f"{relay.url}/markets/{market['id']}/book").json()["bids"][0][0]) > int(book["bids"][0][0])
