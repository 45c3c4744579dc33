"""core.margin and core.liquidation against the Clearinghouse itself (titanoboa), on random states.

Random books (several traders, three markets: a power-like one, a GPU-hour one with a coarse
step, a percentage-only one whose marks go negative), random mark moves, marks left stale,
markets halted. After every step the exact scalar rules must equal the contract's pinned views
(`equity`, `margin_requirements`, `is_liquidatable`, `account_summary`), every trade the
contract books must be what `apply_fill` predicts and every trade it refuses must be refused by
`trade_refusal` for the same reason, and every liquidation must take the size, at the price,
with the penalty and reward `core.liquidation.liquidate` predicts.
"""

from __future__ import annotations

import random

import boa
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from core import liquidation as cl
from core import margin as cm
from tests.utils.contract_helpers import events
from tests.utils.deployers import CLEARINGHOUSE_VIEW, MARKET_FIELDS, USDC, Protocol, new_trader

# (overrides, first mark): tick/step/min and margins differ per market on purpose
MARKETS = [
    (dict(), 50 * USDC),  # $/MWh: tick 1c, step 1 kWh, IM $15 + 25%, MM $10 + 15%
    (
        dict(
            price_tick=1_000,
            quantity_step=100,
            min_quantity=100,
            im_fixed=400_000,
            im_rate_bps=1_500,
            mm_fixed=250_000,
            mm_rate_bps=1_000,
        ),
        2_500_000,
    ),  # GPU-hours, 0.1 h step
    (
        dict(
            price_tick=100,
            quantity_step=10,
            min_quantity=10,
            im_fixed=0,
            im_rate_bps=3_000,
            mm_fixed=0,
            mm_rate_bps=2_000,
        ),
        -5 * USDC,
    ),  # percentage-only, negative marks
]
N_TRADERS = 5


@pytest.fixture(scope="module")
def world():
    p = Protocol.deploy()
    mids = [p.list_market(f"CORE{i}", **o) for i, (o, _) in enumerate(MARKETS)]
    for mid, (_, mark) in zip(mids, MARKETS, strict=False):
        p.set_mark(mid, mark)
    traders = [new_trader() for _ in range(N_TRADERS)]
    liquidator = new_trader()
    p.fund(liquidator.address, 1_000_000 * USDC)
    return p, mids, traders, liquidator


@pytest.fixture(autouse=True)
def _anchor():
    with boa.env.anchor():
        yield


def _params(ch, mid) -> dict:
    return dict(zip(MARKET_FIELDS, tuple(ch.market(mid)), strict=False))


def legs_of(ch, who: str, mids=None) -> dict[int, cm.Leg]:
    """The account's raw state read from the chain: positions, marks, freshness, halts."""
    out = {}
    for mid in ch.open_markets(who) if mids is None else mids:
        q, on = ch.position(who, mid)
        mark, _, fresh = ch.mark(mid)
        halted, settled = tuple(ch.market_state(mid))[:2]
        m = _params(ch, mid)
        out[mid] = cm.Leg(
            q,
            on,
            mark,
            cm.Risk(m["im_fixed"], m["im_rate_bps"], m["mm_fixed"], m["mm_rate_bps"]),
            fresh,
            halted,
            settled,
        )
    return out


_views: dict = {}


def summary_of(ch, who: str) -> cm.Summary:
    return cm.summarise(ch.collateral(who), legs_of(ch, who).values())


def assert_views_match(ch, who: str) -> cm.Summary:
    s = summary_of(ch, who)
    assert ch.equity(who) == s.equity
    assert tuple(ch.margin_requirements(who)) == (s.initial, s.maintenance)
    assert ch.is_liquidatable(who) == s.unhealthy
    # account_summary is the ClearinghouseView's (issue 13): one view per Clearinghouse
    # (re)deployed when a test's anchor rolled the cached one back
    if ch.address not in _views or not boa.env.get_code(_views[ch.address].address):
        _views[ch.address] = CLEARINGHOUSE_VIEW.deploy(ch.address)
    a = _views[ch.address].account_summary(who)
    assert (a.collateral, a.equity, a.initial, a.maintenance, a.fresh, a.open_markets) == (
        s.collateral,
        s.equity,
        s.initial,
        s.maintenance,
        s.fresh,
        s.open_markets,
    )
    return s


