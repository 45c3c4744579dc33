"""Keeper benchmarks: liquidator health-scan throughput, blocks from price update to last
liquidation in the Winter Storm Uri shock scenario, and the liquidator at the scale of a standing
curve (issue 10): initial sync of 10,000 accounts over 1,000 live markets from a real node's
``eth_getLogs`` (time and peak RSS of a fresh process), the per-block scan with and without
4,000 settled markets in its history, and the recovery from a 3-block reorg.

The scale rows read real logs from a real anvil: a small fixture contract (:data:`EMITTER`)
emits ``PositionUpdated`` / ``CollateralUpdated`` with the Clearinghouse's exact signatures for
synthetic accounts (listing 1,000 markets and trading 100,000 positions through the real
contracts would take this 2-core machine most of an hour); the keeper's sync cannot tell them
apart from the Clearinghouse's, it only filters by address and topic.

    python -m scripts.bench_keepers            # prints the rows
    python -m scripts.bench_keepers --no-shock # without the anvil + reporters scenario
    from scripts.bench_keepers import run      # rows for `make bench` / BENCHMARKS.md

Each row: {name, value, unit, target}.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from core.margin import screen_cells
from core.units import USD_SCALE
from keepers.liquidator import MarketVector, scan
from keepers.positions import PositionBook
from scripts._keepers_env import LIQ_A, SHOCK_AT, Env, handled, liquidatable_at, open_book, wait_until

N_MARKETS = 8
POSITIONS_PER_ACCOUNT = 4


def synthetic_book(n: int, seed: int = 1) -> tuple[PositionBook, MarketVector]:
    """n accounts x 4 positions among 8 markets (sizes/prices in contract units)."""
    rng = np.random.default_rng(seed)
    q = np.zeros((n, N_MARKETS))
    cols = np.argsort(rng.random((n, N_MARKETS)), axis=1)[:, :POSITIONS_PER_ACCOUNT]
    sizes = rng.integers(100, 100_000, (n, POSITIONS_PER_ACCOUNT)) * rng.choice([-1, 1], (n, POSITIONS_PER_ACCOUNT))
    np.put_along_axis(q, cols, sizes, axis=1)
    marks = rng.integers(-50, 5_000, N_MARKETS) * USD_SCALE
    on = np.floor(q * marks * rng.uniform(0.8, 1.2, (n, N_MARKETS)) / 1000)
    coll = rng.integers(1_000, 1_000_000, n) * USD_SCALE
    book = PositionBook()
    book.set_bulk([f"0x{i:040x}" for i in range(n)], q, on, coll, list(range(1, N_MARKETS + 1)))
    mv = MarketVector(
        list(range(1, N_MARKETS + 1)),
        marks.astype(float),
        np.ones(N_MARKETS, bool),
        rng.integers(1, 300, N_MARKETS) * float(USD_SCALE),
        rng.integers(500, 3000, N_MARKETS).astype(float),
        np.zeros(N_MARKETS, bool),
        np.zeros(N_MARKETS, bool),
    )
    return book, mv


def bench_scan(n: int, repeats: int = 5) -> float:
    book, mv = synthetic_book(n)
    q, on, coll = book.view()
    scan(q, on, coll, mv)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        r = scan(q, on, coll, mv)
        order = np.argsort(-r.shortfall[r.liquidatable])  # include the ranking the keeper does
        best = min(best, time.perf_counter() - t)
    del order
    return best


def bench_shock() -> dict:
    """The integration scenario: real reporters + pusher + liquidator on anvil (1 s blocks)."""
    with tempfile.TemporaryDirectory() as tmp:
        env = Env(Path(tmp))
        try:
            shorts = open_book(env)
            liq = env.start_bot("liquidator", LIQ_A, "--poll-interval", "0.1")
            wait_until(lambda: any(line.get("msg") == "startup" for line in liq.lines()), 30, 0.2, "liquidator")
            env.interval_mining(1)
            env.warp_to(SHOCK_AT)
            ev = wait_until(
                lambda: [e for e in env.oracle_events() if e.args.observed_at >= SHOCK_AT], 60, 0.2, "shock push"
            )
            expected = liquidatable_at(env, shorts, ev[0].blockNumber)
            # an insolvent short the empty insurance fund cannot carry is deleveraged, not liquidated
            wait_until(lambda: handled(env) >= expected, 30, 0.2, "liquidations and deleverages")
            last = max(e.blockNumber for e in env.events("Liquidation") + env.events("Deleveraged"))
            return {"blocks": last - ev[0].blockNumber, "accounts": len(expected)}
        finally:
            env.close()


# ---------------------------------------------------------------- scale (issue 10) and reorgs (issue 12)
SCALE_ACCOUNTS, SCALE_MARKETS, SCALE_PER_ACCOUNT = 10_000, 1_000, 10
SCALE_HISTORY = 4_000  # settled markets in the book's history for the per-block row
ACCOUNTS_PER_TX = 250  # ~7 M gas of logs per block
PAGE_BLOCKS = 4  # blocks per eth_getLogs page: ~11,000 logs, what hosted providers allow per answer

EMITTER = """
# pragma version ~=0.4.3
\"\"\"
@notice Bench fixture, never deployed outside `scripts.bench_keepers`: emits the Clearinghouse's
        PositionUpdated / CollateralUpdated (same signatures) for synthetic accounts.
