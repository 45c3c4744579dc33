"""Relay benchmarks (a `make bench` section): `run() -> list[dict(name, value, unit, target)]`.

Setup: anvil + the real deploy, the H100 market's mark pushed, 32 funded traders. The relay is
the real process (uvicorn on loopback, started by PID), once on a SQLite file and once on a
throwaway PostgreSQL 15 cluster (devnet/postgres.py), each fed the same signed orders.

1. Order posts/s with full validation: pre-signed, non-crossing orders posted by 16 concurrent
   keep-alive connections (a minimal asyncio HTTP/1.1 client), one order per POST /orders; then
   6,000 more through POST /orders/batch (200 per batch, 2 connections); on SQLite also 1,000
   more through httpx, whose own CPU cost per request is about the relay's. Each order gets:
   parse, EIP-712 digest, signature check (libsecp256k1 via coincurve), market rules, expiry,
   min nonce, `Exchange.remaining(order)` (from the Exchange's logs when they prove the order
   untouched, else one eth_call: `chainview.FillIndex`), the margin pre-check against the
   trader's kept reservation (relay/exposure.py), the insert (one per batch for batches).
   Cached per head block (re-polled every 0.25 s): market params/state/mark, account
   summaries, min nonces. One warm-up order per trader first. Each throughput row has a
   companion row in orders per CPU-second of the relay process (/proc/<pid>/stat), which the
   load of the shared machine moves much less than wall-clock orders/s.
2. End-to-end latency: a resting ask, then a crossing bid is posted; the clock stops when the
   buyer's position is visible on-chain (relay accepts -> matcher wakes -> simulate -> send ->
   anvil mines -> receipt). Median of 5.
3. Recovery after a 3-block reorg (issue 12): the relay app and its follower (in process, SQLite)
   follow six on-chain fills of relay orders, one block each; `anvil_reorg` drops the last 3 blocks;
   the clock runs for the follower's next poll, which detects the fork, rolls its derived state
   back and replays. Checked each time: the 3 orders filled on the dropped blocks are open again,
   the other 3 stay filled. Median of 3.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from eth_abi import decode, encode
from eth_account import Account

from chain.rpc import Rpc
from chain.tx import Call, TxSender
from core import eip712
from core.manifest import Manifest
from core.units import USD_SCALE
from devnet.anvil import ANVIL_KEYS, Anvil, deploy, rpc
from devnet.processes import RelayProcess
from relay.chainview import _sel
from relay.orders import Order, domain_separator, sign_order

USDC = USD_SCALE  # base units per USD
N_ORDERS = 3_000
CONCURRENCY = 16
N_TRADERS = 32  # ~313 resting orders each by the end of the SQLite run
N_HTTPX = 1_000  # then the same with httpx as the client (what a Python SDK user sees)
N_BATCHED = 6_000  # then through POST /orders/batch
BATCH = 200  # orders per batch
BATCH_CONCURRENCY = 2  # connections posting batches


def _push_mark(m: Manifest, url: str, market: dict, price: int) -> None:
    now = int(rpc(url, "eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
    feed = bytes.fromhex(market["mark_feed"][2:])
    d = eip712.report_digest([feed], [price], now, m.chain_id, m.address("Oracle"))
    sigs = [eip712.sign_digest(k, d) for k in ANVIL_KEYS[1:3]]
    data = _sel("submit(bytes32[],uint256,int256[][],bytes[])") + encode(
        ["bytes32[]", "uint256", "int256[][]", "bytes[]"], [[feed], now, [[price], [price]], sigs]
    )
    TxSender(Rpc(url), ANVIL_KEYS[0], chain_id=m.chain_id).transact(Call(m.address("Oracle"), data))


def _fund(m: Manifest, url: str, acct, amount: int) -> None:
    rpc(url, "anvil_setBalance", [acct.address, hex(10**21)])
    s = TxSender(Rpc(url), acct.key, chain_id=m.chain_id)
    usdc, ch = m.address("MockUSDC"), m.address("Clearinghouse")
    s.transact(Call(usdc, _sel("mint(address,uint256)") + encode(["address", "uint256"], [acct.address, amount])))
    s.transact(Call(usdc, _sel("approve(address,uint256)") + encode(["address", "uint256"], [ch, amount])))
    s.transact(Call(ch, _sel("deposit(uint256)") + encode(["uint256"], [amount])))


def _reorg_recovery(mpath: Path, url: str, m: Manifest, market: dict, tmp: Path) -> dict:
    from fastapi.testclient import TestClient  # noqa: PLC0415

    from relay.app import create_app  # noqa: PLC0415
    from relay.chainview import RpcChain  # noqa: PLC0415
    from relay.config import RelaySettings  # noqa: PLC0415
    from relay.follower import EventFollower  # noqa: PLC0415
    from relay.store import SqlOrderStore  # noqa: PLC0415

    seller, buyer = (Account.from_key(bytes([0x60 + i]) * 32) for i in range(2))
    for t in (seller, buyer):
        _fund(m, url, t, 50_000 * USDC)
    sep = domain_separator(m.chain_id, m.address("Exchange"))
    chain = RpcChain.from_manifest(m, url, head_ttl=0.0)
    store = SqlOrderStore(f"sqlite:///{tmp / 'reorg.db'}")
    start = int(m.data.get("block", 0))
    app = create_app(RelaySettings(background=False), chain=chain, store=store, fee_bps=5, start_block=start)
    relay = app.state.relay
    follower = EventFollower(chain, store, relay.validator, start, confirmations=0, notify=relay.notify)
    follower.poll_once()
    took = []
    nonce = 500_000
    try:
        with TestClient(app) as client:
            for _ in range(3):
                now = int(rpc(url, "eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
                # a fresh sender each round: the reorg took the taker's last 3 nonces back
                taker = TxSender(Rpc(url), buyer.key, chain_id=m.chain_id)
                posted = []
                for _ in range(6):
                    nonce += 1
                    o = Order(seller.address, market["id"], False, 1_000, 2_490_000, nonce, now + 3_600)
                    sig = sign_order(o, seller, sep)
                    r = client.post("/orders", json={**o.as_dict(), "signature": "0x" + sig.hex()})
                    if r.status_code != 201:
                        raise RuntimeError(f"reorg bench: relay refused an order: {r.text}")
                    posted.append((o, sig, r.json()["hash"]))
                for o, sig, _ in posted:  # one block each
                    data = _sel("fill((address,uint256,bool,uint256,int256,uint256,uint256,bool),bytes,uint256)")
                    taker.transact(
                        Call(
                            m.address("Exchange"),
                            data
                            + encode(
                                ["(address,uint256,bool,uint256,int256,uint256,uint256,bool)", "bytes", "uint256"],
                                [o.as_tuple(), sig, 1_000],
                            ),
                        )
                    )
                follower.poll_once()

                def states(posted=posted):
                    return [client.get(f"/orders/{h}").json()["status"] for _, _, h in posted]

                if states() != ["filled"] * 6:
                    raise RuntimeError(f"reorg bench: fills not followed: {states()}")
                rpc(url, "anvil_reorg", [3, []])
                t0 = time.perf_counter()
                follower.poll_once()
                took.append(time.perf_counter() - t0)
                if states() != ["filled"] * 3 + ["open"] * 3:
                    raise RuntimeError(f"reorg bench: relay not right after the reorg: {states()}")
    finally:
        store.close()
    return {
        "name": "relay recovery after a 3-block reorg (anvil_reorg; one follower poll detects the fork, rolls back, "
        f"replays; 3 dropped fills come back open, 3 stay filled; median of 3) {_load()}",
        "value": round(statistics.median(took) * 1000, 1),
        "unit": "ms",
        "target": "",
    }


class _Closed(RuntimeError):
    pass


async def _blast_raw(
    url: str, bodies: list, path: str = "/orders", concurrency: int = CONCURRENCY
) -> tuple[float, list[int], list[bytes]]:
    """Same load as `_blast` (`concurrency` keep-alive connections, one request in flight on
    each) from a minimal asyncio HTTP/1.1 client: httpx costs ~2 ms of client CPU per request,
    as much as the relay itself, and on a 2-core box the client's CPU is taken from the relay.

    It reads every response completely and honours `Connection: close` (uvicorn sends it with
    a 500 and then closes): the old client did neither and wrote its next request into a closed
    socket, the ConnectionResetError that failed `make bench`; a server close is now reported
    as such, with the status that preceded it."""
    import json
    from urllib.parse import urlsplit

    u = urlsplit(url)
    codes: list[int] = []
    replies: list[bytes] = []
    queue = list(reversed(bodies))
    head = f"POST {path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nContent-Type: application/json\r\n"

    async def worker():
        reader, writer = await asyncio.open_connection(u.hostname, u.port)
        try:
            while queue:
                payload = json.dumps(queue.pop()).encode()
                writer.write(f"{head}Content-Length: {len(payload)}\r\n\r\n".encode() + payload)
                status = await reader.readline()
                if not status:
                    raise _Closed("the relay closed the connection before answering")
                length, close = 0, False
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.partition(b":")
                    name = name.strip().lower()
                    if name == b"content-length":
                        length = int(value)
                    elif name == b"connection" and value.strip().lower() == b"close":
                        close = True
                body = await reader.readexactly(length)
                code = int(status.split()[1])
                codes.append(code)
                if path != "/orders" or code >= 300:
                    replies.append(body)
                if close:  # the server ends this connection: open a new one
                    writer.close()
                    reader, writer = await asyncio.open_connection(u.hostname, u.port)
        finally:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - t0, codes, replies


async def _blast(url: str, bodies: list[dict]) -> tuple[float, list[int]]:
    codes: list[int] = []
    queue = list(reversed(bodies))
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=httpx.Limits(max_connections=CONCURRENCY)) as c:

        async def worker():
            while queue:
                b = queue.pop()
                codes.append((await c.post("/orders", json=b)).status_code)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return time.perf_counter() - t0, codes


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used (/proc/<pid>/stat, fields 14 and 15)."""
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _per_cpu(row: dict, n: int, cpu: float) -> dict:
    """The companion row: orders per CPU-second of the relay process. The machine is shared
    (other jobs, the load generator, anvil), so wall-clock orders/s move with its load; what a
    relay process costs per order does not, and one process on an idle core does about this
    many per second."""
    return {
        "name": f"  same, per CPU-second of the relay process ({cpu:.1f} CPU-s for {n} orders, {_per_order_us(n, cpu)})",
        "value": round(n / cpu, 1),
        "unit": "orders/CPU-s",
        "target": row["target"],
    }


