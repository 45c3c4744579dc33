"""Attack (issue 16 #5, oracle side): settlement delayed forever, or written too early.

The review: re-writing the same settlement value with a newer `observed_at` restarted the
dispute window (forever); a value observed at `delivery_end` could be written 60 s before it
through the future drift. Now a settlement feed (`set_settlement_feed`, not_before =
delivery_end) takes one value, observed AND written at or after not_before, and a written
value changes only through dispute / resolve.
"""

import boa
import pytest

from tests.utils.contract_helpers import USDC, now, submit_rows

BOND = 10**17


@pytest.fixture
def end(clearinghouse, market):
    return clearinghouse.market(market).delivery_end


def _settle_feed(protocol, market):
    return protocol.feeds[market][1]


def test_attack__observed_at_delivery_end_written_60s_before__reverts(protocol, market, end, reporters, snapshot):
    boa.env.evm.patch.timestamp = end - 60
    before = snapshot()

    with boa.reverts("Oracle: settlement too early"):
        submit_rows(protocol, reporters, [_settle_feed(protocol, market)], [[45 * USDC]] * 3, end)

    assert snapshot() == before


def test_attack__observed_before_delivery_end_written_after__reverts(protocol, market, end, reporters):
    boa.env.evm.patch.timestamp = end + 10
    with boa.reverts("Oracle: settlement too early"):
        submit_rows(protocol, reporters, [_settle_feed(protocol, market)], [[45 * USDC]] * 3, end - 1)


def test_attack__same_value_newer_observation_restarts_window__reverts(
    protocol, clearinghouse, market, end, reporters, keeper
):
    boa.env.evm.patch.timestamp = end
    protocol.set_settlement(market, 45 * USDC)
    boa.env.time_travel(seconds=3_000)

    # the old delay: the same value again, observed later, used to reset updated_at
    with boa.reverts("Oracle: settlement already written"):
        submit_rows(protocol, reporters, [_settle_feed(protocol, market)], [[45 * USDC]] * 3)

    # so the market settles when the first value's window ends
    boa.env.time_travel(seconds=600)
    with boa.env.prank(keeper.address):
        clearinghouse.finalize_settlement(market)
    assert clearinghouse.market_state(market).settlement_price == 45 * USDC


def test_attack__settlement_bundled_with_marks_before_delivery_end__whole_bundle_reverts(
    protocol, market, end, reporters
):
    # a relayer cannot slip an early settlement value in with the marks
    mark_feed, settle_feed = protocol.feeds[market]
    boa.env.time_travel(seconds=1)
    with boa.reverts("Oracle: settlement too early"):
        submit_rows(protocol, reporters, [mark_feed, settle_feed], [[50 * USDC, 45 * USDC]] * 3)


def test_correction__only_by_dispute_and_resolve(protocol, clearinghouse, market, end, owner):
    boa.env.evm.patch.timestamp = end
    protocol.set_settlement(market, 45 * USDC)
    disputer = boa.env.generate_address("disputer")
    boa.env.set_balance(disputer, BOND)
    with boa.env.prank(disputer):
        protocol.oracle.dispute(_settle_feed(protocol, market), value=BOND)
    with boa.env.prank(owner):
        protocol.oracle.resolve(_settle_feed(protocol, market), 44 * USDC)
    clearinghouse.finalize_settlement(market)

    assert clearinghouse.market_state(market).settlement_price == 44 * USDC
    assert protocol.oracle.bond_claims(disputer) == BOND


def test_public_dispute__after_the_window__reverts(protocol, market, end, snapshot):
    boa.env.evm.patch.timestamp = end
    protocol.set_settlement(market, 45 * USDC)
    boa.env.time_travel(seconds=3_600)
    disputer = boa.env.generate_address("late")
    boa.env.set_balance(disputer, BOND)

    with boa.env.prank(disputer), boa.reverts("Oracle: dispute window closed"):
        protocol.oracle.dispute(_settle_feed(protocol, market), value=BOND)


def test_set_settlement_feed__window_below_10_minutes__reverts(oracle, owner):
    with boa.env.prank(owner), boa.reverts("Oracle: bad dispute window"):
        oracle.set_settlement_feed(b"\x01" * 32, 0, 100, now(), 599)


def test_set_settlement_feed__after_a_value__reverts(protocol, market, end, owner):
    boa.env.evm.patch.timestamp = end
    protocol.set_settlement(market, 45 * USDC)
    with boa.env.prank(owner), boa.reverts("Oracle: feed has a price"):
        protocol.oracle.set_settlement_feed(_settle_feed(protocol, market), 0, 100 * USDC, end + 86_400, 3_600)


def test_set_feed__on_a_settlement_feed__reverts(protocol, market, owner):
    with boa.env.prank(owner), boa.reverts("Oracle: settlement feed"):
        protocol.oracle.set_feed(_settle_feed(protocol, market), 0, 100 * USDC)


def test_reopen__settlement_feed__reverts(protocol, market, end, guardian, owner):
    boa.env.evm.patch.timestamp = end
    protocol.set_settlement(market, 45 * USDC)
    with boa.env.prank(guardian):
        protocol.oracle.dispute(_settle_feed(protocol, market))
    with boa.env.prank(owner):
        protocol.oracle.resolve(_settle_feed(protocol, market), 45 * USDC)
        with boa.reverts("Oracle: settlement feed"):
            protocol.oracle.reopen(_settle_feed(protocol, market))


def test_guardian__disputes_settlement_after_the_window__allowed(protocol, clearinghouse, market, end, guardian):
    # the emergency role may still stop a wrong value nobody caught, until it is final
    boa.env.evm.patch.timestamp = end
    protocol.set_settlement(market, 45 * USDC)
    boa.env.time_travel(seconds=3_600)
    with boa.env.prank(guardian):
        protocol.oracle.dispute(_settle_feed(protocol, market))

    with boa.reverts("Clearinghouse: settlement disputed"):
        clearinghouse.finalize_settlement(market)
