"""FastAPI dependencies: the Relay built by `create_app` lives on app.state."""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from keepers.matcher.relay import Relay


def get_relay(request: Request) -> Relay:
    return request.app.state.relay


RelayDep = Annotated[Relay, Depends(get_relay)]
