"""What every `cspread` command shares: the global state (manifest, RPC, relay, key), output
(rich tables on stdout, spinners and errors on stderr, ``--json``), argument parsing and the
one-line error contract.

Errors: every :class:`sdk.errors.ComputeSpreadError` (and any other failure) becomes one red
line ``error: <message>`` on stderr and exit code 1; usage errors are click's (exit code 2).
``CSPREAD_DEBUG=1`` re-raises instead, for a traceback.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import ROUND_HALF_EVEN, Decimal
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape

from core import units as u
from core.errors import InvalidAmount

if TYPE_CHECKING:
    from sdk.client import Client
    from sdk.models import Market
    from sdk.reader import Reader
    from sdk.relay_client import RelayClient

DEFAULT_MANIFEST = "deployments/31337.json"
DEFAULT_RPC = "http://127.0.0.1:8545"

out = Console(highlight=False, soft_wrap=False)


def fit_width() -> None:
    """Size the tables for this invocation: $COLUMNS when set (read per call, not at import),
    else the terminal, else 160 columns so piped output is not truncated at rich's default 80."""
    cols = os.environ.get("COLUMNS", "")
    if cols.isdigit():
        out.width = int(cols)
    elif not out.is_terminal:
        out.width = 160


err = Console(stderr=True, highlight=False)


class CliError(Exception):
    """A failure the CLI itself detects (exit 1, one line)."""


# ---------------------------------------------------------------- global state


@dataclasses.dataclass
class State:
    """The root options, resolved lazily: nothing touches the RPC until a command needs it."""

    manifest: str = DEFAULT_MANIFEST
    rpc: str = DEFAULT_RPC
    relay: str | None = None
    key_env: str | None = None
    keyfile: Path | None = None
    password_env: str | None = None
    _reader: Any = None
    _client: Any = None
    _relay: Any = None

    # key resolution: --key-env NAME, then --keyfile, then CSPREAD_PRIVATE_KEY
    def key_kwargs(self, required: bool = True) -> dict[str, Any]:
        if self.key_env:
            key = os.environ.get(self.key_env)
            if not key:
                raise CliError(f"--key-env {self.key_env}: the environment variable {self.key_env} is not set")
            return {"private_key": key.strip()}
        if self.keyfile is not None:
            pw = os.environ.get(self.password_env or "CSPREAD_KEYFILE_PASSWORD")
            if pw is None:
                if not sys.stdin.isatty():
                    raise CliError(
                        f"--keyfile {self.keyfile} needs its password: set "
                        f"{self.password_env or 'CSPREAD_KEYFILE_PASSWORD'} or run in a terminal"
                    )
                pw = typer.prompt(f"password for {self.keyfile}", hide_input=True, err=True)
            return {"keyfile": self.keyfile, "password": pw}
        key = os.environ.get("CSPREAD_PRIVATE_KEY")
        if key:
            return {"private_key": key.strip()}
        if required:
            raise CliError(
                "this command needs a key: set CSPREAD_PRIVATE_KEY, or pass --key-env NAME "
                "(a variable holding the key) or --keyfile PATH (an eth keystore)"
            )
        return {}

    def has_key(self) -> bool:
        return bool(self.key_env or self.keyfile is not None or os.environ.get("CSPREAD_PRIVATE_KEY"))

    def reader(self) -> Reader:
        if self._client is not None:
            return self._client
        if self._reader is None:
            from sdk.reader import Reader

            self._reader = Reader(self.manifest, self.rpc)
        return self._reader

    def client(self) -> Client:
        """A Client with the key (and the relay when one is configured)."""
        if self._client is None:
            from sdk.client import Client

            self._client = Client(self.manifest, self.rpc, relay_url=self.relay, **self.key_kwargs())
        return self._client

    def relay_client(self) -> RelayClient:
        if not self.relay:
            raise CliError(
                "no order relay configured: pass --relay URL or set CSPREAD_RELAY_URL (`cspread devnet up` prints it)"
            )
        if self._client is not None and self._client.relay is not None:
            return self._client.relay
        if self._relay is None:
            from sdk.relay_client import RelayClient

            self._relay = RelayClient(self.relay)
        return self._relay

    def address(self, given: str | None) -> str:
        """``given`` (checked) or the key's address."""
        if given:
            from eth_utils import is_address, to_checksum_address

            if not is_address(given):
                raise typer.BadParameter(f"{given!r} is not an address (0x + 40 hex digits)")
            return to_checksum_address(given)
        if not self.has_key():
            raise CliError("give an ADDRESS, or a key (CSPREAD_PRIVATE_KEY, --key-env, --keyfile) to use its account")
        from eth_account import Account

        kw = self.key_kwargs()
        if "private_key" in kw:
            try:
                return Account.from_key(kw["private_key"]).address
            except (ValueError, TypeError):
                raise CliError("the private key is not a valid 32-byte hex key") from None
        return self.client().address


