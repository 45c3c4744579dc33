"""Fixtures of the dashboard backend's unit tests: the real Backend and FastAPI app over a fake
SDK client (no chain) and the real RelayClient over a fake relay transport (no relay process).

Why the fake is faithful: the Backend may use only the public SDK (issue 13), so ``FakeClient``
implements exactly those public methods (``market_params``, ``market``, ``markets``, ``account``,
``fills``, ``deposits``, ``watch`` ...) and returns the SDK's own frozen models (``Market``,
``AccountState``, ``Fill``, ``CollateralMove``, ``UnsignedTx`` ...) built from the real
markets/default.json listing. Where the real Client validates input before any RPC call
(``unsigned_*`` amounts through ``core.units.positive_usd``, ``market()`` raising UnknownMarket,
``watch()`` refusing a non-address) the fake calls the same SDK functions, so the errors the
routes map are the SDK's own. The Client's chain-side checks (balances, margin) are covered
against anvil by tests/integration/test_web_dashboard.py.
"""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from types import SimpleNamespace

import httpx
import pytest

from core import units as u
from core.specs import spec_matches
from scripts._markets import load_markets
from sdk.errors import InvalidOrder, UnknownMarket
from sdk.models import (
    AccountState,
    CollateralMove,
    Fill,
    LiquidationEvent,
    Mark,
    MarketStatus,
    Position,
    PriceUpdate,
    Settlement,
    TxStatus,
    UnsignedTx,
)
from sdk.relay_client import RelayClient
from sdk.signing import TimeNonce, order_digest
from tests.utils.sdk_helpers import NOW, market_from_entry

CHAIN_ID = 31337
EXCHANGE = "0x" + "e1" * 20
TRADER = "0x" + "ab" * 20  # checksummed below
MAKER = "0x" + "cd" * 20
MARKS = {"POWER": 45_230_000, "COMPUTE": 2_500_000, "SPREAD": 2_400_000}
SPREAD_ID = 7


def checksum(a: str) -> str:
    from eth_utils import to_checksum_address

    return to_checksum_address(a)


class FakeManifest:
    data = {"fees": {"maker_bps": 2, "taker_bps": 5}}

    def address(self, name: str) -> str:
        return {"Exchange": EXCHANGE, "Clearinghouse": "0x" + "c1" * 20, "Collateral": "0x" + "a0" * 20}[name]


