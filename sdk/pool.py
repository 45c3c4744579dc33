"""Pools (issue 15): join and leave a pool vault, see my share, the pool's positions, how much of
its members' declared capacity they hedge, and the margin it posts per hedged GPU-hour.

    from sdk import Client
    from sdk.pool import PoolClient
    c = Client("deployments/31337.json", "http://127.0.0.1:8545", private_key="0x...")
    p = PoolClient(c, "0xPool...")
    p.join(Decimal("5000")); p.declare("H100-SXM", "HB_WEST", 4, Decimal("0.5"))
    p.my_share(); p.positions(); p.hedged_margin_per_gpu_hour()
    p.leave(Decimal("1000"))          # paid now, or queued beyond free collateral

Reads go through the Pool's and the Clearinghouse's views (plain web3 contracts, ABI from
core/abis/Pool.json); writes through the Client's one TxSender (`Client._transact`: simulate,
typed errors, fee bumping). Units: USD as Decimal in, Decimal out; every conversion is core.units'.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core import abi as core_abi
from core import units as u

ZERO_ADDRESS = "0x" + "00" * 20  # maxDeposit ignores its receiver


def _text32(s: str | bytes) -> bytes:
    """A GPU class or node name as the bytes32 the pool stores (UTF-8, right-padded)."""
    b = s if isinstance(s, bytes) else s.encode()
    if len(b) > 32:
        raise ValueError(f"{s!r} is longer than 32 bytes")
    return b.ljust(32, b"\0")


def pool_address(manifest_data: dict, ref: str) -> str:
    """The address of the pool `ref`: an address as given, else the name of a pool the manifest
    records under "pools" (``cspread pool create``). ValueError naming the known pools otherwise."""
    from eth_utils import is_address, to_checksum_address

    if is_address(ref):
        return to_checksum_address(ref)
    pools = manifest_data.get("pools") or {}
    if ref in pools:
        return to_checksum_address(pools[ref]["address"])
    raise ValueError(f"{ref!r} is neither an address nor a pool in the manifest (pools: {', '.join(pools) or 'none'})")


@dataclass(frozen=True)
class MemberShare:
    shares: int
    value_usd: Decimal  # at NAV, rounded down (what redeem would pay)
    fraction: Decimal  # of all shares (the escrowed exit queue included)


@dataclass(frozen=True)
class PoolPosition:
    market_id: int
    quantity: Decimal  # signed units (GPU-hours, MWh); short < 0
    open_notional_usd: Decimal
    hedge_cap: Decimal  # largest |quantity| the members' limits allow, units
    coverage: Decimal | None  # |quantity| / committed capacity of the market's key (None: none declared)
    declared: Decimal = Decimal(0)  # committed capacity of the market's key over its window, units


@dataclass(frozen=True)
class Declared:
    """A member's declared capacity (``declare_capacity``); count 0 when none."""

    gpu_class: str
    node: str
    count: int
    commit: Decimal  # fraction of the GPUs' hours committed, 0..1


@dataclass(frozen=True)
class PoolLimits:
    """The limits every approved order must pass (docs/pools.md), as fractions and USD."""

    max_hedge: Decimal  # |position| / committed capacity
    max_margin: Decimal  # initial margin / equity
    max_slippage: Decimal  # of |mark|
    max_slippage_fixed_usd: Decimal  # per unit, on top of max_slippage
    min_collateral_per_gpu_usd: Decimal


def _untext32(b: bytes) -> str:
    return bytes(b).rstrip(b"\0").decode(errors="replace")


