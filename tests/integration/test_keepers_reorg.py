"""Keepers that follow events (liquidator, settler) through reorgs on a real anvil: with
``evm_snapshot``/``evm_revert`` (the chain rewinds and a different branch is mined past the old
head) and with ``anvil_reorg`` (the last 3 blocks replaced at the same height). After each, the
book of both keepers equals the chain (every account's collateral and positions, read back with
the contract's views, and every account that has an event on the canonical chain), and it got
there by rolling back to the fork point and replaying the blocks after it, not by rebuilding
from the deploy block.

Reproduced first on main (7ebfef7): both tests fail on ``resyncs == 1`` (the keepers rebuilt
their books from the deploy block after each reorg: 2 resyncs), see the commit message.
"""

from __future__ import annotations

import pytest
from eth_account import Account

from chain.rpc import Chain, batch_call
from core import units as u
from devnet.anvil import ANVIL_KEYS, rpc
from keepers.chain import Metrics
from keepers.liquidator import Liquidator, LiquidatorSettings
from keepers.settler import Settler, SettlerSettings
from scripts._keepers_env import ATC, ENTRY, WHALE, Env, open_book

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def reorg_env(tmp_path_factory):
    """A devnet with marks pushed and eight shorts open against a whale; the reporters and the
    pusher are then stopped so that only the test mines blocks (automine)."""
    e = Env(tmp_path_factory.mktemp("reorg"))
    try:
        shorts = open_book(e)
        for p in list(e.procs):
            p.stop()
        yield e, shorts
    finally:
        e.close()


def keepers(e: Env) -> tuple[Liquidator, Settler, Chain]:
    chain = Chain(e.anvil.url)
    liq = Liquidator(
        LiquidatorSettings(rpc_url=e.anvil.url, manifest=e.manifest_path, dry_run=True), chain, Metrics("liq_reorg")
    )
    st = Settler(
        SettlerSettings(rpc_url=e.anvil.url, manifest=e.manifest_path, dry_run=True), chain, Metrics("set_reorg")
    )
    head = chain.head()
    liq.start(head)
    st.start(head)
    return liq, st, chain


def step(chain: Chain, *ks) -> None:
    head = chain.head()
    for k in ks:
        k.on_block(head)


def assert_book_is_the_chain(e: Env, k) -> None:
    """Every account with a CollateralUpdated/PositionUpdated on the canonical chain is in the book
    with the collateral and positions the contract reports; accounts only the dropped branch had
    hold nothing."""
    b = k.book
    on_chain = {ev.args.account for ev in e.events("CollateralUpdated")} | {
        ev.args.account for ev in e.events("PositionUpdated")
    }
    assert on_chain <= set(b.accounts)
    accts, mids = list(b.accounts), list(b.market_ids)
    f = e.ch.functions
    res = batch_call(e.w3, [f.collateral(a) for a in accts] + [f.position(a, m) for a in accts for m in mids])
    colls, pos = res[: len(accts)], res[len(accts) :]
    for i, a in enumerate(accts):
        assert b.collateral[b.index[a]] == colls[i], a
        for x, m in enumerate(mids):
            q, on = pos[i * len(mids) + x]
            assert b.position(a, m) == (q, on), (a, m)


def _fresh_nonces(e: Env) -> None:
    e.senders.clear()  # the harness's senders cache nonces; a rewound chain has the old ones


def test_keepers__evm_snapshot_revert__roll_back_to_the_fork_and_replay(reorg_env):
    e, shorts = reorg_env
    liq, st, chain = keepers(e)
    snap = rpc(e.anvil.url, "evm_snapshot")
    fork = e.w3.eth.block_number
    # branch A (dropped): a trader deposits and goes long against the whale
    trader = e.new_account()
    e.fund(trader, 50_000)
    e.trade(ANVIL_KEYS[WHALE], trader, ATC, False, 2_000, ENTRY)
    t_addr = Account.from_key(trader).address
    step(chain, liq, st)
    assert liq.book.position(t_addr, ATC)[0] == 2_000 and st.book.position(t_addr, ATC)[0] == 2_000
    whale = Account.from_key(ANVIL_KEYS[WHALE]).address
    whale_q = liq.book.position(whale, ATC)[0]

    assert rpc(e.anvil.url, "evm_revert", [snap])
    _fresh_nonces(e)
    # branch B (canonical): someone else deposits, over more blocks than branch A had
    other = e.new_account()
    for _ in range(3):
        e.fund(other, 1_000)
    assert e.w3.eth.block_number > fork + 4
    step(chain, liq, st)

    for k in (liq, st):
        assert k.sync.resyncs == 1, "rebuilt from the deploy block after a reorg"
        assert k.sync.reorgs == 1
        assert k.book.position(t_addr, ATC) == (0, 0) and k.book.collateral[k.book.index[t_addr]] == 0
        assert k.book.position(whale, ATC)[0] == whale_q + 2_000  # the whale's short from branch A is undone
        assert_book_is_the_chain(e, k)
    assert liq.m_reorg._value.get() == 1


