"""Market-maker quoting logic: spread, tick rounding, inventory skew, risk limits, refresh."""

from __future__ import annotations

from dataclasses import replace

from matcher_helpers import FakeChain

from apps.marketmaker import MarketMaker, QuoteParams

M = FakeChain().markets[1]  # mark $2.50, tick 0.001, step 0.1, min 1


def test_quotes__flat__symmetric_around_mark_on_tick():
    qs = MarketMaker(QuoteParams(spread_bps=100, levels=1, size=10_000)).quotes(M, 0, 10**10, 0)
    bid, ask = qs
    assert bid.is_buy and not ask.is_buy
    assert (bid.price, ask.price) == (2_487_000, 2_513_000)  # +-0.5 % then onto the tick
    assert bid.price % M.price_tick == 0 and ask.quantity == 10_000


def test_quotes__long_inventory__shifts_quotes_down_and_caps_bids():
    mm = MarketMaker(QuoteParams(levels=2, size=30_000, max_position=100_000, skew_bps=100))
    flat = mm.quotes(M, 0, 10**10, 0)
    long = mm.quotes(M, 80_000, 10**10, 0)
    assert long[0].price < flat[0].price and long[1].price < flat[1].price
    assert sum(q.quantity for q in long if q.is_buy) == 20_000  # only up to +max_position
    assert sum(q.quantity for q in long if not q.is_buy) == 60_000


def test_quotes__margin_usage_above_limit__only_reducing_side():
    qs = MarketMaker(QuoteParams(max_margin_usage=0.5)).quotes(M, -15_000, 100, 60)
    assert qs and all(q.is_buy for q in qs) and sum(q.quantity for q in qs) <= 15_000


def test_quotes__negative_mark__bid_below_ask_both_on_tick():
    m = replace(M, mark=-12_340_000, price_tick=10_000)
    bid, ask = MarketMaker(QuoteParams(levels=1)).quotes(m, 0, 10**10, 0)
    assert bid.price < -12_340_000 < ask.price and bid.price % 10_000 == 0 and ask.price % 10_000 == 0


def test_quotes__stale_mark__no_quotes():
    assert MarketMaker().quotes(replace(M, mark_fresh=False), 0, 10**10, 0) == []


def test_needs_refresh__mark_move_fills_and_expiry():
    mm = MarketMaker(QuoteParams(refresh_bps=20))
    assert mm.needs_refresh(None, 100, 4, 4, 1e12, 0)
    assert not mm.needs_refresh(2_500_000, 2_504_000, 4, 4, 1e12, 0)  # 16 bps
    assert mm.needs_refresh(2_500_000, 2_506_000, 4, 4, 1e12, 0)  # 24 bps
    assert mm.needs_refresh(2_500_000, 2_500_000, 3, 4, 1e12, 0)  # a quote was filled
    assert mm.needs_refresh(2_500_000, 2_500_000, 4, 4, 100, 50)  # about to expire


def test_quote_market_of__sdk_market__status_decides_quoting():
    """The runner reads markets with sdk.Client; QuoteMarket.of maps the SDK's Market onto what
    quoting reads: same quotes as the relay's view of that market, none where trading stopped."""
    from apps.marketmaker import QuoteMarket
    from sdk.models import Mark, Market, MarketStatus

    base = Market(
        id=1,
        symbol="H100",
        kind="COMPUTE",
        spec={},
        spec_hash="0x",
        mark_feed="0x",
        settlement_feed="0x",
        delivery_start=0,
        delivery_end=1,
        last_trade_time=M.last_trade_time,
        quantity_step=M.quantity_step,
        min_quantity=M.min_quantity,
        price_tick=M.price_tick,
        im_fixed=M.im_fixed,
        im_rate_bps=M.im_rate_bps,
        mm_fixed=1,
        mm_rate_bps=1,
        max_price_age=3600,
        dispute_window=600,
        oi_cap=10**9,
    )
    live = replace(base, status=MarketStatus.LIVE, mark=Mark(1, "0x", M.mark, 1, True))
    mm = MarketMaker(QuoteParams(levels=2))
    assert mm.quotes(QuoteMarket.of(live), 0, 10**10, 0) == mm.quotes(M, 0, 10**10, 0)
    for status, fresh in (
        (MarketStatus.HALTED, True),
        (MarketStatus.SETTLING, True),
        (MarketStatus.SETTLED, True),
        (MarketStatus.STALE, False),
    ):
        m = replace(live, status=status, mark=Mark(1, "0x", M.mark, 1, fresh))
        assert mm.quotes(QuoteMarket.of(m), 0, 10**10, 0) == [], status
    assert mm.quotes(QuoteMarket.of(replace(live, mark=None)), 0, 10**10, 0) == []  # never reported
