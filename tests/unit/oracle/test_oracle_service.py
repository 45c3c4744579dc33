"""Reporter API with FastAPI's TestClient: an injected chain clock and a replay source that
maps chain hour 2026-12-03T14:00Z onto real data (ERCOT Uri hour, GPU snapshot hour)."""

import copy
import json

import pytest
from fastapi.testclient import TestClient
from oracle_test_helpers import ORACLE_ADDRESS, REPORTER2_KEY, REPORTER_KEY, utc

from core.manifest import ManifestError, market_entry
from core.specs import canonical_json, compute_spec, day_window, power_spec, spec_hash, spread_spec
from oracle.service import create_app
from oracle.settings import OracleSettings
from oracle.signing import ReportSigner, recover_report_signer
from oracle.sources import ReplaySource
from oracle.timemap import TimeMap

X = utc("2026-12-03T14:00Z")
POWER = power_spec("ERCOT", "HB_WEST", "DA", "HOURLY", X, X + 3600)
COMPUTE = compute_spec("H100-SXM", X, X + 3600)
SPREAD = spread_spec(COMPUTE, POWER, "0.0012")
RT_DAY = power_spec(
    "ERCOT", "HB_WEST", "RT", "ATC", *day_window(__import__("datetime").date(2026, 12, 3), "America/Chicago")
)


def manifest_obj():
    return {
        "chain_id": 31337,
        "block": 1,
        "contracts": {
            "Oracle": {"address": ORACLE_ADDRESS, "abi": []},
            "Clearinghouse": {"address": "0x" + "11" * 20, "abi": []},
        },
        "roles": {},
        "markets": [market_entry(i + 1, s) for i, s in enumerate((POWER, COMPUTE, SPREAD, RT_DAY))],
    }


@pytest.fixture
def manifest_path(tmp_path):
    p = tmp_path / "31337.json"
    p.write_text(json.dumps(manifest_obj()))
    return p


def replay():
    return ReplaySource(
        time_maps={
            "ERCOT": TimeMap.from_offset(utc("2021-02-17T06:00Z") - X),
            "GPU": TimeMap.from_offset(utc("2025-10-22T09:00Z") - X),
        }
    )


class Clock:
    def __init__(self, now):
        self.now, self.fail = now, False

    def __call__(self):
        if self.fail:
            raise ConnectionError("rpc down")
        return self.now


def make_client(manifest_path, clock, key=REPORTER_KEY):
    app = create_app(
        OracleSettings(manifest=manifest_path), clock=clock, source=replay(), signer=ReportSigner(key) if key else None
    )
    return TestClient(app)


def by_symbol_kind(feeds):
    return {(f["market_id"], f["kind"]): f for f in feeds}


def test_feeds__before_delivery__marks_ok_settlements_pending_rt_error(manifest_path):
    client = make_client(manifest_path, Clock(X - 3600))
    body = client.get("/feeds").json()
    assert body["chain_id"] == 31337 and body["now"] == X - 3600 and len(body["feeds"]) == 8
    feeds = by_symbol_kind(body["feeds"])
    for m in (1, 2, 3):
        assert feeds[(m, "MARK")]["status"] == "ok" and feeds[(m, "MARK")]["observed_at"] == X - 3600
        assert feeds[(m, "SETTLEMENT")]["status"] == "pending" and feeds[(m, "SETTLEMENT")]["price"] is None
    rt = feeds[(4, "MARK")]
    assert rt["status"] == "error" and "RTM" in rt["detail"] and rt["price"] is None
    assert feeds[(1, "MARK")]["symbol"] == "ERCOT.HB_WEST.DA.HOURLY.2026-12-03HE09"


def test_feeds__after_delivery__settlement_values_on_real_data(manifest_path):
    clock = Clock(X + 3600)
    client = make_client(manifest_path, clock)
    feeds = by_symbol_kind(client.get("/feeds").json()["feeds"])
    # Uri hour 2021-02-17T06:00Z = $9,000.01; H100 index at 2025-10-22T09:00Z = 2.40 (median of
    # five providers, test_oracle_index_gpu); spread = 2.40 - 0.0012 x 9000.01 = -8.400012
    assert feeds[(1, "SETTLEMENT")]["price"] == "9000010000"
    assert feeds[(2, "SETTLEMENT")]["price"] == "2400000"
    assert feeds[(3, "SETTLEMENT")]["price"] == "-8400012"
    assert feeds[(3, "MARK")]["price"] == "-8400012"  # a closed window's mark is its settlement
    one = client.get(f"/feeds/{feeds[(3, 'SETTLEMENT')]['feed_id']}").json()
    assert one["price_usd"] == pytest.approx(-8.400012) and one["kind"] == "SETTLEMENT"