def _load() -> str:
    """The machine's 1-minute load average, said next to each wall-clock figure (2 cores, shared)."""
    import os

    return f" [load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores]"


def _per_order_us(n: int, cpu: float) -> str:
    return f"{cpu / n * 1e6:.0f} µs of relay CPU per order"


def _log_tail(path: Path, n: int = 3_000) -> str:
    try:
        return path.read_text(errors="replace")[-n:]
    except OSError:
        return "(no relay log)"


def _posts(
    mpath: Path, anvil_url: str, db: str, label: str, bodies: list[dict], market: dict, log: Path, httpx_run: bool
):
    """Single posts, then batches, then (SQLite) httpx and a book read, on one fresh relay."""
    rows: list[dict] = []
    warm, single, batched, rest = (
        bodies[:N_TRADERS],
        bodies[N_TRADERS : N_TRADERS + N_ORDERS],
        bodies[N_TRADERS + N_ORDERS : N_TRADERS + N_ORDERS + N_BATCHED],
        bodies[N_TRADERS + N_ORDERS + N_BATCHED :],
    )
    with RelayProcess(str(mpath), anvil_url, db, log_path=str(log)) as relay:
        try:
            codes = [httpx.post(relay.url + "/orders", json=b).status_code for b in warm]
            assert codes == [201] * N_TRADERS, codes
            cpu0 = _cpu_seconds(relay.proc.pid)
            secs, codes, replies = asyncio.run(_blast_raw(relay.url, single))
            cpu = _cpu_seconds(relay.proc.pid) - cpu0
            if codes.count(201) != N_ORDERS:
                raise RuntimeError(
                    f"only {codes.count(201)}/{N_ORDERS} posts accepted: {sorted(set(codes))} {replies[:3]}"
                )
            rows.append(
                {
                    "name": f"relay order posts/s, POST /orders one order per request, full validation ({N_ORDERS} "
                    f"orders, {CONCURRENCY} concurrent keep-alive connections, loopback uvicorn, {label})",
                    "value": round(N_ORDERS / secs, 1),
                    "unit": "orders/s",
                    "target": ">= 500",
                }
            )
            rows.append(_per_cpu(rows[-1], N_ORDERS, cpu))
            rows[-2]["name"] += _load()
            batches = [{"orders": batched[i : i + BATCH]} for i in range(0, len(batched), BATCH)]
            cpu0 = _cpu_seconds(relay.proc.pid)
            secs, codes, replies = asyncio.run(
                _blast_raw(relay.url, batches, "/orders/batch", concurrency=BATCH_CONCURRENCY)
            )
            cpu = _cpu_seconds(relay.proc.pid) - cpu0
            import json

            accepted = sum(json.loads(r)["accepted"] for r in replies if r.startswith(b"{"))
            if codes != [200] * len(batches) or accepted != N_BATCHED:
                raise RuntimeError(f"batches: {sorted(set(codes))}, {accepted}/{N_BATCHED} accepted: {replies[:1]}")
            rows.append(
                {
                    "name": f"relay validated orders/s, POST /orders/batch ({N_BATCHED} orders in batches of {BATCH}, "
                    f"{BATCH_CONCURRENCY} connections; same validation per order, one INSERT per batch, {label})",
                    "value": round(N_BATCHED / secs, 1),
                    "unit": "orders/s",
                    "target": ">= 3,000",
                }
            )
            rows.append(_per_cpu(rows[-1], N_BATCHED, cpu))
            rows[-2]["name"] += _load()
            if not httpx_run:
                return rows
            name = (
                f"same as the first row, {N_HTTPX} more orders from httpx.AsyncClient ({CONCURRENCY} "
                f"concurrent; the client's own CPU shares the machine, {label})"
            )
            try:
                secs, codes = asyncio.run(_blast(relay.url, rest))
                value = round(N_HTTPX / secs, 1)
                if codes.count(201) != N_HTTPX:
                    raise RuntimeError(f"only {codes.count(201)}/{N_HTTPX} posts accepted: {sorted(set(codes))}")
            except httpx.TransportError as e:
                # seen in some runs on a loaded machine: httpx.ReadError, the relay's log silent;
                # not root-caused (the raw client's resets were: see _blast_raw). Reported, not hidden
                value = f"failed: {e!r}"
            rows.append({"name": name, "value": value, "unit": "orders/s", "target": ""})
            t0 = time.perf_counter()
            for _ in range(20):
                httpx.get(f"{relay.url}/markets/{market['id']}/book", params={"depth": 10})
            rows.append(
                {
                    "name": f"book read with {len(bodies)} resting orders (levels + first 100 raw orders per side, {label})",
                    "value": round((time.perf_counter() - t0) / 20 * 1000, 1),
                    "unit": "ms",
                    "target": "",
                }
            )
        except (OSError, RuntimeError, AssertionError, asyncio.IncompleteReadError, httpx.HTTPError) as e:
            raise RuntimeError(f"{label} relay run failed: {e!r}; relay log tail:\n{_log_tail(log)}") from e
    return rows


