"""The hedge statement (issue 15) against a real anvil and the real deploy script: an operator
hedges next month with real fills at different prices (two H100 sells, a power buy, a SPREAD
sell) and holds an hourly power position through a real settlement; every figure the statement
prints is checked against direct chain reads (position(), collateral(), equity(),
margin_requirements(), market_state()) and against the receipts of the transactions its
footnotes name. The PDF is parsed (pypdf) for those block and transaction references, and the
CLI and the dashboard route serve the same statement.

Prices are real observations from ../shared/data (read below, never typed in): the H100 SXM5
median and p75 of the 2025-11-16 Prime Intellect snapshot, ERCOT HB_WEST DAM hours of 2022-06-15.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from pypdf import PdfReader

from core import statement as cs
from core import units as u
from core.errors import InvalidAccount, InvalidMonthRange, NoPositions
from devnet.anvil import ANVIL_KEYS
from sdk.client import Client
from sdk.reader import Reader
from sdk.statement import statement
from tests.utils.sdk_helpers import push_price as push

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def _gpu(stat: str) -> Decimal:
    with open(DATA / "gpu_primeintellect_market_stats_2025-10_2025-11.csv") as f:
        (row,) = [
            r
            for r in csv.DictReader(f)
            if r["gpu"] == "H100_80GB_SXM5" and r["timestamp_utc"] == "2025-11-16T06:47:03Z"
        ]
    return Decimal(row[stat])


def _ercot(ts: str) -> Decimal:
    with open(DATA / "ercot_dam_hubs_2021_2022.csv") as f:
        (row,) = [r for r in csv.DictReader(f) if r["node"] == "HB_WEST" and r["timestamp_utc"] == ts]
    return Decimal(row["price_usd_per_mwh"])


G1, G2 = _gpu("median"), _gpu("p75")  # 2.69, 2.71 USD per GPU-hour
P_PEAK = _ercot("2022-06-15T20:00:00Z")  # 67.82 USD/MWh
P_HOUR, P_SETTLE = _ercot("2022-06-15T22:00:00Z"), _ercot("2022-06-15T21:00:00Z")  # 60.35, 71.44
RATIO = Decimal("0.0012")  # the deployed SPREAD market's MWh per GPU-hour


@pytest.fixture(scope="module")
def hedged(devnet):
    """The operator's hedge, filled and (for the hourly leg) settled: (reader, operator, markets, months),
    on the module's devnet (tests/integration/conftest.py)."""
    anvil, _, path = devnet
    r = Reader(path, anvil.url)
    maker, op, relayer = (Client(path, anvil.url, private_key=ANVIL_KEYS[i]) for i in (5, 7, 0))
    for c in (maker, op):
        c.faucet(Decimal("20000"))
        c.deposit(Decimal("10000"))
    ms = r.markets()
    h100 = next(m for m in ms if m.kind == "COMPUTE" and m.spec["gpu"] == "H100-SXM")
    peak = next(m for m in ms if m.kind == "POWER" and m.spec["node"] == "HB_WEST" and m.spec["profile"] == "PEAK")
    spread = next(m for m in ms if m.kind == "SPREAD")
    hourly = next(m for m in ms if m.kind == "POWER" and m.spec["profile"] == "HOURLY")
    spread_px = u.round_price(spread, G1 - RATIO * P_PEAK, "sell")
    for m, px in ((h100, G1), (peak, P_PEAK), (spread, spread_px), (hourly, P_HOUR)):
        push(r, relayer, m.mark_feed, u.usd_to_base(px))
    op.fill(maker.buy(h100.id, Decimal("100"), G1))  # operator sells 100 GPU-hours at the median
    op.fill(maker.buy(h100.id, Decimal("50"), G2))  # and 50 more at the p75
    op.fill(maker.sell(peak.id, Decimal("0.18"), P_PEAK))  # buys the power the 150 GPU-hours burn
    op.fill(maker.buy(spread.id, Decimal("100"), spread_px))  # sells 100 GPU-hours of spread
    op.fill(maker.sell(hourly.id, Decimal("1"), P_HOUR))  # an hourly power position, settled below
    anvil.set_next_timestamp(hourly.delivery_end + 10)
    push(r, relayer, hourly.settlement_feed, u.usd_to_base(P_SETTLE), observed_at=hourly.delivery_end + 5)
    anvil.warp(hourly.dispute_window + 1)
    relayer.finalize_settlement(hourly.id)
    op.settle(hourly.id)
    months = sorted({cs.delivery_month(m.delivery_start, cs_tz(m)) for m in (h100, peak, spread, hourly)})
    return r, op, {"h100": h100, "peak": peak, "spread": spread, "hourly": hourly}, f"{months[0]}..{months[-1]}"


