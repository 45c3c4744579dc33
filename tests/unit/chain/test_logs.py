"""chain.logs: pages in order, a refused range is halved, other errors surface."""

from __future__ import annotations

import pytest

from chain.logs import block_ranges, collect, is_range_too_large, paged, rpc_paged


def test_block_ranges__inclusive_pages_cover_exactly():
    assert list(block_ranges(0, 9, 4)) == [(0, 3), (4, 7), (8, 9)]
    assert list(block_ranges(5, 5, 100)) == [(5, 5)]
    assert list(block_ranges(6, 5, 100)) == []
    with pytest.raises(ValueError):
        list(block_ranges(0, 1, 0))


class _Provider:
    """Logs at every block; refuses ranges wider than `max_range` like Alchemy/Infura do."""

    def __init__(self, max_range: int, message: str = "query returned more than 10000 results"):
        self.max_range, self.message, self.calls = max_range, message, []

    def __call__(self, a: int, b: int) -> list:
        self.calls.append((a, b))
        if b - a + 1 > self.max_range:
            raise ValueError({"code": -32005, "message": self.message})
        return [{"blockNumber": n} for n in range(a, b + 1)]


@pytest.mark.parametrize(
    "message",
    [
        "query returned more than 10000 results",
        "block range is too large",
        "exceed maximum block range: 2000",
        "Log response size exceeded",
        "eth_getLogs is limited to a 1000 block range",
    ],
)
def test_paged__refused_range__halved_until_accepted__nothing_lost_or_repeated(message):
    assert is_range_too_large(ValueError(message))
    p = _Provider(max_range=300, message=message)
    logs = collect(p, 0, 2_499, chunk=1_000)
    assert [lg["blockNumber"] for lg in logs] == list(range(2_500))
    assert all(b - a + 1 <= 1_000 for a, b in p.calls)


def test_paged__yields_progress_in_block_order():
    ends = [end for end, _ in paged(_Provider(10_000), 10, 35, chunk=10)]
    assert ends == [19, 29, 35]


def test_paged__other_error__raised_not_split():
    def down(a, b):
        raise ConnectionError("connection refused")

    with pytest.raises(ConnectionError):
        collect(down, 0, 100)


def test_paged__single_block_still_refused__raised():
    with pytest.raises(ValueError):
        collect(_Provider(max_range=0), 0, 3, chunk=4)


def test_rpc_paged__hex_block_numbers_on_the_wire():
    seen = []

    def rpc(method, params):
        assert method == "eth_getLogs"
        seen.append(params[0])
        return []

    list(rpc_paged(rpc, "0xabc", [["0x01"]], 0, 20, chunk=16))
    assert [(q["fromBlock"], q["toBlock"]) for q in seen] == [("0x0", "0xf"), ("0x10", "0x14")]
    assert seen[0]["address"] == "0xabc" and seen[0]["topics"] == [["0x01"]]
