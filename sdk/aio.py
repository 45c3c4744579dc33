"""Async client: a thin wrapper running the sync :class:`sdk.client.Client` in a thread pool.

    async with AsyncClient(manifest, rpc_url, private_key=key) as c:
        acct = await c.account(c.address)
        await c.deposit(Decimal("100"))
        async for fill in c.stream_fills(c.address):
            ...

Why a wrapper rather than web3's AsyncWeb3: one implementation of the pre-flight checks,
rounding and revert decoding serves both, and the work is I/O-bound JSON-RPC, so threads do
not limit throughput. Every public method of Client is available as a coroutine with the
same signature (via ``__getattr__``); attributes that are not callables are returned as is.
Thread-safety: the sync client serialises writes with its own lock, so concurrent awaits
are safe; ``max_workers`` bounds concurrent RPC calls.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sdk.client import Client
from sdk.models import Fill


class AsyncClient:
    def __init__(self, *args, max_workers: int = 8, client: Client | None = None, **kwargs):
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="cspread")
        self._client = client or Client(*args, **kwargs)

    @property
    def sync(self) -> Client:
        """The wrapped synchronous client."""
        return self._client

    @property
    def address(self) -> str:
        return self._client.address

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        @functools.wraps(attr)
        async def call(*args, **kwargs):
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, functools.partial(attr, *args, **kwargs))

        return call

    async def stream_fills(self, address: str, **kwargs) -> AsyncIterator[Fill]:
        """Own fills as an async iterator (the sync generator runs in a worker thread)."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        stop = threading.Event()
        done = object()

        def pump():
            try:
                for f in self._client.stream_fills(address, stop=stop, **kwargs):
                    loop.call_soon_threadsafe(queue.put_nowait, f)
            except BaseException as e:  # noqa: BLE001 - re-raised in the consumer
                loop.call_soon_threadsafe(queue.put_nowait, e)
            loop.call_soon_threadsafe(queue.put_nowait, done)

        fut = loop.run_in_executor(self._executor, pump)
        try:
            while True:
                item = await queue.get()
                if item is done:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            await fut

    async def aclose(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()
