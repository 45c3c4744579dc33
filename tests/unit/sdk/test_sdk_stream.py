"""Reader.stream_fills: resumes from its block cursor after RPC failures, no gaps, no repeats."""

from __future__ import annotations

import threading

from sdk.models import Fill
from sdk.reader import Reader


def fill(block: int, idx: int = 0) -> Fill:
    return Fill("0xh", 1, "0xm", "0xt", True, 1000, 1, 0, 0, block, f"0xtx{block}", idx)


class FlakyChain:
    """Head advances one block per poll; every third call fails like a dropped connection."""

    def __init__(self, fills_at: dict[int, list[Fill]]):
        self.head, self.calls, self.fills_at, self.ranges = 10, 0, fills_at, []

    def block_number(self):
        self.calls += 1
        if self.calls % 3 == 0:
            raise ConnectionError("connection reset")
        self.head += 1
        return self.head

    def fills(self, address, start, end):
        self.ranges.append((start, end))
        return [f for b in range(start, end + 1) for f in self.fills_at.get(b, [])]


def test_stream_fills__reconnects_and_resyncs_without_gaps_or_repeats():
    chain = FlakyChain({11: [fill(11)], 12: [fill(12), fill(12, 1)], 15: [fill(15)], 20: [fill(20)]})
    reader = object.__new__(Reader)  # no RPC: block_number and fills come from the flaky chain
    reader.block_number, reader.fills = chain.block_number, chain.fills
    stop, got = threading.Event(), []
    for f in reader.stream_fills("0xt", from_block=11, poll_interval=0.001, stop=stop, max_backoff=0.01):
        got.append((f.block_number, f.log_index))
        if f.block_number == 20:
            stop.set()
    assert got == [(11, 0), (12, 0), (12, 1), (15, 0), (20, 0)]
    # the block ranges read are contiguous: nothing skipped across the failures
    assert all(b[0] == a[1] + 1 for a, b in zip(chain.ranges, chain.ranges[1:], strict=False))
    assert chain.calls >= 3  # failures happened
