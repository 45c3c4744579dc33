"""apps.statement draws what core.statement computed: the PDF keeps its text (it is parsed here)
and names every block and transaction a figure comes from; the PNG is the revenue grid."""

from __future__ import annotations

import io

from pypdf import PdfReader

from apps import statement as ap
from core import statement as cs
from tests.utils import statement_example as worked


def _statement() -> cs.Statement:
    months = worked.months()
    margin = cs.Margin(
        10_000_000_000,
        10_050_000_000,
        300_000_000,
        200_000_000,
        cs.Source(30, None, "Clearinghouse.collateral, equity, margin_requirements"),
        ((10_000_000_000, cs.Source(3, worked.tx(3), "deposit")),),
    )
    return cs.Statement(
        "0x" + "ab" * 20, 31337, 30, "0x" + "cd" * 32, 1_800_000_000, ("2027-01", "2027-12"), tuple(months), margin,
        cs.revenue_grid(months), {"Clearinghouse": "0x" + "11" * 20},
    )  # fmt: skip


def test_pdf_text_names_every_source_and_the_figures(tmp_path):
    st = _statement()
    pdf, png = ap.write(st, tmp_path / "out")
    assert pdf.name == f"statement-{st.account}-2027-01_2027-12-block30.pdf" and png.suffix == ".png"
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.read_bytes())).pages)
    for e in worked.EVENTS:
        assert e.tx_hash in text and f"block {e.block}" in text
    assert worked.tx(3) in text and st.block_hash in text
    for figure in ("2.1000", "307.59", "2.0506", "1,708.83", "1,541.67", "10,000.00", "1,639.59"):
        assert figure in text, figure
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_every_citation_has_a_source_line():
    summary, grid, notes = ap.text_lines(_statement())
    cited = {
        int(n)
        for line in summary + grid
        for part in line.split("[")[1:]
        for n in part.split("]")[0].split(",")
        if n.isdigit()
    }
    assert cited == {n for n, _ in notes.items()} and len(cited) == 9
