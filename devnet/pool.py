"""Deploy a Pool (issue 15) next to a running deployment and record it in the manifest.

    from devnet.pool import create_pool
    entry = create_pool(rpc_url, manifest_path, owner_key, manager, gpu_classes=["H100-SXM"],
                        nodes=["HB_WEST", "HB_NORTH"], warp=True)

The pool is an ERC-4626 vault over the deployment's collateral holding one Clearinghouse
account; its owner allows markets only through the pool's delay (MIN_DELAY = 1 h at least), so
`create_pool` queues every listed SPREAD market whose compute leg is one of `gpu_classes` and
whose power node is one of `nodes`, and with `warp=True` (a devnet: anvil's clock may be moved)
advances the chain clock past the delay and applies them. On a real network it only queues
(`warp=False`): `apply_pool_markets` applies them once the delay has passed.

The manifest gains one backward-compatible key, ``pools``: ``{name: {"address", "block",
"tx_hash", "owner", "manager", "delay", "limits": {...}, "markets": {market id: {...}}}}``;
readers that do not know it ignore it. The ABI is core/abis/Pool.json (shipped); the bytecode
is the one ape compiled for the deploy project (``.build/__local__.json``), compiled on demand.

:func:`setup_pool_world` builds the whole devnet pool world the pool tests, the pool dashboard
test and the pool gas bench start from (pool created and applied, its markets marked, a funded
taker, members joined and declared) and returns it as a :class:`PoolWorld`, whose ``hedge``
plays the manager and the taker.

Every transaction goes through ``chain.tx.TxSender`` (the Pool's creation included); calldata is
encoded from the shipped ABIs by ``core.abi``.

Units: limits in bps of 10_000 and collateral base units (USDC 6 dp); units_per_gpu in
thousandths of a market unit (GPU-hours) per committed GPU over the market's window; marks in
base units per market unit.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from functools import cached_property
from pathlib import Path

from eth_account import Account
from eth_utils import keccak
from web3 import Web3

from chain.tx import Call, Receipt, TxFailed, TxSender
from core import abi as core_abi
from core import units as u
from devnet.anvil import ANVIL_KEYS, DevnetError, _ape, _ape_env, project_dir, rpc

MIN_DELAY = 3_600  # Pool.MIN_DELAY (s)
HOUR = 3_600
# setup_pool_world's roles by default (private keys): the deployer owns the pool; the tests' and
# the bench's manager and taker (a Stack gives accounts 12 and 14 to its users 4 and 6)
POOL_OWNER, POOL_MANAGER, POOL_TAKER = ANVIL_KEYS[0], ANVIL_KEYS[12], ANVIL_KEYS[14]


@dataclass(frozen=True)
class PoolLimits:
    """The members' limits (Pool.Limits, same field order)."""

    max_hedge_bps: int = 8_000  # |position| <= 80 % of committed hours
    max_margin_bps: int = 5_000  # initial margin <= 50 % of equity
    max_slippage_bps: int = 200  # fills within mark +- (fixed + 2 % of |mark|)
    max_slippage_fixed: int = u.usd_to_base("0.05")  # base units per unit (GPU-hour)
    min_collateral_per_gpu: int = u.usd_to_base(100)  # base units per declared GPU

    def as_tuple(self) -> tuple[int, ...]:
        return tuple(asdict(self).values())


def text32(s: str) -> bytes:
    """A GPU class or node as the bytes32 the pool stores (UTF-8, right-padded), as sdk.pool does."""
    b = s.encode()
    if len(b) > 32:
        raise ValueError(f"{s!r} is longer than 32 bytes")
    return b.ljust(32, b"\0")


def capacity_key(gpu_class: str, node: str) -> bytes:
    """Pool.capacity_key(gpu_class, node): keccak256(gpu_class ++ node) over the bytes32 forms."""
    return keccak(text32(gpu_class) + text32(node))