def state(ctx: typer.Context) -> State:
    obj = ctx.find_root().obj
    if not isinstance(obj, State):  # a sub-app invoked on its own (tests)
        obj = State()
        ctx.find_root().obj = obj
    return obj


# ---------------------------------------------------------------- output


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``error: <message>`` (one line, red) on stderr and exit with ``code``."""
    line = " ".join(str(message).split())
    err.print(f"[bold red]error:[/] [red]{escape(line)}[/]", soft_wrap=True)
    raise typer.Exit(code)


def jsonable(x: Any) -> Any:
    """Models -> plain JSON: Decimal as strings, enums as values, ints beyond 2^53 as strings."""
    if isinstance(x, Decimal):
        return str(x)
    if isinstance(x, bool) or x is None or isinstance(x, (str, float)):
        return x
    if isinstance(x, int):
        return x if abs(x) < 2**53 else str(x)
    if isinstance(x, Enum):
        return x.value
    if isinstance(x, Path):
        return str(x)
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return {f.name: jsonable(getattr(x, f.name)) for f in dataclasses.fields(x)}
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple, set)):
        return [jsonable(v) for v in x]
    return str(x)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(jsonable(data), indent=2) + "\n")
    sys.stdout.flush()


@contextmanager
def spinner(message: str) -> Iterator[None]:
    """A spinner on stderr while waiting (invisible when stderr is not a terminal)."""
    with err.status(message, spinner="dots"):
        yield


def ok(message: str) -> None:
    out.print(f"[green]✓[/] {message}")


def warn(message: str) -> None:
    err.print(f"[yellow]warning:[/] {escape(message)}", soft_wrap=True)


# ---------------------------------------------------------------- formatting


CENT = Decimal("0.01")


def usd(x: Decimal | None, signed: bool = False) -> str:
    """Money: USD to the cent, thousands separated (``1,234.57``; ``+12.30`` with ``signed``)."""
    if x is None:
        return "—"
    q = Decimal(x).quantize(CENT, rounding=ROUND_HALF_EVEN)
    return f"{q:+,}" if signed else f"{q:,}"


def tick_places(tick: Decimal | None) -> int:
    """Decimals a price is shown with: the tick's (0.01 -> 2, 0.0001 -> 4), at least cents."""
    if tick is None or tick <= 0:
        return 2
    return max(2, -Decimal(tick).normalize().as_tuple().exponent)


def price(x: Decimal | None, tick: Decimal | None = None, signed: bool = False) -> str:
    """A price to the market's tick (a mark of 45.231234 on a 0.01 tick reads ``45.23``)."""
    if x is None:
        return "—"
    q = Decimal(x).quantize(Decimal(1).scaleb(-tick_places(tick)), rounding=ROUND_HALF_EVEN)
    return f"{q:+,}" if signed else f"{q:,}"


def tick_of(r: Any, market_id: int) -> Decimal | None:
    """The price tick of ``market_id`` from a Reader (static data, no RPC after the first read)."""
    for fn in ("market_params", "market"):
        f = getattr(r, fn, None)
        if f is not None:
            try:
                return f(market_id).tick
            except Exception:  # noqa: BLE001 - formatting must never fail a command; cents then
                continue
    return None


def num(x: Decimal | None) -> str:
    if x is None:
        return "—"
    n = x.normalize()
    if n == n.to_integral_value():
        n = n.quantize(Decimal(1))
    return f"{n:,}"


def plain(x: Decimal) -> str:
    """A Decimal as a command-line argument: no exponent, no trailing zeros, no separators."""
    return format(x.normalize(), "f")


def pnl(x: Decimal | None) -> str:
    if x is None:
        return "—"
    colour = "green" if x > 0 else "red" if x < 0 else "white"
    return f"[{colour}]{usd(x, signed=True)}[/]"


def when(ts: int | None) -> str:
    """A time in UTC and in the machine's local zone: ``2026-11-10 18:00 UTC (12:00 CST local)``."""
    if not ts:
        return "—"
    from sdk.models import time_text

    return time_text(ts)


def block_times(r: Any, blocks: list[int] | set[int]) -> dict[int, int]:
    """Unix time of each block (one RPC read per distinct block): history is listed by time, not block."""
    out_: dict[int, int] = {}
    for b in sorted(set(blocks)):
        try:
            out_[b] = r.block_time(b)
        except Exception:  # noqa: BLE001 - a missing time must not fail the listing
            out_[b] = 0
    return out_


