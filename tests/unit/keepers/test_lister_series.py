"""The lister on the real depth rule (core.series.windows) and the real window alignment
(core.series.aligned, the contract's rule): the default series of markets/default.json are
listed to depth (48 hours, 14 local days, 12 local months) across DST changes, every window
the lister sends is one the Clearinghouse accepts, and nothing is listed twice across restarts.

Runs once core/series.py (issue 10, the listing engineer's) is present."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from core import series as cs
from keepers import lister as kl
from keepers.lister import DAILY, HOURLY, MONTHLY, Template, plan_listings
from tests.unit.keepers.test_lister_keeper import FakeChain, FakeSender, ModelLister

ROOT = Path(__file__).resolve().parents[3]
CT = ZoneInfo("America/Chicago")


def _default_series() -> dict[str, object]:
    out = {}
    for e in json.loads((ROOT / "markets" / "default.json").read_text())["markets"]:
        s = cs.Series.from_entry(e)
        out[f"{s.symbol}/{s.cadence}"] = s
    return out


def _template(tid: int, s) -> Template:
    t = s.template()
    return Template(
        tid, t["spec_hash"], t["cadence"], t["utc_offset"], t["last_trade_offset"], t["max_horizon"], 10**15, True
    )


def _ts(y, m, d, h=0, tz=CT) -> int:
    return int(dt.datetime(y, m, d, h, tzinfo=tz).timestamp())


def test_sentinel_agrees_with_core_series():
    assert kl.LAST_TRADE_AT_END == cs.LAST_TRADE_AT_END
    assert kl.DEFAULT_DEPTH == cs.DEFAULT_DEPTH


@pytest.mark.parametrize(
    "now",
    [
        _ts(2026, 3, 7, 12),  # the spring-forward weekend (23 h day on Mar 8)
        _ts(2026, 10, 31, 12),  # the fall-back weekend (25 h day on Nov 1)
        _ts(2026, 12, 31, 23, dt.UTC),  # a year boundary
    ],
)
def test_default_series__depth_by_the_real_rule__every_window_aligned(now):
    series = _default_series()
    templates = [_template(i, s) for i, s in enumerate(series.values(), 1)]
    by_key = {(s.spec_hash, s.cadence): s for s in series.values()}
    p = plan_listings(templates, by_key, now, lambda x: False)
    assert not p.skipped, p.reasons()
    per = {}
    for x in p.due:
        t = templates[x.template_id - 1]
        assert cs.aligned(t.cadence, t.utc_offset, x.delivery_start, x.delivery_end), x
        assert t.last_trade(x.delivery_start, x.delivery_end) > now
        per.setdefault(t.cadence, {}).setdefault(x.template_id, []).append(x)
    assert {len(v) for v in per[HOURLY].values()} == {48}
    assert {len(v) for v in per[DAILY].values()} == {14}
    assert {len(v) for v in per[MONTHLY].values()} == {12}
    for v in per[DAILY].values():  # consecutive local days, 23/24/25 h
        assert all(a.delivery_end == b.delivery_start for a, b in zip(v, v[1:], strict=False))
        assert {x.delivery_end - x.delivery_start for x in v} <= {23 * 3600, 24 * 3600, 25 * 3600}


def test_keeper_on_the_real_rule__full_depth__restart_lists_nothing__rolls_daily(tmp_path):
    series = _default_series()
    templates = [_template(i, s) for i, s in enumerate(series.values(), 1)]
    model = FakeChain(templates, now=_ts(2026, 10, 30, 9))

    real_check = model.check

    def check(tid, start, end, value):  # the contract's alignment rule too
        t = model.templates[tid]
        if not cs.aligned(t.cadence, t.utc_offset, start, end):
            return "Clearinghouse: bad delivery window"
        return real_check(tid, start, end, value)

    model.check = check
    by_key = {(s.spec_hash, s.cadence): s for s in series.values()}

    def run(lister, blocks):
        for _ in range(blocks):
            lister.on_block(model.head())
            model.advance()

    a = ModelLister(model, FakeSender(model), tmp_path, batch_size=200)
    a.series, a.windows = by_key, None  # core.series.windows through the keeper's default
    a.start(model.head())
    run(a, 3)
    due = plan_listings(templates, by_key, model.now, lambda x: False).due
    assert due and all((x.template_id, x.delivery_start) in model.listings for x in due)
    n = len(model.listed_log)
    b = ModelLister(model, FakeSender(model), tmp_path, batch_size=200)
    b.series, b.windows = by_key, None
    b.start(model.head())
    run(b, 2)
    assert len(model.listed_log) == n  # a restart lists nothing
    model.advance(3 * 86400)  # through the 25 h day: the curve rolls, every new window aligned
    run(b, 3)
    due = plan_listings(templates, by_key, model.now, lambda x: False).due
    assert all((x.template_id, x.delivery_start) in model.listings for x in due)
    keys = [(t, s) for t, s, _ in model.listed_log]
    assert len(keys) == len(set(keys))


def test_reader_learns_the_listed_curve_from_events__cursor_reads_only_new_blocks():
    """Reader.refresh_listings turns MarketListedFromTemplate logs into markets with their full spec
    and symbol (core.series.market_spec), pages from a block cursor, and market()/markets() see them."""
    import threading
    import types

    from core.specs import symbol
    from sdk.reader import Reader

    series = _default_series()
    atc = next(s for s in series.values() if s.cadence == DAILY)
    tpl = atc.template()
    names = list(tpl)
    logs = []
    start = _ts(2026, 11, 1)  # the 25 h day
    for i in range(3):
        a = start if i == 0 else logs[-1]["args"]["delivery_end"]
        b = int(
            dt.datetime.combine(
                dt.datetime.fromtimestamp(a, CT).date() + dt.timedelta(days=1), dt.time(0), CT
            ).timestamp()
        )
        logs.append(
            {
                "args": {
                    "market_id": 8 + i,
                    "template_id": 1,
                    "lister": "0x" + "1" * 40,
                    "delivery_start": a,
                    "delivery_end": b,
                },
                "blockNumber": 10 + i,
                "transactionHash": bytes([i]) * 32,
            }
        )
    asked = []

    def get_logs(argument_filters=None, from_block=None, to_block=None):
        asked.append((from_block, to_block))
        return [lg for lg in logs if from_block <= lg["blockNumber"] <= to_block]

    ch = types.SimpleNamespace(
        events=types.SimpleNamespace(MarketListedFromTemplate=types.SimpleNamespace(get_logs=get_logs)),
        functions=types.SimpleNamespace(
            template=lambda tid: types.SimpleNamespace(call=lambda: tuple(tpl[n] for n in names))
        ),
        abi=[
            {"type": "function", "name": "template", "outputs": [{"components": [{"name": n} for n in names]}]},
            {"type": "event", "name": "MarketListedFromTemplate"},
        ],
    )
    r = object.__new__(Reader)
    r._cache_lock, r.registry, r.deploy_block = threading.Lock(), ch, 0
    r._listed, r._listed_cursor, r._templates, r._entries = {}, 0, {}, {}
    r._series = {(atc.spec_hash, atc.cadence): atc}
    r.block_number = lambda: 11
    assert r.refresh_listings() == 2 and asked == [(0, 11)]
    r.block_number = lambda: 20
    assert r.refresh_listings() == 1 and asked[-1] == (12, 20)  # only the new blocks
    rows = r.listed_markets(series=atc.symbol, limit=None)
    assert [m.id for m in rows] == [8, 9, 10]
    assert rows[0].delivery_end - rows[0].delivery_start == 25 * 3600
    assert rows[0].symbol == symbol(cs.market_spec(atc, rows[0].delivery_start, rows[0].delivery_end))
    assert r._entries[8]["symbol"] == rows[0].symbol and rows[0].node == "HB_WEST" and rows[0].template_id == 1


def test_keeper__the_deploys_own_markets_are_not_listed_again(tmp_path, monkeypatch):
    """The deploy lists each markets-file entry itself (Clearinghouse.list_market) and approves a
    template of the same series; the registry's market_of knows only template listings. The
    lister reads the manifest's markets: the deploy's window counts as listed, never a second
    market of the same spec and window (this failed before: 7 windows listed twice)."""
    from core import specs
    from scripts._markets import load_markets
    from tests.unit.keepers import test_lister_keeper as tk

    now = _ts(2026, 10, 30, 9)
    deployed = load_markets(ROOT / "markets" / "default.json", now)
    entries = [m.manifest_entry(i) for i, m in enumerate(deployed, 1)]
    plain = tk._manifest

    def with_markets(p):
        path = plain(p)
        data = json.loads(path.read_text())
        data["markets"] = entries
        path.write_text(json.dumps(data))
        return path

    monkeypatch.setattr(tk, "_manifest", with_markets)
    series = _default_series()  # the same entries, as templates
    templates = [_template(i, s) for i, s in enumerate(series.values(), 1)]
    by_key = {(s.spec_hash, s.cadence): s for s in series.values()}
    model = FakeChain(templates, now=now)
    lister = ModelLister(model, FakeSender(model), tmp_path, batch_size=200)
    lister.series, lister.windows = by_key, None
    lister.start(model.head())
    for _ in range(3):
        lister.on_block(model.head())
        model.advance()

    due = plan_listings(templates, by_key, model.now, lambda x: False).due
    spec_of = {
        x: specs.spec_hash(by_key[model.templates[x.template_id].key].market_spec(x.delivery_start, x.delivery_end))
        for x in due
    }
    deployed_hashes = {m.spec_hash for m in deployed}
    assert deployed_hashes <= set(spec_of.values())  # every deploy window is one the lister would list
    listed = [specs.spec_hash(by_key[model.templates[t].key].market_spec(s, e)) for t, s, e in model.listed_log] + [
        m.spec_hash for m in deployed
    ]
    assert len(listed) == len(set(listed)), "a (spec, window) listed twice: by the deploy and from a template"
    assert not lister.last_plan.missing  # the curve is at full depth: the deploy's windows count as listed
    assert len(model.listed_log) == len(due) - len(deployed)