def pool_bytecode(project: Path | None = None) -> str:
    """The Pool's deployment bytecode from ape's build of the deploy project (compiling it first
    when the project was never compiled: an installed package's first deploy does that too)."""
    project = project or project_dir()
    build = project / ".build" / "__local__.json"
    if not build.is_file() or "Pool" not in json.loads(build.read_text()).get("contractTypes", {}):
        _ape(["compile"], project, _ape_env(), 900.0, "compiling the contracts")
    try:
        ct = json.loads(build.read_text())["contractTypes"]["Pool"]
    except (OSError, KeyError, ValueError) as e:
        raise DevnetError(f"no compiled Pool in {build}: {e}") from None
    code = ct["deploymentBytecode"]["bytecode"]
    return code if code.startswith("0x") else "0x" + code


def spread_markets(reader, gpu_classes: list[str], nodes: list[str], windows: int | None = None) -> list[dict]:
    """The listed SPREAD markets (manifest and templates, through `reader.listed_markets`) whose
    compute leg's GPU class is in `gpu_classes` and power node in `nodes`, not yet past their
    window, nearest window first: ``{"market_id", "gpu_class", "node", "units_per_gpu"}``.
    `windows`: the next that many per (GPU class, node) whose delivery has not started (a devnet
    with the lister running lists the current month and 11 more of each spread series: the
    demo's clock, 2021-01-31 17:00 Central, has January's last 7 hours listed before the deploy's
    February); None: every listed window not yet ended."""
    if windows is not None and windows < 1:
        raise DevnetError(f"windows must be >= 1 (or None for every listed window), got {windows}")
    now = int(reader.w3.eth.get_block("latest")["timestamp"])
    found = []
    for m in reader.listed_markets(kind="SPREAD", limit=None):
        gpu = (m.spec.get("compute") or {}).get("gpu")
        if gpu not in gpu_classes or m.node not in nodes or m.delivery_end <= now:
            continue
        if windows is not None and m.delivery_start <= now:
            continue
        hours = (m.delivery_end - m.delivery_start) // HOUR
        if hours <= 0:
            continue
        found.append((m.delivery_start, m.id, gpu, m.node, hours))
    out, taken = [], {}
    for _, mid, gpu, node, hours in sorted(found):
        if windows is not None and taken.get((gpu, node), 0) >= windows:
            continue
        taken[(gpu, node)] = taken.get((gpu, node), 0) + 1
        out.append({"market_id": mid, "gpu_class": gpu, "node": node, "units_per_gpu": hours * 1_000})
    return out


def transact(w3: Web3, key: str, call: Call, what: str) -> Receipt:
    """Send `call` from `key`'s account through chain.tx.TxSender and wait for it; a refusal or
    revert as the devnet's DevnetError naming `what`. A fresh sender each time: it reads the
    pending nonce, so an evm_revert between calls (the tests' snapshots) cannot strand it."""
    try:
        return TxSender(w3, key).transact(call)
    except TxFailed as e:
        raise DevnetError(f"{what}: {e}") from None


def write_entry(manifest_path: Path, name: str, entry: dict) -> None:
    """Record a pool under ``pools.<name>`` (replaced atomically; the rest of the manifest unchanged)."""
    path = Path(manifest_path)
    data = json.loads(path.read_text())
    data.setdefault("pools", {})[name] = entry
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)


