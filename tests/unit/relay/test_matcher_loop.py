"""Matcher and re-validation over a FakeChain and a fake sender: nothing lost, nothing duplicated."""

from __future__ import annotations

from matcher_helpers import SEP, USDC, make_order, sign_order

from chain.tx import Receipt, TxFailed
from relay.chainview import AccountInfo
from relay.follower import Revalidator
from relay.matcher import Matcher
from relay.store import StoredOrder
from relay.validation import OrderValidator, ValidationSettings


class FakeSender:
    address = "0x" + "99" * 20

    def __init__(self, chain, fail: str | None = None):
        self.chain, self.fail, self.sent = chain, fail, []

    def transact(self, call):
        self.sent.append(call.data)
        if self.fail:
            raise TxFailed(self.fail)
        return Receipt("0x01", 2, 100_000, [])


def _setup(chain, store, traders, fail=None):
    chain.invalidate = lambda: None
    v = OrderValidator(chain, store, SEP, ValidationSettings(fee_bps=5))
    sender = FakeSender(chain, fail)
    return Matcher(store, chain, v, sender), sender, v


def _add(store, acct, **kw):
    o = make_order(acct, **kw)
    return store.add(StoredOrder("0x" + o.digest(SEP).hex(), o, sign_order(o, acct, SEP), remaining=o.quantity))


def test_step__crossing_pair__one_tx_then_remaining_read_back(chain, store, traders):
    m, sender, _ = _setup(chain, store, traders)
    ask = _add(store, traders[0], is_buy=False, price=2_400_000, quantity=20_000)
    bid = _add(store, traders[1], is_buy=True, price=2_500_000, quantity=10_000)
    chain.filled[ask.hash] = chain.filled[bid.hash] = 10_000  # what the chain says after the match
    res = m.step()
    assert len(res) == 1 and res[0].ok and res[0].price == 2_400_000 and res[0].maker == ask.hash
    assert len(sender.sent) == 1
    assert store.get(bid.hash).status == "filled"
    assert store.get(ask.hash).status == "open" and store.get(ask.hash).remaining == 10_000
    assert not store.get(ask.hash).in_flight


def test_step__failed_match_dead_taker__taker_dropped_maker_kept(chain, store, traders):
    m, sender, _ = _setup(chain, store, traders, fail="Exchange: order cancelled")
    ask = _add(store, traders[0], is_buy=False, price=2_400_000)
    bid = _add(store, traders[1], is_buy=True, price=2_500_000)
    chain.cancelled_.add(bid.hash)
    res = m.step()
    assert [r.ok for r in res] == [False] and res[0].dropped == (bid.hash,)
    assert store.get(bid.hash).status == "cancelled"
    a = store.get(ask.hash)
    assert a.status == "open" and not a.in_flight and a.remaining == a.order.quantity


def test_step__failed_match_margin_gone__that_side_dropped(chain, store, traders):
    m, _, _ = _setup(chain, store, traders, fail="Clearinghouse: insufficient margin")
    ask = _add(store, traders[0], is_buy=False, price=2_400_000)
    bid = _add(store, traders[1], is_buy=True, price=2_500_000)
    chain.accounts[traders[1].address] = AccountInfo(0, 0, 0, 0, True, 0)
    m.step()
    assert store.get(bid.hash).status == "rejected" and store.get(ask.hash).status == "open"


def test_step__failed_match_both_alive__pair_skipped_not_retried(chain, store, traders):
    m, sender, _ = _setup(chain, store, traders, fail="Clearinghouse: stale mark")
    _add(store, traders[0], is_buy=False, price=2_400_000)
    _add(store, traders[1], is_buy=True, price=2_500_000)
    assert len(m.step()) == 1 and len(m.step()) == 0 and len(sender.sent) == 1
    assert len(store.query()) == 2 and not any(o.in_flight for o in store.query())


def test_revalidate__filled_expired_and_margin_gone__dropped(chain, store, traders):
    _, _, v = _setup(chain, store, traders)
    filled = _add(store, traders[0])
    _add(store, traders[0], expiry=chain.now + 10)  # expires before the revalidation below
    older = _add(store, traders[1])
    younger = _add(store, traders[1])
    chain.filled[filled.hash] = filled.order.quantity
    chain.now += 20
    chain.accounts[traders[1].address] = AccountInfo(10 * USDC, 10 * USDC, 0, 0, True, 0)  # fits one order
    dropped = Revalidator(store, v).run_once()
    assert dropped == {"filled": 1, "expired": 1, "margin": 1}
    assert store.get(older.hash).status == "open" and store.get(younger.hash).status == "rejected"
