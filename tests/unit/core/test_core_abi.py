"""core.abi: structs and events typed from the shipped ABIs, decoded by field name; the shipped
ABIs are the compiled contracts' (stale ones fail here)."""

from __future__ import annotations

import json

import pytest
from eth_abi import encode
from eth_utils import keccak, to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from core import abi

u256 = st.integers(min_value=0, max_value=2**256 - 1)
i256 = st.integers(min_value=-(2**255), max_value=2**255 - 1)
b32 = st.binary(min_size=32, max_size=32)
addresses = st.binary(min_size=20, max_size=20).map(lambda b: to_checksum_address(b))


def test_shipped_abis__match_compiled_contracts():
    from scripts import abis

    assert abis.stale() == [], "run python -m scripts.abis --write"


def test_shipped_abis__are_package_data():
    import tomllib
    from pathlib import Path

    py = tomllib.loads((Path(__file__).resolve().parents[3] / "pyproject.toml").read_text())
    assert "abis/*.json" in py["tool"]["setuptools"]["package-data"]["core"]
    assert "core*" in py["tool"]["setuptools"]["packages"]["find"]["include"]
    for name in abi.CONTRACTS:
        assert isinstance(abi.abi(name), list) and abi.abi(name)


def test_market__fields_in_contract_order():
    assert [f for f in abi.Market.__dataclass_fields__] == [
        "spec_hash",
        "mark_feed",
        "settlement_feed",
        "delivery_start",
        "delivery_end",
        "last_trade_time",
        "quantity_step",
        "min_quantity",
        "price_tick",
        "im_fixed",
        "im_rate_bps",
        "mm_fixed",
        "mm_rate_bps",
        "max_price_age",
        "dispute_window",
        "oi_cap",
    ]
    assert list(abi.MarketParams.__dataclass_fields__) == list(abi.Market.__dataclass_fields__)[9:]
    assert list(abi.MarketState.__dataclass_fields__) == ["halted", "settled", "settlement_price", "long_oi"]
    assert list(abi.AccountSummary.__dataclass_fields__) == [
        "collateral",
        "equity",
        "initial",
        "maintenance",
        "fresh",
        "open_markets",
    ]


@given(b32, b32, b32, st.lists(u256, min_size=13, max_size=13))
def test_market__returndata_round_trip(spec, mark, settle, rest):
    raw = (spec, mark, settle, *rest)
    data = encode([abi.Market.abi_type()], [raw])
    m = abi.Market.from_returndata(data)
    assert m.encode() == raw
    assert m.price_tick == rest[5] and m.oi_cap == rest[12]
    assert abi.Market.decode(m.asdict()) == m


@given(st.booleans(), st.booleans(), i256, u256)
def test_market_state__returndata_round_trip(halted, settled, price, oi):
    s = abi.MarketState.from_returndata(encode([abi.MarketState.abi_type()], [(halted, settled, price, oi)]))
    assert (s.halted, s.settled, s.settlement_price, s.long_oi) == (halted, settled, price, oi)


def test_struct__wrong_arity_or_type__abi_error():
    with pytest.raises(abi.AbiError, match="16 fields"):
        abi.Market.decode((b"\x00" * 32,) * 3)
    with pytest.raises(abi.AbiError, match="missing"):
        abi.MarketState.decode({"halted": False})
    with pytest.raises(abi.AbiError, match="bytes32"):
        abi.Market.decode((b"\x00" * 31,) + (b"\x00" * 32,) * 2 + (0,) * 13)
    with pytest.raises(abi.AbiError, match="int256"):
        abi.MarketState.decode((False, False, "1", 0))
    with pytest.raises(abi.AbiError, match="unknown struct"):
        abi.struct("Nope")
    with pytest.raises(abi.AbiError, match="no shipped ABI"):
        abi.abi("Nope")


def test_event__topic_is_keccak_of_abi_signature():
    ev = abi.event("Exchange", "OrderFilled")
    assert ev.signature == "OrderFilled(bytes32,address,address,uint256,bool,uint256,int256,uint256,uint256)"
    assert ev.topic == "0x" + keccak(text=ev.signature).hex()
    assert (
        abi.event("Clearinghouse", "PositionUpdated").signature
        == "PositionUpdated(address,uint256,int256,int256,int256)"
    )
    with pytest.raises(abi.AbiError, match="no event"):
        abi.event("Exchange", "Nope")


def _topic(t: str, v) -> bytes:
    return encode([t], [v])


