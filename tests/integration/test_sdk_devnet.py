"""The SDK as a user runs it, against a real anvil and the real deploy script.

One devnet for the module (tests run in file order and build on each other: the clock only
moves forward). Actors by role: `maker` quotes, `taker` takes, `operator` hedges, reporters
1-2 sign oracle reports (quorum 2), account 0 relays them.
"""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from devnet.anvil import ANVIL_KEYS, Anvil, deploy
from sdk import errors
from sdk.client import Client
from sdk.models import MarketStatus
from sdk.reader import Reader
from tests.utils.sdk_helpers import push_price as push

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def devnet(tmp_path_factory):
    out = tmp_path_factory.mktemp("sdk") / "manifest.json"
    with Anvil() as anvil:
        deploy(anvil.url, out)
        yield anvil, out


@pytest.fixture(scope="module")
def clients(devnet):
    anvil, path = devnet
    mk = lambda i: Client(path, anvil.url, private_key=ANVIL_KEYS[i])  # noqa: E731
    return {"maker": mk(5), "taker": mk(6), "operator": mk(7), "relayer": mk(0), "reader": Reader(path, anvil.url)}


def h100(reader: Reader):
    return next(m for m in reader.markets() if m.kind == "COMPUTE" and m.spec["gpu"] == "H100-SXM")


def test_markets__listed_with_specs_and_status(clients):
    r = clients["reader"]
    ms = r.markets()
    assert len(ms) == 7 and {m.kind for m in ms} == {"POWER", "COMPUTE", "SPREAD"}
    m = h100(r)
    assert m.status == MarketStatus.STALE and m.mark.observed_at == 0  # never reported
    assert m.tick == Decimal("0.001") and m.step == Decimal("0.1") and m.min_size == Decimal("1")
    assert r.market(m.symbol).id == m.id
    with pytest.raises(errors.UnknownMarket, match="did you mean"):
        r.market("H100")


def test_faucet_deposit__collateral_and_wallet(clients):
    for role in ("maker", "taker", "operator"):
        c = clients[role]
        c.faucet(Decimal("20000"))
        c.deposit(Decimal("10000"))
        a = c.me()
        assert a.collateral == Decimal("10000") and a.equity == Decimal("10000")
        assert a.wallet_balance == Decimal("10000") and a.free_collateral == Decimal("10000")


def test_deposit__more_than_wallet__insufficient_balance(clients):
    with pytest.raises(errors.InsufficientBalance, match="short"):
        clients["taker"].deposit(Decimal("50000"))


def test_place_and_fill__positions_equity_fees(clients):
    r, maker, taker = clients["reader"], clients["maker"], clients["taker"]
    m = h100(r)
    push(r, clients["relayer"], m.mark_feed, 2_500_000)  # $2.50 / GPU-hour
    assert r.market(m.id).status == MarketStatus.LIVE
    # 100.05 GPU-hours rounds down to 100.0; a buy at 2.4809 rounds down to 2.480
    order = maker.buy(m.id, Decimal("100.05"), Decimal("2.4809"))
    assert order.order.quantity == 100_000 and order.order.price == 2_480_000
    assert order.hash == "0x" + r.exchange.functions.order_hash(order.order.as_tuple()).call().hex()
    est = taker.estimate_fill(order, Decimal("40"))
    assert est.gas > 0 and est.fee == Decimal("0.0496")  # 5 bps of 99.2 USD
    fill = taker.fill(order, Decimal("40"))
    assert fill.quantity == Decimal("40") and fill.price == Decimal("2.48")
    assert fill.side_of(taker.address) == "sell" and fill.side_of(maker.address) == "buy"
    assert r.remaining(order.order) == 60_000

    pm, pt = maker.me().position(m.id), taker.me().position(m.id)
    assert pm.quantity == Decimal("40") and pt.quantity == Decimal("-40")
    assert pm.entry_price == Decimal("2.48")
    assert pm.unrealised_pnl == Decimal("0.8")  # 40 x (2.50 - 2.48)
    a = taker.me()
    assert a.equity == Decimal("10000") - Decimal("0.8") - Decimal("0.0496")
    # IM = 40 x (0.40 + 15% x 2.50) = 31.00
    assert a.initial_margin == Decimal("31") and a.maintenance_margin == Decimal("20")
    assert a.margin_usage == (Decimal("31") / a.equity).quantize(Decimal("0.0001"))
    assert [f.quantity for f in r.fills(taker.address)] == [Decimal("40")]


