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

Units: limits in bps of 10_000 and collateral base units (USDC 6 dp); units_per_gpu in
thousandths of a market unit (GPU-hours) per committed GPU over the market's window.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from eth_utils import keccak
from web3 import Web3

from chain.plain import PlainSender, rpc_batch, wait_mined  # noqa: F401 - re-exported for the demo
from chain.tx import TxFailed
from core import abi as core_abi
from core import units as u
from devnet.anvil import DevnetError, _ape, _ape_env, project_dir, rpc

MIN_DELAY = 3_600  # Pool.MIN_DELAY (s)
HOUR = 3_600


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


class _Sender(PlainSender):
    """chain.plain's sender, its refusals as the devnet's DevnetError."""

    def send(self, tx: dict, what: str, timeout: float = 60) -> dict:
        try:
            return super().send(tx, what, timeout)
        except TxFailed as e:
            raise DevnetError(str(e)) from None


def _tx_of(fn, sender: _Sender) -> dict:
    tx = fn.build_transaction({"from": sender.acct.address, "gas": 1, "gasPrice": 0, "nonce": 0, "chainId": 1})
    return {"to": tx["to"], "data": tx["data"]}


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
    sender = _Sender(w3, owner_key)
    pool_abi = core_abi.abi("Pool")
    factory = w3.eth.contract(abi=pool_abi, bytecode=pool_bytecode())
    ctor = factory.constructor(
        token_name,
        symbol,
        c["Clearinghouse"]["address"],
        c["Exchange"]["address"],
        collateral,
        sender.acct.address,
        Web3.to_checksum_address(manager),
        int(delay),
        limits.as_tuple(),
    )
    r = sender.send({"data": ctor.data_in_transaction}, "deploy the Pool")
    pool = w3.eth.contract(address=r["contractAddress"], abi=pool_abi)
    reader = Reader(manifest_path, rpc_url)
    markets = spread_markets(reader, gpu_classes, nodes, windows)
    if not markets:
        raise DevnetError(f"no listed SPREAD market of {gpu_classes} at {nodes}: nothing for the pool to hedge")
    queued = {}
    for m in markets:
        cfg = (capacity_key(m["gpu_class"], m["node"]), m["units_per_gpu"])
        sender.send(_tx_of(pool.functions.queue_market(m["market_id"], cfg), sender), f"queue market {m['market_id']}")
        queued[str(m["market_id"])] = {**m, "eta": int(pool.functions.pending_market_eta(m["market_id"]).call())}
    entry = {
        "address": pool.address,
        "block": int(r["blockNumber"]),
        "tx_hash": "0x" + bytes(r["transactionHash"]).hex().removeprefix("0x"),
        "owner": sender.acct.address,
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
    sender = _Sender(w3, key)
    now = int(w3.eth.get_block("latest")["timestamp"])
    n = 0
    for mid in market_ids:
        eta = int(pool.functions.pending_market_eta(mid).call())
        if eta == 0 or eta > now:
            continue
        sender.send(_tx_of(pool.functions.apply_market(mid), sender), f"apply market {mid}")
        n += 1
    return n


def fill_open_approvals(w3: Web3, manifest: dict, pool_address: str, taker_key: str, from_block: int) -> int:
    """Devnet counterparty: fill, as `taker_key`'s account, whatever is left of every live order
    the pool approved since `from_block` (the role the relay's matcher plays on a full stack).
    Returns how many orders it filled. The Exchange asks the pool (EIP-1271) on each fill."""
    pool = w3.eth.contract(address=Web3.to_checksum_address(pool_address), abi=core_abi.abi("Pool"))
    ex = manifest["contracts"]["Exchange"]
    exchange = w3.eth.contract(address=ex["address"], abi=ex["abi"])
    sender = _Sender(w3, taker_key)
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
        sender.send(_tx_of(exchange.functions.fill(o, b"", left), sender), f"fill pool order {h.hex()}")
        n += 1
    return n


def push_marks(w3: Web3, manifest: dict, prices: dict[int, int], relayer_key: str) -> dict:
    """Devnet: submit one Oracle report setting market id -> mark (base units per unit), signed
    by anvil reporters 1-3 as the pusher sends it (every reporter: no circuit-breaker clamp).
    For gas benches and fixtures only: a devnet's marks otherwise come from the reporters."""
    from core import eip712
    from devnet.anvil import ANVIL_KEYS

    o = manifest["contracts"]["Oracle"]
    oracle = w3.eth.contract(address=o["address"], abi=o["abi"])
    by_id = {m["id"]: m for m in manifest["markets"]}
    feeds = [bytes.fromhex(by_id[mid]["mark_feed"][2:]) for mid in prices]
    now = int(w3.eth.get_block("latest")["timestamp"])
    d = eip712.report_digest(feeds, list(prices.values()), now, int(manifest["chain_id"]), oracle.address)
    sigs = [eip712.sign_digest(k, d) for k in ANVIL_KEYS[1:4]]
    rows = [list(prices.values())] * len(sigs)
    sender = _Sender(w3, relayer_key)
    return sender.send(_tx_of(oracle.functions.submit(feeds, now, rows, sigs), sender), "submit marks")
