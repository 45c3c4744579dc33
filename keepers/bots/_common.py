"""Shared glue for the silverback bot files."""

from __future__ import annotations

import os

from chain.rpc import Chain, Head
from keepers.chain import Metrics, load_settings, setup_logging


def build_keeper(name: str, settings_cls, build):
    """Settings from env (rpc defaults to the ape provider's URI), keeper, metrics server."""
    overrides = {}
    if not os.environ.get("CSPREAD_RPC_URL"):
        from ape import chain

        uri = getattr(chain.provider, "http_uri", None) or getattr(chain.provider, "uri", None)
        if uri:
            overrides["rpc_url"] = uri
    s = load_settings(settings_cls, overrides)
    setup_logging(s.log_level)
    metrics = Metrics(name)
    metrics.serve(s.metrics_port)
    return build(s, Chain(s.rpc_url, s.rpc_timeout), metrics)


def head_of(keeper, block=None) -> Head:
    """The keeper's own view of the head (same RPC it acts on)."""
    return keeper.chain.head()


def on_block(keeper, started: dict) -> dict:
    """Forward a new block; resync after an RPC outage (same rules as the plain loop).

    Returns the handler's metrics without empty values (silverback datapoints must be scalars)."""
    head = keeper.chain.head()
    if not started.get("done"):
        started["done"], started["epoch"] = True, keeper.chain.epoch
        result = keeper.start(head)
    else:
        if keeper.chain.epoch != started["epoch"]:
            started["epoch"] = keeper.chain.epoch
            keeper.on_reconnect(head)
        result = keeper.on_block(head)
    return {k: v for k, v in (result or {}).items() if v is not None}
