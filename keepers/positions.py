"""Every account's positions and collateral, kept in memory from Clearinghouse events, through
reorgs.

``PositionUpdated(account, market_id, quantity, open_notional, realised_pnl)`` and
``CollateralUpdated(account, collateral)`` carry absolute values, so applying a log is
idempotent: each (account, market) cell and each collateral remembers the (block, log index)
it was last written at, and an older log never overwrites a newer one.

Scale (issue 10): the book is sparse. Positions are parallel numpy arrays, one slot per
(account, market) cell ever held (a :class:`core.margin.Cells`), so memory and the health
scan grow with the positions held, not accounts x markets. Logs are decoded from the raw
``eth_getLogs`` JSON by slicing topics and data at offsets computed once from the event ABIs
(``core.abi``), a page at a time (msgspec structs, numpy word parsing): no web3 log
formatting and no checksumming in the hot loop (an address is checksummed when a contract
call needs it). Flat cells below the reorg window are compacted away (:meth:`PositionBook.compact`).

Reorgs (issue 12): :class:`EventSync` keeps the hash of every block it processed over the last
``reorg_depth`` blocks and a journal of the cells each of those blocks' logs overwrote. A head
that does not extend the last one processed (or a resync after an RPC outage) looks for the
highest recorded block still on the canonical chain, rolls the book back to it from the
journal, and replays the logs from the block after it: never a rebuild from the deploy block
unless the fork is deeper than the window. :meth:`EventSync.save` / :meth:`EventSync.load`
checkpoint all of it to disk so that a restarted keeper does the same.
``tests/integration/test_keepers_reorg.py`` runs it against anvil's ``anvil_reorg`` and
``evm_snapshot``/``evm_revert``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import repeat
from typing import TYPE_CHECKING, Any

import numpy as np
from eth_utils import to_checksum_address

from chain.logs import RawLog, prefetched, raw_get_logs
from core import abi
from core.margin import Cells

if TYPE_CHECKING:
    from web3 import Web3

log = logging.getLogger("keepers.positions")

_POSITION = abi.event("Clearinghouse", "PositionUpdated")
_COLLATERAL = abi.event("Clearinghouse", "CollateralUpdated")
POSITION_UPDATED, COLLATERAL_UPDATED = _POSITION.topic, _COLLATERAL.topic
TOPICS = [[POSITION_UPDATED, COLLATERAL_UPDATED]]
DEFAULT_REORG_DEPTH = 128  # blocks of hashes + journal kept (Ethereum finalises in ~64; L2s reorg far less)

_AT_SHIFT = 24  # at = block << 24 | log index: one int64 orders writes (16.7 M logs per block)


def _layout(ev: abi.EventType, names: tuple[str, ...]) -> dict[str, tuple[str, int]]:
    """Where each named field sits in a raw log: ("topic", k) or ("data", word); every field
    used here is a static 32-byte word, which is what makes slicing exact."""
    out, t, w = {}, 1, 0
    for n, typ, indexed in ev.inputs:
        if typ not in ("address", "uint256", "int256"):
            raise abi.AbiError(f"{ev.name}.{n}: {typ} is not a static word; slicing would be wrong")
        if indexed:
            out[n], t = ("topic", t), t + 1
        else:
            out[n], w = ("data", w), w + 1
    missing = set(names) - set(out)
    if missing:
        raise abi.AbiError(f"{ev.name} has no field(s) {sorted(missing)}: is core/abis stale?")
    return out


_POS_AT = _layout(_POSITION, ("account", "market_id", "quantity", "open_notional"))
_COLL_AT = _layout(_COLLATERAL, ("account", "collateral"))
assert _POS_AT["account"][0] == "topic" and _POS_AT["market_id"][0] == "topic"
assert _COLL_AT["account"][0] == "topic"
_P_ACCT, _P_MKT = _POS_AT["account"][1], _POS_AT["market_id"][1]
_P_Q, _P_ON = (2 + 64 * _POS_AT["quantity"][1], 2 + 64 * _POS_AT["open_notional"][1])
_C_ACCT, _C_COLL = _COLL_AT["account"][1], 2 + 64 * _COLL_AT["collateral"][1]
_TWO_255, _TWO_256 = 2**255, 2**256


def _int256(word: str) -> int:
    v = int(word, 16)
    return v - _TWO_256 if v >= _TWO_255 else v


@dataclass(frozen=True)
class PositionEvent:
    account: str
    market_id: int
    quantity: int
    open_notional: int
    block: int
    index: int


@dataclass(frozen=True)
class CollateralEvent:
    account: str
    collateral: int
    block: int
    index: int


def decode_log(lg) -> PositionEvent | CollateralEvent | None:
    """Decode a log of either event (raw JSON or web3-formatted) by the ABI (checksummed account)."""
    block, index = _num(lg["blockNumber"]), _num(lg["logIndex"])
    if _POSITION.matches(lg):
        a = _POSITION.decode(lg)
        return PositionEvent(a["account"], a["market_id"], a["quantity"], a["open_notional"], block, index)
    if _COLLATERAL.matches(lg):
        a = _COLLATERAL.decode(lg)
        return CollateralEvent(a["account"], a["collateral"], block, index)
    return None


def _num(x) -> int:
    return int(x, 16) if isinstance(x, str) else int(x)


class _Accounts:
    """The book's accounts as checksummed addresses, checksummed on first use (keccak per
    address: too slow for 10,000 new accounts in the sync's hot loop, cheap for the handful a
    block acts on). Indexable and iterable like the list it replaces."""

    def __init__(self):
        self.keys: list[str] = []  # lowercase 0x hex, by row
        self._cs: dict[int, str] = {}

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self.keys)))]
        i = int(i)
        a = self._cs.get(i)
        if a is None:
            a = self._cs[i] = to_checksum_address(self.keys[i])
        return a

    def __iter__(self):
        return (self[i] for i in range(len(self.keys)))

    def __eq__(self, other) -> bool:
        return list(self) == list(other)

    def __contains__(self, a) -> bool:
        return isinstance(a, str) and a.lower() in set(self.keys)


class _Index:
    """Checksummed (or any-case) address -> row, over the book's lowercase keys."""

    def __init__(self, keys: dict[str, int], accounts: _Accounts):
        self._keys, self._accounts = keys, accounts

    def get(self, a: str, default=None):
        return self._keys.get(a.lower(), default) if isinstance(a, str) else default

    def __getitem__(self, a: str) -> int:
        i = self.get(a)
        if i is None:
            raise KeyError(a)
        return i

    def __contains__(self, a) -> bool:
        return self.get(a) is not None

    def __len__(self) -> int:
        return len(self._keys)

    def items(self):
        return ((self._accounts[i], i) for i in self._keys.values())


