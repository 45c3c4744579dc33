"""sdk.aio (thread-pool wrapper) and the Client's key sources, without a chain."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
from eth_account import Account

from devnet.anvil import ANVIL_KEYS
from sdk import errors
from sdk.aio import AsyncClient
from sdk.client import _make_signer


class FakeClient:
    address = "0xabc"
    chain_id = 31337

    def __init__(self):
        self.threads = set()

    def account(self, address):
        self.threads.add(threading.get_ident())
        return {"address": address}

    def deposit(self, amount):
        raise errors.InsufficientBalance("short")

    def stream_fills(self, address, stop, **kw):
        yield from range(3)
        stop.wait(5)


def test_async_client__methods_run_in_worker_threads():
    fake = FakeClient()

    async def main():
        async with AsyncClient(client=fake) as c:
            got = await asyncio.gather(*(c.account(f"0x{i}") for i in range(5)))
            assert c.chain_id == 31337 and c.address == "0xabc"
            with pytest.raises(errors.InsufficientBalance):
                await c.deposit(1)
            return got

    got = asyncio.run(main())
    assert [g["address"] for g in got] == [f"0x{i}" for i in range(5)]
    assert threading.get_ident() not in fake.threads


def test_async_client__stream_fills_async_iterator_stops_cleanly():
    async def main():
        c = AsyncClient(client=FakeClient())
        out = []
        async for f in c.stream_fills("0xabc"):
            out.append(f)
            if len(out) == 3:
                break
        await c.aclose()
        return out

    assert asyncio.run(asyncio.wait_for(main(), 10)) == [0, 1, 2]


def test_signer__private_key_and_keyfile(tmp_path):
    acct = Account.from_key(ANVIL_KEYS[5])
    assert _make_signer(ANVIL_KEYS[5], None, None, None).address == acct.address
    path = tmp_path / "key.json"
    path.write_text(json.dumps(Account.encrypt(ANVIL_KEYS[5], "pw", iterations=2)))
    s = _make_signer(None, path, "pw", None)
    assert s.address == acct.address and "LocalSigner" in repr(s) and ANVIL_KEYS[5][2:] not in repr(s)
    assert _make_signer(None, None, None, None) is None


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"private_key": "0x1234"}, "not a valid"),
        ({"keyfile": "missing.json", "password": "pw"}, "cannot read"),
        ({"keyfile": "k.json"}, "needs password"),
        ({"private_key": ANVIL_KEYS[1], "ape_account": "x"}, "only one"),
    ],
)
def test_signer__bad_sources__signer_required_says_why(kwargs, match):
    args = {"private_key": None, "keyfile": None, "password": None, "ape_account": None, **kwargs}
    with pytest.raises(errors.SignerRequired, match=match):
        _make_signer(**args)


def test_signer__wrong_password(tmp_path):
    path = tmp_path / "key.json"
    path.write_text(json.dumps(Account.encrypt(ANVIL_KEYS[5], "pw", iterations=2)))
    with pytest.raises(errors.SignerRequired, match="wrong password"):
        _make_signer(None, path, "nope", None)
