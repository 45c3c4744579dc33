"""Pool gas with 1,000 members (issue 15), from anvil receipts: join, declare, leave, queued exit,
served exit, and a hedge roll (buy back this month's short, sell next month's), each the
`gasUsed` of a mined transaction (intrinsic 21,000 and calldata included) on a devnet: anvil,
the real deploy (`ape run deploy`) of the default markets plus the H100-SXM x HB_WEST spread one
window later (two spread months to roll between), and the pool world of devnet.pool
(`setup_pool_world`: the Pool, both months' marks, a funded taker).

The first member's join is shown next to the 1,000th's: nothing in the pool loops over members.
The members join in bulk (each one's four transactions go through its own chain.tx.TxSender on
its local nonce, sent without waiting, then the receipts are read), so the run takes a few minutes, most of it the
deploy. The marks are a fixed fixture value (gas does not depend on it), pushed by a signed
report as the pusher does.

    python -m scripts.bench_pool_gas
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from eth_account import Account

from chain.rpc import Rpc
from chain.tx import Call, TxSender
from core import abi as core_abi
from core import units as u
from devnet.anvil import ROOT, Anvil, deploy, rpc
from devnet.pool import setup_pool_world, text32

MEMBERS = 1_000
MARK = u.usd_to_base("1.5")  # fixture mark, USD per GPU-hour (gas does not depend on it)
H100, WEST = text32("H100-SXM"), text32("HB_WEST")


def _markets_file(tmp: Path) -> Path:
    data = json.loads((ROOT / "markets" / "default.json").read_text())
    spread = next(m for m in data["markets"] if m["spec"]["kind"] == "SPREAD")
    data["markets"].append({**spread, "delivery": {**spread["delivery"], "offset": 2}})
    out = tmp / "markets.json"
    out.write_text(json.dumps(data))
    return out


class _Bulk:
    """Each key's transactions through its own chain.tx.TxSender, sent back to back on its local
    nonce (no wait between them); receipts read afterwards, by :meth:`gas`. Never fee-bumped:
    thousands sent at once queue in anvil's pool for a while, which is a backlog, not a fee too
    low (anvil's base fee is a few wei here), and a replacement would only add noise."""

    def __init__(self, url: str):
        self.node, self.senders = Rpc(url, timeout=60), {}

    def _sender(self, key: str) -> TxSender:
        if key not in self.senders:
            self.senders[key] = TxSender(self.node, key, bump_after_blocks=10**9, receipt_timeout=300)
        return self.senders[key]

    def send(self, key: str, to: str, data: bytes, gas: int | None = None) -> tuple[TxSender, str]:
        """`gas` None: simulated first (the node's estimate); else that gas, unsimulated."""
        s = self._sender(key)
        return s, s.broadcast(s.prepare(Call(to, data), gas=gas))

    @staticmethod
    def gas(sent: tuple[TxSender, str]) -> int:
        sender, h = sent
        return sender.wait(h).gas_used


def run(members: int = MEMBERS) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp, Anvil() as anvil:
        tmp = Path(tmp)
        path = tmp / "manifest.json"
        deploy(anvil.url, path, markets=_markets_file(tmp))
        # the pool allowing both spread months, their marks, a taker with 1,000,000 USD deposited
        world = setup_pool_world(anvil.url, path, mark=MARK)
        m1, m2 = world.market_ids  # nearest window first: month 1, month 2
        usdc = world.manifest["contracts"]["MockUSDC"]["address"]
        pool = world.pool
        tx = _Bulk(anvil.url)

        def call(fn: str, *args) -> bytes:
            return core_abi.calldata("Pool", fn, *args)

        # members: fund, approve, join 1,000 USD, declare 4 H100s at HB_WEST with half their hours
        keys = []
        for _ in range(members):
            a = Account.create()
            rpc(anvil.url, "anvil_setBalance", [a.address, hex(u.eth_to_wei(10))])
            keys.append("0x" + bytes(a.key).hex().removeprefix("0x"))
        joins, declares = [], []
        for i, k in enumerate(keys):
            addr = Account.from_key(k).address
            gas = None if i == 0 else 400_000
            tx.send(k, usdc, core_abi.calldata("MockUSDC", "mint", addr, u.usd_to_base(2_000)), gas)
            tx.send(k, usdc, core_abi.calldata("MockUSDC", "approve", pool.address, 2**256 - 1), gas)
            joins.append(tx.send(k, pool.address, call("deposit", u.usd_to_base(1_000), addr), gas))
            declares.append(tx.send(k, pool.address, call("declare_capacity", H100, WEST, 4, 5_000), gas))
            if i == 0:
                tx.gas(declares[0])  # the first member's gas estimates ran on a pool it had joined
        join_first, join_last, declare_last = tx.gas(joins[0]), tx.gas(joins[-1]), tx.gas(declares[-1])
        assert pool.functions.totalSupply().call() > 0 and len(joins) == members

        def approve_and_fill(mid, is_buy, qty, nonce):
            _, a, f = world.hedge(qty, MARK, is_buy=is_buy, market_id=mid, nonce=nonce, ttl=3_600)
            return a.gas_used, f.gas_used

        # month 1 hedge: 200,000 GPU-h short (IM ~225,000 USD of ~1,000,000 equity; cap ~1.1M GPU-h)
        q = 200_000_000
        open_a, open_f = approve_and_fill(m1, False, q, 1)
        back_a, back_f = approve_and_fill(m1, True, q, 2)
        next_a, next_f = approve_and_fill(m2, False, q, 3)

        last = keys[-1]
        me = Account.from_key(last).address
        tx.gas(tx.send(last, pool.address, call("declare_capacity", H100, WEST, 0, 0)))
        shares = pool.functions.balanceOf(me).call()
        leave_gas = tx.gas(tx.send(last, pool.address, call("redeem", shares // 2, me, me)))
        queue_gas = tx.gas(tx.send(last, pool.address, call("request_exit", pool.functions.balanceOf(me).call(), me)))
        serve_gas = tx.gas(tx.send(world.taker_key, pool.address, call("serve_exits", 1)))

    roll = back_a + back_f + next_a + next_f
    return [
        {"name": "members in the pool", "value": members, "unit": "", "target": ""},
        {"name": "join (deposit), 1st member", "value": join_first, "unit": "gas", "target": ""},
        {
            "name": f"join (deposit), {members:,}th member",
            "value": join_last,
            "unit": "gas",
            "target": "~ 1st: no per-member loop",
        },
        {"name": "declare capacity", "value": declare_last, "unit": "gas", "target": ""},
        {"name": "leave (redeem) with a position open", "value": leave_gas, "unit": "gas", "target": ""},
        {"name": "queue an exit (request_exit)", "value": queue_gas, "unit": "gas", "target": ""},
        {"name": "serve one queued exit (serve_exits)", "value": serve_gas, "unit": "gas", "target": ""},
        {"name": "hedge open: approve_order", "value": open_a, "unit": "gas", "target": ""},
        {"name": "hedge open: Exchange.fill (EIP-1271 re-check)", "value": open_f, "unit": "gas", "target": ""},
        {"name": "hedge roll: approve + fill, buy month 1 back", "value": back_a + back_f, "unit": "gas", "target": ""},
        {"name": "hedge roll: approve + fill, sell month 2", "value": next_a + next_f, "unit": "gas", "target": ""},
        {"name": "hedge roll total (4 txs)", "value": roll, "unit": "gas", "target": ""},
    ]


if __name__ == "__main__":
    for r in run():
        print(f"{r['name']:<50} {r['value']:>12,} {r['unit']}")
