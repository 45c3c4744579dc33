"""Clearinghouse.halt_market (guardian or owner) and resume_market (owner)."""

import boa
import pytest

from tests.utils.contract_helpers import events


@pytest.mark.parametrize("role", ["guardian", "owner"])
def test_halt_market__guardian_or_owner__halted(clearinghouse, market, guardian, owner, role):
    with boa.env.prank({"guardian": guardian, "owner": owner}[role]):
        clearinghouse.halt_market(market)

    (log,) = events(clearinghouse, "MarketHalted")
    assert (log.market_id, log.halted) == (market, True)
    assert clearinghouse.market_state(market).halted is True


def test_halt_market__already_halted__stays_halted(clearinghouse, market, guardian):
    with boa.env.prank(guardian):
        clearinghouse.halt_market(market)
        clearinghouse.halt_market(market)

    assert clearinghouse.market_state(market).halted is True


def test_halt_market__non_guardian__reverts(clearinghouse, market, non_owner, snapshot):
    before = snapshot()

    with boa.env.prank(non_owner), boa.reverts("Clearinghouse: not guardian"):
        clearinghouse.halt_market(market)

    assert snapshot() == before


def test_halt_market__unknown_market__reverts(clearinghouse, market, guardian, snapshot):
    before = snapshot()

    with boa.env.prank(guardian), boa.reverts("Clearinghouse: unknown market"):
        clearinghouse.halt_market(market + 1)

    assert snapshot() == before


def test_resume_market__owner__trading_resumes(clearinghouse, market, guardian, owner):
    with boa.env.prank(guardian):
        clearinghouse.halt_market(market)
    with boa.env.prank(owner):
        clearinghouse.resume_market(market)

    (log,) = events(clearinghouse, "MarketHalted")
    assert (log.market_id, log.halted) == (market, False)
    assert clearinghouse.market_state(market).halted is False


def test_resume_market__not_halted__reverts(clearinghouse, market, owner, snapshot):
    before = snapshot()

    with boa.env.prank(owner), boa.reverts("Clearinghouse: not halted"):
        clearinghouse.resume_market(market)

    assert snapshot() == before


def test_resume_market__guardian__reverts(clearinghouse, market, guardian, snapshot):
    with boa.env.prank(guardian):
        clearinghouse.halt_market(market)
    before = snapshot()

    with boa.env.prank(guardian), boa.reverts("ownable: caller is not the owner"):
        clearinghouse.resume_market(market)

    assert snapshot() == before