def _try_trade(p, mids, maker, taker, mid, maker_is_buy, qty, price) -> None:
    """Predict both sides with core, then trade on chain; the outcomes must agree."""
    ch = p.clearinghouse
    pred = {}
    for who, delta in ((maker.address, qty if maker_is_buy else -qty), (taker.address, -qty if maker_is_buy else qty)):
        legs = legs_of(ch, who, set(ch.open_markets(who)) | {mid})
        before = cm.summarise(ch.collateral(who), legs.values())
        g = legs[mid]
        f = cm.apply_fill(ch.collateral(who), g.quantity, g.open_notional, delta, price)
        legs[mid] = cm.Leg(f.quantity, f.open_notional, g.mark, g.risk, g.fresh, g.halted, g.settled)
        after = cm.summarise(f.collateral, legs.values())
        refusal = ("market halted" if f.grew and g.halted else None) or cm.trade_refusal(before, after, f.grew)
        pred[who] = (f, refusal)
    buyer, seller = (maker.address, taker.address) if maker_is_buy else (taker.address, maker.address)
    # the contract checks the halt first, then the buyer, then the seller
    want = next(
        (
            r
            for r in (
                pred[buyer][1] if pred[buyer][1] == "market halted" else None,
                pred[seller][1] if pred[seller][1] == "market halted" else None,
                pred[buyer][1],
                pred[seller][1],
            )
            if r
        ),
        None,
    )
    try:
        p.trade(maker, taker, mid, maker_is_buy, qty, price, nonce=random.getrandbits(64))
    except boa.BoaError as e:
        assert want is not None, f"contract refused a trade core passes: {e}"
        assert f"Clearinghouse: {want}" in str(e), (want, str(e)[:300])
        event(f"trade refused: {want}")
        return
    event("trade booked")
    assert want is None, f"contract booked a trade core refuses ({want})"
    for who, (f, _) in pred.items():
        assert tuple(ch.position(who, mid)) == (f.quantity, f.open_notional)
        assert ch.collateral(who) == f.collateral


def _lot(ch, mid) -> cl.Lot:
    m = _params(ch, mid)
    return cl.Lot(m["price_tick"], m["quantity_step"], m["min_quantity"])