def test_reports_latest__signed_report_of_fresh_feeds_verifies(manifest_path):
    client = make_client(manifest_path, Clock(X + 3600))
    r = client.get("/reports/latest").json()
    feeds = {f["feed_id"]: f for f in client.get("/feeds").json()["feeds"] if f["status"] == "ok"}
    assert set(r["feed_ids"]) == set(feeds) and len(r["feed_ids"]) == 6
    assert r["prices"] == [feeds[f]["price"] for f in r["feed_ids"]]
    assert r["observed_at"] == X + 3600 and r["oracle"] == ORACLE_ADDRESS and r["chain_id"] == 31337
    signer = recover_report_signer(
        r["feed_ids"], [int(p) for p in r["prices"]], r["observed_at"], 31337, ORACLE_ADDRESS, r["signature"]
    )
    assert signer == r["signer"] == ReportSigner(REPORTER_KEY).address


def test_two_reporters_side_by_side__same_prices_different_signers(manifest_path):
    a = make_client(manifest_path, Clock(X + 3600), REPORTER_KEY).get("/reports/latest").json()
    b = make_client(manifest_path, Clock(X + 3600), REPORTER2_KEY).get("/reports/latest").json()
    assert a["prices"] == b["prices"] and a["feed_ids"] == b["feed_ids"]
    assert a["signer"] != b["signer"] and a["signature"] != b["signature"]


def test_reports_latest__no_key__503(manifest_path):
    r = make_client(manifest_path, Clock(X), key=None).get("/reports/latest")
    assert r.status_code == 503 and "signing key" in r.json()["detail"]


def test_feed_history__one_observation_per_distinct_chain_time(manifest_path):
    clock = Clock(X - 7200)
    client = make_client(manifest_path, clock)
    feed_id = by_symbol_kind(client.get("/feeds").json()["feeds"])[(1, "MARK")]["feed_id"]
    client.get("/feeds")  # same block: no new observation
    clock.now = X + 3600
    hist = client.get(f"/feeds/{feed_id}/history").json()
    assert [o["observed_at"] for o in hist["observations"]] == [X - 7200, X + 3600]
    assert hist["observations"][-1]["price"] == "9000010000" and hist["observations"][-1]["n_realised"] == 1
    assert len(client.get(f"/feeds/{feed_id}/history", params={"limit": 1}).json()["observations"]) == 1
    assert client.get(f"/feeds/{feed_id}/history", params={"limit": 0}).status_code == 422


def test_unknown_feed_and_market__4xx_with_detail(manifest_path):
    client = make_client(manifest_path, Clock(X))
    r = client.get("/feeds/0x" + "ab" * 32)
    assert r.status_code == 404 and "unknown feed" in r.json()["detail"]
    assert client.get("/feeds/0x" + "ab" * 32 + "/history").status_code == 404
    r = client.get("/feeds/not-a-feed")
    # FastAPI's standard 422 shape, naming the field (issue 12 point 4)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["path", "feed_id"]
    r = client.get("/markets/99/spec")
    assert r.status_code == 404 and r.json()["detail"] == "unknown market 99"


def test_market_spec__canonical_json_and_hash(manifest_path):
    body = make_client(manifest_path, Clock(X)).get("/markets/3/spec").json()
    assert body["spec"] == SPREAD and body["canonical_json"] == canonical_json(SPREAD)
    assert (
        body["spec_hash"] == spec_hash(SPREAD) and body["symbol"] == "SPREAD.H100-SXM.HB_WEST.DA.HOURLY.2026-12-03HE09"
    )
    assert body["block"] is None  # HOURLY names no block


def test_market_spec__peak_names_its_iso_block(tmp_path):
    s, e = utc("2025-07-01T04:00Z"), utc("2025-08-01T04:00Z")
    obj = manifest_obj()
    obj["markets"] = [
        market_entry(1, power_spec("PJM", "AEP-DAYTON HUB", "DA", "PEAK", s, e)),
        market_entry(2, power_spec("PJM", "AEP-DAYTON HUB", "DA", "OFFPEAK", s, e)),
    ]
    p = tmp_path / "m.json"
    p.write_text(json.dumps(obj))
    client = TestClient(create_app(OracleSettings(manifest=p), clock=Clock(e), source=ReplaySource(), signer=None))
    assert client.get("/markets/1/spec").json()["block"] == "PJM peak HE08-HE23 EPT Mon-Fri excl. NERC holidays"
    assert client.get("/markets/2/spec").json()["block"].startswith("every hour outside PJM peak HE08-HE23")


