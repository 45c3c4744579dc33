"""Oracle.set_feed: a feed's accepted median range; unconfigured feeds take no reports."""

import boa
import pytest

from tests.utils.contract_helpers import USDC, submit_rows
from tests.utils.deployers import feed_id

FEED = feed_id("SET_FEED/MARK")
LIMIT = 2**63 - 1  # bounds are packed as int64


def test_set_feed__owner__stores_bounds(oracle, owner):
    with boa.env.prank(owner):
        oracle.set_feed(FEED, -500 * USDC, 9_000 * USDC)

    (log,) = oracle.get_logs()
    assert (log.feed_id, log.min_price, log.max_price) == (FEED, -500 * USDC, 9_000 * USDC)
    assert oracle.bounds(FEED) == (-500 * USDC, 9_000 * USDC)


@pytest.mark.parametrize("lo, hi", [(-LIMIT, LIMIT), (-LIMIT, -LIMIT + 1), (LIMIT - 1, LIMIT), (-1, 0)])
def test_set_feed__extreme_bounds__round_trip(oracle, owner, lo, hi):
    with boa.env.prank(owner):
        oracle.set_feed(FEED, lo, hi)

    assert oracle.bounds(FEED) == (lo, hi)


def test_set_feed__configured__reports_accepted(protocol, oracle, owner, reporters):
    with boa.env.prank(owner):
        oracle.set_feed(FEED, -LIMIT, LIMIT)
    submit_rows(protocol, reporters[:2], [FEED], [[-LIMIT], [-LIMIT]])

    assert oracle.price(FEED)[0] == -LIMIT


def test_set_feed__narrowed_bounds__apply_to_next_report(protocol, oracle, owner, reporters, snapshot):
    with boa.env.prank(owner):
        oracle.set_feed(FEED, 0, 100)
    submit_rows(protocol, reporters[:2], [FEED], [[100], [100]])
    with boa.env.prank(owner):
        oracle.set_feed(FEED, 0, 50)
    boa.env.time_travel(seconds=1)
    before = snapshot(feeds=[FEED])

    with boa.reverts("Oracle: no agreement"):
        submit_rows(protocol, reporters[:2], [FEED], [[100], [100]])

    assert snapshot(feeds=[FEED]) == before
    assert oracle.price(FEED)[0] == 100


@pytest.mark.parametrize("lo, hi", [(5, 5), (6, 5), (0, 0)])
def test_set_feed__min_not_below_max__reverts(oracle, owner, snapshot, lo, hi):
    before = snapshot(feeds=[FEED])

    with boa.env.prank(owner), boa.reverts("Oracle: bad bounds"):
        oracle.set_feed(FEED, lo, hi)

    assert snapshot(feeds=[FEED]) == before
    assert oracle.bounds(FEED) == (0, 0)


@pytest.mark.parametrize("lo, hi", [(-LIMIT - 1, 0), (0, LIMIT + 1), (-(2**255), 2**255 - 1)])
def test_set_feed__bounds_beyond_int64__reverts(oracle, owner, snapshot, lo, hi):
    before = snapshot(feeds=[FEED])

    with boa.env.prank(owner), boa.reverts("Oracle: bounds beyond int64"):
        oracle.set_feed(FEED, lo, hi)

    assert snapshot(feeds=[FEED]) == before


def test_set_feed__non_owner__reverts(oracle, non_owner, snapshot):
    before = snapshot(feeds=[FEED])

    with boa.env.prank(non_owner), boa.reverts("ownable: caller is not the owner"):
        oracle.set_feed(FEED, 0, 1)

    assert snapshot(feeds=[FEED]) == before