def test_reader__concurrent_reads_from_threads_agree(clients):
    from concurrent.futures import ThreadPoolExecutor

    r, taker = clients["reader"], clients["taker"]
    with ThreadPoolExecutor(8) as pool:
        states = list(pool.map(lambda _: r.account(taker.address), range(16)))
    assert len({(s.equity_units, s.initial_margin_units, s.positions) for s in states}) == 1


def test_liquidation_price__matches_chain(clients):
    """Push the mark to the SDK's liquidation price: liquidatable there, not one tick before."""
    r, taker, relayer = clients["reader"], clients["taker"], clients["relayer"]
    m = h100(r)
    # a smaller account so the liquidation price is within the feed bounds: withdraw most collateral
    free = taker.me().free_collateral
    taker.withdraw(free - Decimal("5"))
    pos = taker.me().position(m.id)
    liq = pos.liquidation_price
    assert liq is not None and liq > Decimal("2.5")  # a short is liquidated when the price rises
    push(r, relayer, m.mark_feed, int((liq - m.tick) * 10**6))
    assert not r.is_liquidatable(taker.address)
    with pytest.raises(errors.NotLiquidatable, match="not below maintenance"):
        clients["maker"].liquidate(taker.address, m.id)
    push(r, relayer, m.mark_feed, int(liq * 10**6))
    assert r.is_liquidatable(taker.address)
    push(r, relayer, m.mark_feed, 2_500_000)
    taker.deposit(Decimal("2000"))


def test_fill__too_large__insufficient_margin_says_missing(clients):
    r, maker, operator = clients["reader"], clients["maker"], clients["operator"]
    m = h100(r)
    big = maker.sell(m.id, Decimal("20000"), Decimal("2.50"), check=False)
    with pytest.raises(errors.InsufficientMargin) as e:
        operator.fill(big)  # IM = 20,000 x 0.775 = 15,500 > 10,000
    assert e.value.missing > 0 and "missing" in str(e.value)
    assert isinstance(e.value, RuntimeError)
    # the chain says the same, decoded, when the pre-flight check is skipped
    with pytest.raises(errors.InsufficientMargin, match=r"\[Clearinghouse: insufficient margin\]"):
        operator.fill(big, check=False)
    with pytest.raises(errors.InsufficientMargin, match="missing"):
        maker.buy(m.id, Decimal("20000"), Decimal("2.40"))


def test_withdraw__too_much__typed_errors(clients):
    taker = clients["taker"]
    with pytest.raises(errors.InsufficientCollateral):
        taker.withdraw(Decimal("1000000"))
    acct = taker.me()
    with pytest.raises(errors.InsufficientMargin, match="withdraw at most"):
        taker.withdraw(acct.collateral)


def test_cancel__one_many_all(clients):
    r, maker, taker = clients["reader"], clients["maker"], clients["taker"]
    m = h100(r)
    o1, o2, o3, o4 = (maker.buy(m.id, Decimal("1"), Decimal(p)) for p in ("2.1", "2.2", "2.3", "2.4"))
    maker.cancel(o1)
    assert r.remaining(o1.order) == 0
    with pytest.raises(errors.OrderRejected, match="dead"):
        taker.fill(o1)
    with pytest.raises(errors.OrderCancelled, match=r"\[Exchange: order cancelled\]"):  # the chain's reason, decoded
        taker._transact(r.exchange.functions.fill(o1.order.as_tuple(), bytes.fromhex(o1.signature[2:]), 1000), "fill")
    maker.cancel_many([o2, o3])
    assert r.remaining(o2.order) == r.remaining(o3.order) == 0
    assert r.remaining(o4.order) == 1000
    maker.cancel_all()
    assert r.remaining(o4.order) == 0
    o5 = maker.buy(m.id, Decimal("1"), Decimal("2.4"))  # issued after cancel_all: alive
    assert r.remaining(o5.order) == 1000