\"\"\"

event PositionUpdated:
    account: indexed(address)
    market_id: indexed(uint256)
    quantity: int256
    open_notional: int256
    realised_pnl: int256

event CollateralUpdated:
    account: indexed(address)
    collateral: int256


@external
def emit_book(first: uint256, n: uint256, per_account: uint256, n_markets: uint256, salt: uint256):
    for i: uint256 in range(n, bound=1000):
        k: uint256 = first + i
        a: address = convert(convert(k + 4096, uint160), address)
        log CollateralUpdated(account=a, collateral=convert(1000 * (1000 + (k * 7919 + salt) % 99000), int256))
        for p: uint256 in range(per_account, bound=64):
            m: uint256 = (k * 13 + p * 97 + salt) % n_markets + 1
            q: int256 = convert((k * 31 + p * 17 + salt) % 2000, int256) - 1000
            if q == 0:
                q = 1
            log PositionUpdated(account=a, market_id=m, quantity=q * 100, open_notional=q * 5000, realised_pnl=0)
"""


def _send(url: str, sender: str, to: str | None, data: bytes, gas: int) -> dict:
    # anvil's unlocked account signs (chain.tx.send_unlocked); wait_mined raises on a revert
    from chain.rpc import Rpc
    from chain.tx import Call, send_unlocked, wait_mined

    rpc = Rpc(url, timeout=120)
    return wait_mined(rpc, send_unlocked(rpc, [(sender, Call(to, data))], gas), timeout=120)[0]


def deploy_emitter(url: str) -> tuple[str, str, int]:
    """(sender, emitter address, deploy block) on anvil (its unlocked first account sends)."""
    import vyper

    from devnet.anvil import rpc

    code = vyper.compile_code(EMITTER, output_formats=["bytecode"])["bytecode"]
    sender = rpc(url, "eth_accounts")[0]
    r = _send(url, sender, None, bytes.fromhex(code.removeprefix("0x")), 3_000_000)
    return sender, r["contractAddress"], int(r["blockNumber"], 16)


def emit_book(url: str, sender: str, emitter: str, first: int, n: int, salt: int = 0) -> None:
    from eth_abi import encode
    from eth_utils import keccak

    sel = keccak(text="emit_book(uint256,uint256,uint256,uint256,uint256)")[:4]
    for k in range(first, first + n, ACCOUNTS_PER_TX):
        m = min(ACCOUNTS_PER_TX, first + n - k)
        data = sel + encode(["uint256"] * 5, [k, m, SCALE_PER_ACCOUNT, SCALE_MARKETS, salt])
        _send(url, sender, emitter, data, 29_000_000)


def _head(rpc) -> tuple[int, str, str]:
    b = rpc("eth_getBlockByNumber", ["latest", False])
    return int(b["number"], 16), b["hash"], b["parentHash"]


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def synthetic_markets(n: int, seed: int = 3) -> MarketVector:
    rng = np.random.default_rng(seed)
    return MarketVector(
        list(range(1, n + 1)),
        (rng.integers(-50, 5_000, n) * USD_SCALE).astype(float),
        np.ones(n, bool),
        rng.integers(1, 300, n) * float(USD_SCALE),
        rng.integers(500, 3000, n).astype(float),
        np.zeros(n, bool),
        np.zeros(n, bool),
    )


def sync_child(url: str, emitter: str, deploy_block: int) -> dict:
    """In a fresh process: sync the whole book from the node, then one health scan. Time and the
    process's peak RSS (``ru_maxrss``: interpreter, numpy, web3 imports included)."""
    import resource

    from chain.rpc import Rpc
    from keepers.positions import EventSync

    rss0 = _rss_mb()
    rpc = Rpc(url, timeout=120)
    book = PositionBook()
    sync = EventSync(None, emitter, deploy_block, book, chunk=PAGE_BLOCKS, rpc=rpc)
    t0 = time.perf_counter()
    r = sync.sync(*_head(rpc))
    t_sync = time.perf_counter() - t0
    mv = synthetic_markets(len(book.market_ids))
    t1 = time.perf_counter()
    res = screen_cells(book.cells(), book.collateral, mv)
    np.argsort(-res.shortfall[res.liquidatable])
    t_scan = time.perf_counter() - t1
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    del book, sync, res
    # where the sync's time goes: the node answering (bytes on our side) vs the keeper's work
    from chain.logs import LOGS_DECODER, block_ranges, raw_logs_body
    from keepers.positions import TOPICS

    head = _head(rpc)[0]
    t2 = time.perf_counter()
    bodies = [raw_logs_body(rpc, emitter, TOPICS, a, b) for a, b in block_ranges(deploy_block, head, PAGE_BLOCKS)]
    t3 = time.perf_counter()
    again = PositionBook()
    for body in bodies:
        again.apply_logs(LOGS_DECODER.decode(body).result)
    t4 = time.perf_counter()
    return {
        "sync_s": t_sync,
        "scan_s": t_scan,
        "logs": r["logs_applied"],
        "accounts": len(again),
        "markets": len(again.held_markets()),
        "peak_rss_mb": peak,
        "rss_after_imports_mb": rss0,
        "node_s": t3 - t2,
        "keeper_s": t4 - t3,
        "answer_mb": sum(map(len, bodies)) / 2**20,
    }