def _positions_of_logs(logs: list[RawLog]) -> tuple[np.ndarray, np.ndarray]:
    """(block numbers, at = block << 24 | log index) of raw logs (hex strings)."""
    blocks = np.array([int(lg.blockNumber, 16) for lg in logs], np.int64)
    idx = np.array([int(lg.logIndex, 16) for lg in logs], np.int64)
    return blocks, (blocks << _AT_SHIFT) | idx


_ALL_ONES = np.uint64(0xFFFF_FFFF_FFFF_FFFF)


def _words(hexes: list[str], offset: int, unsigned: bool = False) -> np.ndarray | list[int]:
    """The 32-byte word at character ``offset`` of each ``0x`` hex string, as numbers: one
    ``bytes.fromhex`` for the page, the low 64 bits read as int64 (exact where the value fits,
    which is every realistic quantity, notional and collateral), Python ints for the rest
    (float64 of the exact value). ``unsigned``: uint256 (market ids) as a list of exact ints."""
    n = len(hexes)
    joined = "".join([h[offset : offset + 64] for h in hexes])
    if len(joined) != 64 * n:
        raise abi.AbiError("log data or topic shorter than its ABI: is core/abis stale?")
    w = np.frombuffer(bytes.fromhex(joined), dtype=">u8").reshape(n, 4).astype(np.uint64)
    lo = w[:, 3].view(np.int64)
    if unsigned:
        ok = (w[:, :3] == 0).all(axis=1) & (lo >= 0)
        ids = lo.tolist()
        for k in np.flatnonzero(~ok).tolist():
            ids[k] = int(hexes[k][offset : offset + 64], 16)
        return ids
    ok = ((w[:, :3] == 0).all(axis=1) & (lo >= 0)) | ((w[:, :3] == _ALL_ONES).all(axis=1) & (lo < 0))
    out = lo.astype(float)
    for k in np.flatnonzero(~ok):
        out[k] = float(_int256(hexes[k][offset : offset + 64]))
    return out


def _previous(where: np.ndarray, new: tuple, state: tuple) -> tuple:
    """For writes in log order to cells ``where``: the value each overwrote (the previous write to
    the same cell in this batch, else the state before the batch), per array of ``new``/``state``."""
    order = np.argsort(where, kind="stable")
    ws = where[order]
    first = np.ones(len(ws), bool)
    first[1:] = ws[1:] != ws[:-1]
    out = []
    for nv, st in zip(new, state, strict=True):
        shifted = np.roll(nv[order], 1)
        prev_sorted = np.where(first, st[ws], shifted)
        prev = np.empty_like(prev_sorted)
        prev[order] = prev_sorted
        out.append(prev)
    return tuple(out)


class _Chunk:
    """Journaled writes of one batch, block-ascending: kind 0 = position slots, 1 = collateral rows."""

    def __init__(self, kind: int, blocks, where, prev, prev_on, prev_at):
        self.kind, self.blocks, self.where = kind, blocks, where
        self.prev, self.prev_on, self.prev_at = prev, prev_on, prev_at

    def truncate(self, k: int) -> None:
        for f in ("blocks", "where", "prev", "prev_on", "prev_at"):
            setattr(self, f, getattr(self, f)[:k])

    def drop_upto(self, block: int) -> None:
        k = int(np.searchsorted(self.blocks, block, side="right"))
        for f in ("blocks", "where", "prev", "prev_on", "prev_at"):
            setattr(self, f, getattr(self, f)[k:])


