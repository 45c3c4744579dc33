"""scripts.margins: the backtest maths on small hand-checked series (no data files needed)."""

from __future__ import annotations

import numpy as np
import pytest

from scripts import margins as M

# a tiny series: marks at the start and end of five days; the fourth day lies in the Uri window
MARK0 = np.array([40.0, 42.0, 38.0, 50.0, 45.0])
MARK1 = np.array([42.0, 38.0, 38.5, 950.0, 30.0])
URI = np.array([False, False, False, True, False])
# MM 3 + 10% x |mark0|: 7.0, 7.2, 6.8, 8.0, 7.5; IM 5 + 20%: 13, 13.4, 12.6, 15, 14
LEVELS = M.SideLevels(im=M.Level(5.0, 0.20), mm=M.Level(3.0, 0.10))


def test_losses__long_loses_on_a_fall_short_on_a_rise():
    assert M.losses(MARK0, MARK1, "long").tolist() == [-2.0, 4.0, -0.5, -900.0, 15.0]
    assert M.losses(MARK0, MARK1, "short").tolist() == [2.0, -4.0, 0.5, 900.0, -15.0]
    with pytest.raises(ValueError, match="side must be long or short"):
        M.losses(MARK0, MARK1, "flat")


def test_backtest__a_loss_beyond_mm_is_counted_and_sides_are_separate():
    long = M.backtest_side(MARK0, MARK1, URI, "long", LEVELS)
    # long losses outside Uri: -2, 4, -0.5, 15; only 15 > MM 7.5 (and > IM 14)
    assert (long.n, long.mm_exceeded, long.im_exceeded, long.worst) == (4, 1, 1, 15.0)
    assert long.mm_coverage == pytest.approx(0.75)
    short = M.backtest_side(MARK0, MARK1, URI, "short", LEVELS)
    # short losses outside Uri: 2, -4, 0.5, -15: none beyond MM; the 900 is a Uri day
    assert (short.n, short.mm_exceeded, short.im_exceeded, short.worst) == (4, 0, 0, 2.0)
    assert short.mm_coverage == 1.0


def test_backtest__uri_days_are_excluded_from_coverage_and_reported_apart():
    short = M.backtest_side(MARK0, MARK1, URI, "short", LEVELS)
    assert (short.n_uri, short.uri_mm_exceeded, short.uri_worst) == (1, 1, 900.0)
    # an account at exactly MM (3 + 10% x 50 = 8) leaves 900 - 8 per unit to the fund / ADL
    assert short.uri_deficit == pytest.approx(892.0)
    long = M.backtest_side(MARK0, MARK1, URI, "long", LEVELS)
    assert (long.n_uri, long.uri_mm_exceeded, long.uri_deficit) == (1, 0, 0.0)
    # the same day outside the window would have broken the short side's coverage
    moved = M.backtest_side(MARK0, MARK1, np.zeros(5, bool), "short", LEVELS)
    assert (moved.n, moved.mm_exceeded) == (5, 1)


def test_uri_window_is_february_2021_central():
    feb1, mar1 = M.URI
    day = 86_400
    assert M.in_uri(
        np.array([feb1 - day, feb1, mar1 - day, mar1]), np.array([feb1, feb1 + day, mar1, mar1 + day])
    ).tolist() == [
        False,
        True,
        True,
        False,
    ]


def test_fit_side__small_sample_covers_every_day_with_headroom():
    lvl = M.fit_side(MARK0, MARK1, URI, "long", rates=(0.0,))
    assert lvl == M.Level(15.0 * M.SMALL_HEADROOM, 0.0)
    assert M.backtest_side(MARK0, MARK1, URI, "long", M.SideLevels(lvl, lvl)).mm_exceeded == 0


def test_fit_side__large_sample_meets_the_target_outside_uri_only():
    rng = np.random.default_rng(7)
    m0 = rng.uniform(20, 80, 2_000)
    m1 = m0 + rng.standard_t(3, 2_000) * 3
    uri = np.zeros(2_000, bool)
    uri[:30] = True
    m1[:30] = m0[:30] + 5_000  # storm days must not drive the fit
    for side in M.SIDES:
        lvl = M.fit_side(m0, m1, uri, side)
        r = M.backtest_side(m0, m1, uri, side, M.SideLevels(lvl, lvl))
        assert r.mm_coverage >= M.TARGET and lvl.fixed < 100
        assert r.uri_mm_exceeded == 30 if side == "short" else r.uri_mm_exceeded == 0


def test_best_credit__largest_grid_credit_that_still_covers():
    loss = np.array([0.8] * 99 + [8.5])
    req = np.full(100, 10.0)
    # 99% needs (1 - c) x 10 >= 0.8 on 99 days: c <= 0.92, 0.9 on the grid; the 8.5 may be exceeded once
    assert M.best_credit(loss, req, 0.99) == 0.9
    # every day: (1 - c) x 10 >= 8.5, c <= 0.15
    assert M.best_credit(loss, req, 1.0) == 0.15
    assert M.best_credit(np.full(100, 11.0), req, 0.99) == 0.0


