"""The pusher with `--select needed` on a real devnet (anvil, the deploy script, three reporter
services, the relay, the pusher; every process by PID): a market with no open interest and no
orders gets no pushes; a first order is refused (`stale_mark`), a first-mark request at a reporter
gets that one mark pushed in the pusher's next cycle, the order then rests, and from then on the
market's mark alone is kept fresh (heartbeat) while the others stay unmarked."""

from __future__ import annotations

import time

import httpx
import pytest
from eth_account import Account

from devnet.processes import RelayProcess
from scripts._keepers_env import ATC, HOURLY, PEAK, wait_until
from sdk.models import Order
from sdk.signing import sign_order

pytestmark = pytest.mark.integration


def pushed_feeds(env, from_block: int = 0) -> list[str]:
    return ["0x" + bytes(e.args.feed_id).hex() for e in env.oracle_events(from_block)]


def mark_feed(env, market_id: int) -> str:
    return next(m["mark_feed"].lower() for m in env.manifest["markets"] if m["id"] == market_id)


def test_pusher_needed__idle_markets_unmarked__first_order_marked_within_one_cycle(env, tmp_path):
    env.start_reporters()
    relay = RelayProcess(
        str(env.manifest_path), env.anvil.url, str(tmp_path / "relay.db"), log_path=str(tmp_path / "relay.log")
    )
    env.procs.append(relay)  # stopped with the others, by PID
    relay.start()
    pusher = env.start_bot(
        "pusher",
        0,
        "--reporters",
        env.reporter_urls(),
        "--poll-interval",
        "0.2",
        "--select",
        "needed",
        "--relay-url",
        relay.url,
    )
    pusher.wait_logged("startup", 60)

    # no OI, no orders, no request: blocks go by, nothing is pushed
    for _ in range(3):
        env.warp_to(env.now() + 5)
    pusher.wait_processed(env.w3.eth.block_number)
    assert pushed_feeds(env) == []
    assert not env.mark(ATC)[2]

    # a trader's first order on ATC: refused until a mark exists
    trader = env.new_account()
    env.fund(trader, 50_000)
    acct = Account.from_key(trader)

    def post(nonce: int) -> httpx.Response:
        o = Order(acct.address, ATC, True, 1_000, 700_000_000, nonce, env.now() + 7 * 86_400)
        signed = sign_order(o, acct, env.manifest["chain_id"], env.ex.address)
        return httpx.post(f"{relay.url}/orders", json=signed.as_json(), timeout=10)

    r = post(1)
    assert r.status_code == 400 and r.json()["code"] == "stale_mark", r.text

    # the first-mark request; the pusher's next cycle pushes exactly that mark
    atc = mark_feed(env, ATC)
    r = httpx.post(f"{_url(env, 1)}/marks/requests", json={"feed_ids": [atc]}, timeout=10)
    assert r.status_code == 202, r.text
    env.warp_to(env.now() + 5)
    asked_at = env.w3.eth.block_number
    t0 = time.monotonic()
    ev = wait_until(lambda: env.oracle_events(asked_at), 30, 0.1, "the requested mark")
    assert pushed_feeds(env) == [atc]
    # one cycle: pushed by the pusher's handling of the first block after the request
    assert ev[0].blockNumber == asked_at + 1, (ev[0].blockNumber, asked_at)
    assert env.mark(ATC)[2] and time.monotonic() - t0 < 30

    # now the order rests
    r = post(2)
    assert r.status_code == 201, r.text

    # past the heartbeat: the market with a resting order is re-marked, the idle ones are not
    before = env.mark(ATC)[1]
    env.warp_to(env.now() + 1_900)
    wait_until(lambda: env.mark(ATC)[1] > before, 30, 0.2, "heartbeat push of the market with a resting order")
    assert set(pushed_feeds(env)) == {atc}
    for idle in (HOURLY, PEAK):
        assert env.mark(idle)[1] == 0, idle
    assert pusher.logged("no quorum bundle: not submitting") == []


def _url(env, i: int) -> str:
    return f"http://127.0.0.1:{env.reporter_ports[i]}"
