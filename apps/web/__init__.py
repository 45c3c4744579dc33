"""Web dashboard for operators and traders (docs/web.md).

    from apps.web import create_app
    app = create_app(manifest_path, rpc_url, relay_url)

or ``cspread-web --manifest deployments/31337.json --rpc-url http://127.0.0.1:8545 --relay-url http://127.0.0.1:8600``.
The server never holds a user key: the browser wallet signs orders (eth_signTypedData_v4)
and sends transactions (eth_sendTransaction).
"""

from __future__ import annotations

__all__ = ["create_app", "WebProcess", "main"]


def create_app(manifest_path, rpc_url, relay_url=None, **kw):
    from apps.web.app import create_app as _create

    return _create(manifest_path, rpc_url, relay_url, **kw)


def __getattr__(name):
    if name in ("WebProcess", "main"):
        from apps.web import server

        return getattr(server, name)
    raise AttributeError(name)
