"""Helpers for the contract unit tests (tests/unit/contracts): role accounts, hand-computed
margin, independent EIP-712 digests and state snapshots for "a revert changes nothing".

Units as in DESIGN.md: prices in USDC base units per 1 unit (6 dp, may be negative),
quantities in thousandths of a unit.
"""

from __future__ import annotations

import itertools

import boa
from boa.util.abi import Address
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak

from core import eip712
from core import margin as core_margin
from tests.utils.deployers import CONTRACTS, USDC, Protocol, Reporter, Trader

MOCK_1271_WALLET = boa.load_partial(str(CONTRACTS / "testing" / "Mock1271Wallet.vy"))
MOCK_FAILING_TOKEN = boa.load_partial(str(CONTRACTS / "testing" / "MockFailingToken.vy"))

# the default market's mark, $50/MWh
MARK = 50 * USDC
# 1 MWh (or 1 GPU-hour) in thousandths
UNIT = 1_000
# collateral each funded trading actor starts with
FUNDING = 10_000 * USDC
BPS = 10_000

# margin and timing parameters out of bounds, as both list_market and set_market_params refuse them
MARKET_PARAM_REJECTIONS = [
    (dict(mm_fixed=0, mm_rate_bps=0), "Clearinghouse: zero margin"),
    (dict(mm_fixed=15 * USDC + 1), "Clearinghouse: MM above IM"),
    (dict(mm_rate_bps=2_501), "Clearinghouse: MM above IM"),
    (dict(im_rate_bps=10_001), "Clearinghouse: rate above 100%"),
    (dict(max_price_age=59), "Clearinghouse: bad max price age"),
    (dict(max_price_age=7 * 86_400 + 1), "Clearinghouse: bad max price age"),
    (dict(dispute_window=7 * 86_400 + 1), "Clearinghouse: bad dispute window"),
    (dict(dispute_window=599), "Clearinghouse: bad dispute window"),
    (dict(dispute_window=0), "Clearinghouse: bad dispute window"),
    (dict(oi_cap=0), "Clearinghouse: bad OI cap"),
    # the cap lives in the risk word's top 62 bits (issue 10)
    (dict(oi_cap=2**62), "Clearinghouse: bad OI cap"),
]

# the typed data is core.eip712's (defined once); digests here go through eth_account's generic
# encoder, an implementation independent of core's hand-built one
DOMAIN_TYPE = eip712.DOMAIN_FIELDS
ORDER_KEYS = [f["name"] for f in eip712.ORDER_FIELDS]

_nonces = itertools.count(1_000)


def role_account(role: str):
    """A deterministic key per role, so failures reproduce."""
    return Account.from_key(keccak(text=f"compute-spread/unit/{role}"))


def role_trader(role: str) -> Trader:
    return Trader(role_account(role))


def role_reporter(role: str) -> Reporter:
    return Reporter(role_account(role))


def next_nonce() -> int:
    return next(_nonces)


def now() -> int:
    return boa.env.evm.patch.timestamp


def addr(x) -> str:
    """Checksummed address of a Trader, Reporter, contract or address string."""
    return str(Address(getattr(x, "address", x)))


# one market's margin |q| * (fixed + rate * |mark|) / 1000, rounded up: core's rule, itself
# pinned to the contract's margin_requirements on random states (tests/unit/core)
ceil_div, margin = core_margin.ceil_div, core_margin.margin


def typed_digest(td: dict) -> bytes:
    sm = encode_typed_data(full_message=td)
    return keccak(b"\x19" + sm.version + sm.header + sm.body)


def order_typed_data(order: tuple, chain_id: int, exchange: str) -> dict:
    return {
        "types": eip712.ORDER_TYPES,
        "primaryType": "Order",
        "domain": eip712.domain(eip712.ORDER_DOMAIN_NAME, chain_id, addr(exchange)),
        "message": dict(zip(ORDER_KEYS, order, strict=False)),
    }


def report_typed_data(feed_ids, prices, observed_at: int, chain_id: int, oracle: str) -> dict:
    """Unchecked (tests sign rows the Oracle must refuse)."""
    return {
        "types": eip712.REPORT_TYPES,
        "primaryType": "Report",
        "domain": eip712.domain(eip712.REPORT_DOMAIN_NAME, chain_id, addr(oracle)),
        "message": {"feed_ids": list(feed_ids), "prices": list(prices), "observed_at": observed_at},
    }


