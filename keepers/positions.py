"""Every account's positions and collateral, kept in memory from Clearinghouse events.

``PositionUpdated(account, market_id, quantity, open_notional, realised_pnl)`` and
``CollateralUpdated(account, collateral)`` carry absolute values, so applying a log is
idempotent: each (account, market) cell and each collateral remembers the (block, log
index) it was last written at, and an older log never overwrites a newer one. A reorg or
a gap (RPC outage, non-contiguous heads) triggers a full resync from the deploy block,
which rebuilds everything from scratch (state keyed by block, so a replay overwrites it).

Storage is numpy: ``qty`` and ``open_notional`` are dense accounts x markets matrices
(float64: exact below 2**53, which every devnet and realistic position stays within; the
on-chain read confirms every decision), ``collateral`` is a vector.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from core import abi

if TYPE_CHECKING:
    from web3 import Web3

_POSITION = abi.event("Clearinghouse", "PositionUpdated")
_COLLATERAL = abi.event("Clearinghouse", "CollateralUpdated")
POSITION_UPDATED, COLLATERAL_UPDATED = _POSITION.topic, _COLLATERAL.topic
TOPICS = [[POSITION_UPDATED, COLLATERAL_UPDATED]]


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
    """Decode a raw log of either event by the ABI's field names (no contract object: fast for resyncs)."""
    block, index = int(lg["blockNumber"]), int(lg["logIndex"])
    if _POSITION.matches(lg):
        a = _POSITION.decode(lg)
        return PositionEvent(a["account"], a["market_id"], a["quantity"], a["open_notional"], block, index)
    if _COLLATERAL.matches(lg):
        a = _COLLATERAL.decode(lg)
        return CollateralEvent(a["account"], a["collateral"], block, index)
    return None