def bench_scale() -> dict:
    """The scale rows: a real anvil with the emitter, the sync in a child process, the reorg
    recovery and the per-block scan in this one."""
    from chain.rpc import Rpc
    from devnet.anvil import Anvil, rpc
    from keepers.positions import EventSync

    with Anvil() as anvil:
        url = anvil.url
        sender, emitter, deploy_block = deploy_emitter(url)
        emit_book(url, sender, emitter, 0, SCALE_ACCOUNTS)
        child = subprocess.run(
            [sys.executable, "-m", "scripts.bench_keepers", "--sync-child", url, emitter, str(deploy_block)],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=Path(__file__).resolve().parents[1],
        )
        if child.returncode:
            raise RuntimeError(f"sync child failed: {child.stderr[-2000:]}")
        out = json.loads(child.stdout.strip().splitlines()[-1])

        # reorg recovery: synced book, 3 blocks of new trading, then those 3 blocks replaced
        raw = Rpc(url, timeout=120)
        book = PositionBook()
        sync = EventSync(None, emitter, deploy_block, book, chunk=PAGE_BLOCKS, rpc=raw)
        sync.sync(*_head(raw))
        snap = rpc(url, "evm_snapshot")
        emit_book(url, sender, emitter, 0, 3 * ACCOUNTS_PER_TX, salt=1)  # 3 blocks rewriting 750 accounts
        sync.sync(*_head(raw))
        rpc(url, "evm_revert", [snap])
        emit_book(url, sender, emitter, 0, 3 * ACCOUNTS_PER_TX, salt=2)  # the branch that wins
        t0 = time.perf_counter()
        r = sync.sync(*_head(raw))
        out["reorg_s"] = time.perf_counter() - t0
        out["reorg_logs_replayed"] = r["logs_applied"]
        out["reorg_full_resync"] = r["resync"]
        out["reorg_depth"] = _head(raw)[0] - r["fork_block"] if r["fork_block"] is not None else None
        # a restart from the checkpoint: load it, re-verify the hashes, replay nothing new
        with tempfile.TemporaryDirectory() as tmp:
            ck = Path(tmp) / "liquidator.npz"
            t0 = time.perf_counter()
            sync.save(ck)
            out["checkpoint_save_s"] = time.perf_counter() - t0
            out["checkpoint_mb"] = ck.stat().st_size / 2**20
            t0 = time.perf_counter()
            restarted = EventSync(None, emitter, deploy_block, PositionBook(), chunk=PAGE_BLOCKS, rpc=raw)
            restarted.load(ck)
            rr = restarted.sync(*_head(raw))
            out["restart_s"] = time.perf_counter() - t0
            out["restart_full"] = rr["resync"]
        check = PositionBook()
        EventSync(None, emitter, deploy_block, check, chunk=PAGE_BLOCKS, rpc=raw).sync(*_head(raw))
        out["reorg_book_equals_rebuild"] = _held(book) == _held(check)
    out.update(bench_history())
    return out


