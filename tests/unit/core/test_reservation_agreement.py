"""The SDK and the relay apply one margin rule to a resting order (core.margin.reservation), so on
any book an order the SDK approves is never refused by the relay for margin, and an order the
SDK refuses for margin is refused by the relay too. And the rule is conservative: an order it
lets rest would pass the Clearinghouse's own check if it filled now at its limit.

Relay side: the relay's real `OrderValidator.check` over a fake chain and its SQL store. SDK
side: the relay's `GET /orders` rows (`order_json`) parsed by the SDK's relay client, then the
Client's own reservation check (`Client._check_reservation`, what `place_order` runs).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from eth_account import Account
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from core import margin as cm
from core import units as u
from relay.chainview import AccountInfo, MarketInfo
from relay.relay import order_json
from relay.store import SqlOrderStore, StoredOrder
from relay.validation import OrderValidator, RelayError, ValidationSettings
from sdk.client import Client
from sdk.errors import InsufficientMargin
from sdk.relay_client import exposure_from_json
from tests.unit.relay.matcher_helpers import NOW, SEP, FakeChain, make_order, sign_order

TRADER = Account.from_key(b"\x07" * 32)
MIDS = (1, 2, 3)
TICK, STEP = 1_000, 100


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    s = SqlOrderStore(f"sqlite:///{tmp_path_factory.mktemp('relay') / 'relay.db'}")
    yield s
    s.close()


markets_st = st.lists(
    st.tuples(st.integers(0, 5_000_000), st.integers(0, 5_000), st.integers(-200_000, 200_000)), min_size=3, max_size=3
)  # (im_fixed, im_rate_bps, mark in ticks)
order_st = st.tuples(
    st.sampled_from(MIDS), st.booleans(), st.integers(1, 300), st.integers(-50, 50), st.booleans()
)  # (market, buy, quantity in steps, price offset from the mark in %, reduce-only)


class _SdkSide:
    """The state the SDK reads (the same chain the relay reads)."""

    def __init__(self, markets: dict[int, MarketInfo]):
        self._m = markets

    def market(self, mid):
        m = self._m[mid]
        return SimpleNamespace(
            id=mid,
            im_fixed=m.im_fixed,
            im_rate_bps=m.im_rate_bps,
            mark=SimpleNamespace(price_units=m.mark, fresh=m.mark_fresh),
        )

    def _require_fresh(self, acct, action):
        assert acct.fresh


def _world(mkts, free):
    chain = FakeChain()
    chain.markets = {
        mid: MarketInfo(mid, NOW + 86_400, STEP, STEP, TICK, f, r, False, False, mark * TICK, NOW, True)
        for mid, (f, r, mark) in zip(MIDS, mkts, strict=False)
    }
    # equity - IM = free; the rest of the account does not matter to the rule
    chain.accounts[TRADER.address] = AccountInfo(10**12, 10**12 + free, 10**12, 0, True, 0)
    return chain


def _order(chain, mid, is_buy, steps, pct, reduce_only, nonce):
    mark = chain.markets[mid].mark
    price = (mark + abs(mark) * pct // 100) // TICK * TICK
    return make_order(
        TRADER, market_id=mid, is_buy=is_buy, quantity=steps * STEP, price=price, nonce=nonce, reduce_only=reduce_only
    )


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    mkts=markets_st,
    free=st.integers(-(10**6), 10**10),
    resting=st.lists(order_st, max_size=6),
    new=order_st,
    fee_bps=st.integers(0, 50),
)
def test_sdk_and_relay__random_books__same_margin_verdict(store, mkts, free, resting, new, fee_bps):
    chain = _world(mkts, free)
    for so in store.query(trader=TRADER.address, limit=100):
        store.kill(so.hash, "cancelled")
    for i, r in enumerate(resting):
        o = _order(chain, *r, nonce=next_nonce())
        h = "0x" + o.digest(SEP).hex()
        if not store.exists(h):
            store.add(StoredOrder(h, o, sign_order(o, TRADER, SEP), remaining=o.quantity * (1 + i % 3) // 3 or STEP))
    o = _order(chain, *new[:4], False, nonce=next_nonce())
    validator = OrderValidator(chain, store, SEP, ValidationSettings(fee_bps=fee_bps))
    try:
        validator.check(o, sign_order(o, TRADER, SEP))
        relay_ok = True
    except RelayError as e:
        assert e.code == "insufficient_margin", e.detail  # nothing else can refuse it here
        relay_ok = False

    rows = [order_json(so) for so in store.query(trader=TRADER.address, limit=100)]
    acct = SimpleNamespace(
        fresh=True, equity_units=10**12 + free, initial_margin_units=10**12, equity=u.base_to_usd(10**12 + free)
    )
    sdk = _SdkSide(chain.markets)
    try:
        Client._check_reservation(
            sdk,
            acct,
            sdk.market(o.market_id),
            o.is_buy,
            o.quantity,
            o.price,
            exposure_from_json(rows),
            fee_bps,
            "test order",
        )
        sdk_ok = True
    except InsufficientMargin:
        sdk_ok = False
    assert sdk_ok == relay_ok
    event(f"relay {'accepts' if relay_ok else 'refuses'}, {len(rows)} resting")


_n = iter(range(1, 10**9))


def next_nonce() -> int:
    return 5 * 10**9 + next(_n)


@settings(max_examples=400, deadline=None)
@given(
    mkts=markets_st,
    coll=st.integers(0, 10**10),
    q0=st.integers(-300, 300),
    entry=st.integers(-50, 50),
    new=order_st,
    fee_bps=st.integers(0, 50),
)
def test_reservation_ok__chain_would_take_the_fill_now(mkts, coll, q0, entry, new, fee_bps):
    """An order the relay lets rest passes the Clearinghouse's check (core.margin.trade_refusal)
    if it fills now, at its limit, at today's marks, whatever the account holds."""
    mid, is_buy, steps, pct, _ = new
    legs = {}
    for m_id, (f, r, mark) in zip(MIDS, mkts, strict=False):
        risk = cm.Risk(f, r, f * 2 // 3, r * 2 // 3)
        q = q0 * STEP if m_id == mid else 0
        on = cm.notional(q, mark * TICK + abs(mark * TICK) * entry // 100 // TICK * TICK)
        legs[m_id] = cm.Leg(q, on, mark * TICK, risk)
    before = cm.summarise(coll, legs.values())
    g = legs[mid]
    price = (g.mark + abs(g.mark) * pct // 100) // TICK * TICK
    q = steps * STEP
    ms = {m_id: cm.MarketMargin(leg.risk.im_fixed, leg.risk.im_rate_bps, leg.mark) for m_id, leg in legs.items()}
    if not cm.reservation(before.excess, [], cm.Resting(mid, is_buy, q, price), ms, fee_bps).ok:
        event("reservation refuses")
        return
    fee = u.fee_units(q, price, fee_bps)  # the Exchange's fee at the same bps
    f = cm.apply_fill(coll, g.quantity, g.open_notional, q if is_buy else -q, price, fee)
    after = cm.summarise(
        f.collateral, [*(v for k, v in legs.items() if k != mid), cm.Leg(f.quantity, f.open_notional, g.mark, g.risk)]
    )
    assert cm.trade_refusal(before, after, f.grew) is None, (before, after)
    event(f"reservation ok, {'grows' if f.grew else 'reduces'} risk")


def test_order_need__negative_mark_buy_above_it__reserves_im_at_the_mark():
    """Regression (found by the property above): at a mark of -174 USD a buy at -128.76 has
    |price| < |mark|, and IM at the order price under-reserved what the chain margins at the mark,
    so the relay let rest an order the Clearinghouse would refuse when it filled."""
    mark, price, q = -174 * u.USD_SCALE, -128_760_000, 159_000  # 159 units
    m = cm.MarketMargin(0, 41, mark)
    im_at_mark = cm.margin(q, 0, 41, mark)
    need = cm.order_need(True, q, price, m, 0)
    # IM at the mark plus the fill's loss against it (a buy above the mark)
    assert need == im_at_mark + cm.ceil_div((price - mark) * q, 1_000)
