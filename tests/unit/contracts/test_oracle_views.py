"""Oracle views: price, feed, bounds, report_digest, reporter set, timing, domain, typehash."""

import boa
import pytest
from eth_utils import keccak

from tests.utils.contract_helpers import USDC, now, report_typed_data, submit_rows, typed_digest
from tests.utils.deployers import feed_id

FEED = feed_id("VIEWS/MARK")
OTHER = feed_id("VIEWS/OTHER")


@pytest.fixture(scope="module", autouse=True)
def configured(protocol, owner):
    with boa.env.prank(owner):
        protocol.oracle.set_feed(FEED, -1_000 * USDC, 1_000 * USDC)


def test_price__never_reported__zero(oracle):
    assert oracle.price(OTHER) == (0, 0)
    assert oracle.feed(OTHER) == (0, 0, 0, False, False)


def test_price__reported__latest_median_and_observation_time(protocol, oracle, reporters):
    submit_rows(protocol, reporters[:2], [FEED], [[-7 * USDC], [-7 * USDC]], now() - 20)

    assert oracle.price(FEED) == (-7 * USDC, now() - 20)


def test_feed__disputed_then_resolved__flags_and_times(protocol, oracle, reporters, guardian, owner):
    t0 = now()
    submit_rows(protocol, reporters[:2], [FEED], [[3], [3]], t0 - 20)
    assert oracle.feed(FEED) == (3, t0 - 20, t0, False, False)
    with boa.env.prank(guardian):
        oracle.dispute(FEED)
    assert oracle.feed(FEED) == (3, t0 - 20, t0, True, False)
    boa.env.time_travel(seconds=100)
    with boa.env.prank(owner):
        oracle.resolve(FEED, 4)
    assert oracle.feed(FEED) == (4, t0 - 20, t0 + 100, False, True)


def test_bounds__unconfigured__zero(oracle):
    assert oracle.bounds(OTHER) == (0, 0)


def test_bounds__configured__min_and_max(oracle):
    assert oracle.bounds(FEED) == (-1_000 * USDC, 1_000 * USDC)


@pytest.mark.parametrize("prices", [[0, 0], [1_798_701_000, -5_000_000], [-(2**255), 2**255 - 1]])
def test_report_digest__any_row__matches_eip712(oracle, prices):
    td = report_typed_data([FEED, OTHER], prices, 1_614_556_800, 31337, oracle)

    assert oracle.report_digest([FEED, OTHER], prices, 1_614_556_800) == typed_digest(td)


def test_report_digest__empty_row__matches_eip712(oracle):
    assert oracle.report_digest([], [], 5) == typed_digest(report_typed_data([], [], 5, 31337, oracle))


def test_report_digest__other_chain__differs(oracle):
    before = oracle.report_digest([FEED], [1], 5)
    boa.env.evm.patch.chain_id = 1

    assert oracle.report_digest([FEED], [1], 5) == typed_digest(report_typed_data([FEED], [1], 5, 1, oracle))
    assert oracle.report_digest([FEED], [1], 5) != before


def test_report_digest__row_length_mismatch__reverts(oracle, snapshot):
    before = snapshot(feeds=[FEED, OTHER])

    with boa.reverts("Oracle: row length"):
        oracle.report_digest([FEED, OTHER], [1], 5)

    assert snapshot(feeds=[FEED, OTHER]) == before


def test_report_typehash__constant__matches_type_string(oracle):
    assert oracle.REPORT_TYPEHASH() == keccak(text="Report(bytes32[] feed_ids,int256[] prices,uint256 observed_at)")


def test_eip712_domain__deployed__name_version_chain_contract(oracle):
    fields, name, version, chain_id, verifying, salt, extensions = oracle.eip712Domain()

    assert fields == b"\x0f"
    assert (name, version, chain_id, verifying) == ("ComputeSpread Oracle", "1", 31337, oracle.address)
    assert salt == b"\x00" * 32 and list(extensions) == []


def test_reporter_views__deployed__set_membership_and_quorum(oracle, reporters, non_owner):
    assert oracle.reporter_count() == 3
    assert [oracle.reporters(i) for i in range(3)] == [r.address for r in reporters]
    assert all(oracle.is_reporter(r.address) for r in reporters)
    assert not oracle.is_reporter(non_owner)
    assert oracle.quorum() == 2


def test_timing_views__deployed__defaults(oracle, guardian):
    assert oracle.max_report_age() == 3_600
    assert oracle.max_future_drift() == 60
    assert oracle.dispute_bond() == 10**17
    assert oracle.guardian() == guardian


def test_dispute_views__no_dispute__empty(oracle, non_owner):
    assert oracle.disputer(FEED) == "0x0000000000000000000000000000000000000000"
    assert oracle.dispute_deposit(FEED) == 0
    assert oracle.bond_claims(non_owner) == 0
