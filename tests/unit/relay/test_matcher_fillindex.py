"""FillIndex: remaining(order) from the Exchange's logs only when they prove the order untouched."""

from relay.chainview import TOPIC_CANCELLED, TOPIC_FILLED, ChainError, FillIndex

H1, H2, H3 = "0x" + "11" * 32, "0x" + "22" * 32, "0x" + "33" * 32
MAKER, TAKER, OTHER = "0x" + "aa" * 20, "0x" + "bb" * 20, "0x" + "cc" * 20


def _topic(addr):
    return "0x" + "00" * 12 + addr[2:]


class FakeRpc:
    def __init__(self):
        self.logs: dict[int, list[dict]] = {}
        self.fail = False
        self.calls = 0

    def __call__(self, method, params):
        assert method == "eth_getLogs"
        self.calls += 1
        if self.fail:
            raise ChainError("down")
        lo, hi = int(params[0]["fromBlock"], 16), int(params[0]["toBlock"], 16)
        return [lg for b, lgs in self.logs.items() if lo <= b <= hi for lg in lgs]


def test_untouched__only_when_neither_hash_nor_trader_as_taker_seen():
    rpc = FakeRpc()
    rpc.logs[5] = [
        {"topics": [TOPIC_FILLED, H1, _topic(MAKER), _topic(TAKER)]},
        {"topics": [TOPIC_CANCELLED, H2, _topic(OTHER)]},
    ]
    fi = FillIndex(rpc, "0x" + "ee" * 20, start_block=1)
    assert not fi.untouched(H3, OTHER, 5)  # not synced yet: fall back to the eth_call
    fi.sync(6)
    assert fi.untouched(H3, OTHER, 6)
    assert not fi.untouched(H1, MAKER, 6)  # filled as maker
    assert not fi.untouched(H2, OTHER, 6)  # cancelled
    assert not fi.untouched(H3, TAKER.upper().replace("0X", "0x"), 6)  # its trader has taken: hash unknown
    assert not fi.untouched(H3, OTHER, 7)  # behind the head


def test_sync__failed_read__stays_behind_then_catches_up_and_rereads_recent_blocks():
    rpc = FakeRpc()
    fi = FillIndex(rpc, "0x" + "ee" * 20, start_block=1, rewind=2)
    fi.sync(10)
    rpc.fail = True
    fi.sync(11)
    assert fi.synced_to == 10 and not fi.untouched(H3, OTHER, 11)
    rpc.fail = False
    rpc.logs[10] = [{"topics": [TOPIC_FILLED, H3, _topic(MAKER), _topic(TAKER)]}]  # e.g. a shallow reorg
    fi.sync(11)
    assert fi.synced_to == 11 and not fi.untouched(H3, OTHER, 11)
