"""keepers.positions at scale and through reorgs, without a node: the raw-log slicer agrees with the
ABI decoder, the sparse book agrees with a dense reference, a rollback restores the book exactly,
and EventSync finds the fork point, rolls back and replays (never from the deploy block unless the
fork is below its window). The node here is a small in-memory chain speaking the two JSON-RPC
methods EventSync uses; tests/integration/test_keepers_reorg.py runs the same against anvil."""

from __future__ import annotations

import random

import numpy as np
import pytest
from eth_abi import encode
from eth_utils import keccak, to_checksum_address

from core import margin as cm
from keepers.positions import (
    COLLATERAL_UPDATED,
    POSITION_UPDATED,
    TOPICS,
    CollateralEvent,
    EventSync,
    PositionBook,
    PositionEvent,
    decode_log,
)

ADDR = "0x" + "cc" * 20


def _word(v: int) -> str:
    return "0x" + encode(["uint256"], [v]).hex()


def raw_position(acct: str, mid: int, q: int, on: int, block: int, index: int, bhash: str = "0x00") -> dict:
    return {
        "address": ADDR,
        "topics": [POSITION_UPDATED, "0x" + "00" * 12 + acct[2:].lower(), _word(mid)],
        "data": "0x" + encode(["int256"] * 3, [q, on, 7]).hex(),
        "blockNumber": hex(block),
        "blockHash": bhash,
        "logIndex": hex(index),
        "removed": False,
    }


def raw_collateral(acct: str, c: int, block: int, index: int, bhash: str = "0x00") -> dict:
    return {
        "address": ADDR,
        "topics": [COLLATERAL_UPDATED, "0x" + "00" * 12 + acct[2:].lower()],
        "data": "0x" + encode(["int256"], [c]).hex(),
        "blockNumber": hex(block),
        "blockHash": bhash,
        "logIndex": hex(index),
        "removed": False,
    }


def acct(k: int) -> str:
    return to_checksum_address(f"0x{k + 1:040x}")


def test_apply_logs__raw_slicing__agrees_with_abi_decoder_on_extremes():
    values = [0, 1, -1, 2**255 - 1, -(2**255), 123_456_789, -987_654_321_000]
    logs = []
    for k, v in enumerate(values):
        logs.append(raw_position(acct(k), 2**64 + k, v, -v if v > -(2**255) else v, 10, 2 * k))
        logs.append(raw_collateral(acct(k), v, 10, 2 * k + 1))
    b = PositionBook()
    assert b.apply_logs(logs) == len(logs)
    for lg in logs:
        ev = decode_log(lg)  # eth_abi through core.abi
        if isinstance(ev, PositionEvent):
            # the book stores float64 (exact below 2**53; the chain confirms every decision)
            assert b.position(ev.account, ev.market_id) == (int(float(ev.quantity)), int(float(ev.open_notional)))
        else:
            assert b.collateral[b.index[ev.account]] == float(ev.collateral)
    assert b.accounts == [acct(k) for k in range(len(values))]  # checksummed once, for contract calls


def test_apply_logs__removed_and_foreign_logs__ignored():
    lg = raw_collateral(acct(0), 5, 3, 0)
    other = dict(lg, topics=["0x" + "ab" * 32, *lg["topics"][1:]])
    b = PositionBook()
    assert b.apply_logs([dict(lg, removed=True), other]) == 0 and len(b) == 0


def _dense(b: PositionBook):
    q, on, c = b.view()
    return q.copy(), on.copy(), c.copy()


def random_stream(rng: random.Random, n_blocks: int, n_accounts: int, n_markets: int, first_block: int = 1):
    out = []
    for blk in range(first_block, first_block + n_blocks):
        for ix in range(rng.randint(0, 6)):
            a = acct(rng.randrange(n_accounts))
            if rng.random() < 0.3:
                out.append(CollateralEvent(a, rng.randint(-(10**9), 10**12), blk, ix))
            else:
                q = rng.choice([0, rng.randint(-(10**6), 10**6)])
                out.append(PositionEvent(a, rng.randint(1, n_markets), q, q * rng.randint(-50, 5000), blk, ix))
    return out


