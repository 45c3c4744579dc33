"""Three oracle reporter services + the pusher move marks on chain; one reporter down still
meets quorum (2 of 3); a pusher without a key runs dry and only logs."""
from __future__ import annotations

import pytest

from keepers_env import ATC, PEAK, T0, Env, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def env(tmp_path):
    e = Env(tmp_path)
    yield e
    e.close()


def test_pusher__three_reporters__marks_on_chain__one_down_quorum_still_met(env):
    for i in (1, 2, 3):
        env.start_reporter(i, wait=False)
    for i in (1, 2, 3):
        wait_until(lambda: env._up(f"http://127.0.0.1:{env.reporter_ports[i]}/health"), 60, 0.2, f"reporter {i}")
    dry = env.start_bot("pusher", None, "--reporters", env.reporter_urls(), "--poll-interval", "0.2", name="dry")
    wait_until(lambda: any(l.get("msg") == "dry run: would send" for l in dry.lines()), 30, 0.2, "dry-run log")
    assert not env.oracle_events()  # dry run sent nothing
    env.start_bot("pusher", 0, "--reporters", env.reporter_urls(), "--poll-interval", "0.2")
    ev = wait_until(lambda: env.oracle_events(), 30, 0.2, "first push")
    assert {env.signers_of(e) for e in ev} == {3}
    mark, observed, fresh = env.mark(ATC)
    # real HB_WEST ATC of 2021-02-14 seen at 12:00 CST on 02-13, before that day's DAM is posted:
    # 02-13's level (Uri begins) decaying to the 28-day median = $778.376043 (the old trailing
    # 7-day mean said $122.38; the day settled at $3,946.65)
    assert fresh and 778_000_000 < mark < 779_000_000
    assert env.mark(PEAK)[2]

    env.reporters[3].stop()
    n = len(env.oracle_events())
    env.warp_to(env.now() + 1_900)  # heartbeat (min(1800, max_price_age / 2)) expired
    ev = wait_until(lambda: env.oracle_events()[n:], 30, 0.2, "heartbeat push with 2 of 3 reporters")
    assert {env.signers_of(e) for e in ev} == {2}
    assert env.mark(ATC)[2]
    # nothing moved and no heartbeat due: no further pushes on new blocks
    n = len(env.oracle_events())
    env.warp_to(env.now() + 5)
    env.warp_to(env.now() + 5)
    import time
    time.sleep(1.5)
    assert len(env.oracle_events()) == n
