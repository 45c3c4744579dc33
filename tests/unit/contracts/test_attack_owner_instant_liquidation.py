"""Attack (issue 16, point 7): the owner liquidates anyone instantly.

The old sequence, literally, with the deployer as the direct owner: in one block the owner
(a) raises a market's maintenance margin, (b) lowers the quorum to 1 with its own key as the
only reporter and submits its own mark, or (c) resolves a (guardian-)disputed mark at a price
of its choosing; then a liquidator it controls takes the trader's position at a penalty.

With the Timelock as owner (scripts/deploy.py off anvil): the owner's direct call reverts;
queued, the call is announced in full (CallQueued, decodable calldata) and cannot run before
eta ("Timelock: not ready"); until then nothing changes, the trader is not liquidatable, and
it closes its position and withdraws its collateral. At eta the change applies to nobody who
left. Numbers: market IM $15 + 25%, MM $10 + 15%, mark $50; the trader holds $30 and is long
1 MWh at $50 (MM $17.50, IM $27.50).
"""

import boa
import pytest
from eth_abi import decode

from tests.utils.contract_helpers import MARK, UNIT, USDC, addr, events, role_reporter, submit_rows
from tests.utils.deployers import Protocol
from tests.utils.timelock import DAY, govern

COLLATERAL = 30 * USDC
# MM raised to $40 + 25% of |mark|: $52.50 per MWh at $50, above the trader's $30
RAISED = dict(
    im_fixed=40 * USDC,
    im_rate_bps=2_500,
    mm_fixed=40 * USDC,
    mm_rate_bps=2_500,
    max_price_age=3_600,
    dispute_window=3_600,
    oi_cap=10**12,
)
# the owner's own mark: at $30 the trader's equity is $10, below MM $10 + 15% x $30 = $14.50
# (solvent, so a liquidator takes part of the position with a penalty)
CRUSHING_MARK = 30 * USDC


def _params(p: dict) -> tuple:
    return tuple(p.values())


@pytest.fixture(scope="module")
def owner_reporter():
    """A reporter key the owner holds."""
    return role_reporter("owner_reporter")


@pytest.fixture
def trader_long(market, funded, fund, book, trader, maker):
    """trader: $30 collateral, long 1 MWh at $50 bought from the maker."""
    fund(trader, COLLATERAL)
    book(trader, maker, market, UNIT, MARK)


def _liquidate(ch, liquidator, trader, mid):
    with boa.env.prank(liquidator.address):
        return ch.liquidate(trader.address, mid, 10**9)


def _exit(protocol, book, trader, maker, mid):
    """What a warned trader does before eta: sell its 1 MWh at the mark, withdraw everything."""
    book(maker, trader, mid, UNIT, MARK)
    with boa.env.prank(trader.address):
        protocol.clearinghouse.withdraw(protocol.clearinghouse.collateral(trader.address))


def _assert_gone_safe(protocol, trader, liquidator, mid):
    ch = protocol.clearinghouse
    assert ch.position(trader.address, mid)[0] == 0
    assert protocol.usdc.balanceOf(trader.address) == COLLATERAL
    with boa.env.prank(liquidator.address), boa.reverts("Clearinghouse: account healthy"):
        ch.liquidate(trader.address, mid, 10**9)


# ---------------------------------------------------------------- the old sequence, direct owner


@pytest.fixture(scope="module")
def direct():
    """A protocol whose deployer stayed the direct owner (what every network had before)."""
    return Protocol.deploy()


def test_direct_owner__raise_mm_then_liquidate__same_block(direct, trader, maker, liquidator):
    mid = direct.list_market("DIRECT_MM")
    direct.set_mark(mid, MARK)
    for who in (maker, liquidator):
        direct.fund(who.address, 10_000 * USDC)
    direct.fund(trader.address, COLLATERAL)
    with boa.env.prank(direct.exchange.address):
        direct.clearinghouse.trade(mid, trader.address, maker.address, UNIT, MARK, 0, 0)
    assert not direct.clearinghouse.is_liquidatable(trader.address)

    with boa.env.prank(direct.owner):
        direct.clearinghouse.set_market_params(mid, _params(RAISED))
    taken = _liquidate(direct.clearinghouse, liquidator, trader, mid)

    assert taken > 0  # the harm this module proves gone under the Timelock