@given(b32, addresses, addresses, u256, st.booleans(), u256, i256, u256, u256, st.booleans())
def test_order_filled__raw_log_round_trip_hex_or_bytes(h, maker, taker, mid, is_buy, q, p, mf, tf, as_hex):
    ev = abi.event("Exchange", "OrderFilled")
    topics = [bytes.fromhex(ev.topic[2:]), h, _topic("address", maker), _topic("address", taker)]
    data = encode(["uint256", "bool", "uint256", "int256", "uint256", "uint256"], [mid, is_buy, q, p, mf, tf])
    if as_hex:  # JSON-RPC: hex strings
        lg = {"topics": ["0x" + t.hex() for t in topics], "data": "0x" + data.hex()}
    else:  # web3: bytes
        lg = {"topics": topics, "data": data}
    a = ev.decode(lg)
    assert a == {
        "order_hash": h,
        "maker": maker,
        "taker": taker,
        "market_id": mid,
        "maker_is_buy": is_buy,
        "quantity": q,
        "price": p,
        "maker_fee": mf,
        "taker_fee": tf,
    }
    assert ev.decode_topics({"topics": lg["topics"]}) == {"order_hash": h, "maker": maker, "taker": taker}


def test_event__other_event_or_bad_log__abi_error():
    filled, cancelled = abi.event("Exchange", "OrderFilled"), abi.event("Exchange", "OrderCancelled")
    lg = {"topics": [cancelled.topic, "0x" + "11" * 32, "0x" + "00" * 12 + "22" * 20], "data": "0x"}
    assert cancelled.matches(lg) and not filled.matches(lg)
    with pytest.raises(abi.AbiError, match="is not Exchange.OrderFilled"):
        filled.decode(lg)
    with pytest.raises(abi.AbiError, match="expected 3 topics"):
        cancelled.decode({"topics": lg["topics"][:2], "data": "0x"})
    with pytest.raises(abi.AbiError, match="cannot decode log data"):
        abi.event("Exchange", "MinNonceSet").decode(
            {"topics": [abi.event("Exchange", "MinNonceSet").topic, "0x" + "00" * 32], "data": "0x01"}
        )
    assert not filled.matches({"topics": []})


def test_abi__returns_a_copy():
    a = abi.abi("Exchange")
    a.clear()
    assert abi.abi("Exchange") and json.loads(json.dumps(abi.abi("Exchange")))


# ---------------------------------------------------------------- calls


def _web3(name: str):
    from web3 import Web3

    return Web3().eth.contract(address="0x" + "11" * 20, abi=abi.abi(name))


@settings(deadline=None, max_examples=50)  # web3 (the reference) imports slowly on first use
@given(addresses, u256, st.booleans(), u256, i256, u256, u256, st.booleans(), st.binary(max_size=70), u256)
def test_calldata__exchange_fill_struct_argument__as_web3_encodes_it(maker, mid, buy, q, p, n, exp, ro, sig, fill_q):
    order = (maker, mid, buy, q, p, n, exp, ro)
    want = _web3("Exchange").functions.fill(order, sig, fill_q)._encode_transaction_data()
    assert "0x" + abi.calldata("Exchange", "fill", order, sig, fill_q).hex() == want


def test_calldata__selector_of_the_canonical_signature():
    data = abi.calldata("Pool", "queue_market", 7, (b"\1" * 32, 720_000))
    assert data[:4] == keccak(text="queue_market(uint256,(bytes32,uint256))")[:4]
    assert data[4:] == encode(["uint256", "(bytes32,uint256)"], [7, (b"\1" * 32, 720_000)])


def test_constructor_args__as_web3_appends_them_to_the_init_code():
    args = ("Compute Pool", "CPOOL", *["0x" + f"{i:02x}" * 20 for i in range(1, 6)], 3_600, (1, 2, 3, 4, 5))
    init = bytes.fromhex("6001")
    from web3 import Web3

    want = Web3().eth.contract(abi=abi.abi("Pool"), bytecode="0x" + init.hex()).constructor(*args).data_in_transaction
    assert "0x" + (init + abi.constructor_args("Pool", *args)).hex() == want


def test_calldata__unknown_function_wrong_arity_or_bad_value__abi_error():
    with pytest.raises(abi.AbiError, match="Pool has no function nope"):
        abi.calldata("Pool", "nope")
    with pytest.raises(abi.AbiError, match="Pool.queue_market takes 2 arguments, got 1"):
        abi.calldata("Pool", "queue_market", 1)
    with pytest.raises(abi.AbiError, match=r"cannot encode Pool.queue_market\(uint256,\(bytes32,uint256\)\)"):
        abi.calldata("Pool", "queue_market", 1, (1, 2))
    with pytest.raises(abi.AbiError, match="Pool.s constructor takes 9 arguments, got 1"):
        abi.constructor_args("Pool", "only a name")
    with pytest.raises(abi.AbiError, match="no shipped ABI"):
        abi.calldata("Nope", "f")
