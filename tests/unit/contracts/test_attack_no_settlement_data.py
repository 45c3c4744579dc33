"""Attack / failure (issue 16 #6): no settlement without the data.

If the index cannot be computed (a GPU class with too few quotes, a missing ISO hour) the
reporters publish no settlement value and the market stayed unsettled forever. Now, after
`fallback_timeout` (default 24 h, owner-set within 1 h .. 30 days) past the feed's
not_before with no value, anyone may `propose` the value with the bond (UMA-style); it
becomes the feed's value (updated_at = now) and stands unless disputed within the window;
the owner resolves a dispute and the loser's bond goes to the winner.
"""

import datetime as dt

import boa
import pytest

from oracle.data import load_power
from oracle.errors import OracleError
from oracle.sources import ReplaySource
from oracle.valuation import Valuer
from tests.utils.contract_helpers import USDC, events

BOND = 10**17
DAY = 86_400


@pytest.fixture
def delivered(clearinghouse, market):
    """Block time = delivery_end; the reporters have no settlement value."""
    end = clearinghouse.market(market).delivery_end
    boa.env.evm.patch.timestamp = end
    return end


@pytest.fixture(scope="module")
def proposer():
    return boa.env.generate_address("proposer")


@pytest.fixture(scope="module")
def challenger():
    return boa.env.generate_address("challenger")


def _feed(protocol, market):
    return protocol.feeds[market][1]


def test_reporters_have_no_value__missing_iso_hours__valuer_refuses():
    """Why the fallback exists, on the real data: an ERCOT HB_WEST day past the end of the
    vendored series has missing hours, so no honest reporter can sign a settlement value."""
    series = load_power("ERCOT", "HB_WEST", "DA")
    last = int(series.timestamps[-1])
    start = last - 3 * 3_600  # three hours with data, then hours without
    spec = {
        "kind": "POWER",
        "iso": "ERCOT",
        "node": "HB_WEST",
        "market": "DA",
        "profile": "ATC",
        "tz": "America/Chicago",
        "delivery_start": start,
        "delivery_end": start + 6 * 3_600,
    }
    with pytest.raises(OracleError, match="settlement needs every hour"):
        Valuer(ReplaySource()).settlement(spec, start + 7 * 3_600)
    assert dt.datetime.fromtimestamp(last, dt.UTC).year == 2023


def test_fallback__no_report__proposal__finalisable(protocol, clearinghouse, market, delivered, proposer, keeper):
    boa.env.time_travel(seconds=DAY)
    boa.env.set_balance(proposer, BOND)
    with boa.env.prank(proposer):
        protocol.oracle.propose(_feed(protocol, market), 47 * USDC, value=BOND)

    (log,) = events(protocol.oracle, "Proposed")
    assert (log.feed_id, log.proposer, log.price, log.bond) == (_feed(protocol, market), proposer, 47 * USDC, BOND)
    t = boa.env.evm.patch.timestamp
    assert protocol.oracle.feed(_feed(protocol, market)) == (47 * USDC, t, t, False, False)
    with boa.reverts("Clearinghouse: dispute window open"):
        clearinghouse.finalize_settlement(market)

    boa.env.time_travel(seconds=3_600)
    with boa.env.prank(keeper.address):
        clearinghouse.finalize_settlement(market)
    assert clearinghouse.market_state(market).settlement_price == 47 * USDC

    protocol.oracle.release_bond(_feed(protocol, market))
    with boa.env.prank(proposer):
        protocol.oracle.claim_bond()
    assert boa.env.get_balance(proposer) == BOND


def test_fallback__disputed_proposal__resolve__finalisable(
    protocol, clearinghouse, market, delivered, proposer, challenger, owner
):
    boa.env.time_travel(seconds=DAY)
    boa.env.set_balance(proposer, BOND)
    boa.env.set_balance(challenger, BOND)
    with boa.env.prank(proposer):
        protocol.oracle.propose(_feed(protocol, market), 90 * USDC, value=BOND)  # a self-serving value
    boa.env.time_travel(seconds=600)
    with boa.env.prank(challenger):
        protocol.oracle.dispute(_feed(protocol, market), value=BOND)
    with boa.reverts("Clearinghouse: settlement disputed"):
        clearinghouse.finalize_settlement(market)
    with boa.env.prank(owner):
        protocol.oracle.resolve(_feed(protocol, market), 47 * USDC)
    clearinghouse.finalize_settlement(market)

    assert clearinghouse.market_state(market).settlement_price == 47 * USDC
    # the loser's bond to the winner
    assert protocol.oracle.bond_claims(challenger) == 2 * BOND
    assert protocol.oracle.bond_claims(proposer) == 0
    with boa.env.prank(challenger):
        protocol.oracle.claim_bond()
    assert boa.env.get_balance(challenger) == 2 * BOND


