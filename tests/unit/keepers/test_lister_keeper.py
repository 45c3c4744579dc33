"""Lister keeper (keepers/lister.py): the depth plan, batching, idempotence across restarts, and
races with another lister, against a chain model that refuses what the contract refuses
(interface doc issue 10: "already listed", "bad bond", "last trade passed", "beyond horizon").

The depth rule itself is core.series.windows; here the windows come from a plain hourly rule so
the keeper's own logic is tested alone (test_lister_series.py runs it on the real rule)."""

from __future__ import annotations

import json
import types
from pathlib import Path

import pytest
from web3 import Web3

from chain.rpc import Head
from chain.tx import Outcome, SendResult
from core import abi
from keepers.chain import Metrics
from keepers.lister import (
    DAILY,
    HOURLY,
    Lister,
    ListerSettings,
    Listing,
    Template,
    plan_listings,
)

H = 3600
T0 = 1_760_000_400 - 1_760_000_400 % H + 600  # ten minutes past an hour
SPEC_A, SPEC_B = b"\xaa" * 32, b"\xbb" * 32
LIST_FROM_TEMPLATE = json.loads(
    '{"type": "function", "name": "list_from_template", "stateMutability": "payable", "inputs": [{"name": "template_id", "type": "uint256"}, {"name": "delivery_start", "type": "uint256"}, {"name": "delivery_end", "type": "uint256"}], "outputs": [{"name": "", "type": "uint256"}]}'
)


def hourly(series, template, now: int, depth: int):
    """Next `depth` hourly windows whose last trade (delivery_start here) is ahead."""
    first = now - now % H + H
    return [(first + i * H, first + (i + 1) * H) for i in range(depth)]


def tpl(tid, spec=SPEC_A, cadence=HOURLY, active=True, horizon=10 * 86400, bond=10**15, lto=0) -> Template:
    return Template(tid, spec, cadence, 0, lto, horizon, bond, active)


SERIES = {
    (SPEC_A, HOURLY): types.SimpleNamespace(symbol="ERCOT.HB_WEST.DA.HOURLY", utc_offset=0),
    (SPEC_B, HOURLY): types.SimpleNamespace(symbol="B", utc_offset=0),
    (SPEC_A, DAILY): types.SimpleNamespace(symbol="ERCOT.HB_WEST.DA.HOURLY", utc_offset=0),
}


# --------------------------------------------------------------------------- the plan


def test_plan__due_missing_and_every_skip_reason():
    ts = [
        tpl(1),
        tpl(2, active=False),
        tpl(3, spec=b"\xcc" * 32),  # nobody describes its spec
        tpl(4, spec=SPEC_B, horizon=3 * H),  # windows 4.. hours ahead are beyond its horizon
        tpl(5, cadence=9),
    ]
    listed = {(1, T0 - T0 % H + H)}
    p = plan_listings(
        ts, SERIES, T0, lambda x: (x.template_id, x.delivery_start) in listed, depth={HOURLY: 5}, windows=hourly
    )
    assert [x.template_id for x in p.due].count(1) == 5 and [x.template_id for x in p.due].count(4) == 3
    assert len(p.missing) == 4 + 3 and all((x.template_id, x.delivery_start) not in listed for x in p.missing)
    assert p.reasons() == {"template retired": 1, "spec unknown": 1, "beyond horizon": 2, "unknown cadence 9": 1}
    # nearest window first across templates (the front of the curve is listed first)
    assert [x.delivery_start for x in p.missing] == sorted(x.delivery_start for x in p.missing)


def test_plan__last_trade_offset_and_min_lead():
    # last trade 2 h before delivery: the window starting within 2 h (+ lead) is not due
    p = plan_listings([tpl(1, lto=2 * H)], SERIES, T0, lambda x: False, depth={HOURLY: 4}, windows=hourly)
    first = T0 - T0 % H + H
    assert [x.delivery_start for x in p.due] == [first + 2 * H, first + 3 * H]
    assert {(s.reason, s.delivery_start) for s in p.skipped} == {
        ("last trade too close", first),
        ("last trade too close", first + H),
    }
    # min_lead: a window whose last trade is 50 min away is not worth a tx with a 1 h lead
    p = plan_listings([tpl(1)], SERIES, T0, lambda x: False, depth={HOURLY: 2}, min_lead=H, windows=hourly)
    assert [x.delivery_start for x in p.due] == [first + H]


