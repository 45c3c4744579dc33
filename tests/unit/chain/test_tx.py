"""chain.tx.TxSender against a fake node with a mempool: simulate first, local nonces, fee bump
of a stuck tx (same nonce), receipts, revert capture, timeouts. (On a real anvil:
tests/integration/test_chain_fee_bump.py.)"""

from __future__ import annotations

import logging

import pytest
import rlp
from eth_account import Account
from eth_utils import keccak
from web3 import Web3

from chain.reverts import encode_error
from chain.rpc import ChainError, error_of
from chain.tx import Call, FeePolicy, TxFailed, TxSender, call_of, send_unlocked, tx_outcome

GWEI = 10**9
KEY = "0x" + "42" * 32
TO = "0x" + "ab" * 20


class FakeNode:
    """Raw JSON-RPC node: one account's nonces, a mempool keyed by nonce, EIP-1559 inclusion
    (a tx is mined only when its max fee covers the base fee), replacement rules (>= 10% more)."""

    def __init__(self, base_fee: int = GWEI, mine_on_head_read: bool = True):
        self.block, self.base = 100, base_fee
        self.latest = 0  # mined nonce count
        self.pool: dict[int, tuple[str, dict]] = {}
        self.receipts: dict[str, dict] = {}
        self.sent: list[dict] = []
        self.by_hash: dict[str, dict] = {}
        self.revert_sim: str | None = None
        self.revert_onchain: str | None = None
        self.mine_on_head_read = mine_on_head_read
        self.base_after_send: int | None = None  # the base fee jumps once a tx is in the pool
        self.estimated: list[dict] = []  # eth_estimateGas requests as sent
        self.replayed: list[dict] = []  # eth_call requests as sent

    @staticmethod
    def decode(raw: bytes) -> dict:
        assert raw[0] == 2, "EIP-1559 tx expected"
        f = rlp.decode(raw[1:])
        n = lambda b: int.from_bytes(b, "big")  # noqa: E731
        return {
            "nonce": n(f[1]),
            "maxPriorityFeePerGas": n(f[2]),
            "maxFeePerGas": n(f[3]),
            "gas": n(f[4]),
            "to": "0x" + f[5].hex() if f[5] else None,  # empty: a contract creation
            "value": n(f[6]),
            "data": f[7],
        }

    def mine(self) -> None:
        self.block += 1
        entry = self.pool.get(self.latest)
        if entry and entry[1]["maxFeePerGas"] >= self.base:
            h, tx = self.pool.pop(self.latest)
            self.receipts[h] = {
                "transactionHash": h,
                "blockNumber": hex(self.block),
                "gasUsed": hex(21_000),
                "logs": [],
                "status": "0x0" if self.revert_onchain else "0x1",
                # a creation's address: keccak(rlp([sender, nonce]))[12:], as every node computes it
                "contractAddress": None if tx["to"] else _created_at(Account.from_key(KEY).address, tx["nonce"]),
            }
            self.latest += 1

    def __call__(self, method: str, params: list | None = None):
        params = params or []
        if method == "eth_chainId":
            return hex(31337)
        if method == "eth_blockNumber":
            if self.mine_on_head_read:
                self.mine()
            return hex(self.block)
        if method == "eth_getTransactionCount":
            return hex(self.latest + (len(self.pool) if params[1] == "pending" else 0))
        if method == "eth_getBlockByNumber":
            return {"baseFeePerGas": hex(self.base)}
        if method == "eth_estimateGas":
            self.estimated.append(params[0])
            if self.revert_sim:
                raise error_of(
                    method,
                    {"code": 3, "message": "execution reverted", "data": "0x" + encode_error(self.revert_sim).hex()},
                )
            return hex(21_000)
        if method == "eth_call":
            self.replayed.append(params[0])
            if self.revert_onchain:
                raise error_of(
                    method,
                    {
                        "code": 3,
                        "message": "execution reverted",
                        "data": "0x" + encode_error(self.revert_onchain).hex(),
                    },
                )
            return "0x"
        if method == "eth_sendRawTransaction":
            raw = bytes.fromhex(params[0][2:])
            tx = self.decode(raw)
            if tx["nonce"] < self.latest:
                raise ChainError(f"{method}: nonce too low")
            old = self.pool.get(tx["nonce"])
            if old and (
                tx["maxFeePerGas"] * 10 < old[1]["maxFeePerGas"] * 11
                or tx["maxPriorityFeePerGas"] * 10 < old[1]["maxPriorityFeePerGas"] * 11
            ):
                raise ChainError(f"{method}: replacement transaction underpriced")
            h = "0x" + keccak(raw).hex()
            self.pool[tx["nonce"]] = (h, tx)
            self.by_hash[h] = tx
            self.sent.append(tx)
            if self.base_after_send is not None:
                self.base, self.base_after_send = self.base_after_send, None
            return h
        if method == "eth_getTransactionReceipt":
            return self.receipts.get(params[0])
        if method == "eth_getTransactionByHash":
            tx = self.by_hash[params[0]]
            return {
                "from": "0x" + "00" * 20,
                "to": tx["to"],
                "input": "0x" + tx["data"].hex(),
                "value": hex(tx["value"]),
            }
        raise AssertionError(f"unexpected {method}")


