"""core.margin.screen: the float64 vector screen is the exact rule where the floats are exact, and
conservative (never misses an unhealthy or insolvent account) with its stated bound elsewhere."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from core import margin as cm


def _exact(coll, q, on, mv: cm.MarketVector) -> cm.Summary:
    legs = [
        cm.Leg(
            int(q[j]),
            int(on[j]),
            int(mv.mark[j]),
            cm.Risk(0, 0, int(mv.mm_fixed[j]), int(mv.mm_rate_bps[j])),
            bool(mv.fresh[j]),
            bool(mv.halted[j]),
            bool(mv.settled[j]),
        )
        for j in range(len(mv.market_ids))
    ]
    return cm.summarise(int(coll), legs)


def _mv(mark, fresh, fixed, rate, halted, settled) -> cm.MarketVector:
    return cm.MarketVector(
        list(range(1, len(mark) + 1)),
        np.array(mark, dtype=float),
        np.array(fresh, bool),
        np.array(fixed, dtype=float),
        np.array(rate, dtype=float),
        np.array(halted, bool),
        np.array(settled, bool),
    )


M = 4


def book(max_q: int, max_px: int, max_coll: int, max_fixed: int, n: int = 12):
    ints = lambda hi: st.integers(-hi, hi)  # noqa: E731
    return st.tuples(
        hnp.arrays(np.int64, (n, M), elements=ints(max_q)),
        hnp.arrays(np.int64, (n, M), elements=ints(max_q * max_px // 1000 + 1)),
        hnp.arrays(np.int64, (n,), elements=st.integers(0, max_coll)),
        st.lists(ints(max_px), min_size=M, max_size=M),
        st.lists(st.booleans(), min_size=M, max_size=M),
        st.lists(st.integers(0, max_fixed), min_size=M, max_size=M),
        st.lists(st.integers(0, 10_000), min_size=M, max_size=M),
        st.lists(st.booleans(), min_size=M, max_size=M),
        st.lists(st.booleans(), min_size=M, max_size=M),
    )


def _check(data, exact_expected: bool):
    q, on, coll, mark, fresh, fixed, rate, halted, settled = data
    on = on * (q != 0)  # a flat position has no open notional (_apply_fill)
    mv = _mv(mark, fresh, fixed, rate, halted, settled)
    r = cm.screen(q.astype(float), on.astype(float), coll.astype(float), mv)
    for i in range(len(coll)):
        s = _exact(coll[i], q[i], on[i], mv)
        if s.unhealthy:
            assert r.liquidatable[i], (i, s, r.equity[i], r.maintenance[i], r.error[i])
        if s.open_markets and s.equity <= 0:
            assert r.insolvent[i]
        if exact_expected:
            assert r.error[i] == 0
            assert (r.equity[i], r.maintenance[i], r.stale_margin[i]) == (s.equity, s.maintenance, s.stale_margin)
            assert bool(r.liquidatable[i]) == s.unhealthy
        else:  # a false alarm only within the stated bound
            if r.liquidatable[i] and not s.unhealthy:
                assert s.equity - s.stale_margin - s.maintenance < r.error[i]
            assert abs(r.equity[i] - s.equity) <= r.error[i] and abs(r.maintenance[i] - s.maintenance) <= r.error[i]


@settings(max_examples=150, deadline=None)
@given(book(max_q=50_000, max_px=10**7, max_coll=10**12, max_fixed=10**6))
def test_screen__small_books__is_the_exact_rule(data):
    # up to 50 units at $10, $1 fixed margin: every product below 2**53, so the floats are exact
    _check(data, exact_expected=True)


@settings(max_examples=150, deadline=None)
@given(book(max_q=10**8, max_px=10**10, max_coll=10**13, max_fixed=10**9))
def test_screen__realistic_books__conservative_within_its_bound(data):
    # 100,000 units at $10,000: the margin products pass 2**53; off by at most the bound
    _check(data, exact_expected=False)


@settings(max_examples=150, deadline=None)
@given(book(max_q=2**40, max_px=2**22, max_coll=2**62, max_fixed=2**40))
def test_screen__huge_books__conservative_within_its_bound(data):
    _check(data, exact_expected=False)


def test_screen__float_rounding_at_the_threshold__still_flags_the_account():
    """The attack on a naive float screen: an account whose exact equity is 1 base unit below MM
    but whose float equity rounds above it. The bound keeps it a candidate."""
    q = 2**40 + 1  # |q * mark| far above 2**53: the float product rounds
    mark = 2**33 + 7
    mv = _mv([mark], [True], [0], [100], [False], [False])
    exact_mm = cm.margin(q, 0, 100, mark)
    value = cm.value(q, mark)
    coll = exact_mm - value - 1  # exact: equity = MM - 1 -> unhealthy
    s = _exact(coll, [q], [0], mv)
    assert s.unhealthy and s.equity == s.maintenance - 1
    r = cm.screen(np.array([[float(q)]]), np.array([[0.0]]), np.array([float(coll)]), mv)
    assert r.error[0] > 0 and r.liquidatable[0]
