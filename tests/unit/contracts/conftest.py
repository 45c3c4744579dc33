"""Shared fixtures for the contract unit tests (titanoboa).

Deploys are module-scoped (one protocol per test file, compiled once per process by
tests/utils/deployers.py) and every test runs inside `boa.env.anchor()`, so a test sees its
module's setup and leaves nothing behind. Actors are named by role.
"""

from __future__ import annotations

import boa
import pytest

from tests.utils.contract_helpers import (
    FUNDING,
    MARK,
    MOCK_FAILING_TOKEN,
    UNIT,
    USDC,
    next_nonce,
    role_account,
    role_reporter,
    role_trader,
    take_state,
)
from tests.utils.deployers import CLEARINGHOUSE, EXCHANGE, ORACLE, ZERO_ADDRESS, Protocol


@pytest.fixture(autouse=True)
def _anchor():
    with boa.env.anchor():
        yield


# ---------------------------------------------------------------- protocol and roles


@pytest.fixture(scope="module")
def protocol():
    """Oracle (3 reporters, quorum 2), Clearinghouse, Exchange (no fees), MockUSDC."""
    return Protocol.deploy()


def _part_of_protocol(name: str):
    @pytest.fixture(scope="module", name=name)
    def part(protocol):
        return getattr(protocol, name)

    return part


def _role(name: str):
    @pytest.fixture(scope="module", name=name)
    def role():
        return role_trader(name)

    return role


oracle, clearinghouse, exchange, usdc = (_part_of_protocol(n) for n in ("oracle", "clearinghouse", "exchange", "usdc"))
owner, guardian, reporters = (_part_of_protocol(n) for n in ("owner", "guardian", "reporters"))
# funded-able traders: `trader` is the account whose margin, liquidation or settlement a test is
# about; `keeper` is anyone (a bot that relays, matches, finalises or settles)
maker, taker, trader, liquidator, keeper = (_role(n) for n in ("maker", "taker", "trader", "liquidator", "keeper"))


@pytest.fixture(scope="module")
def clearinghouse_view(protocol):
    return protocol.view


def _address(name: str):
    @pytest.fixture(scope="module", name=name)
    def address():
        return boa.env.generate_address(name)

    return address


# plain addresses (no collateral): a caller without rights, and the parties of token transfers
non_owner, holder, spender, recipient = (_address(n) for n in ("non_owner", "holder", "spender", "recipient"))


@pytest.fixture(scope="module")
def snapshot(protocol, maker, taker, trader, liquidator, keeper, non_owner):
    """`snapshot(*extra_accounts, orders=(), feeds=(), contracts=())` -> State (compare with ==)."""

    def take(*extra, orders=(), feeds=(), contracts=()):
        accounts = (maker, taker, trader, liquidator, keeper, non_owner, *extra)
        return take_state(protocol, accounts, orders=orders, feeds=feeds, contracts=contracts)

    return take


# ---------------------------------------------------------------- markets, prices, money


@pytest.fixture
def market(protocol):
    """A power-like market (1 kWh step, 1 cent tick, IM $15 + 25%, MM $10 + 15%), marked at $50."""
    mid = protocol.list_market("POWER")
    protocol.set_mark(mid, MARK)
    return mid


@pytest.fixture
def funded(protocol, maker, taker, liquidator):
    """maker, taker and liquidator each hold FUNDING collateral."""
    for who in (maker, taker, liquidator):
        protocol.fund(who.address, FUNDING)


@pytest.fixture(scope="module")
def fund(protocol):
    """`fund(who, amount)`: mint, approve and deposit collateral for `who`."""

    def _fund(who, amount):
        protocol.fund(getattr(who, "address", who), amount)

    return _fund


@pytest.fixture(scope="module")
def set_mark(protocol):
    """Push a new mark one second later (the oracle needs a strictly newer observation)."""

    def _set(mid, price):
        boa.env.time_travel(seconds=1)
        protocol.set_mark(mid, price)

    return _set


