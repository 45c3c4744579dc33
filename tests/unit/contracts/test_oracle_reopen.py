"""Oracle.reopen: the owner lets reporters update a resolved (final) feed again.

Regression: `resolve` made any feed final for good, so a dispute of a *mark* feed (free for the
guardian, 0.1 ETH for anyone) froze that market's mark forever: once stale, nobody holding the
market could withdraw, be liquidated or add risk until settlement."""

import boa
import pytest

from tests.utils.contract_helpers import MARK, UNIT, USDC, events, now


@pytest.fixture
def frozen_mark(protocol, market, funded, book, guardian, owner, maker, taker):
    """taker long 1 MWh; the mark feed was disputed and resolved (final) at $50."""
    book(taker, maker, market, UNIT, MARK)
    mark_feed = protocol.feeds[market][0]
    with boa.env.prank(guardian):
        protocol.oracle.dispute(mark_feed)
    with boa.env.prank(owner):
        protocol.oracle.resolve(mark_feed, MARK)
    return mark_feed


def test_reopen__final_mark_feed__market_marks_fresh_again(
    protocol, clearinghouse, market, frozen_mark, owner, taker, snapshot
):
    boa.env.time_travel(seconds=3_601)
    assert clearinghouse.mark(market)[2] is False
    before = snapshot()
    with boa.env.prank(taker.address), boa.reverts("Clearinghouse: stale mark"):
        clearinghouse.withdraw(1)
    with boa.reverts("Oracle: feed disputed or final"):
        protocol.set_mark(market, 51 * USDC)
    assert snapshot() == before

    with boa.env.prank(owner):
        protocol.oracle.reopen(frozen_mark)
    (log,) = events(protocol.oracle, "Reopened")
    protocol.set_mark(market, 51 * USDC)

    assert log.feed_id == frozen_mark
    assert clearinghouse.mark(market) == (51 * USDC, now(), True)
    with boa.env.prank(taker.address):
        clearinghouse.withdraw(1)


def test_reopen__final_feed__keeps_value_until_newer_report(protocol, oracle, market, frozen_mark, owner, snapshot):
    price, observed_at, updated_at, _, _ = oracle.feed(frozen_mark)
    with boa.env.prank(owner):
        oracle.reopen(frozen_mark)

    assert oracle.feed(frozen_mark) == (price, observed_at, updated_at, False, False)
    before = snapshot()
    with boa.reverts("Oracle: not newer"):
        protocol.push([frozen_mark], [1], observed_at)
    assert snapshot() == before


def test_reopen__reopened_feed__can_be_disputed_again(oracle, frozen_mark, owner, guardian):
    with boa.env.prank(owner):
        oracle.reopen(frozen_mark)
    with boa.env.prank(guardian):
        oracle.dispute(frozen_mark)

    assert oracle.feed(frozen_mark)[3] is True


def test_reopen__never_disputed__reverts(protocol, oracle, market, owner, snapshot):
    before = snapshot()

    with boa.env.prank(owner), boa.reverts("Oracle: not final"):
        oracle.reopen(protocol.feeds[market][0])

    assert snapshot() == before


def test_reopen__disputed_not_resolved__reverts(protocol, oracle, market, owner, guardian, snapshot):
    with boa.env.prank(guardian):
        oracle.dispute(protocol.feeds[market][0])
    before = snapshot()

    with boa.env.prank(owner), boa.reverts("Oracle: not final"):
        oracle.reopen(protocol.feeds[market][0])

    assert snapshot() == before


def test_reopen__non_owner__reverts(oracle, frozen_mark, guardian, snapshot):
    before = snapshot()

    with boa.env.prank(guardian), boa.reverts("ownable: caller is not the owner"):
        oracle.reopen(frozen_mark)

    assert snapshot() == before
