"""Pool.deposit (join at NAV, rounded in the pool's favour) and Pool.mint."""

import boa

from tests.unit.contracts.pool_fixtures import *  # noqa: F403  (fixtures)
from tests.unit.contracts.pool_fixtures import GPU_MARK, MEMBER_FUNDS
from tests.utils.deployers import USDC


def test_deposit__first_member__shares_at_virtual_price_and_collateral_in_clearinghouse(protocol, pool, alice, join):
    shares = join(alice, 1_000 * USDC)

    # 10**6 virtual shares per virtual base unit: 1 base unit buys 10**6 shares
    assert shares == 1_000 * USDC * 10**6
    assert pool.balanceOf(alice.address) == shares
    assert protocol.clearinghouse.collateral(pool.address) == 1_000 * USDC
    assert protocol.usdc.balanceOf(pool.address) == 0
    assert pool.totalAssets() == 1_000 * USDC
    assert protocol.usdc.balanceOf(alice.address) == MEMBER_FUNDS - 1_000 * USDC


def test_deposit__second_member_after_profit__pays_nav_and_moves_nobody(
    protocol, pool, gpu, alice, bob, join, hedged, mark
):
    mark(gpu, GPU_MARK - 100_000)  # the pool is short: +$1,000
    alice_before = pool.convertToAssets(pool.balanceOf(alice.address))

    shares = join(bob, 10_000 * USDC)

    assert pool.convertToAssets(shares) <= 10_000 * USDC
    assert pool.convertToAssets(shares) >= 10_000 * USDC - 2
    assert pool.convertToAssets(pool.balanceOf(alice.address)) >= alice_before


def test_deposit__zero__reverts(pool, alice, pool_state):
    before = pool_state()
    with boa.env.prank(alice.address), boa.reverts("Pool: zero shares"):
        pool.deposit(0, alice.address)
    assert pool_state() == before


def test_deposit__zero_receiver__reverts(pool, alice, pool_state):
    before = pool_state()
    with boa.env.prank(alice.address), boa.reverts("Pool: zero receiver"):
        pool.deposit(USDC, "0x0000000000000000000000000000000000000000")
    assert pool_state() == before


def test_deposit__stale_mark__reverts(pool, alice, hedged, join, pool_state):
    boa.env.time_travel(seconds=3_601)
    before = pool_state()
    with boa.env.prank(alice.address), boa.reverts("Pool: stale mark"):
        pool.deposit(USDC, alice.address)
    assert pool_state() == before
    assert pool.maxDeposit(alice.address) == 0


def test_deposit__held_market_past_last_trade__reverts(protocol, pool, gpu, alice, hedged, pool_state):
    boa.env.evm.patch.timestamp = protocol.clearinghouse.market(gpu).last_trade_time
    protocol.set_mark(gpu, GPU_MARK)
    before = pool_state()
    with boa.env.prank(alice.address), boa.reverts("Pool: settlement pending"):
        pool.deposit(USDC, alice.address)
    assert pool_state() == before


def test_deposit__no_allowance__reverts(pool, pool_state):
    stranger = boa.env.generate_address("stranger")
    before = pool_state(stranger)
    with boa.env.prank(stranger), boa.reverts():
        pool.deposit(USDC, stranger)
    assert pool_state(stranger) == before


def test_mint__exact_shares__pays_rounded_up(protocol, pool, gpu, alice, bob, hedged, mark):
    mark(gpu, GPU_MARK - 7_000)
    want = 123_456_789_012
    cost = pool.previewMint(want)
    paid_before = protocol.usdc.balanceOf(bob.address)

    with boa.env.prank(bob.address):
        assets = pool.mint(want, bob.address)

    assert assets == cost
    assert pool.balanceOf(bob.address) == want
    assert protocol.usdc.balanceOf(bob.address) == paid_before - cost
    # what bob can get back now is never more than he paid
    assert pool.previewRedeem(want) <= cost


def test_mint__zero__reverts(pool, bob, pool_state):
    before = pool_state()
    with boa.env.prank(bob.address), boa.reverts("Pool: zero shares"):
        pool.mint(0, bob.address)
    assert pool_state() == before