class FakeClient:
    """The public surface of ``sdk.Client`` that ``apps.web.backend.Backend`` uses, over fixed data."""

    chain_id = CHAIN_ID
    deploy_block = 1
    default_expiry = 24 * 3600

    def __init__(self, relay: RelayClient | None, address: str | None = None):
        self.manifest = FakeManifest()
        self.exchange = SimpleNamespace(address=checksum(EXCHANGE))
        self.faucet_token = object()
        self.relay = relay
        self.nonces = TimeNonce()
        self.address_ = address
        self._markets = {
            m.id: m for m in (market_from_entry(e.manifest_entry(i + 1)) for i, e in enumerate(load_markets(None, NOW)))
        }
        self.sent: list[tuple] = []  # unsigned transactions built (what a wallet would be asked to send)

    # ------------------------------------------------------------ chain
    def block_number(self) -> int:
        return 100

    def now(self) -> int:
        return NOW

    def block_time(self, block: int) -> int:
        return NOW - (100 - int(block)) * 12

    # ------------------------------------------------------------ markets
    def market_params(self, ref):
        mid = ref.id if hasattr(ref, "id") else int(ref)
        if mid not in self._markets:
            raise UnknownMarket(f"market {mid} is not listed on chain {CHAIN_ID}; list them with markets()")
        return self._markets[mid]

    def mark(self, ref) -> Mark:
        m = self.market_params(ref)
        return Mark(m.id, m.mark_feed, MARKS[m.kind], NOW - 60, True)

    def market(self, ref, block="latest"):
        m = self.market_params(ref)
        return dataclasses.replace(m, status=MarketStatus.LIVE, mark=self.mark(m.id), long_open_interest=5_000)

    def markets(self):
        return [self.market(mid) for mid in sorted(self._markets)]

    def find_markets(self, kind=None, **fields):
        out = []
        for m in self._markets.values():
            if (not kind or m.kind == kind) and spec_matches(m.spec, **fields):
                out.append(m)
        return out

    def _static_market(self, mid):  # sdk.hedge (SDK-internal) reads it; the Backend does not
        return self.market_params(mid)

    def fees_bps(self):
        return (2, 5)

    def price_updates(self, from_block=None, to_block="latest"):
        m = self._markets[SPREAD_ID]
        return [
            PriceUpdate(m.mark_feed.lower(), 2_300_000 + 10_000 * i, NOW - 86_400 * 2 + 3600 * i, 2 + i)
            for i in range(int(from_block or 1) - 1, min(int(to_block), 60))
        ]

    # ------------------------------------------------------------ accounts
    def account(self, address: str) -> AccountState:
        a = checksum(address)
        if a != checksum(TRADER):
            return AccountState(a, 0, 0, 0, 0, True, (), 0, 0)
        m = self._markets[SPREAD_ID]
        q, on, mark = -720_000, -1_728_000_000, MARKS["SPREAD"]
        pos = Position(
            SPREAD_ID,
            m.symbol,
            q,
            on,
            mark,
            u.margin_units(q, m.im_fixed, m.im_rate_bps, mark),
            u.margin_units(q, m.mm_fixed, m.mm_rate_bps, mark),
            Decimal("3.91"),
            False,
            m.price_tick,
            m.unit,
        )
        return AccountState(
            a,
            2_000_000_000,
            2_000_000_000 + q * mark // 1000 - on,
            pos.initial_margin_units,
            pos.maintenance_margin_units,
            True,
            (pos,),
            8_000_000_000,
            2**256 - 1,
        )

    def fills(self, address):
        return [
            Fill(
                "0x" + "0f" * 32,
                SPREAD_ID,
                checksum(MAKER),
                checksum(address),
                True,
                720_000,
                2_400_000,
                0,
                864_000,
                40,
                "0x" + "f1" * 32,
                0,
            )
        ]

    def settlements(self, address):
        return [Settlement(checksum(address), 1, -1_000, 12_000_000, 90, "0x" + "5e" * 32, 41_000_000)]

    def deposits(self, address):
        return [
            CollateralMove("deposit", checksum(address), 2_500_000_000, 20, "0x" + "d1" * 32, 0, self.block_time(20))
        ]

    def withdrawals(self, address):
        return [
            CollateralMove("withdrawal", checksum(address), -500_000_000, 60, "0x" + "d2" * 32, 0, self.block_time(60))
        ]

    def liquidations(self, address):
        return [
            LiquidationEvent(
                checksum(address),
                checksum(MAKER),
                1,
                -2_000,
                47_000_000,
                1_880_000,
                300_000,
                70,
                "0x" + "1d" * 32,
                1,
                self.block_time(70),
            )
        ]

    def realised_pnl(self, address):
        return Decimal("12.5")

    def eth_balance(self, address):
        return Decimal("9.87654321")

    # ------------------------------------------------------------ orders
    def order_hash(self, order) -> str:
        return order_digest(order, CHAIN_ID, EXCHANGE)

    def filled(self, order) -> int:
        return order.quantity // 4

    def remaining(self, order) -> int:
        return order.quantity - self.filled(order)

    def tx_status(self, tx_hash: str) -> TxStatus:
        from sdk.errors import InsufficientMargin

        if tx_hash.endswith("00"):
            return TxStatus("pending")
        if tx_hash.endswith("11"):
            return TxStatus("success", 99)
        return TxStatus(
            "failed",
            99,
            InsufficientMargin(
                "withdraw 10 USD: equity would fall below initial margin",
                reason="Clearinghouse: insufficient margin",
                missing=Decimal("4.2"),
            ),
        )

    # ------------------------------------------------------------ a wallet's account (keyless)
    @property
    def address(self) -> str:
        from sdk.errors import SignerRequired

        if self.address_ is None:
            raise SignerRequired("this Client has no key")
        return self.address_

    def watch(self, address: str) -> FakeClient:
        from eth_utils import is_address

        if not isinstance(address, str) or not is_address(address):
            raise InvalidOrder(f"{address!r} is not an Ethereum address (0x followed by 40 hex digits)")
        c = FakeClient.__new__(FakeClient)
        c.__dict__.update(self.__dict__)
        c.address_ = checksum(address)
        return c

    def build_order(self, market, side, quantity, price, *, expiry=None, reduce_only=False):
        from sdk.client import Client

        return Client.build_order(self, market, side, quantity, price, expiry=expiry, reduce_only=reduce_only)

    def _resolve_id(self, ref):
        return int(ref)

    def check_order(self, order, *, maker_fee_bps=None):
        from sdk.errors import InsufficientMargin

        if self.account(order.trader).collateral_units == 0:
            raise InsufficientMargin(
                "sell 1,000 GPU-hour: 1,300.00 USD missing. Deposit at least that much", missing=Decimal("1300")
            )

    def _tx(self, fn: str, action: str) -> list[UnsignedTx]:
        self.sent.append((fn, action))
        return [UnsignedTx(self.address, EXCHANGE, "0x" + "00" * 4, action, 60_000)]

    def unsigned_faucet(self, amount):
        u.positive_usd(amount, "faucet amount")
        return self._tx("mint", f"faucet {amount} USD")

    def unsigned_approve(self, amount=None):
        if amount is not None:
            u.usd_to_base(amount)
        return self._tx("approve", "approve")

    def unsigned_deposit(self, amount):
        u.positive_usd(amount, "deposit")
        return self._tx("deposit", f"deposit {amount} USD")

    def unsigned_withdraw(self, amount):
        u.positive_usd(amount, "withdrawal")
        return self._tx("withdraw", f"withdraw {amount} USD")

    def unsigned_cancel(self, order):
        if order.trader.lower() != self.address.lower():
            raise InvalidOrder(f"the order belongs to {order.trader}, not the connected {self.address}")
        return self._tx("cancel", f"cancel order nonce {order.nonce}")

    def unsigned_cancel_all(self, min_nonce=None):
        return self._tx("cancel_all", "cancel all orders")


