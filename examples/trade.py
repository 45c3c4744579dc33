"""Quote and take: sign a limit order with one key, take it on-chain with another, show positions.

    python examples/trade.py --key 0xMAKER --taker-key 0xTAKER H100-SXM.2026-12 buy 10 2.45

Without --taker-key the signed order is printed (post it to a relay, or give it to a taker).
"""

import json
from decimal import Decimal

from _common import parser, run

from sdk.client import Client


def main() -> None:
    p = parser(__doc__)
    p.add_argument("market", help="market id or symbol (see client.markets())")
    p.add_argument("side", choices=["buy", "sell"])
    p.add_argument("quantity", type=Decimal, help="MWh or GPU-hours")
    p.add_argument("price", type=Decimal, help="USD per unit (rounded to the tick against you)")
    p.add_argument("--taker-key", default=None)
    a = p.parse_args()
    maker = Client(a.manifest, a.rpc, private_key=a.key)
    m = maker.market(a.market)
    print(
        f"{m.symbol}: mark {m.mark.price if m.mark else '-'} USD/{m.unit}, status {m.status.value}, "
        f"tick {m.tick}, step {m.step}, min {m.min_size}"
    )
    order = maker.place_order(m.id, a.side, a.quantity, a.price)  # pre-flight: open, fresh, margin
    print(f"signed {order.order.side} {order.order.size} @ {order.order.limit} USD  hash {order.hash}")
    if not a.taker_key:
        print(json.dumps(order.as_json(), indent=1))
        return
    taker = Client(a.manifest, a.rpc, private_key=a.taker_key)
    est = taker.estimate_fill(order)
    print(f"taking it: gas {est.gas} (~{est.gas_cost_eth:.6f} ETH), taker fee {est.fee} USD")
    fill = taker.fill(order)
    print(f"filled {fill.quantity} @ {fill.price} USD in tx {fill.tx_hash}")
    for who, c in (("maker", maker), ("taker", taker)):
        acct = c.me()
        for pos in acct.positions:
            print(
                f"{who}: {pos.side} {abs(pos.quantity)} {pos.symbol} entry {pos.entry_price} mark {pos.mark} "
                f"uPnL {pos.unrealised_pnl} liq {pos.liquidation_price}"
            )
        print(
            f"{who}: equity {acct.equity} USD, IM {acct.initial_margin}, MM {acct.maintenance_margin}, "
            f"usage {acct.margin_usage}"
        )


if __name__ == "__main__":
    run(main)