def create_pool(
    rpc_url: str,
    manifest_path: str | Path,
    owner_key: str,
    manager: str,
    *,
    gpu_classes: list[str],
    nodes: list[str],
    name: str = "default",
    token_name: str = "Compute Pool",
    symbol: str = "CPOOL",
    limits: PoolLimits = PoolLimits(),
    delay: int = MIN_DELAY,
    warp: bool = False,
    windows: int | None = None,
) -> dict:
    """Deploy a Pool owned by `owner_key`'s account with `manager` approving its hedge orders,
    queue the matching SPREAD markets (see :func:`spread_markets`; `windows`: the next that
    many per GPU class and node), with `warp` apply them after
    moving anvil's clock past the delay, record the pool in the manifest and return its entry."""
    from sdk.reader import Reader

    manifest_path = Path(manifest_path)
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 30}))
    manifest = json.loads(manifest_path.read_text())
    c = manifest["contracts"]
    collateral = (c.get("Collateral") or c["MockUSDC"])["address"]
    owner = Account.from_key(owner_key).address
    init = bytes.fromhex(pool_bytecode().removeprefix("0x")) + core_abi.constructor_args(
        "Pool",
        token_name,
        symbol,
        c["Clearinghouse"]["address"],
        c["Exchange"]["address"],
        collateral,
        owner,
        Web3.to_checksum_address(manager),
        int(delay),
        limits.as_tuple(),
    )
    r = transact(w3, owner_key, Call(None, init), "deploy the Pool")
    pool = w3.eth.contract(address=r.contract_address, abi=core_abi.abi("Pool"))
    reader = Reader(manifest_path, rpc_url)
    markets = spread_markets(reader, gpu_classes, nodes, windows)
    if not markets:
        raise DevnetError(f"no listed SPREAD market of {gpu_classes} at {nodes}: nothing for the pool to hedge")
    queued = {}
    for m in markets:
        cfg = (capacity_key(m["gpu_class"], m["node"]), m["units_per_gpu"])
        data = core_abi.calldata("Pool", "queue_market", m["market_id"], cfg)
        transact(w3, owner_key, Call(pool.address, data), f"queue market {m['market_id']}")
        queued[str(m["market_id"])] = {**m, "eta": int(pool.functions.pending_market_eta(m["market_id"]).call())}
    entry = {
        "address": pool.address,
        "block": r.block_number,
        "tx_hash": r.tx_hash,
        "owner": owner,
        "manager": Web3.to_checksum_address(manager),
        "delay": int(delay),
        "limits": asdict(limits),
        "markets": queued,
        "applied": False,
    }
    if warp:
        rpc(rpc_url, "evm_increaseTime", [int(delay)])
        rpc(rpc_url, "evm_mine")
        apply_pool_markets(w3, pool.address, owner_key, [int(k) for k in queued])
        entry["applied"] = True
    write_entry(manifest_path, name, entry)
    return entry


def apply_pool_markets(w3: Web3, pool_address: str, key: str, market_ids: list[int]) -> int:
    """Apply queued markets whose delay has passed (anyone may; `key` pays the gas); returns how many."""
    pool = w3.eth.contract(address=Web3.to_checksum_address(pool_address), abi=core_abi.abi("Pool"))
    now = int(w3.eth.get_block("latest")["timestamp"])
    n = 0
    for mid in market_ids:
        eta = int(pool.functions.pending_market_eta(mid).call())
        if eta == 0 or eta > now:
            continue
        transact(w3, key, Call(pool.address, core_abi.calldata("Pool", "apply_market", mid)), f"apply market {mid}")
        n += 1
    return n


def fill_open_approvals(w3: Web3, manifest: dict, pool_address: str, taker_key: str, from_block: int) -> int:
    """Devnet counterparty: fill, as `taker_key`'s account, whatever is left of every live order
    the pool approved since `from_block` (the role the relay's matcher plays on a full stack).
    Returns how many orders it filled. The Exchange asks the pool (EIP-1271) on each fill."""
    pool = w3.eth.contract(address=Web3.to_checksum_address(pool_address), abi=core_abi.abi("Pool"))
    ex = manifest["contracts"]["Exchange"]
    exchange = w3.eth.contract(address=ex["address"], abi=ex["abi"])
    now = int(w3.eth.get_block("latest")["timestamp"])
    n = 0
    for ev in pool.events.OrderApproved.get_logs(from_block=from_block):
        h = bytes(ev.args.order_hash)
        o = tuple(pool.functions.approved(h).call())
        if int(o[0], 16) == 0 or o[6] <= now:
            continue
        left = o[3] - int(exchange.functions.filled(h).call())
        if left <= 0 or pool.functions.isValidSignature(h, b"").call() != bytes.fromhex("1626ba7e"):
            continue
        fill = Call(exchange.address, core_abi.calldata("Exchange", "fill", o, b"", left))
        transact(w3, taker_key, fill, f"fill pool order {h.hex()}")
        n += 1
    return n


