"""Fixtures shared by the Pool tests (tests/unit/contracts/test_pool_*.py and test_attack_pool_*.py).

Imported by name into each pool test module (with the module-level `protocol` of conftest.py).
The world: an H100 compute market (1 GPU-hour unit, mark $2.00, IM $0.20 + 25%, MM $0.10 + 15%),
a Pool with the default limits (hedge <= 80% of committed hours, IM <= 50% of equity, slippage
$1 + 2% of |mark|, $100 of collateral per declared GPU) that allows that market with 720
GPU-hours (one 30-day month) per committed GPU; `alice` and `bob` are members, `taker` a funded
counterparty. Units: base units of USDC (6 dp), quantities in thousandths.
"""

from __future__ import annotations

import boa
import pytest

from tests.utils.contract_helpers import next_nonce, role_trader, take_state
from tests.utils.deployers import POOL_LIMITS, USDC, allow_pool_market, deploy_pool

H100 = b"H100-SXM".ljust(32, b"\0")
WEST = b"HB_WEST".ljust(32, b"\0")
EAST = b"HB_EAST".ljust(32, b"\0")
GPU_MARK = 2 * USDC
HOURS = 720
UNITS_PER_GPU = HOURS * 1_000
MEMBER_FUNDS = 100_000 * USDC
MAGIC = bytes.fromhex("1626ba7e")
INVALID = bytes.fromhex("ffffffff")


def gpu_market_params():
    return dict(
        price_tick=1_000,
        im_fixed=200_000,
        im_rate_bps=2_500,
        mm_fixed=100_000,
        mm_rate_bps=1_500,
    )


@pytest.fixture(scope="module")
def pool_owner():
    return boa.env.generate_address("pool-owner")


@pytest.fixture(scope="module")
def manager():
    return boa.env.generate_address("pool-manager")


@pytest.fixture(scope="module")
def alice():
    return role_trader("alice")


@pytest.fixture(scope="module")
def bob():
    return role_trader("bob")


@pytest.fixture(scope="module")
def gpu(protocol):
    """The H100 market id, listed at module scope (marks are pushed per test)."""
    return protocol.list_market("H100", **gpu_market_params())


@pytest.fixture(scope="module")
def pool(protocol, gpu, pool_owner, manager, alice, bob, taker):
    p = deploy_pool(protocol, pool_owner, manager)
    allow_pool_market(p, pool_owner, gpu, p.capacity_key(H100, WEST), UNITS_PER_GPU)
    for m in (alice, bob):
        protocol.usdc.mint(m.address, MEMBER_FUNDS)
        with boa.env.prank(m.address):
            protocol.usdc.approve(p.address, 2**256 - 1)
    protocol.fund(taker.address, 1_000_000 * USDC)
    protocol.set_mark(gpu, GPU_MARK)
    return p


@pytest.fixture(scope="module")
def mark(protocol):
    """`mark(market_id, price)`: a new mark one second later."""

    def _set(mid, price):
        boa.env.time_travel(seconds=1)
        protocol.set_mark(mid, price)

    return _set


@pytest.fixture(scope="module")
def join(protocol, pool):
    def _join(member, assets):
        with boa.env.prank(member.address):
            return pool.deposit(assets, member.address)

    return _join


@pytest.fixture(scope="module")
def declare(pool):
    def _declare(member, count, commit_bps=10_000, gpu_class=H100, node=WEST):
        with boa.env.prank(member.address):
            pool.declare_capacity(gpu_class, node, count, commit_bps)

    return _declare


@pytest.fixture(scope="module")
def pool_order(pool):
    """`pool_order(mid, is_buy, qty, price, expiry=None, nonce=None)` -> the pool's order tuple."""

    def _order(mid, is_buy, quantity, price, expiry=None, nonce=None, reduce_only=False):
        expiry = boa.env.evm.patch.timestamp + 3_600 if expiry is None else expiry
        nonce = next_nonce() if nonce is None else nonce
        return (pool.address, mid, is_buy, quantity, price, nonce, expiry, reduce_only)

    return _order


@pytest.fixture(scope="module")
def approve(pool, manager):
    def _approve(order):
        with boa.env.prank(manager):
            return pool.approve_order(order)

    return _approve


@pytest.fixture(scope="module")
def fill(protocol, taker):
    """The taker fills `quantity` of a pool order (the pool is the maker)."""

    def _fill(order, quantity=None):
        with boa.env.prank(taker.address):
            protocol.exchange.fill(order, b"", order[3] if quantity is None else quantity)

    return _fill


@pytest.fixture
def hedged(pool, gpu, alice, join, declare, pool_order, approve, fill):
    """alice: $50,000 in, 100 H100s at HB_WEST fully committed; the pool is short 10,000
    GPU-hours at $2.00 (cap 57,600; IM $7,000 of $50,000 equity)."""
    join(alice, 50_000 * USDC)
    declare(alice, 100)
    o = pool_order(gpu, False, 10_000_000, GPU_MARK)
    approve(o)
    fill(o)
    return o


@pytest.fixture(scope="module")
def pool_state(protocol, pool, alice, bob, taker, manager, pool_owner):
    """`pool_state(*extra, orders=())` -> State over the protocol and the pool's storage."""

    def take(*extra, orders=()):
        return take_state(
            protocol, (pool, alice, bob, taker, manager, pool_owner, *extra), orders=orders, contracts=[pool]
        )

    return take


__all__ = [
    "pool_owner",
    "manager",
    "alice",
    "bob",
    "gpu",
    "pool",
    "mark",
    "join",
    "declare",
    "pool_order",
    "approve",
    "fill",
    "hedged",
    "pool_state",
    "POOL_LIMITS",
]
