"""Plan (and optionally execute) an operator's compute-spread or power hedge.

    python examples/hedge.py --key 0x... spread H100-SXM HB_WEST 720 2026-12
    python examples/hedge.py --key 0x... power HB_WEST 5 PEAK 2026-12 --execute

The plan (orders, limits, margin needed, fees, shortfall) prints before anything is sent;
--execute signs the orders (and posts them to the relay with --relay).
"""

from decimal import Decimal

from _common import parser, run

from sdk.client import Client


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--relay", default=None, help="order relay URL")
    p.add_argument("--execute", action="store_true")
    sub = p.add_subparsers(dest="kind", required=True)
    s = sub.add_parser("spread", help="sell GPU-hours, buy the power they burn")
    s.add_argument("gpu"), s.add_argument("node"), s.add_argument("gpu_hours", type=Decimal), s.add_argument("window")
    s.add_argument("--mwh-per-gpu-hour", type=Decimal, default=None)
    w = sub.add_parser("power", help="buy MW flat over a profile's hours")
    w.add_argument("node"), w.add_argument("mw", type=Decimal), w.add_argument("profile"), w.add_argument("window")
    a = p.parse_args()
    c = Client(a.manifest, a.rpc, private_key=a.key, relay_url=a.relay)
    if a.kind == "spread":
        plan = c.hedge_compute_spread(a.gpu, a.node, a.gpu_hours, a.window, mwh_per_gpu_hour=a.mwh_per_gpu_hour)
    else:
        plan = c.hedge_power(a.node, a.mw, a.profile, a.window)
    print(plan.summary())
    if a.execute:
        if plan.shortfall > 0:
            print(f"deposit at least {plan.shortfall} USD first")
            return
        for r in c.execute(plan):
            print("done:", r)


if __name__ == "__main__":
    run(main)
