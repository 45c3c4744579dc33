"""`cspread index basis`: your own prices against a series' index over the real vendored data
(the index through the reporter's own Valuer, as `cspread index value` computes it)."""

from __future__ import annotations

import json
from decimal import Decimal

from typer.testing import CliRunner

from apps.cli.main import app

ENV = {"CSPREAD_PRIVATE_KEY": "", "CSPREAD_RELAY_URL": "", "COLUMNS": "200"}
DAYS = ["2021-03-01", "2021-03-02", "2021-03-03", "2021-03-04", "2021-03-05"]


def run(*args, stdin=None):
    return CliRunner().invoke(app, list(args), env=ENV, input=stdin, catch_exceptions=False)


def value(period: str) -> Decimal:
    r = run("index", "value", "ERCOT", "HB_WEST", "DA", "ATC", period, "--json")
    assert r.exit_code == 0, r.stderr
    return Decimal(json.loads(r.stdout)["value"])


def test_basis__own_price_is_index_plus_a_premium__perfect_hedge(tmp_path):
    idx = {d: value(d) for d in DAYS}
    f = tmp_path / "node.csv"
    f.write_text("date,price\n" + "".join(f"{d},{idx[d] + Decimal('2.50')}\n" for d in DAYS) + "2030-01-01,99\n")
    rep = json.loads(run("index", "basis", str(f), "ERCOT", "HB_WEST", "DA", "ATC", "--json").stdout)
    assert [r["period"] for r in rep["rows"]] == DAYS and rep["missing_index"] == ["2030-01-01"]
    assert rep["rows"][0]["index"] == str(idx[DAYS[0]].quantize(Decimal("0.01")))
    assert {r["basis"] for r in rep["rows"]} == {"2.50"} and rep["mean_basis"] == "2.50"
    assert rep["variance_reduction"] == "1.0000" and rep["hedge_ratio"] == "1.000" and rep["r_squared"] == "1.0000"
    text = run("index", "basis", str(f), "ERCOT", "HB_WEST", "DA", "ATC").stdout
    assert "removes 100.0% of your price variance" in text and "outside the data" in text


def test_basis__from_stdin__a_devnet_replay_shift_in_the_env_does_not_move_your_dates(monkeypatch):
    first = str(value(DAYS[0]).quantize(Decimal("0.01")))
    monkeypatch.setenv("CSPREAD_ORACLE_REPLAY_OFFSETS", '{"ERCOT": -157766400}')  # what a devnet reporter gets
    monkeypatch.setenv("CSPREAD_ORACLE_REPLAY_OFFSET", "3600")
    prices = "\n".join(f"{d},{p}" for d, p in zip(DAYS, ["30.1", "25", "28.7", "40", "33"], strict=True))
    r = run("index", "basis", "-", "ERCOT", "HB_WEST", "DA", "ATC", "--json", stdin=prices)
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["rows"][0]["index"] == first
    r = run("index", "basis", "-", "ERCOT", "HB_WEST", "DA", "ATC", stdin=prices)
    assert r.exit_code == 0, r.stderr
    assert "mean basis" in r.stdout and "over 5 days" in r.stdout


def test_basis__bad_line__one_line_error_naming_it(tmp_path):
    f = tmp_path / "bad.csv"
    f.write_text('date,price\n2021-03-01,30\n2021-03-02,"30,5"\n')
    r = run("index", "basis", str(f), "ERCOT", "HB_WEST", "DA", "ATC")
    assert r.exit_code == 1 and r.stderr.count("\n") == 1
    assert "bad.csv: line 3: price '30,5': write decimals with a point (30.5)" in r.stderr


def test_basis__missing_file_and_hourly_series__refused(tmp_path):
    r = run("index", "basis", str(tmp_path / "none.csv"), "ERCOT", "HB_WEST", "DA", "ATC")
    assert r.exit_code == 1 and "cannot read" in r.stderr
    f = tmp_path / "ok.csv"
    f.write_text("2021-03-01,30\n")
    r = run("index", "basis", str(f), "ERCOT", "HB_WEST", "DA", "HOURLY")
    assert r.exit_code == 1 and "HOURLY" in r.stderr
