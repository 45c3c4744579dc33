"""Deploy to a real anvil, then trade with nothing of ours in between.

One order is signed with plain eth_account typed-data signing and one with foundry's `cast
wallet sign --data` (a signer that is not ours); both are filled with plain web3 and the
positions read back.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from web3 import Web3

from core import abi, eip712
from devnet.anvil import ANVIL_KEYS, ROOT
from tests.utils.plain_web3 import contract, fund, push_mark, send

pytestmark = pytest.mark.integration

ORDER_TYPES = eip712.ORDER_FIELDS


def _typed_order(manifest, order):
    return {
        "types": eip712.ORDER_TYPES,
        "primaryType": "Order",
        "domain": eip712.domain(
            eip712.ORDER_DOMAIN_NAME, manifest["chain_id"], manifest["contracts"]["Exchange"]["address"]
        ),
        "message": order,
    }


def test_deploy__manifest__has_contracts_roles_and_default_markets(devnet):
    anvil, manifest, path = devnet
    assert manifest["chain_id"] == 31337
    for name in ("Oracle", "Clearinghouse", "Exchange", "MockUSDC"):
        assert Web3.is_checksum_address(manifest["contracts"][name]["address"])
        assert manifest["contracts"][name]["abi"]
    assert manifest["roles"]["quorum"] == 2 and len(manifest["roles"]["reporters"]) == 3
    kinds = [m["kind"] for m in manifest["markets"]]
    assert kinds.count("POWER") == 4 and kinds.count("COMPUTE") == 2 and kinds.count("SPREAD") == 1
    w3 = Web3(Web3.HTTPProvider(anvil.url))
    ch = contract(w3, manifest, "Clearinghouse")
    for m in manifest["markets"]:
        onchain = abi.Market.decode(ch.functions.market(m["id"]).call())
        assert "0x" + onchain.spec_hash.hex() == m["spec_hash"]
        assert "0x" + onchain.mark_feed.hex() == m["mark_feed"]


def test_fill__eth_account_signed_order__both_positions_read_back(devnet):
    anvil, manifest, _ = devnet
    w3 = Web3(Web3.HTTPProvider(anvil.url))
    ex, ch = contract(w3, manifest, "Exchange"), contract(w3, manifest, "Clearinghouse")
    market = next(m for m in manifest["markets"] if m["symbol"].startswith("H100-SXM"))
    push_mark(w3, manifest, market, 2_500_000)  # $2.50 per GPU-hour
    maker_key, taker_key = ANVIL_KEYS[5], ANVIL_KEYS[6]
    fund(w3, manifest, maker_key, 10_000 * 10**6)
    fund(w3, manifest, taker_key, 10_000 * 10**6)
    maker = Account.from_key(maker_key)
    order = {
        "trader": maker.address,
        "market_id": market["id"],
        "is_buy": True,
        "quantity": 100_000,
        "price": 2_480_000,
        "nonce": 1,
        "expiry": w3.eth.get_block("latest")["timestamp"] + 3600,
        "reduce_only": False,
    }
    sig = maker.sign_message(encode_typed_data(full_message=_typed_order(manifest, order))).signature
    order_tuple = tuple(order.values())
    send(w3, ex.functions.fill(order_tuple, sig, 100_000), taker_key)

    taker = Account.from_key(taker_key).address
    assert ch.functions.position(maker.address, market["id"]).call() == [100_000, 248_000_000]
    assert ch.functions.position(taker, market["id"]).call() == [-100_000, -248_000_000]
    assert ex.functions.filled(ex.functions.order_hash(order_tuple).call()).call() == 100_000


@pytest.mark.skipif(
    not (ROOT / "node_modules/.bin/cast").exists() and not shutil.which("cast"),
    reason="cast (npm @foundry-rs/cast) not installed",
)
def test_fill__cast_wallet_signed_order__accepted(devnet, tmp_path):
    anvil, manifest, _ = devnet
    w3 = Web3(Web3.HTTPProvider(anvil.url))
    ex, ch = contract(w3, manifest, "Exchange"), contract(w3, manifest, "Clearinghouse")
    market = next(m for m in manifest["markets"] if m["symbol"].startswith("ERCOT.HB_WEST.DA.PEAK"))
    push_mark(w3, manifest, market, -12_340_000)  # negative power price
    maker_key, taker_key = ANVIL_KEYS[7], ANVIL_KEYS[8]
    fund(w3, manifest, maker_key, 50_000 * 10**6)
    fund(w3, manifest, taker_key, 50_000 * 10**6)
    maker = Account.from_key(maker_key).address
    order = {
        "trader": maker,
        "market_id": market["id"],
        "is_buy": False,
        "quantity": 2_500,
        "price": -12_340_000,
        "nonce": 42,
        "expiry": w3.eth.get_block("latest")["timestamp"] + 3600,
        "reduce_only": False,
    }
    td = _typed_order(
        manifest, {k: (str(v) if isinstance(v, int) and not isinstance(v, bool) else v) for k, v in order.items()}
    )
    path = tmp_path / "order.json"
    path.write_text(json.dumps(td))
    cast = str(ROOT / "node_modules/.bin/cast") if (ROOT / "node_modules/.bin/cast").exists() else "cast"
    sig = subprocess.check_output(
        [cast, "wallet", "sign", "--private-key", maker_key, "--data", "--from-file", str(path)], text=True
    ).strip()
    send(w3, ex.functions.fill(tuple(order.values()), bytes.fromhex(sig[2:]), 2_500), taker_key)
    taker = Account.from_key(taker_key).address
    # sold 2.5 MWh at -$12.34: the seller *pays* 30.85 USD of notional (open notional +30.85)
    assert ch.functions.position(maker, market["id"]).call() == [-2_500, 30_850_000]
    assert ch.functions.position(taker, market["id"]).call() == [2_500, -30_850_000]


def test_deploy__aggregator_per_feed__reads_latest_round(devnet):
    anvil, manifest, _ = devnet
    w3 = Web3(Web3.HTTPProvider(anvil.url))
    abi = manifest["contracts"]["FeedAggregator"]["abi"]
    market = next(m for m in manifest["markets"] if m["symbol"].startswith("B200"))
    agg = w3.eth.contract(address=market["aggregators"]["mark"], abi=abi)
    assert agg.functions.description().call() == f"{market['symbol']} mark, USD/GPU-hour"
    assert agg.functions.decimals().call() == 6
    push_mark(w3, manifest, market, 5_670_000)
    rid, answer, started, updated, answered = agg.functions.latestRoundData().call()
    assert answer == 5_670_000 and rid == started == answered
