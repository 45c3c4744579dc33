"""The real Safe 1.4.1 contracts in tests: build artifacts of the npm package
`@safe-global/safe-contracts@1.4.1` (package.json; installed by `make setup`), and the off-chain
half of a Safe's signing (what the Safe{Wallet} app and protocol-kit compute), written from the
contracts' own definitions and pinned against the contracts' views in the tests:

  * an owner signs a *SafeMessage* to let the Safe's EIP-1271 `isValidSignature(digest, sig)`
    (CompatibilityFallbackHandler) accept `digest`:
        safe_message_hash = keccak(0x19 0x01 ‖ domainSeparator(safe) ‖
                                   keccak(SAFE_MSG_TYPEHASH ‖ keccak(abi.encode(digest))))
  * a Safe transaction (`execTransaction`) is approved by owners signing its *SafeTx* hash;
  * either way the Safe wants `threshold` 65-byte owner signatures (r ‖ s ‖ v, v 27/28),
    concatenated in ascending order of owner address (`checkSignatures`).

Backend-neutral: `SafeBoa` deploys the suite into titanoboa; the integration tests deploy the
same bytecode onto anvil with web3.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from eth_abi import encode
from eth_account import Account
from eth_utils import keccak, to_checksum_address

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "node_modules" / "@safe-global" / "safe-contracts" / "build" / "artifacts" / "contracts"
_PATHS = {
    "Safe": "Safe.sol/Safe.json",
    "SafeL2": "SafeL2.sol/SafeL2.json",
    "SafeProxyFactory": "proxies/SafeProxyFactory.sol/SafeProxyFactory.json",
    "CompatibilityFallbackHandler": "handler/CompatibilityFallbackHandler.sol/CompatibilityFallbackHandler.json",
    "SignMessageLib": "libraries/SignMessageLib.sol/SignMessageLib.json",
}
VERSION = "1.4.1"

DOMAIN_TYPEHASH = keccak(text="EIP712Domain(uint256 chainId,address verifyingContract)")
SAFE_MSG_TYPEHASH = keccak(text="SafeMessage(bytes message)")
SAFE_TX_TYPEHASH = keccak(
    text="SafeTx(address to,uint256 value,bytes data,uint8 operation,uint256 safeTxGas,"
    "uint256 baseGas,uint256 gasPrice,address gasToken,address refundReceiver,"
    "uint256 nonce)"
)
ZERO = "0x" + "00" * 20
SENTINEL_OWNERS = "0x" + "00" * 19 + "01"  # head of the Safe's owner linked list
CALL, DELEGATECALL = 0, 1
# EIP-1271 magic value: what CompatibilityFallbackHandler.isValidSignature(bytes32,bytes) returns
MAGIC = bytes.fromhex("1626ba7e")


@cache
def artifact(name: str) -> dict:
    """{"abi": [...], "bytecode": bytes} of a Safe 1.4.1 contract; a clear error without node_modules."""
    path = ARTIFACTS / _PATHS[name]
    if not path.exists():
        raise FileNotFoundError(
            f"{path} missing: run `make setup` (npm installs @safe-global/safe-contracts@{VERSION})"
        )
    d = json.loads(path.read_text())
    return {"abi": d["abi"], "bytecode": bytes.fromhex(d["bytecode"][2:])}


def domain_separator(chain_id: int, safe: str) -> bytes:
    return keccak(encode(["bytes32", "uint256", "address"], [DOMAIN_TYPEHASH, chain_id, safe]))


def safe_message_data(chain_id: int, safe: str, message: bytes) -> bytes:
    """`CompatibilityFallbackHandler.encodeMessageDataForSafe(safe, message)`: the EIP-712
    preimage of a SafeMessage (its keccak is what owners sign)."""
    struct = keccak(SAFE_MSG_TYPEHASH + keccak(message))
    return b"\x19\x01" + domain_separator(chain_id, safe) + struct


def safe_message_hash(chain_id: int, safe: str, digest: bytes) -> bytes:
    """What owners sign so the Safe's `isValidSignature(digest, ...)` accepts (module doc)."""
    return keccak(safe_message_data(chain_id, safe, encode(["bytes32"], [digest])))


def contract_signatures(parts: dict[str, bytes], gap: int = 0) -> bytes:
    """A Safe signature made of contract-owner signatures (`checkNSignatures`, v = 0): per owner
    in ascending address order a 65-byte static part (r = owner, s = offset of its data, v = 0),
    then `gap` zero bytes (the offsets skip them), then each owner's signature as a
    length-prefixed blob."""
    owners = sorted(parts, key=lambda a: int(a, 16))
    static, dynamic = b"", b""
    for owner in owners:
        offset = 65 * len(owners) + gap + len(dynamic)
        static += encode(["address", "uint256"], [owner, offset]) + b"\x00"
        dynamic += encode(["uint256"], [len(parts[owner])]) + parts[owner]
    return static + bytes(gap) + dynamic


