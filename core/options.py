"""The command-line options every service and keeper shares, with one set of names and env vars.

Each console script (``cspread-relay``, ``cspread-reporter``, ``cspread-pusher``, ``cspread-liquidator``,
``cspread-settler``, ``cspread-marketmaker``, ``cspread-web``) takes the options it needs from
:data:`SHARED` under the same flag and the same ``CSPREAD_*`` variable, so one ``source env.sh``
(written by ``cspread devnet up``) configures them all. A flag beats its variable; a variable
beats the tool's own default. Old spellings (``--rpc``, ``--relay``, ``--oracle``) still parse,
hidden from ``--help``, and print a one-line deprecation notice.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Option:
    flag: str
    env: str
    help: str
    type: type = str
    #: old spellings still accepted (hidden, deprecated)
    aliases: tuple[str, ...] = ()


SHARED: dict[str, Option] = {
    o.flag: o
    for o in (
        Option("--manifest", "CSPREAD_MANIFEST", "deployment manifest (deployments/<chain_id>.json)"),
        Option("--rpc-url", "CSPREAD_RPC_URL", "JSON-RPC URL of the chain", aliases=("--rpc",)),
        Option("--port", "CSPREAD_PORT", "TCP port to serve on", type=int),
        Option("--db", "CSPREAD_DB", "database: an SQLAlchemy URL or an SQLite file path"),
        Option("--key-env", "CSPREAD_KEY_ENV", "name of the env var holding the signing key (hex), never the key"),
        Option("--relay-url", "CSPREAD_RELAY_URL", "order relay URL", aliases=("--relay",)),
        Option("--oracle-url", "CSPREAD_ORACLE_URL", "reporter service URL(s), comma-separated"),
    )
}
#: where the vendored real price data (data/*.csv.gz) live when the package is installed (no checkout)
DATA_DIR_ENV = "CSPREAD_DATA_DIR"
#: ``--once``: a flag, so its variable is a boolean ("1"/"true"/"yes" = on)
ONCE_ENV = "CSPREAD_ONCE"
_TRUE = {"1", "true", "yes", "on"}


class _Deprecated(argparse.Action):
    """Stores into the new option's dest and says once, on stderr, which flag replaces it."""

    def __init__(self, option_strings, dest, new_flag: str = "", **kw):
        self.new_flag = new_flag
        super().__init__(option_strings, dest, **kw)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"{parser.prog}: {option_string} is deprecated, use {self.new_flag}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def _env_value(opt: Option, env: dict[str, str]):
    raw = env.get(opt.env)
    if raw is None or raw == "":
        return None
    try:
        return opt.type(raw)
    except ValueError:
        raise SystemExit(f"error: ${opt.env}={raw!r} is not a valid {opt.type.__name__}") from None


def add_shared(
    p: argparse.ArgumentParser,
    *flags: str,
    once: bool = False,
    defaults: dict | None = None,
    helps: dict | None = None,
    env: dict[str, str] | None = None,
) -> None:
    """Add the named shared options to `p`: default from the env var, else from `defaults`.
    `helps` overrides the generic help text per flag (what the option means for this tool)."""
    env = os.environ if env is None else env
    defaults, helps = defaults or {}, helps or {}
    for flag in flags:
        opt = SHARED[flag]
        value = _env_value(opt, env)
        default = value if value is not None else defaults.get(flag)
        shown = f" [env {opt.env}" + (f"; default {default}" if default is not None else "") + "]"
        p.add_argument(
            flag,
            type=opt.type,
            default=default,
            help=helps.get(flag, opt.help) + shown,
            metavar=flag.lstrip("-").replace("-", "_").upper(),
        )
        dest = flag.lstrip("-").replace("-", "_")
        for alias in opt.aliases:
            p.add_argument(alias, dest=dest, type=opt.type, action=_Deprecated, new_flag=flag, help=argparse.SUPPRESS)
    if once:
        on = str(env.get(ONCE_ENV, "")).strip().lower() in _TRUE
        p.add_argument(
            "--once",
            action="store_true",
            default=on,
            help=f"do one round and exit (cron, smoke tests) [env {ONCE_ENV}]",
        )


def require(p: argparse.ArgumentParser, args: argparse.Namespace, *flags: str) -> None:
    """Exit 2 with argparse's usage line when a needed option came neither as a flag nor from its
    variable (checked after parsing, so a deprecated alias counts too)."""
    for flag in flags:
        if getattr(args, flag.lstrip("-").replace("-", "_")) is None:
            p.error(f"{flag} is required (or set ${SHARED[flag].env})")