def push_marks(w3: Web3, manifest: dict, prices: dict[int, int], relayer_key: str) -> Receipt:
    """Devnet: submit one Oracle report setting market id -> mark (base units per unit), signed
    by anvil reporters 1-3 as the pusher sends it (every reporter: no circuit-breaker clamp).
    For gas benches and fixtures only: a devnet's marks otherwise come from the reporters."""
    from core import eip712

    o = manifest["contracts"]["Oracle"]
    oracle = w3.eth.contract(address=o["address"], abi=o["abi"])
    by_id = {m["id"]: m for m in manifest["markets"]}
    feeds = [bytes.fromhex(by_id[mid]["mark_feed"][2:]) for mid in prices]
    now = int(w3.eth.get_block("latest")["timestamp"])
    d = eip712.report_digest(feeds, list(prices.values()), now, int(manifest["chain_id"]), oracle.address)
    sigs = [eip712.sign_digest(k, d) for k in ANVIL_KEYS[1:4]]
    rows = [list(prices.values())] * len(sigs)
    submit = Call(oracle.address, core_abi.calldata("Oracle", "submit", feeds, now, rows, sigs))
    return transact(w3, relayer_key, submit, "submit marks")


# ---------------------------------------------------------------- the pool world


@dataclass(frozen=True)
class Member:
    """A member :func:`setup_pool_world` joins: `faucet_usd` minted to its wallet, `join_usd`
    deposited into the pool, `gpus` declared at the world's (first) GPU class and node with the
    fraction `commit` (0..1) of their hours committed."""

    key: str
    join_usd: Decimal
    gpus: int
    commit: Decimal
    faucet_usd: Decimal = Decimal(100_000)


@dataclass(frozen=True)
class PoolWorld:
    """A devnet pool ready to trade against (see :func:`setup_pool_world`): its manifest entry,
    the markets it allows (nearest window first), and the manager's and the taker's keys, so
    :meth:`hedge` can play both sides of a pool order. Sends go through chain.tx.TxSender, a
    fresh one per transaction (nonces read from the node survive a test's ``evm_revert``)."""

    rpc_url: str
    manifest_path: Path
    manifest: dict
    entry: dict
    market_ids: tuple[int, ...]
    manager_key: str
    taker_key: str
    w3: Web3 = field(repr=False, compare=False)

    @property
    def address(self) -> str:
        return self.entry["address"]

    @property
    def market_id(self) -> int:
        """The pool's first market (its only one when it allows one window)."""
        return self.market_ids[0]

    @cached_property
    def pool(self):
        """The Pool as a web3 contract (for views)."""
        return self.w3.eth.contract(address=self.address, abi=core_abi.abi("Pool"))

    def contract(self, name: str):
        """A deployment contract from the manifest (``Exchange``, ``Clearinghouse``...) for views."""
        c = self.manifest["contracts"][name]
        return self.w3.eth.contract(address=c["address"], abi=c["abi"])

    def order(
        self,
        quantity: int,
        price: int,
        *,
        is_buy: bool = False,
        market_id: int | None = None,
        nonce: int | None = None,
        ttl: int = 600,
    ) -> tuple:
        """A pool order as the Exchange's Order tuple: `quantity` thousandths of a unit at `price`
        base units per unit, expiring `ttl` seconds after the latest block (also its nonce unless
        `nonce` is given)."""
        now = int(self.w3.eth.get_block("latest")["timestamp"])
        mid = self.market_id if market_id is None else market_id
        return (self.address, mid, is_buy, quantity, price, now if nonce is None else nonce, now + ttl, False)

    def approve(self, order: tuple) -> Receipt:
        """The manager approves `order` on the pool (EIP-1271). ``TxFailed`` with the pool's
        revert reason when it refuses (a limit exceeded): nothing is sent then."""
        return TxSender(self.w3, self.manager_key).transact(
            Call(self.address, core_abi.calldata("Pool", "approve_order", order))
        )

    def fill(self, order: tuple, quantity: int | None = None, signature: bytes = b"") -> Receipt:
        """The taker fills `quantity` (all by default) of a pool order with `signature` (a pool
        signs nothing: the Exchange asks the pool, EIP-1271). ``TxFailed`` with the revert reason
        when refused."""
        qty = order[3] if quantity is None else quantity
        ex = self.manifest["contracts"]["Exchange"]["address"]
        call = Call(ex, core_abi.calldata("Exchange", "fill", order, signature, qty))
        return TxSender(self.w3, self.taker_key).transact(call)

    def hedge(self, quantity: int, price: int, **order_kw) -> tuple[tuple, Receipt, Receipt]:
        """The manager approves a pool order (:meth:`order`'s arguments; a short by default) and
        the taker fills all of it: (order, approve receipt, fill receipt)."""
        o = self.order(quantity, price, **order_kw)
        a = self.approve(o)
        return o, a, self.fill(o)