def _created_at(sender: str, nonce: int) -> str:
    return "0x" + keccak(rlp.encode([bytes.fromhex(sender[2:]), nonce]))[12:].hex()


def _sender(node, **kw) -> TxSender:
    kw.setdefault("fees", FeePolicy(priority_gwei=1, max_fee_gwei=500, bump_pct=12.5))
    return TxSender(node, KEY, bump_after_blocks=kw.pop("bump_after_blocks", 2), poll_interval=0, **kw)


def test_transact__mined__receipt_and_nonce_advances():
    node = FakeNode()
    s = _sender(node)
    r1 = s.transact(Call(TO, b"\x01", 5))
    r2 = s.transact(Call(TO, b"\x02"))
    assert r1.status == 1 and r2.block_number > r1.block_number
    assert [t["nonce"] for t in node.sent] == [0, 1] and s.nonce == 2 and not s.pending
    assert node.sent[0]["value"] == 5 and node.sent[0]["data"] == b"\x01"
    assert node.sent[0]["gas"] == int(21_000 * 1.25)
    assert node.sent[0]["maxFeePerGas"] == 2 * GWEI + GWEI  # 2 x base + tip


def test_transact__creation__no_to_signed__deployed_address_from_receipt():
    node = FakeNode()
    s = _sender(node)
    s.transact(Call(TO, b"\x01"))  # nonce 0: the creation below is the account's second tx
    init = bytes.fromhex("69602a60005260206000f3600052600a6016f3")
    r = s.transact(Call(None, init))
    assert "to" not in node.estimated[-1] and node.estimated[-1]["data"] == "0x" + init.hex()
    assert node.sent[-1]["to"] is None and node.sent[-1]["data"] == init
    assert r.contract_address == Web3.to_checksum_address(_created_at(s.address, 1))
    assert s.transact(Call(TO, b"")).contract_address is None  # a call creates nothing


def test_transact__creation_reverts_on_chain__reason_replayed_without_to():
    node = FakeNode()
    s = _sender(node)
    node.revert_onchain = "constructor: bad owner"
    with pytest.raises(TxFailed, match="constructor: bad owner") as e:
        s.transact(Call(None, b"\x60\x00"))
    assert e.value.mined and node.sent[0]["to"] is None and "to" not in node.replayed[0]


def test_transact__simulation_reverts__tx_failed_with_reason__nothing_broadcast():
    node = FakeNode()
    node.revert_sim = "Exchange: order expired"
    s = _sender(node)
    with pytest.raises(TxFailed) as e:
        s.transact(Call(TO, b""))
    assert e.value.reason == "Exchange: order expired" and not e.value.mined
    assert not node.sent and not s.pending


def test_transact__stuck__replaced_same_nonce_with_bumped_fees__replacement_mined():
    node = FakeNode()
    s = _sender(node)
    node.base_after_send = 3 * GWEI + 1  # the first version (max fee 3 gwei) can no longer be included
    r = s.transact(Call(TO, b""))
    assert len(node.sent) == 2 and {t["nonce"] for t in node.sent} == {0}
    first, second = node.sent
    assert second["maxFeePerGas"] == 3_375_000_000 and second["maxPriorityFeePerGas"] == 1_125_000_000
    assert first["maxFeePerGas"] == 3 * GWEI
    replacement = next(h for h, rc in node.receipts.items())
    assert r.tx_hash == replacement and node.latest == 1 and not s.pending


