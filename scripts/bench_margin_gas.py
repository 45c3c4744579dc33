"""Margin-engine gas baseline (issue 11's table), measured on a real anvil with the real deploy.

Every figure is ``gasUsed`` of one mined transaction (receipt, incl. the 21,000 base), on the
contracts as they are: the "now" column the margin-engine rework is measured against. The
scenario lists the default markets plus 40 extra hourly ERCOT markets so that accounts can
hold up to ``MAX_OPEN_MARKETS`` (32) positions; every fill below makes BOTH sides' risk grow
(the maker adds to its long, the taker to its short), the dearest path of ``trade``.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from core.units import USD_SCALE
from devnet.anvil import Anvil, deploy, rpc
from scripts.bench_gas import Bench

# issue 11's table: (its measured "now", its goal); k = 128 cannot be measured while
# MAX_OPEN_MARKETS = 32 (the 33rd market reverts "too many markets", shown by its own row)
ISSUE = {
    "in": ("152,476", "<= 120,000"),
    "new": ("267,430", "<= 180,000"),
    "first": ("301,638", "<= 200,000"),
    "slope": ("+29,100", "<= +6,000"),
    "k32": ("1,055,878", "<= 320,000"),
    "close": ("~3,250,000", "<= 1,200,000"),
}
EXTRA_NODES = (("HB_NORTH", range(24)), ("HB_HOUSTON", range(16)))  # 40 hourly markets
USDC = USD_SCALE  # base units per USD
QTY = 100  # 0.1 MWh (the hourly markets' minimum) per fill, thousandths
PRICE = 45_000_000  # $45/MWh, base units
HELD = (1, 8, 32)
STORAGE_OPS = {"SLOAD", "SSTORE"}
CALL_OPS = {"CALL", "STATICCALL", "DELEGATECALL"}


def opcode_breakdown(steps: list[dict]) -> dict[str, tuple[int, int]]:
    """{opcode class: (count, gas)} of one transaction's struct-log trace (anvil's
    ``debug_traceTransaction``). A step's own cost is the gas left before it minus the gas left
    at the next step of the same call depth; a call's cost is then what remains once the
    callee's own steps are counted (its account access and memory), so the classes add up to
    the execution gas exactly."""
    out: dict[str, list[int]] = {}
    for i, st in enumerate(steps):
        op = st["op"]
        nxt = next((s for s in steps[i + 1 : i + 2] if s["depth"] == st["depth"]), None)
        if op in CALL_OPS or nxt is None:
            continue  # calls: counted as the remainder below; the last step of a frame costs ~0
        cls = (
            op
            if op in STORAGE_OPS or op.startswith("LOG") or op in ("KECCAK256",)
            else "other (arithmetic, stack, memory, jumps)"
        )
        c = out.setdefault(cls, [0, 0])
        c[0] += 1
        c[1] += int(st["gas"]) - int(nxt["gas"])
    executed = int(steps[0]["gas"]) - int(steps[-1]["gas"]) if steps else 0
    counted = sum(v[1] for v in out.values())
    calls = sum(1 for s in steps if s["op"] in CALL_OPS)
    out["external calls (account access, incl. the Oracle reads)"] = [calls, executed - counted]
    return {k: (v[0], v[1]) for k, v in out.items()}


def markets_file() -> Path:
    """markets/default.json plus the extra hourly markets (tomorrow, every listed hour)."""
    root = Path(__file__).resolve().parents[1]
    data = json.loads((root / "markets" / "default.json").read_text())
    hourly = data["markets"][0]
    for node, hours in EXTRA_NODES:
        for h in hours:
            e = json.loads(json.dumps(hourly))
            e["spec"]["node"] = node
            e["delivery"]["hour"] = h
            data["markets"].append(e)
    path = Path(tempfile.mkdtemp()) / "margin_gas_markets.json"
    path.write_text(json.dumps(data))
    return path


class MarginGas(Bench):
    def row(self, name: str, value, key: str | None = None, unit: str = "gas", target: str = "") -> None:
        now, goal = ISSUE.get(key, ("", "")) if key else ("", "")
        tgt = target or (f"issue 11 measured {now}; goal {goal}" if key else "")
        self.rows.append({"name": name, "value": value, "unit": unit, "target": tgt})

    def gas(self, receipt) -> int:
        return int(receipt.gasUsed)

    def trace_rows(self, receipt, what: str) -> None:
        """Where a transaction's gas goes, by opcode class (a cheap stand-in for a line profile:
        titanoboa's profiler under-counts cold storage on this path, so anvil's trace is used)."""
        opts = {"disableStack": True, "disableMemory": True, "disableStorage": True}
        tx = self.w3.to_hex(receipt.transactionHash)
        trace = rpc(self.anvil.url, "debug_traceTransaction", [tx, opts], timeout=300)
        steps = trace["structLogs"]
        if not steps:
            raise RuntimeError("anvil returned no struct logs (is --steps-tracing on?)")
        for name, (n, gas) in sorted(opcode_breakdown(steps).items(), key=lambda kv: -kv[1][1]):
            self.row(f"{what}: {name} ({n:,} ops)", gas)
        executed = int(steps[0]["gas"]) - int(steps[-1]["gas"])
        self.row(f"{what}: intrinsic (21,000 + calldata) less storage refunds", self.gas(receipt) - executed)

    def pair(self, usdc: int = 1_000_000):
        """A maker and a taker, funded and deposited, holding nothing."""
        out = []
        for _ in range(2):
            a = self.account(usdc * USDC)
            self.send(self.ch.functions.deposit(usdc * USDC), a)
            out.append(a)
        return out

    def hold(self, maker, taker, markets: list[dict]) -> None:
        """Maker long, taker short 0.1 MWh in each market (builds the open-markets lists)."""
        for m in markets:
            self.fill(maker, taker, m["id"], True, QTY, PRICE)

    def run(self) -> list[dict]:
        hourly = [m for m in self.m["markets"] if ".HOURLY." in m["symbol"]]
        if len(hourly) < 34:
            raise RuntimeError(f"need 34 hourly markets, the deploy listed {len(hourly)}")
        feeds = [bytes.fromhex(m["mark_feed"][2:]) for m in hourly]
        for i in range(0, len(feeds), 32):  # MAX_FEEDS per report
            self.submit(feeds[i : i + 32], [PRICE] * len(feeds[i : i + 32]))

        # the first fill of a market: two fresh accounts, a market that never traded
        a, b = self.pair()
        first = self.gas(self.fill(a, b, hourly[0]["id"], True, QTY, PRICE))
        self.row("first fill of a market (both accounts new, market never traded)", first, "first")
        # both already in the market, 1 market held, both grow
        g1 = self.gas(self.fill(a, b, hourly[0]["id"], True, QTY, PRICE))
        self.row("fill, both accounts already in the market, 1 market held (both grow)", g1, "in")
        # both new to a market that already trades
        c, d = self.pair()
        new = self.gas(self.fill(c, d, hourly[0]["id"], True, QTY, PRICE))
        self.row("fill, both accounts new to a market that already trades", new, "new")

        # k markets held by both sides: a fill in one of them, both grow
        held = {1: g1}
        for k in HELD[1:]:
            mk, tk = self.pair()
            self.hold(mk, tk, hourly[:k])
            r = self.fill(mk, tk, hourly[0]["id"], True, QTY, PRICE)
            held[k] = self.gas(r)
            if k == 32:
                self.trace_rows(r, "k = 32 fill")
            self.row(f"fill, both sides hold {k} markets (both grow)", held[k], "k32" if k == 32 else None)
            if k == 32:
                # the 33rd market is refused today: k = 128 cannot be measured
                o, sig = self.order(mk, hourly[32]["id"], True, QTY, PRICE)
                try:
                    self.ex.functions.fill(o, sig, QTY).call({"from": tk.address})
                    refused = "no"
                except Exception as e:  # noqa: BLE001 - the revert reason is the result
                    refused = "too many markets" if "too many markets" in str(e) else f"other: {str(e)[:60]}"
                self.row("fill into a 33rd market (k = 128 needs MAX_OPEN_MARKETS >= 128)", refused, unit="revert")
        slope = (held[32] - held[1]) / 31
        self.row("per extra market held by both sides, (k32 - k1) / 31", round(slope), "slope")
        self.row("per extra market held by both sides, (k8 - k1) / 7", round((held[8] - held[1]) / 7))

        # close-out of a 32-market account: two accounts short 0.1 MWh in 32 markets at $45, marks
        # to $3,000 (both insolvent, the fund carries them). One is closed by a liquidator that
        # keeps what it takes (so it holds up to 31 markets itself, as a keeper that does not
        # hedge would), the other by a fresh liquidator per call (only the victim's scans count)
        big = self.pair()[0]
        victims = []
        for _ in range(2):
            v = self.pair()[0]
            self.send(self.ch.functions.withdraw(998_800 * USDC), v)  # keeps 1,200 USD (IM 1,032)
            self.hold(big, v, hourly[:32])
            victims.append(v)
        funder = self.account(400_000 * USDC)
        self.send(self.ch.functions.fund_insurance(400_000 * USDC), funder)
        self.submit(feeds[:32], [3_000_000_000] * 32)
        keeper = self.account(1_000_000 * USDC)
        self.send(self.ch.functions.deposit(1_000_000 * USDC), keeper)
        for label, victim, fresh in (
            ("one liquidator", victims[0], False),
            ("a fresh liquidator per call", victims[1], True),
        ):
            per = []
            for m in hourly[:32]:
                liq = keeper
                if fresh:
                    liq = self.account(10_000 * USDC)
                    self.send(self.ch.functions.deposit(10_000 * USDC), liq)
                r = self.send(self.ch.functions.liquidate(victim.address, m["id"], 10**12), liq)
                (ev,) = self.expect(r, "Liquidation", 1)
                if abs(ev.args.quantity) != QTY:
                    raise RuntimeError(f"close-out took {ev.args.quantity}, not the whole leg")
                per.append(self.gas(r))
            if self.ch.functions.open_markets(victim.address).call():
                raise RuntimeError("the 32-market account still holds markets after 32 liquidations")
            self.row(f"close-out of a 32-market account, {label}: 32 liquidate calls, total", sum(per), "close")
            self.row(f"close-out, {label}: first liquidate (victim holds 32 markets)", per[0])
            self.row(f"close-out, {label}: last liquidate (victim holds 1 market)", per[-1])
        return self.rows


def run() -> list[dict]:
    # steps tracing: debug_traceTransaction returns struct logs only with it (the breakdown rows)
    with Anvil(extra_args=("--steps-tracing",)) as anvil, tempfile.TemporaryDirectory() as tmp:
        manifest = deploy(anvil.url, Path(tmp) / "manifest.json", markets=markets_file(), timeout=900)
        return MarginGas(anvil, manifest).run()


if __name__ == "__main__":
    for row in run():
        print(f"{row['name']:<80} {row['value']!s:>12} {row['target']}")
