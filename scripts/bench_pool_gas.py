"""Pool gas with 1,000 members (issue 15): join, leave, queued exit, and a hedge roll (buy back
this month's short, sell next month's), each measured on the contracts as compiled, in
titanoboa's EVM (py-evm): execution gas of the call (refunds capped at a fifth, EIP-3529), without the 21,000
intrinsic and the calldata cost a transaction adds. The first member's join is shown next to the
1,000th's: nothing in the pool loops over members.

    python -m scripts.bench_pool_gas
"""

from __future__ import annotations

import boa

from core import units as u
from tests.utils.contract_helpers import role_trader
from tests.utils.deployers import Protocol, allow_pool_market, deploy_pool

MEMBERS = 1_000
H100 = b"H100-SXM".ljust(32, b"\0")
WEST = b"HB_WEST".ljust(32, b"\0")


def _gas(contract) -> int:
    # refunds capped at a fifth of the gas used (EIP-3529; py-evm reports them uncapped)
    c = contract._computation
    used = c.get_gas_used()
    return used - min(c.get_gas_refund(), used // 5)


def run() -> list[dict]:
    usd = u.usd_to_base
    mark = usd(2)
    p = Protocol.deploy()
    params = dict(price_tick=1_000, im_fixed=usd("0.2"), im_rate_bps=2_500, mm_fixed=usd("0.1"), mm_rate_bps=1_500)
    m1 = p.list_market("BENCH-H100-M1", **params)
    m2 = p.list_market("BENCH-H100-M2", **params)
    owner, manager = boa.env.generate_address("bench-pool-owner"), boa.env.generate_address("bench-pool-manager")
    pool = deploy_pool(p, owner, manager)
    key = pool.capacity_key(H100, WEST)
    for mid in (m1, m2):
        allow_pool_market(pool, owner, mid, key, 720_000)
    taker = role_trader("bench-pool-taker")
    p.fund(taker.address, usd(1_000_000))
    for mid in (m1, m2):
        p.set_mark(mid, mark)

    rows = []
    members = [role_trader(f"bench-pool-member-{i}") for i in range(MEMBERS)]
    join_gas = []
    for i, m in enumerate(members):
        p.usdc.mint(m.address, usd(2_000))
        with boa.env.prank(m.address):
            p.usdc.approve(pool.address, 2**256 - 1)
            pool.deposit(usd(1_000), m.address)
            join_gas.append(_gas(pool))
            pool.declare_capacity(H100, WEST, 4, 5_000)
            if i == MEMBERS - 1:
                declare_gas = _gas(pool)

    def order(mid, is_buy, qty, nonce):
        return (pool.address, mid, is_buy, qty, mark, nonce, boa.env.evm.patch.timestamp + 600, False)

    def approve_and_fill(o):
        with boa.env.prank(manager):
            pool.approve_order(o)
            a = _gas(pool)
        with boa.env.prank(taker.address):
            p.exchange.fill(o, b"", o[3])
            f = _gas(p.exchange)
        return a, f

    # month 1 hedge: 200,000 GPU-h short (IM $140,000 of $1,000,000 equity)
    q = 200_000_000
    open_a, open_f = approve_and_fill(order(m1, False, q, 1))
    # the roll: buy month 1 back, sell month 2
    back_a, back_f = approve_and_fill(order(m1, True, q, 2))
    next_a, next_f = approve_and_fill(order(m2, False, q, 3))

    last = members[-1]
    with boa.env.prank(last.address):
        pool.declare_capacity(H100, WEST, 0, 0)
        shares = pool.balanceOf(last.address)
        pool.redeem(shares // 2, last.address, last.address)
        leave_gas = _gas(pool)
        pool.request_exit(pool.balanceOf(last.address), last.address)
        queue_gas = _gas(pool)
    pool.serve_exits(1)
    serve_gas = _gas(pool)

    rows += [
        {"name": "members in the pool", "value": MEMBERS, "unit": "", "target": ""},
        {"name": "join (deposit), 1st member", "value": join_gas[0], "unit": "gas", "target": ""},
        {
            "name": f"join (deposit), {MEMBERS:,}th member",
            "value": join_gas[-1],
            "unit": "gas",
            "target": "~ 1st: no per-member loop",
        },
        {"name": "declare capacity", "value": declare_gas, "unit": "gas", "target": ""},
        {"name": "leave (redeem) with a position open", "value": leave_gas, "unit": "gas", "target": ""},
        {"name": "queue an exit (request_exit)", "value": queue_gas, "unit": "gas", "target": ""},
        {"name": "serve one queued exit (serve_exits)", "value": serve_gas, "unit": "gas", "target": ""},
        {"name": "hedge open: approve_order", "value": open_a, "unit": "gas", "target": ""},
        {"name": "hedge open: Exchange.fill (EIP-1271 re-check)", "value": open_f, "unit": "gas", "target": ""},
        {"name": "hedge roll: approve + fill, buy month 1 back", "value": back_a + back_f, "unit": "gas", "target": ""},
        {"name": "hedge roll: approve + fill, sell month 2", "value": next_a + next_f, "unit": "gas", "target": ""},
        {"name": "hedge roll total (4 calls)", "value": back_a + back_f + next_a + next_f, "unit": "gas", "target": ""},
    ]
    return rows


if __name__ == "__main__":
    for r in run():
        print(f"{r['name']:<50} {r['value']:>12,} {r['unit']}")