def ago(seconds: int) -> str:
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d{(s % 86400) // 3600}h"


def short(h: str, n: int = 10) -> str:
    return h if len(h) <= 2 * n else f"{h[:n]}…{h[-4:]}"


STATUS_STYLE = {"live": "green", "stale": "yellow", "halted": "red", "settling": "cyan", "settled": "blue"}


def status_text(status: Any) -> str:
    v = getattr(status, "value", status) or "?"
    return f"[{STATUS_STYLE.get(v, 'white')}]{v}[/]"


_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_PROFILE_WORDS = {
    "ATC": "around the clock",
    "PEAK": "peak HE07-HE22 Mon-Fri",
    "OFFPEAK": "off-peak",
    "HOURLY": "one hour",
}
_DA_RT = {"DA": "day-ahead", "RT": "real-time"}


def period_words(label: str, tz: str | None = None) -> str:
    """``2026-12`` -> ``Dec 2026``; ``2026-11-27`` -> ``27 Nov 2026``; ``2026-11-27T16`` ->
    ``27 Nov 2026 16:00-17:00 America/Chicago``."""
    m = re.fullmatch(r"(\d{4})-(\d{2})(?:-(\d{2}))?(?:T(\d{2}))?", label)
    if not m:
        return label
    y, mo, d, h = m.groups()
    month = _MONTHS[int(mo) - 1]
    if d is None:
        return f"{month} {y}"
    if h is None:
        return f"{int(d)} {month} {y}"
    return f"{int(d)} {month} {y} {h}:00-{(int(h) + 1) % 24:02d}:00" + (f" {tz}" if tz else "")


def spec_words(m: Market) -> str:
    """A market's spec in words (what the price means)."""
    s = m.spec or {}
    when_ = period_words(m.period, (s.get("tz") if m.kind == "POWER" else None))
    if m.kind == "POWER":
        return (
            f"{s.get('iso', '?')} {s.get('node', '?')} {_DA_RT.get(s.get('market'), s.get('market', ''))} "
            f"power, {_PROFILE_WORDS.get(s.get('profile'), s.get('profile', ''))}, {when_}; USD/MWh"
        )
    if m.kind == "COMPUTE":
        return f"{s.get('gpu', '?')} GPU-hour index ({s.get('region', '?')}), {when_}; USD/GPU-hour"
    if m.kind == "SPREAD":
        c, p = s.get("compute", {}), s.get("power", {})
        return (
            f"{c.get('gpu', '?')} GPU-hour − {s.get('mwh_per_gpu_hour', '?')} MWh × {p.get('iso', '?')} "
            f"{p.get('node', '?')} {p.get('profile', '')} power, {when_}; USD/GPU-hour"
        )
    return m.symbol


def usage_bar(usage: Decimal | None, width: int = 20) -> str:
    """``█████░░░░░ 48.0%`` coloured by how close initial margin is to equity."""
    if usage is None:
        return "—"
    if not usage.is_finite():
        return "[bold red]" + "█" * width + " ∞ (equity ≤ 0)[/]"
    frac = max(Decimal(0), min(Decimal(1), usage))
    filled = int((frac * width).to_integral_value())
    colour = "green" if usage < Decimal("0.5") else "yellow" if usage < Decimal("0.8") else "red"
    return f"[{colour}]{'█' * filled}[/][dim]{'░' * (width - filled)}[/] {usage * 100:.1f}%"


# ---------------------------------------------------------------- parsing


def decimal_arg(value: str, what: str) -> Decimal:
    """A number from the command line (``core.units.typed_decimal``: ``1,000`` and ``1_000`` are
    thousands; ``1,5``, a decimal comma, is refused rather than silently read as 15)."""
    try:
        return u.typed_decimal(value)
    except InvalidAmount as e:
        sep = ":" if str(e).startswith("write") else ""
        raise typer.BadParameter(f"{what} {value!r}{sep} {e}") from None


_DURATION = re.compile(r"^(\d+)\s*([smhdw])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def expiry_arg(value: str | None, now: int) -> int | None:
    """``30m``, ``12h``, ``7d`` (from the chain's clock), a unix time, or an ISO time (UTC if no zone)."""
    if value is None:
        return None
    v = value.strip()
    m = _DURATION.match(v)
    if m:
        return now + int(m.group(1)) * _SECONDS[m.group(2)]
    if v.isdigit():
        ts = int(v)
        if ts < 10**9:
            raise typer.BadParameter(f"--expiry {v}: a bare number is a unix time; write {v}s for seconds from now")
        return ts
    try:
        t = dt.datetime.fromisoformat(v)
    except ValueError:
        raise typer.BadParameter(
            f"--expiry {v!r}: use a duration (30m, 12h, 7d), a unix time or an ISO time (2026-12-01T00:00)"
        ) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return int(t.timestamp())