def run() -> list[dict]:
    from devnet.postgres import PostgresServer

    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp, Anvil() as anvil:
        mpath = Path(tmp) / "manifest.json"
        deploy(anvil.url, mpath)
        m = Manifest.load(mpath)
        market = next(x for x in m.markets if x["symbol"].startswith("H100-SXM"))
        _push_mark(m, anvil.url, market, 2_500_000)
        traders = [Account.from_key(bytes([0x40 + i]) * 32) for i in range(N_TRADERS)]
        for t in traders:
            _fund(m, anvil.url, t, 50_000 * USDC)
        sep = domain_separator(m.chain_id, m.address("Exchange"))
        now = int(rpc(anvil.url, "eth_getBlockByNumber", ["latest", False])["timestamp"], 16)

        def body(t, i, is_buy, price):
            o = Order(t.address, market["id"], is_buy, 1_000, price, 10_000 + i, now + 7_200)
            return {**o.as_dict(), "signature": "0x" + sign_order(o, t, sep).hex()}

        # 1. posts/s (no matcher: bids far below asks, nothing crosses). The same signed orders go
        # to a fresh relay on each backend (nothing fills, so each is as valid the second time)
        bodies = [
            body(
                traders[i % N_TRADERS],
                i,
                i % 2 == 0,
                (2_000_000 - (i % 300) * 1_000) if i % 2 == 0 else (3_000_000 + (i % 300) * 1_000),
            )
            for i in range(N_TRADERS + N_ORDERS + N_BATCHED + N_HTTPX)
        ]
        rows += _posts(
            mpath, anvil.url, str(Path(tmp) / "bench.db"), "SQLite", bodies, market, Path(tmp) / "relay.log", True
        )
        with PostgresServer() as pg:
            rows += _posts(
                mpath,
                anvil.url,
                # an acknowledged order must be durable: the test cluster runs with
                # synchronous_commit off, so the relay's sessions turn it back on
                pg.create_database("bench") + "?options=-c%20synchronous_commit%3Don",
                "PostgreSQL 15",
                bodies,
                market,
                Path(tmp) / "relay-pg.log",
                False,
            )

        # 2. post -> on-chain fill latency, matcher on
        matcher = Account.from_key(bytes([0x77]) * 32)
        rpc(anvil.url, "anvil_setBalance", [matcher.address, hex(10**21)])
        r = Rpc(anvil.url)
        ch = m.address("Clearinghouse")
        lat = []
        with RelayProcess(
            str(mpath),
            anvil.url,
            str(Path(tmp) / "e2e.db"),
            match_key=matcher.key.hex(),
            log_path=str(Path(tmp) / "relay-e2e.log"),
        ) as relay:
            seller, buyer = traders[0], traders[1]
            for i in range(5):
                ask = body(seller, 900_000 + i, False, 2_490_000)
                assert httpx.post(relay.url + "/orders", json=ask).status_code == 201
                before = decode(
                    ["int256", "int256"],
                    r.call(
                        ch,
                        _sel("position(address,uint256)")
                        + encode(["address", "uint256"], [buyer.address, market["id"]]),
                    ),
                )[0]
                bid = body(buyer, 900_000 + i, True, 2_510_000)
                t0 = time.perf_counter()
                assert httpx.post(relay.url + "/orders", json=bid).status_code == 201
                while True:
                    q = decode(
                        ["int256", "int256"],
                        r.call(
                            ch,
                            _sel("position(address,uint256)")
                            + encode(["address", "uint256"], [buyer.address, market["id"]]),
                        ),
                    )[0]
                    if q != before:
                        break
                    if time.perf_counter() - t0 > 30:
                        raise RuntimeError("crossing order was not matched within 30 s")
                    time.sleep(0.002)
                lat.append(time.perf_counter() - t0)
        rows.append(
            {
                "name": "post crossing order -> on-chain fill visible (anvil automine, median of 5)",
                "value": round(statistics.median(lat) * 1000, 1),
                "unit": "ms",
                "target": "",
            }
        )
        # 3. recovery after a 3-block reorg
        rows.append(_reorg_recovery(mpath, anvil.url, m, market, Path(tmp)))
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