def test_transact__no_bump__stays_stuck__times_out_and_forgets_nonce():
    node = FakeNode()
    s = _sender(node, bump_after_blocks=10**9, receipt_timeout=0.05)
    node.base_after_send = 10 * GWEI
    with pytest.raises(TxFailed, match="no receipt") as e:
        s.transact(Call(TO, b""))
    assert e.value.tx_hash and not e.value.mined
    assert s.nonce is None and not s.pending  # unknown fate: re-read before the next send


def test_bump__at_fee_cap__not_sent_and_logged(caplog):
    node = FakeNode()
    s = _sender(node, fees=FeePolicy(priority_gwei=1, max_fee_gwei=3, bump_pct=12.5), receipt_timeout=0.05)
    node.base_after_send = 4 * GWEI
    with caplog.at_level(logging.WARNING, logger="chain.tx"), pytest.raises(TxFailed, match="no receipt"):
        s.transact(Call(TO, b""))
    assert len(node.sent) == 1 and "stuck tx at fee cap; not bumping" in caplog.text


def test_transact__mined_but_reverted__reason_replayed_at_previous_block():
    node = FakeNode()
    s = _sender(node)
    node.revert_onchain = "Clearinghouse: insufficient margin"
    node.revert_sim = None
    # the simulation passes (state changed between simulation and inclusion): the fake only
    # reverts on-chain and in the replay
    s.simulate = lambda call: 21_000
    with pytest.raises(TxFailed) as e:
        s.transact(Call(TO, b""))
    assert e.value.mined and e.value.reason == "Clearinghouse: insufficient margin" and e.value.tx_hash


def test_broadcast__nonce_too_low__resynced_once_and_sent():
    node = FakeNode()
    s = _sender(node)
    s.transact(Call(TO, b""))
    node.latest = 5  # another process used the account
    r = s.transact(Call(TO, b""))
    assert node.sent[-1]["nonce"] == 5 and r.status == 1 and s.nonce == 6


def test_send_poll__keeper_flow__in_flight_bump_then_outcome():
    node = FakeNode(mine_on_head_read=False)
    s = _sender(node)
    res = s.send("liq:1", Call(TO, b""), head_number=100, kind="liquidate", meta={"account": "0xa"})
    assert res.status == "sent" and s.in_flight("liq:1")
    assert s.send("liq:1", Call(TO, b""), 100).status == "in_flight"
    node.base = 5 * GWEI
    for _ in range(2):
        node.mine()
        assert s.poll(node.block) == []
    assert len(node.sent) == 2 and s.pending[0].bumps == 1  # replaced after 2 blocks
    node.base = 3 * GWEI  # the bumped max fee (3.375 gwei) now covers it
    node.mine()
    (o,) = s.poll(node.block)
    assert o.status == "mined" and o.key == "liq:1" and o.meta == {"account": "0xa"}
    assert o.receipt["transactionHash"] == o.tx_hash  # the keeper reports from it without a second read
    assert o.tx_hash == s.node.rpc("eth_getTransactionReceipt", [o.tx_hash])["transactionHash"]
    assert not s.in_flight("liq:1")


def test_send__simulation_reverts__rejected_with_reason():
    node = FakeNode()
    node.revert_sim = "Clearinghouse: healthy"
    s = _sender(node)
    r = s.send("k", Call(TO, b""), 100)
    assert r.status == "rejected" and r.reason == "Clearinghouse: healthy" and not node.sent


def test_send__no_account__dry_run_simulates_sends_nothing():
    node = FakeNode()
    s = TxSender(node, None)
    assert s.dry and s.send("k", Call(TO, b""), 100).status == "dry" and not node.sent
    with pytest.raises(TxFailed, match="no signing account"):
        s.transact(Call(TO, b""))