class PoolReader:
    """Read side: `contract` is a web3 (or web3-shaped) Pool contract, `clearinghouse` the venue's."""

    def __init__(self, contract, clearinghouse):
        self.contract = contract
        self.clearinghouse = clearinghouse

    @classmethod
    def at(cls, reader, address: str) -> PoolReader:
        """A PoolReader for the pool at `address` on an sdk Reader's (or Client's) chain."""
        pool = reader.w3.eth.contract(address=reader.w3.to_checksum_address(address), abi=core_abi.abi("Pool"))
        return cls(pool, reader.clearinghouse)

    def _f(self, name: str, *args):
        return getattr(self.contract.functions, name)(*args).call()

    @property
    def address(self) -> str:
        return self.contract.address

    def nav(self) -> Decimal:
        """NAV in USD: the pool's Clearinghouse equity at the marks + idle collateral."""
        return u.base_to_usd(self._f("totalAssets"))

    def share(self, member: str) -> MemberShare:
        shares = self._f("balanceOf", member)
        supply = self._f("totalSupply")
        frac = Decimal(shares) / Decimal(supply) if supply else Decimal(0)
        return MemberShare(shares, u.base_to_usd(self._f("convertToAssets", shares)), frac)

    def free_usd(self) -> Decimal:
        """What the pool can pay out now without breaching its margin cap."""
        return u.base_to_usd(self._f("free_collateral"))

    def market(self, market_id: int) -> PoolPosition:
        """The pool in one market it may trade (held or not): its position, the members' committed
        capacity of the market's (GPU class, node) over the window, the hedge cap and the coverage."""
        q, on = self.clearinghouse.functions.position(self.address, market_id).call()
        key, units_per_gpu = self._f("market_config", market_id)
        committed = self._f("committed", key) * units_per_gpu // u.BPS  # thousandths at 100% hedged
        cov = Decimal(abs(q)) / Decimal(committed) if committed else None
        return PoolPosition(
            market_id,
            u.units_to_quantity(q),
            u.base_to_usd(on),
            u.units_to_quantity(self._f("hedge_cap", market_id)),
            cov,
            u.units_to_quantity(committed),
        )

    def positions(self) -> list[PoolPosition]:
        return [self.market(mid) for mid in self.clearinghouse.functions.open_markets(self.address).call()]

    def limits(self) -> PoolLimits:
        hedge, margin, slip, slip_fixed, min_coll = self._f("limits")
        return PoolLimits(
            u.bps_to_fraction(hedge),
            u.bps_to_fraction(margin),
            u.bps_to_fraction(slip),
            u.base_to_usd(slip_fixed),
            u.base_to_usd(min_coll),
        )

    def declared(self, member: str) -> Declared:
        gpu, node, count, commit_bps = self._f("capacity", member)
        return Declared(_untext32(gpu), _untext32(node), int(count), u.bps_to_fraction(commit_bps))

    def hedged_margin_per_gpu_hour(self) -> Decimal | None:
        """Initial margin the pool posts per hedged unit (GPU-hour), USD; None when unhedged."""
        initial, _ = self.clearinghouse.functions.margin_requirements(self.address).call()
        hedged = sum(
            abs(self.clearinghouse.functions.position(self.address, m).call()[0])
            for m in self.clearinghouse.functions.open_markets(self.address).call()
        )
        if hedged == 0:
            return None
        return u.base_to_usd(initial) / u.units_to_quantity(hedged)

    def closed_reason(self) -> str:
        """'' while joins and exits are open, else the pool's reason."""
        return self._f("closed_reason")

    def joins_closed_reason(self, closed: str | None = None) -> str:
        """'' while joins are open, else why not: the reason joins and exits are closed, or
        "Pool: insolvent" while the account is in deficit at the marks (exits stay open).
        ``closed``: :meth:`closed_reason` when the caller has already read it (one call fewer)."""
        reason = self.closed_reason() if closed is None else closed
        if reason:
            return reason
        if self._f("maxDeposit", ZERO_ADDRESS) == 0:
            return "Pool: insolvent (the pool's account is in deficit at the marks)"
        return ""