def test_hedge_compute_spread__plan_then_execute(clients):
    r, maker, operator, relayer = clients["reader"], clients["maker"], clients["operator"], clients["relayer"]
    spread = next(m for m in r.markets() if m.kind == "SPREAD")
    push(r, relayer, spread.mark_feed, 2_400_000)  # $2.40 per GPU-hour of spread
    plan = operator.hedge_compute_spread("H100-SXM", "HB_WEST", Decimal("500"), spread.period)
    assert [(o.market.id, o.side, o.quantity) for o in plan.orders] == [(spread.id, "sell", Decimal("500"))]
    assert plan.orders[0].price == Decimal("2.352")  # 2.40 - 2%
    assert plan.margin_needed > 0 and plan.shortfall == 0 and "margin needed" in plan.summary()
    bid = maker.buy(spread.id, Decimal("500"), Decimal("2.39"))
    done = operator.execute(plan, take=[bid])
    assert len(done) == 1 and done[0].quantity == Decimal("500")
    assert operator.me().position(spread.id).quantity == Decimal("-500")


def test_execute__a_resting_order_that_cannot_fill__skipped_and_the_next_taken(clients):
    # a moving book: the first order in the pool fails at fill time (here: a signature that is
    # not the trader's); execute must move on instead of losing the plan half-done
    import dataclasses

    from eth_account import Account
    from eth_account.messages import encode_typed_data

    from sdk.signing import order_typed_data

    r, maker, operator, relayer = clients["reader"], clients["maker"], clients["operator"], clients["relayer"]
    spread = next(m for m in r.markets() if m.kind == "SPREAD")
    push(r, relayer, spread.mark_feed, 2_400_000)
    plan = operator.hedge_compute_spread("H100-SXM", "HB_WEST", Decimal("100"), spread.period)
    better = maker.buy(spread.id, Decimal("100"), Decimal("2.395"), post=False)
    td = order_typed_data(better.order, r.chain_id, r.exchange.address)
    wrong = Account.from_key(ANVIL_KEYS[0]).sign_message(encode_typed_data(full_message=td)).signature
    forged = dataclasses.replace(better, signature="0x" + bytes(wrong).hex())
    good = maker.buy(spread.id, Decimal("100"), Decimal("2.39"), post=False)
    before = operator.me().position(spread.id).quantity
    done = operator.execute(plan, take=[forged, good])
    assert [f.quantity for f in done] == [Decimal("100")]
    assert operator.me().position(spread.id).quantity == before - Decimal("100")
    assert r.remaining(good.order) == 0 and r.remaining(better.order) == 100_000


def test_hedge_power__mwh_from_profile_hours(clients):
    r, operator = clients["reader"], clients["operator"]
    hourly = next(m for m in r.markets() if m.kind == "POWER" and m.spec["profile"] == "HOURLY")
    push(r, clients["relayer"], hourly.mark_feed, 45_230_000)
    plan = operator.hedge_power("HB_WEST", Decimal("5"), "HOURLY", hourly.period)
    assert plan.orders[0].quantity == Decimal("5") and plan.orders[0].side == "buy"


def test_stream_fills__yields_new_fill(clients):
    r, maker, taker = clients["reader"], clients["maker"], clients["taker"]
    m = h100(r)
    push(r, clients["relayer"], m.mark_feed, 2_500_000)
    stop, got = threading.Event(), []
    start = r.block_number() + 1

    def consume():
        for f in taker.stream_fills(taker.address, from_block=start, poll_interval=0.1, stop=stop):
            got.append(f)
            stop.set()

    t = threading.Thread(target=consume)
    t.start()
    o = maker.sell(m.id, Decimal("2"), Decimal("2.51"))
    taker.fill(o)
    t.join(10)
    stop.set()
    assert [f.quantity for f in got] == [Decimal("2")]


def test_stale_market__names_feed_and_since(clients, devnet):
    anvil, _ = devnet
    r, maker, taker, operator = clients["reader"], clients["maker"], clients["taker"], clients["operator"]
    m = h100(r)
    o = maker.sell(m.id, Decimal("1"), Decimal("2.6"))
    anvil.warp(3700)  # beyond max_price_age (3600 s)
    assert r.market(m.id).status == MarketStatus.STALE
    with pytest.raises(errors.StaleMarket) as e:  # operator has no H100 position: buying 1 adds risk
        operator.fill(o)
    assert e.value.feed_id == m.mark_feed and e.value.market_id == m.id
    assert "stale since" in str(e.value) and m.symbol in str(e.value)
    with pytest.raises(errors.StaleMarket):
        taker.withdraw(Decimal("1"))
    with pytest.raises(errors.StaleMarket, match=r"\[Clearinghouse: stale mark\]"):
        operator.fill(o, check=False)


