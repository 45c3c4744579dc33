"""Pool.withdraw and Pool.redeem: leave at NAV (rounded down), within free collateral."""

import boa

from tests.unit.contracts.pool_fixtures import *  # noqa: F403  (fixtures)
from tests.unit.contracts.pool_fixtures import GPU_MARK
from tests.utils.deployers import USDC


def test_redeem__no_positions__pays_back_deposit(protocol, pool, alice, join):
    shares = join(alice, 1_000 * USDC)
    before = protocol.usdc.balanceOf(alice.address)

    with boa.env.prank(alice.address):
        assets = pool.redeem(shares, alice.address, alice.address)

    assert assets == 1_000 * USDC
    assert protocol.usdc.balanceOf(alice.address) == before + 1_000 * USDC
    assert pool.totalSupply() == 0
    assert protocol.clearinghouse.collateral(pool.address) == 0


def test_redeem__after_loss__pays_nav_share_rounded_down(protocol, pool, gpu, alice, bob, join, hedged, mark):
    bob_shares = join(bob, 10_000 * USDC)
    mark(gpu, GPU_MARK + 50_000)  # short 10,000 GPU-h: -$500 for the pool
    expect = pool.previewRedeem(bob_shares)
    alice_value = pool.convertToAssets(pool.balanceOf(alice.address))

    with boa.env.prank(bob.address):
        assets = pool.redeem(bob_shares, bob.address, bob.address)

    assert assets == expect
    assert assets < 10_000 * USDC
    # bob bore his share of the loss: 10/60 of $500
    assert abs(assets - (10_000 * USDC - 500 * USDC * 10 // 60)) <= 2
    assert pool.convertToAssets(pool.balanceOf(alice.address)) >= alice_value


def test_withdraw__exact_assets__burns_rounded_up(protocol, pool, gpu, alice, bob, join, hedged, mark):
    join(bob, 10_000 * USDC)
    mark(gpu, GPU_MARK - 3_000)
    want = 4_321 * USDC + 7
    burn = pool.previewWithdraw(want)
    shares_before = pool.balanceOf(bob.address)

    with boa.env.prank(bob.address):
        shares = pool.withdraw(want, bob.address, bob.address)

    assert shares == burn
    assert pool.balanceOf(bob.address) == shares_before - burn
    assert pool.convertToAssets(burn) >= want - 1


def test_redeem__by_approved_spender__spends_allowance(protocol, pool, alice, bob, join):
    shares = join(alice, 1_000 * USDC)
    with boa.env.prank(alice.address):
        pool.approve(bob.address, shares)
    with boa.env.prank(bob.address):
        pool.redeem(shares, bob.address, alice.address)
    assert pool.allowance(alice.address, bob.address) == 0


def test_redeem__without_allowance__reverts(pool, alice, bob, join, pool_state):
    shares = join(alice, 1_000 * USDC)
    before = pool_state()
    with boa.env.prank(bob.address), boa.reverts():
        pool.redeem(shares, bob.address, alice.address)
    assert pool_state() == before


def test_redeem__beyond_free_collateral__reverts(pool, alice, hedged, pool_state):
    # IM $7,000 at a 50% cap needs $14,000 of equity: $36,000 is free, $50,000 is not
    shares = pool.balanceOf(alice.address)
    with boa.env.prank(alice.address):
        pool.declare_capacity(b"\0" * 32, b"\0" * 32, 0, 0)
    before = pool_state()
    with boa.env.prank(alice.address), boa.reverts("Pool: beyond free collateral"):
        pool.redeem(shares, alice.address, alice.address)
    assert pool_state() == before
    assert pool.free_collateral() == 36_000 * USDC
    assert pool.maxWithdraw(alice.address) == 36_000 * USDC


def test_redeem__below_declared_capacity_cover__reverts(pool, alice, hedged, declare, pool_state):
    # 400 GPUs need $40,000 kept in; $10,001 out is within free collateral but not within cover
    declare(alice, 400)
    shares = pool.previewWithdraw(10_001 * USDC)
    before = pool_state()
    with boa.env.prank(alice.address), boa.reverts("Pool: capacity needs collateral"):
        pool.redeem(shares, alice.address, alice.address)
    assert pool_state() == before


def test_redeem__zero__reverts(pool, alice, join, pool_state):
    join(alice, 1_000 * USDC)
    before = pool_state()
    with boa.env.prank(alice.address), boa.reverts("Pool: zero assets"):
        pool.redeem(0, alice.address, alice.address)
    assert pool_state() == before


def test_withdraw__zero__reverts(pool, alice, join, pool_state):
    join(alice, 1_000 * USDC)
    before = pool_state()
    with boa.env.prank(alice.address), boa.reverts("Pool: zero assets"):
        pool.withdraw(0, alice.address, alice.address)
    assert pool_state() == before


def test_redeem__stale_mark__reverts(pool, alice, hedged, pool_state):
    boa.env.time_travel(seconds=3_601)
    before = pool_state()
    with boa.env.prank(alice.address), boa.reverts("Pool: stale mark"):
        pool.redeem(USDC, alice.address, alice.address)
    assert pool_state() == before
    assert pool.maxRedeem(alice.address) == 0


def test_withdraw__settlement_pending__reverts(protocol, pool, gpu, alice, hedged, pool_state):
    boa.env.evm.patch.timestamp = protocol.clearinghouse.market(gpu).last_trade_time
    protocol.set_mark(gpu, GPU_MARK)
    before = pool_state()
    with boa.env.prank(alice.address), boa.reverts("Pool: settlement pending"):
        pool.withdraw(USDC, alice.address, alice.address)
    assert pool_state() == before
