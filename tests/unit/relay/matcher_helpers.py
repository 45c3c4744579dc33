"""Relay unit fixtures: a FakeChain (ChainView without a node), a store, signed-order helpers."""

from __future__ import annotations

import itertools

import pytest
from eth_account import Account

from relay.chainview import AccountInfo, MarketInfo
from relay.orders import Order, domain_separator, sign_order

CHAIN_ID = 31337
EXCHANGE = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
NOW = 1_800_000_000
USDC = 10**6


class FakeChain:
    """Chain state as plain dicts; `remaining` honours filled/cancelled/expiry/min nonce."""

    chain_id = CHAIN_ID
    exchange = EXCHANGE

    def __init__(self):
        self.now = NOW
        self.next_block_jump = 0
        self.markets = {
            1: MarketInfo(1, NOW + 86_400, 100, 1_000, 1_000, 400_000, 1_500, False, False, 2_500_000, NOW, True)
        }
        self.accounts: dict[str, AccountInfo] = {}
        self.min_nonces: dict[str, int] = {}
        self.filled: dict[str, int] = {}
        self.cancelled_: set[str] = set()
        self.positions: dict[tuple[str, int], int] = {}

    def head(self):
        return 1, self.now

    def pending_time(self):
        # the next block's time, which may be far past the last block's (anvil time offset)
        return self.now + 1 + self.next_block_jump

    def market(self, market_id):
        return self.markets.get(market_id)

    def account(self, trader):
        return self.accounts.get(trader, AccountInfo(10_000 * USDC, 10_000 * USDC, 0, 0, True, 0))

    def min_nonce(self, trader):
        return self.min_nonces.get(trader, 0)

    def position(self, trader, market_id):
        return self.positions.get((trader, market_id), 0)

    def remaining(self, order, order_hash):
        if order_hash in self.cancelled_ or order.expiry < self.now or order.nonce < self.min_nonce(order.trader):
            return 0
        return max(0, order.quantity - self.filled.get(order_hash, 0))

    def cancelled(self, order_hash):
        return order_hash in self.cancelled_

    def has_code(self, address):
        return False  # every trader here is a key; contract wallets: tests/integration/test_relay_safe.py

    def wallet_refusal(self, wallet, digest, signature):
        raise AssertionError("FakeChain has no contract wallets")


SEP = domain_separator(CHAIN_ID, EXCHANGE)
_nonces = itertools.count(1)


def make_order(
    acct, *, market_id=1, is_buy=True, quantity=10_000, price=2_500_000, nonce=None, expiry=None, reduce_only=False
) -> Order:
    return Order(
        acct.address,
        market_id,
        is_buy,
        quantity,
        price,
        next(_nonces) if nonce is None else nonce,
        NOW + 3_600 if expiry is None else expiry,
        reduce_only,
    )


def wire(order: Order, acct, separator: bytes = SEP) -> dict:
    sig = sign_order(order, acct, separator)
    return {**order.as_dict(), "signature": "0x" + sig.hex()}


@pytest.fixture
def chain():
    return FakeChain()


@pytest.fixture(scope="session")
def traders():
    return [Account.from_key(bytes([i + 1]) * 32) for i in range(4)]
