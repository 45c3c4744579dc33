"""`make bench` section: the oracle's gas per day at 10, 100 and 1,000 live markets, pushing every
mark (the pusher before issue 10) vs pushing only what is needed (keepers/pusher.py, --select needed),
and what a pull mode would cost per trade.

Three inputs, each measured or stated:

1. ``Oracle.submit`` gas for k = 1..32 feeds, 3 reporters' rows (the pusher sends every row it
   has), measured on anvil against the real deploy (receipt gasUsed, 21,000 base included).
2. How often a mark needs a push, counted on the vendored real data with the repo's own mark
   methodology (oracle.valuation.Valuer over oracle.sources.ReplaySource): a sample of the standing
   curve (ERCOT HB_WEST hourly DA, daily ATC, monthly PEAK/OFFPEAK/ATC, PJM monthly PEAK, H100-SXM and
   B200 monthly, the H100/HB_WEST spread) valued every STEP_S seconds over SIM_DAYS days; the
   pusher's rule applied per feed (deviation DEVIATION_BPS from the stored value, heartbeat
   each of HEARTBEATS from the stored observation). Chain time is mapped onto each data set's own period
   (ERCOT June 2022, PJM June 2025, GPU October 2025; no Uri: a calm week, stated as such).
3. The live markets: N markets with the standing curve's mix (per node 48 hourly, 14 daily, 36
   monthly power; GPU and spread months), each replaying the sampled timeline of its type; a share
   ACTIVE_SHARE of them with open interest or resting orders (an assumption: listed futures
   concentrate OI at the head of the curve; 100 % is shown too, the rule's worst case).

Push-every-mark: whenever any feed triggers, every live mark is pushed (the old pusher submitted
the whole bundle), in submits of <= 32. Needed: only active markets' triggered feeds, batched per
block in submits of <= 32. Settlement values (one per market lifetime, the same in both) are left
out. USD at a stated L2 gas price and ETH price (L2 execution gas only; the L1 data fee of the
calldata is extra and is the larger part on rollups, so it is shown as bytes per day too).
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

# ------------------------------------------------------------------ stated assumptions
SIM_DAYS = 3
STEP_S = 600  # the reporters' values sampled every 10 min (marks move with the clock, not only on data)
DEVIATION_BPS = 50  # keepers.pusher.PusherSettings.deviation_bps default
MAX_PRICE_AGE = 3600  # markets/default.json
# PusherSettings defaults give min(1800, max_price_age - 600) = 1800 s; 3000 s is max_price_age
# minus the 600 s margin alone (--heartbeat 3000), the Chainlink-style setting
HEARTBEATS = (1800, 3000)
ACTIVE_SHARE = 0.2
L2_GAS_GWEI = 0.01  # Arbitrum One's minimum L2 base fee (Base and OP usually sit at or below a few times it)
ETH_USD = 3_000  # a round stated figure (2025 traded ~1,500-4,800); scale the USD column linearly
MARKETS = (10, 100, 1_000)
REPORTERS = 3
FIT_K = (1, 2, 4, 8, 16, 32)

T_CHAIN = int(dt.datetime(2025, 10, 20, tzinfo=dt.UTC).timestamp())  # GPU data time = chain time
ERCOT_AT = int(dt.datetime(2022, 6, 6, tzinfo=dt.UTC).timestamp())
PJM_AT = int(dt.datetime(2025, 6, 9, tzinfo=dt.UTC).timestamp())
# the standing curve's mix per 134 markets (one ERCOT node's depth + GPU and spread months)
MIX = {"hourly": 48, "daily": 14, "monthly": 36, "gpu": 24, "spread": 12}


# ------------------------------------------------------------------ 1. submit gas on anvil
def measure_submit_gas() -> dict[int, int]:
    from eth_account import Account
    from eth_utils import keccak
    from web3 import Web3

    from chain.tx import TxFailed, TxSender
    from devnet.anvil import ANVIL_KEYS, Anvil, deploy, rpc
    from oracle.signing import ReportSigner
    from scripts._markets import feed_limits

    with Anvil() as anvil, tempfile.TemporaryDirectory() as tmp:
        m = deploy(anvil.url, Path(tmp) / "manifest.json")
        w3 = Web3(Web3.HTTPProvider(anvil.url, request_kwargs={"timeout": 60}))
        c = m["contracts"]["Oracle"]
        oracle = w3.eth.contract(address=c["address"], abi=c["abi"])
        owner = Account.from_key(ANVIL_KEYS[0])
        reporters = [Account.from_key(k) for k in ANVIL_KEYS[1 : 1 + REPORTERS]]

        sender = TxSender(w3, owner, bump_after_blocks=10**9)  # chain.tx: simulated, local nonce

        def send(fn) -> int:
            try:
                return sender.transact(fn).gas_used
            except TxFailed as e:
                raise RuntimeError(f"{fn.fn_name} reverted: {e.reason}") from e

        feeds = [keccak(text=f"BENCH/SCALE/{i}") for i in range(32)]
        for f in feeds:
            send(oracle.functions.set_feed(f, -(10**12), 10**12))
            send(oracle.functions.set_feed_limits(f, *feed_limits("POWER")))

        def submit(k: int, price: int) -> int:
            t = int(w3.eth.get_block("latest")["timestamp"]) + 1
            rpc(anvil.url, "evm_setNextBlockTimestamp", [t])
            ids, prices = feeds[:k], [price + i for i in range(k)]
            sigs = [
                bytes.fromhex(ReportSigner(r.key).sign(ids, prices, t, m["chain_id"], oracle.address).signature[2:])
                for r in reporters
            ]
            return send(oracle.functions.submit(ids, t, [prices] * len(reporters), sigs))

        submit(32, 1_000_000)  # every feed written once: the rows below are updates, as a pusher's are
        return {k: submit(k, 2_000_000 + 1000 * k) for k in FIT_K}


def gas_fn(measured: dict[int, int]):
    """Linear fit g(k) = base + per_feed * k through the measured points (least squares)."""
    ks, gs = list(measured), [measured[k] for k in measured]
    n, sk, sg = len(ks), sum(ks), sum(gs)
    skk, skg = sum(k * k for k in ks), sum(k * g for k, g in zip(ks, gs, strict=True))
    per = (n * skg - sk * sg) / (n * skk - sk * sk)
    base = (sg - per * sk) / n
    return (lambda k: measured[k] if k in measured else round(base + per * k)), base, per


def calldata_bytes(k: int) -> int:
    """Bytes of an ``Oracle.submit`` call of k feeds with REPORTERS rows (what a rollup posts to L1)."""
    from eth_abi import encode

    body = encode(
        ["bytes32[]", "uint256", "int256[][]", "bytes[]"],
        [[b"\x00" * 32] * k, 0, [[0] * k] * REPORTERS, [b"\x00" * 65] * REPORTERS],
    )
    return 4 + len(body)


def submits_bytes(n_feeds: int) -> int:
    full, rest = divmod(n_feeds, 32)
    return full * calldata_bytes(32) + (calldata_bytes(rest) if rest else 0)


def submits_gas(g, n_feeds: int) -> int:
    full, rest = divmod(n_feeds, 32)
    return full * g(32) + (g(rest) if rest else 0)


# ------------------------------------------------------------------ 2. triggers on real data
def sample_specs() -> dict[str, list[dict]]:
    from core.specs import compute_spec, day_window, month_window, power_spec, spread_spec

    t = T_CHAIN
    tz = "America/Chicago"
    d0 = dt.datetime.fromtimestamp(t, dt.UTC).date()
    hourly = [
        power_spec("ERCOT", "HB_WEST", "DA", "HOURLY", t + h * 3600, t + (h + 1) * 3600)
        for h in (6, 14, 22, 30, 38, 46)
    ]
    daily = [power_spec("ERCOT", "HB_WEST", "DA", "ATC", *day_window(d0 + dt.timedelta(days=k), tz)) for k in (1, 4, 9)]
    monthly = []
    for months_ahead in (1, 3):
        y, mo = (
            (d0.year, d0.month + months_ahead)
            if d0.month + months_ahead <= 12
            else (d0.year + 1, d0.month + months_ahead - 12)
        )
        for profile in ("PEAK", "OFFPEAK", "ATC"):
            monthly.append(power_spec("ERCOT", "HB_WEST", "DA", profile, *month_window(y, mo, tz)))
        if months_ahead == 1:
            monthly.append(power_spec("PJM", "AEP-DAYTON HUB", "DA", "PEAK", *month_window(y, mo, "America/New_York")))
    y, mo = (d0.year, d0.month + 1) if d0.month < 12 else (d0.year + 1, 1)
    gpu = [compute_spec("H100-SXM", *month_window(y, mo, "UTC")), compute_spec("B200", *month_window(y, mo, "UTC"))]
    s, e = month_window(y, mo, tz)
    spread = [spread_spec(compute_spec("H100-SXM", s, e), power_spec("ERCOT", "HB_WEST", "DA", "ATC", s, e), "0.0012")]
    return {"hourly": hourly, "daily": daily, "monthly": monthly, "gpu": gpu, "spread": spread}


def timelines(specs: dict[str, list[dict]]) -> dict[str, list[list[int | None]]]:
    """Per type, per sampled market: its mark (base units) at each step, None once it no longer
    trades and has no mark to keep (an hourly market after delivery)."""
    from oracle.sources import ReplaySource
    from oracle.timemap import TimeMap
    from oracle.valuation import Valuer

    v = Valuer(
        ReplaySource(
            time_maps={"ERCOT": TimeMap.from_offset(ERCOT_AT - T_CHAIN), "PJM": TimeMap.from_offset(PJM_AT - T_CHAIN)}
        )
    )
    steps = range(T_CHAIN, T_CHAIN + SIM_DAYS * 86_400, STEP_S)
    out: dict[str, list[list[int | None]]] = {}
    for kind, ss in specs.items():
        out[kind] = []
        for spec in ss:
            end = (spec["power"] if spec["kind"] == "SPREAD" else spec)["delivery_end"]
            row = []
            for t in steps:
                if t >= end:
                    row.append(None)
                    continue
                try:
                    row.append(v.mark(spec, t).price_units)
                except Exception:  # noqa: BLE001 - no estimate at this time: the reporter serves none either
                    row.append(None)
            out[kind].append(row)
    return out


def triggers(row: list[int | None], heartbeat: int) -> list[str | None]:
    """The pusher's per-feed rule (keepers.pusher.mark_trigger) along one mark's timeline: at
    each step None or why it is pushed (first / deviation / heartbeat)."""
    from keepers.pusher import FeedState, mark_trigger

    out, st = [], FeedState(0, 0, 0, False, False, "mark", 0, DEVIATION_BPS, heartbeat)
    for i, p in enumerate(row):
        now = T_CHAIN + i * STEP_S
        why = None if p is None else mark_trigger(st, p, now)
        if why:
            st = FeedState(p, now, now, False, False, "mark", 0, DEVIATION_BPS, heartbeat)
        out.append(why)
    return out


def push_all_rounds(rows: list[list[int | None]], heartbeat: int) -> list[int]:
    """The old pusher: one bundle of every live mark, sent when any feed moved beyond the threshold
    or the (common) heartbeat expired; returns the number of feeds pushed at each step."""
    last: list[int | None] = [None] * len(rows)
    last_round = None
    out = []
    for j in range(len(rows[0])):
        now = T_CHAIN + j * STEP_S
        live = [i for i, r in enumerate(rows) if r[j] is not None]
        fire = last_round is None or now - last_round >= heartbeat
        for i in live:
            p, old = rows[i][j], last[i]
            if old is None or (abs(p - old) * 10_000 > DEVIATION_BPS * abs(old) if old else p != 0):
                fire = True
                break
        if fire and live:
            for i in live:
                last[i] = rows[i][j]
            last_round = now
            out.append(len(live))
        else:
            out.append(0)
    return out


# ------------------------------------------------------------------ 3. gas per day
def universe(n: int, sampled: dict[str, list]) -> list[tuple[str, int]]:
    """n markets in the curve's mix, each replaying a sampled timeline of its type: (type, index)."""
    kinds = [k for k, c in MIX.items() for _ in range(c)]
    out, used = [], dict.fromkeys(MIX, 0)
    for i in range(n):
        k = kinds[(i * 7919) % len(kinds)]  # a spread-out walk through the mix
        out.append((k, used[k] % len(sampled[k])))
        used[k] += 1
    return out