class _Grid:
    """``book.qty[i]`` (account i's cells) and ``book.qty[i, j]`` (one cell, j a column) over the
    sparse slots, for callers written against the dense matrices."""

    def __init__(self, book: PositionBook, values: Callable[[], np.ndarray]):
        self.book, self.values = book, values

    def __getitem__(self, key):
        b = self.book
        if isinstance(key, tuple):
            i, j = key
            s = b._slot.get((int(i) << _AT_SHIFT) | int(j))
            return 0.0 if s is None else float(self.values()[s])
        return self.values()[b._slots_of_row(int(key))]


class PositionBook:
    """Accounts x markets state, sparse. Rows are accounts (insertion order), columns markets
    (first-seen order); positions live in slots: ``_srow``, ``_scol``, ``_sq``, ``_son``, ``_sat``."""

    def __init__(self, market_ids: list[int] | None = None, capacity: int = 1024):
        self.accounts = _Accounts()  # checksummed on use, for contract calls
        self._key: dict[str, int] = {}  # lowercase 0x address -> row (the hot loop's key)
        self.index = _Index(self._key, self.accounts)  # any-case address -> row
        self.market_ids: list[int] = []
        self.col: dict[int, int] = {}
        self.collateral = np.zeros(capacity)
        self._cat = np.full(capacity, -1, np.int64)  # collateral's last write (block << 24 | index)
        self._slot: dict[int, int] = {}  # row << 24 | col -> slot
        self._n = 0
        self._srow = np.zeros(capacity, np.int32)
        self._scol = np.zeros(capacity, np.int32)
        self._sq = np.zeros(capacity)
        self._son = np.zeros(capacity)
        self._sat = np.full(capacity, -1, np.int64)
        self.holding = np.zeros(0, np.int64)  # per column: cells with a non-zero quantity
        self.last_block = -1
        # rollback journal: chunks of the window's writes, each with the value it overwrote
        self.journal: list[_Chunk] = []
        self.journal_above = 1 << 62  # logs of blocks above this are journaled (EventSync sets it)
        for m in market_ids or []:
            self._column(m)

    def __len__(self) -> int:
        return len(self.accounts)

    def clear(self) -> None:
        self.__init__(list(self.market_ids), 1024)

    # ------------------------------------------------------------ growth
    def _row_of(self, key: str) -> int:
        """Row of a lowercase ``0x`` address (checksummed once, here)."""
        i = self._key.get(key)
        if i is None:
            i = len(self.accounts)
            if i >= self.collateral.shape[0]:
                n = max(2 * i, 1024)
                self.collateral = np.concatenate([self.collateral, np.zeros(n - i)])
                self._cat = np.concatenate([self._cat, np.full(n - i, -1, np.int64)])
            self.accounts.keys.append(key)
            self._key[key] = i
        return i

    def _row(self, account: str) -> int:
        return self._row_of(account.lower())

    def _column(self, market_id: int) -> int:
        j = self.col.get(market_id)
        if j is None:
            j = len(self.market_ids)
            self.market_ids.append(market_id)
            self.col[market_id] = j
            self.holding = np.append(self.holding, 0)
        return j

    def _new_slots(self, cells: list[int]) -> None:
        """Slots for new (row << 24 | col) cells, allocated at once (a sync creates 100,000)."""
        new = list(dict.fromkeys(c for c in cells if c not in self._slot))
        s0, m = self._n, len(new)
        if s0 + m > self._sq.shape[0]:
            n = max(2 * (s0 + m), 1024)
            self._srow = np.concatenate([self._srow, np.zeros(n - len(self._srow), np.int32)])
            self._scol = np.concatenate([self._scol, np.zeros(n - len(self._scol), np.int32)])
            self._sq = np.concatenate([self._sq, np.zeros(n - len(self._sq))])
            self._son = np.concatenate([self._son, np.zeros(n - len(self._son))])
            self._sat = np.concatenate([self._sat, np.full(n - len(self._sat), -1, np.int64)])
        arr = np.array(new, np.int64)
        self._srow[s0 : s0 + m] = arr >> _AT_SHIFT
        self._scol[s0 : s0 + m] = arr & ((1 << _AT_SHIFT) - 1)
        self._slot.update(zip(new, range(s0, s0 + m), strict=True))
        self._n = s0 + m

    # ------------------------------------------------------------ events
    def apply(self, ev: PositionEvent | CollateralEvent) -> bool:
        """Apply one decoded event; False if an equal-or-newer write is already in (replay)."""
        at = np.array([(ev.block << _AT_SHIFT) | ev.index], np.int64)
        blocks = np.array([ev.block], np.int64)
        key = ev.account.lower()
        if isinstance(ev, PositionEvent):
            n = self._apply_positions(blocks, at, [key], np.array([ev.market_id]), [ev.quantity], [ev.open_notional])
        else:
            n = self._apply_collateral(blocks, at, [key], [ev.collateral])
        return bool(n)

    def apply_logs(self, logs: Iterable[dict[str, Any] | RawLog]) -> int:
        """Apply ``eth_getLogs`` results as the node sends them (raw dicts of hex strings, or
        :class:`RawLog` structs), a page at a time: fields are sliced at the ABI's offsets and the
        int256 words parsed as numpy arrays (``bytes.fromhex`` of the page's words at once), so
        the Python work per log is a few list and dict operations. A log in another shape
        (web3-formatted) goes through :func:`decode_log`. Removed logs (``removed: true``) are
        skipped: :class:`EventSync` rolls back what a reorg drops. Returns the number of logs
        newer than what the book held."""
        pos, coll = POSITION_UPDATED, COLLATERAL_UPDATED
        n = 0
        logs = logs if isinstance(logs, list) else list(logs)
        if logs and not all(type(lg) is RawLog for lg in logs):  # noqa: E721 - exact type: the fast path
            structs = []
            for lg in logs:
                if isinstance(lg, RawLog):
                    structs.append(lg)
                    continue
                topics = lg.get("topics")
                if topics and not isinstance(topics[0], str):  # web3-formatted: the ABI decoder
                    ev = decode_log(lg)
                    n += ev is not None and self.apply(ev)
                    continue
                if topics:
                    structs.append(
                        RawLog(
                            [t.lower() for t in topics],
                            lg.get("data") or "0x",
                            lg["blockNumber"],
                            lg.get("blockHash") or "0x",
                            lg["logIndex"],
                            bool(lg.get("removed")),
                        )
                    )
            logs = structs
        # comprehensions, not a loop with appends: this runs 110,000 times in a sync
        live = [lg for lg in logs if lg.topics and not lg.removed]
        first = [lg.topics[0] for lg in live]
        if any(t != pos and t != coll and t.lower() in (pos, coll) for t in first):
            first = [t.lower() for t in first]  # a node that answers in upper case
        p_logs = [lg for lg, t in zip(live, first, strict=True) if t == pos]
        c_logs = [lg for lg, t in zip(live, first, strict=True) if t == coll]
        if p_logs:
            blocks, at = _positions_of_logs(p_logs)
            topics = [lg.topics for lg in p_logs]
            mids = _words([t[_P_MKT] for t in topics], 2, unsigned=True)
            keys = ["0x" + t[_P_ACCT][-40:].lower() for t in topics]
            datas = [lg.data for lg in p_logs]
            n += self._apply_positions(blocks, at, keys, mids, _words(datas, _P_Q), _words(datas, _P_ON))
        if c_logs:
            blocks, at = _positions_of_logs(c_logs)
            keys = ["0x" + lg.topics[_C_ACCT][-40:].lower() for lg in c_logs]
            n += self._apply_collateral(blocks, at, keys, _words([lg.data for lg in c_logs], _C_COLL))
        return n

    def _apply_positions(self, blocks, at, keys: list[str], mids, q, on) -> int:
        """Write position logs (in log order): last write per cell wins, older-than-held ignored;
        writes of blocks above ``journal_above`` are journaled with the value each overwrote."""
        slot, n = self._slot, len(keys)
        mids = mids.tolist() if hasattr(mids, "tolist") else list(mids)
        # one Python call per distinct account / market, then C-level map() per log
        rowmap = dict.fromkeys(keys)
        for k in rowmap:
            rowmap[k] = self._row_of(k)
        colmap = dict.fromkeys(mids)
        for m in colmap:
            j = self.col.get(m)
            colmap[m] = self._column(m) if j is None else j
        rows = np.fromiter(map(rowmap.__getitem__, keys), np.int64, n)
        cols = np.fromiter(map(colmap.__getitem__, mids), np.int64, n)
        cells = ((rows << _AT_SHIFT) | cols).tolist()
        slots = np.fromiter(map(slot.get, cells, repeat(-1, n)), np.int64, n)
        if (slots < 0).any():
            self._new_slots([cells[k] for k in np.flatnonzero(slots < 0).tolist()])
            slots = np.fromiter(map(slot.__getitem__, cells), np.int64, n)
        q, on = np.asarray(q, float), np.asarray(on, float)
        newer = at > self._sat[slots]
        if not newer.any():
            return 0
        idx = np.flatnonzero(newer)
        s, a, qq, oo, bb = slots[idx], at[idx], q[idx], on[idx], blocks[idx]
        win = bb > self.journal_above
        if win.any():
            pq, po, pa = _previous(s, (qq, oo, a), (self._sq, self._son, self._sat))
            self.journal.append(_Chunk(0, bb[win], s[win], pq[win], po[win], pa[win]))
        last = len(s) - 1 - np.unique(s[::-1], return_index=True)[1]
        ls = s[last]
        before = (self._sq[ls] != 0).astype(np.int64)
        self._sq[ls], self._son[ls], self._sat[ls] = qq[last], oo[last], a[last]
        np.add.at(self.holding, self._scol[ls], (qq[last] != 0).astype(np.int64) - before)
        self.last_block = max(self.last_block, int(bb[-1]))
        return len(idx)

    def _apply_collateral(self, blocks, at, keys: list[str], c) -> int:
        rowmap = dict.fromkeys(keys)
        for k in rowmap:
            rowmap[k] = self._row_of(k)
        r = np.fromiter(map(rowmap.__getitem__, keys), np.int64, len(keys))
        c = np.asarray(c, float)
        newer = at > self._cat[r]
        if not newer.any():
            return 0
        idx = np.flatnonzero(newer)
        rr, a, cc, bb = r[idx], at[idx], c[idx], blocks[idx]
        win = bb > self.journal_above
        if win.any():
            pc, _, pa = _previous(rr, (cc, cc, a), (self.collateral, self.collateral, self._cat))
            self.journal.append(_Chunk(1, bb[win], rr[win], pc[win], pc[win], pa[win]))
        last = len(rr) - 1 - np.unique(rr[::-1], return_index=True)[1]
        self.collateral[rr[last]], self._cat[rr[last]] = cc[last], a[last]
        self.last_block = max(self.last_block, int(bb[-1]))
        return len(idx)

    @property
    def journal_size(self) -> int:
        return sum(len(ch.blocks) for ch in self.journal)

    def rollback(self, to_block: int) -> int:
        """Undo every journaled write of a block above ``to_block``, newest chunk first (each
        cell gets the value its first undone write overwrote); returns how many writes."""
        k = 0
        for ch in reversed(self.journal):
            cut = int(np.searchsorted(ch.blocks, to_block, side="right"))
            if cut == len(ch.blocks):
                continue
            w = ch.where[cut:]
            first = np.unique(w, return_index=True)[1] + cut
            ws = ch.where[first]
            if ch.kind == 0:
                before = (self._sq[ws] != 0).astype(np.int64)
                self._sq[ws], self._son[ws], self._sat[ws] = ch.prev[first], ch.prev_on[first], ch.prev_at[first]
                np.add.at(self.holding, self._scol[ws], (ch.prev[first] != 0).astype(np.int64) - before)
            else:
                self.collateral[ws], self._cat[ws] = ch.prev[first], ch.prev_at[first]
            k += len(w)
            ch.truncate(cut)
        self.journal = [ch for ch in self.journal if len(ch.blocks)]
        self.last_block = min(self.last_block, to_block)
        return k

    def forget_journal(self, upto_block: int) -> None:
        """Drop the journal of blocks at or below ``upto_block`` (final for us: below the window)."""
        for ch in self.journal:
            ch.drop_upto(upto_block)
        self.journal = [ch for ch in self.journal if len(ch.blocks)]
        self.journal_above = upto_block

    def set_bulk(
        self,
        accounts: list[str],
        qty: np.ndarray,
        open_notional: np.ndarray,
        collateral: np.ndarray,
        market_ids: list[int],
    ) -> None:
        """Load a snapshot from dense matrices (benchmarks, tests)."""
        qty = np.asarray(qty, dtype=float)
        r, c = np.nonzero(qty)
        self.set_cells(accounts, r, [market_ids[j] for j in c], qty[r, c], np.asarray(open_notional)[r, c], collateral)
        for m in market_ids:
            self._column(m)

    def set_cells(self, accounts, rows, market_ids, qty, open_notional, collateral) -> None:
        """Load a snapshot from cells (row, market id, quantity, open notional) (benchmarks, tests)."""
        self.__init__(capacity=max(1024, len(rows)))
        keys = [a.lower() for a in accounts]
        for k in keys:
            self._row_of(k)
        self.collateral[: len(keys)] = np.asarray(collateral, dtype=float)
        rows = np.asarray(rows, np.int64)
        zero = np.zeros(len(rows), np.int64)
        self._apply_positions(zero, zero, [keys[r] for r in rows.tolist()], np.asarray(market_ids), qty, open_notional)

    def compact(self) -> int:
        """Free the slots of flat positions last written at or below the journal window (a
        settled market's closed cells, a trader's closed positions), so the scan touches only
        what is held. No journal entry points at such a slot (its last write would be above the
        window), and no replay can carry an older write of it (replays start above the window).
        Returns slots freed."""
        n = self._n
        at_block = self._sat[:n] >> _AT_SHIFT
        keep = (self._sq[:n] != 0) | (at_block > self.journal_above)
        freed = int(n - keep.sum())
        if not freed:
            return 0
        idx = np.flatnonzero(keep)
        m = len(idx)
        remap = np.full(n, -1, np.int64)
        remap[idx] = np.arange(m)
        for arr in ("_srow", "_scol", "_sq", "_son", "_sat"):
            a = getattr(self, arr)
            a[:m] = a[idx]
        self._n = m
        self._slot = {
            (int(r) << _AT_SHIFT) | int(c): s
            for s, (r, c) in enumerate(zip(self._srow[:m], self._scol[:m], strict=True))
        }
        for ch in self.journal:
            if ch.kind == 0:
                ch.where = remap[ch.where]
        return freed

    # ------------------------------------------------------------ views
    def cells(self) -> Cells:
        """The sparse book for :func:`core.margin.screen_cells` (views, no copy)."""
        n = self._n
        return Cells(self._srow[:n], self._scol[:n], self._sq[:n], self._son[:n], len(self.accounts))

    @property
    def qty(self) -> _Grid:
        return _Grid(self, lambda: self._sq)

    @property
    def open_notional(self) -> _Grid:
        return _Grid(self, lambda: self._son)

    def view(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Dense (qty, open_notional, collateral) matrices: small books and tests only."""
        n, m = len(self.accounts), len(self.market_ids)
        q, on = np.zeros((n, m)), np.zeros((n, m))
        c = self.cells()
        q[c.row, c.col], on[c.row, c.col] = c.qty, c.open_notional
        return q, on, self.collateral[:n]

    def _slots_of_row(self, i: int) -> np.ndarray:
        return np.flatnonzero(self._srow[: self._n] == i)

    def positions_of(self, account: str) -> dict[int, tuple[int, int]]:
        """{market_id: (quantity, open_notional)} of the account's open positions."""
        i = self.index.get(account)
        if i is None:
            return {}
        out = {}
        for s in self._slots_of_row(i):
            if self._sq[s] != 0:
                out[self.market_ids[self._scol[s]]] = (int(self._sq[s]), int(self._son[s]))
        return out

    def positions_of_many(self, accounts: list[str]) -> dict[str, dict[int, tuple[int, int]]]:
        """:meth:`positions_of` for many accounts in one pass over the slots (a block's candidates)."""
        rows = {self.index.get(a): a for a in accounts}
        rows.pop(None, None)
        out: dict[str, dict[int, tuple[int, int]]] = {a: {} for a in accounts}
        n = self._n
        if not rows:
            return out
        sel = np.flatnonzero(np.isin(self._srow[:n], np.fromiter(rows, np.int64, len(rows))) & (self._sq[:n] != 0))
        for s, r, j in zip(sel.tolist(), self._srow[sel].tolist(), self._scol[sel].tolist(), strict=True):
            out[rows[r]][self.market_ids[j]] = (int(self._sq[s]), int(self._son[s]))
        return out

    def position(self, account: str, market_id: int) -> tuple[int, int]:
        i, j = self.index.get(account), self.col.get(market_id)
        if i is None or j is None:
            return 0, 0
        s = self._slot.get((i << _AT_SHIFT) | j)
        return (0, 0) if s is None else (int(self._sq[s]), int(self._son[s]))

    def holder_slots(self, market_id: int) -> np.ndarray:
        j = self.col.get(market_id)
        if j is None:
            return np.zeros(0, np.intp)
        n = self._n
        return np.flatnonzero((self._scol[:n] == j) & (self._sq[:n] != 0))

    def holders(self, market_id: int) -> list[str]:
        """Accounts with a non-zero position in `market_id` (book order)."""
        s = self.holder_slots(market_id)
        return [self.accounts[i] for i in np.sort(self._srow[s])]

    def net_quantity(self, market_id: int) -> int:
        return int(self._sq[self.holder_slots(market_id)].sum())

    def held_markets(self) -> list[int]:
        """Markets in which some account holds a position (the only ones a scan needs)."""
        return [self.market_ids[j] for j in np.flatnonzero(self.holding)]


class EventSync:
    """Keeps a :class:`PositionBook` in step with the chain, head by head, through reorgs.

    ``sync(head_number, head_hash, parent_hash)`` applies the logs of the blocks since the last
    synced one. It keeps ``hashes`` (block number -> hash) of the blocks it processed over the
    last ``reorg_depth`` blocks (the heads and every block that had logs), always with one
    anchor at or below the window's bottom, and the book journals every write above that
    anchor. When the head does not extend the last synced block (or :meth:`request_check`
    after an outage), the fork point is the highest recorded block whose hash the node still
    returns; the book rolls back to it and the logs after it are replayed. Only a fork below
    the anchor (deeper than the window) or :meth:`request_resync` rebuilds from the deploy block.
    """

    def __init__(
        self,
        w3: Web3,
        address: str,
        deploy_block: int,
        book: PositionBook,
        chunk: int = 5_000,
        confirmations: int = 0,
        reorg_depth: int = DEFAULT_REORG_DEPTH,
        rpc: Callable[[str, list], Any] | None = None,
    ):
        self.w3, self.address, self.deploy_block, self.book = w3, address, deploy_block, book
        self.chunk, self.confirmations, self.depth = chunk, confirmations, max(1, reorg_depth)
        self.rpc = rpc or _raw_rpc(w3)
        self.synced_to = -1  # last block whose logs are in the book
        self.synced_hash: str | None = None
        self.hashes: dict[int, str] = {}
        self.need_resync = True
        self.need_check = False
        self.resyncs = 0
        self.reorgs = 0

    def request_resync(self) -> None:
        """Rebuild from the deploy block at the next sync."""
        self.need_resync = True

    def request_check(self) -> None:
        """Verify the recorded block hashes at the next sync (after an RPC outage: the node may
        have reorged, restarted or been replaced) and roll back to the fork point if needed."""
        self.need_check = True

    # ------------------------------------------------------------ chain reads
    def _call(self, method: str, params: list):
        """One raw call; a transport failure is a :class:`chain.rpc.ChainDown` (the keeper loop's
        outage path: back off, then :meth:`request_check` on reconnect)."""
        from chain.rpc import ChainDown, ChainError

        try:
            return self.rpc(method, params)
        except ChainError as e:
            if isinstance(e.__cause__, OSError | ConnectionError) or "unreachable" in str(e):
                raise ChainDown(str(e)) from e
            raise

    def _get_logs(self, a: int, b: int) -> list:
        """One page of raw logs (:func:`chain.logs.raw_get_logs`); an unreachable node is
        :class:`chain.rpc.ChainDown` (the keeper loop's outage path)."""
        from chain.rpc import ChainDown, ChainError

        try:
            return raw_get_logs(self.rpc, self.address, TOPICS, a, b)
        except ChainError as e:
            if "unreachable" in str(e):
                raise ChainDown(str(e)) from e
            raise

    def _hash_at(self, number: int) -> str | None:
        b = self._call("eth_getBlockByNumber", [hex(number), False])
        return None if not b else _norm(b["hash"])

    def _fork_point(self, head_number: int) -> int | None:
        """Highest recorded block still canonical (binary search: the hash chain makes "still
        canonical" hold for every block below one that is); None when none is."""
        hs = sorted(h for h in self.hashes if h <= head_number)
        lo, hi, best = 0, len(hs) - 1, None
        if hs and self._hash_at(hs[-1]) == self.hashes[hs[-1]]:
            return hs[-1]
        hi -= 1
        while lo <= hi:
            mid = (lo + hi) // 2
            if self._hash_at(hs[mid]) == self.hashes[hs[mid]]:
                best, lo = hs[mid], mid + 1
            else:
                hi = mid - 1
        return best

    # ------------------------------------------------------------ sync
    def sync(self, number: int, block_hash: str, parent_hash: str) -> dict:
        block_hash, parent_hash = _norm(block_hash), _norm(parent_hash)
        full, rolled, fork = self.need_resync or self.synced_to < 0, 0, None
        if not full:
            extends = number == self.synced_to + 1 and parent_hash == self.synced_hash
            same = number == self.synced_to and block_hash == self.synced_hash
            if self.need_check or not (extends or same):
                fork = self._fork_point(number)
                if fork is None:
                    log.warning(
                        "reorg deeper than the window: rebuilding from the deploy block",
                        extra={"fields": {"block": number, "window": self.depth, "synced_to": self.synced_to}},
                    )
                    full = True
                    self.reorgs += 1
                elif fork < self.synced_to:
                    self.reorgs += 1
                    rolled = self.book.rollback(fork)
                    self.hashes = {h: v for h, v in self.hashes.items() if h <= fork}
                    self.synced_to, self.synced_hash = fork, self.hashes[fork]
            self.need_check = False
            if not full and number == self.synced_to and block_hash == self.synced_hash:
                return self._result(False, 0, rolled, fork, self.synced_to + 1)
        if full:
            self.book.clear()
            self.hashes.clear()
            self.resyncs += 1
            start = self.deploy_block
            anchor = max(self.deploy_block, number - self.depth)
            h = self._hash_at(anchor)
            if h is not None:
                self.hashes[anchor] = h
            self.book.journal_above = anchor
        else:
            start = self.synced_to + 1
        applied, suspect = 0, False
        if start <= number:
            floor = number - self.depth
            for _, page in prefetched(self._get_logs, start, number, self.chunk):
                applied += self.book.apply_logs(page)
                # the hashes of the window's blocks that had logs: fork-point candidates
                last = None
                for lg in reversed(page):
                    raw_block = lg.blockNumber if isinstance(lg, RawLog) else lg["blockNumber"]
                    if raw_block == last:
                        continue  # one hash per block
                    last = raw_block
                    b, h = _block_of(lg)
                    if b <= floor:
                        break
                    if b == number and h != block_hash:
                        suspect = True  # the head moved under us: verify at the next sync
                    self.hashes.setdefault(b, h)
        self.hashes[number] = block_hash
        self.synced_to, self.synced_hash, self.need_resync = number, block_hash, False
        self.need_check = suspect
        self._prune()
        return self._result(full, applied, rolled, fork, start)

    # ------------------------------------------------------------ checkpoint (process restarts)
    def save(self, path) -> None:
        """Write the book, its journal and the recorded block hashes to ``path`` (numpy ``.npz``,
        written to a temporary file and renamed: a crash leaves the previous checkpoint)."""
        import os
        from pathlib import Path

        b, n = self.book, self.book._n
        na = len(b.accounts)
        jr = b.journal
        cat = lambda f, dt: np.concatenate([getattr(c, f) for c in jr]).astype(dt) if jr else np.zeros(0, dt)  # noqa: E731
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(
            tmp,
            meta=np.array([self.deploy_block, self.synced_to, b.journal_above, b.last_block], np.int64),
            address=np.array([self.address.lower()]),
            synced_hash=np.array([self.synced_hash or ""]),
            hash_heights=np.array(list(self.hashes), np.int64),
            hash_values=np.array(list(self.hashes.values()) or [""]),
            keys=np.array(b.accounts.keys or [""]),
            collateral=b.collateral[:na],
            cat=b._cat[:na],
            market_ids=np.array(b.market_ids, dtype=object).astype(str),
            srow=b._srow[:n],
            scol=b._scol[:n],
            sq=b._sq[:n],
            son=b._son[:n],
            sat=b._sat[:n],
            j_kind=np.concatenate([np.full(len(c.blocks), c.kind, np.int8) for c in jr])
            if jr
            else np.zeros(0, np.int8),
            j_chunk=np.concatenate([np.full(len(c.blocks), k, np.int64) for k, c in enumerate(jr)])
            if jr
            else np.zeros(0, np.int64),
            j_blocks=cat("blocks", np.int64),
            j_where=cat("where", np.int64),
            j_prev=cat("prev", float),
            j_prev_on=cat("prev_on", float),
            j_prev_at=cat("prev_at", np.int64),
        )
        os.replace(tmp, path)

    def load(self, path) -> bool:
        """Restore a checkpoint written by :meth:`save` for this contract and deploy block; the
        next sync re-verifies its recorded hashes against the node (rolling back to the fork
        point if the chain moved on another branch meanwhile) and replays from there. False (and
        nothing changed) when there is no checkpoint or it is another contract's."""
        from pathlib import Path

        path = Path(path)
        if not path.exists():
            return False
        try:
            z = np.load(path, allow_pickle=False)
            meta = z["meta"]
            if str(z["address"][0]) != self.address.lower() or int(meta[0]) != self.deploy_block:
                return False
            book = PositionBook()
            keys = [str(k) for k in z["keys"]] if len(z["collateral"]) else []
            for k in keys:
                book._row_of(k)
            book.collateral[: len(keys)] = z["collateral"]
            book._cat[: len(keys)] = z["cat"]
            for m in z["market_ids"]:
                book._column(int(m))
            cells = ((z["srow"].astype(np.int64) << _AT_SHIFT) | z["scol"]).tolist()
            book._new_slots(cells)
            n = len(cells)
            book._sq[:n], book._son[:n], book._sat[:n] = z["sq"], z["son"], z["sat"]
            np.add.at(book.holding, z["scol"][z["sq"] != 0], 1)
            book.journal_above, book.last_block = int(meta[2]), int(meta[3])
            chunk = z["j_chunk"]
            for k in np.unique(chunk):
                sel = chunk == k
                book.journal.append(
                    _Chunk(
                        int(z["j_kind"][sel][0]),
                        z["j_blocks"][sel],
                        z["j_where"][sel],
                        z["j_prev"][sel],
                        z["j_prev_on"][sel],
                        z["j_prev_at"][sel],
                    )
                )
            hashes = dict(zip(z["hash_heights"].tolist(), [str(h) for h in z["hash_values"]], strict=False))
        except (OSError, KeyError, ValueError) as e:
            log.warning("unreadable checkpoint: syncing from the deploy block", extra={"fields": {"error": str(e)}})
            return False
        b = self.book
        b.__dict__.update(book.__dict__)
        b.index._keys, b.index._accounts = b._key, b.accounts
        self.hashes = hashes
        self.synced_to, self.synced_hash = int(meta[1]), str(z["synced_hash"][0]) or None
        self.need_resync, self.need_check = self.synced_to < 0, True
        return True

    def _prune(self) -> None:
        """Keep the hashes of the window and one anchor at or below its bottom; journal only above it."""
        bottom = self.synced_to - self.depth
        below = [h for h in self.hashes if h <= bottom]
        if below:
            anchor = max(below)
            for h in below:
                if h != anchor:
                    del self.hashes[h]
            self.book.forget_journal(anchor)

    def _result(self, full: bool, applied: int, rolled: int, fork: int | None, start: int) -> dict:
        return {
            "resync": full,
            "logs_applied": applied,
            "rolled_back": rolled,
            "fork_block": fork if rolled else None,
            "replayed_from": start,
            "accounts": len(self.book),
        }


def _block_of(lg) -> tuple[int, str]:
    if isinstance(lg, RawLog):
        return int(lg.blockNumber, 16), _norm(lg.blockHash)
    b = lg["blockNumber"]
    return (int(b, 16) if isinstance(b, str) else int(b)), _norm(lg["blockHash"])


def _norm(h) -> str:
    """A block hash as lowercase ``0x`` hex, whatever shape it came in (str, bytes, HexBytes)."""
    if isinstance(h, str):
        h = h.lower()
        return h if h.startswith("0x") else "0x" + h
    return "0x" + bytes(h).hex()


def _raw_rpc(w3) -> Callable[[str, list], Any]:
    """Raw JSON-RPC through ``w3``'s endpoint: :class:`chain.rpc.Rpc` for HTTP (no web3 result
    formatting of logs), else the provider's ``make_request``."""
    url = getattr(getattr(w3, "provider", None), "endpoint_uri", None)
    if isinstance(url, str) and url.startswith(("http://", "https://")):
        from chain.rpc import Rpc

        return Rpc(url, timeout=60.0)

    def call(method: str, params: list):
        from chain.rpc import error_of

        r = w3.provider.make_request(method, params)
        if "error" in r:
            raise error_of(method, r["error"])
        return r["result"]

    return call
