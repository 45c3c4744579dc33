"""Three oracle reporter services + the pusher move marks on chain; one reporter down still
meets quorum (2 of 3); a pusher without a key runs dry and only logs."""

from __future__ import annotations

import pytest

from scripts._keepers_env import ATC, PEAK, wait_until

pytestmark = pytest.mark.integration


def test_pusher__three_reporters__marks_on_chain__one_down_quorum_still_met(env):
    env.start_reporters()
    dry = env.start_pusher(None, name="dry")
    dry.wait_logged("dry run: would send")
    assert not env.oracle_events()  # dry run sent nothing
    pusher = env.start_pusher()
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
    # the pusher handled the last block and chose not to submit (it logs that before the line)
    assert pusher.wait_processed(env.w3.eth.block_number).get("submitted") is False
    assert len(env.oracle_events()) == n
