"""Compute Spread's protocol core: the pure rules every other package shares.

Units, manifest, market specs, delivery calendars, the contracts' ABI-typed structs and
events, margin and liquidation rules and the EIP-712 typed data live here once. Nothing in ``core`` talks to a node, a database or the network: it
imports only the standard library, numpy and pure Ethereum encoding libraries (eth-abi,
eth-utils), so every other package may import it and it imports none of them.
"""
