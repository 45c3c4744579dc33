"""`--once` (cspread-pusher/-liquidator/-settler): act on the current head exactly once, then exit 0,
through the same main_loop as the polling run (no chain: the RPC is a fake)."""

from __future__ import annotations

import types
from pathlib import Path

import keepers.chain as kc
from keepers.chain import Head, KeeperSettings

ROOT = Path(__file__).resolve().parents[3]


class _FakeChain:
    def __init__(self, url, timeout):
        self.epoch = 0
        self.heads = 0

    def head(self) -> Head:
        self.heads += 1
        return Head(100 + self.heads, f"0x{self.heads:064x}", "0x" + "0" * 64, 1_700_000_000)


def _settings(tmp_path) -> KeeperSettings:
    return KeeperSettings(rpc_url="http://127.0.0.1:1", manifest=tmp_path / "m.json", poll_interval=30)


def test_once__start_then_one_block_then_exit(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(kc, "Chain", _FakeChain)
    monkeypatch.setattr(kc, "run_loop", lambda *a, **k: calls.append("loop"))

    def build(settings, chain, metrics):
        k = types.SimpleNamespace(name="t", sender=types.SimpleNamespace(dry=True, address=None))
        k.start = lambda head: calls.append(("start", head.number)) or {"accounts": 0}
        k.on_block = lambda head: calls.append(("block", head.number)) or {"sent": 0}
        return k

    assert kc.main_loop("t", _settings(tmp_path), build, once=True) == 0
    assert calls == [("start", 101), ("block", 101)]  # one head read, acted on once, never the polling loop


def test_without_once__the_polling_loop_runs(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(kc, "Chain", _FakeChain)
    monkeypatch.setattr(kc, "run_loop", lambda keeper, chain, interval, stop: calls.append(("loop", interval)))
    build = lambda s, c, m: types.SimpleNamespace(name="t", sender=types.SimpleNamespace(dry=True, address=None))
    assert kc.main_loop("t", _settings(tmp_path), build) == 0
    assert calls == [("loop", 30)]