def test_keepers__anvil_reorg_3_blocks__replaced_at_the_same_height(reorg_env):
    e, shorts = reorg_env
    _fresh_nonces(e)
    liq, st, chain = keepers(e)
    whale_key = ANVIL_KEYS[WHALE]
    whale = Account.from_key(whale_key).address
    trader = e.new_account()
    t_addr = Account.from_key(trader).address
    e.fund(trader, 20_000)  # mint, approve, deposit
    coll_before = int(e.ch.functions.collateral(whale).call())  # the fill below charges the whale its fee
    e.trade(whale_key, trader, ATC, True, 1_000, ENTRY)  # sent by the trader: the whale's nonce is untouched
    rpc(e.anvil.url, "evm_mine")
    step(chain, liq, st)
    assert liq.book.position(t_addr, ATC)[0] == -1_000
    head_before = e.w3.eth.block_number

    # the last 3 blocks (deposit, fill, empty) are replaced: the new branch has a withdrawal by the whale
    nonce = e.w3.eth.get_transaction_count(whale)
    tx = e.ch.functions.withdraw(u.usd_to_base(10)).build_transaction(
        {"from": whale, "nonce": nonce, "gas": 500_000, "gasPrice": 10 * 10**9, "chainId": e.w3.eth.chain_id}
    )
    raw = Account.from_key(whale_key).sign_transaction(tx).raw_transaction.hex()
    rpc(e.anvil.url, "anvil_reorg", [3, [[raw if raw.startswith("0x") else "0x" + raw, 0]]])
    _fresh_nonces(e)
    assert e.w3.eth.block_number == head_before
    assert int(e.ch.functions.collateral(whale).call()) == coll_before - u.usd_to_base(10)
    step(chain, liq, st)

    for k in (liq, st):
        assert k.sync.resyncs == 1, "rebuilt from the deploy block after a reorg"
        assert k.sync.reorgs == 1
        assert k.book.position(t_addr, ATC) == (0, 0) and k.book.collateral[k.book.index[t_addr]] == 0
        assert k.book.collateral[k.book.index[whale]] == coll_before - u.usd_to_base(10)
        assert_book_is_the_chain(e, k)


def test_liquidator__restart_from_checkpoint_after_a_reorg__no_rebuild(reorg_env, tmp_path):
    e, shorts = reorg_env
    _fresh_nonces(e)
    ck = tmp_path / "liquidator.npz"
    chain = Chain(e.anvil.url)

    def liquidator() -> Liquidator:
        s = LiquidatorSettings(
            rpc_url=e.anvil.url, manifest=e.manifest_path, dry_run=True, checkpoint=ck, checkpoint_every=1
        )
        return Liquidator(s, chain, Metrics("liq_ckpt"))

    first = liquidator()
    first.start(chain.head())
    snap = rpc(e.anvil.url, "evm_snapshot")
    fork = e.w3.eth.block_number
    trader = e.new_account()
    e.fund(trader, 5_000)  # dropped below
    step(chain, first)  # checkpoint written at this head
    # the process stops; the chain reorgs under the checkpoint and moves on
    assert rpc(e.anvil.url, "evm_revert", [snap])
    _fresh_nonces(e)
    other = e.new_account()
    for _ in range(2):
        e.fund(other, 700)
    second = liquidator()
    r = second.start(chain.head())
    assert r["checkpoint_restored"] and not r["resync"] and r["fork_block"] == fork
    assert second.sync.resyncs == 0
    t_addr = Account.from_key(trader).address
    assert second.book.collateral[second.book.index[t_addr]] == 0
    assert_book_is_the_chain(e, second)
