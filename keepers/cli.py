"""The options the three chain keepers share (``cspread-pusher``, ``cspread-liquidator``,
``cspread-settler``): the shared service names of :mod:`core.options` plus the loop's own.

Only flags given on the command line (or a shared ``CSPREAD_*`` variable) become overrides;
everything else is read by the keeper's settings class from its ``CSPREAD_*`` variable.
"""

from __future__ import annotations

import argparse

from core.options import add_shared


def add_keeper_args(p: argparse.ArgumentParser) -> None:
    add_shared(
        p,
        "--manifest",
        "--rpc-url",
        "--key-env",
        once=True,
        helps={
            "--key-env": "name of the env var holding the keeper's hex key (else $CSPREAD_PRIVATE_KEY; "
            "no key = dry run)"
        },
    )
    p.add_argument("--metrics-port", type=int, help="Prometheus /metrics port, 0 = off [env CSPREAD_METRICS_PORT]")
    p.add_argument("--poll-interval", type=float, help="seconds between head polls [env CSPREAD_POLL_INTERVAL]")
    p.add_argument(
        "--dry-run",
        action="store_true",
        default=None,
        help="log what would be sent, send nothing [env CSPREAD_DRY_RUN]",
    )
    p.add_argument("--log-level", help="DEBUG, INFO, WARNING or ERROR [env CSPREAD_LOG_LEVEL]")


def keeper_overrides(a: argparse.Namespace, **own) -> dict:
    """The settings overrides of the shared keeper flags parsed by :func:`add_keeper_args`, plus
    the keeper's ``own`` (a flag not given is None, so the settings class reads its variable)."""
    shared = ("rpc_url", "manifest", "metrics_port", "poll_interval", "key_env", "dry_run", "log_level")
    return {**{k: getattr(a, k) for k in shared}, **own}
