"""Deploy Compute Spread and write the deployment manifest.

    ape run deploy --network ethereum:local:foundry            # ape starts anvil
    ape run deploy --network http://127.0.0.1:8545             # any RPC (a running anvil)
    ape run deploy --network ethereum:sepolia:node --account deployer \
        --reporters 0xA..,0xB..,0xC.. --quorum 2 --collateral 0xUSDC

On chain 31337 (anvil) the defaults use anvil's standard test mnemonic: account 0 is owner
and guardian, accounts 1-3 are oracle reporters with quorum 2, and a MockUSDC faucet token is
the collateral. Elsewhere an ape account (`--account`), `--reporters` and `--collateral`
(or an explicit `--mock-usdc`) are required. The manifest (`--out`, default
deployments/<chain_id>.json) is the one file the SDK, keepers and oracle read.

Ownership: with `--timelock-delay SECONDS` > 0 (the default off anvil: 86,400, also the
Timelock's floor there) the script deploys contracts/Timelock.vy, sets everything up as the
deployer, then hands the Oracle, Clearinghouse and Exchange to the Timelock (each
`transfer_ownership`, then the Timelock's immediate `accept_ownership_of`); from then on every
owner call waits the delay (scripts/timelock.py queues and executes them). `--timelock-admin`
(default: the deployer) proposes another admin, e.g. a Safe, which must `accept_ownership` on
the Timelock. On anvil (31337) the default delay is 0 and then no Timelock is deployed: the
deployer stays the direct owner, so tests and demos can change parameters at once; pass
`--timelock-delay 3600` there to rehearse the governed setup.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from ape import accounts, chain, project
from ape.cli import ConnectedProviderCommand, ape_cli_context

from chain.rpc import Rpc
from chain.tx import Call, TxFailed, send_unlocked, wait_mined
from core import abi
from core.series import SeriesError, load_series
from scripts._markets import DEFAULT_MARKETS, MarketsFileError, feed_limits, load_markets

ANVIL_CHAIN_ID = 31337
# seconds; the Timelock refuses less on any chain but 31337 (issue 16: >= 24 h on testnets)
MIN_TIMELOCK_DELAY = 86_400
MAX_TIMELOCK_DELAY = 30 * 86_400
# gas limit of each owner setup call in the devnet burst (the node does not estimate a batch:
# the costliest, approve_template, uses well under half of it)
SETUP_GAS = 1_000_000
MAKER_FEE_BPS = 2
TAKER_FEE_BPS = 5


def _abi(contract) -> list:
    return [a.model_dump(mode="json", by_alias=True, exclude_none=True) for a in contract.contract_type.abi]


def _send_all(owner, calls: list) -> None:
    """Send owner-only setup calls [(ape method, args)] in order. On an automining anvil (chain
    31337, whose dev accounts are unlocked) they go out back to back through eth_sendTransaction
    and every receipt is checked after: ape waits for each receipt in turn, which made the 35 default
    series (5 calls each) take ~2 min of `devnet up` on a loaded machine. Elsewhere, one by one."""
    w3 = chain.provider.web3
    if chain.chain_id != ANVIL_CHAIN_ID or not _automines(w3):
        for method, args in calls:
            method(*args, sender=owner)
        return
    rpc = Rpc(chain.provider.http_uri, timeout=120)  # ape's web3 has an AutoProvider: no URL on it
    txs = [(owner.address, Call(method.contract.address, bytes(method.encode_input(*args)))) for method, args in calls]
    try:
        wait_mined(rpc, send_unlocked(rpc, txs, SETUP_GAS), timeout=120)
    except TxFailed as e:
        raise RuntimeError(f"deploy: an owner setup call failed: {e}") from e


def _automines(w3) -> bool:
    """Whether the node mines each transaction as it arrives (anvil's default). Under interval
    mining (anvil --block-time) anvil put one transaction of the burst in each block and some
    were still not mined 120 s later (test_keepers_silverback): the burst is for automine only."""
    try:
        return bool(w3.provider.make_request("anvil_getAutomine", []).get("result"))
    except Exception:  # noqa: BLE001 - not anvil, or an older one: send one by one
        return False


def deploy(
    owner,
    guardian: str,
    reporters: list[str],
    quorum: int,
    collateral: str | None,
    markets_path: str | None,
    out: Path | None,
    log=print,
    timelock_delay: int = 0,
    timelock_admin: str | None = None,
) -> dict:
    """Deploy everything with `owner` (an ape account) and return the manifest written to `out`.

    `timelock_delay` > 0: the protocol ends owned by a Timelock with that delay (seconds),
    administered by `owner` (or proposed to `timelock_admin`); 0: `owner` stays the owner.
    """
    if chain.chain_id != ANVIL_CHAIN_ID and timelock_delay < MIN_TIMELOCK_DELAY:
        raise ValueError(f"off anvil the owner must be a Timelock with delay >= {MIN_TIMELOCK_DELAY} s")
    now = chain.pending_timestamp
    markets = load_markets(markets_path, now)  # fail before spending gas
    try:
        # every entry is also a series template anyone may list windows of (issue 10)
        series = load_series(str(markets_path or DEFAULT_MARKETS))
        # each template's markets-file entry goes into the manifest: readers (sdk.Reader, the
        # lister, the dashboard) name and value the windows listed from it without the file
        raw = json.loads(Path(markets_path or DEFAULT_MARKETS).read_text())
        entries = [
            e for e in raw["markets"] + raw.get("series", []) if e.get("cadence") or e.get("delivery", {}).get("period")
        ]
    except (SeriesError, KeyError, ValueError) as e:
        raise MarketsFileError(f"{markets_path or DEFAULT_MARKETS}: {e}") from e

    mock = None
    if collateral is None:
        mock = project.MockUSDC.deploy(sender=owner)
        collateral = mock.address
        log(f"MockUSDC      {collateral}")
    oracle = project.Oracle.deploy(reporters, quorum, guardian, sender=owner)
    log(f"Oracle        {oracle.address}  reporters={len(reporters)} quorum={quorum}")
    # the registry lists markets of approved templates for anyone; the Clearinghouse trusts it
    # (fixed at construction) and it learns the Clearinghouse once
    registry = project.SeriesRegistry.deploy(sender=owner)
    ch = project.Clearinghouse.deploy(collateral, oracle.address, guardian, registry.address, sender=owner)
    registry.set_clearinghouse(ch.address, sender=owner)
    log(f"Clearinghouse {ch.address}")
    log(f"SeriesRegistry {registry.address}")
    # read-only composites (account_summary ...), kept out of the Clearinghouse's 24 KB
    view = project.ClearinghouseView.deploy(ch.address, sender=owner)
    log(f"ClearinghouseView {view.address}")
    ex = project.Exchange.deploy(ch.address, MAKER_FEE_BPS, TAKER_FEE_BPS, sender=owner)
    log(f"Exchange      {ex.address}  fees maker={MAKER_FEE_BPS}bps taker={TAKER_FEE_BPS}bps")
    ch.set_exchange(ex.address, sender=owner)

    listed = []
    feed_calls = []
    for m in markets:
        lo, hi = m.feed_bounds
        feed_calls += [
            (oracle.set_feed, (m.mark_feed, lo, hi)),
            (oracle.set_feed_limits, (m.mark_feed, *m.feed_limits)),
            # one value, written after delivery_end; the Oracle's dispute window floor is 10 min
            (
                oracle.set_settlement_feed,
                (m.settlement_feed, lo, hi, m.params["delivery_end"], max(m.params["dispute_window"], 600)),
            ),
            (oracle.set_feed_limits, (m.settlement_feed, *m.feed_limits)),
        ]
    _send_all(owner, feed_calls)
    for m in markets:
        receipt = ch.list_market(m.struct(), sender=owner)
        market_id = receipt.return_value if receipt.return_value else ch.market_count()
        entry = m.manifest_entry(int(market_id))
        # Chainlink AggregatorV3 read adapters, one per feed, for integrators' existing tooling
        unit = "MWh" if m.spec["kind"] == "POWER" else "GPU-hour"
        entry["aggregators"] = {
            role: project.FeedAggregator.deploy(
                oracle.address, feed, 6, f"{m.symbol} {role}, USD/{unit}", sender=owner
            ).address
            for role, feed in (("mark", m.mark_feed), ("settlement", m.settlement_feed))
        }
        listed.append(entry)
        log(f"market {market_id:>2}  {m.symbol}")

    templates = []
    calls = []
    for s in series:
        # the Oracle serves every window of the series from its two classes (no storage per market)
        lo, hi = s.feed_bounds
        limits = feed_limits(s.kind)
        calls += [
            (oracle.set_feed, (s.mark_class, lo, hi)),
            (oracle.set_feed_limits, (s.mark_class, *limits)),
            # a class's not_before is ignored (a feed's is its delivery_end): 1
            (oracle.set_settlement_feed, (s.settlement_class, lo, hi, 1, max(s.params["dispute_window"], 600))),
            (oracle.set_feed_limits, (s.settlement_class, *limits)),
            (registry.approve_template, (abi.Template.decode(s.template()).encode(),)),
        ]
    _send_all(owner, calls)
    first = int(registry.template_count()) - len(series) + 1
    for tid, (s, entry) in enumerate(zip(series, entries, strict=True), first):
        templates.append(
            {
                "entry": entry,
                "id": tid,
                "symbol": s.symbol,
                "kind": s.kind,
                "spec": s.spec,
                "cadence": s.cadence,
                "tz": s.tz,
                "spec_hash": "0x" + s.spec_hash.hex(),
                "mark_class": "0x" + s.mark_class.hex(),
                "settlement_class": "0x" + s.settlement_class.hex(),
            }
        )
        log(f"template {tid:>2}  {s.symbol} (cadence {s.cadence})")

    contracts = {"Oracle": oracle, "Clearinghouse": ch, "Exchange": ex, "SeriesRegistry": registry}
    timelock = _hand_to_timelock(owner, contracts, timelock_delay, timelock_admin, log) if timelock_delay else None
    manifest = {
        "chain_id": chain.chain_id,
        "block": chain.blocks.head.number,
        "contracts": {name: {"address": c.address, "abi": _abi(c)} for name, c in contracts.items()},
        "roles": {
            # who owns Oracle, Clearinghouse and Exchange: the Timelock when there is one
            "owner": timelock.address if timelock else owner.address,
            "deployer": owner.address,
            "timelock": None
            if timelock is None
            else {
                "address": timelock.address,
                "delay": timelock_delay,
                "admin": timelock.owner(),
                "pending_admin": timelock.pending_owner(),
            },
            "guardian": guardian,
            "reporters": reporters,
            "quorum": quorum,
            "test_mnemonic": chain.chain_id == ANVIL_CHAIN_ID,
        },
        "fees": {"maker_bps": MAKER_FEE_BPS, "taker_bps": TAKER_FEE_BPS},
        "markets": listed,
        # approved series templates (SeriesRegistry): anyone lists their windows (keepers/lister)
        "templates": templates,
    }
    # the collateral's ERC-20 ABI is MockUSDC's minus the faucet; readers use "Collateral"
    erc20_abi = [a for a in _abi(project.MockUSDC) if a.get("name") not in ("mint", "MAX_MINT")]
    manifest["contracts"]["Collateral"] = {"address": collateral, "abi": erc20_abi}
    # no owner: never handed to the Timelock
    manifest["contracts"]["ClearinghouseView"] = {"address": view.address, "abi": _abi(view)}
    manifest["contracts"]["FeedAggregator"] = {
        "abi": _abi(project.FeedAggregator),
        "per_market": "markets[].aggregators",
    }
    if timelock is not None:
        manifest["contracts"]["Timelock"] = {"address": timelock.address, "abi": _abi(timelock)}
    if mock is not None:
        manifest["contracts"]["MockUSDC"] = {"address": mock.address, "abi": _abi(mock)}
    out = out or Path("deployments") / f"{chain.chain_id}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(manifest, indent=1))
    log(f"manifest      {out}")
    return manifest


def _hand_to_timelock(owner, contracts: dict, delay: int, admin: str | None, log=print):
    """Deploy the Timelock and make it the owner of `contracts`, then propose `admin`.

    The Timelock accepts each handover at once (accept_ownership_of): that only gives it
    power, each later use of which waits `delay`. Ends with every contract's owner checked.
    """
    timelock = project.Timelock.deploy(owner.address, delay, sender=owner)
    log(f"Timelock      {timelock.address}  delay={delay}s")
    for name, c in contracts.items():
        c.transfer_ownership(timelock.address, sender=owner)
        timelock.accept_ownership_of(c.address, sender=owner)
        if c.owner() != timelock.address:
            raise RuntimeError(f"{name} owner is {c.owner()}, not the Timelock")
        log(f"  owns        {name}")
    if admin and admin.lower() != owner.address.lower():
        timelock.transfer_ownership(admin, sender=owner)
        log(f"  admin       {owner.address} until {admin} calls Timelock.accept_ownership()")
    return timelock


@click.command(cls=ConnectedProviderCommand)
@ape_cli_context()
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Manifest path (default deployments/<chain_id>.json).",
)
@click.option(
    "--markets",
    "markets_path",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Markets file to list (default markets/default.json).",
)
@click.option("--account", "account_alias", default=None, help="Ape account alias of the owner (required off anvil).")
@click.option("--guardian", default=None, help="Guardian address (default: the owner).")
@click.option(
    "--reporters", default=None, help="Comma-separated reporter addresses (default on anvil: test accounts 1-3)."
)
@click.option("--quorum", type=int, default=None, help="Reporter signatures per oracle round (default: majority).")
@click.option("--collateral", default=None, help="Collateral ERC-20 address (default on anvil: a new MockUSDC).")
@click.option(
    "--mock-usdc", is_flag=True, help="Deploy a MockUSDC faucet token as collateral off anvil (testnets only)."
)
@click.option(
    "--timelock-delay",
    type=click.IntRange(min=0),
    default=None,
    help="Seconds every owner call waits in the Timelock (default 86400; 0 on anvil = no Timelock, "
    "the deployer stays owner). At least 86400 off anvil.",
)
@click.option(
    "--timelock-admin",
    default=None,
    help="Address proposed as Timelock admin, e.g. a Safe; it must accept (default: the deployer).",
)
def cli(
    cli_ctx,
    out,
    markets_path,
    account_alias,
    guardian,
    reporters,
    quorum,
    collateral,
    mock_usdc,
    timelock_delay,
    timelock_admin,
):
    """Deploy the protocol, list markets, write the manifest."""
    local = chain.chain_id == ANVIL_CHAIN_ID
    if timelock_delay is None:
        timelock_delay = 0 if local else MIN_TIMELOCK_DELAY
    if not local and timelock_delay < MIN_TIMELOCK_DELAY:
        cli_ctx.abort(f"off anvil the Timelock delay is at least {MIN_TIMELOCK_DELAY} s (got {timelock_delay})")
    if timelock_delay > MAX_TIMELOCK_DELAY:
        cli_ctx.abort(f"the Timelock delay is at most {MAX_TIMELOCK_DELAY} s (got {timelock_delay})")
    if timelock_admin and not timelock_delay:
        cli_ctx.abort("--timelock-admin needs a Timelock (--timelock-delay > 0)")
    if account_alias:
        owner = accounts.load(account_alias)
    elif local:
        owner = accounts.test_accounts[0]
    else:
        cli_ctx.abort("off anvil, pass --account <ape account alias> for the owner")
    if reporters:
        reporter_list = [r.strip() for r in reporters.split(",") if r.strip()]
    elif local:
        reporter_list = [accounts.test_accounts[i].address for i in (1, 2, 3)]
    else:
        cli_ctx.abort("off anvil, pass --reporters with the reporters' addresses")
    if collateral is None and not (local or mock_usdc):
        cli_ctx.abort("off anvil, pass --collateral <ERC-20 address> (or --mock-usdc on a testnet)")
    quorum = quorum or len(reporter_list) // 2 + 1
    try:
        deploy(
            owner,
            guardian or owner.address,
            reporter_list,
            quorum,
            collateral,
            markets_path,
            out,
            log=click.echo,
            timelock_delay=timelock_delay,
            timelock_admin=timelock_admin,
        )
    except MarketsFileError as e:
        cli_ctx.abort(str(e))
