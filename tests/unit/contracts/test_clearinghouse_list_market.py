"""Clearinghouse.list_market: the owner lists a market (ids from 1) within hard bounds."""

import boa
import pytest

from tests.utils.contract_helpers import MARKET_PARAM_REJECTIONS, events, now
from tests.utils.deployers import MARKET_FIELDS, default_market, feed_id

MARK_FEED, SETTLE_FEED = feed_id("LIST/MARK"), feed_id("LIST/SETTLE")
ZERO32 = b"\x00" * 32
DAY = 86_400


def _market(**overrides):
    mark = overrides.pop("mark_feed", MARK_FEED)
    settle = overrides.pop("settlement_feed", SETTLE_FEED)
    return default_market(mark, settle, now(), **overrides)


def _list(clearinghouse, owner, **overrides):
    with boa.env.prank(owner):
        return clearinghouse.list_market(_market(**overrides))


def test_list_market__owner__stored_with_next_id(clearinghouse, owner):
    m = _market()
    with boa.env.prank(owner):
        mid = clearinghouse.list_market(m)

    (log,) = events(clearinghouse, "MarketListed")
    assert mid == 1
    assert clearinghouse.market_count() == 1
    assert tuple(clearinghouse.market(1)) == m
    assert (log.market_id, log.spec_hash, log.mark_feed, log.settlement_feed) == (1, m[0], MARK_FEED, SETTLE_FEED)
    assert (log.delivery_start, log.delivery_end, log.last_trade_time) == m[3:6]
    assert clearinghouse.market_state(1) == (False, False, 0, 0)


def test_list_market__second__next_id(clearinghouse, owner):
    _list(clearinghouse, owner)

    assert _list(clearinghouse, owner, spec_hash=feed_id("other spec")) == 2
    assert clearinghouse.market_count() == 2


@pytest.mark.parametrize(
    "overrides",
    [
        dict(last_trade_time=None),  # = delivery_end
        dict(delivery_start=0),  # delivery already started: hourly markets list late
        dict(quantity_step=1, min_quantity=1, price_tick=1_000),  # tick x step = 1000
        dict(quantity_step=8, min_quantity=9, price_tick=125),  # 8 * 125 = 1000
        dict(im_fixed=0, im_rate_bps=10_000, mm_fixed=0, mm_rate_bps=1),  # rate-only margin
        dict(im_fixed=1, im_rate_bps=0, mm_fixed=1, mm_rate_bps=0),  # fixed-only margin
        dict(max_price_age=60, dispute_window=600, oi_cap=1),
        dict(max_price_age=7 * DAY, dispute_window=7 * DAY),
    ],
)
def test_list_market__parameters_at_bounds__accepted(clearinghouse, owner, overrides):
    overrides = dict(overrides)
    if overrides.get("last_trade_time", 1) is None:
        overrides["last_trade_time"] = now() + 40 * DAY
    mid = _list(clearinghouse, owner, **overrides)

    stored = dict(zip(MARKET_FIELDS, clearinghouse.market(mid), strict=False))
    assert {k: stored[k] for k in overrides} == overrides


REJECTIONS = [
    (dict(mark_feed=ZERO32), "Clearinghouse: zero feed"),
    (dict(settlement_feed=ZERO32), "Clearinghouse: zero feed"),
    (dict(settlement_feed=MARK_FEED), "Clearinghouse: same feed"),
    (dict(delivery_start=2 * 10**9, delivery_end=2 * 10**9), "Clearinghouse: bad delivery window"),
    (dict(delivery_start=2 * 10**9 + 1, delivery_end=2 * 10**9), "Clearinghouse: bad delivery window"),
    (dict(last_trade_time="now"), "Clearinghouse: bad last trade time"),
    (dict(last_trade_time="end+1"), "Clearinghouse: bad last trade time"),
    (dict(quantity_step=0, min_quantity=0), "Clearinghouse: bad quantity step"),
    (dict(quantity_step=10, min_quantity=9), "Clearinghouse: bad quantity step"),
    (dict(price_tick=0), "Clearinghouse: bad tick"),
    (dict(quantity_step=1, price_tick=999), "Clearinghouse: tick x step not whole"),
    (dict(quantity_step=3, min_quantity=3, price_tick=500), "Clearinghouse: tick x step not whole"),
    *MARKET_PARAM_REJECTIONS,
]


@pytest.mark.parametrize(
    "overrides, reason", REJECTIONS, ids=[r[1].split(": ")[1] + f"-{i}" for i, r in enumerate(REJECTIONS)]
)
def test_list_market__invalid_parameter__reverts(clearinghouse, owner, snapshot, overrides, reason):
    overrides = dict(overrides)
    end = overrides.get("delivery_end", now() + 40 * DAY)
    if overrides.get("last_trade_time") == "now":
        overrides["last_trade_time"] = now()
    elif overrides.get("last_trade_time") == "end+1":
        overrides["last_trade_time"] = end + 1
    elif "delivery_end" in overrides:
        overrides["last_trade_time"] = end
    before = snapshot()

    with boa.env.prank(owner), boa.reverts(reason):
        clearinghouse.list_market(_market(**overrides))

    assert snapshot() == before
    assert clearinghouse.market_count() == 0


def test_list_market__non_owner__reverts(clearinghouse, non_owner, snapshot):
    before = snapshot()

    with boa.env.prank(non_owner), boa.reverts("ownable: caller is not the owner"):
        clearinghouse.list_market(_market())

    assert snapshot() == before


def test_list_market__guardian__reverts(clearinghouse, guardian, snapshot):
    before = snapshot()

    with boa.env.prank(guardian), boa.reverts("ownable: caller is not the owner"):
        clearinghouse.list_market(_market())

    assert snapshot() == before