class PoolClient(PoolReader):
    """Write side over an sdk Client (its key, its TxSender, its typed errors)."""

    def __init__(self, client, address: str | None = None, *, contract=None):
        if contract is None:
            contract = client.w3.eth.contract(address=client.w3.to_checksum_address(address), abi=core_abi.abi("Pool"))
        super().__init__(contract, client.clearinghouse)
        self.client = client

    def my_share(self) -> MemberShare:
        return self.share(self.client.address)

    # Each write is planned once (checks, unit conversions, which call) as [(contract, fn, args,
    # description)]; join/leave/declare send the plan with the Client's key, unsigned_* return it
    # as UnsignedTx for an external wallet (over ``Client.watch(address)``).
    def _plan_join(self, usd: u.Number) -> list[tuple]:
        units = u.positive_usd(usd, "join amount")
        reason = self.joins_closed_reason()
        if reason:
            raise ValueError(f"join {usd} USD: {reason}")
        me, token, plan = self.client.address, self.client.collateral, []
        if token.functions.allowance(me, self.address).call() < units:
            plan.append((token, "approve", [self.address, units], f"approve the pool for {usd} USD"))
        plan.append((self.contract, "deposit", [units, me], f"join {usd} USD"))
        return plan

    def _plan_leave(self, usd: u.Number) -> tuple[str, list[tuple]]:
        units = u.positive_usd(usd, "leave amount")
        me = self.client.address
        if units <= self._f("maxWithdraw", me):
            return "paid", [(self.contract, "withdraw", [units, me, me], f"leave {usd} USD")]
        shares = self._f("previewWithdraw", units)
        if shares > self._f("balanceOf", me):
            raise ValueError(f"leave {usd} USD: your shares are worth {self.my_share().value_usd} USD")
        return "queued", [(self.contract, "request_exit", [shares, me], f"queue exit {usd} USD")]

    def _plan_declare(self, gpu_class: str, node: str, count: int, commit: u.Number) -> list[tuple]:
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"GPU count must be a whole number >= 0, got {count!r}")
        bps = u.fraction_to_bps(commit)
        if not 0 <= bps <= u.BPS:
            raise ValueError(f"commit is the fraction of the GPUs' hours, 0..1, got {commit}")
        args = [_text32(gpu_class), _text32(node), count, bps]
        return [(self.contract, "declare_capacity", args, f"declare {count} {gpu_class} at {node}")]

    def _send(self, plan: list[tuple]):
        """Send each planned call with the Client's key, in order; the last receipt."""
        receipt = None
        for contract, fn, args, what in plan:
            receipt = self.client._transact(getattr(contract.functions, fn)(*args), what)
        return receipt

    def _unsigned(self, plan: list[tuple]) -> list:
        """The plan as UnsignedTx; a call after another carries no gas estimate (it only passes
        once the earlier one landed, as ``Client.unsigned_deposit``)."""
        return [self.client._unsigned(c, fn, args, what, estimate=i == 0) for i, (c, fn, args, what) in enumerate(plan)]

    def join(self, usd: u.Number):
        """Deposit `usd` into the pool (approving it for exactly that first when needed)."""
        return self._send(self._plan_join(usd))

    def leave(self, usd: u.Number) -> tuple[str, object]:
        """Take `usd` out: ('paid', receipt) when free collateral allows, else ('queued', receipt)
        with the shares escrowed in the exit queue (paid at the NAV of the moment it is served)."""
        mode, plan = self._plan_leave(usd)
        return mode, self._send(plan)

    def declare(self, gpu_class: str, node: str, count: int, commit: u.Number):
        """Declare `count` GPUs of `gpu_class` at `node`, committing the fraction `commit` (0..1) of their hours."""
        return self._send(self._plan_declare(gpu_class, node, int(count), commit))

    def unsigned_join(self, usd: u.Number) -> list:
        """[approve (when the allowance is short), Pool.deposit(units, me)] for an external wallet;
        refused up front when the wallet holds less than `usd`."""
        plan = self._plan_join(usd)
        held = self.client.collateral.functions.balanceOf(self.client.address).call()
        if held < plan[-1][2][0]:
            raise ValueError(f"join {usd} USD: the wallet holds {u.base_to_usd(held)} USD")
        return self._unsigned(plan)

    def unsigned_leave(self, usd: u.Number) -> tuple[str, list]:
        """('paid', [withdraw]) when free collateral allows, else ('queued', [request_exit(shares)])."""
        mode, plan = self._plan_leave(usd)
        return mode, self._unsigned(plan)

    def unsigned_declare(self, gpu_class: str, node: str, count: int, commit: u.Number) -> list:
        """[declare_capacity] for `count` GPUs committing the fraction `commit` (0..1) of their hours."""
        return self._unsigned(self._plan_declare(gpu_class, node, count, commit))

    def serve_exits(self, count: int = 16):
        """Pay queued exits as far as free collateral goes (anyone may)."""
        return self.client._transact(self.contract.functions.serve_exits(int(count)), "serve exits")
