"""FastAPI dependencies: the Relay built by `create_app` lives on app.state."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from relay.relay import Relay


async def get_relay(request: Request) -> Relay:
    # async on purpose: FastAPI runs a sync dependency in the threadpool, one more thread hop
    # per request for an attribute read
    return request.app.state.relay


RelayDep = Annotated[Relay, Depends(get_relay)]
