"""chain.rpc against a local JSON-RPC stub server: errors typed, chain id checked, POA detected."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from chain.reverts import encode_error
from chain.rpc import CallReverted, ChainError, Rpc, WrongChain, connect, error_of, provider_for


class _Node:
    def __init__(self, chain_id: int = 31337, extra_data: str = "0x"):
        self.chain_id, self.extra_data = chain_id, extra_data
        self.posts, self.batches = 0, True

    def answer(self, method: str, params: list):
        if method == "eth_chainId":
            return {"result": hex(self.chain_id)}
        if method == "eth_getBlockByNumber":
            return {
                "result": {
                    "number": "0x5",
                    "hash": "0x" + "11" * 32,
                    "parentHash": "0x" + "22" * 32,
                    "timestamp": "0x64",
                    "extraData": self.extra_data,
                    "baseFeePerGas": "0x1",
                    "transactions": [],
                    "gasLimit": "0x1",
                    "gasUsed": "0x0",
                    "miner": "0x" + "00" * 20,
                    "difficulty": "0x0",
                    "logsBloom": "0x" + "00" * 256,
                    "nonce": "0x" + "00" * 8,
                    "receiptsRoot": "0x" + "00" * 32,
                    "sha3Uncles": "0x" + "00" * 32,
                    "size": "0x1",
                    "stateRoot": "0x" + "00" * 32,
                    "totalDifficulty": "0x0",
                    "transactionsRoot": "0x" + "00" * 32,
                    "uncles": [],
                    "mixHash": "0x" + "00" * 32,
                }
            }
        if method == "eth_call":
            return {
                "error": {
                    "code": 3,
                    "message": "execution reverted",
                    "data": "0x" + encode_error("Exchange: order expired").hex(),
                }
            }
        if method == "eth_getBalance":
            return {"result": hex(int(params[0][-2:], 16))}  # the address's last byte, to check order
        if method == "eth_sendRawTransaction":
            return {"error": {"code": -32000, "message": "nonce too low"}}
        return {"error": {"code": -32601, "message": f"method {method} not found"}}


@pytest.fixture
def node():
    n = _Node()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            n.posts += 1
            if isinstance(req, list) and not n.batches:  # a node without batch support
                out = {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "batch not supported"}}
            elif isinstance(req, list):  # a batch: answered out of order, as nodes may
                out = [{"jsonrpc": "2.0", "id": r["id"], **n.answer(r["method"], r["params"])} for r in reversed(req)]
            else:
                out = {"jsonrpc": "2.0", "id": req["id"], **n.answer(req["method"], req["params"])}
            body = json.dumps(out).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    n.url = f"http://127.0.0.1:{srv.server_address[1]}"
    yield n
    srv.shutdown()
    srv.server_close()


def test_rpc__call_revert__call_reverted_with_decoded_reason(node):
    r = Rpc(node.url)
    with pytest.raises(CallReverted) as e:
        r.call("0x" + "aa" * 20, b"\x01\x02\x03\x04")
    assert e.value.reason == "Exchange: order expired"


def test_rpc__other_error__chain_error_not_a_revert(node):
    with pytest.raises(ChainError) as e:
        Rpc(node.url)("eth_sendRawTransaction", ["0x00"])
    assert not isinstance(e.value, CallReverted) and "nonce too low" in str(e.value)


def test_rpc_batch__results_in_call_order__chunked_into_round_trips(node):
    r = Rpc(node.url)
    calls = [("eth_getBalance", ["0x" + "00" * 19 + f"{i:02x}", "latest"]) for i in range(7)]
    assert [int(x, 16) for x in r.batch(calls, chunk=3)] == list(range(7))
    assert node.posts == 3  # 3 + 3 + 1
    assert r.batch([]) == [] and node.posts == 3


def test_rpc_batch__one_call_reverts__typed_error_naming_it(node):
    calls = [("eth_chainId", []), ("eth_call", [{"to": "0x" + "aa" * 20, "data": "0x"}, "latest"])]
    with pytest.raises(CallReverted) as e:
        Rpc(node.url).batch(calls)
    assert e.value.reason == "Exchange: order expired"
    with pytest.raises(ChainError, match="eth_sendRawTransaction: nonce too low"):
        Rpc(node.url).batch([("eth_chainId", []), ("eth_sendRawTransaction", ["0x00"])])


def test_rpc_batch__node_without_batches__chain_error_not_a_crash(node):
    node.batches = False
    with pytest.raises(ChainError, match="batch not supported"):
        Rpc(node.url).batch([("eth_chainId", [])])


def test_rpc__unreachable__chain_error():
    with pytest.raises(ChainError, match="unreachable"):
        Rpc("http://127.0.0.1:1", timeout=1)("eth_chainId")


def test_rpc__non_http_url__refused():
    with pytest.raises(ValueError):
        Rpc("ws://127.0.0.1:8545")


def test_error_of__revert_only_for_simulations():
    err = {"code": 3, "message": "execution reverted: X"}
    assert isinstance(error_of("eth_estimateGas", err), CallReverted)
    assert not isinstance(error_of("eth_sendRawTransaction", err), CallReverted)


def test_connect__chain_id_checked(node):
    assert connect(node.url, chain_id=31337).eth.chain_id == 31337
    with pytest.raises(WrongChain, match="serves chain 31337, expected 1"):
        connect(node.url, chain_id=1)


def test_connect__unreachable__chain_error():
    with pytest.raises(ChainError, match="cannot reach"):
        connect("http://127.0.0.1:1", timeout=1)


def test_connect__poa_seal_in_extra_data__middleware_injected(node):
    from web3.middleware import ExtraDataToPOAMiddleware

    w3 = connect(node.url)
    assert ExtraDataToPOAMiddleware not in [m for m in w3.middleware_onion]
    node.extra_data = "0x" + "ab" * 97  # 32 bytes vanity + 65 bytes signer seal (clique)
    w3 = connect(node.url)
    assert ExtraDataToPOAMiddleware in [m for m in w3.middleware_onion]
    assert w3.eth.get_block("latest")["number"] == 5  # readable only with the middleware


def test_provider_for__schemes():
    assert type(provider_for("https://rpc.example")).__name__ == "HTTPProvider"
    assert type(provider_for("ws://127.0.0.1:8546")).__name__ == "LegacyWebSocketProvider"
    with pytest.raises(ValueError, match="http"):
        provider_for("ftp://x")
