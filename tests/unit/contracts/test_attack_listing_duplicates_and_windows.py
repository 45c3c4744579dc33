"""Attacks on permissionless listing (issue 10): listing the same window twice (also with a
different end, or from another template on the same feed classes), a window shifted by the DST
hour (a wrong day in summer, an hour-shifted UTC month), a misaligned or too-far window, a retired
or unknown template, a wrong bond. Each is refused and nothing changes."""

from __future__ import annotations

import boa
import pytest

from tests.utils.deployers import DAY, HOUR, feed_class, next_day


def _now() -> int:
    return boa.env.evm.patch.timestamp


def _funded(name: str):
    a = boa.env.generate_address(name)
    boa.env.set_balance(a, 10**18)
    return a


def _snapshot(protocol, tid, start):
    return protocol.clearinghouse.market_count(), protocol.registry.market_of(tid, start)


def test_attack_same_window_twice__refused(protocol):
    tid = protocol.approve_template("DUP")
    s, e = next_day(_now())
    protocol.list_from_template(tid, s, e)
    before = _snapshot(protocol, tid, s)

    with boa.env.prank(_funded("mallory")), boa.reverts("SeriesRegistry: already listed"):
        protocol.registry.list_from_template(tid, s, e, value=10**16)
    assert _snapshot(protocol, tid, s) == before


def test_attack_same_start_other_end__refused(protocol):
    # Chicago: 2026-03-08 is 23 h; the 24 h window from the same start ends at 01:00 CDT, not a
    # local midnight: one end per start, so it is misaligned (the old per-end DST tolerance
    # accepted it, and with it a second market over the same day)
    tid = protocol.approve_template("DUPCHI", utc_offset=-21_600, max_horizon=400 * DAY)
    boa.env.evm.patch.timestamp = 1_767_225_600  # 2026-01-01
    s = 1_772_949_600
    assert protocol.registry.aligned(tid, s, s + 23 * HOUR) and not protocol.registry.aligned(tid, s, s + 24 * HOUR)
    protocol.list_from_template(tid, s, s + 23 * HOUR)
    before = _snapshot(protocol, tid, s)

    with boa.env.prank(_funded("mallory")), boa.reverts("SeriesRegistry: bad delivery window"):
        protocol.registry.list_from_template(tid, s, s + 24 * HOUR, value=10**16)
    assert _snapshot(protocol, tid, s) == before


# 2026-07-01 00:00 CDT = 05:00 UTC; 00:00 CST (what a standard-offset clock says) = 06:00 UTC
JULY1_CDT, JULY1_CST = 1_782_882_000, 1_782_885_600


@pytest.mark.parametrize(
    "start,end",
    [
        (JULY1_CST, JULY1_CST + DAY),  # 01:00-01:00 CDT: both ends "a midnight" at the standard offset
        (JULY1_CST, JULY1_CDT + DAY),  # 01:00 CDT to the next midnight: 23 h on a 24 h day
        (JULY1_CDT, JULY1_CST + DAY),  # midnight to 01:00 CDT the next day: 25 h
    ],
)
def test_attack_wrong_day_in_summer__refused(protocol, start, end):
    tid = protocol.approve_template("JULY", utc_offset=-21_600, max_horizon=400 * DAY)
    boa.env.evm.patch.timestamp = 1_767_225_600  # 2026-01-01
    assert protocol.registry.aligned(tid, JULY1_CDT, JULY1_CDT + DAY)  # the real day
    before = _snapshot(protocol, tid, start)

    with boa.env.prank(_funded("mallory")), boa.reverts("SeriesRegistry: bad delivery window"):
        protocol.registry.list_from_template(tid, start, end, value=10**16)
    assert _snapshot(protocol, tid, start) == before