def cs_tz(m) -> str:
    from core.curve import spec_tz

    return spec_tz(m.spec)


def _fills_in(r: Reader, tx_hash: str) -> list:
    receipt = r.w3.eth.get_transaction_receipt(tx_hash)
    return [(receipt.blockNumber, e.args) for e in r.exchange.events.OrderFilled().process_receipt(receipt)]


def test_statement__every_figure_matches_the_chain(hedged):
    r, op, m, months = hedged
    st = statement(r, op.address, months)
    ch = r.clearinghouse.functions
    legs = {leg.market.id: leg for mo in st.months for leg in mo.legs}
    assert set(legs) == {m["h100"].id, m["peak"].id, m["spread"].id, m["hourly"].id}

    # open legs: size and open notional are position() at the statement's block
    for key in ("h100", "peak", "spread"):
        leg = legs[m[key].id]
        assert leg.settled is None and leg.holding.source.block == st.block
        assert ch.position(op.address, m[key].id).call(block_identifier=st.block) == [leg.quantity, leg.open_notional]

    # the average entry is the fills' VWAP, recomputed from the receipts the footnotes name
    for leg in legs.values():
        q = notional = fees = 0
        for src in leg.fills:
            ((block, f),) = [(b, a) for b, a in _fills_in(r, src.tx_hash) if a.market_id == leg.market.id]
            assert block == src.block and f.taker == op.address
            q += f.quantity
            notional += f.quantity * f.price
            fees += f.taker_fee
        assert leg.entry == Fraction(notional, q) and abs(leg.quantity) == q and leg.fees == fees
    assert cs.usd(legs[m["h100"].id].entry, 4) == str(((100 * G1 + 50 * G2) / 150).quantize(Decimal("0.0001")))

    # the settled leg: the Settled event of the footnoted transaction, the market's settlement price
    hl = legs[m["hourly"].id]
    receipt = r.w3.eth.get_transaction_receipt(hl.settled.tx_hash)
    (ev,) = r.clearinghouse.events.Settled().process_receipt(receipt)
    assert receipt.blockNumber == hl.settled.block and ev.args.account == op.address
    assert ev.args.pnl == hl.settlement_pnl == u.usd_to_base(P_SETTLE - P_HOUR)  # 1 MWh x (71.44 - 60.35)
    assert ch.market_state(m["hourly"].id).call(block_identifier=st.block)[2] == hl.settlement_price
    assert ch.position(op.address, m["hourly"].id).call(block_identifier=st.block) == [0, 0]

    # margin posted: the pinned views at the statement's block
    mg = st.margin
    assert mg.source.block == st.block
    assert mg.collateral == ch.collateral(op.address).call(block_identifier=st.block)
    assert mg.equity == ch.equity(op.address).call(block_identifier=st.block)
    assert [mg.initial, mg.maintenance] == ch.margin_requirements(op.address).call(block_identifier=st.block)
    (dep,) = [s for _, s in mg.deposits]
    assert r.w3.eth.get_transaction_receipt(dep.tx_hash).blockNumber == dep.block
    assert r.w3.eth.get_block(st.block)["hash"].hex().removeprefix("0x") == st.block_hash.removeprefix("0x")

    # the hedged month: 250 GPU-hours sold (150 COMPUTE + 100 SPREAD), 0.18 + 100 x 0.0012 = 0.30 MWh bought
    (month,) = [mo for mo in st.months if m["h100"].id in {leg.market.id for leg in mo.legs}]
    assert month.gpu_hours == 250 and month.mwh == Fraction(3, 10)
    locked = sum(-legs[m[k].id].open_notional - legs[m[k].id].fees for k in ("h100", "peak", "spread"))
    assert month.locked == locked and month.spread_per_gpu_hour == Fraction(locked, 250)
    assert month.reference_index == u.usd_to_base(G1) and month.reference_power == u.usd_to_base(P_PEAK)
    assert month.spread_per_mwh == Fraction(locked) / Fraction(3, 10)
    # a site of the hedged size earns the locked amount whatever the index and power do (every
    # month has its reference: the hourly month's is its settlement price)
    assert st.grid.left_out == () and len(st.grid.months) == len(st.months)
    assert {c for row in st.grid.hedged for c in row} == {u.div_half_even(st.locked.numerator, st.locked.denominator)}


