"""SeriesRegistry.approve_template: the owner approves a template (ids from 1); every bad field
is refused with its reason and nothing is stored."""

from __future__ import annotations

import boa
import pytest

from core import series as S
from tests.utils.deployers import default_template, feed_class


def test_approve_template__owner__stored_active_with_next_id(protocol):
    t = default_template("A")
    with boa.env.prank(protocol.owner):
        tid = protocol.registry.approve_template(tuple({**t, "active": False}.values()))
    got = protocol.registry.template(tid)

    assert tid == protocol.registry.template_count() == 1
    assert got.active is True and got.spec_hash == t["spec_hash"] and got.bond == t["bond"]
    assert protocol.registry.settlement_word(tid) == int.from_bytes(t["settlement_class"], "big") | t["dispute_window"]


def test_approve_template__non_owner__reverts(protocol, non_owner):
    with boa.env.prank(non_owner), boa.reverts("ownable: caller is not the owner"):
        protocol.registry.approve_template(tuple(default_template().values()))
    assert protocol.registry.template_count() == 0


@pytest.mark.parametrize(
    "override,reason",
    [
        (dict(spec_hash=b"\x00" * 32), "zero spec hash"),
        (dict(mark_class=b"\x00" * 32), "bad feed class"),
        (dict(settlement_class=feed_class("S", "MARK")), "bad feed class"),
        (dict(mark_class=b"\x01" * 32), "bad feed class"),
        (dict(cadence=0), "bad cadence"),
        (dict(cadence=4), "bad cadence"),
        (dict(utc_offset=1_800), "bad utc offset"),
        (dict(utc_offset=-54_000), "bad utc offset"),
        (dict(last_trade_offset=2**40 - 1), "bad last trade offset"),
        (dict(max_horizon=0), "bad horizon"),
        (dict(max_horizon=2**40), "bad horizon"),
        (dict(bond=2**128), "bad bond"),
        (dict(quantity_step=0), "bad quantity step"),
        (dict(min_quantity=0, quantity_step=2), "bad quantity step"),
        (dict(price_tick=0), "bad tick"),
        (dict(price_tick=3, quantity_step=1), "tick x step not whole"),
        (dict(price_tick=2**64 * 1000), "lot beyond 64 bits"),
        (dict(mm_fixed=0, mm_rate_bps=0), "zero margin"),
        (dict(mm_fixed=10**9), "MM above IM"),
        (dict(im_rate_bps=10_001, mm_rate_bps=1), "rate above 100%"),
        (dict(im_fixed=2**64, mm_fixed=1), "margin beyond 64 bits"),
        (dict(max_price_age=59), "bad max price age"),
        (dict(dispute_window=599), "bad dispute window"),
        (dict(oi_cap=0), "bad OI cap"),
        (dict(oi_cap=2**62), "bad OI cap"),
    ],
)
def test_approve_template__bad_field__reverts_nothing_stored(protocol, override, reason):
    with boa.env.prank(protocol.owner), boa.reverts(f"SeriesRegistry: {reason}"):
        protocol.registry.approve_template(tuple(default_template(**override).values()))
    assert protocol.registry.template_count() == 0


def test_approve_template__trade_until_delivery_end__accepted(protocol):
    tid = protocol.approve_template("END", last_trade_offset=S.LAST_TRADE_AT_END)
    assert protocol.registry.template(tid).last_trade_offset == S.LAST_TRADE_AT_END