def test_attack_utc_series_shifted_an_hour__refused(protocol):
    # a UTC series has no DST: a "month" from 23:00 on the last day is not its window
    tid = protocol.approve_template("UTCM", cadence=3, max_horizon=400 * DAY)
    boa.env.evm.patch.timestamp = 1_767_225_600  # 2026-01-01
    feb, mar = 1_769_904_000, 1_772_323_200  # 2026-02-01, 2026-03-01 00:00 UTC
    assert protocol.registry.aligned(tid, feb, mar)

    with boa.env.prank(_funded("mallory")), boa.reverts("SeriesRegistry: bad delivery window"):
        protocol.registry.list_from_template(tid, feb - HOUR, mar - HOUR, value=10**16)
    assert protocol.registry.market_of(tid, feb - HOUR) == 0


def test_attack_two_templates_one_mark_class__second_listing_refused(protocol):
    # the owner re-approves a series (new margins) under the same feed classes: the window
    # listed from the first template must not be listed again on the same feeds
    shared = {"mark_class": feed_class("SHARED", "MARK"), "settlement_class": feed_class("SHARED", "SETTLE")}
    first = protocol.approve_template("SHARED", **shared)
    second = protocol.approve_template("SHARED2", im_fixed=20 * 10**6, **shared)
    s, e = next_day(_now())
    mid = protocol.list_from_template(first, s, e)
    count = protocol.clearinghouse.market_count()

    assert protocol.registry.market_of(second, s) == mid  # same feeds: already listed
    with boa.env.prank(_funded("mallory")), boa.reverts("SeriesRegistry: already listed"):
        protocol.registry.list_from_template(second, s, e, value=10**16)
    assert protocol.clearinghouse.market_count() == count


@pytest.mark.parametrize(
    "shift,reason",
    [
        (lambda s, e: (s + 1, e + 1), "bad delivery window"),
        (lambda s, e: (s + 12 * HOUR, e + 12 * HOUR), "bad delivery window"),
        (lambda s, e: (s + 400 * DAY, e + 400 * DAY), "beyond horizon"),
    ],
)
def test_attack_misaligned_or_far_window__refused(protocol, shift, reason):
    tid = protocol.approve_template("FAR")
    s, e = shift(*next_day(_now()))
    before = _snapshot(protocol, tid, s)

    with boa.env.prank(_funded("mallory")), boa.reverts(f"SeriesRegistry: {reason}"):
        protocol.registry.list_from_template(tid, s, e, value=10**16)
    assert _snapshot(protocol, tid, s) == before


def test_attack_retired_template__refused_listed_markets_keep_trading(protocol):
    tid = protocol.approve_template("RET")
    s, e = next_day(_now())
    mid = protocol.list_from_template(tid, s, e)
    with boa.env.prank(protocol.owner):
        protocol.registry.retire_template(tid)
    s2, e2 = next_day(_now(), 2)

    with boa.env.prank(_funded("mallory")), boa.reverts("SeriesRegistry: template retired"):
        protocol.registry.list_from_template(tid, s2, e2, value=10**16)
    assert protocol.registry.market_of(tid, s2) == 0
    protocol.set_mark(mid, 45_000_000)
    assert protocol.clearinghouse.mark(mid)[2] is True


def test_attack_unknown_template__refused(protocol):
    s, e = next_day(_now())
    with boa.env.prank(_funded("mallory")), boa.reverts("SeriesRegistry: unknown template"):
        protocol.registry.list_from_template(7, s, e, value=0)


@pytest.mark.parametrize("value", [0, 10**16 - 1, 10**16 + 1, 10**18])
def test_attack_underpay_or_overpay_bond__refused(protocol, value):
    tid = protocol.approve_template("BOND")
    s, e = next_day(_now())
    bal = boa.env.get_balance(protocol.registry.address)

    with boa.env.prank(_funded("mallory")), boa.reverts("SeriesRegistry: bad bond"):
        protocol.registry.list_from_template(tid, s, e, value=value)
    assert boa.env.get_balance(protocol.registry.address) == bal


def test_attack_list_series_market_directly__refused(protocol):
    # only the registry may list for anyone: a direct call would skip the template checks
    with boa.env.prank(_funded("mallory")), boa.reverts("Clearinghouse: not series registry"):
        protocol.clearinghouse.list_series_market(
            1, b"\x01" * 32, b"\x02" * 32, 10_000 | (1 << 64) | (1 << 128), 1, b"\x00" * 32
        )
