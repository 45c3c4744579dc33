"""SeriesRegistry views and set_clearinghouse; Clearinghouse.market_template."""

from __future__ import annotations

import boa

from tests.utils.deployers import DAY, HOUR, next_day


def test_views__unknown_ids__zero(protocol):
    assert protocol.registry.template(9).spec_hash == b"\x00" * 32
    assert protocol.registry.market_of(9, 0) == 0
    assert protocol.registry.listing_bond_owner(9) == "0x" + "00" * 20
    assert protocol.registry.settlement_word(9) == 0
    assert protocol.registry.series_spec_hash(9) == b"\x00" * 32
    assert protocol.clearinghouse.market_template(9) == 0


def test_views__listed_window__market_of_and_bond_owner(protocol):
    tid = protocol.approve_template("V")
    s, e = next_day(boa.env.evm.patch.timestamp)
    lister = boa.env.generate_address("lister_v")
    mid = protocol.list_from_template(tid, s, e, lister=lister)

    assert protocol.registry.market_of(tid, s) == mid and protocol.registry.market_of(tid, e) == 0
    assert protocol.registry.listing_bond_owner(mid) == lister
    assert protocol.clearinghouse.market_template(mid) == tid
    assert protocol.registry.series_spec_hash(tid) == protocol.registry.template(tid).spec_hash


def test_aligned__hourly_and_daily(protocol):
    hourly = protocol.approve_template("H", cadence=1)
    daily = protocol.approve_template("D")
    s, _ = next_day(boa.env.evm.patch.timestamp)

    assert protocol.registry.aligned(hourly, s + HOUR, s + 2 * HOUR)
    assert not protocol.registry.aligned(hourly, s, s + 2 * HOUR)
    assert protocol.registry.aligned(daily, s, s + DAY)
    assert not protocol.registry.aligned(daily, s, s + HOUR)


def test_set_clearinghouse__once__second_reverts(protocol):
    with boa.env.prank(protocol.owner), boa.reverts("SeriesRegistry: clearinghouse already set"):
        protocol.registry.set_clearinghouse(protocol.exchange.address)
    assert protocol.registry.clearinghouse() == protocol.clearinghouse.address


def test_series_registry__clearinghouse_immutable_address(protocol):
    assert protocol.clearinghouse.series_registry() == protocol.registry.address