def safe_tx_hash(
    chain_id: int, safe: str, to: str, data: bytes, nonce: int, operation: int = CALL, value: int = 0
) -> bytes:
    """The SafeTx hash of a gas-refund-free transaction (safeTxGas, baseGas, gasPrice 0)."""
    struct = keccak(
        encode(
            [
                "bytes32",
                "address",
                "uint256",
                "bytes32",
                "uint8",
                "uint256",
                "uint256",
                "uint256",
                "address",
                "address",
                "uint256",
            ],
            [SAFE_TX_TYPEHASH, to, value, keccak(data), operation, 0, 0, 0, ZERO, ZERO, nonce],
        )
    )
    return keccak(b"\x19\x01" + domain_separator(chain_id, safe) + struct)


def owner_signatures(hash_: bytes, owners) -> bytes:
    """Concatenated 65-byte ECDSA signatures of `hash_`, in ascending owner-address order (what
    `Safe.checkSignatures` walks); `owners` are LocalAccounts."""
    ordered = sorted(owners, key=lambda a: int(a.address, 16))
    return b"".join(bytes(a.unsafe_sign_hash(hash_).signature) for a in ordered)


def prev_owner(owners: list[str], owner: str) -> str:
    """The `prevOwner` argument of `swapOwner`/`removeOwner` for `owner`, given `getOwners()`."""
    i = owners.index(owner)
    return owners[i - 1] if i else SENTINEL_OWNERS


def new_owners(n: int) -> list:
    return [Account.create() for _ in range(n)]


def setup_calldata(owners: list[str], threshold: int, fallback_handler: str) -> bytes:
    """`Safe.setup(...)` calldata, the proxy's initializer (no module, no payment)."""
    selector = keccak(text="setup(address[],uint256,address,bytes,address,address,uint256,address)")[:4]
    return selector + encode(
        ["address[]", "uint256", "address", "bytes", "address", "address", "uint256", "address"],
        [[to_checksum_address(o) for o in owners], threshold, ZERO, b"", fallback_handler, ZERO, 0, ZERO],
    )


def sign_message_calldata(digest: bytes) -> bytes:
    """`SignMessageLib.signMessage(abi.encode(digest))`: the message CompatibilityFallbackHandler
    checks for `isValidSignature(digest, "")` is the digest, abi-encoded."""
    return keccak(text="signMessage(bytes)")[:4] + encode(["bytes"], [encode(["bytes32"], [digest])])


class SafeBoa:
    """The Safe 1.4.1 suite deployed in titanoboa: singleton, proxy factory, fallback handler,
    SignMessageLib; `create` makes a Safe proxy, `execute` runs a transaction signed by owners."""

    def __init__(self, chain_id: int = 31337):
        import boa

        self.boa, self.chain_id = boa, chain_id
        self.factories = {n: boa.loads_abi(json.dumps(artifact(n)["abi"]), name=n) for n in _PATHS}
        deployer = boa.env.generate_address("safe-deployer")
        with boa.env.prank(deployer):
            self.singleton = self._deploy("Safe")
            self.singleton_l2 = self._deploy("SafeL2")  # the event-emitting variant used on L2s
            self.proxy_factory = self._deploy("SafeProxyFactory")
            self.handler = self._deploy("CompatibilityFallbackHandler")
            self.sign_message_lib = self._deploy("SignMessageLib")
        self._salt = 0

    def _deploy(self, name: str):
        address, _ = self.boa.env.deploy_code(bytecode=artifact(name)["bytecode"])
        return self.factories[name].at(address)

    def create(self, owners, threshold: int, l2: bool = False):
        """A Safe proxy of `owners` (LocalAccounts or addresses) with `threshold`, whose fallback
        handler is CompatibilityFallbackHandler (the Safe{Wallet} default: EIP-1271)."""
        self._salt += 1
        addrs = [getattr(o, "address", o) for o in owners]
        singleton = self.singleton_l2 if l2 else self.singleton
        proxy = self.proxy_factory.createProxyWithNonce(
            singleton.address, setup_calldata(addrs, threshold, self.handler.address), self._salt
        )
        return self.factories["SafeL2" if l2 else "Safe"].at(proxy)

    def execute(self, safe, to: str, data: bytes, signers, operation: int = CALL, sender=None):
        """`safe.execTransaction(to, 0, data, operation, ...)` with `signers`' SafeTx signatures;
        asserts the inner call succeeded (the Safe reports failure by event, not by revert)."""
        h = safe_tx_hash(self.chain_id, safe.address, to, data, safe.nonce(), operation)
        sigs = owner_signatures(h, signers)
        with self.boa.env.prank(sender or signers[0].address):
            ok = safe.execTransaction(to, 0, data, operation, 0, 0, 0, ZERO, ZERO, sigs)
        assert ok, "Safe transaction's inner call failed"

    def message_signatures(self, safe, digest: bytes, owners) -> bytes:
        """The owners' signatures that make `safe.isValidSignature(digest, ·)` accept."""
        return owner_signatures(safe_message_hash(self.chain_id, safe.address, digest), owners)

    def nested_message_signatures(self, safe, digest: bytes, inner: dict, gap: int = 0) -> bytes:
        """The signature of `safe` whose signing owners are Safes: `inner` maps each owner Safe
        to the EOA owners that sign for it. An owner Safe is asked (legacy EIP-1271,
        `isValidSignature(bytes data, bytes sig)`) with data = the outer SafeMessage preimage,
        so its owners sign the SafeMessage of that preimage under the owner Safe's domain."""
        data = safe_message_data(self.chain_id, safe.address, encode(["bytes32"], [digest]))
        return contract_signatures(
            {
                owner_safe.address: owner_signatures(
                    keccak(safe_message_data(self.chain_id, owner_safe.address, data)), signers
                )
                for owner_safe, signers in inner.items()
            },
            gap,
        )

    def is_valid_signature(self, safe, digest: bytes, signature: bytes) -> bytes:
        """The Safe's answer to EIP-1271 `isValidSignature(digest, signature)` (served by its
        fallback handler): the 4-byte magic value, or b"" when it reverts (a Safe reverts on a
        signature it does not accept)."""
        c = self.boa.env.execute_code(
            to_address=safe.address, data=MAGIC + encode(["bytes32", "bytes"], [digest, signature]), simulate=True
        )
        return b"" if c.is_error else bytes(c.output[:4])

    def approve_on_chain(self, safe, digest: bytes, signers):
        """Mark `digest` signed by the Safe itself: delegatecall SignMessageLib.signMessage from
        an owner-approved transaction; afterwards `isValidSignature(digest, b"")` accepts."""
        self.execute(
            safe, self.sign_message_lib.address, sign_message_calldata(digest), signers, operation=DELEGATECALL
        )


