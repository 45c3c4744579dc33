"""Issue 12 point 5 on a real anvil: chain time jumps between blocks (`evm_increaseTime`: the
next block carries the jump, the latest block does not). An order that would be expired by
the time it can first be filled is refused, whatever the cached head says."""

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
from relay.orders import Order, domain_separator, sign_order
from tests.utils.plain_web3 import marked_market

pytestmark = pytest.mark.integration
USDC = 10**6


def test_relay_expiry__time_jump_before_next_block__refused(devnet, tmp_path):
    anvil, manifest, path = devnet
    w3 = Web3(Web3.HTTPProvider(anvil.url))
    market = marked_market(w3, manifest, "H100-SXM", 2_500_000, [ANVIL_KEYS[5]], 20_000 * USDC)
    chain = RpcChain.from_manifest(Manifest.load(str(path)), anvil.url, head_ttl=60.0)  # a very stale head
    app = create_app(
        RelaySettings(background=False, database_url=f"sqlite:///{tmp_path / 'r.db'}"),
        chain=chain,
        fee_bps=5,
        start_block=0,
    )
    acct = Account.from_key(ANVIL_KEYS[5])
    sep = domain_separator(manifest["chain_id"], manifest["contracts"]["Exchange"]["address"])

    def post(expiry, nonce):
        o = Order(acct.address, market["id"], True, 10_000, 2_000_000, nonce, expiry)
        return client.post("/orders", json={**o.as_dict(), "signature": "0x" + sign_order(o, acct, sep).hex()})

    with TestClient(app) as client:
        latest = w3.eth.get_block("latest")["timestamp"]
        assert post(latest + 600, 1).status_code == 201  # caches the head for 60 s
        rpc(anvil.url, "evm_increaseTime", [900])  # the next block will be >= 900 s later
        assert w3.eth.get_block("latest")["timestamp"] == latest  # the latest block has not moved
        r = post(latest + 600, 2)
        assert r.status_code == 400 and r.json()["code"] == "expired", r.text
        assert chain.pending_time() >= latest + 900
        assert post(latest + 900 + 600, 3).status_code == 201