# --------------------------------------------------------------------------- the keeper


class FakeChain:
    """The listing part of the Clearinghouse, with its refusals."""

    def __init__(self, templates: list[Template], now: int = T0):
        self.templates = {t.template_id: t for t in templates}
        self.listings: dict[tuple[int, int], int] = {}
        self.listed_log: list[tuple[int, int, int]] = []  # every successful listing: (tid, start, end)
        self.lister_of: dict[int, str] = {}  # market id -> lister, while its bond is unclaimed
        self.ends: dict[int, int] = {}
        self.settled: set[int] = set()
        self.paid: list[tuple[int, str]] = []
        self.settled_reads = 0
        self.count = 0
        self.now, self.block = now, 100
        self.balances: dict[str, int] = {}

    def check(self, tid: int, start: int, end: int, value: int) -> str | None:
        t = self.templates.get(tid)
        if t is None:
            return "Clearinghouse: unknown template"
        if not t.active:
            return "Clearinghouse: template retired"
        if value != t.bond:
            return "Clearinghouse: bad bond"
        if start > self.now + t.max_horizon:
            return "Clearinghouse: beyond horizon"
        if t.last_trade(start, end) <= self.now:
            return "Clearinghouse: last trade passed"
        if (tid, start) in self.listings:
            return "Clearinghouse: already listed"
        return None

    def list(self, tid, start, end, value, lister="0xL1") -> str | None:
        why = self.check(tid, start, end, value)
        if why is None:
            self.count += 1
            self.listings[(tid, start)] = self.count
            self.listed_log.append((tid, start, end))
            self.lister_of[self.count], self.ends[self.count] = lister, end
        return why

    def check_claim(self, mid: int, who: str) -> str | None:
        if mid not in self.lister_of:
            return "SeriesRegistry: no bond"
        if self.lister_of[mid] != who:
            return "SeriesRegistry: not bond owner"
        if mid not in self.settled:
            return "SeriesRegistry: not settled"
        return None

    def claim(self, mid: int, who: str) -> str | None:
        why = self.check_claim(mid, who)
        if why is None:
            del self.lister_of[mid]
            self.paid.append((mid, who))
        return why

    def head(self) -> Head:
        return Head(self.block, f"0x{self.block:064x}", f"0x{self.block - 1:064x}", self.now)

    def advance(self, seconds: int = 12) -> None:
        self.now += seconds
        self.block += 1


class FakeSender:
    """TxSender's keeper surface: simulate against the chain model, hold in flight, mine on poll."""

    def __init__(self, chain: FakeChain, address: str = "0xL1"):
        self.chain, self.address, self.dry = chain, address, False
        self.pending: dict[int, tuple[str, tuple, dict]] = {}
        self.nonce = 0
        self.sent: list[str] = []

    def sync_nonce(self):
        pass

    def reset(self):
        self.pending.clear()

    def in_flight(self, key: str) -> bool:
        return any(k == key for k, _, _ in self.pending.values())

    def send(self, key, call, head_number, kind="tx", meta=None, describe=None, min_gas=0) -> SendResult:
        if self.in_flight(key):
            return SendResult("in_flight")
        why = self.chain.check_claim(call[1], self.address) if call[0] == "claim" else self.chain.check(*call)
        if why:
            return SendResult("rejected", reason=why)
        self.pending[self.nonce] = (key, call, meta or {})
        self.nonce += 1
        self.sent.append(key)
        return SendResult("sent", tx_hash=f"0x{self.nonce:064x}")

    def poll(self, head_number: int) -> list[Outcome]:
        out = []
        for n in sorted(self.pending):
            key, call, meta = self.pending.pop(n)
            why = (
                self.chain.claim(call[1], self.address) if call[0] == "claim" else self.chain.list(*call, self.address)
            )
            out.append(Outcome(key, "reverted" if why else "mined", f"0x{n:064x}", head_number, meta))
        return out


