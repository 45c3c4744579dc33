"""Fan-out of book and trade updates to websocket subscribers (thread-safe publish)."""

from __future__ import annotations

import asyncio
import threading


class Hub:
    def __init__(self):
        self._subs: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue, int | None]] = set()
        self._lock = threading.Lock()
        self.dirty: set[int] = set()  # markets whose book changed since the last broadcast

    def subscribe(self, market_id: int | None) -> tuple:
        sub = (asyncio.get_running_loop(), asyncio.Queue(maxsize=1000), market_id)
        with self._lock:
            self._subs.add(sub)
        return sub

    def unsubscribe(self, sub) -> None:
        with self._lock:
            self._subs.discard(sub)

    @property
    def subscribers(self) -> int:
        return len(self._subs)

    def mark_dirty(self, market_id: int) -> None:
        with self._lock:
            self.dirty.add(market_id)

    def take_dirty(self) -> set[int]:
        with self._lock:
            d, self.dirty = self.dirty, set()
        return d

    def publish(self, message: dict) -> None:
        mid = message.get("market_id")
        with self._lock:
            subs = list(self._subs)
        for loop, q, want in subs:
            if want is None or want == mid:
                loop.call_soon_threadsafe(_put, q, message)


def _put(q: asyncio.Queue, message: dict) -> None:
    if q.full():  # slow consumer: drop the oldest update, it is superseded anyway
        q.get_nowait()
    q.put_nowait(message)