def test_settlement__history_and_pnl(clients, devnet):
    anvil, _ = devnet
    r, maker, taker, relayer = clients["reader"], clients["maker"], clients["taker"], clients["relayer"]
    hourly = next(m for m in r.markets() if m.kind == "POWER" and m.spec["profile"] == "HOURLY")
    spread = next(m for m in r.markets() if m.kind == "SPREAD")
    for feed, price in ((hourly.mark_feed, 45_230_000), (h100(r).mark_feed, 2_500_000), (spread.mark_feed, 2_400_000)):
        push(r, relayer, feed, price)  # every mark the traders depend on is fresh again
    o = maker.sell(hourly.id, Decimal("2.5"), Decimal("45.23"))
    taker.fill(o)
    anvil.set_next_timestamp(hourly.delivery_end + 10)
    push(r, relayer, hourly.settlement_feed, 50_000_000, observed_at=hourly.delivery_end + 5)
    assert r.market(hourly.id).status == MarketStatus.SETTLING
    anvil.warp(hourly.dispute_window + 1)
    with pytest.raises(errors.SettlementNotReady, match="not finalised"):
        taker.settle(hourly.id)
    relayer.finalize_settlement(hourly.id)
    taker.settle(hourly.id)
    relayer.settle(hourly.id, maker.address)
    assert r.market(hourly.id).status == MarketStatus.SETTLED
    (s,) = r.settlements(taker.address)
    assert s.quantity == Decimal("2.5") and s.settlement_price == Decimal("50")
    assert s.pnl == Decimal("11.925")  # 2.5 x (50 - 45.23)
    pnl = r.pnl(taker.address)
    # + settlement 11.925, - the 2 GPU-hours of the H100 short bought back at 2.51 (entry 2.48): 0.06
    assert pnl.realised == Decimal("11.865") and pnl.fees > 0
    assert pnl.unrealised == Decimal("-0.76")  # 38 short at 2.48, mark 2.50
    with pytest.raises(errors.MarketClosed):
        taker.fill(maker.sell(hourly.id, Decimal("1"), Decimal("45"), check=False))


def test_liquidate__stale_leg_elsewhere_does_not_shield__one_market__reward_paid(clients, devnet):
    """Issue 16's freeze attack through the SDK: an account underwater in H100 that also holds a
    small spread leg whose mark went stale is still liquidatable (the stale leg counts one MM
    against it); Client.liquidate acts on the fresh market, refuses the stale one up front, and
    the liquidator is paid the reward from the insurance fund (event Liquidation.reward)."""
    anvil, path = devnet
    r, maker, relayer = clients["reader"], clients["maker"], clients["relayer"]
    victim = Client(path, anvil.url, private_key=ANVIL_KEYS[8])
    keeper = Client(path, anvil.url, private_key=ANVIL_KEYS[9])
    m, spread = h100(r), next(x for x in r.markets() if x.kind == "SPREAD")
    for feed, price in ((m.mark_feed, 2_500_000), (spread.mark_feed, 2_400_000)):
        push(r, relayer, feed, price)
    victim.faucet(Decimal("1000"))
    victim.deposit(Decimal("100"))
    keeper.faucet(Decimal("10000"))
    keeper.deposit(Decimal("5000"))
    victim.fill(maker.buy(m.id, Decimal("100"), Decimal("2.5")))  # victim short 100 GPU-h at 2.50
    victim.fill(maker.buy(spread.id, Decimal("1"), Decimal("2.4")))  # and a 1 GPU-h spread leg
    anvil.warp(3700)  # every mark stale; then only H100 is pushed again, 28% higher
    push(r, relayer, m.mark_feed, 3_200_000)
    acct = r.account(victim.address)
    assert not acct.fresh and acct.equity_units < acct.maintenance_margin_units + 10**6
    assert r.is_liquidatable(victim.address)  # the stale spread leg shields nobody
    with pytest.raises(errors.StaleMarket):
        keeper.liquidate(victim.address, spread.id)  # the stale market itself cannot be acted on
    coll0, block0 = r.account(keeper.address).collateral_units, r.w3.eth.block_number
    taken = keeper.liquidate(victim.address, m.id)
    assert taken > 0 and taken % 100 == 0  # whole steps of 0.1 GPU-h
    (ev,) = r.clearinghouse.events.Liquidation.get_logs(from_block=block0 + 1)
    assert ev.args.liquidator == keeper.address and ev.args.market_id == m.id and abs(ev.args.quantity) == taken
    assert ev.args.reward > 0 and r.account(keeper.address).collateral_units - coll0 == ev.args.reward
    pos = r.account(victim.address).position(m.id)
    assert (pos.quantity_units if pos else 0) == -100_000 + taken  # only H100 moved; the spread leg waits for a mark


