"""core.margin.screen_cells: the same screen over a sparse book (cells), against the exact integer
rule, in the exact regime and in the conservative one; and the dense screen is that same code."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from core import margin as cm

N_ACCOUNTS, N_MARKETS = 9, 40  # many markets, few held per account: the shape at scale


@st.composite
def sparse_book(draw, max_q: int, max_px: int, max_coll: int, max_fixed: int):
    cells = draw(
        st.sets(st.tuples(st.integers(0, N_ACCOUNTS - 1), st.integers(0, N_MARKETS - 1)), min_size=0, max_size=60)
    )
    cells = draw(st.permutations(sorted(cells)))  # any order
    q = [draw(st.integers(-max_q, max_q)) for _ in cells]  # zeros allowed: closed positions stay as cells
    on = [0 if x == 0 else draw(st.integers(-(max_q * max_px // 1000 + 1), max_q * max_px // 1000 + 1)) for x in q]
    coll = [draw(st.integers(0, max_coll)) for _ in range(N_ACCOUNTS)]
    ints = lambda lo, hi: st.lists(st.integers(lo, hi), min_size=N_MARKETS, max_size=N_MARKETS)  # noqa: E731
    bools = st.lists(st.booleans(), min_size=N_MARKETS, max_size=N_MARKETS)
    mv = cm.MarketVector(
        list(range(1, N_MARKETS + 1)),
        np.array(draw(ints(-max_px, max_px)), float),
        np.array(draw(bools)),
        np.array(draw(ints(0, max_fixed)), float),
        np.array(draw(ints(0, 10_000)), float),
        np.array(draw(bools)),
        np.array(draw(bools)),
    )
    return cells, q, on, coll, mv


def _check(data, exact_expected: bool):
    cells, q, on, coll, mv = data
    c = cm.Cells(
        np.array([r for r, _ in cells], np.int32),
        np.array([j for _, j in cells], np.int32),
        np.array(q, float),
        np.array(on, float),
        N_ACCOUNTS,
    )
    r = cm.screen_cells(c, np.array(coll, float), mv)
    for i in range(N_ACCOUNTS):
        legs = [
            cm.Leg(
                q[k],
                on[k],
                int(mv.mark[j]),
                cm.Risk(0, 0, int(mv.mm_fixed[j]), int(mv.mm_rate_bps[j])),
                bool(mv.fresh[j]),
                bool(mv.halted[j]),
                bool(mv.settled[j]),
            )
            for k, (row, j) in enumerate(cells)
            if row == i
        ]
        s = cm.summarise(coll[i], legs)
        if s.unhealthy:
            assert r.liquidatable[i]
        if s.open_markets and s.equity <= 0:
            assert r.insolvent[i]
        if exact_expected:
            assert r.error[i] == 0
            assert (r.equity[i], r.maintenance[i], r.stale_margin[i]) == (s.equity, s.maintenance, s.stale_margin)
            assert bool(r.liquidatable[i]) == s.unhealthy and bool(r.fresh[i]) == s.fresh
        elif r.liquidatable[i] and not s.unhealthy:
            assert s.equity - s.stale_margin - s.maintenance < r.error[i]


@settings(max_examples=120, deadline=None)
@given(sparse_book(max_q=50_000, max_px=10**7, max_coll=10**12, max_fixed=10**6))
def test_screen_cells__small_books__is_the_exact_rule(data):
    _check(data, exact_expected=True)


@settings(max_examples=120, deadline=None)
@given(sparse_book(max_q=2**40, max_px=2**22, max_coll=2**62, max_fixed=2**40))
def test_screen_cells__huge_books__conservative_within_its_bound(data):
    _check(data, exact_expected=False)


def test_screen__dense_is_the_sparse_screen_over_its_nonzero_cells():
    rng = np.random.default_rng(2)
    q = rng.integers(-50_000, 50_000, (30, 6)) * (rng.random((30, 6)) < 0.4)
    on = rng.integers(-(10**9), 10**9, (30, 6)) * (q != 0)
    coll = rng.integers(0, 10**10, 30).astype(float)
    mv = cm.MarketVector(
        [1, 2, 3, 4, 5, 6],
        np.array([45e6, -12e6, 2.5e6, 0, 9e9, 7e6]),
        np.array([True, True, False, True, True, True]),
        np.array([200e6, 160e6, 40e6, 15e6, 300e6, 1e6]),
        np.array([2500, 2500, 2000, 1500, 5000, 10]),
        np.array([False, False, False, True, False, False]),
        np.array([False, False, False, False, True, False]),
    )
    d = cm.screen(q, on, coll, mv)
    s = cm.screen_cells(cm.Cells.from_dense(q, on), coll, mv)
    for f in ("equity", "maintenance", "stale_margin", "liquidatable", "insolvent", "fresh", "error", "shortfall"):
        assert np.array_equal(getattr(d, f), getattr(s, f)), f


def test_screen_cells__accounts_without_cells__collateral_only():
    mv = cm.MarketVector.empty([1])
    r = cm.screen_cells(
        cm.Cells(np.zeros(0, int), np.zeros(0, int), np.zeros(0), np.zeros(0), 3), np.array([1.0, -5.0, 0.0]), mv
    )
    assert r.equity.tolist() == [1.0, -5.0, 0.0] and not r.liquidatable.any() and not r.insolvent.any()
