"""FeedAggregator: Chainlink AggregatorV3Interface views over one Oracle feed."""

import boa
import pytest

from tests.utils.deployers import CONTRACTS, USDC, Protocol

AGGREGATOR = boa.load_partial(str(CONTRACTS / "FeedAggregator.vy"))


@pytest.fixture(scope="module")
def setup():
    p = Protocol.deploy()
    mid = p.list_market("ERCOT.HB_WEST.DA.PEAK.2026-12")
    mark = p.feeds[mid][0]
    agg = AGGREGATOR.deploy(p.oracle.address, mark, 6, "ERCOT.HB_WEST.DA.PEAK.2026-12 mark, USD/MWh")
    return p, mid, agg


def test_latest_round_data__no_price__reverts(setup):
    _, _, agg = setup
    with boa.reverts("No data present"):
        agg.latestRoundData()


def test_latest_round_data__negative_price__maps_observation_to_round(setup):
    p, mid, agg = setup
    with boa.env.anchor():
        t = boa.env.evm.patch.timestamp
        p.set_mark(mid, -12_340_000)
        rid, answer, started, updated, answered = agg.latestRoundData()
        assert (rid, answer, started, answered) == (t, -12_340_000, t, t)
        assert updated == boa.env.evm.patch.timestamp
        boa.env.time_travel(seconds=60)
        p.set_mark(mid, 9_000 * USDC)
        rid2, answer2, *_ = agg.latestRoundData()
        assert rid2 > rid and answer2 == 9_000 * USDC
        assert agg.getRoundData(rid2)[1] == 9_000 * USDC
        with boa.reverts("No data present"):
            agg.getRoundData(rid)


def test_views__decimals_description_version(setup):
    p, mid, agg = setup
    assert agg.decimals() == 6
    assert agg.description() == "ERCOT.HB_WEST.DA.PEAK.2026-12 mark, USD/MWh"
    assert agg.version() == 1
    assert agg.oracle() == p.oracle.address and agg.feed_id() == p.feeds[mid][0]
