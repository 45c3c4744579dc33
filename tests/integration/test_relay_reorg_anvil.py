"""Issue 12 point 1: the relay's event follower through reorgs, on a real anvil with the real
deploy. The relay runs in this process (its app over a real RpcChain and a SQLite store) and
its follower is polled by hand, so each step is deterministic. Reorgs by `evm_snapshot` /
`evm_revert` (the chain goes back, then grows a new branch) and by `anvil_reorg` (the last
blocks replaced by others at the same height)."""

from __future__ import annotations

import pytest
from eth_account import Account
from fastapi.testclient import TestClient
from web3 import Web3

from core.manifest import Manifest
from devnet.anvil import ANVIL_KEYS, rpc
from relay.app import create_app
from relay.chainview import RpcChain
from relay.config import RelaySettings
from relay.follower import EventFollower
from relay.orders import Order, domain_separator, sign_order
from relay.store import SqlOrderStore
from tests.utils.plain_web3 import contract, marked_market, send

pytestmark = pytest.mark.integration
USDC = 10**6
SELLER, BUYER = ANVIL_KEYS[5], ANVIL_KEYS[6]


@pytest.fixture(scope="module")
def chain_env(devnet):
    anvil, manifest, path = devnet
    w3 = Web3(Web3.HTTPProvider(anvil.url))
    market = marked_market(w3, manifest, "H100-SXM", 2_500_000, [SELLER, BUYER], 20_000 * USDC)
    return anvil, manifest, path, w3, market


@pytest.fixture
def relay(chain_env, tmp_path):
    """(TestClient of the relay app, its follower, its store) on the module's devnet."""
    anvil, manifest, path, w3, _ = chain_env
    m = Manifest.load(str(path))
    chain = RpcChain.from_manifest(m, anvil.url, head_ttl=0.0)
    store = SqlOrderStore(f"sqlite:///{tmp_path / 'relay.db'}")
    start = int(m.data.get("block", 0))
    app = create_app(RelaySettings(background=False), chain=chain, store=store, fee_bps=5, start_block=start)
    relay = app.state.relay
    follower = EventFollower(chain, store, relay.validator, start, confirmations=0, notify=relay.notify)
    follower.poll_once()  # the deploy's history
    with TestClient(app) as client:
        yield client, follower, store
    store.close()


_nonce = iter(range(1_000, 10**6))


def _post_sell(client, chain_env, qty=10_000):
    anvil, manifest, _, w3, market = chain_env
    acct = Account.from_key(SELLER)
    o = Order(
        acct.address, market["id"], False, qty, 2_490_000, next(_nonce), w3.eth.get_block("latest")["timestamp"] + 3_600
    )
    sig = sign_order(o, acct, domain_separator(manifest["chain_id"], manifest["contracts"]["Exchange"]["address"]))
    r = client.post("/orders", json={**o.as_dict(), "signature": "0x" + sig.hex()})
    assert r.status_code == 201, r.text
    return o, sig, r.json()["hash"]


def _fill(chain_env, o, sig, qty):
    """The buyer takes the order on-chain (Exchange.fill): an OrderFilled the relay must follow."""
    _, manifest, _, w3, _ = chain_env
    return send(w3, contract(w3, manifest, "Exchange").functions.fill(o.as_tuple(), sig, qty), BUYER)


def _status(client, h):
    return client.get(f"/orders/{h}").json()


def _trades(client, chain_env):
    return client.get(f"/markets/{chain_env[4]['id']}/trades").json()


def test_relay_reorg__fill_on_dropped_branch__order_alive_again_no_phantom_trade(relay, chain_env):
    client, follower, _ = relay
    url = chain_env[0].url
    o, sig, h = _post_sell(client, chain_env)
    snap = rpc(url, "evm_snapshot")
    receipt = _fill(chain_env, o, sig, 10_000)
    follower.poll_once()
    assert _status(client, h)["status"] == "filled"
    tx = receipt.transactionHash.to_0x_hex()
    t = next(t for t in _trades(client, chain_env) if t["tx_hash"] == tx)
    assert t["block_hash"] == receipt.blockHash.to_0x_hex()
    # the branch with the fill is dropped; the new branch is longer than the old one
    assert rpc(url, "evm_revert", [snap])
    for _ in range(3):
        rpc(url, "evm_mine")
    follower.poll_once()
    got = _status(client, h)
    assert got["status"] == "open" and got["remaining"] == "10000", got
    assert tx not in {t["tx_hash"] for t in _trades(client, chain_env)}