def test_direct_owner__quorum_one_own_price_then_liquidate(direct, trader, maker, liquidator, owner_reporter):
    mid = direct.list_market("DIRECT_QUORUM")
    direct.set_mark(mid, MARK)
    for who in (maker, liquidator):
        direct.fund(who.address, 10_000 * USDC)
    direct.fund(trader.address, COLLATERAL)
    with boa.env.prank(direct.exchange.address):
        direct.clearinghouse.trade(mid, trader.address, maker.address, UNIT, MARK, 0, 0)

    with boa.env.prank(direct.owner):
        direct.oracle.set_reporters([owner_reporter.address], 1)
    boa.env.time_travel(seconds=1)
    submit_rows(direct, [owner_reporter], [direct.feeds[mid][0]], [[CRUSHING_MARK]])
    taken = _liquidate(direct.clearinghouse, liquidator, trader, mid)

    assert taken > 0


def test_direct_owner__resolve_disputed_mark_then_liquidate(direct, trader, maker, liquidator):
    mid = direct.list_market("DIRECT_RESOLVE")
    direct.set_mark(mid, MARK)
    for who in (maker, liquidator):
        direct.fund(who.address, 10_000 * USDC)
    direct.fund(trader.address, COLLATERAL)
    with boa.env.prank(direct.exchange.address):
        direct.clearinghouse.trade(mid, trader.address, maker.address, UNIT, MARK, 0, 0)
    with boa.env.prank(direct.guardian):
        direct.oracle.dispute(direct.feeds[mid][0])

    with boa.env.prank(direct.owner):
        direct.oracle.resolve(direct.feeds[mid][0], CRUSHING_MARK)
        direct.oracle.reopen(direct.feeds[mid][0])
    taken = _liquidate(direct.clearinghouse, liquidator, trader, mid)

    assert taken > 0


# ---------------------------------------------------------------- under the Timelock


@pytest.fixture(scope="module")
def governed_market(protocol):
    """(Governed, market id): a market listed by the deployer, then the Timelock takes over."""
    mid = protocol.list_market("GOVERNED")
    return govern(protocol, DAY), mid


@pytest.fixture(scope="module")
def governed(governed_market):
    return governed_market[0]


@pytest.fixture
def market(governed_market, protocol):
    """The governed market, with a fresh $50 mark (overrides conftest's: listing is owner-only)."""
    boa.env.time_travel(seconds=1)
    protocol.set_mark(governed_market[1], MARK)
    return governed_market[1]


def test_timelock__raise_mm__direct_call_reverts(governed, clearinghouse, market, trader_long, owner, snapshot):
    before = snapshot(contracts=[governed.timelock])

    with boa.env.prank(owner), boa.reverts("ownable: caller is not the owner"):
        clearinghouse.set_market_params(market, _params(RAISED))

    assert snapshot(contracts=[governed.timelock]) == before


def test_timelock__raise_mm__queued_announced_not_applied_trader_exits(
    governed, protocol, clearinghouse, market, trader_long, trader, maker, liquidator, book, snapshot
):
    op = governed.queue(governed.call(clearinghouse, "set_market_params", market, _params(RAISED)))

    (log,) = events(governed.timelock, "CallQueued")
    assert (log.target, log.eta) == (clearinghouse.address, op[3])
    assert decode(["uint256", "(uint256,uint256,uint256,uint256,uint256,uint256,uint256)"], log.data[4:]) == (
        market,
        _params(RAISED),
    )
    # same block: margin unchanged, the liquidator gets nothing, the owner cannot hurry it
    assert clearinghouse.market(market)[12] == 1_500  # mm_rate_bps
    before = snapshot(contracts=[governed.timelock])
    with boa.env.prank(liquidator.address), boa.reverts("Clearinghouse: account healthy"):
        clearinghouse.liquidate(trader.address, market, 10**9)
    with boa.env.prank(governed.admin), boa.reverts("Timelock: not ready"):
        governed.timelock.execute(*op)
    governed.warp_to(op[3] - 1)
    with boa.env.prank(governed.admin), boa.reverts("Timelock: not ready"):
        governed.timelock.execute(*op)
    assert snapshot(contracts=[governed.timelock]) == before

    protocol.set_mark(market, MARK)  # marks keep flowing during the notice period
    _exit(protocol, book, trader, maker, market)
    governed.warp_to(op[3])
    governed.execute(op)

    assert clearinghouse.market(market)[12] == 2_500  # the raise applies, after the delay
    _assert_gone_safe(protocol, trader, liquidator, market)


