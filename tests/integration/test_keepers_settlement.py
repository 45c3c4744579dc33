"""Settler on anvil: the HB_WEST HOURLY 2021-02-14T16 market expires, its real settlement
value ($3,107.62/MWh for 16:00-17:00 CT on Feb 14 2021) is reported and pushed, stands for the dispute
window, is finalised and every position settled; sum of PnL + fees = 0."""
from __future__ import annotations

import pytest
from eth_account import Account

from keepers_env import HOURLY, T0, USDC, Env, wait_until
from sdk.devnet import ANVIL_KEYS

pytestmark = pytest.mark.integration


@pytest.fixture
def env(tmp_path):
    e = Env(tmp_path)
    yield e
    e.close()


def test_settlement__expired_market__finalised_after_dispute_window_and_all_settled_zero_sum(env):
    m = next(x for x in env.manifest["markets"] if x["id"] == HOURLY)
    delivery_end = m["params"]["delivery_end"]
    for i in (1, 2, 3):
        env.start_reporter(i, wait=False)
    for i in (1, 2, 3):
        wait_until(lambda: env._up(f"http://127.0.0.1:{env.reporter_ports[i]}/health"), 60, 0.2, f"reporter {i}")
    pusher = env.start_bot("pusher", 0, "--reporters", env.reporter_urls(), "--poll-interval", "0.2")
    wait_until(lambda: env.mark(HOURLY)[2], 30, 0.2, "mark pushed")
    fees0 = env.ch.functions.fees().call()
    keys = [env.new_account() for _ in range(5)]
    for k in keys:
        env.fund(k, 50_000)
    a, b, c, d, e = keys
    px = 42_010_000
    env.trade(b, a, HOURLY, False, 2_000, px)      # a long 2, b short 2
    env.trade(c, d, HOURLY, True, 1_500, px + 50_000)  # c long 1.5, d short 1.5
    env.trade(a, e, HOURLY, False, 500, px + 20_000)   # a sells 0.5 to e: a realises PnL
    settler = env.start_bot("settler", 5, "--poll-interval", "0.2")
    wait_until(lambda: any(l.get("msg") == "startup" for l in settler.lines()), 30, 0.2, "settler startup")

    env.warp_to(delivery_end + 60)
    sfeed = bytes.fromhex(m["settlement_feed"][2:])
    wait_until(lambda: env.oracle.functions.feed(sfeed).call()[1] >= delivery_end, 30, 0.2, "settlement pushed")
    price = env.oracle.functions.feed(sfeed).call()[0]
    assert price == 3_107_620_000  # the real DAM price of that hour
    # the pusher keeps pushing marks but leaves the settled feed out, so its dispute window runs
    written_at = env.oracle.functions.feed(sfeed).call()[2]
    assert not env.ch.functions.market_state(HOURLY).call()[1]
    env.warp_to(env.now() + 3_601)
    wait_until(lambda: env.ch.functions.market_state(HOURLY).call()[1], 30, 0.2, "finalised")
    holders = [Account.from_key(k).address for k in keys]
    wait_until(lambda: all(env.ch.functions.position(h, HOURLY).call()[0] == 0 for h in holders), 30, 0.2,
               "all settled")
    assert env.oracle.functions.feed(sfeed).call()[2] == written_at  # never re-pushed
    st = env.ch.functions.market_state(HOURLY).call()
    assert st[2] == price and st[3] == 0  # settlement price, long OI zero
    pnl = sum(env.ch.functions.collateral(h).call() - 50_000 * USDC for h in holders)
    fees = env.ch.functions.fees().call() - fees0
    assert fees > 0
    assert pnl + fees == 0, (pnl, fees)
    settled = env.events("Settled")
    assert {ev.args.account for ev in settled} == set(holders) - set()  # everyone had a position
    assert len([l for l in settler.lines() if l.get("msg") == "sent" and l.get("kind") == "finalize"]) == 1