def test_relay_reorg__cancel_on_dropped_branch__order_alive_again(relay, chain_env):
    client, follower, _ = relay
    _, manifest, _, w3, _ = chain_env
    o, _, h = _post_sell(client, chain_env)
    snap = rpc(w3.provider.endpoint_uri, "evm_snapshot")
    send(w3, contract(w3, manifest, "Exchange").functions.cancel(o.as_tuple()), SELLER)
    follower.poll_once()
    assert _status(client, h)["status"] == "cancelled"
    assert rpc(w3.provider.endpoint_uri, "evm_revert", [snap])
    rpc(w3.provider.endpoint_uri, "evm_mine")  # the new branch is shorter than the old one
    follower.poll_once()
    assert _status(client, h)["status"] == "open"


def test_relay_reorg__fill_on_new_branch_below_old_cursor__recorded(relay, chain_env):
    client, follower, _ = relay
    url = chain_env[0].url
    o, sig, h = _post_sell(client, chain_env)
    snap = rpc(url, "evm_snapshot")
    for _ in range(4):
        rpc(url, "evm_mine")
    follower.poll_once()
    client.get(f"/markets/{chain_env[4]['id']}/book")  # the chain view (and its fill index) reads the old head
    old_cursor = follower.block
    assert rpc(url, "evm_revert", [snap])
    receipt = _fill(chain_env, o, sig, 4_000)  # mined below the old cursor, on the new branch
    assert receipt.blockNumber < old_cursor
    follower.poll_once()
    tx = receipt.transactionHash.to_0x_hex()
    assert tx in {t["tx_hash"] for t in _trades(client, chain_env)}, "the new branch's fill was never read"
    got = _status(client, h)
    assert got["status"] == "open" and got["remaining"] == "6000"


def test_relay_reorg__anvil_reorg_same_height__phantom_trade_removed(relay, chain_env):
    client, follower, store = relay
    url = chain_env[0].url
    o, sig, h = _post_sell(client, chain_env)
    receipt = _fill(chain_env, o, sig, 10_000)
    rpc(url, "evm_mine")
    follower.poll_once()
    height = int(rpc(url, "eth_blockNumber"), 16)
    assert _status(client, h)["status"] == "filled"
    # the last 2 blocks (the fill's and the one after) are replaced by 2 empty ones
    rpc(url, "anvil_reorg", [2, []])
    assert int(rpc(url, "eth_blockNumber"), 16) == height
    assert rpc(url, "eth_getTransactionReceipt", [receipt.transactionHash.to_0x_hex()]) is None
    follower.poll_once()
    assert receipt.transactionHash.to_0x_hex() not in {t["tx_hash"] for t in _trades(client, chain_env)}
    got = _status(client, h)
    assert got["status"] == "open" and got["remaining"] == "10000", got
    # and it keeps following: a fill on the new branch is recorded
    r2 = _fill(chain_env, o, sig, 10_000)
    follower.poll_once()
    assert _status(client, h)["status"] == "filled"
    assert r2.transactionHash.to_0x_hex() in {t["tx_hash"] for t in _trades(client, chain_env)}
    assert store.recent_blocks()[r2.blockNumber][0] == r2.blockHash.to_0x_hex()


def test_relay_reorg__three_block_reorg__recovery_time(relay, chain_env):
    """How long the relay takes to be right again after a 3-block reorg (issue 12's bench figure):
    one follower poll detects it, rolls back, re-reads the dropped orders and replays."""
    import time

    client, follower, _ = relay
    url = chain_env[0].url
    posted = [_post_sell(client, chain_env, qty=1_000) for _ in range(6)]
    receipts = [_fill(chain_env, o, sig, 1_000) for o, sig, _ in posted]  # one block each
    follower.poll_once()
    assert all(_status(client, h)["status"] == "filled" for _, _, h in posted)
    rpc(url, "anvil_reorg", [3, []])
    t0 = time.perf_counter()
    follower.poll_once()
    took = time.perf_counter() - t0
    states = [_status(client, h)["status"] for _, _, h in posted]
    assert states == ["filled"] * 3 + ["open"] * 3, states
    live = {t["tx_hash"] for t in _trades(client, chain_env)}
    assert all(r.transactionHash.to_0x_hex() in live for r in receipts[:3])
    assert not any(r.transactionHash.to_0x_hex() in live for r in receipts[3:])
    assert "cspread_relay_reorgs_total 1.0" in client.get("/metrics").text
    print(f"\nrelay recovery after a 3-block reorg: {took * 1000:.0f} ms (one follower poll)")
    assert took < 10
