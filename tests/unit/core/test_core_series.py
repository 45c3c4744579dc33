"""core.series: series hashes, feed classes and ids, the window rule and the windows due.

DST in America/Chicago: 2026-03-08 (spring forward, a 23 h day) and 2026-11-01 (fall back,
a 25 h day); March 2026 is 743 h long and November 2026 721 h."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from eth_utils import keccak

from core import series as S
from core import specs

ROOT = Path(__file__).resolve().parents[3]
CHI = ZoneInfo("America/Chicago")


def _t(y, m, d, h=0, tz=CHI) -> int:
    return int(dt.datetime(y, m, d, h, tzinfo=tz).timestamp())


def _entry(**over):
    e = {
        "spec": {
            "kind": "POWER",
            "iso": "ERCOT",
            "node": "HB_WEST",
            "market": "DA",
            "profile": "ATC",
            "tz": "America/Chicago",
        },
        "cadence": "daily",
        "last_trade": "delivery_start",
        "quantity_step": "0.001",
        "min_quantity": "0.1",
        "price_tick": "0.01",
        "im_fixed": "250",
        "im_rate": "0.50",
        "mm_fixed": "160",
        "mm_rate": "0.25",
        "max_price_age": 3600,
        "dispute_window": 3600,
        "oi_cap": "100000",
        "feed_bounds": ["-1000", "10000"],
        "bond": "0.01",
    }
    e.update(over)
    return e


# ---------------------------------------------------------------- hashes and ids


def test_series_spec_hash__window_fields__ignored():
    spec = _entry()["spec"]
    with_window = {**spec, "delivery_start": 0, "delivery_end": 3600}

    assert S.series_spec_hash(with_window) == S.series_spec_hash(spec)
    assert S.series_spec_hash(spec) == keccak(specs.canonical_json(spec).encode())


def test_market_spec_hash__abi_encoded_triple():
    h = b"\x11" * 32
    expected = keccak(h + (100).to_bytes(32, "big") + (200).to_bytes(32, "big"))

    assert S.market_spec_hash(h, 100, 200) == expected


def test_feed_class__low_80_bits_cleared():
    c = S.feed_class("ERCOT.HB_WEST.DA.PEAK", "MARK")
    full = keccak(text="ERCOT.HB_WEST.DA.PEAK/MARK")

    assert c[:22] == full[:22] and c[22:] == b"\x00" * 10


def test_feed_class__unknown_kind__raises():
    with pytest.raises(S.SeriesError, match="MARK"):
        S.feed_class("X", "PRICE")


def test_feed_id__roundtrip():
    c = S.feed_class("H100-SXM", "SETTLE")
    fid = S.feed_id(c, 1_700_000_000, 1_702_000_000)

    assert S.split_feed_id(fid) == (c, 1_700_000_000, 1_702_000_000)
    assert int.from_bytes(fid, "big") == int.from_bytes(c, "big") | (1_700_000_000 << 40) | 1_702_000_000


@pytest.mark.parametrize("start,end", [(5, 5), (6, 5), (0, 2**40)])
def test_feed_id__bad_window__raises(start, end):
    with pytest.raises(S.SeriesError, match="window"):
        S.feed_id(S.feed_class("X", "MARK"), start, end)


def test_feed_id__class_with_low_bits__raises():
    with pytest.raises(S.SeriesError, match="low 80 bits"):
        S.feed_id(b"\x01" * 32, 1, 2)


def test_series_symbol__each_kind__market_symbol_without_period():
    daily = S.Series.from_entry(_entry())
    start, end = _t(2026, 12, 3), _t(2026, 12, 4)
    assert specs.symbol(daily.market_spec(start, end)) == daily.symbol + ".2026-12-03"
    gpu = S.Series.from_entry(
        _entry(spec={"kind": "COMPUTE", "gpu": "H100-SXM", "region": "US"}, cadence="monthly", tz="UTC")
    )
    assert gpu.symbol == "H100-SXM.US"
    spread = S.Series.from_entry(
        _entry(
            spec={
                "kind": "SPREAD",
                "compute": {"kind": "COMPUTE", "gpu": "H100-SXM", "region": "GLOBAL"},
                "power": _entry()["spec"],
                "mwh_per_gpu_hour": "0.0012",
            },
            cadence="monthly",
        )
    )
    ms, me = _t(2026, 12, 1), _t(2027, 1, 1)
    assert specs.symbol(spread.market_spec(ms, me)) == spread.symbol + ".2026-12" == "SPREAD.H100-SXM.HB_WEST.2026-12"


def test_standard_offset__zones():
    assert S.standard_offset("America/Chicago") == -21_600
    assert S.standard_offset("America/New_York") == -18_000
    assert S.standard_offset("UTC") == 0


# ---------------------------------------------------------------- window rule


def test_aligned__dst_days__23h_and_25h_accepted():
    o = -21_600
    spring = (_t(2026, 3, 8), _t(2026, 3, 9))
    fall = (_t(2026, 11, 1), _t(2026, 11, 2))
    assert spring[1] - spring[0] == 23 * 3600 and fall[1] - fall[0] == 25 * 3600
    assert S.aligned(S.DAILY, o, *spring) and S.aligned(S.DAILY, o, *fall)
    assert S.aligned(S.DAILY, o, _t(2026, 7, 4), _t(2026, 7, 5))  # a CDT day
    assert S.aligned(S.DAILY, o, _t(2026, 1, 4), _t(2026, 1, 5))  # a CST day


def test_aligned__dst_months__743h_and_721h_accepted():
    o = -21_600
    march = (_t(2026, 3, 1), _t(2026, 4, 1))
    nov = (_t(2026, 11, 1), _t(2026, 12, 1))
    assert march[1] - march[0] == 743 * 3600 and nov[1] - nov[0] == 721 * 3600
    assert S.aligned(S.MONTHLY, o, *march) and S.aligned(S.MONTHLY, o, *nov)
    assert S.aligned(S.MONTHLY, o, _t(2027, 2, 1), _t(2027, 3, 1))
    assert S.aligned(S.MONTHLY, o, _t(2028, 2, 1), _t(2028, 3, 1))  # leap February
    assert S.aligned(S.MONTHLY, o, _t(2026, 12, 1), _t(2027, 1, 1))  # year boundary


@pytest.mark.parametrize(
    "cadence,start,end",
    [
        (S.DAILY, _t(2026, 7, 4, 2), _t(2026, 7, 5, 2)),  # 02:00 local: midnight at neither offset
        (S.DAILY, _t(2026, 7, 4), _t(2026, 7, 6)),  # two days
        (S.DAILY, _t(2026, 3, 8), _t(2026, 3, 8) + 2 * 86_400),  # two days across the DST change
        (S.MONTHLY, _t(2026, 3, 2), _t(2026, 4, 2)),  # not the 1st
        (S.MONTHLY, _t(2026, 3, 1), _t(2026, 5, 1)),  # two months
        (S.MONTHLY, _t(2026, 3, 1), _t(2026, 3, 31)),  # short
        (S.HOURLY, _t(2026, 7, 4) + 1800, _t(2026, 7, 4) + 5400),  # half past
        (S.HOURLY, _t(2026, 7, 4), _t(2026, 7, 4, 2)),  # two hours
        (S.DAILY, _t(2026, 7, 5), _t(2026, 7, 4)),  # reversed
    ],
)
def test_aligned__misaligned__refused(cadence, start, end):
    assert not S.aligned(cadence, -21_600, start, end)


def test_aligned__wrong_day_in_summer__refused():
    # 01:00 CDT to 01:00 CDT is a midnight at the standard offset: the contract knows the US DST
    # dates, so only the true local day (00:00 CDT) is aligned
    assert not S.aligned(S.DAILY, -21_600, _t(2026, 7, 4, 1), _t(2026, 7, 5, 1))
    assert S.aligned(S.DAILY, -21_600, _t(2026, 7, 4), _t(2026, 7, 5))


def test_window_end__matches_zoneinfo_days_and_months_2020_2031():
    for tz, off in (("America/Chicago", -21_600), ("America/New_York", -18_000), ("UTC", 0)):
        z = ZoneInfo(tz)
        d = dt.date(2020, 1, 1)
        while d < dt.date(2031, 1, 1):
            n = d + dt.timedelta(days=1)
            s = _t(d.year, d.month, d.day, tz=z)
            assert S.window_end(S.DAILY, off, s) == _t(n.year, n.month, n.day, tz=z), (tz, d)
            assert S.window_end(S.DAILY, off, s + 3_600) is None and S.window_end(S.DAILY, off, s - 3_600) is None
            if d.day == 1:
                m = dt.date(d.year + d.month // 12, d.month % 12 + 1, 1)
                assert S.window_end(S.MONTHLY, off, s) == _t(m.year, m.month, m.day, tz=z), (tz, d)
            d = n


def test_aligned__utc_monthly():
    utc = ZoneInfo("UTC")
    assert S.aligned(S.MONTHLY, 0, _t(2026, 12, 1, tz=utc), _t(2027, 1, 1, tz=utc))
    assert not S.aligned(S.MONTHLY, 0, _t(2026, 12, 1, 6, tz=utc), _t(2027, 1, 1, 6, tz=utc))


def test_civil__matches_datetime_over_four_centuries():
    epoch = dt.date(1970, 1, 1)
    for days in range(0, 146_097 * 2 + 5, 97):
        d = epoch + dt.timedelta(days=days)
        assert S._civil(days) == (d.year, d.month, d.day)


# ---------------------------------------------------------------- windows due


def test_windows__every_cadence_over_a_dst_year__aligned_contiguous_and_due():
    for cad in ("hourly", "daily", "monthly"):
        s = S.Series.from_entry(
            _entry(cadence=cad, spec={**_entry()["spec"], "profile": "HOURLY" if cad == "hourly" else "ATC"})
        )
        for now in range(_t(2026, 1, 1) + 1234, _t(2027, 1, 1), 7 * 86_400 + 3_599):
            ws = s.windows(now)
            assert len(ws) == S.DEFAULT_DEPTH[s.cadence], (cad, now)
            for (_, b), (c, _) in zip(ws, ws[1:], strict=False):
                assert b == c
            for a, b in ws:
                assert S.aligned(s.cadence, s.utc_offset, a, b)
                assert s.last_trade_time(a, b) > now
                assert a <= now + s.max_horizon
                specs.validate_spec(s.market_spec(a, b))


def test_windows__fall_back_day__25h_window_listed():
    s = S.Series.from_entry(_entry())
    ws = s.windows(_t(2026, 10, 30, 12), depth=4)

    assert ws[1] == (_t(2026, 11, 1), _t(2026, 11, 2)) and ws[1][1] - ws[1][0] == 90_000


def test_windows__spring_forward_hours__23_hours_that_day():
    s = S.Series.from_entry(
        _entry(cadence="hourly", spec={**_entry()["spec"], "profile": "HOURLY"}, max_horizon=86_400 * 3)
    )
    ws = s.windows(_t(2026, 3, 7, 23) + 1, depth=48)
    on_day = [w for w in ws if _t(2026, 3, 8) <= w[0] < _t(2026, 3, 9)]

    assert len(on_day) == 23


def test_windows__last_trade_at_start__current_window_not_due():
    s = S.Series.from_entry(_entry())  # last trade at delivery_start
    now = _t(2026, 7, 4, 12)

    assert s.windows(now, depth=1) == [(_t(2026, 7, 5), _t(2026, 7, 6))]


def test_windows__last_trade_offset__window_closing_within_offset_not_due():
    s = S.Series.from_entry(_entry(last_trade_offset=14 * 3600))  # closes 10:00 the day before
    assert s.windows(_t(2026, 7, 4, 9), depth=1) == [(_t(2026, 7, 5), _t(2026, 7, 6))]
    assert s.windows(_t(2026, 7, 4, 10), depth=1) == [(_t(2026, 7, 6), _t(2026, 7, 7))]


def test_windows__trading_through_delivery__current_month_due():
    s = S.Series.from_entry(_entry(cadence="monthly", last_trade="delivery_end"))
    ws = s.windows(_t(2026, 7, 15), depth=2)

    assert s.last_trade_offset == S.LAST_TRADE_AT_END
    assert ws == [(_t(2026, 7, 1), _t(2026, 8, 1)), (_t(2026, 8, 1), _t(2026, 9, 1))]


def test_windows__horizon_shorter_than_depth__stops_at_horizon():
    s = S.Series.from_entry(_entry(max_horizon=3 * 86_400))
    now = _t(2026, 7, 4, 12)

    assert [a for a, _ in s.windows(now)] == [_t(2026, 7, 5), _t(2026, 7, 6), _t(2026, 7, 7)]


def test_windows__restart__same_answer():
    s = S.Series.from_entry(_entry(cadence="monthly"))
    assert s.windows(_t(2026, 7, 15)) == s.windows(_t(2026, 7, 15))


# ---------------------------------------------------------------- Series


def test_series_template__contract_units():
    t = S.Series.from_entry(_entry()).template()

    assert t["cadence"] == S.DAILY and t["utc_offset"] == -21_600 and t["last_trade_offset"] == 0
    assert t["im_fixed"] == 250_000_000 and t["im_rate_bps"] == 5_000 and t["oi_cap"] == 100_000_000
    assert t["bond"] == 10**16 and t["active"] is True
    assert t["mark_class"] == S.feed_class("ERCOT.HB_WEST.DA.ATC", "MARK")


def test_series_from_template__roundtrip_and_mismatch():
    s = S.Series.from_entry(_entry())
    t = s.template()
    back = S.Series.from_template(t, s.spec, s.tz, template_id=7)
    assert back.template() == t and back.template_id == 7

    with pytest.raises(S.SeriesError, match="spec_hash"):
        S.Series.from_template({**t, "spec_hash": b"\x00" * 32}, s.spec, s.tz)


def test_series_from_entry__bad_cadence__raises():
    with pytest.raises(S.SeriesError, match="cadence"):
        S.Series.from_entry(_entry(cadence="weekly"))


def test_series_from_entry__bond_too_precise__raises():
    with pytest.raises(S.SeriesError, match="bond"):
        S.Series.from_entry(_entry(bond="0.0000000000000000001"))


def test_default_markets__every_entry__a_series():
    entries = json.loads((ROOT / "markets" / "default.json").read_text())["markets"]
    for e in entries:
        s = S.Series.from_entry(e)
        for a, b in s.windows(_t(2026, 7, 15), depth=3):
            specs.validate_spec(s.market_spec(a, b))


def test_load_series__default_file__every_data_node_and_gpu_class_once():
    got = S.load_series(str(ROOT / "markets" / "default.json"))
    symbols = [x.symbol for x in got]
    nodes = {x.spec["node"] for x in got if x.kind == "POWER"}
    gpus = {x.spec["gpu"] for x in got if x.kind == "COMPUTE"}

    assert {"HB_HOUSTON", "HB_NORTH", "HB_PAN", "HB_SOUTH", "HB_WEST", "WESTERN HUB", "AEP-DAYTON HUB"} <= nodes
    assert {"H100-SXM", "H100-PCIE", "H200", "B200", "A100-80G", "A100-PCIE", "GH200"} == gpus
    # one template per (symbol, cadence): two would list the same window twice
    assert len({(x.symbol, x.cadence) for x in got}) == len(symbols)
    for x in got:
        t = x.template()
        assert t["mark_class"] != t["settlement_class"]
