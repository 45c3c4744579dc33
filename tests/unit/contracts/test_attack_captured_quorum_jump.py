"""Attack (issue 16 #2, circuit breaker): a quorum of keys (2 of 3) moves a mark at will.

Before, two keys could set any mark in one update. Now, unless every registered reporter's
row agrees, a value moves at most max(jump_floor, jump_bps * |stored|) per hour of
observation time (pro rata for a shorter gap): a bigger move is clamped toward the reported
value (event `Clamped`), so marks stay live through a real spike with a reporter down, and a
captured quorum submitting every minute walks a mark only at that rate.
"""

import boa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.utils.contract_helpers import USDC, events, now, submit_rows
from tests.utils.deployers import feed_id

FEED = feed_id("ATTACK/JUMP/MARK")
JUMP_FLOOR, JUMP_BPS = 20 * USDC, 5_000  # $20 or 50 % of |mark| per hour
HOUR = 3_600


def allowed(old: int, dt: int) -> int:
    return max(JUMP_FLOOR, JUMP_BPS * abs(old) // 10_000) * min(dt, HOUR) // HOUR


@pytest.fixture(scope="module", autouse=True)
def configured(protocol, owner):
    with boa.env.prank(owner):
        protocol.oracle.set_feed(FEED, -10_000 * USDC, 100_000 * USDC)
        protocol.oracle.set_feed_limits(FEED, 50_000, 50, JUMP_FLOOR, JUMP_BPS)


@pytest.fixture
def marked(protocol, reporters):
    """$50, reported by all three a minute ago."""
    submit_rows(protocol, reporters, [FEED], [[50 * USDC]] * 3, now() - 60)


def test_attack__captured_quorum_sets_5000__clamped_to_the_limit(protocol, oracle, reporters, marked):
    submit_rows(protocol, reporters[:2], [FEED], [[5_000 * USDC]] * 2)

    stored = 50 * USDC + allowed(50 * USDC, 60)
    (log,) = events(oracle, "Clamped")
    assert (log.feed_id, log.reported, log.stored) == (FEED, 5_000 * USDC, stored)
    assert oracle.price(FEED) == (stored, now())
    assert stored == 50_416_666  # $25/h for one minute


def test_attack__captured_quorum_walks_every_minute_for_an_hour__bounded_by_the_rate(
    protocol, oracle, reporters, marked
):
    expect = 50 * USDC
    for _ in range(60):
        boa.env.time_travel(seconds=60)
        dt = now() - oracle.price(FEED)[1]
        submit_rows(protocol, reporters[:2], [FEED], [[5_000 * USDC]] * 2)
        expect += allowed(expect, dt)
        assert oracle.price(FEED)[0] == expect
    # an hour of walking: about +65 % (50 %/h compounding per minute), not x100
    assert expect < 83 * USDC


def test_attack__captured_quorum_crashes_mark__clamped_downward(protocol, oracle, reporters, marked):
    submit_rows(protocol, reporters[1:], [FEED], [[-9_000 * USDC]] * 2)

    assert oracle.price(FEED)[0] == 50 * USDC - allowed(50 * USDC, 60)


def test_breaker__every_reporter_signs__real_spike_stored_at_once(protocol, oracle, reporters, marked):
    submit_rows(protocol, reporters, [FEED], [[5_000 * USDC]] * 3)

    assert oracle.price(FEED)[0] == 5_000 * USDC
    assert events(oracle, "Clamped") == []


def test_breaker__every_reporter_but_one_disagrees__clamped(protocol, oracle, reporters, marked):
    # all three rows sent, but only two agree: that is not "every reporter"
    submit_rows(protocol, reporters, [FEED], [[5_000 * USDC], [5_000 * USDC], [50 * USDC]])

    assert oracle.price(FEED)[0] == 50 * USDC + allowed(50 * USDC, 60)


def test_breaker__move_within_limit__stored_unclamped(protocol, oracle, reporters, marked):
    boa.env.time_travel(seconds=HOUR)
    submit_rows(protocol, reporters[:2], [FEED], [[74 * USDC]] * 2)

    assert oracle.price(FEED)[0] == 74 * USDC


def test_breaker__gap_longer_than_an_hour__limit_caps_at_one_hour(protocol, oracle, reporters):
    submit_rows(protocol, reporters, [FEED], [[50 * USDC]] * 3, now() - 3_600)
    boa.env.time_travel(seconds=3 * HOUR)  # stale for hours: still one hour's limit
    submit_rows(protocol, reporters[:2], [FEED], [[500 * USDC]] * 2)

    assert oracle.price(FEED)[0] == 75 * USDC


def test_breaker__reporter_down_during_real_spike__mark_converges(protocol, oracle, reporters, marked):
    # a real x10 move with one reporter down: the mark follows at the limit's pace, stays
    # fresh (observed_at advances) and reaches the price within a few hours
    hours = 0
    while oracle.price(FEED)[0] != 500 * USDC:
        boa.env.time_travel(seconds=HOUR)
        submit_rows(protocol, reporters[:2], [FEED], [[500 * USDC]] * 2)
        assert oracle.price(FEED)[1] == now()
        hours += 1
    assert hours == 6  # 50 -> 75 -> 112.5 -> 168.75 -> 253.1 -> 379.7 -> 500


def test_breaker__no_limit_configured__moves_freely(protocol, oracle, owner, reporters, marked):
    with boa.env.prank(owner):
        oracle.set_feed_limits(FEED, 50_000, 50, 0, 0)
    submit_rows(protocol, reporters[:2], [FEED], [[5_000 * USDC]] * 2)

    assert oracle.price(FEED)[0] == 5_000 * USDC


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    old=st.integers(min_value=-1_000 * USDC, max_value=10_000 * USDC),
    new=st.integers(min_value=-10_000 * USDC, max_value=100_000 * USDC),
    dt=st.integers(min_value=1, max_value=2 * HOUR),
)
def test_property__without_every_reporter__one_update_moves_at_most_the_limit(protocol, reporters, old, new, dt):
    t = now()
    with boa.env.anchor():
        try:
            submit_rows(protocol, reporters, [FEED], [[old]] * 3, t)
            boa.env.evm.patch.timestamp = t + dt
            submit_rows(protocol, reporters[:2], [FEED], [[new]] * 2, t + dt)
            stored = protocol.oracle.price(FEED)[0]
        finally:
            boa.env.evm.patch.timestamp = t
        assert abs(stored - old) <= allowed(old, dt)
        assert min(old, new) <= stored <= max(old, new)