def test_spread_pairs__every_gpu_day_with_every_power_day():
    gpu = M.Series(
        "g",
        "COMPUTE",
        "month",
        None,
        None,
        None,
        np.array(["a", "b"]),
        np.array([0, 1]),
        np.array([2.0, 2.1]),
        np.array([2.1, 2.0]),
        np.zeros(2, bool),
    )
    pw = M.Series(
        "HB_WEST ATC",
        "POWER",
        "month",
        "ERCOT",
        "HB_WEST",
        "ATC",
        np.array(["x", "y", "z"]),
        np.array([10, 11, 12]),
        np.array([40.0, 50.0, 60.0]),
        np.array([50.0, 40.0, 1060.0]),
        np.array([False, False, True]),
    )
    sp = M.spread_pairs(gpu, pw, ratio=0.001)
    assert len(sp) == 6 and sp.paths == 2 and sp.uri.sum() == 2
    # GPU day a (+0.1) with power day z (+1,000 MWh price): spread moves 0.1 - 1.0 = -0.9
    k = int(np.flatnonzero(sp.contract == "a|z")[0])
    assert sp.mark1[k] - sp.mark0[k] == pytest.approx(-0.9)


def test_today_levels__own_market_or_a_stated_analog():
    entries = M._default_entries()
    own = M.Series("ERCOT HB_WEST PEAK month", "POWER", "month", "ERCOT", "HB_WEST", "PEAK", *[np.zeros(0)] * 5)
    lv, tag = M.today_levels(own, entries)
    assert tag == "" and lv.mm == M.Level(40.0, 0.20) and lv.im == M.Level(60.0, 0.30)
    other = M.Series("ERCOT HB_NORTH ATC month", "POWER", "month", "ERCOT", "HB_NORTH", "ATC", *[np.zeros(0)] * 5)
    lv, tag = M.today_levels(other, entries)
    assert tag == " (analog)" and lv.mm == M.Level(40.0, 0.20)


def _month_series(key: str, t0, m0, m1, uri=None) -> M.Series:
    n = len(t0)
    return M.Series(
        key,
        "POWER",
        "month",
        "ERCOT",
        "X",
        "ATC",
        np.array(["2022-01"] * n),
        np.asarray(t0),
        np.asarray(m0, float),
        np.asarray(m1, float),
        np.zeros(n, bool) if uri is None else np.asarray(uri),
    )


def test_offset__credit_only_where_the_pair_still_covers():
    rng = np.random.default_rng(3)
    n = 400  # >= SMALL_SAMPLE days: the 99% rule applies
    t0 = np.arange(n) * 86_400
    base = rng.uniform(30, 60, n)
    move = rng.normal(0, 4, n)
    a = _month_series("a", t0, base, base + move)
    tight = _month_series("b", t0, base, base + move + rng.normal(0, 0.3, n))  # moves with a
    loose = _month_series("c", t0, base, base + rng.normal(0, 4, n))  # independent of a
    flat = M.SideLevels(M.Level(15.0, 0.0), M.Level(10.0, 0.0))  # MM 10 per unit on every leg
    prop = {k: {side: flat for side in M.SIDES} for k in ("a", "b", "c")}
    i = np.arange(n)
    hedged = M.offset_pair(a, tight, i, i, 1.0, prop)
    assert hedged.corr > 0.99 and hedged.credit >= 0.9
    assert min(hedged.coverage.values()) >= M.TARGET
    unhedged = M.offset_pair(a, loose, i, i, 1.0, prop)
    assert abs(unhedged.corr) < 0.2 and unhedged.credit < hedged.credit
    assert min(unhedged.coverage.values()) >= M.TARGET
    # the credited requirement of the loose pair would fail 99% with the tight pair's credit
    loss = -(a.mark1 - a.mark0) + (loose.mark1 - loose.mark0)
    assert np.mean(loss <= (1 - hedged.credit) * 20.0) < M.TARGET


def test_planner_case__the_sdk_plan_margined_today_and_with_the_proposal():
    from decimal import Decimal

    from sdk import hedge
    from tests.utils.sdk_helpers import NOW

    markets = M._markets_at(NOW)
    peak = next(m for m in markets if m.kind == "POWER" and m.spec["profile"] == "PEAK")
    reader = M.OfflineReader(markets, {peak.id: 40_000_000}, NOW, M.FEES_BPS)
    plan = hedge.hedge_power(reader, "HB_WEST", 5, "PEAK", peak.period, side="buy")
    (o,) = plan.orders
    today = M.SideLevels(M.Level(60.0, 0.30), M.Level(40.0, 0.20))
    prop = {"long": M.SideLevels(M.Level(2.0, 0.05), M.Level(1.0, 0.02)), "short": today}
    case = M._case(plan, 40.0, today, prop, peak.period, False)
    q = float(o.quantity)
    assert o.side == "buy" and q == float(hedge.power_mwh(peak, Decimal(5)))
    assert case.today_im == pytest.approx(q * (60 + 0.30 * 40))  # the planner's own IM at the mark
    assert float(plan.margin_needed) >= case.today_im
    assert case.new_im == pytest.approx(q * (2 + 0.05 * 40))  # a long takes the long (down) levels
