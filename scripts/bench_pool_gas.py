"""Pool gas with 1,000 members (issue 15), from anvil receipts: join, declare, leave, queued exit,
served exit, and a hedge roll (buy back this month's short, sell next month's), each the
`gasUsed` of a mined transaction (intrinsic 21,000 and calldata included) on a devnet: anvil,
the real deploy (`ape run deploy`) of the default markets plus the H100-SXM x HB_WEST spread one
window later (two spread months to roll between), and a Pool deployed by devnet.pool.

The first member's join is shown next to the 1,000th's: nothing in the pool loops over members.
The members join in bulk (each signs its four transactions with known nonces; they are sent
without waiting, then the receipts are read), so the run takes a few minutes, most of it the
deploy. The marks are a fixed fixture value (gas does not depend on it), pushed by a signed
report as the pusher does.

    python -m scripts.bench_pool_gas
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from eth_account import Account
from web3 import Web3

from core import abi as core_abi
from core import units as u
from devnet.anvil import ANVIL_KEYS, ROOT, Anvil, deploy, rpc
from devnet.pool import create_pool, push_marks, text32

MEMBERS = 1_000
MARK = u.usd_to_base("1.5")  # fixture mark, USD per GPU-hour (gas does not depend on it)
OWNER, MANAGER, TAKER = ANVIL_KEYS[0], ANVIL_KEYS[12], ANVIL_KEYS[13]
H100, WEST = text32("H100-SXM"), text32("HB_WEST")


def _markets_file(tmp: Path) -> Path:
    data = json.loads((ROOT / "markets" / "default.json").read_text())
    spread = next(m for m in data["markets"] if m["spec"]["kind"] == "SPREAD")
    data["markets"].append({**spread, "delivery": {**spread["delivery"], "offset": 2}})
    out = tmp / "markets.json"
    out.write_text(json.dumps(data))
    return out


class _Tx:
    """Signed sends with explicit nonces (bulk: send now, read receipts later)."""

    def __init__(self, w3: Web3):
        self.w3, self.chain_id, self.gas_price = w3, w3.eth.chain_id, w3.eth.gas_price * 2
        self.nonces: dict[str, int] = {}

    def send(self, key: str, fn, gas: int | None = None) -> bytes:
        acct = Account.from_key(key)
        n = self.nonces.get(acct.address)
        if n is None:
            n = self.w3.eth.get_transaction_count(acct.address, "pending")
        tx = fn.build_transaction(
            {"from": acct.address, "nonce": n, "chainId": self.chain_id, "gasPrice": self.gas_price, "gas": gas or 1}
        )
        if gas is None:
            tx["gas"] = int(self.w3.eth.estimate_gas({k: v for k, v in tx.items() if k != "gas"}) * 1.3)
        self.nonces[acct.address] = n + 1
        return self.w3.eth.send_raw_transaction(acct.sign_transaction(tx).raw_transaction)

    def gas(self, h: bytes) -> int:
        r = self.w3.eth.wait_for_transaction_receipt(h, timeout=120)
        if r["status"] != 1:
            raise RuntimeError(f"bench transaction {h.hex()} reverted")
        return int(r["gasUsed"])


def run(members: int = MEMBERS) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp, Anvil() as anvil:
        tmp = Path(tmp)
        path = tmp / "manifest.json"
        manifest = deploy(anvil.url, path, markets=_markets_file(tmp))
        w3 = Web3(Web3.HTTPProvider(anvil.url, request_kwargs={"timeout": 60}))
        entry = create_pool(
            anvil.url,
            path,
            OWNER,
            Account.from_key(MANAGER).address,
            gpu_classes=["H100-SXM"],
            nodes=["HB_WEST"],
            warp=True,
        )
        manifest = json.loads(path.read_text())
        m1, m2 = sorted(int(k) for k in entry["markets"])  # listed in file order: month 1, month 2
        c = manifest["contracts"]
        usdc = w3.eth.contract(address=c["MockUSDC"]["address"], abi=c["MockUSDC"]["abi"])
        ch = w3.eth.contract(address=c["Clearinghouse"]["address"], abi=c["Clearinghouse"]["abi"])
        ex = w3.eth.contract(address=c["Exchange"]["address"], abi=c["Exchange"]["abi"])
        pool = w3.eth.contract(address=entry["address"], abi=core_abi.abi("Pool"))
        tx = _Tx(w3)

        # members: fund, approve, join 1,000 USD, declare 4 H100s at HB_WEST with half their hours
        keys = []
        for _ in range(members):
            a = Account.create()
            rpc(anvil.url, "anvil_setBalance", [a.address, hex(10**19)])
            keys.append("0x" + bytes(a.key).hex().removeprefix("0x"))
        joins, declares = [], []
        for i, k in enumerate(keys):
            addr = Account.from_key(k).address
            gas = None if i == 0 else 400_000
            tx.send(k, usdc.functions.mint(addr, u.usd_to_base(2_000)), gas)
            tx.send(k, usdc.functions.approve(pool.address, 2**256 - 1), gas)
            joins.append(tx.send(k, pool.functions.deposit(u.usd_to_base(1_000), addr), gas))
            declares.append(tx.send(k, pool.functions.declare_capacity(H100, WEST, 4, 5_000), gas))
            if i == 0:
                tx.gas(declares[0])  # the first member's gas estimates ran on a pool it had joined
        join_first, join_last, declare_last = tx.gas(joins[0]), tx.gas(joins[-1]), tx.gas(declares[-1])
        assert pool.functions.totalSupply().call() > 0 and len(joins) == members

        # marks, a funded taker
        tx.gas(tx.send(TAKER, usdc.functions.mint(Account.from_key(TAKER).address, u.usd_to_base(1_000_000))))
        tx.gas(tx.send(TAKER, usdc.functions.approve(ch.address, 2**256 - 1)))
        tx.gas(tx.send(TAKER, ch.functions.deposit(u.usd_to_base(1_000_000))))
        push_marks(w3, manifest, {m1: MARK, m2: MARK}, OWNER)

        def approve_and_fill(mid, is_buy, qty, nonce):
            now = w3.eth.get_block("latest")["timestamp"]
            o = (pool.address, mid, is_buy, qty, MARK, nonce, now + 3_600, False)
            a = tx.gas(tx.send(MANAGER, pool.functions.approve_order(o)))
            f = tx.gas(tx.send(TAKER, ex.functions.fill(o, b"", qty)))
            return a, f

        # month 1 hedge: 200,000 GPU-h short (IM ~225,000 USD of ~1,000,000 equity; cap ~1.1M GPU-h)
        q = 200_000_000
        open_a, open_f = approve_and_fill(m1, False, q, 1)
        back_a, back_f = approve_and_fill(m1, True, q, 2)
        next_a, next_f = approve_and_fill(m2, False, q, 3)

        last = keys[-1]
        me = Account.from_key(last).address
        tx.gas(tx.send(last, pool.functions.declare_capacity(H100, WEST, 0, 0)))
        shares = pool.functions.balanceOf(me).call()
        leave_gas = tx.gas(tx.send(last, pool.functions.redeem(shares // 2, me, me)))
        queue_gas = tx.gas(tx.send(last, pool.functions.request_exit(pool.functions.balanceOf(me).call(), me)))
        serve_gas = tx.gas(tx.send(TAKER, pool.functions.serve_exits(1)))

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