def _manifest(tmp_path: Path) -> Path:
    c = {
        n: {"address": "0x" + f"{i:040x}", "abi": abi.abi(n)}
        for i, n in enumerate(("Oracle", "Clearinghouse", "Exchange"), 1)
    }
    c["Collateral"] = {"address": "0x" + "9" * 40, "abi": abi.abi("MockUSDC")}
    if not any(e.get("name") == "list_from_template" for e in c["Clearinghouse"]["abi"]):
        c["Clearinghouse"]["abi"].append(LIST_FROM_TEMPLATE)  # core/abis before the issue-10 contracts merge
    p = tmp_path / "m.json"
    p.write_text(json.dumps({"chain_id": 31337, "block": 0, "contracts": c, "markets": []}))
    return p


class ModelLister(Lister):
    """The real Lister with its five chain accesses answered by the chain model."""

    def __init__(self, model: FakeChain, sender: FakeSender, tmp_path: Path, **settings):
        s = ListerSettings(manifest=_manifest(tmp_path), min_lead=0, **settings)
        chain = types.SimpleNamespace(w3=Web3(), head=model.head, epoch=0)
        self.model = model
        super().__init__(s, chain, Metrics(f"lister{id(self)}"), sender=sender, series=SERIES, windows=hourly)

    def _template_count(self):
        return len(self.model.templates)

    def _read_templates(self, ids):
        return [self.model.templates[i] for i in ids]

    def _market_of(self, items):
        return [self.model.listings.get((x.template_id, x.delivery_start), 0) for x in items]

    def _listing_call(self, x: Listing, bond: int):
        return (x.template_id, x.delivery_start, x.delivery_end, bond)

    def _balance(self):
        return self.model.balances.get(self.sender.address, 10**21)

    def _own_listings(self, start, end):
        # the model keeps who listed what while the bond is out, and every market's end
        return [(m, self.model.ends[m]) for m, who in self.model.lister_of.items() if who == self.sender.address]

    def _settled(self, mids):
        self.model.settled_reads += len(mids)
        return [m in self.model.settled for m in mids]

    def _claim_call(self, mid):
        return ("claim", mid)


def _run(lister: ModelLister, model: FakeChain, blocks: int) -> list[dict]:
    out = []
    for _ in range(blocks):
        out.append(lister.on_block(model.head()))
        model.advance()
    return out


def _assert_depth(model: FakeChain, depth: int):
    for tid in model.templates:
        want = {s for s, _ in hourly(None, None, model.now, depth)}
        have = {s for (t, s) in model.listings if t == tid}
        assert want <= have, f"template {tid} missing {sorted(want - have)}"
    assert len(model.listed_log) == len({(t, s) for t, s, _ in model.listed_log}), "a window listed twice"


def test_keeper__batches_per_block_until_full_depth_then_quiet(tmp_path):
    model = FakeChain([tpl(1), tpl(2, spec=SPEC_B)])
    sender = FakeSender(model)
    lister = ModelLister(model, sender, tmp_path, batch_size=30, depth_hourly=48)
    lister.start(model.head())
    r = _run(lister, model, 6)
    assert [x["sent"] for x in r[:4]] == [30, 30, 30, 6]  # 96 windows, 30 a block
    assert all(x["sent"] == 0 for x in r[4:])
    _assert_depth(model, 48)
    assert len(model.listed_log) == 96 and r[-1]["listed_total"] == 96 and r[-1]["missing"] == 0


def test_keeper__restart_lists_nothing_twice_and_rolls_the_curve(tmp_path):
    model = FakeChain([tpl(1)])
    first = ModelLister(model, FakeSender(model), tmp_path, depth_hourly=48)
    first.start(model.head())
    _run(first, model, 3)
    assert len(model.listed_log) == 48
    # a new process (no memory) on the same chain: reads market_of, sends nothing
    again = ModelLister(model, FakeSender(model), tmp_path, depth_hourly=48)
    again.start(model.head())
    r = _run(again, model, 2)
    assert sum(x["sent"] for x in r) == 0 and len(model.listed_log) == 48
    # an hour later exactly one new window is due (the curve rolls), listed once
    model.advance(H)
    r = _run(again, model, 3)
    assert sum(x["sent"] for x in r) == 1 and len(model.listed_log) == 49
    _assert_depth(model, 48)
    # memory stays ~ the depth: started windows are forgotten
    assert len(again.known) <= 48