def _try_liquidate(p, liquidator, who: str, rng: random.Random) -> None:
    ch = p.clearinghouse
    legs = legs_of(ch, who)
    params = cl.LiquidationParams(*ch.liquidation_params())
    for mid in legs:
        legs = legs_of(ch, who)
        if mid not in legs or not ch.is_liquidatable(who):
            return
        cap = rng.choice([10**12, rng.randrange(1, abs(legs[mid].quantity) + 2)])
        fund = ch.insurance_fund()
        try:
            want = cl.liquidate(ch.collateral(who), legs, mid, cap, _lot(ch, mid), params, fund)
        except ValueError as e:
            with boa.reverts(f"Clearinghouse: {e}"), boa.env.prank(liquidator.address):
                ch.liquidate(who, mid, cap)
            event(f"liquidate refused: {e}")
            continue
        with boa.env.prank(liquidator.address):
            taken = ch.liquidate(who, mid, cap)
        if want.flagged or legs[mid].settled:
            assert taken == 0 and not events(ch, "Liquidation")
            assert ch.adl_pending(who) == want.flagged
            event("liquidate: flagged for deleverage")
            continue
        (log,) = events(ch, "Liquidation")
        sign = 1 if legs[mid].quantity > 0 else -1
        assert (taken, log.quantity, log.price, log.penalty, log.reward) == (
            want.size,
            sign * want.size,
            want.price,
            want.penalty,
            want.reward,
        )
        # a close-out that leaves the account flat and negative hands its loss to the fund
        absorbed = sum(e.covered_by_insurance for e in events(ch, "BadDebt"))
        assert ch.insurance_fund() == fund + want.penalty - want.reward - absorbed
        event("liquidate: partial" if want.penalty or want.size < abs(legs[mid].quantity) else "liquidate: whole leg")


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1))
def test_core_margin__random_books__equals_contract_views_trades_and_liquidations(world, seed):
    p, mids, traders, liquidator = world
    ch = p.clearinghouse
    rng = random.Random(seed)
    for t in traders:
        p.fund(t.address, rng.choice([40, 200, 1_000, 5_000]) * USDC)
    if rng.random() < 0.6:
        p.usdc.mint(liquidator.address, 200 * USDC)
        with boa.env.prank(liquidator.address):
            p.usdc.approve(ch.address, 200 * USDC)
            ch.fund_insurance(rng.randrange(1, 200) * USDC)
    for _ in range(10):  # random trades, some refused for margin
        mid = rng.choice(mids)
        m = _params(ch, mid)
        mark = ch.mark(mid)[0]
        maker, taker = rng.sample(traders, 2)
        qty = rng.randrange(1, 60) * 1_000  # whole units: every market's step divides 1,000 thousandths
        price = (mark + int(abs(mark) * rng.uniform(-0.05, 0.05))) // m["price_tick"] * m["price_tick"]
        _try_trade(p, mids, maker, taker, mid, rng.random() < 0.5, qty, price)
    for t in traders:
        s = assert_views_match(ch, t.address)
        event("unhealthy" if s.unhealthy else "healthy")

    # marks move (past the one-hour jump limit: every reporter signs), some go stale, one may halt
    boa.env.time_travel(seconds=rng.choice([60, 4_000]))
    for mid in mids:
        if rng.random() < 0.75:
            mark = ch.mark(mid)[0]
            move = int(abs(mark) * rng.uniform(-0.6, 0.6)) + rng.choice([0, -3 * USDC])
            p.set_mark(mid, (mark + move) // 100 * 100)
    if rng.random() < 0.4:
        with boa.env.prank(p.guardian):
            ch.halt_market(rng.choice(mids))
    for t in traders:
        s = assert_views_match(ch, t.address)
        event(
            f"after move: {'unhealthy' if s.unhealthy else 'healthy'}, {'fresh' if s.fresh else 'stale'}"
            f"{', stale margin' if s.stale_margin else ''}"
        )
    for _ in range(4):  # trades after the move: stale marks and halts refuse risk
        mid = rng.choice(mids)
        m = _params(ch, mid)
        maker, taker = rng.sample(traders, 2)
        price = ch.mark(mid)[0] // m["price_tick"] * m["price_tick"]
        _try_trade(p, mids, maker, taker, mid, rng.random() < 0.5, rng.randrange(1, 20) * 1_000, price)

    for t in traders:
        _try_liquidate(p, liquidator, t.address, rng)
        assert_views_match(ch, t.address)
    assert_views_match(ch, liquidator.address)


def test_core_margin__stale_leg_counts_one_mm__halted_leg_does_not(world):
    """The issue-16 rule, pinned with numbers: a stale leg counts its MM against the account;
    a halted one is valued at its last mark."""
    p, mids, traders, _ = world
    ch = p.clearinghouse
    a, b = traders[:2]
    p.fund(a.address, 100 * USDC)
    p.fund(b.address, 100 * USDC)
    p.trade(b, a, mids[0], False, 1_000, 50 * USDC)  # a long 1 MWh at $50: MM $17.50
    boa.env.time_travel(seconds=4_000)  # every mark stale
    s = assert_views_match(ch, a.address)
    assert s.stale_margin == s.maintenance == 17_500_000 and not s.fresh
    assert s.equity - s.stale_margin == 100 * USDC - 17_500_000 and not s.unhealthy
    with boa.env.prank(p.guardian):
        ch.halt_market(mids[0])
    s = assert_views_match(ch, a.address)
    assert s.stale_margin == 0
