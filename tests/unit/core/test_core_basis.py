"""core.basis: the operator's price history parsed with clear errors, basis and hedge effectiveness."""

from __future__ import annotations

import random
import statistics
from decimal import Decimal

import numpy as np
import pytest

from core.basis import MAX_ROWS, BasisError, effectiveness, parse_history

D = Decimal


def test_parse__csv_with_header_comments_negative_and_grouped_prices():
    h = parse_history('date,price\n# my node\n2021-02-16,"1,234.50"\n\n2021-02-15,-12.5\n2021-02-17,$40\n')
    assert h.granularity == "day"
    assert h.prices == {"2021-02-15": D("-12.5"), "2021-02-16": D("1234.50"), "2021-02-17": D("40")}  # sorted


def test_parse__tab_and_semicolon_separated_months():
    assert parse_history("2021-01\t30.1\n2021-02\t31").prices == {"2021-01": D("30.1"), "2021-02": D("31")}
    assert parse_history("month;usd\n2021-01;30.1").granularity == "month"


@pytest.mark.parametrize(
    "text, words",
    [
        ("", "no prices given"),
        ("date,price\n", "no price lines found"),
        ("2021-02-17,45,2", "two values"),
        ('2021-02-17,"45,2"', "write decimals with a point (45.2)"),
        ("2021-02-30,4", "line 1: '2021-02-30' is not a calendar date"),
        ("17/02/2021,4", "write 2021-02-17 (a day) or 2021-02 (a month)"),
        ("2021-02-17T13:00,4", "has a time of day"),
        ("2021-13,4", "not a month"),
        ("2021-02-17,abc", "line 1: price 'abc' is not a number"),
        ("2021-02-17,NaN", "not a finite number"),
        ("2021-02-17,1\n2021-02,2", "line 2: 2021-02 is a month but earlier lines are days"),
        ("2021-02-17,1\n2021-02-17,2", "line 2: 2021-02-17 appears twice"),
    ],
)
def test_parse__bad_input__names_the_line_and_the_fix(text, words):
    with pytest.raises(BasisError, match=words.replace("(", r"\(").replace(")", r"\)")):
        parse_history(text)


def test_parse__too_many_rows__refused_not_truncated():
    import datetime as dt

    day = dt.date(2000, 1, 1)
    text = "\n".join(f"{day + dt.timedelta(days=i)},1" for i in range(MAX_ROWS + 1))
    with pytest.raises(BasisError, match="at most 4,000"):
        parse_history(text)


def test_effectiveness__constant_basis_is_a_perfect_hedge():
    idx = {f"2021-02-{d:02d}": D(30 + d * 3 % 7) for d in range(1, 11)}
    own = {p: v + D("2.50") for p, v in idx.items()}
    e = effectiveness(own, idx)
    assert e.mean_basis == D("2.50") and e.basis_sd == 0 and e.variance_reduction == 1
    assert e.hedge_ratio == 1 and e.r_squared == 1


def test_effectiveness__twice_the_index__ratio_two_one_for_one_removes_three_quarters():
    idx = {f"2021-{m:02d}": D(20 + m * m % 11) for m in range(1, 13)}
    own = {p: 2 * v for p, v in idx.items()}
    e = effectiveness(own, idx)
    assert e.hedge_ratio == 2 and e.r_squared == 1 and e.variance_reduction == D("0.75")


def test_effectiveness__matches_an_independent_regression():
    rng = random.Random(7)
    idx = {f"2021-03-{d:02d}": D(str(round(rng.uniform(-20, 90), 2))) for d in range(1, 31)}
    own = {p: (D("0.8") * v + D(str(round(rng.gauss(5, 6), 2)))).quantize(D("0.01")) for p, v in idx.items()}
    e = effectiveness(own, idx)
    x = np.array([float(idx[p]) for p in idx])
    y = np.array([float(own[p]) for p in idx])
    slope = np.polyfit(x, y, 1)[0]
    r2 = np.corrcoef(x, y)[0, 1] ** 2
    vr = 1 - np.var(y - x, ddof=1) / np.var(y, ddof=1)
    assert float(e.hedge_ratio) == pytest.approx(slope, rel=1e-9)
    assert float(e.r_squared) == pytest.approx(r2, rel=1e-9)
    assert float(e.variance_reduction) == pytest.approx(vr, rel=1e-9)
    assert float(e.mean_basis) == pytest.approx(statistics.fmean(y - x), rel=1e-9)


def test_effectiveness__only_overlapping_periods_missing_index_listed_never_filled():
    own = {"2021-02-14": D(1), "2021-02-15": D(2), "2021-02-16": D(3), "2021-02-17": D(4), "2022-01-01": D(9)}
    idx = {"2021-02-14": D(1), "2021-02-15": D(2), "2021-02-16": None, "2021-02-17": D(5)}
    e = effectiveness(own, idx)
    assert [r.period for r in e.rows] == ["2021-02-14", "2021-02-15", "2021-02-17"]
    assert e.missing_index == ("2021-02-16", "2022-01-01")


def test_effectiveness__too_little_overlap_or_flat_series__no_statistics():
    e = effectiveness({"2021-01": D(1), "2021-02": D(2)}, {"2021-01": D(1), "2021-02": D(2)})
    assert e.rows and e.mean_basis is None and e.r_squared is None
    flat = effectiveness({f"2021-0{m}": D(5) for m in range(1, 5)}, {f"2021-0{m}": D(m) for m in range(1, 5)})
    assert flat.variance_reduction is None and flat.r_squared is None and flat.hedge_ratio == 0
