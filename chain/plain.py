"""Plain signed transactions and JSON-RPC batches for devnet tooling (pool deploys, demo setup).

Keepers send through `chain.tx.TxSender` (nonces, fee bumping, replacement); devnet tooling runs
one key at a time on anvil and wants contract creation and raw batches, which this module gives —
inside chain/, the one package that broadcasts, reads nonces and waits for receipts.
"""

from __future__ import annotations

import time

import httpx
from eth_account import Account
from web3 import Web3

from chain.tx import TxFailed


class PlainSender:
    """One key, sequential nonces read from the pending pool, legacy gas price; waits for each receipt."""

    def __init__(self, w3: Web3, key: str):
        self.w3, self.acct = w3, Account.from_key(key)

    def send(self, tx: dict, what: str, timeout: float = 60) -> dict:
        """Sign and send `tx` (``to`` omitted: a contract creation); the receipt, or ``TxFailed``
        naming `what` when the node refuses to estimate it or it reverts."""
        tx = {
            "from": self.acct.address,
            "nonce": self.w3.eth.get_transaction_count(self.acct.address, "pending"),
            "chainId": self.w3.eth.chain_id,
            "gasPrice": self.w3.eth.gas_price,
            **tx,
        }
        if "gas" not in tx:
            try:
                tx["gas"] = int(self.w3.eth.estimate_gas(tx) * 1.2)
            except Exception as e:  # noqa: BLE001 - the node's revert reason is the diagnosis
                raise TxFailed(f"{what}: {e}", error=e) from None
        h = self.w3.eth.send_raw_transaction(self.acct.sign_transaction(tx).raw_transaction)
        r = self.w3.eth.wait_for_transaction_receipt(h, timeout=timeout)
        if r["status"] != 1:
            raise TxFailed(f"{what}: transaction {h.hex()} reverted", h.hex(), mined=True)
        return r


def rpc_batch(url: str, calls: list[tuple[str, list]], chunk: int = 50) -> list:
    """JSON-RPC batch requests of (method, params), `chunk` a request (anvil answers each in one round
    trip): the results in order; RuntimeError on any call's error."""
    out = []
    with httpx.Client(timeout=600) as h:
        for i in range(0, len(calls), chunk):
            body = [
                {"jsonrpc": "2.0", "id": i + j, "method": m, "params": p}
                for j, (m, p) in enumerate(calls[i : i + chunk])
            ]
            res = sorted(h.post(url, json=body).json(), key=lambda r: r["id"])
            for r in res:
                if "error" in r:
                    raise RuntimeError(f"batched call failed: {r['error']}")
                out.append(r["result"])
    return out


def wait_mined(url: str, hashes: list[str], timeout: float = 600.0) -> None:
    """Wait until every transaction is mined (a batch queues in anvil's pool); RuntimeError naming
    how many are still pending or reverted."""
    deadline = time.monotonic() + timeout
    while True:
        receipts = rpc_batch(url, [("eth_getTransactionReceipt", [x]) for x in hashes])
        if all(r is not None for r in receipts) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    pending = sum(r is None for r in receipts)
    reverted = sum(1 for r in receipts if r is not None and int(r["status"], 16) != 1)
    if pending or reverted:
        raise RuntimeError(f"{pending} transactions not mined, {reverted} reverted")
