"""Issue 13: the views that moved to ClearinghouseView, and the Clearinghouse's liquidation code
that lost its duplicates, give exactly what the Clearinghouse before issue 13 gave.

The previous Clearinghouse is compiled from git (commit OLD, the last one before the move) and
deployed next to the current one; both run the same actions, and after every step every view
of either side is compared: the old Clearinghouse's `account_summary` against the view
contract's, the pinned views against each other, and the results and revert reasons of the
actions themselves. The states cover fresh, stale and halted legs, a settled market, partial
and whole liquidations, an account flagged for ADL, and deleveraging."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import boa
import pytest
from eth_abi import decode as abi_decode

from tests.utils.contract_helpers import MARK, UNIT, USDC, next_nonce, role_trader
from tests.utils.deployers import ROOT, Protocol

# the last commit whose Clearinghouse served account_summary itself
OLD = "c548f398ca614a99dbb0b64e433a838bc58d9182"
OLD_FILES = (
    "contracts/Clearinghouse.vy",
    "contracts/constants.vy",
    "contracts/packing.vy",
    "contracts/interfaces/IClearinghouse.vyi",
    "contracts/interfaces/IOracle.vyi",
)


def _old_clearinghouse(tmp: Path):
    for f in OLD_FILES:
        try:
            src = subprocess.run(
                ["git", "-C", str(ROOT), "show", f"{OLD}:{f}"], check=True, capture_output=True, text=True
            ).stdout
        except (OSError, subprocess.CalledProcessError) as e:  # a shallow clone lacks the commit
            pytest.fail(f"cannot read {f} at {OLD} from git ({e}); fetch the full history to run this comparison")
        out = tmp / f
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(src)
    return boa.load_partial(str(tmp / "contracts/Clearinghouse.vy"))


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """(old, new): the same protocol with the old Clearinghouse and with the current one."""
    tmp = tmp_path_factory.mktemp("old_clearinghouse")
    old = Protocol.deploy(clearinghouse=_old_clearinghouse(tmp))
    shutil.rmtree(tmp, ignore_errors=True)
    new = Protocol.deploy()
    return old, new


maker, trader, whale, liquidator, keeper = (
    role_trader(r) for r in ("maker", "trader", "whale", "liquidator", "keeper")
)
ACCOUNTS = (maker, trader, whale, liquidator, keeper)


def observe(p: Protocol, summary_of) -> dict:
    """Every view of `p` for every actor and market; `summary_of` serves account_summary."""
    ch = p.clearinghouse
    mids = range(1, ch.market_count() + 2)  # one unknown id too
    out = {"fund": (ch.insurance_fund(), ch.bad_debt(), ch.fees(), ch.adl_pending_count(), ch.liquidation_params())}
    for m in mids:
        out[("market", m)] = (tuple(ch.market(m)), tuple(ch.market_state(m)), ch.mark(m))
    for who in ACCOUNTS:
        a = who.address
        out[("account", a)] = (
            tuple(summary_of.account_summary(a)),
            ch.collateral(a),
            ch.equity(a),
            ch.margin_requirements(a),
            ch.is_liquidatable(a),
            ch.adl_pending(a),
            tuple(ch.open_markets(a)),
            tuple(ch.position(a, m) for m in mids),
        )
    return out


def both(pair, action):
    """Run `action(protocol)` on both; same result or same revert reason; then same views.
    Returns the result: ("ok", value) or ("revert", reason)."""
    results = []
    for p in pair:
        try:
            results.append(("ok", action(p)))
        except boa.BoaError as e:  # the raw revert data: Error(string) with the same reason
            results.append(("revert", e.stack_trace.last_frame.vm_error.args[0]))
    assert results[0] == results[1]
    old, new = pair
    assert observe(old, old.clearinghouse) == observe(new, new.view)
    kind, value = results[1]
    if kind == "revert":
        value = abi_decode(["string"], value[4:])[0]
    return kind, value


def trade(buyer, seller, mid, q, price):
    """The seller signs (maker), the buyer fills (taker)."""
    return lambda p: p.trade(seller, buyer, mid, False, q, price, nonce=next_nonce()) and None


def as_(who, fn):
    def _do(p):
        with boa.env.prank(getattr(who, "address", who)):
            return fn(p)

    return _do


def test_views__same_states_old_and_new__identical(pair):
    old, new = pair
    for p in pair:
        for mid_name in ("M1", "M2", "M3"):
            p.list_market(mid_name)
        for mid in (1, 2, 3):
            p.set_mark(mid, MARK)
        for who, amount in ((maker, 100_000), (trader, 85), (whale, 50_000), (liquidator, 10_000)):
            p.fund(who.address, amount * USDC)
    both(pair, lambda p: None)

    # trader long 1 MWh in each market at $50 against the maker
    for mid in (1, 2, 3):
        both(pair, trade(trader, maker, mid, UNIT, MARK))
    # the whale is short market 1 against the maker (ADL counterparty later)
    both(pair, trade(maker, whale, 1, 3 * UNIT, MARK))

    # a withdrawal beyond IM reverts with the same reason on both
    assert both(pair, as_(trader, lambda p: p.clearinghouse.withdraw(50 * USDC))) == (
        "revert",
        "Clearinghouse: insufficient margin",
    )

    # stale leg: market 3's mark ages past max_price_age while 1 and 2 are refreshed
    boa.env.time_travel(seconds=3_000)
    for p in pair:
        p.set_mark(1, 30 * USDC)  # equity $65, MM $49.50 of which $17.50 on the stale leg
        p.set_mark(2, MARK)
    boa.env.time_travel(seconds=700)
    both(pair, lambda p: None)
    # liquidatable only through the stale leg's discount, which cannot be taken at a stale price
    assert not new.view.account_summary(trader.address).fresh and new.clearinghouse.is_liquidatable(trader.address)
    assert both(pair, as_(liquidator, lambda p: p.clearinghouse.liquidate(trader.address, 3, UNIT))) == (
        "revert",
        "Clearinghouse: stale mark",
    )

    # halted leg: the guardian halts market 3 (liquidated at its last mark)
    both(pair, lambda p: _halt(p, 3))
    boa.env.time_travel(seconds=60)
    for p in pair:
        p.set_mark(1, 10 * USDC)  # equity $45 < MM $46.50
        p.set_mark(2, MARK)
    # the halted leg, taken at its last mark (the liquidator's stale-leg-conservative IM check)
    assert both(pair, as_(liquidator, lambda p: p.clearinghouse.liquidate(trader.address, 3, 100))) == ("ok", 100)
    # then only the size that restores health
    kind, taken = both(pair, as_(liquidator, lambda p: p.clearinghouse.liquidate(trader.address, 1, 100)))
    assert kind == "ok" and 0 < taken < 100

    # insolvent with an empty insurance fund: flagged for ADL, nothing moves
    boa.env.time_travel(seconds=60)
    for p in pair:
        p.set_mark(1, -40 * USDC)
        p.set_mark(2, MARK)
    assert both(pair, as_(liquidator, lambda p: p.clearinghouse.liquidate(trader.address, 1, UNIT))) == ("ok", 0)
    assert new.clearinghouse.adl_pending(trader.address) and new.view.account_health(trader.address).adl_pending
    # deleverage against the whale (short market 1, in profit)
    kind, closed = both(pair, as_(keeper, lambda p: p.clearinghouse.deleverage(trader.address, 1, [whale.address])))
    assert kind == "ok" and closed > 0

    # settled market: market 2 delivers and settles; the trader's leg there is settled value
    end = new.clearinghouse.market(2).delivery_end
    boa.env.evm.patch.timestamp = end
    for p in pair:
        p.set_settlement(2, 52 * USDC)
    boa.env.time_travel(seconds=3_600)
    assert both(pair, lambda p: p.clearinghouse.finalize_settlement(2))[0] == "ok"
    assert both(pair, lambda p: p.clearinghouse.settle(maker.address, 2))[0] == "ok"
    # every mark but the settled one is now stale
    both(pair, as_(liquidator, lambda p: p.clearinghouse.liquidate(trader.address, 2, UNIT)))


def _halt(p: Protocol, mid: int):
    with boa.env.prank(p.guardian):
        p.clearinghouse.halt_market(mid)
