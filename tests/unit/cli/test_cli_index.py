"""`cspread index value`: the number a trader or auditor recomputes is the integer the reporter signs.

Every value is compared with a real :class:`oracle.reporter.Reporter` (same manifest spec, clock at
the end of the window, a signing key) rather than with a number written into the test."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from typer.testing import CliRunner

from apps.cli.index import build_spec
from apps.cli.main import app
from core.manifest import Manifest, market_entry
from core.specs import settlement_feed, symbol
from oracle.reporter import Reporter
from oracle.service import build_source
from oracle.settings import OracleSettings
from oracle.signing import ReportSigner
from oracle.valuation import Valuer

ENV = {
    "CSPREAD_PRIVATE_KEY": "",
    "CSPREAD_RELAY_URL": "",
    "CSPREAD_KEY_ENV": "",
    "CSPREAD_KEYFILE": "",
    "COLUMNS": "200",
}
KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"  # anvil's public test key #1
ERCOT_CSV_SHA = "2e6bea3e7bb02dadb479a5778a20b2131eb5692c960eabaaa9b35a7c4320f547"  # data/SOURCES.md
PJM_CSV_SHA = "33f1c7af20a9ff6fef10b5136c43ea13e40a5b1375396be8b6f2c60959447560"


def invoke(*args):
    return CliRunner().invoke(app, ["index", "value", *args], env=ENV, catch_exceptions=False)


def signed_settlement(spec: dict, settings: OracleSettings = OracleSettings()) -> int:
    """What a reporter signs for the spec's settlement feed at the end of its window."""
    manifest = Manifest.parse(
        {
            "chain_id": 31337,
            "block": 1,
            "roles": {},
            "markets": [market_entry(1, spec)],
            "contracts": {"Oracle": {"address": "0x" + "22" * 20, "abi": []}},
        },
        required=("Oracle",),
    ).verified()
    end = (spec["power"] if spec["kind"] == "SPREAD" else spec)["delivery_end"]
    reporter = Reporter(
        manifest, Valuer(build_source(settings), **settings.valuer_kwargs()), lambda: end, ReportSigner(KEY)
    )
    reporter.refresh()
    feed = settlement_feed(symbol(spec))
    i = reporter.report.feed_ids.index(feed)
    return reporter.report.prices[i]


@pytest.mark.parametrize(
    "args",
    [
        ["ERCOT", "HB_WEST", "DA", "PEAK", "2021-02"],
        ["ERCOT", "HB_WEST", "DA", "ATC", "2021-02-17"],
        ["ERCOT", "HB_WEST", "DA", "HOURLY", "2021-02-17HE08"],
        ["PJM", "AEP-DAYTON HUB", "DA", "PEAK", "2025-06"],
        ["GPU", "H100-SXM", "2025-10-22"],
    ],
)
def test_value__json__equals_the_reporters_signed_integer(args):
    r = invoke(*args, "--json")
    assert r.exit_code == 0, r.output
    body = json.loads(r.output)
    assert body["status"] == "ok" and body["price_units"] == str(signed_settlement(build_spec(args, "0.0012")))
    assert Decimal(body["value"]) * 10**6 == int(body["price_units"]) and len(body["value"].split(".")[1]) == 6
    assert body["hours"] > 0 and body["sources"] and all(len(s["sha256"]) == 64 for s in body["sources"])


def test_value__pjm_peak_uses_pjm_block_and_cites_its_file():
    body = json.loads(invoke("PJM", "AEP-DAYTON HUB", "DA", "PEAK", "2025-06", "--json").output)
    assert body["hours"] == 21 * 16  # June 2025: 21 weekdays, no NERC holiday; HE08-HE23 EPT
    assert "HE08-HE23 EPT" in body["block"]
    assert body["sources"] == [
        {
            "file": "data/pjm_hubs_da_rt_2025-05_2025-07.csv.gz",
            "sha256": body["sources"][0]["sha256"],
            "csv_sha256": PJM_CSV_SHA,
        }
    ]


def test_value__text__value_hours_and_sha256():
    r = invoke("ERCOT", "HB_WEST", "DA", "PEAK", "2021-02")
    assert r.exit_code == 0
    units = signed_settlement(build_spec(["ERCOT", "HB_WEST", "DA", "PEAK", "2021-02"], "0.0012"))
    assert f"{Decimal(units) / 10**6:.6f} USD/MWh" in r.output and "320 delivery hours" in r.output
    assert ERCOT_CSV_SHA in r.output and "HE07-HE22 CPT" in r.output


def test_value__spread_with_replay_offsets__equals_reporter():
    offsets = '{"GPU": 148780800}'  # chain 2021-02-01T00:00Z -> GPU data 2025-10-20T00:00Z, as make demo
    args = ["SPREAD", "H100-SXM", "ERCOT", "HB_WEST", "DA", "ATC", "2021-02"]
    body = json.loads(invoke(*args, "--replay-offsets", offsets, "--json").output)
    settings = OracleSettings(replay_offsets={"GPU": 148780800})
    assert body["status"] == "ok" and body["price_units"] == str(
        signed_settlement(build_spec(args, "0.0012"), settings)
    )
    assert set(body["legs"]) == {"compute", "power"} and len(body["sources"]) == 2


def test_value__missing_hours__no_number_exit_1():
    r = invoke("ERCOT", "HB_WEST", "DA", "ATC", "2023-01", "--json")
    body = json.loads(r.output)
    assert r.exit_code == 1 and body["value"] is None and body["status"] == "missing"
    assert body["hours"] == 744 and len(body["missing_hours"]) == 744
    # a GPU class that never has 3 independent providers has no value either
    r = invoke("GPU", "GH200", "2025-10-22")
    assert r.exit_code == 1 and "no value" in r.output and "fallback" in r.output


def test_value__bad_input__one_line_error():
    for args, words in (
        (["ERCOT", "HB_WEST", "DA", "HOURLY", "2021-11-07HE02"], "HE02CDT / HE02CST"),
        (["ERCOT", "HB_WEST", "DA", "PEAK", "2021-13"], "month must be"),
        (["XX", "HB_WEST", "DA", "PEAK", "2021-02"], "unknown ISO"),
        (["ERCOT", "HB_WEST", "DA", "PEAK"], "expected"),
        (["ERCOT", "HB_WEST", "DA", "HOURLY", "2021-03-14HE03"], "no single"),
    ):  # spring-forward gap
        r = invoke(*args)
        assert r.exit_code == 1 and "error:" in r.output and words in r.output, (args, r.output)
    r = invoke("ERCOT", "HB_WEST", "DA", "HOURLY", "2021-11-07HE02CST", "--json")
    assert json.loads(r.output)["symbol"] == "ERCOT.HB_WEST.DA.HOURLY.2021-11-07HE02CST"
