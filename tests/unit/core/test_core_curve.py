"""core.curve: filters, paging, strips, axes and the settlement calendar over real specs."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from core import curve
from core.curve import CurveError, Record
from core.specs import compute_spec, day_window, month_window, power_spec, spread_spec, symbol

CHI = "America/Chicago"
USD = 1_000_000  # base units per USD (USDC 6 decimals), only to write test prices readably


def power(mid, node, profile, start, end, mark=None, status="live", **kw):
    spec = power_spec("ERCOT", node, "DA", profile, start, end, CHI)
    return Record(
        mid, symbol(spec), "POWER", spec, start, end, end, 10_000, status=status, mark_units=mark,
        mark_observed_at=1 if mark is not None else 0, dispute_window=3600, **kw,
    )  # fmt: skip


def gpu(mid, y, m, mark=None, status="live", **kw):
    s, e = month_window(y, m, "UTC")
    spec = compute_spec("H100-SXM", s, e)
    return Record(mid, symbol(spec), "COMPUTE", spec, s, e, e, 1_000, status=status, mark_units=mark, **kw)


@pytest.fixture
def book():
    """A West-hub PEAK strip over 6 months, an ATC day, a GPU strip and a spread."""
    out = []
    mid = 1
    for i, (y, m) in enumerate([(2026, 12), (2027, 1), (2027, 2), (2027, 3), (2027, 4), (2027, 5)]):
        s, e = month_window(y, m, CHI)
        out.append(power(mid, "HB_WEST", "PEAK", s, e, mark=(60 - i) * USD, open_interest_units=1000 * i))
        mid += 1
    s, e = day_window(dt.date(2026, 11, 20), CHI)
    out.append(power(mid, "HB_WEST", "ATC", s, e, mark=-3 * USD))  # negative marks are prices too
    mid += 1
    s, e = month_window(2026, 12, CHI)
    out.append(power(mid, "HB_NORTH", "PEAK", s, e, mark=55 * USD))
    mid += 1
    for y, m in [(2027, 1), (2026, 12)]:
        out.append(gpu(mid, y, m, mark=2 * USD))
        mid += 1
    sp = spread_spec(compute_spec("H100-SXM", s, e), power_spec("ERCOT", "HB_WEST", "DA", "ATC", s, e, CHI), "0.0012")
    out.append(Record(mid, symbol(sp), "SPREAD", sp, s, e, e, 1_000, mark_units=1_900_000))
    return out


def test_series_symbol__drops_the_period_label_only():
    assert curve.series_symbol("ERCOT.HB_WEST.DA.PEAK.2026-12") == "ERCOT.HB_WEST.DA.PEAK"
    assert curve.series_symbol("H100-SXM.2026-12") == "H100-SXM"
    assert curve.series_symbol("ERCOT.HB_WEST.DA.HOURLY.2026-12-03HE15") == "ERCOT.HB_WEST.DA.HOURLY"
    assert curve.series_symbol("SPREAD.H100-SXM.HB_WEST.2026-12") == "SPREAD.H100-SXM.HB_WEST"


def test_select__node_words_and_kind(book):
    west = curve.select(book, node="hb_west")
    assert {r.kind for r in west} == {"POWER", "SPREAD"}  # the spread's power leg is at HB_WEST
    peak = curve.select(book, words=["HB_WEST", "PEAK"])
    assert [r.period for r in peak] == ["2026-12", "2027-01", "2027-02", "2027-03", "2027-04", "2027-05"]
    assert [r.kind for r in curve.select(book, kind="compute")] == ["COMPUTE", "COMPUTE"]
    # curve order: series, then delivery start (the GPU months were listed out of order)
    assert [r.period for r in curve.select(book, series="H100-SXM")] == ["2026-12", "2027-01"]


def test_select__window_range_in_the_series_local_days(book):
    # Dec 2026 in Chicago starts 2026-12-01 06:00 UTC: its local first day is Dec 1, in range
    got = curve.select(book, words=["PEAK"], node="HB_WEST", start=curve.parse_day("2027-01"),
                       end=curve.parse_day("2027-03", end=True))  # fmt: skip
    assert [r.period for r in got] == ["2027-01", "2027-02", "2027-03"]
    assert curve.parse_day("2027-02", end=True) == dt.date(2027, 2, 28)
    assert [r.period for r in curve.select(book, start=dt.date(2026, 11, 20), end=dt.date(2026, 11, 20))] == [
        "2026-11-20"
    ]


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"kind": "GAS"}, "POWER, COMPUTE, SPREAD"),
        ({"statuses": ["open"]}, "live, stale"),
        ({"start": dt.date(2027, 2, 1), "end": dt.date(2027, 1, 1)}, "before it starts"),
    ],
)
def test_select__bad_filters__refused_with_the_fix(book, kwargs, words):
    with pytest.raises(CurveError, match=words):
        curve.select(book, **kwargs)


def test_parse_day__bad_text__says_the_format():
    for bad in ("Dec 2026", "2026-13", "2026-02-30", ""):
        with pytest.raises(CurveError, match="2026-12-05"):
            curve.parse_day(bad)


def test_page__offset_and_cursor_walk_every_record_once(book):
    rows = curve.select(book)
    seen, cursor = [], None
    while True:
        p = curve.page(rows, limit=3, cursor=cursor)
        seen += [r.id for r in p.items]
        assert p.total == len(rows)
        cursor = p.next_cursor
        if cursor is None:
            break
    assert seen == [r.id for r in rows]
    assert [r.id for r in curve.page(rows, limit=3, offset=3).items] == seen[3:6]


def test_page__cursor_is_stable_when_markets_are_listed_meanwhile(book):
    rows = curve.select(book)
    first = curve.page(rows, limit=4)
    s, e = month_window(2026, 6, CHI)  # a window earlier than every PEAK month: sorts before the cursor
    grown = curve.select([*book, power(99, "HB_WEST", "PEAK", s, e, mark=70 * USD)])
    nxt = curve.page(grown, limit=4, cursor=first.next_cursor)
    assert [r.id for r in nxt.items] == [r.id for r in rows[4:8]]  # no repeat, no skip


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"limit": 0}, "between 1 and 500"),
        ({"limit": 501}, "between 1 and 500"),
        ({"offset": -1}, "0 or more"),
        ({"cursor": "%%%not-base64"}, "start again"),
        ({"cursor": "bm9wZQ"}, "start again"),  # valid base64, not a cursor
    ],
)
def test_page__bad_arguments__refused(book, kwargs, words):
    with pytest.raises(CurveError, match=words):
        curve.page(curve.select(book), **kwargs)


def test_page__cursor_and_offset_together__refused(book):
    rows = curve.select(book)
    with pytest.raises(CurveError, match="not both"):
        curve.page(rows, limit=2, offset=2, cursor=curve.page(rows, limit=2).next_cursor)


def test_strips__one_per_series_points_in_delivery_order_settled_left_out(book):
    s, e = month_window(2026, 11, CHI)
    settled = power(50, "HB_WEST", "PEAK", s, e, mark=80 * USD, status="settled", settlement_units=81 * USD)
    got = {st.series: st for st in curve.strips([*book, settled])}
    assert set(got) == {
        "ERCOT.HB_WEST.DA.PEAK", "ERCOT.HB_WEST.DA.ATC", "ERCOT.HB_NORTH.DA.PEAK", "H100-SXM", "SPREAD.H100-SXM.HB_WEST"
    }  # fmt: skip
    peak = got["ERCOT.HB_WEST.DA.PEAK"]
    assert [p.period for p in peak.points][:2] == ["2026-12", "2027-01"] and peak.tz == CHI
    assert [p.period for p in got["H100-SXM"].points] == ["2026-12", "2027-01"]
    with_hist = {st.series: st for st in curve.strips([*book, settled], include_settled=True)}
    assert with_hist["ERCOT.HB_WEST.DA.PEAK"].points[0].id == 50
    assert curve.curve_value(settled) == 81 * USD  # a settled point plots its settlement, not its last mark


def test_axes__sized_to_what_is_listed_with_padding(book):
    peak = curve.strips(curve.select(book, words=["HB_WEST", "PEAK"]))
    ax = curve.axes(peak)
    assert ax.x_min == month_window(2026, 12, CHI)[0] and ax.x_max == month_window(2027, 5, CHI)[1]
    assert ax.y_min < 55 * USD and ax.y_max > 60 * USD  # marks 55..60, padded
    assert ax.y_max - ax.y_min < 6 * USD  # but not drawn from zero
    flat = curve.axes(curve.strips([gpu(1, 2026, 12, mark=2 * USD)]))
    assert flat.y_min < 2 * USD < flat.y_max
    assert curve.axes([]) is None and curve.axes(curve.strips([gpu(1, 2026, 12)])) is None


def test_basis__mark_minus_index_only_when_both_known(book):
    r = book[0]
    assert r.basis_units is None
    assert Record(**{**r.__dict__, "index_units": 58 * USD}).basis_units == 2 * USD


def test_settlement_calendar__fixing_order_times_and_values(book):
    s, e = month_window(2026, 11, CHI)
    settled = power(50, "HB_WEST", "PEAK", s, e, mark=80 * USD, status="settled", settlement_units=81 * USD)
    cal = curve.settlement_calendar([*book, settled])
    assert [c.fixes_at for c in cal] == sorted(c.fixes_at for c in cal)
    first = cal[0]
    assert first.market.id == 7  # the ATC day of 20 Nov fixes first
    nov = next(c for c in cal if c.market.id == 50)
    assert nov.value_units == 81 * USD and nov.value_is_final
    dec = next(c for c in cal if c.market.id == 1)
    assert dec.value_units == 60 * USD and not dec.value_is_final  # the mark: the expectation
    assert dec.fixes_at == dec.market.delivery_end and dec.final_from == dec.fixes_at + 3600
    lo, hi = month_window(2027, 1, CHI)[0], month_window(2027, 3, CHI)[0]
    window = curve.settlement_calendar(book, start=lo, end=hi)
    assert window and all(lo <= c.fixes_at < hi for c in window)
    assert {c.market.period for c in window if c.market.kind == "POWER"} == {"2026-12", "2027-01"}  # Feb fixes Mar 1
    days = curve.calendar_days(cal, CHI)
    assert days[0][0] == dt.date(2026, 11, 21)  # the 20 Nov day fixes at local midnight ending it


def test_record__from_an_sdk_shaped_market():
    s, e = month_window(2026, 12, "UTC")
    spec = compute_spec("H100-SXM", s, e)
    m = SimpleNamespace(
        id=3, symbol=symbol(spec), kind="COMPUTE", spec=spec, delivery_start=s, delivery_end=e, last_trade_time=e,
        price_tick=1000, status=SimpleNamespace(value="stale"), mark=SimpleNamespace(price_units=0, observed_at=0),
        long_open_interest=5000, settlement_price_units=None, dispute_window=3600,
    )  # fmt: skip
    r = curve.record(m, index_units=2_100_000)
    assert r.status == "stale" and r.mark_units is None and r.index_units == 2_100_000 and r.series == "H100-SXM"
    assert r.open_interest_units == 5000