class FakeRelay:
    """The relay's HTTP answers (shapes of relay/relay.py: order_json, book_json, trade_json)."""

    def __init__(self):
        self.posted: list[dict] = []
        self.refuse: dict | None = None  # next POST answer (status, body)

    def __call__(self, req: httpx.Request) -> httpx.Response:
        path = req.url.path
        if req.method == "POST" and path == "/orders":
            body = json.loads(req.content)
            if self.refuse is not None:
                status, answer = self.refuse
                return httpx.Response(status, json=answer)
            self.posted.append(body)
            return httpx.Response(
                201,
                json={
                    **body,
                    "status": "open",
                    "remaining": body["order"]["quantity"],
                    "seq": len(self.posted),
                    "created_at": NOW,
                    "reason": "",
                },
            )
        if path.endswith("/book"):
            return httpx.Response(
                200,
                json={
                    "market_id": 7,
                    "bids": [["2352000", "720000"]],
                    "asks": [["2448000", "10000"]],
                    "bid_levels": [{"price": "2352000", "quantity": "720000", "orders": 2}],
                    "ask_levels": [{"price": "2448000", "quantity": "10000", "orders": 1}],
                    "orders": [],
                    "block": 99,
                },
            )
        if path.endswith("/trades"):
            return httpx.Response(
                200,
                json=[
                    {
                        "market_id": 7,
                        "order_hash": "0x" + "0f" * 32,
                        "maker": MAKER,
                        "taker": TRADER,
                        "maker_is_buy": True,
                        "quantity": "720000",
                        "price": "2400000",
                        "tx_hash": "0x" + "f1" * 32,
                        "log_index": 0,
                        "block_number": 40,
                        "timestamp": NOW - 720,
                    }
                ],
            )
        if path == "/orders":
            return httpx.Response(200, json=[])
        return httpx.Response(404, json={"detail": "not found", "code": "not_found"})


@pytest.fixture
def fake_relay() -> FakeRelay:
    return FakeRelay()


@pytest.fixture
def fake_client(fake_relay) -> FakeClient:
    return FakeClient(RelayClient("http://relay.test", transport=httpx.MockTransport(fake_relay)))


@pytest.fixture
def backend(fake_client):
    from apps.web.backend import Backend

    return Backend("unused.json", "http://unused", "http://relay.test", client=fake_client)


@pytest.fixture
def api(backend):
    from fastapi.testclient import TestClient

    from apps.web.app import create_app

    with TestClient(create_app("unused.json", "http://unused", backend=backend)) as c:
        yield c
