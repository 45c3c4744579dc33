"""Settler at the scale of a standing curve (issue 10): hundreds of markets expiring a day are
finalised in one pass per block, settled in batches, and a settled market leaves every scan once
nobody holds it: per-block reads follow the markets expiring now, never the venue's history.

The real Settler runs against a model of the chain: each view call it would batch is answered
from the model (market, market_state, Oracle.feed, collateral, open_markets, insurance_fund) and
every read is counted, so the test can show which markets are read each block."""

from __future__ import annotations

import json
import types
from collections import Counter
from pathlib import Path

from web3 import Web3

from chain.rpc import Head
from chain.tx import SendResult
from core import abi
from keepers.chain import Metrics
from keepers.positions import PositionEvent
from keepers.settler import Settler, SettlerSettings

H = 3600
T0 = 1_760_000_000 - 1_760_000_000 % H
ALICE, BOB = "0x" + "a" * 40, "0x" + "b" * 40


class Call(tuple):
    """`contract.functions.f(args)` -> ("f", *args); `.call()` asks the model."""

    model: Model

    def call(self):
        return self.model.answer(self)


class Calls:
    def __init__(self, model: Model):
        self.model = model

    def __getattr__(self, name):
        def build(*args):
            c = Call((name, *args))
            c.model = self.model
            return c

        return build


class Model:
    def __init__(self, n_markets: int, hours_apart: int = 1):
        self.now, self.block = T0, 100
        self.markets = {
            i: {"end": T0 + i * H * hours_apart, "settled": False, "price": 0} for i in range(1, n_markets + 1)
        }
        self.values: dict[int, int] = {}  # market -> settlement value written (at its delivery end)
        self.reads: Counter = Counter()  # (function, market) -> count

    def answer(self, call):
        name, *args = call
        if name in ("market", "market_state", "feed"):
            mid = args[0] if name != "feed" else int.from_bytes(args[0], "big")
            self.reads[(name, mid)] += 1
            m = self.markets[mid]
            if name == "market":
                raw = {f: 0 for f in abi.Market.__dataclass_fields__}
                raw.update(
                    spec_hash=b"\0" * 32,
                    mark_feed=b"\0" * 32,
                    settlement_feed=mid.to_bytes(32, "big"),
                    delivery_start=m["end"] - H,
                    delivery_end=m["end"],
                    last_trade_time=m["end"] - H,
                    dispute_window=600,
                    price_tick=1,
                )
                return tuple(raw[f] for f in abi.Market.__dataclass_fields__)
            if name == "market_state":
                return (False, m["settled"], m["price"], 0)
            v = self.values.get(mid)
            return (0, 0, 0, False, False) if v is None else (v, m["end"], m["end"], False, False)
        self.reads[(name, None)] += 1
        if name == "collateral":
            return 10**12
        if name == "open_markets":
            return [1]
        if name == "insurance_fund":
            return 10**12
        if name == "market_count":
            return len(self.markets)
        raise AssertionError(name)

    def head(self) -> Head:
        return Head(self.block, f"0x{self.block:064x}", f"0x{self.block - 1:064x}", self.now)


class ModelSender:
    def __init__(self, model: Model, settler_ref: list):
        self.model, self.ref, self.dry, self.address = model, settler_ref, False, "0xS"
        self.sent: list[tuple] = []
        self.pending: dict = {}

    def sync_nonce(self):
        pass

    def reset(self):
        pass

    def poll(self, head):
        return []

    def send(self, key, call, head, kind="tx", meta=None, describe=None, min_gas=0):
        self.sent.append(call)
        name, *args = call
        if name == "finalize_settlement":
            m = self.model.markets[args[0]]
            m["settled"], m["price"] = True, self.model.values[args[0]]
        elif name == "settle_many":
            accounts, mid = args
            for a in accounts:
                self.ref[0].book.apply(PositionEvent(a, mid, 0, 0, self.model.block, len(self.sent)))
        return SendResult("sent", tx_hash="0x01")


def _manifest(tmp_path: Path) -> Path:
    c = {
        n: {"address": "0x" + f"{i:040x}", "abi": abi.abi(n)}
        for i, n in enumerate(("Oracle", "Clearinghouse", "Exchange"), 1)
    }
    c["Collateral"] = {"address": "0x" + "9" * 40, "abi": abi.abi("MockUSDC")}
    p = tmp_path / "m.json"
    p.write_text(json.dumps({"chain_id": 31337, "block": 0, "contracts": c, "markets": []}))
    return p


def _settler(model: Model, tmp_path: Path) -> tuple[Settler, ModelSender]:
    ref: list = []
    sender = ModelSender(model, ref)
    s = Settler(
        SettlerSettings(manifest=_manifest(tmp_path)),
        types.SimpleNamespace(w3=Web3()),
        Metrics(f"settler{id(model)}"),
        sender=sender,
    )
    ref.append(s)
    s.ch = types.SimpleNamespace(functions=Calls(model))
    s.oracle = types.SimpleNamespace(functions=Calls(model))
    s._batch = lambda calls: [model.answer(c) for c in calls]  # the JSON-RPC batch, answered by the model
    s.sync = types.SimpleNamespace(sync=lambda *a: {"resync": False}, request_resync=lambda: None)
    return s, sender