def test_wallet_app__watch_checks_unsigned_txs_history_and_tx_status(clients, devnet):
    """What the dashboard is built on, against the chain: a keyless Client watching an account
    (no key) runs that account's pre-flight checks and builds unsigned transactions a wallet
    sends; the history reads list them with block times; tx_status decodes a failed one."""
    anvil, path = devnet
    r = clients["reader"]
    victim = Client(path, anvil.url, private_key=ANVIL_KEYS[8])  # liquidated in the test above
    w = Client(path, anvil.url).watch(victim.address.lower())
    assert w.address == victim.address
    m = h100(r)
    assert w.market_params(m.symbol) == r.market_params(m.id) and w.market_params(m.id).status is None
    with pytest.raises(errors.SignerRequired):
        w.sign(w.build_order(m, "buy", Decimal("1"), Decimal("2")))
    with pytest.raises(errors.InvalidOrder):
        Client(path, anvil.url).watch("0x123")
    # pre-flight refusals, the same as the keyed client's, nothing built
    with pytest.raises(errors.InsufficientCollateral):
        w.unsigned_withdraw(Decimal("100000"))
    with pytest.raises(errors.InsufficientBalance, match="use the faucet"):
        w.unsigned_deposit(Decimal("1000000"))
    with pytest.raises(errors.StaleMarket, match="SPREAD"):  # its stale spread leg blocks new risk anywhere
        w.check_order(w.build_order(m, "sell", Decimal("100000"), Decimal("3.2")))
    # the wallet (anvil's unlocked account) sends what the SDK built: approve, then deposit
    before = len(r.deposits(victim.address))
    txs = w.unsigned_deposit(Decimal("10"))
    assert [t.description for t in txs] == ["approve 10 USD for the Clearinghouse", "deposit 10 USD"]
    assert txs[0].gas and txs[1].gas is None  # the deposit can only be estimated once the approve landed
    hashes = [r.w3.eth.send_transaction(t.as_rpc()) for t in txs]
    for h in hashes:
        r.w3.eth.wait_for_transaction_receipt(h)
        assert r.tx_status("0x" + bytes(h).hex().removeprefix("0x")).status == "success"
    deps = r.deposits(victim.address)
    assert len(deps) == before + 1 and deps[-1].amount == Decimal("10")
    assert deps[-1].timestamp == r.block_time(deps[-1].block_number) > 0
    (liq, *_) = r.liquidations(victim.address)
    assert liq.market_id == m.id and liq.quantity_units != 0 and liq.timestamp > 0
    assert any(p.feed_id == m.mark_feed.lower() and p.price_units == 3_200_000 for p in r.price_updates())
    # a withdrawal sent past the pre-flight (explicit gas) reverts on-chain: decoded, typed
    h = r.w3.eth.send_transaction(
        {
            "from": victim.address,
            "to": r.clearinghouse.address,
            "gas": hex(300_000),
            "data": r.clearinghouse.encode_abi("withdraw", args=[10**15]),
        }
    )
    r.w3.eth.wait_for_transaction_receipt(h)
    st = r.tx_status("0x" + bytes(h).hex().removeprefix("0x"))
    assert st.status == "failed" and isinstance(st.error, errors.InsufficientCollateral)
    assert r.tx_status("0x" + "ab" * 32).status == "pending"