def test_keeper__race_with_another_lister__lost_race_not_an_error_never_listed_twice(tmp_path):
    model = FakeChain([tpl(1)])
    a = ModelLister(model, FakeSender(model, "0xA"), tmp_path, depth_hourly=10)
    b = ModelLister(model, FakeSender(model, "0xB"), tmp_path, depth_hourly=10)
    a.start(model.head())
    b.start(model.head())
    # same block: both simulate against the same state, both send, one of each pair reverts on-chain
    ra = a.on_block(model.head())
    rb = b.on_block(model.head())
    assert ra["sent"] == rb["sent"] == 10
    model.advance()
    a.on_block(model.head())
    rb = b.on_block(model.head())
    assert rb["lost_race_total"] == 10 and rb["listed_total"] == 0  # b's txs reverted "already listed"
    assert len(model.listed_log) == 10
    # later: b simulates first and sends nothing (the chain says listed)
    model.advance(H)
    a.on_block(model.head())
    model.advance()
    a.on_block(model.head())
    rb = b.on_block(model.head())
    assert rb["sent"] == 0 and rb["missing"] == 0
    _assert_depth(model, 10)


def test_keeper__simulation_says_already_listed__counted_as_lost_race(tmp_path):
    model = FakeChain([tpl(1)])
    a = ModelLister(model, FakeSender(model, "0xA"), tmp_path, depth_hourly=3)
    a.start(model.head())
    # another lister lands the first window between a's market_of read and its send
    real_market_of = a._market_of

    def read_then_race(items):
        seen = real_market_of(items)
        model.list(1, items[0].delivery_start, items[0].delivery_end, 10**15)
        return seen

    a._market_of = read_then_race
    r = a.on_block(model.head())
    assert r["sent"] == 2 and r["lost_race_total"] == 1  # the simulation said "already listed"
    model.advance()
    r = a.on_block(model.head())
    assert r["missing"] == 0 and r["listed_total"] == 2 and len(model.listed_log) == 3


def test_keeper__bond_unaffordable__reported_not_sent(tmp_path):
    model = FakeChain([tpl(1, bond=10**18)])
    sender = FakeSender(model, "0xPOOR")
    model.balances["0xPOOR"] = 2 * 10**18 + 1
    lister = ModelLister(model, sender, tmp_path, depth_hourly=5)
    lister.start(model.head())
    r = lister.on_block(model.head())
    assert r["sent"] == 2 and lister.last_plan.reasons() == {"lister balance below the bond": 3}


def test_keeper__retired_template_not_listed_after_refresh(tmp_path):
    model = FakeChain([tpl(1), tpl(2, spec=SPEC_B)])
    lister = ModelLister(model, FakeSender(model), tmp_path, depth_hourly=4, template_refresh_blocks=2)
    lister.start(model.head())
    _run(lister, model, 2)
    n = len(model.listed_log)
    model.templates[2] = tpl(2, spec=SPEC_B, active=False)  # the owner retires it
    model.advance(H)
    _run(lister, model, 4)
    assert lister.last_plan.reasons().get("template retired") == 1
    assert len(model.listed_log) == n + 1  # only template 1 rolled


def test_once__lists_everything_due_and_reports_complete(tmp_path):
    model = FakeChain([tpl(1), tpl(2, spec=SPEC_B)])
    sender = FakeSender(model)
    lister = ModelLister(model, sender, tmp_path, depth_hourly=48, batch_size=40)
    real_head = model.head

    def head():  # each read of the head is a new block (a devnet mining every tx)
        model.advance(1)
        return real_head()

    lister.chain.head = head
    report = lister.list_all(timeout=10, poll=0)
    assert report["complete"] and report["missing"] == 0 and report["listed"] == 96
    assert len(model.listed_log) == 96


@pytest.mark.parametrize("bad", [{"batch_size": 0}, {"min_lead": -1}, {"depth_daily": -2}])
def test_settings__bad_values_refused(tmp_path, bad):
    with pytest.raises(ValueError):
        ListerSettings(manifest=_manifest(tmp_path), **bad)


def test_cli__help_has_the_shared_keeper_flags(capsys):
    from keepers.lister import main

    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--manifest", "--rpc-url", "--key-env", "--once", "--batch-size", "--markets", "--dry-run"):
        assert flag in out


