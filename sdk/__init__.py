"""Compute Spread Python SDK.

    Reader(manifest, rpc_url)                       read side: markets, marks, accounts, history
    Client(manifest, rpc_url, private_key=...)      + writes: deposit, orders, fills, hedges
    AsyncClient(...)                                the same as coroutines (sdk.aio)

Human units (Decimal USD, Decimal MWh / GPU-hours) at the surface; core.units converts.
"""

from core.manifest import Manifest  # noqa: F401
from sdk.errors import ComputeSpreadError  # noqa: F401


def __getattr__(name):  # lazy: `import devnet.anvil` must not pull web3 contracts in
    if name == "Client":
        from sdk.client import Client

        return Client
    if name == "Reader":
        from sdk.reader import Reader

        return Reader
    if name == "AsyncClient":
        from sdk.aio import AsyncClient

        return AsyncClient
    raise AttributeError(name)


__all__ = ["Client", "Reader", "AsyncClient", "ComputeSpreadError", "Manifest"]