def sign_order(signer, order: tuple, chain_id: int, exchange) -> bytes:
    """Sign `order` with `signer` (eth_account account or Trader) under any domain."""
    account = getattr(signer, "account", signer)
    return account.sign_message(encode_typed_data(full_message=order_typed_data(order, chain_id, exchange))).signature


def sign_report(signer, feed_ids, prices, observed_at: int, chain_id: int, oracle) -> bytes:
    account = getattr(signer, "account", signer)
    td = report_typed_data(feed_ids, prices, observed_at, chain_id, oracle)
    return account.sign_message(encode_typed_data(full_message=td)).signature


# ---------------------------------------------------------------- state snapshots


class State:
    """Everything a revert must leave untouched.

    `storage`: every non-zero storage slot ever written in the given contracts (from boa's
    SSTORE trace, so nothing is missed, snekmate module storage included); `eth`: ether
    balances; `views`: the same state read through the public views, for readable diffs
    (token balances, collateral, positions, open markets, market states, pools, feeds,
    order fills and cancels, min nonces).
    """

    def __init__(self, storage: dict, eth: dict, views: dict):
        self.storage, self.eth, self.views = storage, eth, views

    def __eq__(self, other):
        return (self.views, self.eth, self.storage) == (other.views, other.eth, other.storage)

    def __repr__(self):
        return f"State(views={self.views!r}, eth={self.eth!r}, storage={self.storage!r})"


def raw_storage(contracts) -> dict:
    out = {}
    for c in contracts:
        key = Address(addr(c))
        for slot in boa.env.sstore_trace.get(key, set()):
            v = boa.env.get_storage(key, slot)
            if v:
                out[(str(key), slot)] = v
    return out


def take_state(protocol: Protocol, accounts=(), orders=(), feeds=(), contracts=()) -> State:
    ch, ex, oracle, usdc = protocol.clearinghouse, protocol.exchange, protocol.oracle, protocol.usdc
    accounts = list(dict.fromkeys(addr(a) for a in (*accounts, protocol.owner, protocol.guardian)))
    all_contracts = [usdc, oracle, ch, ex, *contracts]
    markets = range(1, ch.market_count() + 1)
    feed_ids = list(dict.fromkeys([f for pair in protocol.feeds.values() for f in pair] + list(feeds)))
    hashes = [ex.order_hash(o) for o in orders]
    views = {
        "usdc": {a: usdc.balanceOf(a) for a in accounts + [addr(ch)]},
        "collateral": {a: ch.collateral(a) for a in accounts},
        "positions": {(a, m): ch.position(a, m) for a in accounts for m in markets},
        "open_markets": {a: tuple(ch.open_markets(a)) for a in accounts},
        "market_states": {m: ch.market_state(m) for m in markets},
        "pools": {"insurance_fund": ch.insurance_fund(), "bad_debt": ch.bad_debt(), "fees": ch.fees()},
        "feeds": {f: oracle.feed(f) for f in feed_ids},
        "orders": {h: (ex.filled(h), ex.cancelled(h)) for h in hashes},
        "min_nonce": {a: ex.min_nonce(a) for a in accounts},
        "bond_claims": {a: oracle.bond_claims(a) for a in accounts},
    }
    eth = {a: boa.env.get_balance(a) for a in accounts + [addr(c) for c in all_contracts]}
    return State(raw_storage(all_contracts), eth, views)


def report_bundle(protocol: Protocol, reporters, feed_ids, rows, observed_at: int):
    """Signatures of `rows[i]` by `reporters[i]` under the protocol Oracle's domain."""
    return [
        sign_report(r, feed_ids, row, observed_at, protocol.chain_id, protocol.oracle)
        for r, row in zip(reporters, rows, strict=False)
    ]


def submit_rows(protocol: Protocol, reporters, feed_ids, rows, observed_at: int | None = None, sender=None):
    """Each reporter signs its own row; `sender` (default: a relayer) submits the bundle."""
    observed_at = now() if observed_at is None else observed_at
    sigs = report_bundle(protocol, reporters, feed_ids, rows, observed_at)
    with boa.env.prank(sender or boa.env.generate_address("relayer")):
        protocol.oracle.submit(list(feed_ids), observed_at, [list(r) for r in rows], sigs)


def events(contract, name: str) -> list:
    """Events called `name` in the last transaction sent to `contract` (call right after it)."""
    return [e for e in contract.get_logs() if type(e).__name__ == name]


def order_digest_of(order: tuple, chain_id: int, exchange) -> bytes:
    """The EIP-712 digest of an order, computed with eth_account (independent of the contract)."""
    return typed_digest(order_typed_data(order, chain_id, exchange))