def test_statement__pdf_names_every_block_and_transaction__png_draws(hedged, tmp_path):
    from apps.statement import write

    r, op, _, months = hedged
    st = statement(r, op.address, months)
    pdf, png = write(st, tmp_path)
    text = "\n".join(p.extract_text() for p in PdfReader(pdf).pages)
    flat = text.replace("\n", "")
    refs = {s for mo in st.months for leg in mo.legs for s in (*leg.fills, leg.settled) if s is not None}
    refs |= {s for _, s in st.margin.deposits}
    assert len(refs) >= 6
    for s in refs:
        assert s.tx_hash in flat and f"block {s.block}" in text, s
    assert f"block {st.block}" in text and st.block_hash in flat and op.address in flat
    assert "REVENUE FLOOR WITH THE HEDGE" in text and "locked-in spread" in text
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_statement__typed_errors(hedged):
    r, op, _, months = hedged
    with pytest.raises(InvalidAccount, match="not an Ethereum address"):
        statement(r, "0x1234", months)
    with pytest.raises(InvalidMonthRange, match="ends before it starts"):
        statement(r, op.address, "2030-02..2030-01")
    with pytest.raises(NoPositions, match="no position delivering"):
        statement(r, op.address, "2030-01..2030-12")
    with pytest.raises(NoPositions):
        statement(r, "0x" + "11" * 20, months)  # an address that never traded


def test_cli_statement__writes_pdf_and_png__json_figures(hedged, devnet, tmp_path):
    from typer.testing import CliRunner

    from apps.cli.main import app

    anvil, _, path = devnet
    r, op, m, months = hedged
    res = CliRunner().invoke(
        app,
        ["--manifest", str(path), "--rpc-url", anvil.url, "statement", op.address, "--month", months]
        + ["--out", str(tmp_path), "--json"],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert Path(data["pdf"]).is_file() and Path(data["png"]).is_file()
    direct = statement(r, op.address, months, block=data["block"])
    assert data["margin"]["collateral_usd"] == cs.usd(direct.margin.collateral)
    assert data["locked_usd"] == cs.usd(direct.locked)
    bad = CliRunner().invoke(
        app, ["--manifest", str(path), "--rpc-url", anvil.url, "statement", op.address, "--month", "2027-13"]
    )
    try:
        said = bad.output + bad.stderr
    except ValueError:  # stderr mixed into output
        said = bad.output
    assert bad.exit_code == 1 and "not a month" in said


def test_dashboard_route_serves_the_same_pdf(hedged, devnet):
    from fastapi.testclient import TestClient

    from apps.web import create_app

    anvil, _, path = devnet
    _, op, _, months = hedged
    with TestClient(create_app(path, anvil.url)) as web:
        res = web.get(f"/api/account/{op.address}/statement.pdf", params={"months": months})
        assert res.status_code == 200 and res.headers["content-type"] == "application/pdf"
        text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(res.content)).pages)
        assert op.address in text.replace("\n", "")
        png = web.get(f"/api/account/{op.address}/statement.png", params={"months": months})
        assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
        page = web.get(f"/account/{op.address}")
        assert 'action="/statement.pdf"' in page.text
        for params, err in (({"months": "2027-13"}, "InvalidMonthRange"), ({"months": "2030-01"}, "NoPositions")):
            bad = web.get(f"/api/account/{op.address}/statement.pdf", params=params)
            assert bad.status_code == 400 and bad.json()["error"] == err
        assert web.get("/api/account/0x12/statement.pdf", params={"months": months}).json()["error"] == "InvalidAccount"
