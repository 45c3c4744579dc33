"""Plain web3 + eth_account helpers for the integration tests that must trade with nothing of
ours in between (no SDK, no keeper code; only the pinned typed data from core.eip712): contracts from the manifest, a sent-and-mined tx, an
oracle mark signed by every reporter, a funded account."""

from __future__ import annotations

from eth_account import Account
from eth_account.messages import encode_typed_data

from core import eip712
from devnet.anvil import ANVIL_KEYS

DOMAIN_TYPES = eip712.DOMAIN_FIELDS


def contract(w3, manifest, name):
    c = manifest["contracts"][name]
    return w3.eth.contract(address=c["address"], abi=c["abi"])


def send(w3, fn, key):
    acct = Account.from_key(key)
    tx = fn.build_transaction({"from": acct.address, "nonce": w3.eth.get_transaction_count(acct.address)})
    signed = acct.sign_transaction(tx)
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(signed.raw_transaction))
    assert receipt.status == 1
    return receipt


def push_mark(w3, manifest, market, price):
    oracle = contract(w3, manifest, "Oracle")
    now = w3.eth.get_block("latest")["timestamp"]
    feed = bytes.fromhex(market["mark_feed"][2:])
    td = eip712.report_typed_data([feed], [price], now, manifest["chain_id"], oracle.address)
    # every reporter signs, as the pusher sends every row: with only a quorum the Oracle's
    # circuit breaker would clamp a move beyond the feed's per-hour jump limit; signed through
    # eth_account's generic typed-data encoder (independent of core's hand-built digest)
    sigs = [Account.from_key(key).sign_message(encode_typed_data(full_message=td)).signature for key in ANVIL_KEYS[1:4]]
    send(w3, oracle.functions.submit([feed], now, [[price]] * len(sigs), sigs), ANVIL_KEYS[0])


def fund(w3, manifest, key, amount):
    usdc, ch = contract(w3, manifest, "MockUSDC"), contract(w3, manifest, "Clearinghouse")
    addr = Account.from_key(key).address
    send(w3, usdc.functions.mint(addr, amount), key)
    send(w3, usdc.functions.approve(ch.address, amount), key)
    send(w3, ch.functions.deposit(amount), key)


def marked_market(w3, manifest, symbol_prefix: str, mark: int, funded: list[str], amount: int) -> dict:
    """The manifest market whose symbol starts with `symbol_prefix`, its mark pushed to `mark`,
    and each key in `funded` holding `amount` of collateral deposited."""
    market = next(m for m in manifest["markets"] if m["symbol"].startswith(symbol_prefix))
    push_mark(w3, manifest, market, mark)
    for key in funded:
        fund(w3, manifest, key, amount)
    return market
