"""Client.ensure_marks (issue 10, marks pushed only where needed): a market without a fresh mark
is requested from the reporters and waited for, with a typed error when nobody is configured
(StaleMarket at once) or the mark does not come (MarkTimeout, bounded). The chain and HTTP sides
are stubbed on the instance; on a devnet the market maker gets its first marks this way."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from sdk.client import Client
from sdk.errors import MarkTimeout, StaleMarket
from sdk.models import Mark

FEED = "0x" + "ab" * 32


def _client(marks: list[bool], oracle_urls=("http://r1", "http://r2")):
    """A Client whose mark(1) answers fresh/stale in turn (the last answer repeats)."""
    c = Client.__new__(Client)
    c.oracle_urls, c.mark_wait = list(oracle_urls), 0.2
    answers = list(marks)
    c.requested = []
    c._resolve_id = lambda ref: int(ref)
    c._static_market = lambda mid, block="latest": SimpleNamespace(id=mid, symbol="S", mark_feed=FEED)
    c.mark = lambda mid: Mark(mid, FEED, 1, 1, answers.pop(0) if len(answers) > 1 else answers[0])
    c.request_marks = lambda ms: c.requested.append(list(ms)) or list(c.oracle_urls)
    c.market = lambda mid: SimpleNamespace(id=mid)
    c.stale_error = lambda m, action=None: StaleMarket(f"{action}: market {m.id} is stale", market_id=m.id)
    return c


def test_fresh_mark__nothing_requested():
    c = _client([True])
    assert c.ensure_marks([1])[0].fresh and c.requested == []


def test_stale_mark__requested_then_waited_for():
    c = _client([False, False, True])
    assert c.ensure_marks([1], timeout=5)[0].fresh
    assert c.requested == [[1]]


def test_mark_never_comes__mark_timeout_bounded():
    c = _client([False])
    with pytest.raises(MarkTimeout) as e:
        c.ensure_marks([1], timeout=0.3, action="buy")
    assert e.value.market_id == 1 and e.value.asked == ["http://r1", "http://r2"]
    assert "buy: market 1" in str(e.value) and isinstance(e.value, StaleMarket)


def test_no_oracle_urls__stale_market_at_once():
    c = _client([False], oracle_urls=())
    with pytest.raises(StaleMarket) as e:
        c.ensure_marks([1], action="buy")
    assert not isinstance(e.value, MarkTimeout) and c.requested == []