def _held(book: PositionBook) -> tuple[dict, dict]:
    """(collateral by account, {(account, market): (qty, open notional)} of open positions)."""
    c = book.cells()
    held = c.qty != 0
    cells = {
        (book.accounts[r], book.market_ids[j]): (q, on)
        for r, j, q, on in zip(c.row[held], c.col[held], c.qty[held], c.open_notional[held], strict=True)
    }
    return {a: book.collateral[i] for a, i in book.index.items() if book.collateral[i]}, cells


def bench_history(repeats: int = 5) -> dict:
    """Per-block scan of the synced shape (10,000 accounts x 10 positions over 1,000 live
    markets), then the same book after 4,000 older markets were held (5 positions per account)
    and settled: their flat cells leave the scan (compaction) and no settled market is read."""
    rng = np.random.default_rng(4)
    n, live = SCALE_ACCOUNTS, SCALE_MARKETS
    accounts = [f"0x{k + 4096:040x}" for k in range(n)]
    rows = np.repeat(np.arange(n), SCALE_PER_ACCOUNT)
    mids = (np.arange(n)[:, None] * 13 + np.arange(SCALE_PER_ACCOUNT)[None, :] * 97) % live + 1
    q = rng.integers(-1000, 1000, n * SCALE_PER_ACCOUNT) * 100.0 + 100.0
    coll = rng.integers(1_000, 100_000, n) * float(USD_SCALE)

    def timed(book: PositionBook) -> float:
        mv = synthetic_markets(len(book.market_ids))
        best = float("inf")
        for _ in range(repeats):
            t = time.perf_counter()
            r = screen_cells(book.cells(), book.collateral, mv)
            np.argsort(-r.shortfall[r.liquidatable])
            best = min(best, time.perf_counter() - t)
        return best

    fresh = PositionBook()
    fresh.set_cells(accounts, rows, mids.ravel() + SCALE_HISTORY, q, q * 50, coll)
    t_live = timed(fresh)
    # history: the same accounts held 5 positions each in 4,000 earlier markets, all settled
    hist = PositionBook()
    old_rows = np.repeat(np.arange(n), 5)
    old_mids = (np.arange(n)[:, None] * 7 + np.arange(5)[None, :] * 800) % SCALE_HISTORY + 1
    hist.set_cells(
        accounts,
        np.concatenate([old_rows, rows]),
        np.concatenate([old_mids.ravel(), mids.ravel() + SCALE_HISTORY]),
        np.concatenate([np.zeros(len(old_rows)), q]),  # settled: every old position closed (flat)
        np.concatenate([np.zeros(len(old_rows)), q * 50]),
        coll,
    )
    hist.journal_above = 1  # the settlements are below the reorg window
    cells_before = len(hist.cells().qty)
    hist.compact()
    return {
        "scan_live_s": t_live,
        "scan_history_s": timed(hist),
        "history_columns": len(hist.market_ids),
        "history_cells_before_compact": cells_before,
        "history_cells_scanned": len(hist.cells().qty),
        "markets_read_live": len(fresh.held_markets()),
        "markets_read_history": len(hist.held_markets()),
    }