def test_sparse_book__random_streams__equal_a_dense_reference_and_screen_the_same():
    rng = random.Random(3)
    events = random_stream(rng, 300, 60, 25)
    b = PositionBook()
    ref_q, ref_on, ref_c = {}, {}, {}
    for ev in events:
        b.apply(ev)
        if isinstance(ev, PositionEvent):
            ref_q[(ev.account, ev.market_id)] = ev.quantity
            ref_on[(ev.account, ev.market_id)] = ev.open_notional
        else:
            ref_c[ev.account] = ev.collateral
    for (a, m), q in ref_q.items():
        assert b.position(a, m) == (q, ref_on[(a, m)])
        assert (a in b.holders(m)) == (q != 0)
    for a, c in ref_c.items():
        assert b.collateral[b.index[a]] == c
    some = [acct(k) for k in range(0, 60, 7)] + [acct(999)]
    assert b.positions_of_many(some) == {a: b.positions_of(a) for a in some}
    # the one screen: sparse cells and the dense matrices give the same result
    m = len(b.market_ids)
    mv = cm.MarketVector(
        list(b.market_ids),
        np.array([rng.randint(-50, 5000) * 10**6 for _ in range(m)], float),
        np.array([rng.random() < 0.8 for _ in range(m)]),
        np.array([rng.randint(0, 300) * 10**6 for _ in range(m)], float),
        np.array([rng.randint(0, 3000) for _ in range(m)], float),
        np.array([rng.random() < 0.1 for _ in range(m)]),
        np.array([rng.random() < 0.1 for _ in range(m)]),
    )
    q, on, c = b.view()
    dense = cm.screen(q, on, c, mv)
    sparse = cm.screen_cells(b.cells(), b.collateral, mv)
    for f in ("equity", "maintenance", "stale_margin", "liquidatable", "insolvent", "fresh", "error"):
        assert np.array_equal(getattr(dense, f), getattr(sparse, f)), f


def test_rollback__restores_the_book_exactly__then_compact_keeps_it():
    rng = random.Random(5)
    b = PositionBook()
    b.journal_above = 100  # blocks above 100 are within the reorg window
    for ev in random_stream(rng, 100, 40, 12, first_block=1):
        b.apply(ev)
    before = _dense(b)
    held_before = {m: sorted(b.holders(m)) for m in b.market_ids}
    later = random_stream(rng, 20, 50, 15, first_block=101)
    applied = sum(b.apply(ev) for ev in later)
    assert b.journal_size == applied and b.rollback(100) == applied
    assert not b.journal
    q, on, c = _dense(b)
    n0 = before[0].shape
    assert np.array_equal(q[: n0[0], : n0[1]], before[0]) and not q[n0[0] :].any() and not q[:, n0[1] :].any()
    assert np.array_equal(c[: len(before[2])], before[2]) and not c[len(before[2]) :].any()
    assert {m: sorted(b.holders(m)) for m in held_before} == held_before
    assert all(b.holding[b.col[m]] == len(h) for m, h in held_before.items())
    # replaying the same blocks gives the same book as applying them once
    for ev in later:
        b.apply(ev)
    after = _dense(b)
    b.compact()  # frees flat cells below the window only; the book does not change
    assert all(np.array_equal(x, y) for x, y in zip(after, _dense(b), strict=True))


def test_rollback__an_older_write_never_overwrites_a_newer_one():
    b = PositionBook()
    b.journal_above = 0
    a = acct(1)
    b.apply(PositionEvent(a, 3, -1500, -7, 5, 1))
    assert not b.apply(PositionEvent(a, 3, 0, 0, 4, 0))  # older: ignored, and not journaled
    assert b.journal_size == 1 and b.position(a, 3) == (-1500, -7)
    b.rollback(4)
    assert b.position(a, 3) == (0, 0) and b.holders(3) == []