def test_daily_cadence_uses_its_own_depth(tmp_path):
    calls = []

    def rec(series, template, now, depth):
        calls.append(depth)
        return []

    plan_listings([tpl(1, cadence=DAILY)], SERIES, T0, lambda x: False, depth={DAILY: 14}, windows=rec)
    assert calls == [14]


def test_plan__trading_through_delivery__current_window_still_due_until_its_end():
    from keepers.lister import LAST_TRADE_AT_END

    def with_current(series, template, now, depth):
        cur = now - now % H
        return [(cur + i * H, cur + (i + 1) * H) for i in range(depth)]

    p = plan_listings(
        [tpl(1, lto=LAST_TRADE_AT_END)], SERIES, T0, lambda x: False, depth={HOURLY: 3}, windows=with_current
    )
    assert [x.delivery_start for x in p.due] == [T0 - T0 % H + i * H for i in range(3)]  # in delivery, due
    p = plan_listings(
        [tpl(1, lto=LAST_TRADE_AT_END)],
        SERIES,
        T0,
        lambda x: False,
        depth={HOURLY: 3},
        min_lead=H,
        windows=with_current,
    )
    assert p.due[0].delivery_start == T0 - T0 % H + H  # ends within the lead: not worth a tx


def test_plan__file_zone_not_the_templates__skipped():
    off = {(SPEC_A, HOURLY): types.SimpleNamespace(symbol="X", utc_offset=-21600)}
    p = plan_listings([tpl(1)], off, T0, lambda x: False, windows=hourly)
    assert not p.due and p.reasons() == {"time zone differs from the template's": 1}


def test_a_deployment_without_templates__clear_error_exit_2(tmp_path, capsys):
    from keepers.lister import main

    c = {
        n: {"address": "0x" + f"{i:040x}", "abi": []}
        for i, n in enumerate(("Oracle", "Clearinghouse", "Exchange", "Collateral"), 1)
    }
    p = tmp_path / "old.json"
    p.write_text(json.dumps({"chain_id": 31337, "block": 0, "contracts": c, "markets": []}))
    assert main(["--manifest", str(p), "--rpc-url", "http://127.0.0.1:9"]) == 2
    assert "lists from series templates" in capsys.readouterr().err


def test_dry_run__each_window_simulated_and_logged_once__nothing_listed(tmp_path):
    model = FakeChain([tpl(1)])
    sender = FakeSender(model)
    sender.dry = True
    calls = []

    def dry_send(key, call, head_number, **kw):
        calls.append(key)
        return SendResult("dry")

    sender.send = dry_send
    lister = ModelLister(model, sender, tmp_path, depth_hourly=5)
    lister.start(model.head())
    _run(lister, model, 4)
    assert len(calls) == 5 and len(set(calls)) == 5 and not model.listed_log


def test_bonds__claimed_back_once_settled__backoff_before__restart_finds_what_is_left(tmp_path):
    model = FakeChain([tpl(1)])
    a = ModelLister(model, FakeSender(model, "0xA"), tmp_path, depth_hourly=3)
    a.can_claim = True
    a.start(model.head())
    _run(a, model, 2)
    assert len(model.lister_of) == 3 and set(a.bonds) == {1, 2, 3} and not model.paid
    # the first window ends but is not settled: looked at with a backoff, not every block
    model.advance(2 * H)
    reads = model.settled_reads
    _run(a, model, 50)  # 50 blocks of 12 s = 10 min
    assert model.settled_reads - reads <= 6 and not model.paid
    model.settled.update({1, 2})
    model.advance(H)
    _run(a, model, 3)
    assert sorted(model.paid) == [(1, "0xA"), (2, "0xA")]
    assert 3 in a.bonds and not {1, 2} & set(a.bonds)  # (the curve rolled: newer bonds are out too)
    # a restart: bond 3 still outstanding is found again; 1 and 2 are not claimed twice
    b = ModelLister(model, FakeSender(model, "0xA"), tmp_path, depth_hourly=3)
    b.can_claim = True
    b.start(model.head())
    model.advance(2 * H)  # market 3's window ends, and it settles
    model.settled.add(3)
    _run(b, model, 3)
    assert sorted(model.paid) == [(1, "0xA"), (2, "0xA"), (3, "0xA")]  # each once
