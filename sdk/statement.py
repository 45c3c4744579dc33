"""The hedge statement's data, read from the chain at one block (issue 15).

    st = statement(reader, "0xAbc...", "2027-01..2027-12")   # a core.statement.Statement
    apps.statement_pdf.write(st, "out/")                      # the PDF and PNG a lender reads

Every figure is read at one block (the head when asked) so the statement is consistent, and
every figure keeps the block and transaction it comes from (``core.statement.Source``). The
events come from the Reader's own log readers (fills, liquidations, settlements, deposits,
withdrawals), the same ones the dashboard's accounting CSV replays (:func:`ledger_events`).
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING, Any

from eth_utils import is_address, to_checksum_address

from core import statement as cs
from core.curve import spec_tz
from core.errors import InvalidAccount, StatementError

if TYPE_CHECKING:
    from sdk.models import Market
    from sdk.reader import Reader


def checked_account(address: str) -> str:
    """The checksummed address, or :class:`InvalidAccount`."""
    if not isinstance(address, str) or not is_address(address):
        raise InvalidAccount(f"{address!r} is not an Ethereum address (0x followed by 40 hex digits)")
    return to_checksum_address(address)


def ledger_events(reader: Reader, address: str, to_block: int | str = "latest") -> list[cs.LedgerEvent]:
    """The account's fills, liquidations and settlements as ledger events, in chain order."""
    addr = checked_account(address)
    upto = {} if to_block == "latest" else {"to_block": to_block}
    out = []
    for f in reader.fills(addr, **upto):
        side = f.side_of(addr)
        out.append(
            cs.LedgerEvent(
                "fill",
                f.market_id,
                f.quantity_units if side == "buy" else -f.quantity_units,
                f.price_units,
                (f.maker_fee_units if f.maker.lower() == addr.lower() else 0)
                + (f.taker_fee_units if f.taker.lower() == addr.lower() else 0),
                f.block_number,
                f.log_index,
                f.tx_hash,
            )
        )
    for e in reader.liquidations(addr, **upto):
        # the event's quantity moved from the account to the liquidator; the penalty is the account's cost
        out.append(
            cs.LedgerEvent(
                "liquidation",
                e.market_id,
                -e.quantity_units,
                e.price_units,
                e.penalty_units,
                e.block_number,
                e.log_index,
                e.tx_hash,
            )
        )
    for s in reader.settlements(addr, **upto):
        out.append(
            cs.LedgerEvent(
                "settlement",
                s.market_id,
                -s.quantity_units,
                s.settlement_price_units,
                0,
                s.block_number,
                0,
                s.tx_hash,
                pnl=s.pnl_units,
            )
        )
    return cs.ordered(out)


def market_info(m: Market) -> cs.MarketInfo:
    spec = m.spec or {}
    ratio = Fraction(str(spec["mwh_per_gpu_hour"])) if m.kind == "SPREAD" and spec.get("mwh_per_gpu_hour") else None
    compute = spec.get("compute") if m.kind == "SPREAD" else spec
    power = spec.get("power") if m.kind == "SPREAD" else spec
    return cs.MarketInfo(
        id=m.id,
        symbol=m.symbol,
        kind=m.kind,
        delivery_start=m.delivery_start,
        delivery_end=m.delivery_end,
        tz=spec_tz(spec),
        unit=m.unit,
        price_tick=m.price_tick,
        mwh_per_gpu_hour=ratio,
        gpu=(compute or {}).get("gpu") if m.kind != "POWER" else None,
        node=(power or {}).get("node") if m.kind != "COMPUTE" else None,
    )


def _price_at(reader: Reader, m: Market, block: int, what: str) -> tuple[int | None, cs.Source | None]:
    """A market's settlement price once settled, else its mark (None when never reported)."""
    if m.settlement_price_units is not None:
        return m.settlement_price_units, cs.Source(block, None, f"Clearinghouse.market_state({m.id}): {what} settled")
    if m.mark is None or not m.mark.observed_at:
        return None, None
    return m.mark.price_units, cs.Source(block, None, f"Clearinghouse.mark({m.id}): {what} mark")


def _leg_window(m: Market, leg: str) -> tuple[int, int]:
    spec = (m.spec or {}).get(leg) if m.kind == "SPREAD" else (m.spec or {})
    return int((spec or {}).get("delivery_start", m.delivery_start)), int(
        (spec or {}).get("delivery_end", m.delivery_end)
    )


