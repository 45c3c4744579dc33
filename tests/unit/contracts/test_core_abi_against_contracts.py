"""core.abi reads the deployed contracts by field name: structs returned by the Clearinghouse views
and events logged by a fill decode to the values the contract holds and boa's own decoder sees."""

from __future__ import annotations

import boa

from core import abi
from tests.utils.contract_helpers import UNIT, USDC
from tests.utils.deployers import MARKET_FIELDS, default_market, feed_id


def _raw_logs(contract) -> list[dict]:
    """The last call's logs as a node returns them (32-byte topics, raw data)."""
    return [
        {"topics": [t.to_bytes(32, "big") for t in topics], "data": data}
        for _id, _addr, topics, data in sorted(contract._computation.get_raw_log_entries())
    ]


def test_market__decoded_by_name__equals_the_listed_struct(protocol):
    mid = protocol.list_market("ABI", price_tick=5_000, oi_cap=777 * UNIT)
    listed = dict(
        zip(
            MARKET_FIELDS,
            default_market(
                feed_id("ABI/MARK"),
                feed_id("ABI/SETTLE"),
                boa.env.evm.patch.timestamp,
                price_tick=5_000,
                oi_cap=777 * UNIT,
            ),
            strict=False,
        )
    )

    m = abi.Market.decode(protocol.clearinghouse.market(mid))

    assert m.asdict() == listed
    assert m.price_tick == 5_000 and m.oi_cap == 777 * UNIT and m.mark_feed == feed_id("ABI/MARK")
    assert abi.Market.decode(m.asdict()).encode() == tuple(protocol.clearinghouse.market(mid))


def test_market_state_and_account_summary__decoded_by_name(protocol):
    mid = protocol.list_market("ABS")
    st = abi.MarketState.decode(protocol.clearinghouse.market_state(mid))
    assert (st.halted, st.settled, st.settlement_price, st.long_oi) == (False, False, 0, 0)
    s = abi.AccountSummary.decode(protocol.view.account_summary(protocol.owner))
    assert s.collateral == 0 and s.equity == 0 and s.open_markets == 0 and s.fresh is True


def test_fill_events__decoded_from_raw_logs__match_boa_decoding(protocol):
    from tests.utils.deployers import new_trader

    mid = protocol.list_market("ABE")
    protocol.set_mark(mid, 50 * USDC)
    maker, taker = new_trader(), new_trader()
    for t in (maker, taker):
        protocol.fund(t.address, 10_000 * USDC)
    protocol.trade(maker, taker, mid, True, 2 * UNIT, 50 * USDC)

    raw = _raw_logs(protocol.exchange)
    boa_logs = protocol.exchange.get_logs()
    filled = abi.event("Exchange", "OrderFilled")
    fills = [filled.decode(lg) for lg in raw if filled.matches(lg)]
    assert len(fills) == 1
    f = fills[0]
    assert (f["market_id"], f["maker_is_buy"], f["quantity"], f["price"]) == (mid, True, 2 * UNIT, 50 * USDC)
    assert (f["maker"], f["taker"]) == (maker.address, taker.address)
    boa_fill = next(e for e in boa_logs if type(e).__name__ == "OrderFilled")
    assert f["order_hash"] == boa_fill.order_hash and f["quantity"] == boa_fill.quantity

    pos = abi.event("Clearinghouse", "PositionUpdated")
    positions = {p["account"]: p for p in (pos.decode(lg) for lg in raw if pos.matches(lg))}
    assert positions[maker.address]["quantity"] == 2 * UNIT and positions[taker.address]["quantity"] == -2 * UNIT
    assert positions[maker.address]["open_notional"] == 100 * USDC
