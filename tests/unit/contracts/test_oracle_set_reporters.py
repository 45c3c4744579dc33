"""Oracle.set_reporters (and the constructor, which shares its checks): distinct non-zero
reporters, quorum a strict majority of the set."""

import boa
import pytest

from tests.utils.contract_helpers import USDC, role_reporter, submit_rows
from tests.utils.deployers import ORACLE, feed_id

FEED = feed_id("REPORTERS/MARK")
ZERO = "0x0000000000000000000000000000000000000000"


def _new(n, tag="new"):
    return [role_reporter(f"{tag}-{i}") for i in range(n)]


@pytest.fixture(scope="module", autouse=True)
def configured(protocol, owner):
    with boa.env.prank(owner):
        protocol.oracle.set_feed(FEED, -1_000 * USDC, 1_000 * USDC)


def test_set_reporters__new_set__replaces_old(protocol, oracle, owner, reporters):
    new = _new(5)
    with boa.env.prank(owner):
        oracle.set_reporters([r.address for r in new], 3)

    (log,) = oracle.get_logs()
    assert (list(log.reporters), log.quorum) == ([r.address for r in new], 3)
    assert oracle.reporter_count() == 5
    assert [oracle.reporters(i) for i in range(5)] == [r.address for r in new]
    assert oracle.quorum() == 3
    assert all(oracle.is_reporter(r.address) for r in new)
    assert not any(oracle.is_reporter(r.address) for r in reporters)


def test_set_reporters__new_set__new_signatures_accepted_old_rejected(protocol, oracle, owner, reporters, snapshot):
    new = _new(3)
    with boa.env.prank(owner):
        oracle.set_reporters([r.address for r in new], 2)

    submit_rows(protocol, new[:2], [FEED], [[7], [7]])
    assert oracle.price(FEED)[0] == 7
    boa.env.time_travel(seconds=1)
    before = snapshot(feeds=[FEED])
    with boa.reverts("Oracle: unknown reporter"):
        submit_rows(protocol, reporters[:2], [FEED], [[8], [8]])
    assert snapshot(feeds=[FEED]) == before


def test_set_reporters__overlapping_set__keeps_members(oracle, owner, reporters):
    kept = [reporters[0].address, reporters[2].address]
    with boa.env.prank(owner):
        oracle.set_reporters(kept, 2)

    assert oracle.is_reporter(reporters[0].address)
    assert not oracle.is_reporter(reporters[1].address)
    assert oracle.is_reporter(reporters[2].address)


@pytest.mark.parametrize("n, quorum", [(1, 1), (2, 2), (3, 2), (3, 3), (4, 3), (5, 3), (16, 9), (16, 16)])
def test_set_reporters__majority_quorum__accepted(oracle, owner, n, quorum):
    with boa.env.prank(owner):
        oracle.set_reporters([r.address for r in _new(n)], quorum)

    assert (oracle.reporter_count(), oracle.quorum()) == (n, quorum)


@pytest.mark.parametrize("n, quorum", [(2, 1), (4, 2), (6, 3), (16, 8)])
def test_set_reporters__quorum_not_majority__reverts(oracle, owner, snapshot, n, quorum):
    before = snapshot()

    with boa.env.prank(owner), boa.reverts("Oracle: quorum not a majority"):
        oracle.set_reporters([r.address for r in _new(n)], quorum)

    assert snapshot() == before
    assert (oracle.reporter_count(), oracle.quorum()) == (3, 2)


@pytest.mark.parametrize("n, quorum", [(3, 0), (3, 4), (0, 0), (0, 1)])
def test_set_reporters__quorum_outside_set__reverts(oracle, owner, snapshot, n, quorum):
    before = snapshot()

    with boa.env.prank(owner), boa.reverts("Oracle: bad quorum"):
        oracle.set_reporters([r.address for r in _new(n)], quorum)

    assert snapshot() == before


def test_set_reporters__zero_address__reverts(oracle, owner, snapshot):
    before = snapshot()

    with boa.env.prank(owner), boa.reverts("Oracle: zero reporter"):
        oracle.set_reporters([_new(1)[0].address, ZERO, _new(2)[1].address], 2)

    assert snapshot() == before


def test_set_reporters__duplicate__reverts(oracle, owner, snapshot):
    a, b = _new(2)
    before = snapshot()

    with boa.env.prank(owner), boa.reverts("Oracle: duplicate reporter"):
        oracle.set_reporters([a.address, b.address, a.address], 2)

    assert snapshot() == before


def test_set_reporters__non_owner__reverts(oracle, non_owner, snapshot):
    before = snapshot()

    with boa.env.prank(non_owner), boa.reverts("ownable: caller is not the owner"):
        oracle.set_reporters([r.address for r in _new(3)], 2)

    assert snapshot() == before


def test_constructor__valid_set__stores_set_and_defaults(guardian):
    new = _new(3, "ctor")
    deployed = ORACLE.deploy([r.address for r in new], 2, guardian)

    assert [deployed.reporters(i) for i in range(3)] == [r.address for r in new]
    assert deployed.quorum() == 2
    assert deployed.guardian() == guardian
    assert (deployed.max_report_age(), deployed.max_future_drift(), deployed.dispute_bond()) == (3_600, 60, 10**17)


@pytest.mark.parametrize(
    "n, quorum, reason",
    [(2, 1, "Oracle: quorum not a majority"), (2, 3, "Oracle: bad quorum"), (0, 0, "Oracle: bad quorum")],
)
def test_constructor__bad_quorum__reverts(guardian, snapshot, n, quorum, reason):
    before = snapshot()

    with boa.reverts(reason):
        ORACLE.deploy([r.address for r in _new(n, "ctor")], quorum, guardian)

    assert snapshot() == before


def test_constructor__duplicate_reporter__reverts(guardian, snapshot):
    a = _new(1, "ctor")[0].address
    before = snapshot()

    with boa.reverts("Oracle: duplicate reporter"):
        ORACLE.deploy([a, a], 2, guardian)

    assert snapshot() == before
