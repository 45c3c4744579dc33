"""One transaction at a time from one account, with a local nonce (the matcher's sender).

`send(to, data)` simulates first (`eth_estimateGas`: a revert comes back as `TxFailed` with the
reason and nothing is broadcast, so a doomed match costs no gas), signs with the next local
nonce, broadcasts, and waits for the receipt. A nonce error re-reads the nonce from the chain
once. The lock makes it one-in-flight even if several threads share the sender.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from eth_account import Account

from keepers.matcher.chainview import ChainError, Rpc


class TxFailed(RuntimeError):
    def __init__(self, reason: str, tx_hash: str | None = None, mined: bool = False):
        super().__init__(reason)
        self.reason, self.tx_hash, self.mined = reason, tx_hash, mined


@dataclass(frozen=True)
class Receipt:
    tx_hash: str
    block_number: int
    gas_used: int
    logs: list


def reason_of(message: str) -> str:
    for marker in ("execution reverted: ", "revert: ", "reverted: "):
        if marker in message:
            return message.split(marker, 1)[1].strip()
    return message


class TxSender:
    def __init__(self, rpc: Rpc, key: str, chain_id: int, gas_multiplier: float = 1.3, timeout: float = 60.0):
        self.rpc, self.account, self.chain_id = rpc, Account.from_key(key), chain_id
        self.gas_multiplier, self.timeout = gas_multiplier, timeout
        self._lock = threading.Lock()
        self._nonce: int | None = None

    @property
    def address(self) -> str:
        return self.account.address

    def _sync(self) -> None:
        self._nonce = int(self.rpc("eth_getTransactionCount", [self.address, "pending"]), 16)

    def send(self, to: str, data: bytes) -> Receipt:
        with self._lock:
            call = {"from": self.address, "to": to, "data": "0x" + data.hex()}
            try:
                gas = int(self.rpc("eth_estimateGas", [call]), 16)
            except ChainError as e:
                raise TxFailed(reason_of(str(e))) from e
            if self._nonce is None:
                self._sync()
            gas_price = int(self.rpc("eth_gasPrice"), 16)
            for attempt in (0, 1):
                tx = {"to": to, "data": data, "gas": int(gas * self.gas_multiplier), "gasPrice": gas_price,
                      "nonce": self._nonce, "chainId": self.chain_id, "value": 0}
                raw = self.account.sign_transaction(tx).raw_transaction
                try:
                    h = self.rpc("eth_sendRawTransaction", ["0x" + bytes(raw).hex()])
                    break
                except ChainError as e:
                    if attempt == 0 and "nonce" in str(e).lower():
                        self._sync()
                        continue
                    raise TxFailed(f"broadcast failed: {e}") from e
            self._nonce += 1
            return self._wait(h)

    def _wait(self, h: str) -> Receipt:
        deadline = time.monotonic() + self.timeout
        delay = 0.005
        while time.monotonic() < deadline:
            r = self.rpc("eth_getTransactionReceipt", [h])
            if r is not None:
                if int(r["status"], 16) != 1:
                    raise TxFailed("reverted on-chain", h, mined=True)
                return Receipt(h, int(r["blockNumber"], 16), int(r["gasUsed"], 16), r["logs"])
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
        # unknown fate: force a nonce re-read before the next send
        self._nonce = None
        raise TxFailed(f"no receipt for {h} within {self.timeout:.0f} s", h)
