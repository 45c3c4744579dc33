"""A reporter values a templated market's feeds only when asked (issue 10 at scale): the
per-block round values the manifest's own markets, not every window of the curve it ever served,
and a feed asked for several times at one chain time is valued once."""

from __future__ import annotations

from collections import Counter

from test_oracle_service import X
from test_oracle_templates import GOOD_HASH, MARK_CLASS, MemoryChain, client_with, fid

from core.specs import feed_hex


class CountingValuer:
    """The reporter's own Valuer, counting mark valuations per delivery_start."""

    def __init__(self, inner):
        self.inner, self.marks = inner, Counter()

    def mark(self, spec, now):
        self.marks[spec["delivery_start"]] += 1
        return self.inner.mark(spec, now)

    def settlement(self, spec, now):
        return self.inner.settlement(spec, now)


def _setup(tmp_path, windows: int):
    chain = MemoryChain(GOOD_HASH)
    starts = [X + 3600 * i for i in range(1, windows + 1)]  # X itself is the manifest market's window
    for s in starts:
        chain.list(s, s + 3600)
    client = client_with(chain, tmp_path)
    reporter = client.app.state.reporter
    reporter.valuer = CountingValuer(reporter.valuer)
    return client, reporter, starts


def _report(client, starts):
    ids = ",".join(feed_hex(fid(MARK_CLASS, s, s + 3600)) for s in starts)
    r = client.get("/reports/latest", params={"feed_ids": ids})
    assert r.status_code == 200, r.text
    return r.json()


def test_templated_feeds__valued_when_asked__not_every_round(tmp_path):
    client, reporter, starts = _setup(tmp_path, 24)
    _report(client, starts)  # the pusher asked for all 24 once (they are now served)
    assert all(reporter.valuer.marks[s] == 1 for s in starts)

    for _ in range(5):  # five new chain times, nobody asks for the templated marks
        reporter.clock.now += 60
        assert client.get("/health").status_code == 200
    assert all(reporter.valuer.marks[s] == 1 for s in starts)  # the rounds did not value them

    _report(client, starts[:2])  # asked again at the new time: those two only, once each
    _report(client, starts[:2])
    assert [reporter.valuer.marks[s] for s in starts[:3]] == [2, 2, 1]


def test_templated_feed__read_by_id__valued_at_the_current_time(tmp_path):
    client, reporter, starts = _setup(tmp_path, 1)
    f = feed_hex(fid(MARK_CLASS, starts[0], starts[0] + 3600))
    first = client.get(f"/feeds/{f}").json()
    reporter.clock.now += 60
    client.get("/health")
    again = client.get(f"/feeds/{f}").json()
    assert first["observed_at"] + 60 == again["observed_at"] == reporter.now
