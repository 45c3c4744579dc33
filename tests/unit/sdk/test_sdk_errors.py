"""sdk.errors: the hierarchy, and every revert reason of the contracts decodes to a typed error."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from eth_abi import encode
from web3.exceptions import ContractLogicError

from core.errors import ManifestError as BaseManifestError
from sdk import errors

ROOT = Path(__file__).resolve().parents[3]
# `assert cond, "reason"`, `raise "reason"` and the Clearinghouse's shared `self._req(cond, "reason")`
ASSERT_REASON = re.compile(r'(?:assert\s[^\n]*?|raise\s+|_req\([^\n]*?)"([A-Za-z0-9_]+: [^"]+)"')
SNEKMATE_MODULES = (
    "tokens/erc20.vy",
    "auth/ownable.vy",
    "auth/ownable_2step.vy",
    "utils/ecdsa.vy",
    "utils/signature_checker.vy",
    "utils/eip712_domain_separator.vy",
)


# the Clearinghouse's `_req` adds its "Clearinghouse: " prefix itself (call sites pass the rest)
REQ_REASON = re.compile(r'_req\([^\n]*?"([^":]+)"\)')


def _reasons(paths) -> set[str]:
    out = set()
    for p in paths:
        text = Path(p).read_text()
        out |= set(ASSERT_REASON.findall(text))
        if Path(p).name == "Clearinghouse.vy":
            out |= {f"Clearinghouse: {r}" for r in REQ_REASON.findall(text)}
    return out


def contract_reasons() -> set[str]:
    """Deployable contracts (contracts/*.vy) and the devnet collateral MockUSDC; the other
    contracts/testing mocks are test-only and never reached by the SDK."""
    return _reasons(sorted((ROOT / "contracts").glob("*.vy")) + [ROOT / "contracts/testing/MockUSDC.vy"])


def snekmate_reasons() -> set[str]:
    import snekmate

    base = Path(next(iter(snekmate.__path__)))
    return _reasons(base / m for m in SNEKMATE_MODULES if (base / m).exists())


def error_data(reason: str) -> bytes:
    return bytes.fromhex("08c379a0") + encode(["string"], [reason])


ALL_ERRORS = [c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, errors.ComputeSpreadError)]


def test_contract_reasons__found_in_the_vy_files():
    rs = contract_reasons()
    assert len(rs) > 80  # the parser sees the contracts
    assert {"Clearinghouse: insufficient margin", "Exchange: overfill", "Oracle: stale report"} <= rs


@pytest.mark.parametrize("reason", sorted(contract_reasons() | snekmate_reasons()))
def test_every_revert_reason__has_a_typed_error(reason):
    assert reason in errors.REVERT_REASONS, f"add {reason!r} to sdk.errors.REVERT_REASONS"
    cls, advice = errors.REVERT_REASONS[reason]
    assert issubclass(cls, errors.ComputeSpreadError) and cls is not errors.TransactionFailed
    assert advice and not advice.startswith("0x")


@pytest.mark.parametrize("reason", sorted(contract_reasons()))
def test_decode_revert__from_every_shape_web3_raises(reason):
    cls = errors.REVERT_REASONS[reason][0]
    data = error_data(reason)
    shapes = [
        ContractLogicError(f"execution reverted: {reason}", data="0x" + data.hex()),
        ContractLogicError("execution reverted", data="0x" + data.hex()),
        {"code": 3, "message": f"execution reverted: {reason}", "data": "0x" + data.hex()},
        data,
        reason,
        ValueError({"code": -32603, "message": f"execution reverted: revert: {reason}"}),
    ]
    for shape in shapes:
        e = errors.decode_revert(shape, action="do it")
        assert type(e) is cls and e.reason == reason
        assert str(e).startswith("do it: ") and "0x08c379a0" not in str(e)


def test_decode_revert__typed_errors_catchable_by_builtin():
    e = errors.decode_revert("Clearinghouse: insufficient margin")
    assert isinstance(e, RuntimeError) and isinstance(e, errors.InsufficientMargin)
    assert isinstance(errors.decode_revert("Clearinghouse: off tick"), ValueError)
    assert isinstance(errors.decode_revert("ownable: caller is not the owner"), PermissionError)
    assert isinstance(errors.decode_revert("Clearinghouse: unknown market"), LookupError)


def test_decode_revert__longest_reason_wins():
    e = errors.decode_revert("execution reverted: ecdsa: invalid signature `s` value")
    assert e.reason == "ecdsa: invalid signature `s` value"


def test_decode_revert__unknown_reason__transaction_failed_with_text_not_blob():
    data = error_data("Somebody: new reason")
    e = errors.decode_revert(ContractLogicError("execution reverted", data="0x" + data.hex()))
    assert type(e) is errors.TransactionFailed and "Somebody: new reason" in str(e)
    assert "0x" not in str(e)


def test_decode_revert__no_reason__transaction_failed_explains():
    e = errors.decode_revert(ContractLogicError("execution reverted", data="0x"))
    assert type(e) is errors.TransactionFailed and "without a reason" in str(e)


def test_decode_revert__panic__readable():
    data = bytes.fromhex("4e487b71") + (0x11).to_bytes(32, "big")
    e = errors.decode_revert(data)
    assert "panic 0x11" in str(e) and "0x4e487b71" not in str(e)


def test_decode_revert__already_typed__returned_as_is():
    e = errors.StaleMarket("x")
    assert errors.decode_revert(e) is e


@pytest.mark.parametrize("cls", ALL_ERRORS)
def test_every_error__one_base_and_a_builtin(cls):
    assert issubclass(cls, errors.ComputeSpreadError)
    if cls is not errors.ComputeSpreadError:
        assert issubclass(cls, (ValueError, RuntimeError, PermissionError, LookupError)), cls
    e = cls("how to fix it", reason="X: y", missing=1)
    assert str(e) == "how to fix it" and e.reason == "X: y" and e.missing == 1


def test_manifest_error__is_both_sdk_and_manifest_error():
    assert issubclass(errors.ManifestError, BaseManifestError)
    assert issubclass(errors.ManifestError, errors.ComputeSpreadError)
    assert issubclass(errors.ManifestError, ValueError)


def test_usd_text__readable():
    from decimal import Decimal

    assert errors.usd_text(Decimal("1234.5")) == "1,234.50 USD"
    # money to the cent (issue 14), rounded up: a message names what is needed or missing
    assert errors.usd_text(Decimal("0.0496")) == "0.05 USD"
    assert errors.usd_text(Decimal("67.625")) == "67.63 USD"
