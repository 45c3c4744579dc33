"""SDK <-> order relay (relay): place posts to the relay, execute takes from its book,
cancel withdraws from it. Real anvil, real deploy, the relay as a child process (by PID)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from devnet.anvil import ANVIL_KEYS
from scripts._keepers_env import wait_until
from sdk.client import Client
from sdk.reader import Reader
from tests.utils.sdk_helpers import push_price as push

pytestmark = pytest.mark.integration


def test_relay__post_book_execute_cancel(devnet, start_relay):
    anvil, _, out = devnet
    relay = start_relay()
    r = Reader(out, anvil.url)
    relayer = Client(out, anvil.url, private_key=ANVIL_KEYS[0])
    maker = Client(out, anvil.url, private_key=ANVIL_KEYS[5], relay_url=relay.url)
    operator = Client(out, anvil.url, private_key=ANVIL_KEYS[7], relay_url=relay.url)
    for c in (maker, operator):
        c.faucet(Decimal("10000"))
        c.deposit(Decimal("10000"))
    spread = next(m for m in r.markets() if m.kind == "SPREAD")
    push(r, relayer, spread.mark_feed, 2_400_000)

    bid = maker.buy(spread.id, Decimal("300"), Decimal("2.39"))  # signed and posted
    book = maker.relay.book(spread.id)
    assert book.best_bid.price == Decimal("2.39") and book.orders == (bid,)
    assert maker.relay.orders(maker.address) == [bid]

    plan = operator.hedge_compute_spread("H100-SXM", "HB_WEST", Decimal("500"), spread.period)
    fill, rest = operator.execute(plan)  # takes the relay's 300 bid, rests the other 200
    assert fill.quantity == Decimal("300") and rest.order.size == Decimal("200")
    assert operator.me().position(spread.id).quantity == Decimal("-300")

    operator.cancel(rest)  # on-chain and at the relay
    wait_until(lambda: not operator.relay.orders(operator.address), 10, 0.2, "the relay to drop the cancelled order")