def test_health_and_metrics(manifest_path):
    clock = Clock(X + 3600)
    client = make_client(manifest_path, clock)
    h = client.get("/health").json()
    assert (
        h["status"] == "ok" and h["feeds"] == 8 and h["feeds_ok"] == 6 and h["feeds_error"] == 1
    )  # RT mark; its settlement is pending
    text = client.get("/metrics").text
    assert "cspread_oracle_feed_price_usd{" in text and "cspread_oracle_rounds_total 1.0" in text
    clock.fail = True
    r = client.get("/health")
    assert r.status_code == 503 and "rpc down" in r.json()["clock_error"]
    assert client.get("/feeds").status_code == 200  # last state still served


def test_manifest__tampered_spec_hash__refused(tmp_path):
    obj = manifest_obj()
    bad = copy.deepcopy(obj)
    bad["markets"][0]["spec_hash"] = "0x" + "00" * 32
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(bad))
    with pytest.raises(ManifestError, match="spec_hash"):
        create_app(OracleSettings(manifest=p), clock=Clock(X), source=replay())
    dup = copy.deepcopy(obj)
    dup["markets"][1]["id"] = 1
    p.write_text(json.dumps(dup))
    with pytest.raises(ManifestError, match="duplicate"):
        create_app(OracleSettings(manifest=p), clock=Clock(X), source=replay())


def test_settings__env_prefix_and_replay_maps(monkeypatch, tmp_path):
    monkeypatch.setenv("CSPREAD_ORACLE_REPLAY_OFFSET", "-3600")
    monkeypatch.setenv("CSPREAD_ORACLE_REPLAY_OFFSETS", '{"GPU": -7200}')
    monkeypatch.setenv("CSPREAD_ORACLE_PORT", "8702")
    s = OracleSettings()
    assert s.port == 8702 and s.default_time_map().to_data(10_000) == 6_400
    assert s.time_maps()["GPU"].to_data(10_000) == 2_800
    monkeypatch.setenv("CSPREAD_ORACLE_REPLAY_OFFSET", "-100")
    with pytest.raises(ValueError, match="whole number of hours"):
        OracleSettings()


def test_reports_latest__chosen_feeds_and_earlier_block__for_quorum_alignment(manifest_path):
    clock = Clock(X + 3600)
    a = make_client(manifest_path, clock, REPORTER_KEY)
    b = make_client(manifest_path, Clock(X + 3600 + 12), REPORTER2_KEY)  # one block ahead
    feeds = by_symbol_kind(a.get("/feeds").json()["feeds"])
    wanted = [feeds[(3, "SETTLEMENT")]["feed_id"], feeds[(1, "SETTLEMENT")]["feed_id"]]
    params = {"feed_ids": ",".join(wanted), "observed_at": X + 3600}
    ra, rb = a.get("/reports/latest", params=params).json(), b.get("/reports/latest", params=params).json()
    assert ra["feed_ids"] == rb["feed_ids"] == wanted and ra["observed_at"] == rb["observed_at"] == X + 3600
    assert ra["prices"] == rb["prices"] == ["-8400012", "9000010000"]
    for r in (ra, rb):
        assert (
            recover_report_signer(
                r["feed_ids"], [int(p) for p in r["prices"]], r["observed_at"], 31337, ORACLE_ADDRESS, r["signature"]
            )
            == r["signer"]
        )


def test_reports_latest__bad_requests(manifest_path):
    client = make_client(manifest_path, Clock(X + 3600))
    feeds = by_symbol_kind(client.get("/feeds").json()["feeds"])
    rt_mark = feeds[(4, "MARK")]["feed_id"]
    assert client.get("/reports/latest", params={"feed_ids": rt_mark}).status_code == 409
    assert client.get("/reports/latest", params={"feed_ids": "0x" + "cd" * 32}).status_code == 404
    assert client.get("/reports/latest", params={"feed_ids": "xyz"}).status_code == 422
    r = client.get("/reports/latest", params={"observed_at": X + 7200})
    assert r.status_code == 409 and "future" in r.json()["detail"]
    assert client.get("/reports/latest", params={"observed_at": X - 86400}).status_code == 409