def test_poll__nonce_used_elsewhere__dropped():
    node = FakeNode(mine_on_head_read=False)
    s = _sender(node)
    s.send("k", Call(TO, b""), 100)
    node.pool.clear()
    node.latest = 1  # a tx we never saw took nonce 0
    (o,) = s.poll(101)
    assert o.status == "dropped" and not s.pending


def test_fee_policy__bump_below_10_pct__refused():
    with pytest.raises(ValueError, match=">= 10"):
        FeePolicy(bump_pct=5)


def test_call_of__web3_contract_function__to_and_calldata_without_rpc():
    abi = [
        {
            "type": "function",
            "name": "deposit",
            "stateMutability": "nonpayable",
            "inputs": [{"name": "amount", "type": "uint256"}],
            "outputs": [],
        }
    ]
    w3 = Web3(Web3.HTTPProvider("http://127.0.0.1:1"))  # never contacted
    fn = w3.eth.contract(address=Web3.to_checksum_address(TO), abi=abi).functions.deposit(7)
    c = call_of(fn, value=5)
    assert c.to.lower() == TO and c.data == keccak(text="deposit(uint256)")[:4] + (7).to_bytes(32, "big")
    assert c.value == 5
    with pytest.raises(ValueError, match="not bound to a contract address"):
        call_of(w3.eth.contract(abi=abi).functions.deposit(7))
    # encoded from the function's public ABI entry, not web3's private encoder: keywords refused
    with pytest.raises(ValueError, match="by position"):
        call_of(w3.eth.contract(address=Web3.to_checksum_address(TO), abi=abi).functions.deposit(amount=7))


def test_external_signer__sign_tx_used():
    node = FakeNode()
    acct = Account.from_key(KEY)
    seen = []

    class Signer:
        address = acct.address

        def sign_tx(self, tx):
            seen.append(tx)
            return bytes(acct.sign_transaction(tx).raw_transaction)

    TxSender(node, Signer(), poll_interval=0).transact(Call(TO, b""))
    assert seen and seen[0]["from"] == acct.address and node.latest == 1


def test_broadcast__already_known__counted_as_sent_not_resent_at_a_new_nonce():
    node = FakeNode()
    s = _sender(node)
    real = node.__call__

    def once_known(method, params=None):
        if method == "eth_sendRawTransaction" and not node.sent:
            real(method, params)  # it reached the pool, but the answer says "already known"
            raise ChainError(f"{method}: already known")
        return real(method, params)

    s.node.rpc = once_known
    r = s.transact(Call(TO, b""))
    assert len(node.sent) == 1 and node.sent[0]["nonce"] == 0 and r.status == 1 and s.nonce == 1


def test_tx_outcome__anyones_tx__pending_success_and_replayed_revert():
    node = FakeNode(mine_on_head_read=False)
    s = _sender(node)
    h = s.send("k", Call(TO, b"\x01"), 100).tx_hash
    assert tx_outcome(node, h) == (None, None)  # in the pool
    node.mine()
    r, err = tx_outcome(node, h)
    assert r.status == 1 and err is None
    node.revert_onchain = "Exchange: order cancelled"
    h2 = s.send("k2", Call(TO, b"\x02"), 101).tx_hash
    node.mine()
    r, err = tx_outcome(node, h2)
    assert r.status == 0 and err.reason == "Exchange: order cancelled"


class BatchNode(FakeNode):
    """FakeNode answering JSON-RPC batches (as chain.rpc.Rpc.batch: results in order, the first
    error raised) and node-signed ``eth_sendTransaction`` from the accounts it holds unlocked."""

    def __init__(self, unlocked=(), **kw):
        super().__init__(**kw)
        self.unlocked, self.batches, self.unsigned = set(unlocked), [], []

    def batch(self, calls, chunk: int = 50):
        self.batches.append([m for m, _ in calls])
        return [self(m, p) for m, p in calls]

    def __call__(self, method, params=None):
        if method == "eth_sendTransaction":
            tx = params[0]
            if tx["from"] not in self.unlocked:
                raise ChainError(f"{method}: No Signer available")
            self.unsigned.append(tx)
            return "0x" + keccak(text=repr(tx) + str(len(self.unsigned))).hex()
        return super().__call__(method, params)