@pytest.fixture(scope="module")
def book(protocol):
    """Book a trade straight into the Clearinghouse, calling as the Exchange does."""

    def _book(buyer, seller, mid, quantity, price, buyer_fee=0, seller_fee=0):
        with boa.env.prank(protocol.exchange.address):
            protocol.clearinghouse.trade(
                mid,
                getattr(buyer, "address", buyer),
                getattr(seller, "address", seller),
                quantity,
                price,
                buyer_fee,
                seller_fee,
            )

    return _book


@pytest.fixture(scope="module")
def signed_order(protocol):
    """`signed_order(who, mid, is_buy, qty, price, nonce=, expiry=, reduce_only=)` -> (order, sig)."""

    def _make(who, mid, is_buy, quantity, price, nonce=None, expiry=None, reduce_only=False):
        nonce = next_nonce() if nonce is None else nonce
        o = protocol.order(who, mid, is_buy, quantity, price, nonce, expiry, reduce_only)
        return o, protocol.sign_order(who, o)

    return _make


@pytest.fixture(scope="module")
def failing_protocol():
    """Oracle, Clearinghouse and Exchange on a collateral token that can return False."""
    boa.env.evm.patch.chain_id = 31337
    owner = boa.env.generate_address("owner")
    guardian = boa.env.generate_address("guardian")
    with boa.env.prank(owner):
        token = MOCK_FAILING_TOKEN.deploy()
        oracle = ORACLE.deploy([role_account("reporter").address], 1, guardian)
        ch = CLEARINGHOUSE.deploy(token.address, oracle.address, guardian, ZERO_ADDRESS)
        ex = EXCHANGE.deploy(ch.address, 0, 0)
        ch.set_exchange(ex.address)
    return Protocol(owner, guardian, [role_reporter("reporter")], token, oracle, ch, ex)


@pytest.fixture(scope="module")
def failing_snapshot(failing_protocol, maker, taker, trader, keeper):
    """`failing_snapshot(*extra_accounts)` -> State of the failing-token protocol."""

    def take(*extra):
        return take_state(failing_protocol, (maker, taker, trader, keeper, *extra))

    return take


# ---------------------------------------------------------------- the Timelock


@pytest.fixture(scope="module")
def governed(protocol):
    """The module's protocol owned by a Timelock (one-day delay) that its former owner administers."""
    from tests.utils.timelock import DAY, govern  # compiles Timelock.vy: only for the modules that use it

    return govern(protocol, DAY)


@pytest.fixture(scope="module")
def timelock(governed):
    return governed.timelock


@pytest.fixture
def fee_op(governed, exchange):
    """Exchange.set_fees(3, 6), queued for the earliest eta."""
    return governed.queue(governed.call(exchange, "set_fees", 3, 6))


# ---------------------------------------------------------------- liquidation scenarios


@pytest.fixture
def second_market(protocol):
    mid = protocol.list_market("SECOND")
    protocol.set_mark(mid, MARK)
    return mid


@pytest.fixture
def insolvent(market, second_market, set_mark, funded, fund, book, trader, maker):
    """trader: $60, long 1 MWh in each market at $50; market 1 marks -$20: equity -$10."""
    fund(trader, 60 * USDC)
    book(trader, maker, market, UNIT, MARK)
    book(trader, maker, second_market, UNIT, MARK)
    set_mark(market, -20 * USDC)
    set_mark(second_market, MARK)


@pytest.fixture
def insurance(usdc, clearinghouse, keeper):
    def _fund(amount):
        usdc.mint(keeper.address, amount)
        with boa.env.prank(keeper.address):
            usdc.approve(clearinghouse.address, amount)
            clearinghouse.fund_insurance(amount)

    return _fund


@pytest.fixture
def book_two(market, second_market, funded, fund, book, set_mark, trader, maker):
    """trader ($1,000): long 0.333 MWh at $45.23 in market 1, short 0.777 at -$12.34 in market 2;
    marks then $47.123457 and -$13.000001."""
    fund(trader, 1_000 * USDC)
    book(trader, maker, market, 333, 45_230_000)  # open notional 15.06159
    book(maker, trader, second_market, 777, -12_340_000)  # open notional +9.58818 (received)
    set_mark(market, 47_123_457)
    set_mark(second_market, -13_000_001)