def needed_rounds(rows: list[list[int | None]], heartbeat: int) -> tuple[list[int], int]:
    """keepers.pusher's needed rule over the active markets' timelines: per step, the feeds pushed
    (per-feed trigger, plus the piggyback that fills a submit going out anyway); and how many of
    the pushes were deviation triggers."""
    from keepers.pusher import FeedState, mark_trigger, piggyback

    st: list[tuple[int, int] | None] = [None] * len(rows)
    out, dev = [], 0
    for j in range(len(rows[0]) if rows else 0):
        now = T_CHAIN + j * STEP_S
        trig, due = [], {}
        for i, r in enumerate(rows):
            p = r[j]
            if p is None:
                continue
            old = st[i]
            fs = FeedState(
                old[0] if old else 0, old[1] if old else 0, 0, False, False, "mark", 0, DEVIATION_BPS, heartbeat
            )
            why = mark_trigger(fs, p, now)
            if why:
                trig.append(str(i))
                dev += why == "deviation"
            elif old and 2 * (now - old[1]) >= heartbeat:
                due[str(i)] = now - old[1]
        pushed = trig + piggyback(trig, due)
        for i in pushed:
            st[int(i)] = (rows[int(i)][j], now)
        out.append(len(pushed))
    return out, dev


def per_day(g, tl, n: int, share: float, heartbeat: int) -> dict[str, float]:
    """Gas and feed pushes per day: push-every-mark vs needed (every round(1/share)-th market active)."""
    u = universe(n, tl)
    rows = [tl[k][i] for k, i in u]
    every = max(1, round(1 / share))
    active = [r for j, r in enumerate(rows) if j % every == 0]
    all_rounds = push_all_rounds(rows, heartbeat)
    sel_rounds, dev = needed_rounds(active, heartbeat)
    days = len(rows[0]) * STEP_S / 86_400
    return {
        "all_bytes": sum(submits_bytes(k) for k in all_rounds if k) / days,
        "needed_bytes": sum(submits_bytes(k) for k in sel_rounds if k) / days,
        "all_gas": sum(submits_gas(g, k) for k in all_rounds if k) / days,
        "all_feeds": sum(all_rounds) / days,
        "needed_gas": sum(submits_gas(g, k) for k in sel_rounds if k) / days,
        "needed_feeds": sum(sel_rounds) / days,
        "deviation_share": dev / max(sum(sel_rounds), 1),
        "active": len(active),
    }


