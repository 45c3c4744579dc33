"""Pool manager: size and roll a pool's hedge (issue 15) from its members' declared capacity,
within the limits the members set on chain, through the pool's approve_order / EIP-1271 path.

Plain logic: :func:`plan_hedge` turns what the chain says (each allowed market's hedge cap, its
initial margin per unit at the mark, the pool's equity and margin) into a signed target per
market: short ``target_bps`` of the hedge cap in every allowed window still trading, nearest
window first, until the initial margin would pass ``margin_use_bps`` of the members'
``max_margin_bps`` of equity (the rest of the curve waits for margin to free). As a window stops
trading it drops out of the plan and its margin goes to the next windows: the hedge rolls.
:func:`order_for` is the one order that moves a market from where it is (position + approved,
unfilled orders) to its target, priced inside the pool's slippage band.

:class:`PoolManager` reads the listed markets through ``sdk.Reader.listed_markets`` (every window
of a standing curve, templated or not) and keeps only those the pool allows
(``market_config``); it learns its own open approvals from the pool's ``OrderApproved`` /
``OrderRevoked`` logs since the pool's deploy block and the Exchange's ``filled``, so a restart
sends nothing twice (the chain is its only memory). An approval that no longer passes the
pool's check (a mark moved, capacity withdrawn) or that overshoots the target is revoked.

The contract, not this keeper, enforces the limits: every approval and every fill is checked
by the pool. A taker fills the approved orders (the relay's matcher or anyone: the pool's
signature is its on-chain approval). With ``--relay-url`` every live approval is posted to the
relay once it is mined, with an empty signature: the relay asks the pool's EIP-1271
``isValidSignature`` (relay/validation.py), which accepts exactly the approved orders, so any
taker on the venue sees and fills them; a refused or unreachable post is retried next block.

    cspread-pool-manager --manifest deployments/31337.json --rpc-url http://127.0.0.1:8545 \\
        --pool default --key-env MANAGER_KEY

Units: quantities in thousandths of a unit (GPU-hours), prices and margin in collateral base units.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from itertools import groupby

from pydantic import field_validator
from web3 import Web3

from chain.rpc import Chain, Head, batch_call
from core import abi as core_abi
from core import units as u
from core.options import add_shared
from keepers.chain import KeeperSettings, Metrics, build_sender, kv, load_settings, main_loop
from keepers.cli import add_keeper_args, keeper_overrides
from sdk.reader import Reader

log = logging.getLogger("keepers.pool_manager")
MAX_APPROVAL_LIFE = 7 * 86_400  # Pool.MAX_APPROVAL_LIFE (s)
BPS = u.BPS
QS = u.QUANTITY_SCALE


@dataclass(frozen=True)
class HedgeMarket:
    """One allowed market as the plan sees it (quantities in thousandths, money in base units)."""

    market_id: int
    delivery_start: int
    position: int  # signed
    hedge_cap: int  # largest |position| the members' limits allow
    im_per_unit: int  # initial margin per unit at the current mark
    step: int  # quantity step
    min_quantity: int
    tradable: bool  # fresh mark and before its last trade time


@dataclass(frozen=True)
class Order:
    market_id: int
    is_buy: bool
    quantity: int
    price: int


def _floor_to(q: int, step: int) -> int:
    return q // step * step if step > 0 else q


def plan_hedge(
    markets: list[HedgeMarket], equity: int, initial: int, max_margin_bps: int, target_bps: int, margin_use_bps: int
) -> dict[int, int]:
    """Signed target position (short <= 0) per tradable market. The margin budget is
    ``equity x max_margin_bps x margin_use_bps``; the margin of positions the plan cannot change
    (markets past their last trade time, awaiting settlement) is taken off it first, then the
    windows are filled nearest first, each up to ``target_bps`` of its hedge cap; windows of the
    same period (one month at several nodes) share the budget left pro rata to what they want."""
    if equity <= 0:
        return {m.market_id: 0 for m in markets if m.tradable}
    budget = equity * max_margin_bps * margin_use_bps // (BPS * BPS)
    movable = sum(abs(m.position) * m.im_per_unit // QS for m in markets if m.tradable)
    left = budget - max(0, initial - movable)
    out: dict[int, int] = {}
    live = sorted((m for m in markets if m.tradable), key=lambda m: (m.delivery_start, m.market_id))
    for _, group in groupby(live, key=lambda m: m.delivery_start):
        group = list(group)
        # windows of the same period (the same month at several nodes) share what is left pro rata
        wants = {m.market_id: m.hedge_cap * target_bps // BPS for m in group}
        need = sum(wants[m.market_id] * m.im_per_unit // QS for m in group)
        avail = max(0, left)
        for m in group:
            q = wants[m.market_id] if need <= avail else wants[m.market_id] * avail // need
            q = _floor_to(q, m.step)
            if q < m.min_quantity:
                q = 0
            left -= q * m.im_per_unit // QS + (1 if q else 0)
            out[m.market_id] = -q
    return out


def order_for(
    target: int, position: int, pending: int, mark: int, tick: int, band: int, edge_bps: int, step: int, min_qty: int
) -> Order | None:
    """The order taking `position + pending` to `target` (None when within one step, or below the
    market's minimum), priced `edge_bps` of |mark| through the mark (a seller asks below it, a
    buyer bids above it: a taker's reason to fill), never beyond the pool's slippage `band`."""
    diff = _floor_to(abs(target - position - pending), step)
    if diff < max(step, min_qty):
        return None
    is_buy = target > position + pending
    edge = min(band, abs(mark) * edge_bps // BPS)
    if is_buy:  # round down: stays inside mark + band
        price = (mark + edge) // tick * tick
    else:  # round up: stays inside mark - band
        price = -((-(mark - edge)) // tick) * tick
    return Order(0, is_buy, diff, price)


class PoolManagerSettings(KeeperSettings):
    pool: str = "default"  # a name under the manifest's "pools" or the pool's address
    poll_interval: float = 2.0
    target_bps: int = 10_000  # share of the hedge cap to hold in each window
    margin_use_bps: int = 9_000  # share of the members' margin cap the plan may use
    edge_bps: int = 50  # an order's price through the mark, bps of |mark|
    order_life: int = 6 * 3_600  # s an approval lives (<= 7 days)
    relay_url: str | None = None  # order relay the live approvals are posted to (None: chain only)

    @field_validator("relay_url")
    @classmethod
    def _relay(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError(f"relay URL must be http(s)://, got {v!r}")
        return v

    @field_validator("target_bps", "margin_use_bps")
    @classmethod
    def _bps(cls, v: int) -> int:
        if not 0 <= v <= BPS:
            raise ValueError(f"must be 0..{BPS}")
        return v

    @field_validator("order_life")
    @classmethod
    def _life(cls, v: int) -> int:
        if not 60 <= v <= MAX_APPROVAL_LIFE:
            raise ValueError(f"must be 60..{MAX_APPROVAL_LIFE} s (the pool's MAX_APPROVAL_LIFE)")
        return v


def resolve_pool(manifest_data: dict, ref: str) -> tuple[str, int]:
    """(address, deploy block) of the pool named `ref` in the manifest's "pools", or at address `ref`."""
    pools = manifest_data.get("pools") or {}
    if ref in pools:
        return Web3.to_checksum_address(pools[ref]["address"]), int(pools[ref].get("block", 0))
    if Web3.is_address(ref):
        for e in pools.values():
            if e["address"].lower() == ref.lower():
                return Web3.to_checksum_address(ref), int(e.get("block", 0))
        return Web3.to_checksum_address(ref), int(manifest_data.get("block", 0))
    raise ValueError(f"no pool {ref!r} in the manifest (pools: {', '.join(pools) or 'none'})")


class PoolManager:
    name = "pool_manager"

    def __init__(self, settings: PoolManagerSettings, chain: Chain, metrics: Metrics, sender=None, relay=None):
        """``relay``: an sdk RelayClient to post approvals to (default: one for ``settings.relay_url``)."""
        self.s, self.chain, self.metrics = settings, chain, metrics
        manifest = settings.load_manifest()
        self.reader = Reader(manifest, settings.rpc_url, w3=chain.w3)
        address, self.from_block = resolve_pool(manifest.data, settings.pool)
        self.pool = chain.w3.eth.contract(address=address, abi=core_abi.abi("Pool"))
        self.ex = manifest.contract(chain.w3, "Exchange")
        self.ch = manifest.contract(chain.w3, "Clearinghouse")
        self.sender = sender or build_sender(settings, chain.w3, metrics, log)
        self.approved: dict[bytes, tuple] = {}  # order hash -> order tuple, from the pool's logs
        self.scanned = self.from_block - 1
        self.nonce_seq = 0
        self.last_targets: dict[int, int] = {}  # the plan of the last rebalance (market -> signed target)
        self.m_approved = metrics.counter("approvals_total", "approve_order txs sent")
        self.m_revoked = metrics.counter("revocations_total", "revoke_order txs sent")
        self.m_hedged = metrics.gauge("hedged_units", "|position| summed over the pool's markets (thousandths)")
        self.m_posted = metrics.counter("relay_posts_total", "approved orders the relay accepted")
        if relay is None and settings.relay_url:
            from sdk.relay_client import RelayClient

            relay = RelayClient(settings.relay_url)
        self.relay = relay
        self.posted: set[bytes] = set()  # approvals the relay holds (accepted or duplicate)

    # ------------------------------------------------------------ chain reads
    def _scan(self, head: Head) -> None:
        """Approvals and revocations of the pool since the last scan (the chain is the memory)."""
        if head.number <= self.scanned:
            self.scanned = self.from_block - 1  # the chain went back: read it all again
            self.approved.clear()
        lo = self.scanned + 1
        step = max(1, self.s.log_chunk)
        for a in range(lo, head.number + 1, step):
            b = min(head.number, a + step - 1)
            for ev in self.pool.events.OrderApproved.get_logs(from_block=a, to_block=b):
                h = bytes(ev.args.order_hash)
                self.approved[h] = tuple(self.pool.functions.approved(h).call(block_identifier=b))
            for ev in self.pool.events.OrderRevoked.get_logs(from_block=a, to_block=b):
                self.approved.pop(bytes(ev.args.order_hash), None)
        self.scanned = head.number

    def open_approvals(self, now: int) -> dict[bytes, tuple[tuple, int]]:
        """Order hash -> (order, remaining thousandths) of approvals still live (unexpired, not
        fully filled, not cancelled); the rest are forgotten."""
        out = {}
        for h, o in list(self.approved.items()):
            if o[0] == "0x0000000000000000000000000000000000000000" or o[6] <= now:
                self.approved.pop(h)
                continue
            left = o[3] - int(self.ex.functions.filled(h).call())
            if left <= 0 or self.ex.functions.cancelled(h).call():
                self.approved.pop(h)
                continue
            out[h] = (o, left)
        return out

    def allowed_markets(self) -> list:
        # one JSON-RPC batch: a templated devnet lists ~630 markets, one round trip each took seconds a block
        listed = self.reader.listed_markets(limit=None)
        configs = []
        for i in range(0, len(listed), 500):
            configs += batch_call(self.chain.w3, [self.pool.functions.market_config(m.id) for m in listed[i : i + 500]])
        return [m for m, (_, units_per_gpu) in zip(listed, configs, strict=True) if units_per_gpu > 0]

    def state(self, now: int) -> tuple[list[HedgeMarket], dict[int, tuple], int, int, tuple]:
        """(the plan's markets, market id -> (mark, tick, static market), equity, initial margin, limits)."""
        limits = tuple(self.pool.functions.limits().call())
        equity = int(self.ch.functions.equity(self.pool.address).call())
        initial, _ = self.ch.functions.margin_requirements(self.pool.address).call()
        held = set(self.ch.functions.open_markets(self.pool.address).call())
        markets, info = [], {}
        for lm in self.allowed_markets():
            m = self.reader._static_market(lm.id)
            if now >= m.delivery_end and lm.id not in held:
                continue
            mark, _, fresh = self.ch.functions.mark(lm.id).call()
            q, _ = self.ch.functions.position(self.pool.address, lm.id).call()
            per_unit = m.im_fixed + m.im_rate_bps * abs(mark) // BPS
            tradable = bool(fresh) and now < m.last_trade_time
            markets.append(
                HedgeMarket(
                    lm.id,
                    m.delivery_start,
                    int(q),
                    int(self.pool.functions.hedge_cap(lm.id).call()),
                    per_unit,
                    m.quantity_step,
                    m.min_quantity,
                    tradable,
                )
            )
            info[lm.id] = (int(mark), m.price_tick, m)
        return markets, info, equity, int(initial), limits

    # ------------------------------------------------------------ keeper
    def start(self, head: Head) -> dict:
        self.sender.sync_nonce()
        self._scan(head)
        return {
            "pool": self.pool.address,
            "open_approvals": len(self.open_approvals(head.timestamp)),
            "signer": self.sender.address,
            "dry_run": self.sender.dry,
        }

    def on_reconnect(self, head: Head) -> None:
        self.sender.reset()

    def on_block(self, head: Head) -> dict:
        for o in self.sender.poll(head.number):
            kv(
                log,
                logging.INFO if o.status == "mined" else logging.WARNING,
                f"{o.meta.get('kind')} {o.status}",
                tx=o.tx_hash,
            )
        self._scan(head)
        return self.rebalance(head)

    def post_to_relay(self, live: dict[bytes, tuple[tuple, int]]) -> int:
        """Post each live, mined approval the relay does not hold yet; returns how many it took.
        The signature is empty: the relay (and the Exchange at fill) asks the pool's EIP-1271."""
        if self.relay is None:
            return 0
        from sdk.errors import RelayError
        from sdk.models import Order, SignedOrder

        self.posted &= set(live)  # filled, expired or revoked: forget
        n = 0
        for h, (o, _) in live.items():
            if h in self.posted:
                continue
            signed = SignedOrder(Order(*o), "0x", "0x" + h.hex())
            try:
                self.relay.post_order(signed)
            except RelayError as e:  # refused or unreachable: the next block tries again
                kv(log, logging.WARNING, "relay refused the approval", order_hash="0x" + h.hex(), error=str(e))
                continue
            self.posted.add(h)
            n += 1
        self.m_posted.inc(n)
        return n

    def rebalance(self, head: Head) -> dict:
        markets, info, equity, initial, limits = self.state(head.timestamp)
        max_hedge_bps, max_margin_bps, slip_bps, slip_fixed, _ = limits
        targets = plan_hedge(markets, equity, initial, max_margin_bps, self.s.target_bps, self.s.margin_use_bps)
        self.last_targets = targets
        live = self.open_approvals(head.timestamp)
        posted = self.post_to_relay(live)
        by_market: dict[int, list[tuple[bytes, tuple, int]]] = {}
        for h, (o, left) in live.items():
            by_market.setdefault(o[1], []).append((h, o, left))
        approvals = revocations = 0
        for m in markets:
            mark, tick, _ = info[m.market_id]
            target = targets.get(m.market_id)
            mine = by_market.get(m.market_id, [])
            # an approval that would no longer fill, or any approval once the market stops trading
            stale = [h for h, o, left in mine if target is None or self.pool.functions.check_order(o, left).call() != 0]
            pending = sum((left if o[2] else -left) for h, o, left in mine if h not in stale)
            need = 0 if target is None else target - m.position
            if pending and (pending * need <= 0 or abs(pending) > abs(need) + m.step):
                # the approvals overshoot or oppose the target (it moved): withdraw them all, re-plan next block
                stale = [h for h, _, _ in mine]
            for h in stale:
                r = self.sender.send(
                    f"revoke:{h.hex()}",
                    self.pool.functions.revoke_order(h),
                    head.number,
                    kind="revoke",
                    meta={"kind": "revoke"},
                    describe={"market_id": m.market_id},
                )
                revocations += r.status in ("sent", "dry")
            if target is None or stale:
                continue
            band = slip_fixed + slip_bps * abs(mark) // BPS
            o = order_for(target, m.position, pending, mark, tick, band, self.s.edge_bps, m.step, m.min_quantity)
            if o is None:
                continue
            self.nonce_seq += 1
            order = (
                self.pool.address,
                m.market_id,
                o.is_buy,
                o.quantity,
                o.price,
                head.number * 1_000 + self.nonce_seq % 1_000,
                head.timestamp + self.s.order_life,
                False,
            )
            r = self.sender.send(
                f"approve:{m.market_id}",
                self.pool.functions.approve_order(order),
                head.number,
                kind="approve",
                meta={"kind": "approve", "market_id": m.market_id},
                describe={"market_id": m.market_id, "is_buy": o.is_buy, "quantity": o.quantity, "price": o.price},
            )
            approvals += r.status in ("sent", "dry")
        self.m_approved.inc(approvals)
        self.m_revoked.inc(revocations)
        hedged = sum(abs(m.position) for m in markets)
        self.m_hedged.set(hedged)
        return {
            "markets": len(markets),
            "hedged": hedged,
            "targets": sum(-t for t in targets.values()),
            "open_approvals": len(live),
            "approvals_sent": approvals,
            "revocations_sent": revocations,
            "relay_posts": posted,
        }


def build(settings: PoolManagerSettings, chain: Chain, metrics: Metrics) -> PoolManager:
    return PoolManager(settings, chain, metrics)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="cspread-pool-manager", description="Compute Spread pool manager")
    add_keeper_args(p)
    add_shared(p, "--relay-url", helps={"--relay-url": "order relay the pool's approved orders are posted to"})
    p.add_argument("--pool", help="pool name in the manifest's pools, or its address [env CSPREAD_POOL]")
    p.add_argument("--target-bps", type=int, help="share of the hedge cap to hold, bps [env CSPREAD_TARGET_BPS]")
    p.add_argument(
        "--margin-use-bps", type=int, help="share of the margin cap the plan may use, bps [env CSPREAD_MARGIN_USE_BPS]"
    )
    p.add_argument("--edge-bps", type=int, help="order price through the mark, bps [env CSPREAD_EDGE_BPS]")
    p.add_argument("--order-life", type=int, help="seconds an approval lives [env CSPREAD_ORDER_LIFE]")
    a = p.parse_args(argv)
    own = dict(
        pool=a.pool,
        target_bps=a.target_bps,
        margin_use_bps=a.margin_use_bps,
        edge_bps=a.edge_bps,
        order_life=a.order_life,
        relay_url=a.relay_url,
    )
    s = load_settings(PoolManagerSettings, keeper_overrides(a, **own))
    return main_loop("pool_manager", s, build, once=a.once)


if __name__ == "__main__":
    raise SystemExit(main())
