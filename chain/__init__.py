"""The one package that talks JSON-RPC for the off-chain code.

- :mod:`chain.rpc`: connecting (HTTP or WebSocket, timeouts, chain id check, the POA
  middleware some testnets need), a raw keep-alive JSON-RPC client for hot paths, and the
  keepers' head poller with reconnect.
- :mod:`chain.tx`: one transaction sender: local nonces, gas estimate first (a revert is
  reported, nothing is broadcast), fee bumping of a stuck transaction (same nonce), receipts,
  revert capture; for devnet tooling, signed batches at consecutive nonces, sends from the
  node's unlocked accounts and a wait for many receipts at once.
- :mod:`chain.logs`: ``eth_getLogs`` paged over block ranges, shrinking the range when a
  provider refuses it.
- :mod:`chain.reverts`: revert decoding (``Error(string)``, ``Panic(uint256)``, node messages).

Policy lives elsewhere: what a revert *means* to a user is :mod:`sdk.errors`; what to send
and when is the keepers' and the relay's business.
"""