def per_market(model: Model) -> dict:
    return {k: v for k, v in model.reads.items() if k[1] is not None}


def _step(model: Model, settler: Settler, seconds: int) -> dict:
    model.now += seconds
    model.block += 1
    # the oracle writes each expired market's settlement value at its delivery end
    for mid, m in model.markets.items():
        if m["end"] <= model.now - 600 and mid not in model.values:
            model.values[mid] = 40_000_000 + mid
    return settler.on_block(model.head())


def test_settler__hundreds_of_markets__each_read_once_until_expiry__settled_dropped(tmp_path):
    model = Model(480, hours_apart=0)  # 480 markets, all hourly: 20 days of a 24-market strip
    for i, mid in enumerate(model.markets):
        model.markets[mid]["end"] = T0 + (i // 24 + 1) * 86400  # 24 markets expire each day
    settler, sender = _settler(model, tmp_path)
    for mid in (1, 2, 30):  # positions in three markets
        settler.book.apply(PositionEvent(ALICE, mid, 1000, 40_000_000, 1, mid))
        settler.book.apply(PositionEvent(BOB, mid, -1000, -40_000_000, 1, mid + 1000))
    settler.start(model.head())
    assert settler.seen == 480 and len(settler.live) == 480
    assert all(model.reads[("market", m)] == 1 for m in model.markets)  # static data read once

    model.reads.clear()
    r = _step(model, settler, 600)  # nothing expired
    assert r["expired"] == 0 and per_market(model) == {}  # market_count only: no per-market read

    # three days pass, an hour at a time: every day's 24 markets are finalised in one pass
    sent_before = len(sender.sent)
    for _ in range(3 * 24 + 1):
        r = _step(model, settler, H)
    finals = [c for c in sender.sent[sent_before:] if c[0] == "finalize_settlement"]
    assert len(finals) == 72 and len({c[1] for c in finals}) == 72  # each once
    settles = [c for c in sender.sent if c[0] == "settle_many"]
    # the book hands out checksummed addresses (what the contract calls take): compare by value
    got = {(tuple(sorted(a.lower() for a in c[1])), c[2]) for c in settles}
    assert got == {(tuple(sorted([ALICE.lower(), BOB.lower()])), m) for m in (1, 2, 30)}
    assert r["live"] == 480 - 72 and r["settled_open"] == 0 and r["settled_done"] == 72

    # the settled markets are never read again; the live ones are not read before they expire
    model.reads.clear()
    _step(model, settler, 600)
    assert per_market(model) == {}


def test_settler__restart__reads_each_market_once_and_resumes(tmp_path):
    model = Model(50)
    first, _ = _settler(model, tmp_path)
    first.start(model.head())
    for _ in range(12):
        _step(model, first, H)
    done = first.done
    assert done >= 10
    model.reads.clear()
    again, sender = _settler(model, tmp_path)
    again.start(model.head())
    assert all(v == 1 for (f, _), v in model.reads.items() if f in ("market", "market_state"))
    settled = {m for m, x in model.markets.items() if x["settled"]}
    assert len(settled) >= done and set(again.live) == set(model.markets) - settled  # not live again
    _step(model, again, 60)
    assert not [c for c in sender.sent if c[0] == "finalize_settlement" and c[1] in settled]


def test_settler__expired_market_without_settlement_value__backoff_not_a_read_every_block(tmp_path):
    """A market whose settlement value never comes (say nobody pushes empty markets' values)
    is looked at with a doubling backoff (30 s .. 30 min), not every block; once a value stands,
    it is looked at again exactly when its dispute window closes, and finalised."""
    model = Model(2)
    settler, sender = _settler(model, tmp_path)
    settler.start(model.head())
    model.now = model.markets[2]["end"]
    model.values[1] = 40_000_000  # market 1's value is there (written at its end)
    blocks = 0
    while model.now < model.markets[2]["end"] + 2 * 3600:  # two hours of 12 s blocks: 600 blocks
        model.now += 12
        model.block += 1
        settler.on_block(model.head())
        blocks += 1
    assert blocks == 600
    assert model.reads[("feed", 2)] <= 10  # 30, 60, ... 1800 s: a handful of reads, not 600
    assert model.markets[1]["settled"] and model.reads[("feed", 1)] <= 2
    # the value arrives: finalised once its dispute window (600 s) has passed, not before
    model.values[2] = 41_000_000
    for _ in range(200):  # 40 minutes
        model.now += 12
        model.block += 1
        settler.on_block(model.head())
    assert model.markets[2]["settled"]
    assert [c[1] for c in sender.sent if c[0] == "finalize_settlement"] == [1, 2]
