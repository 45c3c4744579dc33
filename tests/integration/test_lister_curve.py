"""A standing curve on a devnet (issue 10 acceptance): anvil on a free port, the real deploy
script approving the series templates of a markets file, three reporters, the pusher, the
settler and the lister, each started as a user runs them (devnet.stack). The chain clock is
warped through three days in 6-hour steps; at every step:

- each approved series is listed to its depth at the new chain time (core.series.windows, the
  real rule: 48 hourly windows, 14 days, 12 months; market_of != 0 for every one of them);
- no window is listed twice (MarketListedFromTemplate events unique per (template, start), none
  the same spec and window as a market the deploy listed itself, every market id on chain
  accounted for);
- every window whose delivery ended before the previous step, and whose settlement value has
  stood its dispute window since, is finalised by the settler and nobody holds it any more.

Reduced template set (so the test runs in minutes on a shared machine): ERCOT HB_WEST DA HOURLY
(hourly), HB_WEST DA ATC (daily) and HB_WEST DA PEAK (monthly) from markets/default.json, on the
clock of June 2021 where the vendored ERCOT data replay unshifted (the settlement values are the
real day-ahead prices). The depth rule is the real one.

Also measured (printed; pytest -s): wall time and gas for the lister to bring the fresh devnet to
full depth, and the live market count.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import pytest

from devnet.stack import Stack

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_622_523_600  # 2021-06-01T05:00Z = 00:00 CDT
STEP = 6 * 3600
STEPS = 12  # 3 days
BOND = "0.01"  # ETH a listing posts


def _markets_file(tmp: Path) -> Path:
    default = json.loads((ROOT / "markets" / "default.json").read_text())["markets"]
    keep = []
    for e in default:
        s = e["spec"]
        if s["kind"] == "POWER" and s["node"] == "HB_WEST" and s["profile"] in ("HOURLY", "ATC", "PEAK"):
            keep.append({**e, "bond": BOND})
    assert {e["delivery"]["period"] for e in keep} == {"hour", "day", "month"}
    p = tmp / "curve.json"
    p.write_text(json.dumps({"about": "test_lister_curve: HB_WEST hourly, daily ATC, monthly PEAK", "markets": keep}))
    return p


def _wait(cond, timeout: float, what: str, stack: Stack, interval: float = 0.5):
    return stack.wait_until(cond, timeout, interval, what)


@pytest.fixture(scope="module")
def curve(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("curve")
    markets = _markets_file(tmp)
    stack = Stack(tmp / "stack", anvil_timestamp=T0, markets=markets, relay=False, market_maker=False)
    t_start = time.monotonic()
    try:
        stack.start()
    except BaseException:
        stack.stop()
        raise
    if not stack.templated:
        stack.stop()
        pytest.skip(
            "this deployment lists nothing from templates (no list_from_template: the issue-10 deploy is not merged)"
        )
    try:
        yield stack, markets, t_start
    finally:
        stack.stop()


class Curve:
    """What the chain says about the curve, read with plain web3 (not the lister's code)."""

    def __init__(self, stack: Stack, markets: Path):
        from core import series as cs

        self.cs, self.stack = cs, stack
        self.ch = stack.contract("Clearinghouse")
        self.reg = stack.contract(stack.registry)  # templates, market_of, MarketListedFromTemplate
        self.oracle = stack.contract("Oracle")
        by_key = {(s.spec_hash, s.cadence): s for s in cs.load_series(str(markets))}
        (out,) = [e for e in self.reg.abi if e.get("name") == "template" and e["type"] == "function"]
        names = [c["name"] for c in out["outputs"][0]["components"]]
        self.series = {}
        for tid in range(1, self.reg.functions.template_count().call() + 1):
            t = dict(zip(names, self.reg.functions.template(tid).call(), strict=True))
            s = by_key[(bytes(t["spec_hash"]), int(t["cadence"]))]
            self.series[tid] = dataclasses.replace(
                s, last_trade_offset=int(t["last_trade_offset"]), max_horizon=int(t["max_horizon"])
            )
        assert len(self.series) == 3

    def due(self, now: int) -> dict[int, list[tuple[int, int]]]:
        return {tid: self.cs.windows(s, now) for tid, s in self.series.items()}

    def deployed(self) -> set[str]:
        """spec hashes of the markets the deploy listed itself (Clearinghouse.list_market)."""
        return {m["spec_hash"].lower() for m in self.stack.manifest["markets"]}

    def window_hash(self, tid: int, a: int, b: int) -> str:
        from core.specs import spec_hash

        return spec_hash(self.series[tid].market_spec(a, b)).lower()

    def missing(self, now: int) -> list[tuple[int, int]]:
        """Due windows neither listed from their template nor listed by the deploy."""
        deployed = self.deployed()
        return [
            (tid, a)
            for tid, wins in self.due(now).items()
            for a, b in wins
            if self.window_hash(tid, a, b) not in deployed and self.reg.functions.market_of(tid, a).call() == 0
        ]

    def listings(self) -> list[dict]:
        ev = self.reg.events.MarketListedFromTemplate
        return [dict(e["args"], tx=e["transactionHash"]) for e in ev.get_logs(from_block=0)]


def test_lister_keeps_the_curve_listed_and_the_settler_settles_it__three_days(curve):
    stack, markets, t_start = curve
    c = Curve(stack, markets)
    lister = stack.address("lister")

    # ------------------------------------------------------------ fresh devnet to full depth
    now = stack.now()
    _wait(lambda: not c.missing(stack.now()), 300, "the lister brings the curve to full depth", stack)
    took = time.monotonic() - t_start
    depth = {tid: len(w) for tid, w in c.due(now).items()}
    assert sorted(depth.values()) == [12, 14, 48]  # monthly, daily, hourly: the real rule
    rows = c.listings()
    mine = [r for r in rows if r["lister"] == lister]
    gas = sum(stack.w3.eth.get_transaction_receipt(r["tx"])["gasUsed"] for r in mine)
    print(
        f"\nLISTER full depth: {len(mine)} listings by the lister ({len(rows)} from templates in all) in "
        f"{took:.0f} s from stack start; gas {gas:,} ({gas // max(1, len(mine)):,} per listing); "
        f"live markets {stack.contract('Clearinghouse').functions.market_count().call()}"
    )
    assert all(r["lister"] == lister for r in mine) and mine
    assert max(stack.w3.eth.get_transaction_receipt(r["tx"])["gasUsed"] for r in mine) <= 150_000

    # ------------------------------------------------------------ three days, 6 h at a time
    expired_before: int | None = None
    settled_seen = 0
    for step in range(STEPS):
        stack.warp(STEP)
        now = stack.now()
        _wait(lambda: not c.missing(stack.now()), 120, f"step {step}: every series listed to its depth", stack)

        rows = c.listings()
        keys = [(int(r["template_id"]), int(r["delivery_start"])) for r in rows]
        assert len(keys) == len(set(keys)), "a window listed twice"
        ids = [int(r["market_id"]) for r in rows]
        assert len(ids) == len(set(ids))
        every = [int(e["args"]["market_id"]) for e in c.ch.events.MarketListed.get_logs(from_block=0)]
        assert c.ch.functions.market_count().call() == len(every) == len(set(every)) and set(ids) <= set(every)
        # nor listed once by the deploy and again from its template (same spec, same window)
        windows = [c.window_hash(int(r["template_id"]), int(r["delivery_start"]), int(r["delivery_end"])) for r in rows]
        assert not set(windows) & c.deployed(), "a deploy market listed again from its template"

        # settlement values of what just expired are published by the pusher ...
        just_expired = [r for r in rows if int(r["delivery_end"]) <= now]
        for r in just_expired:
            s = c.series[int(r["template_id"])]
            feed = c.cs.feed_id(s.settlement_class, int(r["delivery_start"]), int(r["delivery_end"]))

            def pushed(feed=feed, end=int(r["delivery_end"]), mid=int(r["market_id"])):
                return c.oracle.functions.feed(feed).call()[1] >= end or c.ch.functions.market_state(mid).call()[1]

            _wait(pushed, 120, f"step {step}: settlement value of market {r['market_id']}", stack)
        # ... and what expired before the previous step has stood its dispute window: finalised
        if expired_before is not None:
            due = [r for r in rows if int(r["delivery_end"]) <= expired_before]
            _wait(
                lambda due=due: all(c.ch.functions.market_state(r["market_id"]).call()[1] for r in due),
                120,
                f"step {step}: {len(due)} expired markets finalised by the settler",
                stack,
            )
            settled_seen = len(due)
        expired_before = now

    assert settled_seen >= 2 * 24 + 2  # two days of hours and two days settled at least
    bonds = [r for r in c.listings() if r["lister"] == lister]
    if any(e.get("name") == "claim_listing_bond" for e in c.reg.abi):  # the lister claims its settled bonds
        settled_mine = [
            int(r["market_id"]) for r in bonds if c.ch.functions.market_state(int(r["market_id"])).call()[1]
        ]
        # the lister re-checks a not-yet-settled market with a backoff in chain time (up to an hour,
        # keepers.lister.BOND_RECHECK_MAX): past the last warp the chain clock only creeps, so move
        # it past the longest backoff (run 3 failed: the 120 s wait ran out on a pending re-check)
        stack.warp(3_600)
        _wait(
            lambda: (
                set(settled_mine)
                <= {int(e["args"]["market_id"]) for e in c.reg.events.ListingBondClaimed.get_logs(from_block=0)}
            ),
            120,
            "the lister claims back the bond of every settled market it listed",
            stack,
        )

    print(
        f"LISTER after 3 days: {len(bonds)} listings, {settled_seen} settled, market_count "
        f"{c.ch.functions.market_count().call()}"
    )
