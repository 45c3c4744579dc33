"""Attack (issue 10): a templated market's feeds are derived on chain (class | start << 40 |
end), so no other feed id can be served for it. A price for a forged id of the same class
(another window), or for an early-ending settlement id, moves nothing; an id of an
unconfigured class is refused by the Oracle."""

from __future__ import annotations

import boa

from tests.utils.deployers import DAY, USDC, feed_class, next_day, template_feed


def _market(protocol):
    tid = protocol.approve_template("FORGE")
    s, e = next_day(boa.env.evm.patch.timestamp)
    return tid, s, e, protocol.list_from_template(tid, s, e)


def test_attack_forged_mark_id_same_class__market_mark_unmoved(protocol):
    tid, s, e, mid = _market(protocol)
    protocol.set_mark(mid, 45 * USDC)
    forged = template_feed(protocol.registry.template(tid).mark_class, s, e + DAY)
    boa.env.time_travel(seconds=60)

    protocol.push([forged], [1 * USDC])

    assert protocol.clearinghouse.mark(mid)[0] == 45 * USDC
    assert protocol.oracle.price(forged)[0] == 1 * USDC  # stored under its own id, used by nothing


def test_attack_forged_settlement_id_ending_early__cannot_settle_the_market(protocol):
    tid, s, e, mid = _market(protocol)
    settle_cls = protocol.registry.template(tid).settlement_class
    early = template_feed(settle_cls, s, s + 3_600)  # not_before derived from its own end: earlier
    boa.env.evm.patch.timestamp = s + 3_600
    protocol.push([early], [1 * USDC])
    boa.env.evm.patch.timestamp = e + 7_200

    with boa.reverts("Clearinghouse: no settlement price"):
        protocol.clearinghouse.finalize_settlement(mid)


def test_attack_settlement_before_delivery_end__refused_by_derived_not_before(protocol):
    tid, s, e, mid = _market(protocol)
    boa.env.evm.patch.timestamp = e - 60

    with boa.reverts("Oracle: settlement too early"):
        protocol.set_settlement(mid, 45 * USDC, observed_at=e - 60)


def test_attack_unconfigured_class__refused(protocol):
    _market(protocol)
    rogue = template_feed(feed_class("ROGUE", "MARK"), 1_000 * DAY, 1_001 * DAY)

    with boa.reverts("Oracle: unknown feed"):
        protocol.push([rogue], [1 * USDC])