# ------------------------------------------------------------------ EventSync on an in-memory chain
class FakeNode:
    """Blocks (hash, parent, logs) by number; reorgs replace the tail with new hashes."""

    def __init__(self):
        self.blocks: list[tuple[str, list[dict]]] = [(self._h("genesis"), [])]
        self.calls: list[tuple[str, list]] = []
        self.salt = 0

    @staticmethod
    def _h(s: str) -> str:
        return "0x" + keccak(text=s).hex()

    def mine(self, events: list) -> int:
        n = len(self.blocks)
        h = self._h(f"{n}:{self.salt}:{len(events)}:{events!r}")
        logs = []
        for ix, ev in enumerate(events):
            if isinstance(ev, tuple) and ev[0] == "pos":
                logs.append(raw_position(ev[1], ev[2], ev[3], ev[4], n, ix, h))
            else:
                logs.append(raw_collateral(ev[1], ev[2], n, ix, h))
        self.blocks.append((h, logs))
        return n

    def reorg(self, depth: int) -> None:
        """Drop the last `depth` blocks (the replacing branch is mined by the caller)."""
        del self.blocks[len(self.blocks) - depth :]
        self.salt += 1

    def head(self):
        n = len(self.blocks) - 1
        return n, self.blocks[n][0], self.blocks[n - 1][0] if n else "0x" + "00" * 32

    def __call__(self, method: str, params: list):
        self.calls.append((method, params))
        if method == "eth_getBlockByNumber":
            n = int(params[0], 16)
            return {"hash": self.blocks[n][0]} if n < len(self.blocks) else None
        if method == "eth_getLogs":
            f = params[0]
            assert f["topics"] == TOPICS and f["address"] == ADDR
            a, z = int(f["fromBlock"], 16), int(f["toBlock"], 16)
            return [lg for n in range(a, min(z, len(self.blocks) - 1) + 1) for lg in self.blocks[n][1]]
        raise AssertionError(method)

    def logs_from(self) -> list[int]:
        return [int(p[0]["fromBlock"], 16) for m, p in self.calls if m == "eth_getLogs"]


def fresh_book_of(node: FakeNode) -> PositionBook:
    b = PositionBook()
    for _, logs in node.blocks:
        b.apply_logs(logs)
    return b


def same_state(b1: PositionBook, b2: PositionBook) -> bool:
    accts = set(b1.accounts) | set(b2.accounts)
    mids = set(b1.market_ids) | set(b2.market_ids)
    for a in accts:
        c1 = b1.collateral[b1.index[a]] if a in b1.index else 0
        c2 = b2.collateral[b2.index[a]] if a in b2.index else 0
        if c1 != c2:
            return False
        for m in mids:
            if b1.position(a, m)[0] != b2.position(a, m)[0]:
                return False
    return True


def sync_head(s: EventSync, node: FakeNode) -> dict:
    return s.sync(*node.head())


def make_sync(node: FakeNode, depth: int = 16) -> tuple[EventSync, PositionBook]:
    b = PositionBook()
    return EventSync(None, ADDR, 0, b, chunk=7, reorg_depth=depth, rpc=node), b