def test_timelock__quorum_one__direct_call_and_own_price_revert(
    governed, protocol, oracle, market, trader_long, owner, owner_reporter, snapshot
):
    before = snapshot(contracts=[governed.timelock])

    with boa.env.prank(owner), boa.reverts("ownable: caller is not the owner"):
        oracle.set_reporters([owner_reporter.address], 1)
    boa.env.time_travel(seconds=1)
    with boa.reverts("Oracle: below quorum"):
        submit_rows(protocol, [owner_reporter], [protocol.feeds[market][0]], [[CRUSHING_MARK]])

    assert snapshot(contracts=[governed.timelock]) == before


def test_timelock__quorum_one__queued_announced_not_applied_trader_exits(
    governed, protocol, oracle, market, trader_long, trader, maker, liquidator, owner_reporter, book, snapshot
):
    op = governed.queue(governed.call(oracle, "set_reporters", [owner_reporter.address], 1))

    (log,) = events(governed.timelock, "CallQueued")
    (reporters_, quorum_) = decode(["address[]", "uint256"], log.data[4:])
    assert ([addr(r) for r in reporters_], quorum_) == ([owner_reporter.address], 1)
    before = snapshot(contracts=[governed.timelock])
    with boa.env.prank(governed.admin), boa.reverts("Timelock: not ready"):
        governed.timelock.execute(*op)
    boa.env.time_travel(seconds=1)
    with boa.reverts("Oracle: below quorum"):
        submit_rows(protocol, [owner_reporter], [protocol.feeds[market][0]], [[CRUSHING_MARK]])
    with boa.env.prank(liquidator.address), boa.reverts("Clearinghouse: account healthy"):
        protocol.clearinghouse.liquidate(trader.address, market, 10**9)
    assert snapshot(contracts=[governed.timelock]) == before
    assert oracle.quorum() == 2

    _exit(protocol, book, trader, maker, market)
    governed.warp_to(op[3])
    governed.execute(op)
    submit_rows(protocol, [owner_reporter], [protocol.feeds[market][0]], [[CRUSHING_MARK]])

    assert oracle.price(protocol.feeds[market][0])[0] == CRUSHING_MARK  # the owner's price, too late
    _assert_gone_safe(protocol, trader, liquidator, market)


def test_timelock__resolve__direct_call_reverts(
    governed, protocol, oracle, market, trader_long, owner, guardian, snapshot
):
    feed = protocol.feeds[market][0]
    with boa.env.prank(guardian):
        oracle.dispute(feed)  # the guardian's dispute stays immediate
    before = snapshot(contracts=[governed.timelock])

    with boa.env.prank(owner), boa.reverts("ownable: caller is not the owner"):
        oracle.resolve(feed, CRUSHING_MARK)

    assert snapshot(contracts=[governed.timelock]) == before
    assert oracle.feed(feed)[3]  # still disputed


def test_timelock__resolve__queued_announced_not_applied_trader_exits(
    governed, protocol, oracle, market, trader_long, trader, maker, liquidator, guardian, book, snapshot
):
    feed = protocol.feeds[market][0]
    with boa.env.prank(guardian):
        oracle.dispute(feed)
    op = governed.queue(governed.call(oracle, "resolve", feed, CRUSHING_MARK))

    (log,) = events(governed.timelock, "CallQueued")
    assert decode(["bytes32", "int256"], log.data[4:]) == (feed, CRUSHING_MARK)
    before = snapshot(contracts=[governed.timelock], feeds=[feed])
    with boa.env.prank(governed.admin), boa.reverts("Timelock: not ready"):
        governed.timelock.execute(*op)
    assert snapshot(contracts=[governed.timelock], feeds=[feed]) == before
    assert oracle.price(feed)[0] == MARK

    # a disputed mark still lets the trader reduce (at the last mark) and then leave
    _exit(protocol, book, trader, maker, market)
    governed.warp_to(op[3])
    governed.execute(op)

    assert oracle.price(feed)[0] == CRUSHING_MARK
    _assert_gone_safe(protocol, trader, liquidator, market)
