"""Which marks the pusher keeps on chain (issue 10, "Marks at that scale"): only markets with open
interest, resting or crossing relay orders, or a first-mark request get marks, and only when a
value moved beyond the deviation threshold or the heartbeat (max_price_age minus a margin) is near;
feeds go out in submits of at most 32."""

from __future__ import annotations

import pytest

from keepers.pusher import (
    MAX_FEEDS_PER_SUBMIT,
    NEED_ALL,
    NEED_CROSSING,
    NEED_OI,
    NEED_ORDERS,
    NEED_REQUESTED,
    Bundle,
    FeedState,
    MarketMeta,
    PushPolicy,
    Resting,
    Row,
    chunks,
    heartbeat_of,
    honoured_requests,
    mark_trigger,
    medians_of,
    needed_markets,
    piggyback,
    resting_from_orders,
    settlement_due,
)

NOW = 1_800_000_000
HB = heartbeat_of(3600, 600, 1800)


def market(i: int, last_trade: int = NOW + 86_400, end: int = NOW + 90_000) -> MarketMeta:
    return MarketMeta(i, f"0x{i:064x}", f"0x{i + 1000:064x}", end, last_trade, 3600)


def mark(price=45_000_000, observed_at=NOW - 60, disputed=False, final=False, heartbeat=HB) -> FeedState:
    return FeedState(price, observed_at, observed_at, disputed, final, "mark", 0, 50, heartbeat)


def order_row(mid: int, is_buy: bool, price: int, expiry: int = NOW + 3600, status="open", remaining=1000) -> dict:
    return {
        "order": {"market_id": str(mid), "is_buy": is_buy, "price": str(price), "expiry": str(expiry)},
        "status": status,
        "remaining": str(remaining),
    }


# ------------------------------------------------------------------ needed_markets


def test_needed_markets__no_oi_no_orders_no_request__gets_no_mark():
    assert needed_markets([market(1), market(2)], {}, {}, set(), NOW) == {}


def test_needed_markets__each_reason__named():
    ms = [market(i) for i in range(1, 6)]
    resting = {2: Resting(1, 40_000_000, None), 3: Resting(2, 46_000_000, 45_000_000)}
    got = needed_markets(ms, {1: 5_000}, resting, {4}, NOW)
    assert got == {1: NEED_OI, 2: NEED_ORDERS, 3: NEED_CROSSING, 4: NEED_REQUESTED}


def test_needed_markets__open_interest_after_last_trade__still_needed_for_margin_and_liquidation():
    closed = market(1, last_trade=NOW - 1)
    assert needed_markets([closed], {1: 1}, {}, set(), NOW) == {1: NEED_OI}


def test_needed_markets__orders_or_request_after_last_trade__not_needed():
    closed = market(1, last_trade=NOW)
    assert needed_markets([closed], {}, {1: Resting(3, 1, 2)}, {1}, NOW) == {}


def test_needed_markets__zero_oi_entry__not_needed():
    assert needed_markets([market(1)], {1: 0}, {}, set(), NOW) == {}


def test_needed_markets__mode_all__every_live_market():
    assert needed_markets([market(1), market(2)], {}, {}, set(), NOW, "all") == {1: NEED_ALL, 2: NEED_ALL}


# ------------------------------------------------------------------ relay orders


def test_resting_from_orders__best_prices_count_and_crossing():
    rows = [
        order_row(7, True, 44_000_000),
        order_row(7, True, 45_500_000),
        order_row(7, False, 45_400_000),
        order_row(8, False, 50_000_000),
    ]
    got = resting_from_orders(rows, NOW)
    assert got[7] == Resting(3, 45_500_000, 45_400_000) and got[7].crossing
    assert got[8] == Resting(1, None, 50_000_000) and not got[8].crossing


def test_resting_from_orders__expired_filled_or_dead__ignored():
    rows = [
        order_row(7, True, 1, expiry=NOW),
        order_row(7, True, 1, status="filled"),
        order_row(7, False, 1, remaining=0),
    ]
    assert resting_from_orders(rows, NOW) == {}


def test_resting__negative_prices__crossing_compares_signed():
    assert Resting(2, -5_000_000, -6_000_000).crossing
    assert not Resting(2, -6_000_000, -5_000_000).crossing


# ------------------------------------------------------------------ deviation and heartbeat


def test_heartbeat_of__max_price_age_minus_margin_capped():
    assert heartbeat_of(3600, 600, 1800) == 1800
    assert heartbeat_of(3600, 600, 10**9) == 3000
    # a margin beyond the age must not mean "push every block"
    assert heartbeat_of(3600, 7200, 10**9) == 360


