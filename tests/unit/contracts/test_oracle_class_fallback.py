"""Oracle class fallback (issue 10): a feed without its own config uses its class's (feed &
~(2**80 - 1)); a class-derived settlement feed's not_before is its delivery_end; a feed's own
config wins; per-feed-configured feeds behave as before."""

from __future__ import annotations

import boa

from tests.utils.deployers import USDC, feed_class, template_feed


def test_views__class_derived_feed__class_bounds_limits_and_terms(protocol):
    mc, sc = feed_class("CF", "MARK"), feed_class("CF", "SETTLE")
    protocol.configure_classes(mc, sc, 3_600)
    m, st = template_feed(mc, 100, 200), template_feed(sc, 100, 200)

    assert protocol.oracle.bounds(m) == protocol.oracle.bounds(mc) == (-10_000 * USDC, 100_000 * USDC)
    assert protocol.oracle.limits(m) == protocol.oracle.limits(mc)
    assert protocol.oracle.settlement_terms(st) == (True, 200, 3_600)
    assert protocol.oracle.settlement_terms(m) == (False, 0, 0)


def test_submit__class_derived_settlement__refused_before_its_end_accepted_after(protocol):
    mc, sc = feed_class("CS", "MARK"), feed_class("CS", "SETTLE")
    protocol.configure_classes(mc, sc)
    now = boa.env.evm.patch.timestamp
    fid = template_feed(sc, now - 3_600, now + 600)
    with boa.reverts("Oracle: settlement too early"):
        protocol.push([fid], [5 * USDC])
    boa.env.time_travel(seconds=600)
    protocol.push([fid], [5 * USDC])
    assert protocol.oracle.price(fid)[0] == 5 * USDC
    # one value per settlement feed: the class rule applies to derived feeds too
    boa.env.time_travel(seconds=60)
    with boa.reverts("Oracle: settlement already written"):
        protocol.push([fid], [6 * USDC])


def test_own_config__wins_over_class(protocol):
    mc, sc = feed_class("OWN", "MARK"), feed_class("OWN", "SETTLE")
    protocol.configure_classes(mc, sc)
    fid = template_feed(mc, 100, 200)
    with boa.env.prank(protocol.owner):
        protocol.oracle.set_feed(fid, 1, 2 * USDC)

    assert protocol.oracle.bounds(fid) == (1, 2 * USDC)
    with boa.reverts("Oracle: no agreement"):
        protocol.push([fid], [3 * USDC])


def test_class_derived_mark__guardian_dispute_and_public_refused(protocol):
    mc, sc = feed_class("DM", "MARK"), feed_class("DM", "SETTLE")
    protocol.configure_classes(mc, sc)
    fid = template_feed(mc, 100, 200)
    protocol.push([fid], [5 * USDC])
    anyone = boa.env.generate_address("anyone")
    boa.env.set_balance(anyone, 10**18)
    with boa.env.prank(anyone), boa.reverts("Oracle: only the guardian disputes marks"):
        protocol.oracle.dispute(fid, value=protocol.oracle.dispute_bond())
