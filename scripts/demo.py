"""`make demo`: a month of Compute Spread on a local devnet, on real prices, narrated.

A 5 MW West Texas H100 operator hedges next month's compute spread, a speculator sells the
power spike short with leverage and is liquidated by the keeper as the storm goes on (paid a
reward from the insurance fund; if the fund cannot carry a loss, the keeper auto-deleverages the
most profitable opposite positions and the demo names them), the month settles through the
settler, and every party's PnL is printed and charted (out/demo.png). The narration shows how the
oracle's marks are made: day-ahead hours ERCOT has already published count as known, the rest
decays from the last day's level to the 28-day median (docs/methodology.md §7), next to what the
old trailing-7-day rule would have said.

Clock: anvil starts at 2021-01-31T23:00Z, so the devnet's "next month" IS February 2021 and
ERCOT prices replay unshifted (Winter Storm Uri, Feb 14-19). The GPU quotes come from
2025-10-19..11-16 and are mapped onto the same month with CSPREAD_ORACLE_REPLAY_OFFSETS.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import sys
import time
from decimal import Decimal
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from core import units as u
from devnet.anvil import ROOT
from devnet.stack import Stack, StackError

UTC, CT = dt.UTC, ZoneInfo("America/Chicago")
T0 = 1612134000  # 2021-01-31T23:00:00Z (17:00 Central): "next month" = February 2021
GPU_OFFSET = 148_780_800  # chain 2021-02-01T00:00Z -> GPU data 2025-10-20T00:00Z (whole hours)
LAST_GPU_SNAPSHOT = "2025-11-16T06:47Z"
MW, KW_PER_GPU, PUE = Decimal(5), Decimal("1.0"), Decimal("1.2")
SPEC_QTY, SPEC_IM_MULTIPLE = Decimal(20), Decimal("1.5")
OUT = ROOT / "out"
SPREAD_MM_ARGS = [
    "--size",
    "1500000000",
    "--levels",
    "2",
    "--max-position",
    "4000000000",
    "--spread-bps",
    "100",
    "--level-step-bps",
    "50",
    "--max-margin-usage",
    "0.8",
]
POWER_MM_ARGS = ["--size", "25000", "--levels", "2", "--max-position", "200000", "--spread-bps", "100"]

con = Console(highlight=False, width=None if sys.stdout.isatty() else 118)


def usd(units: int) -> float:
    return u.base_to_float(units)


def qty(units: int) -> float:
    return u.quantity_to_float(units)


def ct(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, CT).strftime("%a %Y-%m-%d %H:%M %Z")


def utc(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%MZ")


def section(title: str) -> None:
    con.rule(f"[bold]{title}")


class Demo:
    def __init__(self, stack: Stack):
        from sdk.client import Client

        self.st = stack
        self.ch = stack.contract("Clearinghouse")
        mk = lambda role: Client(
            stack.manifest_path,
            stack.rpc_url,
            private_key=stack.keys[role],  # noqa: E731
            relay_url=stack.relay_url,
        )
        self.op, self.spec, self.reader = mk("user1"), mk("user2"), mk("user3")
        by = {}
        for m in self.reader.markets():  # id order: the deploy's month first, the lister's curve after
            name = m.kind if m.kind != "POWER" else m.spec["profile"]
            by.setdefault(name, m)
        self.m = by  # PEAK, ATC, COMPUTE, SPREAD: February 2021, the month the story trades
        self.parties = {
            "operator": self.op.address,
            "speculator": self.spec.address,
            "market maker (spread)": stack.address("market_maker"),
            "market maker (power)": stack.address("user11"),
            "liquidator keeper": stack.address("liquidator"),
        }
        self.deposits: dict[str, float] = {}
        self.samples: list[dict] = []
        self.events: list[tuple[int, str]] = []
        self.block_cursor = stack.w3.eth.block_number
        self.liquidations: list = []
        self.deleveraged: list = []
        from oracle.sources import ReplaySource
        from oracle.valuation import Valuer
        from scripts.demo_chart import power_lmp

        self.lmp_t, self.lmp_p = power_lmp(T0 - 86400 * 8, T0 + 86400 * 40)
        # ERCOT replays unshifted (chain time = data time), so the reporters' own Valuer tells the
        # narration how many PEAK hours each mark already knows, and what the old rule would say
        self.valuer, self.old_valuer = Valuer(ReplaySource()), Valuer(ReplaySource(), mark_method="trailing")
        from oracle.timemap import TimeMap

        # the reporters' own valuation, GPU quotes on the demo's time map: the forward curve's
        # windows that have no on-chain mark yet are valued by the same methodology
        self.curve_valuer = Valuer(ReplaySource(time_maps={"GPU": TimeMap.from_offset(GPU_OFFSET)}))
        self.curve: dict[str, list[tuple[int, float, bool]]] = {}

    def peak_mark_parts(self, t: int) -> tuple[int, int, float]:
        """(known PEAK hours, all PEAK hours, the old rule's mark) at chain time t."""
        spec = self.m["PEAK"].spec
        v = self.valuer.mark(spec, t)
        return v.n_realised, v.n_hours, self.old_valuer.mark(spec, t).price_usd

    # ------------------------------------------------------------------ reads
    def mark_usd(self, name: str) -> float:
        return usd(self.st.mark(self.m[name].id)[0])

    def sample(self, t: int) -> dict:
        s = {
            "t": t,
            "marks": {n: self.mark_usd(n) for n in self.m},
            "equity": {p: usd(self.ch.functions.equity(a).call()) for p, a in self.parties.items()},
        }
        self.samples.append(s)
        return s

    def lmp_24h(self, t: int) -> tuple[float, float]:
        sel = (self.lmp_t >= t - 86400) & (self.lmp_t + 3600 <= t)
        p = self.lmp_p[sel]
        return (float(p.mean()), float(p.max())) if p.size else (math.nan, math.nan)

    def new_liquidations(self) -> tuple[list, list]:
        """Liquidation and Deleveraged (ADL) events since the last call."""
        head = self.st.w3.eth.block_number
        if head < self.block_cursor + 1:
            return [], []
        ev = self.ch.events
        logs = list(ev.Liquidation.get_logs(from_block=self.block_cursor + 1, to_block=head))
        adl = list(ev.Deleveraged.get_logs(from_block=self.block_cursor + 1, to_block=head))
        self.block_cursor = head
        return logs, adl

    def who(self, address: str) -> str:
        return next((p for p, ad in self.parties.items() if ad.lower() == address.lower()), address[:10] + "…")

    def book_table(self, name: str, depth: int = 2) -> Table:
        m = self.m[name]
        b = self.reader.relay.book(m.id)
        unit = "GPU-h" if name in ("SPREAD", "COMPUTE") else "MWh"
        t = Table(title=f"relay book: {m.symbol} (mark {self.mark_usd(name):,.4f})", title_justify="left")
        t.add_column(f"bid size ({unit})", justify="right"), t.add_column("bid", justify="right")
        t.add_column("ask", justify="right"), t.add_column(f"ask size ({unit})", justify="right")
        for i in range(depth):
            bid = b.bids[i] if i < len(b.bids) else None
            ask = b.asks[i] if i < len(b.asks) else None
            t.add_row(
                f"{qty(bid.quantity_units):,.1f}" if bid else "",
                f"{usd(bid.price_units):,.4f}" if bid else "",
                f"{usd(ask.price_units):,.4f}" if ask else "",
                f"{qty(ask.quantity_units):,.1f}" if ask else "",
            )
        return t

    def wait_book(self, name: str, min_bid_qty: int = 1, timeout: float = 60) -> None:
        mid = self.m[name].id
        self.st.wait_until(
            lambda: (
                sum(lv.quantity_units for lv in self.reader.relay.book(mid).bids) >= min_bid_qty
                and self.reader.relay.book(mid).asks
            ),
            timeout,
            0.3,
            f"market-maker quotes in {name}",
        )

    # ------------------------------------------------------------------ the listed curve
    def wait_curve(self, timeout: float = 180) -> None:
        """The lister (keepers.lister, started by the stack) lists every approved series 12 months
        ahead; wait until nothing is missing and say what it listed."""
        section("The lister keeps the curve listed")
        t0 = time.monotonic()
        self.st.wait_until(
            lambda: (g := self.st.listed()).get("due", 0) > 0 and g.get("missing", 1) == 0,
            timeout,
            0.5,
            "the lister to list every series to its depth",
        )
        g = self.st.listed()
        rows = self.reader.listed_markets(limit=None)
        series = sorted({m.series for m in rows if m.template_id is not None})
        con.print(
            f"The lister keeper (cspread-lister, anvil account 20 paying each listing's bond) listed "
            f"{g.get('listed_total', 0):.0f} delivery windows in {time.monotonic() - t0:.0f} s: {int(g['due'])} are due "
            f"at chain time {utc(self.st.now())} across {len(series)} series ({', '.join(series)}); "
            f"{len(rows)} markets are listed on chain in all. Nobody typed a market in: the templates the owner "
            f"approved at deploy are all the lister needs, and it rolls the curve as months pass."
        )

    def curve_snapshot(self, t: int) -> None:
        """Each series' forward curve at chain time t: one point per listed delivery window, the
        on-chain mark where one is published, else the reporters' valuation of that window."""
        out: dict[str, list[tuple[int, float, bool]]] = {}
        for m in self.reader.listed_markets(limit=None):
            if not m.spec or m.delivery_end <= t:
                continue
            name = m.kind if m.kind != "POWER" else m.spec["profile"]
            price, observed, _fresh = self.st.mark(m.id)
            if observed:
                out.setdefault(name, []).append((m.delivery_start, usd(price), True))
                continue
            try:
                v = self.curve_valuer.mark(m.spec, t)
            except Exception:  # noqa: BLE001 - a window the data cannot value is left out, not invented
                continue
            out.setdefault(name, []).append((m.delivery_start, float(v.price_usd), False))
        self.curve = {k: sorted(v) for k, v in out.items()}
        if self.curve:
            t_ = Table(title=f"Forward curves at {utc(t)} (one point per listed month)", title_justify="left")
            t_.add_column("series")
            t_.add_column("points", justify="right")
            t_.add_column("first .. last window")
            t_.add_column("first .. last value", justify="right")
            for name, pts in self.curve.items():
                t_.add_row(
                    name,
                    str(len(pts)),
                    f"{utc(pts[0][0])[:7]} .. {utc(pts[-1][0])[:7]}",
                    f"{pts[0][1]:,.4f} .. {pts[-1][1]:,.4f}",
                )
            con.print(t_)
            # one plain line (the table's layout depends on the terminal): what the chart's curve panel draws
            con.print(
                "Curve panel of out/demo.png: "
                + "; ".join(f"{name} {len(pts)} points" for name, pts in sorted(self.curve.items())),
                soft_wrap=True,
            )

    # ------------------------------------------------------------------ acts
    def intro(self) -> None:
        con.print(
            Panel.fit(
                "[bold]Compute Spread: one month on a local devnet, on real prices[/]\n"
                "A 5 MW West Texas H100 operator hedges February's compute spread; a speculator sells the\n"
                "Winter Storm Uri power spike short with leverage; a market maker quotes; keepers push the oracle,\n"
                "liquidate and settle. Every price below comes from vendored real data (data/SOURCES.md)."
            )
        )
        section("Which real periods are paired on the devnet month")
        con.print(
            f'- Chain clock starts at {utc(T0)} ({ct(T0)}), so the devnet\'s "next month" is [bold]February 2021[/].'
        )
        con.print(
            "- Power: ERCOT HB_WEST day-ahead hourly LMP, [bold]Feb 2021 itself[/] (no offset): chain time = ERCOT time,"
            " Winter Storm Uri included (Feb 13-20; hours at the $9,000/MWh cap on Feb 17)."
        )
        con.print(
            f"- GPUs: Prime Intellect H100-SXM quotes from [bold]2025-10-19..2025-11-16[/], mapped with "
            f'CSPREAD_ORACLE_REPLAY_OFFSETS={{"GPU": {GPU_OFFSET}}}: chain 2021-02-01T00:00Z = data 2025-10-20T00:00Z.'
        )
        con.print(
            f"  The spread's Central-time month ({utc(self.m['SPREAD'].delivery_start)} .. "
            f"{utc(self.m['SPREAD'].delivery_end)}) reads GPU data 2025-10-20T06:00Z .. 2025-11-17T06:00Z."
        )
        con.print(
            f"  The tracker's last snapshot is {LAST_GPU_SNAPSHOT}: the final 23 hourly fixings of that window use those "
            "quotes under the index's 24 h freshness rule (docs/methodology.md §4); no price is made up."
        )
        con.print(
            "  Before delivery the GPU mark rests on the first fixings of the data set (2025-10-19 22:00Z onwards)."
        )
        con.print(
            "- Not listed: PJM (no 2021 data), B200 (29 index gaps: a month cannot settle), ERCOT RT (not vendored)."
        )

    def show_markets(self) -> None:
        t = Table(title="Listed markets (markets/demo.json)", title_justify="left")
        for c in ("id", "symbol", "delivery (Central)", "mark", "IM / unit", "MM / unit"):
            t.add_column(c)
        for name, m in self.m.items():
            mark = self.mark_usd(name)
            im = usd(m.im_fixed) + float(u.bps_to_fraction(m.im_rate_bps)) * abs(mark)
            mm = usd(m.mm_fixed) + float(u.bps_to_fraction(m.mm_rate_bps)) * abs(mark)
            t.add_row(
                str(m.id),
                m.symbol,
                f"{ct(m.delivery_start)[:14]} .. {ct(m.delivery_end)[:14]}",
                f"{mark:,.4f}",
                f"{im:,.4f}",
                f"{mm:,.4f}",
            )
        con.print(t)

    def operator_hedges(self) -> None:
        section("1. The operator hedges February's compute spread")
        kw_all_in = KW_PER_GPU * PUE
        gpus = int(MW * 1000 / kw_all_in)
        m = self.m["SPREAD"]
        hours = (m.delivery_end - m.delivery_start) // 3600
        gpu_hours = gpus * hours
        mwh = MW * hours
        self.op_gpu_hours, self.op_mwh = gpu_hours, float(mwh)
        con.print(
            f"Site: {MW} MW at ERCOT HB_WEST. An H100-SXM server slot draws ~{KW_PER_GPU} kW per GPU (700 W GPU + "
            f"host share) x PUE {PUE} = {kw_all_in} kW = {kw_all_in / 1000} MWh per GPU-hour -> "
            f"5,000 kW / {kw_all_in} kW = [bold]{gpus:,} GPUs[/]."
        )
        con.print(
            f"February 2021 (Central) has {hours} hours: {gpus:,} x {hours} = [bold]{gpu_hours:,} GPU-hours[/] rented out, "
            f"burning {MW} MW x {hours} h = {mwh:,} MWh. Unhedged it is long the spread: GPU price up / power down = good."
        )
        plan = self.op.hedge_compute_spread("H100-SXM", "HB_WEST", gpu_hours, "2021-02")
        con.print("[bold]The plan (sdk hedge_compute_spread), before anything is sent:[/]")
        con.print(plan.summary())
        deposit = int(math.ceil(float(plan.shortfall) * 1.25 / 100_000) * 100_000)
        con.print(
            f"Deposit {deposit:,} USDC of margin (the plan's shortfall + 25% buffer), then execute against the relay book."
        )
        self.st.fund("user1", deposit)
        self.deposits["operator"] = deposit
        fills = self.op.execute(plan)
        for f in fills:
            q = getattr(f, "quantity_units", None)
            if q is not None:
                con.print(
                    f"  filled {qty(q):,.0f} GPU-h @ {usd(f.price_units):.4f} against {f.maker[:10]}… (tx {f.tx_hash[:12]}…)"
                )
            else:
                con.print(f"  resting: {f}")
        pos = self.op.position(self.op.address, m.id)
        con.print(
            f"Operator position: {qty(pos.quantity_units):,.0f} GPU-h of {m.symbol}, avg "
            f"{abs(usd(pos.open_notional_units)) / abs(qty(pos.quantity_units)):.4f} USD/GPU-h -> locked spread margin "
            f"≈ {abs(usd(pos.open_notional_units)):,.0f} USD for the month."
        )
        self.events.append((self.st.now(), "operator hedges"))

    def speculator_sells(self) -> None:
        m = self.m["PEAK"]
        mark = self.mark_usd("PEAK")
        # the market maker re-quotes around each new mark: wait for its bid to be within 1% of this one
        self.st.wait_until(
            lambda: (b := self.reader.relay.book(m.id).bids) and mark * 0.99 <= usd(b[0].price_units) <= mark,
            30,
            0.25,
            "market-maker quotes around the new PEAK mark",
        )
        bid = usd(self.reader.relay.book(m.id).bids[0].price_units)
        im = usd(m.im_fixed) + float(u.bps_to_fraction(m.im_rate_bps)) * max(mark, bid)
        q = float(SPEC_QTY)
        need = q * im + q * max(0.0, mark - bid) + q * bid * 5e-4
        deposit = int(math.ceil(need * float(SPEC_IM_MULTIPLE) / 100) * 100)
        known, n, old = self.peak_mark_parts(self.st.now())
        con.print(
            f"[bold]Speculator[/]: day two of the storm. The February PEAK mark counts the {known} of {n} PEAK hours "
            f"whose day-ahead prices ERCOT has published (Monday's included) and values the other {n - known} "
            f"from the last day's level decaying to the 28-day median: {mark:,.2f} USD/MWh (the old rule, "
            f"extrapolating the trailing week, would still mark {old:,.2f}). Betting the storm breaks by Tuesday, "
            f"it sells {q:.0f} MWh short at the best bid {bid:,.2f} with {deposit:,} USDC "
            f"({float(SPEC_IM_MULTIPLE):.1f}x the initial margin): notional {q * bid:,.0f} USD, leverage "
            f"{q * bid / deposit:.2f}x."
        )
        self.st.fund("user2", deposit)
        self.deposits["speculator"] = deposit
        self.spec.sell(m.id, SPEC_QTY, Decimal(str(bid)))
        self.st.wait_until(
            lambda: (p := self.spec.position(self.spec.address, m.id)) and p.quantity_units < 0,
            30,
            0.25,
            "the matcher to match the speculator's order",
        )
        p = self.spec.position(self.spec.address, m.id)
        con.print(
            f"  posted to the relay; the matcher crossed it on-chain (match_orders): short "
            f"{-qty(p.quantity_units):.1f} MWh, liquidation price ≈ {p.liquidation_price:,.2f} USD/MWh. The "
            f"next day-ahead prices ERCOT publishes move the mark."
        )
        self.events.append((self.st.now(), "speculator sells"))

    def step(self, t: int, spec_at: int) -> None:
        self.st.warp_to(t)
        # marks the venue needs: a market past its last trade with no open interest gets none (the
        # pusher's "needed" selection on a templated devnet; at the month's end H100's UTC month has
        # closed with nobody holding it) and its last mark stands
        live = [m.id for m in self.m.values() if t < m.last_trade_time or self.reader.market(m.id).long_open_interest]
        self.st.wait_fresh(live, after=t, timeout=60)
        if t == spec_at:
            self.speculator_sells()
        spec_addr = self.spec.address
        deadline = time.monotonic() + 20
        while self.ch.functions.is_liquidatable(spec_addr).call() and time.monotonic() < deadline:
            time.sleep(0.25)
        liqs, adls = self.new_liquidations()
        for ev in liqs:
            a = ev["args"]
            m = next((x for x in self.m.values() if x.id == a["market_id"]), self.m["PEAK"])
            self.liquidations.append(ev)
            self.events.append((t, "liquidation"))
            con.print(
                f"  [bold red]⚡ Liquidation[/] (chain event, block {ev['blockNumber']}): the liquidator keeper "
                f"({a['liquidator'][:10]}…) "
                f"took {qty(abs(a['quantity'])):.3f} MWh of the {self.who(a['account'])}'s {m.symbol} at "
                f"{usd(a['price']):,.2f} USD/MWh; penalty {usd(a['penalty']):,.2f} USD into the insurance fund, "
                f"liquidator's reward {usd(a['reward']):,.2f} USD paid from it."
            )
        for ev in adls:
            a = ev["args"]
            self.deleveraged.append(ev)
            self.events.append((t, "deleveraged"))
            con.print(
                f"  [bold magenta]⚖ Auto-deleveraged[/] (block {ev['blockNumber']}): the insurance fund could not "
                f"carry the {self.who(a['account'])}'s loss, so the {self.who(a['counterparty'])} (most profitable "
                f"opposite position, ranked by profit x leverage) took over {qty(abs(a['quantity'])):.3f} units "
                f"of market {a['market_id']} at {usd(a['price']):,.2f} and gave up {usd(a['loss']):,.2f} USD of profit."
            )
        s = self.sample(t)
        avg, mx = self.lmp_24h(t)
        e = s["equity"]
        known, n, old = self.peak_mark_parts(t)
        s["old_peak"] = old
        con.print(
            f"{dt.datetime.fromtimestamp(t, CT):%a %m-%d %H:%M} | LMP {avg:5,.0f}/{mx:5,.0f} | "
            f"PEAK {s['marks']['PEAK']:8,.2f} [{known:3}/{n}h, old {old:5,.0f}] ATC {s['marks']['ATC']:8,.2f} | "
            f"H100 {s['marks']['COMPUTE']:.3f} spread {s['marks']['SPREAD']:7.4f} | op {e['operator'] / 1e6:5.2f}M "
            f"spec {e['speculator']:6,.0f}"
        )

    def replay(self) -> None:
        section("2. February 2021 replays (chain clock warped step by step; the pusher pushes, keepers act)")
        m = self.m["SPREAD"]
        start, end = m.delivery_start, m.delivery_end
        storm_a, storm_b = start + 12 * 86400, start + 24 * 86400
        times = (
            list(range(start, storm_a, 86400))
            + list(range(storm_a, storm_b, 6 * 3600))
            + list(range(storm_b, end + 1, 86400))
        )
        spec_at = int(dt.datetime(2021, 2, 15, 6, tzinfo=UTC).timestamp())  # Mon 02-15 00:00 Central
        assert spec_at in times
        con.print(
            "Each line: chain time (Central) | real ERCOT HB_WEST DA LMP over the last 24 h, mean/max USD/MWh | "
            "on-chain marks of the four markets; for PEAK also [hours already known (ended or day-ahead "
            "published) / all its hours, and what the old trailing-7-day rule would mark] | equity (USD) of the "
            "operator and the speculator."
        )
        for t in times:
            self.step(t, spec_at)

    def settle(self) -> dict[str, float]:
        section("3. The month ends: settlement values, dispute window, settler")
        ms = list(self.m.values())
        self.st.wait_until(
            lambda: all(self.reader.feed(m.settlement_feed)["observed_at"] >= m.delivery_end for m in ms),
            60,
            0.3,
            "settlement values from the reporters via the pusher",
        )
        self.oracle_settle = {}
        for m in ms:
            f = self.reader.feed(m.settlement_feed)
            self.oracle_settle[next(n for n, x in self.m.items() if x.id == m.id)] = usd(f["price"])
            con.print(
                f"  settlement value of {m.symbol}: {usd(f['price']):,.6f} (observed {utc(f['observed_at'])}, "
                f"pushed on-chain; dispute window {m.dispute_window // 60} min)"
            )
        con.print("Nobody disputes; the chain clock moves past the dispute window and the settler keeper takes over.")
        self.st.warp_to(self.st.now() + max(m.dispute_window for m in ms) + 60)
        mids = {m.id for m in ms}
        self.st.wait_until(
            lambda: {e["args"]["market_id"] for e in self.ch.events.SettlementFinalized.get_logs(from_block=0)} >= mids,
            60,
            0.5,
            "the settler to finalise every market",
        )

        def all_settled() -> bool:
            return all(self.ch.functions.position(a, m.id).call()[0] == 0 for a in self.parties.values() for m in ms)

        self.st.wait_until(all_settled, 90, 0.5, "the settler to settle every position")
        out = {}
        # the settler finalises the lister's expired windows too: the story's four markets only
        for ev in self.ch.events.SettlementFinalized.get_logs(from_block=0):
            if ev["args"]["market_id"] not in mids:
                continue
            m = next(x for x in ms if x.id == ev["args"]["market_id"])
            name = next(n for n, x in self.m.items() if x.id == m.id)
            out[name] = usd(ev["args"]["price"])
            con.print(
                f"  [bold green]✔ Settlement finalised[/] {m.symbol} at {out[name]:,.6f} (block {ev['blockNumber']})"
            )
        for ev in self.ch.events.Settled.get_logs(from_block=0):
            a = ev["args"]
            if a["market_id"] not in mids:
                continue
            who = next((p for p, ad in self.parties.items() if ad.lower() == a["account"].lower()), a["account"][:10])
            con.print(
                f"  settled {who}: {qty(a['quantity']):,.3f} units of market {a['market_id']}, "
                f"PnL {usd(a['pnl']):,.2f} USD"
            )
        con.print(
            "  (the Clearinghouse rounds each settlement value down to the market's price tick, so every settlement "
            "is an exact transfer)"
        )
        self.events.append((self.st.now(), "settled"))
        self.sample(self.st.now())
        return out

    def results(self, settle: dict[str, float]) -> None:
        section("4. Who made and lost what")
        # physical side at the oracle's realised values (unrounded); futures side as the chain settled them
        atc, spread = self.oracle_settle["ATC"], self.oracle_settle["SPREAD"]
        gpu_leg = spread + 0.0012 * atc  # the spread's GPU leg over the same Central month
        H, mwh = self.op_gpu_hours, self.op_mwh
        revenue, power = H * gpu_leg, mwh * atc
        unhedged = revenue - power
        op_coll = usd(self.ch.functions.collateral(self.op.address).call())
        futures = op_coll - self.deposits["operator"]
        con.print(
            f"Realised February (oracle settlement values): H100 index {gpu_leg:.4f} USD/GPU-h over the Central month "
            f"(= spread {spread:.6f} + 0.0012 x ATC {atc:,.6f}), HB_WEST ATC {atc:,.2f} USD/MWh, "
            f"PEAK {self.oracle_settle['PEAK']:,.2f}. The operator sells GPU-hours at the index and buys power "
            f"at the ATC price."
        )
        t = Table(title="Operator, 5 MW / February 2021", title_justify="left")
        t.add_column("")
        t.add_column("unhedged", justify="right")
        t.add_column("hedged", justify="right")
        t.add_row(f"GPU revenue {H:,} GPU-h x {gpu_leg:.4f}", f"{revenue:,.0f}", f"{revenue:,.0f}")
        t.add_row(f"power {mwh:,.0f} MWh x {atc:,.2f}", f"{-power:,.0f}", f"{-power:,.0f}")
        t.add_row("futures PnL (settled, after fees)", "0", f"{futures:,.0f}")
        t.add_row("[bold]compute margin", f"[bold]{unhedged:,.0f}", f"[bold]{unhedged + futures:,.0f}")
        t.add_row("per GPU-hour", f"{unhedged / H:.4f}", f"{(unhedged + futures) / H:.4f}")
        con.print(t)
        p = Table(title="Every party's PnL in the Clearinghouse (final collateral - deposits)", title_justify="left")
        for c in ("party", "deposited", "final collateral", "PnL"):
            p.add_column(c, justify="right" if c != "party" else "left")
        mm_dep = {
            "market maker (spread)": self.st.mm_deposit_usd,
            "market maker (power)": 2_000_000,
            "liquidator keeper": self.st.liquidator_deposit_usd,
        }
        for party, addr in self.parties.items():
            dep = self.deposits.get(party, mm_dep.get(party, 0))
            coll = usd(self.ch.functions.collateral(addr).call())
            p.add_row(party, f"{dep:,.0f}", f"{coll:,.2f}", f"{coll - dep:,.2f}")
        con.print(p)
        ins, bad = usd(self.ch.functions.insurance_fund().call()), usd(self.ch.functions.bad_debt().call())
        rewards = sum(usd(e["args"]["reward"]) for e in self.liquidations)
        penalties = sum(usd(e["args"]["penalty"]) for e in self.liquidations)
        con.print(
            f"Insurance fund: [bold]{ins:,.2f} USD[/] (liquidation penalties {penalties:,.2f} in, liquidator "
            f"rewards {rewards:,.2f} out, net of losses it covered)."
        )
        con.print(
            f"Recorded bad debt: [bold]{bad:,.2f} USD[/] (a loss the fund cannot carry is assigned by "
            f"auto-deleveraging, never written off)."
        )
        n = len(self.liquidations)
        con.print(
            f"Liquidations seen on-chain: {n}, earning the liquidator keeper {rewards:,.2f} USD in rewards; the "
            f"speculator's {SPEC_QTY} MWh short was "
            f"{'taken over by the liquidator keeper' if n else 'never liquidated'}."
        )
        if self.deleveraged:
            hit = {}
            for e in self.deleveraged:
                w = self.who(e["args"]["counterparty"])
                hit[w] = hit.get(w, 0.0) + usd(e["args"]["loss"])
            con.print(
                "Deleveraged (the fund ran dry): "
                + ", ".join(f"{w} gave up {x:,.2f} USD" for w, x in hit.items())
                + "."
            )
        else:
            con.print("Nobody was deleveraged: the insurance fund carried every loss.")
        if self.liquidations:
            pxs = ", ".join(f"{usd(ev['args']['price']):,.2f}" for ev in self.liquidations)
            con.print(
                f"It was liquidated at {pxs} USD/MWh, below the {self.oracle_settle['PEAK']:,.2f} February PEAK "
                f"finally settled at: the loss the marks forced was one the month really delivered, not a mark "
                f"artefact."
            )
        peaks = [x["marks"]["PEAK"] for x in self.samples if "old_peak" in x]
        olds = [x["old_peak"] for x in self.samples if "old_peak" in x]
        if peaks:
            final = self.oracle_settle["PEAK"]
            con.print(
                f"Marks vs settlement: the February PEAK settled at {final:,.2f}; the highest on-chain PEAK mark of "
                f"the replay was {max(peaks):,.2f} ({max(peaks) - final:+,.2f}). The old trailing-7-day rule would "
                f"have peaked at {max(olds):,.2f} ({max(olds) - final:+,.2f}) at the same steps, marking shorts "
                f"at a price the month never settled at (docs/methodology.md §7)."
            )


def start_dashboard(stack: Stack):
    """The web dashboard (apps.web), when that package is present; None otherwise or if it fails to start."""
    try:
        from apps.web.server import WebProcess
    except ImportError:
        return None
    try:
        return WebProcess(
            stack.manifest_path,
            stack.rpc_url,
            stack.relay_url,
            oracle_urls=stack.reporter_urls[:1],
            log_path=stack.log_dir / "web.log",
        ).start()
    except Exception as e:  # noqa: BLE001 - the dashboard is optional for the demo
        con.print(f"[yellow]web dashboard did not start ({e}); continuing without it[/]")
        return None


def run() -> int:
    t_start = time.monotonic()
    dashboard = None
    OUT.mkdir(exist_ok=True)
    workdir = OUT / "demo-stack"
    if workdir.exists():
        import shutil

        shutil.rmtree(workdir)
    stack = Stack(
        workdir,
        anvil_timestamp=T0,
        markets=ROOT / "markets" / "demo.json",
        oracle_env={"CSPREAD_ORACLE_REPLAY_OFFSETS": json.dumps({"GPU": GPU_OFFSET})},
        mm_markets=[4],
        mm_args=SPREAD_MM_ARGS,
        mm_deposit_usd=25_000_000,
    )
    try:
        with con.status(
            "starting anvil, deploying, 3 reporters, pusher, liquidator, settler, relay+matcher, market maker…"
        ):
            stack.start()
            stack.start_market_maker("market_maker_power", "user11", [1, 2], POWER_MM_ARGS, 2_000_000)
        demo = Demo(stack)
        if demo.m["SPREAD"].id != 4 or demo.m["PEAK"].id != 1:
            raise StackError(f"unexpected market ids: { {n: m.id for n, m in demo.m.items()} }")
        demo.intro()
        dashboard = start_dashboard(stack)
        if dashboard is not None:
            con.print(f"Web dashboard (live while the demo runs): [bold]{dashboard.url}[/]")
        con.print(
            f"Stack up in {time.monotonic() - t_start:.0f} s: anvil {stack.rpc_url}, relay {stack.relay_url}, "
            f"reporters {', '.join(stack.reporter_urls)}; logs in {stack.log_dir}"
        )
        with con.status("waiting for the first oracle marks and market-maker quotes…"):
            stack.wait_fresh(timeout=90)
            demo.wait_book("SPREAD", min_bid_qty=2_800_000_000)
            demo.wait_book("PEAK")
        if stack.templated:
            demo.wait_curve()
        demo.show_markets()
        con.print(
            "The market-maker keepers (apps/marketmaker.py) quote signed two-sided orders around each mark into "
            "the relay: one for the spread (1.5M GPU-h a level, 25M USDC), one for power (25 MWh a level)."
        )
        con.print(demo.book_table("SPREAD"))
        con.print(demo.book_table("PEAK"))
        demo.sample(stack.now())
        if stack.templated:
            demo.curve_snapshot(stack.now())
        demo.operator_hedges()
        demo.replay()
        settle = demo.settle()
        demo.results(settle)
        from scripts.demo_chart import write_chart

        png = write_chart(
            OUT / "demo.png",
            demo.samples,
            window=(demo.m["SPREAD"].delivery_start, demo.m["SPREAD"].delivery_end),
            gpu_offset=GPU_OFFSET,
            settlements=settle,
            events=demo.events,
            curves=demo.curve,
            parties={
                "operator": "#1f77b4",
                "speculator": "#d62728",
                "market maker (spread)": "#9467bd",
                "market maker (power)": "#8c564b",
                "liquidator keeper": "#2ca02c",
            },
        )
        # act three (issue 15), on its own devnet: scripts/demo_pool.py; DEMO_POOL=0 skips it (test_demo
        # does: tests/integration/test_demo_pool.py runs the act on its own)
        if os.environ.get("DEMO_POOL", "1") != "0":
            from scripts.demo_pool import run as act_three

            section("4. Act three: home hosts hedge as one pool")
            act_three(int(os.environ.get("DEMO_POOL_HOSTS", "1000")))
        section("Done")
        con.print(f"Chart of index, marks and equity: [bold]{png}[/]")
        con.print(f"Demo finished in {time.monotonic() - t_start:.0f} s.")
        if dashboard is not None and os.environ.get("DEMO_SERVE"):
            con.print(f"Web dashboard: [bold]{dashboard.url}[/] - the settled devnet stays up until Ctrl-C.")
            try:
                while all(stack.alive().values()):
                    time.sleep(1)
            except KeyboardInterrupt:
                pass
        elif dashboard is not None:
            con.print(
                f"Web dashboard: {dashboard.url} (live during the run). To look around afterwards: "
                f"`make demo SERVE=1` keeps this settled devnet and its dashboard up until Ctrl-C."
            )
        con.print("Stopping every process the demo started.")
        return 0
    except KeyboardInterrupt:
        con.print("[yellow]interrupted: stopping everything[/]")
        return 130
    except StackError as e:
        con.print(f"[red]demo failed:[/] {e}")
        return 1
    finally:
        if dashboard is not None:
            dashboard.stop()
        stack.stop()


if __name__ == "__main__":
    sys.exit(run())