class PositionBook:
    """Accounts x markets state. Rows are accounts (insertion order), columns markets."""

    def __init__(self, market_ids: list[int] | None = None, capacity: int = 1024):
        self.accounts: list[str] = []
        self.index: dict[str, int] = {}
        self.market_ids: list[int] = []
        self.col: dict[int, int] = {}
        self.qty = np.zeros((capacity, 0))
        self.open_notional = np.zeros((capacity, 0))
        self.collateral = np.zeros(capacity)
        self._pos_at: dict[tuple[int, int], tuple[int, int]] = {}
        self._coll_at: dict[int, tuple[int, int]] = {}
        self.last_block = -1
        for m in market_ids or []:
            self._column(m)

    def __len__(self) -> int:
        return len(self.accounts)

    def clear(self) -> None:
        self.__init__(list(self.market_ids), max(1024, len(self.accounts)))

    # ------------------------------------------------------------ growth
    def _row(self, account: str) -> int:
        i = self.index.get(account)
        if i is None:
            i = len(self.accounts)
            if i >= self.collateral.shape[0]:
                n = max(2 * i, 1024)
                self.qty = np.vstack([self.qty, np.zeros((n - i, self.qty.shape[1]))])
                self.open_notional = np.vstack([self.open_notional, np.zeros((n - i, self.qty.shape[1]))])
                self.collateral = np.concatenate([self.collateral, np.zeros(n - i)])
            self.accounts.append(account)
            self.index[account] = i
        return i

    def _column(self, market_id: int) -> int:
        j = self.col.get(market_id)
        if j is None:
            j = len(self.market_ids)
            self.market_ids.append(market_id)
            self.col[market_id] = j
            self.qty = np.hstack([self.qty, np.zeros((self.qty.shape[0], 1))])
            self.open_notional = np.hstack([self.open_notional, np.zeros((self.qty.shape[0], 1))])
        return j

    # ------------------------------------------------------------ events
    def apply(self, ev: PositionEvent | CollateralEvent) -> bool:
        """Apply one event; False if an equal-or-newer write is already in (replay)."""
        at = (ev.block, ev.index)
        i = self._row(ev.account)
        if isinstance(ev, PositionEvent):
            j = self._column(ev.market_id)
            prev = self._pos_at.get((i, j))
            if prev is not None and prev >= at:
                return False
            self._pos_at[(i, j)] = at
            self.qty[i, j] = ev.quantity
            self.open_notional[i, j] = ev.open_notional
        else:
            prev = self._coll_at.get(i)
            if prev is not None and prev >= at:
                return False
            self._coll_at[i] = at
            self.collateral[i] = ev.collateral
        self.last_block = max(self.last_block, ev.block)
        return True

    def apply_logs(self, logs) -> int:
        n = 0
        for lg in logs:
            ev = decode_log(lg)
            if ev is not None and self.apply(ev):
                n += 1
        return n

    def set_bulk(
        self,
        accounts: list[str],
        qty: np.ndarray,
        open_notional: np.ndarray,
        collateral: np.ndarray,
        market_ids: list[int],
    ) -> None:
        """Load a snapshot directly (benchmarks, tests)."""
        self.accounts = list(accounts)
        self.index = {a: i for i, a in enumerate(accounts)}
        self.market_ids = list(market_ids)
        self.col = {m: j for j, m in enumerate(market_ids)}
        self.qty = np.asarray(qty, dtype=float).copy()
        self.open_notional = np.asarray(open_notional, dtype=float).copy()
        self.collateral = np.asarray(collateral, dtype=float).copy()

    # ------------------------------------------------------------ views
    def view(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = len(self.accounts)
        return self.qty[:n], self.open_notional[:n], self.collateral[:n]

    def position(self, account: str, market_id: int) -> tuple[int, int]:
        i, j = self.index.get(account), self.col.get(market_id)
        if i is None or j is None:
            return 0, 0
        return int(self.qty[i, j]), int(self.open_notional[i, j])

    def holders(self, market_id: int) -> list[str]:
        """Accounts with a non-zero position in `market_id` (book order)."""
        j = self.col.get(market_id)
        if j is None:
            return []
        n = len(self.accounts)
        return [self.accounts[i] for i in np.flatnonzero(self.qty[:n, j] != 0)]

    def net_quantity(self, market_id: int) -> int:
        j = self.col.get(market_id)
        return 0 if j is None else int(self.qty[: len(self.accounts), j].sum())


class EventSync:
    """Keeps a :class:`PositionBook` in step with the chain, head by head.

    ``sync(head_number, head_hash, parent_hash)`` fetches logs since the last synced
    block; if the new head does not extend the last one (reorg) or a resync was requested
    (start, RPC outage), it rebuilds the book from the deploy block.
    """

    def __init__(
        self, w3: Web3, address: str, deploy_block: int, book: PositionBook, chunk: int = 5_000, confirmations: int = 0
    ):
        self.w3, self.address, self.deploy_block, self.book = w3, address, deploy_block, book
        self.chunk, self.confirmations = chunk, confirmations
        self.synced_to = -1  # last block whose logs are in the book
        self.synced_hash: str | None = None
        self.need_resync = True
        self.resyncs = 0

    def request_resync(self) -> None:
        self.need_resync = True

    def sync(self, number: int, block_hash: str, parent_hash: str) -> dict:
        from chain.logs import get_logs

        if (
            not self.need_resync
            and self.synced_to >= 0
            and (
                number < self.synced_to
                or (number == self.synced_to + 1 and parent_hash != self.synced_hash)
                or (number == self.synced_to and block_hash != self.synced_hash)
            )
        ):
            self.need_resync = True  # reorg or chain rewound
        full = self.need_resync
        if full:
            self.book.clear()
            start = self.deploy_block
            self.resyncs += 1
        else:
            start = self.synced_to + 1
        applied = 0
        if start <= number:
            logs = get_logs(self.w3, self.address, TOPICS, start, number, self.chunk)
            applied = self.book.apply_logs(logs)
        if number > self.synced_to + 1 and not full and self.synced_to >= 0:
            # non-contiguous heads: verify the block we skipped to extends what we had
            prev = self.w3.eth.get_block(self.synced_to)
            if prev["hash"].hex() != self.synced_hash:
                self.need_resync = True
                return self.sync(number, block_hash, parent_hash)
        self.synced_to, self.synced_hash, self.need_resync = number, block_hash, False
        return {"resync": full, "logs_applied": applied, "accounts": len(self.book)}