def usd(gas: float) -> float:
    return gas * L2_GAS_GWEI * 1e-9 * ETH_USD


def run(measured: dict[int, int] | None = None, tl: dict | None = None) -> list[dict]:
    measured = measured or measure_submit_gas()
    g, base, per = gas_fn(measured)
    rows = [
        {"name": f"Oracle.submit, {REPORTERS} reporters x {k} feed{'s' * (k > 1)} (anvil)", "value": v, "unit": "gas"}
        for k, v in measured.items()
    ]
    rows.append(
        {"name": "Oracle.submit fit: base + per feed x k", "value": f"{base:,.0f} + {per:,.0f} k", "unit": "gas"}
    )
    tl = tl or timelines(sample_specs())
    for hb in HEARTBEATS:
        for kind, rs in tl.items():
            fs = [triggers(r, hb) for r in rs]
            pushes = sum(1 for f in fs for x in f if x)
            devs = sum(1 for f in fs for x in f if x == "deviation")
            live = sum(1 for r in rs for x in r if x is not None) * STEP_S / 86_400
            rows.append(
                {
                    "name": f"real data, heartbeat {hb} s: pushes per market-day, {kind} ({len(rs)} sampled)",
                    "value": round(pushes / live, 1) if live else 0,
                    "unit": "pushes",
                    "target": f"of which deviation {round(devs / live, 1) if live else 0}",
                }
            )
    table = []
    for hb in HEARTBEATS:
        for n in MARKETS:
            for share in (ACTIVE_SHARE, 1.0):
                d = per_day(g, tl, n, share, hb)
                table.append((hb, n, share, d))
                tag = f"{n:,} markets, {share:.0%} with OI/orders, heartbeat {hb} s"
                rows += [
                    {
                        "name": f"push every mark: gas/day, {tag}",
                        "value": round(d["all_gas"]),
                        "unit": "gas",
                        "target": f"${usd(d['all_gas']):,.2f}/day",
                    },
                    {
                        "name": f"needed only: gas/day, {tag}",
                        "value": round(d["needed_gas"]),
                        "unit": "gas",
                        "target": f"${usd(d['needed_gas']):,.2f}/day "
                        f"({d['needed_gas'] / max(d['all_gas'], 1):.1%} of push-all)",
                    },
                    {
                        "name": f"calldata/day push every mark vs needed, {tag}",
                        "value": f"{d['all_bytes'] / 1e6:,.2f} / {d['needed_bytes'] / 1e6:,.2f}",
                        "unit": "MB",
                        "target": "posted to L1 by a rollup: the L1 data fee is extra",
                    },
                ]
    # pull: the signed rows travel with each trade; a fill must refresh every leg it margins
    for k in (1, 2, 8):
        rows.append(
            {
                "name": f"pull (estimate): extra gas per trade carrying {k} mark{'s' * (k > 1)}",
                "value": g(k) - 21_000,
                "unit": "gas",
                "target": f"${usd(g(k) - 21_000):.5f}/trade",
            }
        )
    rows.append({"name": "stated prices", "value": f"{L2_GAS_GWEI} gwei L2 gas, ETH ${ETH_USD:,}", "unit": ""})
    run.table = table  # for the docs table (scripts.bench_oracle_scale --markdown)
    return rows


def markdown(table) -> str:
    out = [
        "| live markets | with OI/orders | heartbeat | push every mark: gas/day | USD/day | needed only: gas/day "
        "| USD/day | ratio | calldata/day push-all / needed |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for hb, n, share, d in table:
        out.append(
            f"| {n:,} | {share:.0%} | {hb} s | {d['all_gas']:,.0f} | ${usd(d['all_gas']):,.2f} | "
            f"{d['needed_gas']:,.0f} | ${usd(d['needed_gas']):,.2f} | {d['needed_gas'] / max(d['all_gas'], 1):.1%} | "
            f"{d['all_bytes'] / 1e6:,.2f} / {d['needed_bytes'] / 1e6:,.2f} MB |"
        )
    return "\n".join(out)


if __name__ == "__main__":
    import sys

    for r in run():
        print(f"{r['name']:<90} {r['value']!s:>22} {r.get('unit') or ''} {r.get('target') or ''}")
    if "--markdown" in sys.argv:
        print(markdown(run.table))