def test_fallback__disputed_proposal_upheld__proposer_takes_both_bonds(
    protocol, market, delivered, proposer, challenger, owner
):
    boa.env.time_travel(seconds=DAY)
    boa.env.set_balance(proposer, BOND)
    boa.env.set_balance(challenger, BOND)
    with boa.env.prank(proposer):
        protocol.oracle.propose(_feed(protocol, market), 47 * USDC, value=BOND)
    with boa.env.prank(challenger):
        protocol.oracle.dispute(_feed(protocol, market), value=BOND)
    with boa.env.prank(owner):
        protocol.oracle.resolve(_feed(protocol, market), 47 * USDC)

    assert protocol.oracle.bond_claims(proposer) == 2 * BOND
    assert protocol.oracle.bond_claims(challenger) == 0


def test_fallback__before_timeout__reverts(protocol, market, delivered, proposer, snapshot):
    boa.env.time_travel(seconds=DAY - 1)
    boa.env.set_balance(proposer, BOND)
    before = snapshot(proposer)

    with boa.env.prank(proposer), boa.reverts("Oracle: fallback not open"):
        protocol.oracle.propose(_feed(protocol, market), 47 * USDC, value=BOND)

    assert snapshot(proposer) == before


def test_fallback__reporters_wrote_first__reverts(protocol, market, delivered, proposer):
    protocol.set_settlement(market, 45 * USDC)
    boa.env.time_travel(seconds=DAY)
    boa.env.set_balance(proposer, BOND)
    with boa.env.prank(proposer), boa.reverts("Oracle: settlement already written"):
        protocol.oracle.propose(_feed(protocol, market), 47 * USDC, value=BOND)


def test_fallback__proposal_not_overwritten_by_late_reports(protocol, market, delivered, proposer):
    boa.env.time_travel(seconds=DAY)
    boa.env.set_balance(proposer, BOND)
    with boa.env.prank(proposer):
        protocol.oracle.propose(_feed(protocol, market), 47 * USDC, value=BOND)
    boa.env.time_travel(seconds=1)
    with boa.reverts("Oracle: settlement already written"):
        protocol.set_settlement(market, 45 * USDC)


@pytest.mark.parametrize("value", [0, BOND - 1, BOND + 1])
def test_fallback__wrong_bond__reverts(protocol, market, delivered, proposer, value):
    boa.env.time_travel(seconds=DAY)
    boa.env.set_balance(proposer, 2 * BOND)
    with boa.env.prank(proposer), boa.reverts("Oracle: wrong bond"):
        protocol.oracle.propose(_feed(protocol, market), 47 * USDC, value=value)


def test_fallback__mark_feed__reverts(protocol, market, delivered, proposer):
    boa.env.time_travel(seconds=DAY)
    boa.env.set_balance(proposer, BOND)
    with boa.env.prank(proposer), boa.reverts("Oracle: not a settlement feed"):
        protocol.oracle.propose(protocol.feeds[market][0], 47 * USDC, value=BOND)


def test_fallback__price_out_of_bounds__reverts(protocol, market, delivered, proposer):
    boa.env.time_travel(seconds=DAY)
    boa.env.set_balance(proposer, BOND)
    with boa.env.prank(proposer), boa.reverts("Oracle: price out of bounds"):
        protocol.oracle.propose(_feed(protocol, market), 100_001 * USDC, value=BOND)


def test_release_bond__window_open_or_disputed__reverts(protocol, market, delivered, proposer, guardian):
    boa.env.time_travel(seconds=DAY)
    boa.env.set_balance(proposer, BOND)
    with boa.env.prank(proposer):
        protocol.oracle.propose(_feed(protocol, market), 47 * USDC, value=BOND)
    with boa.reverts("Oracle: dispute window open"):
        protocol.oracle.release_bond(_feed(protocol, market))
    with boa.env.prank(guardian):
        protocol.oracle.dispute(_feed(protocol, market))
    boa.env.time_travel(seconds=3_600)
    with boa.reverts("Oracle: feed disputed or final"):
        protocol.oracle.release_bond(_feed(protocol, market))


def test_release_bond__no_proposal__reverts(protocol, market):
    with boa.reverts("Oracle: no proposal bond"):
        protocol.oracle.release_bond(_feed(protocol, market))


def test_set_fallback_timeout__owner_within_bounds(protocol, owner, non_owner):
    with boa.env.prank(owner):
        protocol.oracle.set_fallback_timeout(3_600)
    assert protocol.oracle.fallback_timeout() == 3_600
    for bad in (3_599, 30 * DAY + 1):
        with boa.env.prank(owner), boa.reverts("Oracle: bad fallback timeout"):
            protocol.oracle.set_fallback_timeout(bad)
    with boa.env.prank(non_owner), boa.reverts("ownable: caller is not the owner"):
        protocol.oracle.set_fallback_timeout(7_200)
