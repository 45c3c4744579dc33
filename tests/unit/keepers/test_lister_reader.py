"""Reader.listed_markets (the SDK's view of the listed curve): filters by node, series, kind,
window and template, pages, orders by window; the manifest's one-off markets and the markets
listed from templates come back alike."""

from __future__ import annotations

import threading

import pytest

from sdk.reader import ListedMarket, Reader

H, DAY = 3600, 86400
T = 1_767_225_600  # 2026-01-01T00:00Z


def _power(node, profile, start, end):
    return {
        "kind": "POWER",
        "iso": "ERCOT",
        "node": node,
        "market": "DA",
        "profile": profile,
        "tz": "America/Chicago",
        "delivery_start": start,
        "delivery_end": end,
    }


def _reader(listed: list[ListedMarket], entries: dict) -> Reader:
    r = object.__new__(Reader)
    r._cache_lock = threading.Lock()
    r._listed = {m.id: m for m in listed}
    r._entries = dict(entries)
    r.refresh_listings = lambda to_block=None: 0
    return r


def _curve() -> Reader:
    listed = []
    mid = 10
    for i in range(48):  # HB_WEST hourly, template 1
        s = T + i * H
        listed.append(
            ListedMarket(
                mid,
                f"ERCOT.HB_WEST.DA.HOURLY.h{i:02d}",
                "ERCOT.HB_WEST.DA.HOURLY",
                "POWER",
                "HB_WEST",
                s,
                s + H,
                _power("HB_WEST", "HOURLY", s, s + H),
                1,
            )
        )
        mid += 1
    for i in range(14):  # HB_NORTH daily ATC, template 2
        s = T + i * DAY
        listed.append(
            ListedMarket(
                mid,
                f"ERCOT.HB_NORTH.DA.ATC.d{i:02d}",
                "ERCOT.HB_NORTH.DA.ATC",
                "POWER",
                "HB_NORTH",
                s,
                s + DAY,
                _power("HB_NORTH", "ATC", s, s + DAY),
                2,
            )
        )
        mid += 1
    spread = {
        "kind": "SPREAD",
        "compute": {},
        "power": _power("HB_WEST", "ATC", T, T + 31 * DAY),
        "mwh_per_gpu_hour": "0.0012",
    }
    entries = {
        1: {"id": 1, "symbol": "SPREAD.H100-SXM.HB_WEST.2026-01", "kind": "SPREAD", "spec": spread},
        2: {
            "id": 2,
            "symbol": "H100-SXM.2026-01",
            "kind": "COMPUTE",
            "spec": {
                "kind": "COMPUTE",
                "gpu": "H100-SXM",
                "region": "GLOBAL",
                "delivery_start": T,
                "delivery_end": T + 31 * DAY,
            },
        },
    }
    return _reader(listed, entries)


def test_filters__node_series_kind_template():
    r = _curve()
    west = r.listed_markets(node="HB_WEST", limit=None)
    assert len(west) == 48 + 1 and {m.kind for m in west} == {"POWER", "SPREAD"}  # a spread matches on its power leg
    assert len(r.listed_markets(series="ERCOT.HB_WEST.DA.HOURLY", limit=None)) == 48
    assert len(r.listed_markets(series="ERCOT.HB_NORTH", limit=None)) == 14  # a prefix ending before a dot
    assert r.listed_markets(series="ERCOT.HB_NOR", limit=None) == []  # not a partial token
    assert [m.id for m in r.listed_markets(kind="compute")] == [2]
    assert len(r.listed_markets(template_id=2, limit=None)) == 14
    assert all(m.template_id is None for m in r.listed_markets(kind="SPREAD"))


def test_window_overlap_order_and_paging():
    r = _curve()
    day2 = r.listed_markets(start=T + DAY, end=T + 2 * DAY, limit=None)
    # the 24 hours of day 2 (hourly curve ends after 48 h), the day-2 daily, both month-long one-offs
    assert sum(m.series.endswith("HOURLY") for m in day2) == 24
    assert sum(m.series.endswith("ATC") and m.kind == "POWER" for m in day2) == 1
    assert {1, 2} <= {m.id for m in day2}
    assert [(m.delivery_start, m.symbol) for m in day2] == sorted((m.delivery_start, m.symbol) for m in day2)
    everything = r.listed_markets(limit=None)
    pages = [r.listed_markets(offset=o, limit=25) for o in range(0, len(everything), 25)]
    assert [m.id for p in pages for m in p] == [m.id for m in everything] and len(everything) == 64


def test_bad_paging_refused():
    with pytest.raises(ValueError):
        _curve().listed_markets(offset=-1)