def test_mark_trigger__first_deviation_heartbeat_none():
    assert mark_trigger(mark(observed_at=0, price=0), 1, NOW) == "first"
    assert mark_trigger(mark(), 45_000_000 * 10_051 // 10_000, NOW) == "deviation"
    assert mark_trigger(mark(), 45_000_000 * 10_049 // 10_000, NOW) is None
    assert mark_trigger(mark(observed_at=NOW - HB), 45_000_000, NOW) == "heartbeat"
    assert mark_trigger(mark(observed_at=NOW - HB + 1), 45_000_000, NOW) is None


def test_mark_trigger__negative_and_zero_prices():
    assert mark_trigger(mark(price=-10_000_000), -10_100_000, NOW) == "deviation"
    assert mark_trigger(mark(price=0), 1, NOW) == "deviation"
    assert mark_trigger(mark(price=0), 0, NOW) is None


def test_mark_trigger__heartbeat_counts_from_observation_not_write():
    # written recently, but observed long ago: freshness on chain counts from observed_at
    st = FeedState(45_000_000, NOW - HB, NOW - 10, False, False, "mark", 0, 50, HB)
    assert mark_trigger(st, 45_000_000, NOW) == "heartbeat"


def test_mark_trigger__disputed_or_final__never_pushed():
    assert mark_trigger(mark(disputed=True, observed_at=0), 1, NOW) is None
    assert mark_trigger(mark(final=True), 99_000_000, NOW) is None


def test_settlement_due__once_after_delivery_end():
    st = FeedState(0, 0, 0, False, False, "settlement", NOW, 50, HB)
    assert settlement_due(st, NOW) and not settlement_due(st, NOW - 1)
    written = FeedState(1, NOW, NOW, False, False, "settlement", NOW, 50, HB)
    assert not settlement_due(written, NOW + 10)


# ------------------------------------------------------------------ first-mark requests (spam bound)


def test_honoured_requests__missing_or_stale_only__fresh_ignored():
    ms = [market(1), market(2), market(3)]
    feeds = {
        ms[0].mark_feed: mark(observed_at=0, price=0),
        ms[1].mark_feed: mark(observed_at=NOW - 60),  # fresh: a request changes nothing
        ms[2].mark_feed: mark(observed_at=NOW - 4000),  # stale
    }
    assert honoured_requests(ms, feeds, NOW, 32) == [1, 3]


def test_honoured_requests__attack_spam_every_market__at_most_cap_per_block():
    ms = [market(i) for i in range(1, 1001)]
    feeds = {m.mark_feed: mark(observed_at=0, price=0) for m in ms}
    got = honoured_requests(ms, feeds, NOW, MAX_FEEDS_PER_SUBMIT)
    assert got == list(range(1, 33))
    # once pushed, the same requests cost nothing until the heartbeat
    pushed = {m.mark_feed: mark(observed_at=NOW) for m in ms[:32]}
    assert honoured_requests(ms[:32], pushed, NOW + HB - 1, MAX_FEEDS_PER_SUBMIT) == []


def test_honoured_requests__closed_disputed_final__refused():
    ms = [market(1, last_trade=NOW), market(2), market(3)]
    feeds = {
        ms[0].mark_feed: mark(observed_at=0, price=0),
        ms[1].mark_feed: mark(observed_at=0, price=0, disputed=True),
        ms[2].mark_feed: mark(observed_at=0, price=0, final=True),
    }
    assert honoured_requests(ms, feeds, NOW, 32) == []


# ------------------------------------------------------------------ batching and medians


def test_chunks__at_most_32_feeds_per_submit():
    feeds = [f"0x{i:064x}" for i in range(70)]
    got = chunks(feeds)
    assert [len(c) for c in got] == [32, 32, 6] and sum(got, []) == feeds


@pytest.mark.parametrize("n", [0, 1, 32, 33])
def test_chunks__sizes(n):
    got = chunks(list(range(n)))
    assert all(0 < len(c) <= MAX_FEEDS_PER_SUBMIT for c in got) and sum(map(len, got)) == n


def test_medians_of__rows_with_different_feeds__median_per_feed_with_quorum():
    a, b, c = "0xa", "0xb", "0xc"
    rows = [
        Row("r1", (a, b), (10, 100), NOW, "s1", "0x"),
        Row("r2", (a, b), (12, 300), NOW, "s2", "0x"),
        Row("r3", (a, c), (11, 7), NOW, "s3", "0x"),
    ]
    # a: 3 rows -> 11; b: 2 rows (even: mean of the middle two) -> 200; c: 1 row < quorum 2
    assert medians_of(rows, 2) == {a: 11, b: 200}


# ------------------------------------------------------------------ piggyback


def test_piggyback__fills_the_last_submits_room_oldest_first():
    triggered = [f"0x{i:064x}" for i in range(30)]
    due = {"0xold": 1500, "0xmid": 1000, "0xnew": 950}
    assert piggyback(triggered, due) == ["0xold", "0xmid"]


def test_piggyback__nothing_triggered__no_submit_of_its_own():
    assert piggyback([], {"0xold": 1700}) == []


def test_piggyback__full_submit__no_room_no_extra_submit():
    assert piggyback([f"0x{i:064x}" for i in range(32)], {"0xold": 1700}) == []


def test_push_policy__caller_selected_heartbeat_counted_from_observation__safety_checks_only():
    # observed HB ago but written recently (a lagging report): mark_trigger says heartbeat, the
    # bundle-level rule (updated_at) would not; the pusher's own selection must not be vetoed
    f = "0x" + "11" * 32
    st = FeedState(45_000_000, NOW - HB, NOW - 10, False, False, "mark", 0, 50, HB)
    assert mark_trigger(st, 45_000_000, NOW) == "heartbeat"
    b = Bundle((f,), NOW, (Row("r1", (f,), (45_000_000,), NOW, "s1", "0x"),))
    assert not PushPolicy().decide(b, {f: st}, NOW).submit
    assert PushPolicy().decide(b, {f: st}, NOW, require_trigger=False).submit
    # the safety checks still apply: not newer than the stored observation
    old = Bundle((f,), NOW - HB, b.rows)
    assert not PushPolicy().decide(old, {f: st}, NOW, require_trigger=False).submit
