"""chain.tx.TxSender on a real anvil with automine off: a transaction that sits in the mempool
(blocks full of a competitor's better-paying transfers, base fee rising) is replaced by the fee
bump with the same nonce, and the replacement is what gets mined. Both as `chain.tx.TxSender`
and as a keeper bot builds it (`keepers.chain.build_sender` from `KeeperSettings`, over web3)."""

from __future__ import annotations

import pytest
from eth_account import Account

from chain.rpc import Rpc
from chain.tx import Call, FeePolicy, TxSender
from devnet.anvil import ANVIL_KEYS, Anvil

pytestmark = pytest.mark.integration

GWEI = 10**9
CHAIN_ID = 31337
BLOCK_GAS = 40_000  # room for one transfer with its gas headroom: every block is contested


def _send_competitor(rpc: Rpc, acct, nonce: int, to: str) -> str:
    # outbids the keeper's first version (tip 1 gwei, max fee 3 gwei) on both fields and is
    # outbid by its 12.5% bump (1.125 / 3.375 gwei), whichever field the node orders by
    tx = {
        "to": to,
        "value": 1,
        "gas": 21_000,
        "nonce": nonce,
        "chainId": CHAIN_ID,
        "maxFeePerGas": 3_200_000_000,
        "maxPriorityFeePerGas": 1_050_000_000,
    }
    return rpc("eth_sendRawTransaction", ["0x" + bytes(acct.sign_transaction(tx).raw_transaction).hex()])


def _direct_sender(url: str, key) -> TxSender:
    return TxSender(
        Rpc(url),
        key,
        FeePolicy(priority_gwei=1, max_fee_gwei=500, bump_pct=12.5),
        bump_after_blocks=2,
        chain_id=CHAIN_ID,
    )


def _keeper_sender(url: str, key) -> TxSender:
    """What every keeper bot runs: `keepers.chain.build_sender` from its settings, over web3."""
    import logging

    from web3 import Web3

    from keepers.chain import KeeperSettings, Metrics, build_sender

    s = KeeperSettings(
        rpc_url=url,
        private_key="0x" + bytes(key).hex(),
        priority_fee_gwei=1,
        max_fee_gwei=500,
        fee_bump_pct=12.5,
        bump_after_blocks=2,
    )
    return build_sender(s, Web3(Web3.HTTPProvider(url)), Metrics("feebump"), logging.getLogger("keepers.feebump"))


@pytest.mark.parametrize("make_sender", [_direct_sender, _keeper_sender], ids=["tx_sender", "keeper_build_sender"])
def test_tx_sender__stuck_in_mempool__replaced_by_fee_bump__replacement_mined(make_sender):
    with Anvil() as anvil:
        rpc = Rpc(anvil.url)
        rpc("evm_setAutomine", [False])
        rpc("evm_setBlockGasLimit", [hex(BLOCK_GAS)])
        keeper = Account.from_key(ANVIL_KEYS[1])
        competitor = Account.from_key(ANVIL_KEYS[3])
        to = Account.from_key(ANVIL_KEYS[2]).address
        sender = make_sender(anvil.url, keeper.key)

        head = int(rpc("eth_blockNumber"), 16)
        res = sender.send("transfer", Call(to, b"", 7), head)
        assert res.status == "sent"
        original = res.tx_hash
        pending = sender.pending[0]
        assert pending.tx["maxPriorityFeePerGas"] == GWEI

        outcomes, stuck_blocks, base = [], 0, GWEI
        for n in range(12):
            _send_competitor(rpc, competitor, n, to)
            base += GWEI // 10  # rising base fee, still under the keeper's max fee
            rpc("anvil_setNextBlockBaseFeePerGas", [hex(base)])
            rpc("evm_mine")
            head = int(rpc("eth_blockNumber"), 16)
            if pending.bumps == 0:  # the original really sits in the mempool, unmined
                seen = rpc("eth_getTransactionByHash", [original])
                assert seen is not None and seen["blockNumber"] is None
                assert rpc("eth_getTransactionReceipt", [original]) is None
                stuck_blocks += 1
            outcomes = sender.poll(head)
            if outcomes:
                break
        assert stuck_blocks >= 2  # bump_after_blocks: it waited, then was replaced
        assert pending.bumps == 1 and len(pending.hashes) == 2
        (o,) = outcomes
        replacement = pending.hashes[1]
        assert o.status == "mined" and o.tx_hash == replacement != original
        assert rpc("eth_getTransactionReceipt", [original]) is None  # the replaced version never lands
        mined = rpc("eth_getTransactionByHash", [replacement])
        assert int(mined["nonce"], 16) == 0 and int(mined["value"], 16) == 7
        assert int(mined["maxPriorityFeePerGas"], 16) == 1_125_000_000
        assert int(mined["maxFeePerGas"], 16) == pending.tx["maxFeePerGas"]
        assert not sender.pending and not sender.in_flight("transfer")
        assert int(rpc("eth_getTransactionCount", [keeper.address, "latest"]), 16) == 1