def test_reports_latest__exclude_leaves_feeds_out_and_resigns(manifest_path):
    client = make_client(manifest_path, Clock(X + 3600))
    full = client.get("/reports/latest").json()
    drop = full["feed_ids"][1]
    r = client.get("/reports/latest", params={"exclude": f"{drop},0x{'ef' * 32}"}).json()
    assert r["feed_ids"] == [f for f in full["feed_ids"] if f != drop]
    assert r["prices"] == [p for f, p in zip(full["feed_ids"], full["prices"], strict=False) if f != drop]
    assert (
        recover_report_signer(
            r["feed_ids"], [int(p) for p in r["prices"]], r["observed_at"], 31337, ORACLE_ADDRESS, r["signature"]
        )
        == r["signer"]
    )
    assert client.get("/reports/latest", params={"exclude": drop, "feed_ids": drop}).status_code == 422


def test_missing_hours__settlement_feed_reported_missing__never_signed(tmp_path):
    """A window with any hour missing from the data has no settlement value: the feed is in error
    with the missing hours named, the signed report leaves it out and asking for it is a 409."""
    s, e = utc("2022-12-31T12:00Z"), utc("2023-01-01T12:00Z")  # ERCOT data ends 2023-01-01T05:00Z
    spec = power_spec("ERCOT", "HB_WEST", "DA", "ATC", s, e)
    obj = manifest_obj()
    obj["markets"] = [market_entry(1, spec), market_entry(2, power_spec("ERCOT", "HB_WEST", "DA", "ATC", s - 86400, s))]
    p = tmp_path / "m.json"
    p.write_text(json.dumps(obj))
    client = TestClient(
        create_app(
            OracleSettings(manifest=p), clock=Clock(e + 7200), source=ReplaySource(), signer=ReportSigner(REPORTER_KEY)
        )
    )
    feeds = by_symbol_kind(client.get("/feeds").json()["feeds"])
    bad = feeds[(1, "SETTLEMENT")]
    assert bad["status"] == "error" and bad["price"] is None and "MissingData" in bad["detail"]
    assert "6 of 24" in bad["detail"]  # 06:00Z..11:00Z of 2023-01-01
    assert feeds[(2, "SETTLEMENT")]["status"] == "ok"  # the complete day next to it settles
    r = client.get("/reports/latest").json()
    assert bad["feed_id"] not in r["feed_ids"] and feeds[(2, "SETTLEMENT")]["feed_id"] in r["feed_ids"]
    asked = client.get("/reports/latest", params={"feed_ids": bad["feed_id"]})
    assert asked.status_code == 409 and "no value" in asked.json()["detail"]


def test_oracle_422__standard_shape_naming_the_field(manifest_path):
    """Issue 12 point 4: every 422 of the oracle service has FastAPI's standard shape
    ({"detail": [{"loc", "msg", "type"}, ...]}) and names the field; ranges are declared."""
    client = make_client(manifest_path, Clock(X))
    cases = [
        ("/feeds/not-a-feed", {}, ["path", "feed_id"]),
        ("/reports/latest", {"feed_ids": "xyz"}, ["query", "feed_ids"]),
        ("/reports/latest", {"exclude": "xyz"}, ["query", "exclude"]),
        ("/reports/latest", {"observed_at": -1}, ["query", "observed_at"]),
        ("/reports/latest", {"observed_at": 2**64}, ["query", "observed_at"]),
        ("/markets/-1/spec", {}, ["path", "market_id"]),
        ("/markets/abc/spec", {}, ["path", "market_id"]),
        (f"/markets/{2**256}/spec", {}, ["path", "market_id"]),
    ]
    for path, params, loc in cases:
        r = client.get(path, params=params)
        assert r.status_code == 422, (path, params, r.text)
        detail = r.json()["detail"]
        assert isinstance(detail, list) and detail[0]["loc"] == loc and detail[0]["msg"], (path, detail)
    drop = "0x" + "ab" * 32
    r = client.get("/reports/latest", params={"exclude": drop, "feed_ids": drop})
    assert r.json()["detail"][0]["loc"] == ["query", "exclude"]
    assert client.get(f"/markets/{2**63}/spec").status_code == 404  # in range, not listed