class SafeWeb3:
    """The same suite deployed on a node (anvil) with web3; transactions are sent by `key`
    (any funded account: a Safe transaction may be relayed by anyone once owners signed it)."""

    def __init__(self, w3, key: str):
        self.w3, self.account = w3, Account.from_key(key)
        self.chain_id = w3.eth.chain_id
        self.singleton = self._deploy("Safe")
        self.proxy_factory = self._deploy("SafeProxyFactory")
        self.handler = self._deploy("CompatibilityFallbackHandler")
        self.sign_message_lib = self._deploy("SignMessageLib")
        self._salt = 0

    def _mine(self, tx: dict):
        tx = {
            **tx,
            "from": self.account.address,
            "nonce": self.w3.eth.get_transaction_count(self.account.address),
            "chainId": self.chain_id,
        }
        tx.setdefault("gas", self.w3.eth.estimate_gas(tx))
        tx.setdefault("gasPrice", self.w3.eth.gas_price)
        receipt = self.w3.eth.wait_for_transaction_receipt(
            self.w3.eth.send_raw_transaction(self.account.sign_transaction(tx).raw_transaction)
        )
        assert receipt.status == 1, receipt
        return receipt

    def contract(self, name: str, address: str):
        return self.w3.eth.contract(address=to_checksum_address(address), abi=artifact(name)["abi"])

    def _deploy(self, name: str):
        return self.contract(name, self._mine({"data": "0x" + artifact(name)["bytecode"].hex()}).contractAddress)

    def create(self, owners, threshold: int):
        """A Safe proxy (CompatibilityFallbackHandler as fallback handler), as `SafeBoa.create`."""
        self._salt += 1
        fn = self.proxy_factory.functions.createProxyWithNonce(
            self.singleton.address,
            setup_calldata([o.address for o in owners], threshold, self.handler.address),
            self._salt,
        )
        address = fn.call({"from": self.account.address})
        self._mine({"to": self.proxy_factory.address, "data": fn._encode_transaction_data()})
        return self.contract("Safe", address)

    def execute(self, safe, to: str, data: bytes | str, signers, operation: int = CALL):
        data = bytes.fromhex(data.removeprefix("0x")) if isinstance(data, str) else data  # web3 gives hex
        h = safe_tx_hash(self.chain_id, safe.address, to, data, safe.functions.nonce().call(), operation)
        fn = safe.functions.execTransaction(to, 0, data, operation, 0, 0, 0, ZERO, ZERO, owner_signatures(h, signers))
        receipt = self._mine({"to": safe.address, "data": fn._encode_transaction_data()})
        from web3.logs import DISCARD

        failure = safe.events.ExecutionFailure().process_receipt(receipt, errors=DISCARD)
        assert not failure, "Safe transaction's inner call failed"

    def message_signatures(self, safe, digest: bytes, owners) -> bytes:
        return owner_signatures(safe_message_hash(self.chain_id, safe.address, digest), owners)

    def approve_on_chain(self, safe, digest: bytes, signers):
        self.execute(
            safe, self.sign_message_lib.address, sign_message_calldata(digest), signers, operation=DELEGATECALL
        )
