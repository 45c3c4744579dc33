"""SDK throughput: EIP-712 order signing (the path `Client.buy`/`sell` uses before posting)."""

from __future__ import annotations

import time

from eth_account import Account

from sdk.models import Order
from sdk.signing import TimeNonce, sign_order

EXCHANGE = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
N = 2_000


def run() -> list[dict]:
    acct = Account.create()
    nonces = TimeNonce()
    orders = [
        Order(acct.address, 5, i % 2 == 0, 1_000, 2_500_000 + i * 1_000, nonces.next(), 1_900_000_000) for i in range(N)
    ]
    sign_order(orders[0], acct, 31337, EXCHANGE)  # warm caches
    t0 = time.perf_counter()
    for o in orders:
        sign_order(o, acct, 31337, EXCHANGE)
    dt = time.perf_counter() - t0
    return [
        {
            "name": f"SDK order signing, {N:,} orders, one thread (eth_account + coincurve)",
            "value": round(N / dt),
            "unit": "orders/s",
            "target": ">= 1,000",
        }
    ]


if __name__ == "__main__":
    print(run())