def test_event_sync__reorg_3_blocks__rolls_back_to_fork_and_replays_only_after_it():
    node = FakeNode()
    s, book = make_sync(node)
    whale, trader = acct(100), acct(101)
    node.mine([("coll", whale, 10**12)])
    for k in range(30):
        node.mine([("pos", acct(k % 5), 1 + k % 3, 1000 + k, 5), ("coll", acct(k % 5), 10**9 + k)])
    assert sync_head(s, node)["resync"]
    for _ in range(5):
        node.mine([])
        assert not sync_head(s, node)["resync"]
    # the attack: on the branch the keeper saw, `trader` deposited; the reorg drops the deposit
    # and replaces it by a position, so a book that kept the dropped deposit sees a healthy account
    fork = len(node.blocks) - 1
    node.mine([("coll", trader, 10**12)])
    node.mine([("pos", acct(1), 2, -777, 0)])
    node.mine([])
    sync_head(s, node)
    assert book.collateral[book.index[trader]] == 10**12
    node.reorg(3)
    node.mine([("pos", trader, 1, -5000, 4_000_000)])
    node.mine([])
    node.mine([])
    node.calls.clear()
    r = sync_head(s, node)
    assert not r["resync"] and r["fork_block"] == fork and r["replayed_from"] == fork + 1
    assert node.logs_from() == [fork + 1]  # nothing below the fork point was read again
    assert book.collateral[book.index[trader]] == 0 and book.position(trader, 1) == (-5000, 4_000_000)
    assert book.position(acct(1), 2) == fresh_book_of(node).position(acct(1), 2)
    assert same_state(book, fresh_book_of(node)) and s.reorgs == 1 and s.resyncs == 1


def test_event_sync__random_reorgs__book_always_equals_a_fresh_rebuild():
    rng = random.Random(11)
    node = FakeNode()
    s, book = make_sync(node, depth=12)
    for _ in range(200):
        r = rng.random()
        if r < 0.15 and len(node.blocks) > 10:
            node.reorg(rng.randint(1, 8))
        for _ in range(rng.randint(1, 3)):
            evs = []
            for _ in range(rng.randint(0, 3)):
                a = acct(rng.randrange(20))
                if rng.random() < 0.4:
                    evs.append(("coll", a, rng.randint(0, 10**10)))
                else:
                    q = rng.choice([0, rng.randint(-(10**5), 10**5)])
                    evs.append(("pos", a, rng.randint(1, 6), q, q * 10))
            node.mine(evs)
        if rng.random() < 0.7:  # the keeper does not see every head (gaps)
            sync_head(s, node)
            assert same_state(book, fresh_book_of(node))
    assert s.resyncs == 1 and s.reorgs > 5


def test_event_sync__fork_below_the_window__rebuilds_from_deploy_block():
    node = FakeNode()
    s, book = make_sync(node, depth=4)
    for k in range(20):
        node.mine([("coll", acct(k % 3), k)])
    sync_head(s, node)
    for _ in range(10):
        node.mine([])
        sync_head(s, node)
    node.reorg(15)
    for _ in range(16):
        node.mine([("coll", acct(7), 5)])
    r = sync_head(s, node)
    assert r["resync"] and s.resyncs == 2
    assert same_state(book, fresh_book_of(node))


def test_event_sync__check_after_outage__unchanged_chain_replays_only_new_blocks():
    node = FakeNode()
    s, book = make_sync(node)
    for k in range(10):
        node.mine([("coll", acct(k), k + 1)])
    sync_head(s, node)
    top = len(node.blocks) - 1
    s.request_check()  # what on_reconnect does
    for k in range(4):
        node.mine([("coll", acct(k), 100 + k)])
    node.calls.clear()
    r = sync_head(s, node)
    assert not r["resync"] and not r["rolled_back"] and node.logs_from() == [top + 1]
    assert same_state(book, fresh_book_of(node))


def test_event_sync__head_moved_during_the_fetch__verified_next_time():
    node = FakeNode()
    s, book = make_sync(node)
    for k in range(6):
        node.mine([("coll", acct(k), k + 1)])
    sync_head(s, node)
    stale_head = (len(node.blocks), "0x" + "ee" * 32, node.blocks[-1][0])  # a head the node no longer has
    node.mine([("coll", acct(1), 55)])
    s.sync(*stale_head)
    assert s.need_check  # the logs of that height carried another hash
    node.mine([])
    sync_head(s, node)
    assert same_state(book, fresh_book_of(node))