def _reference(reader: Reader, month: cs.Month, markets: dict[int, Market], block: int):
    """The month's reference index and power prices: its own COMPUTE and POWER legs first, else
    the listed COMPUTE / POWER market of the same GPU / node and window as a SPREAD leg."""
    g, p, src = cs.reference_from_legs(month.legs)
    src = list(src)
    for leg in month.legs:
        if leg.market.kind != "SPREAD":
            continue
        m = markets[leg.market.id]
        if g is None:
            window = _leg_window(m, "compute")
            for c in reader.find_markets("COMPUTE", gpu=leg.market.gpu):
                if (c.delivery_start, c.delivery_end) == window:
                    g, s = _price_at(reader, reader.market(c.id, block), block, c.symbol)
                    src += [s] if s else []
                    break
        if p is None:
            pspec = (m.spec or {}).get("power") or {}
            window = _leg_window(m, "power")
            fields = {k: pspec[k] for k in ("iso", "node", "market", "profile") if k in pspec}
            for c in reader.find_markets("POWER", **fields):
                if (c.delivery_start, c.delivery_end) == window:
                    p, s = _price_at(reader, reader.market(c.id, block), block, c.symbol)
                    src += [s] if s else []
                    break
    return g, p, tuple(src)


def statement(
    reader: Reader,
    address: str,
    months: str,
    *,
    block: int | None = None,
    index_moves=cs.DEFAULT_MOVES,
    power_moves=cs.DEFAULT_MOVES,
    site_scale: Fraction | int | str = 1,
) -> cs.Statement:
    """The hedge statement of ``address`` for delivery months ``months`` (``2027-01..2027-12``),
    read at ``block`` (default: the head). ``site_scale``: the site's size as a multiple of the
    hedged size for the revenue grid (1: a fully hedged site; 2: half hedged).

    Errors: :class:`~core.errors.InvalidAccount`, :class:`~core.errors.InvalidMonthRange`,
    :class:`~core.errors.NoPositions`, :class:`~core.errors.LedgerMismatch`."""
    addr = checked_account(address)
    span = cs.parse_months(months)
    scale = Fraction(str(site_scale))
    if scale <= 0:
        raise StatementError(f"site_scale must be positive, got {site_scale}")
    at = reader.block_number() if block is None else int(block)
    b = reader.w3.eth.get_block(at)
    events = ledger_events(reader, addr, to_block=at)
    ch = reader.clearinghouse.functions
    open_ids = {int(x) for x in ch.open_markets(addr).call(block_identifier=at)}
    ids = sorted(open_ids | {e.market_id for e in events})
    markets = {mid: reader.market(mid, at) for mid in ids}
    holdings = {}
    for mid in ids:
        q, on = ch.position(addr, mid).call(block_identifier=at)
        m = markets[mid]
        mark = m.mark.price_units if m.mark is not None and m.mark.observed_at else None
        holdings[mid] = cs.Holding(
            int(q), int(on), mark, cs.Source(at, None, f"Clearinghouse.position({addr}, {mid}) and mark({mid})")
        )
    infos = {mid: market_info(m) for mid, m in markets.items()}
    legs = cs.build_legs(infos, events, holdings, span)
    grouped = cs.group_months(legs, span)
    refs = {mo.month: _reference(reader, mo, markets, at) for mo in grouped}
    grouped = cs.group_months(legs, span, refs)
    coll = int(ch.collateral(addr).call(block_identifier=at))
    equity = int(ch.equity(addr).call(block_identifier=at))
    im, mm = (int(x) for x in ch.margin_requirements(addr).call(block_identifier=at))
    moves = [(d.amount_units, cs.Source(d.block_number, d.tx_hash, d.kind)) for d in reader.deposits(addr, to_block=at)]
    moves += [
        (w.amount_units, cs.Source(w.block_number, w.tx_hash, w.kind)) for w in reader.withdrawals(addr, to_block=at)
    ]
    margin = cs.Margin(
        coll,
        equity,
        im,
        mm,
        cs.Source(at, None, f"Clearinghouse.collateral, equity, margin_requirements({addr})"),
        tuple(sorted(moves, key=lambda x: x[1].block)),
    )
    contracts = {name: reader.manifest.data["contracts"][name]["address"] for name in ("Clearinghouse", "Exchange")}
    return cs.Statement(
        account=addr,
        chain_id=reader.chain_id,
        block=at,
        block_hash=_hex(b["hash"]),
        block_time=int(b["timestamp"]),
        months_asked=span,
        months=tuple(grouped),
        margin=margin,
        grid=cs.revenue_grid(grouped, index_moves, power_moves, scale),
        contracts=contracts,
    )


def _hex(x: Any) -> str:
    return x if isinstance(x, str) else "0x" + bytes(x).hex()
