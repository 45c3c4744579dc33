"""Oracle.set_timing: report freshness windows (seconds) and the dispute bond (wei)."""

import boa
import pytest

from tests.utils.contract_helpers import USDC, now, submit_rows
from tests.utils.deployers import feed_id

FEED = feed_id("TIMING/MARK")


@pytest.fixture(scope="module", autouse=True)
def configured(protocol, owner):
    with boa.env.prank(owner):
        protocol.oracle.set_feed(FEED, -1_000 * USDC, 1_000 * USDC)


def test_set_timing__owner__stores_values(oracle, owner):
    with boa.env.prank(owner):
        oracle.set_timing(600, 30, 5 * 10**18)

    (log,) = oracle.get_logs()
    assert (log.max_report_age, log.max_future_drift, log.dispute_bond) == (600, 30, 5 * 10**18)
    assert (oracle.max_report_age(), oracle.max_future_drift(), oracle.dispute_bond()) == (600, 30, 5 * 10**18)


@pytest.mark.parametrize("age, drift, bond", [(1, 0, 0), (86_400, 300, 2**256 - 1)])
def test_set_timing__bounds__accepted(oracle, owner, age, drift, bond):
    with boa.env.prank(owner):
        oracle.set_timing(age, drift, bond)

    assert (oracle.max_report_age(), oracle.max_future_drift(), oracle.dispute_bond()) == (age, drift, bond)


def test_set_timing__shorter_report_age__older_reports_rejected(protocol, oracle, owner, reporters, snapshot):
    with boa.env.prank(owner):
        oracle.set_timing(60, 0, 10**17)
    before = snapshot(feeds=[FEED])

    with boa.reverts("Oracle: stale report"):
        submit_rows(protocol, reporters[:2], [FEED], [[1], [1]], now() - 61)
    with boa.reverts("Oracle: future report"):
        submit_rows(protocol, reporters[:2], [FEED], [[1], [1]], now() + 1)
    assert snapshot(feeds=[FEED]) == before
    submit_rows(protocol, reporters[:2], [FEED], [[1], [1]], now() - 60)
    assert oracle.price(FEED) == (1, now() - 60)


@pytest.mark.parametrize("age", [0, 86_401])
def test_set_timing__bad_report_age__reverts(oracle, owner, snapshot, age):
    before = snapshot()

    with boa.env.prank(owner), boa.reverts("Oracle: bad report age"):
        oracle.set_timing(age, 60, 10**17)

    assert snapshot() == before


def test_set_timing__future_drift_above_cap__reverts(oracle, owner, snapshot):
    before = snapshot()

    with boa.env.prank(owner), boa.reverts("Oracle: bad future drift"):
        oracle.set_timing(3_600, 301, 10**17)

    assert snapshot() == before


def test_set_timing__non_owner__reverts(oracle, non_owner, snapshot):
    before = snapshot()

    with boa.env.prank(non_owner), boa.reverts("ownable: caller is not the owner"):
        oracle.set_timing(600, 30, 0)

    assert snapshot() == before