def test_broadcast_batch__consecutive_nonces_one_batch_given_gas_not_simulated():
    node = BatchNode()
    s = _sender(node)
    s.transact(Call(TO, b"\x00"))  # nonce 0 through the blocking path: the batch continues after it
    hashes = s.broadcast_batch([Call(TO, bytes([i]), i) for i in range(1, 4)], gas=400_000)
    assert node.batches == [["eth_sendRawTransaction"] * 3]
    assert [node.by_hash[h]["nonce"] for h in hashes] == [1, 2, 3] and s.nonce == 4
    assert [node.by_hash[h]["data"] for h in hashes] == [b"\x01", b"\x02", b"\x03"]
    assert {node.by_hash[h]["gas"] for h in hashes} == {400_000}  # the given gas, no multiplier
    assert len(node.estimated) == 1  # only the transact above was simulated
    assert not s.pending  # waited on with wait_mined, not tracked
    s.transact(Call(TO, b"\x04"))
    assert node.sent[-1]["nonce"] == 4


def test_broadcast_batch__refused__tx_failed_and_nonce_reread():
    node = BatchNode()
    s = _sender(node)
    s.nonce, s.chain_id = 7, 31337  # a stale local nonce: ahead of the chain (0)
    node.latest = 9  # ...and behind it: the node refuses the first tx as "nonce too low"
    with pytest.raises(TxFailed, match="batch broadcast failed"):
        s.broadcast_batch([Call(TO, b"\x01"), Call(TO, b"\x02")], gas=50_000)
    assert s.nonce is None  # unknown: re-read before the next send
    s.transact(Call(TO, b"\x03"))
    assert node.sent[-1]["nonce"] == 9


def test_broadcast_batch__needs_a_raw_rpc_a_key_and_gas():
    with pytest.raises(TypeError, match="chain.rpc.Rpc"):
        TxSender(Web3(), KEY).broadcast_batch([Call(TO, b"")], gas=21_000)
    with pytest.raises(TxFailed, match="no signing account"):
        TxSender(BatchNode()).broadcast_batch([Call(TO, b"")], gas=21_000)
    with pytest.raises(ValueError, match="gas"):
        _sender(BatchNode()).broadcast_batch([Call(TO, b"")], gas=0)


def test_send_unlocked__node_signs_in_one_batch_with_given_gas_and_quoted_fees():
    a, b = "0x" + "77" * 20, "0x" + "88" * 20
    node = BatchNode(unlocked={a, b})
    hashes = send_unlocked(
        node, [(a, Call(TO, b"\x01")), (b, Call(None, b"\x60\x00", 3)), (a, Call(TO, b"\x02"))], gas=200_000
    )
    # a batch holds one tx per sender (a node may serve a batch concurrently): a's second send
    # goes in the next batch, after its first is in the node's pool
    assert len(hashes) == 3 and node.batches == [["eth_sendTransaction"] * 2, ["eth_sendTransaction"]]
    assert len(set(hashes)) == 3
    first, create, again = node.unsigned
    assert first["from"] == a and first["to"] == Web3.to_checksum_address(TO) and first["data"] == "0x01"
    assert "to" not in create and create["value"] == "0x3"  # a creation: no `to` at all
    assert {t["gas"] for t in node.unsigned} == {hex(200_000)}
    assert first["maxFeePerGas"] == hex(2 * GWEI + GWEI) and first["maxPriorityFeePerGas"] == hex(GWEI)
    # consecutive nonces per sender from its pending count: a node may serve a batch's requests
    # concurrently, and two sends of one account would otherwise share a nonce
    assert (first["nonce"], again["nonce"], create["nonce"]) == ("0x0", "0x1", "0x0")
    assert not node.sent  # nothing signed here


def test_send_unlocked__account_not_held__tx_failed():
    node = BatchNode(unlocked={"0x" + "77" * 20})
    with pytest.raises(TxFailed, match="No Signer"):
        send_unlocked(node, [("0x" + "99" * 20, Call(TO, b""))], gas=21_000)
    with pytest.raises(ValueError, match="gas"):
        send_unlocked(node, [("0x" + "77" * 20, Call(TO, b""))], gas=0)
