"""Contract wallets through the relay: real Safe 1.4.1 contracts on a real anvil, real deploy,
the relay as its own process with the matching loop on.

The relay checks a Safe's order with an `eth_call` to the Safe's EIP-1271 `isValidSignature`
(from the Exchange's address, as the Exchange calls it) when it is posted, again right before
it is matched and on every re-validation; a refusal is a 400 naming the Safe's reason.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from web3 import Web3

from devnet.anvil import ANVIL_KEYS
from relay.chainview import RpcChain
from relay.follower import Revalidator
from relay.orders import MAX_SIGNATURE_LENGTH, Order, domain_separator, sign_order
from relay.relay import personal_digest
from relay.store import SqlOrderStore, StoredOrder
from relay.validation import OrderValidator
from scripts._keepers_env import wait_until
from tests.utils.plain_web3 import contract, marked_market
from tests.utils.safe import SafeWeb3, new_owners, prev_owner

pytestmark = pytest.mark.integration
USDC = 10**6
QTY = 10_000  # 10 GPU-hours


@pytest.fixture(scope="module")
def stack(devnet, start_relay):
    anvil, manifest, _ = devnet
    w3 = Web3(Web3.HTTPProvider(anvil.url))
    market = marked_market(w3, manifest, "H100-SXM", 2_500_000, ANVIL_KEYS[5:8], 20_000 * USDC)
    safes = SafeWeb3(w3, ANVIL_KEYS[0])
    # periodic re-validation off: a revoked order must be caught by the matcher's own re-check
    relay = start_relay(match_key=ANVIL_KEYS[9], extra_env={"CSPREAD_RELAY_REVALIDATE_INTERVAL": "3600"})
    return w3, manifest, market, relay, safes


def _funded_safe(stack, owners, threshold):
    w3, manifest, _, _, safes = stack
    usdc, ch = contract(w3, manifest, "MockUSDC"), contract(w3, manifest, "Clearinghouse")
    safe = safes.create(owners, threshold)
    amount = 20_000 * USDC
    safes._mine({"to": usdc.address, "data": usdc.functions.mint(safe.address, amount)._encode_transaction_data()})
    signers = owners[:threshold]
    safes.execute(safe, usdc.address, usdc.functions.approve(ch.address, amount)._encode_transaction_data(), signers)
    safes.execute(safe, ch.address, ch.functions.deposit(amount)._encode_transaction_data(), signers)
    assert ch.functions.collateral(safe.address).call() == amount
    return safe


@pytest.fixture(scope="module")
def owners():
    return new_owners(3)


@pytest.fixture(scope="module")
def safe(stack, owners):
    """A funded 2-of-3 Safe."""
    return _funded_safe(stack, owners, 2)


def _order(stack, trader: str, is_buy: bool, price: int, nonce: int, qty: int = QTY) -> tuple[Order, bytes]:
    w3, manifest, market, _, _ = stack
    o = Order(trader, market["id"], is_buy, qty, price, nonce, w3.eth.get_block("latest")["timestamp"] + 3_600)
    return o, o.digest(domain_separator(manifest["chain_id"], manifest["contracts"]["Exchange"]["address"]))


def _post(relay, o: Order, sig: bytes):
    return httpx.post(relay.url + "/orders", json={**o.as_dict(), "signature": "0x" + sig.hex()})


def _post_eoa(stack, key, is_buy, price, nonce):
    _, manifest, _, relay, _ = stack
    o, _ = _order(stack, Account.from_key(key).address, is_buy, price, nonce)
    sep = domain_separator(manifest["chain_id"], manifest["contracts"]["Exchange"]["address"])
    r = _post(relay, o, sign_order(o, Account.from_key(key), sep))
    assert r.status_code == 201, r.text
    return r.json()["hash"]


def _position(stack, who):
    w3, manifest, market, _, _ = stack
    return contract(w3, manifest, "Clearinghouse").functions.position(who, market["id"]).call()


def test_exchange_bound__equals_relay_bound(stack):
    w3, manifest, _, _, _ = stack
    assert contract(w3, manifest, "Exchange").functions.MAX_SIGNATURE_LENGTH().call() == MAX_SIGNATURE_LENGTH


def test_relay__safe_2of3_order__accepted_and_matched_at_maker_price(stack, safe, owners):
    _, _, market, relay, safes = stack
    before = _position(stack, safe.address)
    o, digest = _order(stack, safe.address, False, 2_490_000, 1)
    sig = safes.message_signatures(safe, digest, owners[1:])
    assert len(sig) == 130
    r = _post(relay, o, sig)
    assert r.status_code == 201, r.text
    maker_hash = r.json()["hash"]

    _post_eoa(stack, ANVIL_KEYS[5], True, 2_510_000, 1)

    wait_until(lambda: _position(stack, safe.address)[0] == before[0] - QTY, what="the match on-chain")
    assert _position(stack, safe.address)[1] == before[1] - 24_900_000  # at the Safe's (maker's) $2.49
    wait_until(lambda: httpx.get(f"{relay.url}/orders/{maker_hash}").json()["status"] == "filled", what="filled")


def test_relay__safe_order_approved_on_chain__empty_signature_accepted_and_matched(stack, safe, owners):
    _, _, market, relay, safes = stack
    before = _position(stack, safe.address)
    maker = _post_eoa(stack, ANVIL_KEYS[6], False, 2_480_000, 2)
    o, digest = _order(stack, safe.address, True, 2_520_000, 2)
    safes.approve_on_chain(safe, digest, owners[:2])

    r = _post(relay, o, b"")
    assert r.status_code == 201, r.text

    wait_until(lambda: _position(stack, safe.address)[0] == before[0] + QTY, what="the match on-chain")
    wait_until(lambda: httpx.get(f"{relay.url}/orders/{maker}").json()["status"] == "filled", what="filled")


@pytest.mark.parametrize(
    "who, words",
    [
        ("one_owner", "GS020"),
        ("owner_and_stranger", "GS026"),
        ("strangers", "GS026"),
        ("empty_not_approved", "Hash not approved"),
    ],
)
def test_relay__safe_order_badly_signed__400_names_safe_reason(stack, safe, owners, who, words):
    _, _, _, relay, safes = stack
    o, digest = _order(stack, safe.address, True, 2_000_000, 100 + len(who))
    signers = {
        "one_owner": owners[:1],
        "owner_and_stranger": [owners[0], *new_owners(1)],
        "strangers": new_owners(2),
        "empty_not_approved": [],
    }[who]
    r = _post(relay, o, safes.message_signatures(safe, digest, signers) if signers else b"")

    assert r.status_code == 400, r.text
    assert r.json()["code"] == "bad_signature"
    assert words in r.json()["detail"] and safe.address in r.json()["detail"]
    assert httpx.get(f"{relay.url}/orders/0x{digest.hex()}").status_code == 404


def test_relay__safe_revokes_before_match__order_dropped_nothing_sent(stack, owners):
    _, _, _, relay, safes = stack
    own = new_owners(3)
    revoking = _funded_safe(stack, own, 2)
    o, digest = _order(stack, revoking.address, True, 2_300_000, 1)
    r = _post(relay, o, safes.message_signatures(revoking, digest, own[:2]))
    assert r.status_code == 201, r.text
    h = r.json()["hash"]
    # the Safe raises its threshold to 3: the resting 2-signature order is no longer signed
    safes.execute(revoking, revoking.address, revoking.functions.changeThreshold(3)._encode_transaction_data(), own[:2])

    ask = _post_eoa(stack, ANVIL_KEYS[7], False, 2_300_000, 3)

    got = wait_until(lambda: (x := httpx.get(f"{relay.url}/orders/{h}").json())["status"] != "open" and x, what="drop")
    assert got["status"] == "rejected" and "no longer accepted" in got["reason"] and "GS020" in got["reason"]
    # the matcher had its chance: its pass over the crossing pair re-checked the Safe and skipped it
    assert f"match skipped market={o.market_id}: [('{h}'" in Path(relay.log_path).read_text()
    # so nothing was sent: the Safe has no position and the ask, with nobody left to cross it, rests
    assert _position(stack, revoking.address) == [0, 0]
    assert httpx.get(f"{relay.url}/orders/{ask}").json()["status"] == "open"
    acct = Account.from_key(ANVIL_KEYS[7])
    sig = acct.sign_message(encode_defunct(text=f"cancel:{ask}")).signature.hex()
    assert (
        httpx.delete(f"{relay.url}/orders/{ask}", headers={"X-Signature": "0x" + sig.removeprefix("0x")}).json()[
            "status"
        ]
        == "cancelled"
    )


def test_relay__safe_cancels_in_relay_with_owner_signatures(stack, safe, owners):
    _, _, _, relay, safes = stack
    o, digest = _order(stack, safe.address, True, 2_000_000, 7)
    h = _post(relay, o, safes.message_signatures(safe, digest, owners[:2])).json()["hash"]
    cancel_digest = personal_digest(f"cancel:{h}")

    one = safes.message_signatures(safe, cancel_digest, owners[:1])
    r = httpx.delete(f"{relay.url}/orders/{h}", headers={"X-Signature": "0x" + one.hex()})
    assert r.status_code == 403 and r.json()["code"] == "bad_cancel_signature"

    two = safes.message_signatures(safe, cancel_digest, owners[1:])
    r = httpx.delete(f"{relay.url}/orders/{h}", headers={"X-Signature": "0x" + two.hex()})
    assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text


def test_revalidator__safe_swaps_out_signer__resting_order_rejected(stack, tmp_path):
    # the periodic re-validation (here run in-process against the same anvil) asks the Safe
    # again: a resting order whose signer was swapped out is dropped with the Safe's reason
    w3, manifest, _, _, safes = stack
    own = new_owners(3)
    s = _funded_safe(stack, own, 2)
    o, digest = _order(stack, s.address, True, 2_000_000, 1)
    chain = RpcChain(
        w3.provider.endpoint_uri,
        manifest["chain_id"],
        manifest["contracts"]["Exchange"]["address"],
        manifest["contracts"]["Clearinghouse"]["address"],
        head_ttl=0,
        clearinghouse_view=manifest["contracts"]["ClearinghouseView"]["address"],
    )
    store = SqlOrderStore(f"sqlite:///{tmp_path / 'relay.db'}")
    validator = OrderValidator(chain, store, domain_separator(manifest["chain_id"], chain.exchange))
    sig = safes.message_signatures(s, digest, own[:2])
    h, remaining = validator.check(o, sig)
    store.add(StoredOrder(h, o, sig, remaining=remaining))
    assert Revalidator(store, validator).run_once() == {}
    assert store.get(h).status == "open"

    prev = prev_owner(s.functions.getOwners().call(), own[0].address)
    safes.execute(
        s,
        s.address,
        s.functions.swapOwner(prev, own[0].address, new_owners(1)[0].address)._encode_transaction_data(),
        own[1:],
    )

    assert Revalidator(store, validator).run_once() == {"rejected": 1}
    dead = store.get(h)
    assert dead.status == "rejected" and dead.reason.startswith("signature no longer accepted")
    assert "GS026" in dead.reason
    store.close()
