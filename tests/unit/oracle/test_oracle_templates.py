"""The reporter serves markets listed on chain from series templates (issue 10): a templated feed
id (class | start << 40 | end) resolves to core.series.market_spec(series, start, end) only when
the chain's template for that class hashes to our series spec (the manifest's spec_hash rule) and
the window is listed with exactly that feed; otherwise nothing is signed for it.

The chain side is an in-memory :class:`TemplateChain` (the Clearinghouse's template functions are
being built on another branch this round); the series rules are core.series's when it has landed,
else this file's transcription of the interface doc's formulas (/work/notes/s4_interface10.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from eth_utils import keccak
from fastapi.testclient import TestClient
from oracle_test_helpers import ORACLE_ADDRESS, REPORTER_KEY
from test_oracle_service import POWER, X, manifest_obj, replay

from core.specs import canonical_json, feed_hex
from oracle.service import create_app
from oracle.settings import OracleSettings
from oracle.signing import ReportSigner, recover_report_signer
from oracle.templates import ChainTemplate, SeriesRules, TemplateResolver, split_feed, templated_spec_hash

LOW80 = (1 << 80) - 1
SERIES_SPEC = {k: v for k, v in POWER.items() if k not in ("delivery_start", "delivery_end")}


@dataclass(frozen=True)
class Series:
    symbol: str
    spec: dict


def _interface_rules() -> SeriesRules:
    def feed_class(sym: str, role: str) -> bytes:
        return (int.from_bytes(keccak(text=f"{sym}/{role}"), "big") & ~LOW80).to_bytes(32, "big")

    return SeriesRules(
        spec_hash=lambda spec: keccak(canonical_json(spec).encode()),
        feed_class=feed_class,
        market_spec=lambda s, start, end: {**s.spec, "delivery_start": start, "delivery_end": end},
    )


try:  # the real rules once core/series.py has landed
    from oracle.templates import core_series_rules

    RULES = core_series_rules()
except ImportError:
    RULES = _interface_rules()

SERIES = Series("ERCOT.HB_WEST.DA.HOURLY", SERIES_SPEC)
MARK_CLASS = RULES.feed_class(SERIES.symbol, "MARK")
SETTLE_CLASS = RULES.feed_class(SERIES.symbol, "SETTLE")


def fid(cls: bytes, start: int, end: int) -> bytes:
    return (int.from_bytes(cls, "big") | start << 40 | end).to_bytes(32, "big")


class MemoryChain:
    """Templates and listings as the Clearinghouse would return them."""

    def __init__(self, spec_hash: bytes):
        self.tpl = [ChainTemplate(1, spec_hash, MARK_CLASS, SETTLE_CLASS, True)]
        self.listed: dict[tuple[int, int], tuple[int, int]] = {}  # (template, start) -> (market id, end)
        self.reads = 0

    def list(self, start: int, end: int) -> int:
        mid = 100 + len(self.listed)
        self.listed[(1, start)] = (mid, end)
        return mid

    def templates(self):
        self.reads += 1
        return self.tpl

    def market_of(self, template_id: int, start: int) -> int:
        return self.listed.get((template_id, start), (0, 0))[0]

    def market_feeds(self, market_id: int):
        for (_, start), (mid, end) in self.listed.items():
            if mid == market_id:
                return fid(MARK_CLASS, start, end), fid(SETTLE_CLASS, start, end)
        raise KeyError(market_id)


GOOD_HASH = RULES.spec_hash(SERIES_SPEC)
GOOD_HASH = bytes.fromhex(GOOD_HASH[2:]) if isinstance(GOOD_HASH, str) else bytes(GOOD_HASH)


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


def client_with(chain, tmp_path, now=X - 3600):
    m = manifest_obj()
    p = tmp_path / "m.json"
    p.write_text(json.dumps(m))
    resolver = TemplateResolver([SERIES], chain, RULES)
    app = create_app(
        OracleSettings(manifest=p),
        clock=Clock(now),
        source=replay(),
        signer=ReportSigner(REPORTER_KEY),
        resolver=resolver,
    )
    return TestClient(app)


def test_split_feed__class_start_end():
    f = fid(MARK_CLASS, X, X + 3600)
    assert split_feed(f) == (MARK_CLASS, X, X + 3600)


def test_resolve__listed_window__market_spec_and_chain_spec_hash():
    chain = MemoryChain(GOOD_HASH)
    mid = chain.list(X, X + 3600)
    entry, role = TemplateResolver([SERIES], chain, RULES).resolve(fid(MARK_CLASS, X, X + 3600))
    assert role == "MARK" and entry.id == mid and entry.spec == POWER
    assert entry.symbol == "ERCOT.HB_WEST.DA.HOURLY.2026-12-03HE09"
    assert entry.spec_hash == templated_spec_hash(GOOD_HASH, X, X + 3600)
    assert entry.settlement_feed == fid(SETTLE_CLASS, X, X + 3600)


def test_reports__templated_mark__signed_with_the_same_value_as_the_equal_manifest_market(tmp_path):
    chain = MemoryChain(GOOD_HASH)
    chain.list(X, X + 3600)
    client = client_with(chain, tmp_path)
    f = feed_hex(fid(MARK_CLASS, X, X + 3600))
    r = client.get("/reports/latest", params={"feed_ids": f}).json()
    assert r["feed_ids"] == [f]
    # the manifest's market 1 has the very same spec: the templated feed must carry its value
    manifest_mark = next(x for x in client.get("/feeds").json()["feeds"] if x["market_id"] == 1 and x["kind"] == "MARK")
    assert r["prices"] == [manifest_mark["price"]]
    assert recover_report_signer([f], [int(r["prices"][0])], r["observed_at"], 31337, ORACLE_ADDRESS, r["signature"])
    # and /feeds/{id} now lists it under its on-chain market id
    assert client.get(f"/feeds/{f}").json()["market_id"] == 100


def test_reports__attack_template_spec_differs_from_ours__refused_409_nothing_signed(tmp_path):
    # the owner approved, under this class, a template whose spec is not ours (e.g. another node)
    other = RULES.spec_hash({**SERIES_SPEC, "node": "HB_NORTH"})
    chain = MemoryChain(bytes.fromhex(other[2:]) if isinstance(other, str) else bytes(other))
    chain.list(X, X + 3600)
    client = client_with(chain, tmp_path)
    f = feed_hex(fid(MARK_CLASS, X, X + 3600))
    r = client.get("/reports/latest", params={"feed_ids": f})
    assert r.status_code == 409 and "refusing to sign" in r.json()["detail"]
    assert client.get(f"/feeds/{f}").status_code == 409
    # a partial report leaves it out instead of signing it
    assert client.get("/reports/latest", params={"feed_ids": f, "partial": "true"}).status_code == 409
    assert f not in {x["feed_id"] for x in client.get("/feeds").json()["feeds"]}


def test_reports__attack_window_not_listed__404(tmp_path):
    client = client_with(MemoryChain(GOOD_HASH), tmp_path)
    r = client.get("/reports/latest", params={"feed_ids": feed_hex(fid(MARK_CLASS, X, X + 3600))})
    assert r.status_code == 404


def test_reports__attack_forged_end_of_a_listed_start__404(tmp_path):
    chain = MemoryChain(GOOD_HASH)
    chain.list(X, X + 3600)
    client = client_with(chain, tmp_path)
    forged = feed_hex(fid(MARK_CLASS, X, X + 7200))
    assert client.get("/reports/latest", params={"feed_ids": forged}).status_code == 404


def test_reports__attack_unknown_class__404(tmp_path):
    chain = MemoryChain(GOOD_HASH)
    chain.list(X, X + 3600)
    client = client_with(chain, tmp_path)
    alien = feed_hex(fid(RULES.feed_class("ERCOT.HB_NORTH.DA.HOURLY", "MARK"), X, X + 3600))
    assert client.get("/reports/latest", params={"feed_ids": alien}).status_code == 404


def test_reports__partial__unknown_and_valueless_feeds_left_out(tmp_path):
    chain = MemoryChain(GOOD_HASH)
    chain.list(X, X + 3600)
    client = client_with(chain, tmp_path)
    mark = feed_hex(fid(MARK_CLASS, X, X + 3600))
    settle = feed_hex(fid(SETTLE_CLASS, X, X + 3600))  # pending before delivery end
    alien = "0x" + "ab" * 32
    r = client.get("/reports/latest", params={"feed_ids": f"{alien},{settle},{mark}", "partial": "true"})
    assert r.status_code == 200 and r.json()["feed_ids"] == [mark]
    assert client.get("/reports/latest", params={"feed_ids": f"{alien},{mark}"}).status_code == 404


def test_resolver__new_template_approved__re_read_on_unknown_class():
    chain = MemoryChain(GOOD_HASH)
    chain.tpl = []
    chain.list(X, X + 3600)
    r = TemplateResolver([SERIES], chain, RULES)
    assert r.resolve(fid(MARK_CLASS, X, X + 3600)) is None
    chain.tpl = [ChainTemplate(1, GOOD_HASH, MARK_CLASS, SETTLE_CLASS, True)]
    assert r.resolve(fid(MARK_CLASS, X, X + 3600)) is not None


# ------------------------------------------------------------------ first-mark requests


def test_mark_requests__post_then_listed__expire_after_ttl(tmp_path):
    client = client_with(MemoryChain(GOOD_HASH), tmp_path)
    mark = next(x["feed_id"] for x in client.get("/feeds").json()["feeds"] if x["kind"] == "MARK")
    r = client.post("/marks/requests", json={"feed_ids": [mark]})
    assert r.status_code == 202 and r.json()["feed_ids"] == [mark] and r.json()["expires_at"] == X - 3600 + 900
    assert client.get("/marks/requests").json()["feed_ids"] == [mark]
    client.app.state.reporter.clock.now = X - 3600 + 901
    assert client.get("/marks/requests").json()["feed_ids"] == []


def test_mark_requests__templated_listed_mark__accepted(tmp_path):
    chain = MemoryChain(GOOD_HASH)
    chain.list(X, X + 3600)
    client = client_with(chain, tmp_path)
    f = feed_hex(fid(MARK_CLASS, X, X + 3600))
    assert client.post("/marks/requests", json={"feed_ids": [f]}).status_code == 202


@pytest.mark.parametrize(
    "body,status",
    [
        ({"feed_ids": ["0x" + "ab" * 32]}, 404),  # not served
        ({"feed_ids": ["0x1234"]}, 422),  # not a bytes32
        ({"feed_ids": []}, 422),
        ({"feed_ids": ["0x" + "ab" * 32] * 33}, 422),  # more than one submit's worth
    ],
)
def test_mark_requests__bad_input__4xx_and_nothing_recorded(tmp_path, body, status):
    client = client_with(MemoryChain(GOOD_HASH), tmp_path)
    assert client.post("/marks/requests", json=body).status_code == status
    assert client.get("/marks/requests").json()["feed_ids"] == []


def test_mark_requests__settlement_feed__409(tmp_path):
    client = client_with(MemoryChain(GOOD_HASH), tmp_path)
    settle = next(x["feed_id"] for x in client.get("/feeds").json()["feeds"] if x["kind"] == "SETTLEMENT")
    assert client.post("/marks/requests", json={"feed_ids": [settle]}).status_code == 409
    assert client.get("/marks/requests").json()["feed_ids"] == []


def test_mark_requests__attack_flood__bounded_oldest_dropped(tmp_path):
    client = client_with(MemoryChain(GOOD_HASH), tmp_path)
    rep = client.app.state.reporter
    rep.max_mark_requests = 2
    marks = [x["feed_id"] for x in client.get("/feeds").json()["feeds"] if x["kind"] == "MARK"][:3]
    for f in marks:
        client.post("/marks/requests", json={"feed_ids": [f]})
    assert client.get("/marks/requests").json()["feed_ids"] == marks[1:]


def test_reports__window_listed_after_a_miss__served_once_the_retry_delay_passed(tmp_path, monkeypatch):
    import oracle.reporter as reporter_mod

    chain = MemoryChain(GOOD_HASH)
    client = client_with(chain, tmp_path)
    f = feed_hex(fid(MARK_CLASS, X, X + 3600))
    assert client.get("/reports/latest", params={"feed_ids": f}).status_code == 404
    chain.list(X, X + 3600)  # the lister lists the window afterwards
    assert client.get("/reports/latest", params={"feed_ids": f}).status_code == 404  # remembered miss
    monkeypatch.setattr(reporter_mod, "UNRESOLVED_RETRY_S", 0.0)
    assert client.get("/reports/latest", params={"feed_ids": f}).status_code == 200


# ------------------------------------------------------------------ web3 adapter (call shapes)


class _Fn:
    def __init__(self, value):
        self.value = value

    def call(self):
        return self.value


class _Contract:
    """What web3 returns for these views: structs as tuples in declaration order."""

    def __init__(self, **views):
        self.functions = type("F", (), {k: staticmethod(v) for k, v in views.items()})


def test_web3_template_chain__registry_and_clearinghouse_reads():
    from oracle.templates import Web3TemplateChain

    tpl = (
        GOOD_HASH,
        MARK_CLASS,
        SETTLE_CLASS,
        1,
        -21600,
        0,
        3 * 86400,
        1,
        100,
        10_000,
        1,
        1,
        1,
        1,
        3600,
        3600,
        1,
        0,
        True,
    )
    registry = _Contract(
        template_count=lambda: _Fn(1),
        template=lambda i: _Fn(tpl),
        market_of=lambda tid, start: _Fn(7 if (tid, start) == (1, X) else 0),
    )
    from dataclasses import fields

    from core import abi

    # a whole Market tuple in ABI order (read by field name through core.abi)
    market = (b"\0" * 32, fid(MARK_CLASS, X, X + 3600), fid(SETTLE_CLASS, X, X + 3600))
    market += (0,) * (len(fields(abi.Market)) - len(market))
    ch = _Contract(market=lambda mid: _Fn(market))
    chain = Web3TemplateChain(registry, ch)
    assert chain.templates() == [ChainTemplate(1, GOOD_HASH, MARK_CLASS, SETTLE_CLASS, True)]
    assert chain.market_of(1, X) == 7 and chain.market_of(1, X + 3600) == 0
    entry, role = TemplateResolver([SERIES], chain, RULES).resolve(fid(MARK_CLASS, X, X + 3600))
    assert (entry.id, role) == (7, "MARK")
