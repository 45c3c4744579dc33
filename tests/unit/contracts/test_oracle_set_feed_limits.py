"""Oracle.set_feed_limits / set_settlement_feed / set_fallback_timeout: owner configuration of
the agreement band, jump limit and settlement terms, and their views."""

import boa
import pytest

from tests.utils.contract_helpers import USDC, events, now
from tests.utils.deployers import feed_id

FEED = feed_id("LIMITS/MARK")
SETTLE = feed_id("LIMITS/SETTLE")


@pytest.fixture(scope="module", autouse=True)
def configured(protocol, owner):
    with boa.env.prank(owner):
        protocol.oracle.set_feed(FEED, -1_000 * USDC, 1_000 * USDC)


def test_set_feed_limits__owner__stored_and_logged(oracle, owner):
    with boa.env.prank(owner):
        oracle.set_feed_limits(FEED, 50_000, 50, 20 * USDC, 5_000)

    (log,) = events(oracle, "FeedLimitsSet")
    assert (log.feed_id, log.band_floor, log.band_bps, log.jump_floor, log.jump_bps) == (
        FEED,
        50_000,
        50,
        20 * USDC,
        5_000,
    )
    assert oracle.limits(FEED) == (50_000, 50, 20 * USDC, 5_000)
    assert oracle.bounds(FEED) == (-1_000 * USDC, 1_000 * USDC)  # bounds kept


def test_set_feed_limits__extremes__round_trip(oracle, owner):
    with boa.env.prank(owner):
        oracle.set_feed_limits(FEED, 2**48 - 1, 10_000, 2**48 - 1, 2**16 - 1)
        oracle.set_feed(FEED, -(2**63 - 1), 2**63 - 1)  # bounds change keeps the limits

    assert oracle.limits(FEED) == (2**48 - 1, 10_000, 2**48 - 1, 2**16 - 1)
    assert oracle.bounds(FEED) == (-(2**63 - 1), 2**63 - 1)


@pytest.mark.parametrize(
    "args, reason",
    [
        ((2**48, 0, 0, 0), "Oracle: bad band"),
        ((0, 10_001, 0, 0), "Oracle: bad band"),
        ((0, 0, 2**48, 0), "Oracle: bad jump limit"),
        ((0, 0, 0, 2**16), "Oracle: bad jump limit"),
    ],
)
def test_set_feed_limits__out_of_range__reverts(oracle, owner, snapshot, args, reason):
    before = snapshot(feeds=[FEED])
    with boa.env.prank(owner), boa.reverts(reason):
        oracle.set_feed_limits(FEED, *args)
    assert snapshot(feeds=[FEED]) == before


def test_set_feed_limits__unconfigured_feed__reverts(oracle, owner):
    with boa.env.prank(owner), boa.reverts("Oracle: unknown feed"):
        oracle.set_feed_limits(feed_id("LIMITS/NONE"), 0, 0, 0, 0)


def test_set_feed_limits__non_owner__reverts(oracle, non_owner):
    with boa.env.prank(non_owner), boa.reverts("ownable: caller is not the owner"):
        oracle.set_feed_limits(FEED, 0, 0, 0, 0)


def test_set_settlement_feed__owner__terms_and_events(oracle, owner):
    t = now() + 1_000
    with boa.env.prank(owner):
        oracle.set_settlement_feed(SETTLE, 0, 500 * USDC, t, 600)

    assert [type(e).__name__ for e in oracle.get_logs()] == ["FeedConfigured", "SettlementFeedConfigured"]
    assert oracle.settlement_terms(SETTLE) == (True, t, 600)
    assert oracle.settlement_terms(FEED) == (False, 0, 0)
    assert oracle.bounds(SETTLE) == (0, 500 * USDC)


@pytest.mark.parametrize(
    "not_before, window, reason",
    [
        (0, 600, "Oracle: bad not_before"),
        (2**64, 600, "Oracle: bad not_before"),
        (1, 599, "Oracle: bad dispute window"),
        (1, 7 * 86_400 + 1, "Oracle: bad dispute window"),
    ],
)
def test_set_settlement_feed__bad_terms__reverts(oracle, owner, not_before, window, reason):
    with boa.env.prank(owner), boa.reverts(reason):
        oracle.set_settlement_feed(SETTLE, 0, 1, not_before, window)


def test_set_settlement_feed__non_owner__reverts(oracle, non_owner):
    with boa.env.prank(non_owner), boa.reverts("ownable: caller is not the owner"):
        oracle.set_settlement_feed(SETTLE, 0, 1, 1, 600)


def test_quorum_view__follows_set_reporters(oracle, owner):
    new = [boa.env.generate_address(f"q{i}") for i in range(5)]
    with boa.env.prank(owner):
        oracle.set_reporters(new, 3)
    assert (oracle.quorum(), oracle.reporter_count()) == (3, 5)