@pytest.mark.parametrize("depth", [1, 2, 5])
def test_event_sync__same_height_reorg__detected(depth):
    node = FakeNode()
    s, book = make_sync(node)
    for k in range(10):
        node.mine([("coll", acct(k), k + 1)])
    sync_head(s, node)
    node.reorg(depth)
    for _ in range(depth):
        node.mine([("coll", acct(0), 999)])
    r = sync_head(s, node)
    assert r["rolled_back"] and not r["resync"] and book.collateral[book.index[acct(0)]] == 999
    assert same_state(book, fresh_book_of(node))


# ------------------------------------------------------------------ the wire path and the liquidator's reads
def test_raw_log_structs__msgspec_page__same_book_as_dicts():
    import json

    from chain.logs import LOGS_DECODER

    rng = random.Random(8)
    logs = []
    for k in range(300):
        a = acct(rng.randrange(40))
        if rng.random() < 0.3:
            logs.append(raw_collateral(a, rng.randint(-(10**12), 10**12), 5 + k // 7, k % 7, "0x" + "ab" * 32))
        else:
            q = rng.choice([0, rng.randint(-(2**70), 2**70), rng.randint(-(10**6), 10**6)])
            logs.append(raw_position(a, rng.randint(1, 9), q, -q, 5 + k // 7, k % 7, "0x" + "ab" * 32))
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "result": logs}).encode()
    structs = LOGS_DECODER.decode(body).result
    b1, b2 = PositionBook(), PositionBook()
    assert b1.apply_logs(logs) == b2.apply_logs(structs) > 0
    assert same_state(b1, b2)
    q1, on1, c1 = b1.view()
    q2, on2, c2 = b2.view()
    assert np.array_equal(q1, q2) and np.array_equal(on1, on2) and np.array_equal(c1, c2)


def test_prefetched__same_pages_as_paged__split_when_too_large():
    from chain.logs import paged, prefetched

    def fetch(a, b):
        if b - a >= 8:
            raise ValueError("query returned more than 10000 results")
        return [(a, b)]

    assert list(prefetched(fetch, 3, 70, 10)) == list(paged(fetch, 3, 70, 10))

    def broken(a, b):
        if a > 20:
            raise ConnectionError("node went away")
        return [(a, b)]

    got = []
    with pytest.raises(ConnectionError):
        for page in prefetched(broken, 0, 50, 10):
            got.append(page)
    assert got == [(9, [(0, 9)]), (19, [(10, 19)]), (29, [(20, 29)])]  # nothing from the failed page on


def test_liquidator_reads__only_held_unsettled_markets__settled_once_then_never(monkeypatch):
    """Per-block reads depend on the markets someone holds, not on history: a market nobody holds
    is not read, a settled one is read until seen settled, then its settlement mark is kept."""
    from keepers import liquidator as lq

    book = PositionBook()
    for m in range(1, 5001):  # 5,000 markets in the book's history ...
        book.apply(PositionEvent(acct(m % 50), m, 0, 0, 1, m))  # ... all flat
    book.apply(PositionEvent(acct(1), 7, 1000, 50_000_000, 2, 0))
    book.apply(PositionEvent(acct(2), 7, -1000, -50_000_000, 2, 1))
    book.apply(PositionEvent(acct(3), 4242, 500, 1_000_000, 2, 2))
    reads: list[list[int]] = []
    settled = {4242}

    def fake_batch(rpc, calls):
        mids = [int.from_bytes(d[4:], "big") for _, d in calls]
        half = len(mids) // 2
        reads.append(mids[:half])
        marks = [encode(["int256", "uint256", "bool"], [100_000_000, 0, True]) for _ in mids[:half]]
        states = [encode(["bool", "bool", "int256", "uint256"], [False, m in settled, 90, 0]) for m in mids[half:]]
        return marks + states

    monkeypatch.setattr(lq, "raw_call_batch", fake_batch)
    liq = lq.Liquidator.__new__(lq.Liquidator)
    liq.book, liq.final, liq.params, liq.market_ids = book, set(), {}, []
    liq._mv = lq.MarketVector.empty([])
    liq.sync = type("S", (), {"rpc": None})()
    liq.ch = type("C", (), {"address": ADDR})()
    liq.m_live = type("G", (), {"set": lambda self, v: None})()
    monkeypatch.setattr(
        lq.Liquidator, "_markets", lambda self: self.params.update({7: (1, 1, 1, 1, 0), 4242: (1, 1, 1, 1, 0)})
    )
    mv = liq.market_vector()
    assert sorted(reads[-1]) == [7, 4242] and liq.final == {4242}
    assert mv.settled[mv.column(4242)] and mv.mark[mv.column(7)] == 100_000_000
    liq.market_vector()
    assert reads[-1] == [7]  # the settled market is not read again; 4,998 flat ones never were
    r = cm.screen_cells(book.cells(), book.collateral, mv)
    assert r.maintenance[book.index[acct(3)]] == 0  # a settled leg carries no margin


def test_settler_plan__reads_the_sparse_book_as_it_read_the_dense_one():
    """The settler (not part of this change) reads book.index, book.position, book.collateral and
    book.qty[row]: the sparse book answers each as the dense matrices did."""
    from keepers.settler import Settler, SettlerSettings

    book = PositionBook()
    loser, winner, other = acct(1), acct(2), acct(3)
    book.apply(CollateralEvent(loser, 10_000_000, 1, 0))
    book.apply(CollateralEvent(winner, 10**12, 1, 1))
    book.apply(PositionEvent(loser, 5, -1000, -100_000_000, 2, 0))
    book.apply(PositionEvent(winner, 5, 1000, 100_000_000, 2, 1))
    book.apply(PositionEvent(other, 6, 10, 1, 2, 2))
    assert list(book.qty[book.index[loser]]) == [-1000.0] and book.qty[book.index[winner], book.col[5]] == 1000.0
    st = Settler.__new__(Settler)
    st.book, st.s, st.hold_since, st.reported = book, SettlerSettings(), {}, set()
    # rows as Settler._settle builds them: (account, *book.position, collateral, open markets)
    rows = [(a, *book.position(a, 5), int(book.collateral[book.index[a]]), 1) for a in book.holders(5)]
    plan = st._plan(5, rows, 300_000_000, 0, 10)  # settles at $300: the short loses $200 with $10
    assert plan.waiting == [loser] and plan.held == [winner] and plan.settle == []


def test_checkpoint__restart_after_a_reorg__replays_from_the_fork_not_the_deploy_block(tmp_path):
    node = FakeNode()
    s, book = make_sync(node, depth=16)
    for k in range(40):
        node.mine([("pos", acct(k % 6), 1 + k % 4, 100 * (k + 1), k), ("coll", acct(k % 6), 10**9 + k)])
    sync_head(s, node)
    for _ in range(3):
        node.mine([("coll", acct(9), 77)])
        sync_head(s, node)
    ck = tmp_path / "liquidator.npz"
    s.save(ck)
    saved_tip = s.synced_to
    # the keeper is down; meanwhile its last 2 blocks are reorged away and 5 more are mined
    node.reorg(2)
    for _ in range(5):
        node.mine([("pos", acct(9), 2, -5, 1)])
    s2, book2 = make_sync(node, depth=16)
    assert s2.load(ck) and s2.synced_to == saved_tip and same_state(book2, book)
    node.calls.clear()
    r = sync_head(s2, node)
    assert not r["resync"] and r["fork_block"] == saved_tip - 2 and node.logs_from() == [saved_tip - 1]
    assert same_state(book2, fresh_book_of(node)) and s2.resyncs == 0
    # another contract's checkpoint is not loaded
    other = EventSync(None, "0x" + "dd" * 20, 0, PositionBook(), rpc=node)
    assert not other.load(ck) and other.need_resync