def setup_pool_world(
    rpc_url: str,
    manifest_path: str | Path,
    *,
    mark: int,
    owner_key: str = POOL_OWNER,
    manager_key: str = POOL_MANAGER,
    taker_key: str = POOL_TAKER,
    taker_usd: int | Decimal = 1_000_000,
    gpu_classes: Sequence[str] = ("H100-SXM",),
    nodes: Sequence[str] = ("HB_WEST",),
    members: Sequence[Member] = (),
    name: str = "default",
    limits: PoolLimits = PoolLimits(),
) -> PoolWorld:
    """The devnet pool world on a running deployment: :func:`create_pool` (owned by `owner_key`,
    `manager_key`'s account approving hedges, markets applied by warping anvil's clock), every
    allowed market's mark set to `mark` (base units per unit) by a signed report, the taker
    funded with `taker_usd` USD of collateral deposited, then each of `members` joined and
    declared through sdk.pool. DevnetError when a step fails."""
    from sdk.client import Client  # noqa: PLC0415 - as create_pool's Reader: the SDK only on use
    from sdk.pool import PoolClient  # noqa: PLC0415

    manifest_path = Path(manifest_path)
    entry = create_pool(
        rpc_url,
        manifest_path,
        owner_key,
        Account.from_key(manager_key).address,
        gpu_classes=list(gpu_classes),
        nodes=list(nodes),
        name=name,
        limits=limits,
        warp=True,
    )
    manifest = json.loads(manifest_path.read_text())
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 60}))
    market_ids = tuple(int(k) for k in entry["markets"])  # create_pool's order: nearest window first
    push_marks(w3, manifest, dict.fromkeys(market_ids, int(mark)), owner_key)
    taker = Client(manifest_path, rpc_url, private_key=taker_key)
    left = Decimal(taker_usd)
    while left > 0:  # the faucet mints at most 1,000,000 USD a call
        taker.faucet(min(left, Decimal(1_000_000)))
        left -= min(left, Decimal(1_000_000))
    taker.deposit(Decimal(taker_usd))
    for m in members:
        c = Client(manifest_path, rpc_url, private_key=m.key)
        c.faucet(m.faucet_usd)
        p = PoolClient(c, entry["address"])
        p.join(m.join_usd)
        p.declare(gpu_classes[0], nodes[0], m.gpus, m.commit)
    return PoolWorld(rpc_url, manifest_path, manifest, entry, market_ids, manager_key, taker_key, w3)