def scale_rows(r: dict) -> list[dict]:
    n, m = f"{SCALE_ACCOUNTS:,}", f"{SCALE_MARKETS:,}"
    return [
        {
            "name": f"liquidator initial sync, {n} accounts x {SCALE_PER_ACCOUNT} positions over {m} live markets "
            f"({r['logs']:,} logs from anvil's eth_getLogs, {PAGE_BLOCKS}-block pages)",
            "value": round(r["sync_s"], 2),
            "unit": "s",
            "target": "<= 2",
        },
        {
            "name": f"  of which the node answering eth_getLogs ({r['answer_mb']:.0f} MB of JSON), pages fetched alone",
            "value": round(r["node_s"], 2),
            "unit": "s",
            "target": None,
        },
        {
            "name": "  of which the keeper: decode (msgspec) + apply to the book, from those bytes",
            "value": round(r["keeper_s"], 2),
            "unit": "s",
            "target": None,
        },
        {
            "name": "  same sync: per log",
            "value": round(r["sync_s"] / max(r["logs"], 1) * 1_000_000, 1),
            "unit": "us",
            "target": "(was ~105)",
        },
        {
            "name": f"  same sync: peak RSS of the whole process (after imports: {r['rss_after_imports_mb']:.0f} MB)",
            "value": round(r["peak_rss_mb"]),
            "unit": "MB",
            "target": "<= 300",
        },
        {"name": "  first health scan after the sync", "value": round(r["scan_s"], 4), "unit": "s", "target": None},
        {
            "name": f"liquidator per-block scan, {m} live markets with positions",
            "value": round(r["scan_live_s"] * 1e3, 1),
            "unit": "ms",
            "target": None,
        },
        {
            "name": f"  same accounts with {SCALE_HISTORY:,} settled markets in history "
            f"({r['history_cells_before_compact']:,} cells before compaction, {r['history_cells_scanned']:,} scanned)",
            "value": round(r["scan_history_s"] * 1e3, 1),
            "unit": "ms",
            "target": "~ the row above",
        },
        {
            "name": f"  markets read per block (mark + state): live only / with {SCALE_HISTORY:,} settled in history",
            "value": f"{r['markets_read_live']:,} / {r['markets_read_history']:,}",
            "unit": "markets",
            "target": "equal",
        },
        {
            "name": f"3-block reorg on anvil (evm_snapshot/evm_revert, {3 * ACCOUNTS_PER_TX} accounts rewritten): "
            f"roll back + replay; {r['reorg_logs_replayed']:,} logs replayed, full resync: {r['reorg_full_resync']}, "
            f"book equals a rebuild: {r['reorg_book_equals_rebuild']}",
            "value": round(r["reorg_s"], 3),
            "unit": "s",
            "target": "< initial sync",
        },
        {
            "name": f"restart from the checkpoint ({r['checkpoint_mb']:.1f} MB .npz, written in "
            f"{r['checkpoint_save_s'] * 1e3:.0f} ms): load + verify hashes + catch up; full resync: {r['restart_full']}",
            "value": round(r["restart_s"], 3),
            "unit": "s",
            "target": "< initial sync",
        },
    ]


def run(shock: bool = True) -> list[dict]:
    rows = []
    for n in (1_000, 10_000, 100_000):
        s = bench_scan(n)
        rows.append(
            {
                "name": f"liquidator health scan, {n:,} accounts x {POSITIONS_PER_ACCOUNT} positions",
                "value": round(n / s),
                "unit": "accounts/s",
                "target": None,
            }
        )
        if n == 100_000:
            rows.append(
                {
                    "name": "liquidator health scan, 100,000 accounts: compute time after sync",
                    "value": round(s, 4),
                    "unit": "s",
                    "target": "< 1",
                }
            )
    rows += scale_rows(bench_scale())
    if shock:
        r = bench_shock()
        rows.append(
            {
                "name": f"Uri shock (ERCOT HB_WEST ATC 2021-02-14): blocks from price update to last of "
                f"{r['accounts']} liquidations/deleverages",
                "value": r["blocks"],
                "unit": "blocks",
                "target": "<= 2",
            }
        )
    return rows


if __name__ == "__main__":
    if sys.argv[1:2] == ["--sync-child"]:
        print(json.dumps(sync_child(sys.argv[2], sys.argv[3], int(sys.argv[4]))))
        raise SystemExit(0)
    for row in run(shock="--no-shock" not in sys.argv):
        print(f"{row['name']}: {row['value']} {row['unit']} (target {row['target']})")
