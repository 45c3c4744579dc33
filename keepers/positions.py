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
(``core.abi``): no web3 log formatting and no checksumming in the hot loop (an address is
checksummed once, when its account is first seen).

Reorgs (issue 12): :class:`EventSync` keeps the hash of every block it processed over the last
``reorg_depth`` blocks and a journal of the cells each of those blocks' logs overwrote. A head
that does not extend the last one processed (or a resync after an RPC outage) looks for the
highest recorded block still on the canonical chain, rolls the book back to it from the
journal, and replays the logs from the block after it: never a rebuild from the deploy block
unless the fork is deeper than the window. ``tests/integration/test_keepers_reorg.py`` runs it
against anvil's ``anvil_reorg`` and ``evm_snapshot``/``evm_revert``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from eth_utils import to_checksum_address

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
        self.accounts: list[str] = []  # checksummed, for contract calls
        self.index: dict[str, int] = {}  # checksummed address -> row
        self._key: dict[str, int] = {}  # lowercase 0x address -> row (the hot loop's key)
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
        # rollback journal: (block, kind, where, previous q / collateral, previous open notional, previous at)
        self.journal: list[tuple[int, int, int, float, float, int]] = []
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
            a = to_checksum_address(key)
            self.accounts.append(a)
            self.index[a] = i
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

    def _new_slot(self, i: int, j: int) -> int:
        s = self._n
        if s >= self._sq.shape[0]:
            n = max(2 * s, 1024)
            self._srow = np.concatenate([self._srow, np.zeros(n - s, np.int32)])
            self._scol = np.concatenate([self._scol, np.zeros(n - s, np.int32)])
            self._sq = np.concatenate([self._sq, np.zeros(n - s)])
            self._son = np.concatenate([self._son, np.zeros(n - s)])
            self._sat = np.concatenate([self._sat, np.full(n - s, -1, np.int64)])
        self._srow[s], self._scol[s] = i, j
        self._slot[(i << _AT_SHIFT) | j] = s
        self._n = s + 1
        return s

    # ------------------------------------------------------------ events
    def _set_position(self, i: int, j: int, q: int, on: int, at: int, block: int) -> bool:
        key = (i << _AT_SHIFT) | j
        s = self._slot.get(key)
        if s is None:
            s = self._new_slot(i, j)
        prev_at = int(self._sat[s])
        if prev_at >= at:
            return False
        prev_q = float(self._sq[s])
        if block > self.journal_above:
            self.journal.append((block, 0, s, prev_q, float(self._son[s]), prev_at))
        self._sq[s], self._son[s], self._sat[s] = q, on, at
        self.holding[j] += int(q != 0) - int(prev_q != 0)
        return True

    def _set_collateral(self, i: int, c: int, at: int, block: int) -> bool:
        prev_at = int(self._cat[i])
        if prev_at >= at:
            return False
        if block > self.journal_above:
            self.journal.append((block, 1, i, float(self.collateral[i]), 0.0, prev_at))
        self.collateral[i], self._cat[i] = c, at
        return True

    def apply(self, ev: PositionEvent | CollateralEvent) -> bool:
        """Apply one event; False if an equal-or-newer write is already in (replay)."""
        at = (ev.block << _AT_SHIFT) | ev.index
        i = self._row(ev.account)
        if isinstance(ev, PositionEvent):
            ok = self._set_position(i, self._column(ev.market_id), ev.quantity, ev.open_notional, at, ev.block)
        else:
            ok = self._set_collateral(i, ev.collateral, at, ev.block)
        if ok:
            self.last_block = max(self.last_block, ev.block)
        return ok

    def apply_logs(self, logs: Iterable[dict[str, Any]]) -> int:
        """Apply raw ``eth_getLogs`` results (hex strings, as the node sends them) by slicing;
        a log in another shape (web3-formatted) goes through :func:`decode_log`. Removed logs
        (``removed: true``) are skipped: :class:`EventSync` rolls back what a reorg drops."""
        n = 0
        pos, coll = POSITION_UPDATED, COLLATERAL_UPDATED
        for lg in logs:
            topics = lg.get("topics")
            if not topics or lg.get("removed"):
                continue
            t0 = topics[0]
            if not isinstance(t0, str):
                ev = decode_log(lg)
                n += ev is not None and self.apply(ev)
                continue
            t0 = t0.lower()
            block = int(lg["blockNumber"], 16)
            at = (block << _AT_SHIFT) | int(lg["logIndex"], 16)
            data = lg["data"]
            if t0 == pos:
                i = self._row_of("0x" + topics[_P_ACCT][-40:].lower())
                j = self.col.get(int(topics[_P_MKT], 16))
                if j is None:
                    j = self._column(int(topics[_P_MKT], 16))
                ok = self._set_position(
                    i, j, _int256(data[_P_Q : _P_Q + 64]), _int256(data[_P_ON : _P_ON + 64]), at, block
                )
            elif t0 == coll:
                i = self._row_of("0x" + topics[_C_ACCT][-40:].lower())
                ok = self._set_collateral(i, _int256(data[_C_COLL : _C_COLL + 64]), at, block)
            else:
                continue
            if ok:
                n += 1
                if block > self.last_block:
                    self.last_block = block
        return n

    def rollback(self, to_block: int) -> int:
        """Undo every journaled write of a block above ``to_block`` (newest first); returns how many."""
        jr, k = self.journal, 0
        while jr and jr[-1][0] > to_block:
            _, kind, w, prev, prev_on, prev_at = jr.pop()
            if kind == 0:
                j = int(self._scol[w])
                self.holding[j] += int(prev != 0) - int(self._sq[w] != 0)
                self._sq[w], self._son[w], self._sat[w] = prev, prev_on, prev_at
            else:
                self.collateral[w], self._cat[w] = prev, prev_at
            k += 1
        self.last_block = min(self.last_block, to_block)
        return k

    def forget_journal(self, upto_block: int) -> None:
        """Drop the journal of blocks at or below ``upto_block`` (final for us: below the window)."""
        jr = self.journal
        k = 0
        while k < len(jr) and jr[k][0] <= upto_block:
            k += 1
        if k:
            del jr[:k]
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
        for i, m, q, on in zip(rows, market_ids, qty, open_notional, strict=True):
            self._set_position(int(i), self._column(int(m)), q, on, 0, 0)

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
        self.journal = [(b, k, int(remap[w]) if k == 0 else w, p, po, pa) for b, k, w, p, po, pa in self.journal]
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
            from chain.logs import rpc_paged

            for _, page in rpc_paged(self._call, self.address, TOPICS, start, number, self.chunk):
                applied += self.book.apply_logs(page)
                floor = number - self.depth
                for lg in page:
                    b = int(lg["blockNumber"], 16) if isinstance(lg["blockNumber"], str) else int(lg["blockNumber"])
                    if b > floor:
                        h = _norm(lg["blockHash"])
                        if b == number and h != block_hash:
                            suspect = True  # the head moved under us: verify at the next sync
                        self.hashes.setdefault(b, h)
        self.hashes[number] = block_hash
        self.synced_to, self.synced_hash, self.need_resync = number, block_hash, False
        self.need_check = suspect
        self._prune()
        return self._result(full, applied, rolled, fork, start)

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
