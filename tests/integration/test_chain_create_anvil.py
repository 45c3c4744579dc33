"""chain.tx on a real anvil: a contract created through TxSender (over a raw Rpc and over web3),
its address from the receipt and its code on chain; a constructor that reverts is refused before
anything is broadcast. And the devnet's batches: impersonated sends (``chain.tx.send_unlocked``)
and signed ones at consecutive nonces (``TxSender.broadcast_batch``), awaited by
``chain.tx.wait_mined``, which names what reverted."""

from __future__ import annotations

import pytest
import rlp
from eth_account import Account
from eth_utils import keccak, to_checksum_address
from web3 import Web3

from chain.rpc import Rpc
from chain.tx import Call, TxFailed, TxSender, send_unlocked, wait_mined
from devnet.anvil import ANVIL_KEYS, Anvil

pytestmark = pytest.mark.integration

RUNTIME = bytes.fromhex("602a60005260206000f3")  # returns the word 42
INIT = bytes.fromhex("69") + RUNTIME + bytes.fromhex("600052600a6016f3")  # PUSH10 runtime; MSTORE; RETURN(22, 10)
REVERTS = bytes.fromhex("60006000fd")  # REVERT(0, 0)


@pytest.fixture(scope="module")
def anvil():
    with Anvil() as a:
        yield a


@pytest.mark.parametrize("over", ["rpc", "web3"])
def test_create__deployed_address_from_receipt__code_on_chain(anvil, over):
    key = ANVIL_KEYS[3] if over == "rpc" else ANVIL_KEYS[4]
    node = Rpc(anvil.url) if over == "rpc" else Web3(Web3.HTTPProvider(anvil.url))
    me = Account.from_key(key).address
    rpc = Rpc(anvil.url)
    nonce = int(rpc("eth_getTransactionCount", [me, "latest"]), 16)
    r = TxSender(node, key).transact(Call(None, INIT))
    assert r.status == 1
    assert r.contract_address == to_checksum_address(keccak(rlp.encode([bytes.fromhex(me[2:]), nonce]))[12:])
    assert rpc("eth_getCode", [r.contract_address, "latest"]) == "0x" + RUNTIME.hex()
    assert int(rpc("eth_call", [{"to": r.contract_address}, "latest"]), 16) == 42


def test_create__constructor_reverts__refused_before_broadcast(anvil):
    rpc = Rpc(anvil.url)
    me = Account.from_key(ANVIL_KEYS[5]).address
    before = rpc("eth_getTransactionCount", [me, "pending"])
    with pytest.raises(TxFailed) as e:
        TxSender(rpc, ANVIL_KEYS[5]).transact(Call(None, REVERTS))
    assert not e.value.mined
    assert rpc("eth_getTransactionCount", [me, "pending"]) == before  # nothing sent, no gas spent


def test_batch_of_impersonated_sends__wait_mined__then_a_revert_named(anvil):
    rpc = Rpc(anvil.url, timeout=60)
    who, to = "0x" + "77" * 20, "0x" + "88" * 20
    rpc.batch([("anvil_setBalance", [who, hex(10**18)]), ("anvil_impersonateAccount", [who])])
    receipts = wait_mined(rpc, send_unlocked(rpc, [(who, Call(to, b"", i + 1)) for i in range(5)], 21_000), timeout=30)
    assert [int(r["status"], 16) for r in receipts] == [1] * 5
    assert int(rpc("eth_getBalance", [to, "latest"]), 16) == 15
    [bad] = send_unlocked(rpc, [(who, Call(None, REVERTS))], 100_000)
    with pytest.raises(TxFailed, match=f"0 of 1 transactions not mined, 1 reverted; first reverted: {bad}"):
        wait_mined(rpc, [bad], timeout=30)
    rpc("anvil_stopImpersonatingAccount", [who])
    with pytest.raises(TxFailed, match="unlocked send failed"):  # no longer impersonated: the node holds no key
        send_unlocked(rpc, [(who, Call(to, b"", 1))], 21_000)


def test_broadcast_batch__consecutive_nonces_mined_in_order_then_transact_continues(anvil):
    rpc = Rpc(anvil.url, timeout=60)
    key, to = ANVIL_KEYS[6], "0x" + "99" * 20
    me = Account.from_key(key).address
    first = int(rpc("eth_getTransactionCount", [me, "pending"]), 16)
    s = TxSender(rpc, key)
    hashes = s.broadcast_batch([Call(to, b"", i + 1) for i in range(120)], gas=21_000)  # 3 batches of <= 50
    receipts = wait_mined(rpc, hashes, timeout=60)
    nonces = [int(rpc("eth_getTransactionByHash", [h])["nonce"], 16) for h in hashes]
    assert nonces == list(range(first, first + 120)) and all(int(r["status"], 16) == 1 for r in receipts)
    assert int(rpc("eth_getBalance", [to, "latest"]), 16) == sum(range(1, 121))
    assert s.transact(Call(to, b"", 1)).status == 1  # the local nonce moved past the batch
