"""`cspread index value ...`: recompute a settlement value from the data, as the oracle signs it.

    cspread index value ERCOT HB_WEST DA PEAK 2021-02
    cspread index value PJM "AEP-DAYTON HUB" DA PEAK 2025-06
    cspread index value ERCOT HB_WEST DA HOURLY 2021-02-17HE08
    cspread index value GPU H100-SXM 2025-10-22
    cspread index value SPREAD H100-SXM ERCOT HB_WEST DA ATC 2021-02 --replay-offsets '{"GPU": 148780800}'

No chain, no key, no network: the value comes from the same :class:`oracle.valuation.Valuer`
the reporter signs with (``Valuer.settlement``, built from the same ``OracleSettings`` /
``CSPREAD_ORACLE_*`` environment as ``python -m oracle.service``), so a trader or an auditor
gets the integer the reporter puts in its signed Report, with the data files and their
sha256 to check the inputs. A window with any missing hour or fixing has no value: the
command says which hours are missing and exits 1 (the contracts' fallback settles it).
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import typer

from apps.cli.common import CliError, out, print_json

app = typer.Typer(
    help="Recompute index and settlement values from the data, exactly as the oracle signs them.", no_args_is_help=True
)

USAGE = (
    "ISO NODE MARKET PROFILE PERIOD | GPU CLASS PERIOD | SPREAD CLASS ISO NODE MARKET PROFILE PERIOD; "
    "PERIOD is a month YYYY-MM, a day YYYY-MM-DD or an hour YYYY-MM-DDHEnn (hour ending, ISO local time; "
    "add the zone on the repeated fall-back hour, e.g. 2021-11-07HE02CST)"
)


def _windows(period: str, tz: str) -> list[tuple[int, int]]:
    """Candidate [start, end) windows of a period label, in ``tz`` (checked by the caller)."""
    from core.specs import day_window, month_window

    if m := re.fullmatch(r"(\d{4})-(\d{2})", period):
        return [month_window(int(m[1]), int(m[2]), tz)]
    if m := re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", period):
        return [day_window(dt.date(int(m[1]), int(m[2]), int(m[3])), tz)]
    if m := re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})HE(\d{2})([A-Z]{3,4})?", period):
        s, e = day_window(dt.date(int(m[1]), int(m[2]), int(m[3])), tz)
        return [(t, t + 3600) for t in range(s, e, 3600)]
    raise CliError(f"bad PERIOD {period!r}: {USAGE}")


def parse_period(period: str, tz: str) -> tuple[int, int]:
    """PERIOD -> window; the label must be exactly what the market symbol shows (period_label)."""
    from core.specs import period_label

    try:
        hits = [w for w in _windows(period, tz) if period_label(*w, tz) == period]
    except ValueError as e:  # e.g. month 13
        raise CliError(f"bad PERIOD {period!r}: {e}") from None
    if len(hits) != 1:
        hint = " (the repeated fall-back hour needs its zone, e.g. HE02CDT / HE02CST)" if "HE" in period else ""
        raise CliError(f"PERIOD {period!r} names no single {tz} window{hint}; {USAGE}")
    return hits[0]


def build_spec(args: list[str], mwh_per_gpu_hour: str) -> dict[str, Any]:
    from core.calendar import ISO_TZ
    from core.specs import SpecError, compute_spec, power_spec, spread_spec

    def power(iso, node, market, profile, period):
        iso, market, profile = iso.upper(), market.upper(), profile.upper()
        if iso not in ISO_TZ:
            raise CliError(f"unknown ISO {iso!r}; one of {', '.join(ISO_TZ)}")
        return power_spec(iso, node, market, profile, *parse_period(period, ISO_TZ[iso]))

    try:
        if args and args[0].upper() == "GPU" and len(args) == 3:
            return compute_spec(args[1].upper(), *parse_period(args[2], "UTC"))
        if args and args[0].upper() == "SPREAD" and len(args) == 7:
            p = power(*args[2:])
            return spread_spec(
                compute_spec(args[1].upper(), p["delivery_start"], p["delivery_end"]), p, mwh_per_gpu_hour
            )
        if len(args) == 5:
            return power(*args)
    except SpecError as e:
        raise CliError(str(e)) from None
    raise CliError(f"expected {USAGE}; got {len(args)} argument(s)")


def _sha256(path: Path, unzip: bool = False) -> str:
    h = hashlib.sha256()
    with gzip.open(path, "rb") if unzip else open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sources_of(spec: dict[str, Any], settings) -> list[dict[str, Any]]:
    """Data files behind a spec, with sha256 of the file and of the CSV inside it (data/SOURCES.md lists the latter).

    The replay source serves these files; a live reporter reads the ISOs' and Prime Intellect's APIs instead."""
    from oracle import data

    if settings.source != "replay":
        return [{"source": "live", "adapter": a} for a in _live_adapters(spec)]
    legs = [spec["compute"], spec["power"]] if spec["kind"] == "SPREAD" else [spec]
    files = []
    for leg in legs:
        path = (
            data.power_file(leg["iso"], leg["node"], leg["market"], settings.data_dir)
            if leg["kind"] == "POWER"
            else data.gpu_file(settings.data_dir)
        )
        shown = _shown(path)
        if all(f["file"] != shown for f in files):
            files.append({"file": shown, "sha256": _sha256(path), "csv_sha256": _sha256(path, unzip=True)})
    return files


def _shown(path: Path) -> str:
    """``data/<file>`` for the repository's own data, else the path as given."""
    from oracle.data import DEFAULT_DATA_DIR

    p = Path(path).resolve()
    root = DEFAULT_DATA_DIR.resolve().parent
    return str(p.relative_to(root)) if p.is_relative_to(root) else str(path)


def _live_adapters(spec: dict[str, Any]) -> list[str]:
    legs = [spec["compute"], spec["power"]] if spec["kind"] == "SPREAD" else [spec]
    return [
        {"ERCOT": "ErcotDamSource", "PJM": "PjmDataMinerSource"}.get(leg.get("iso"), "PrimeIntellectGpuSource")
        for leg in legs
    ]


def _iso(ts: int) -> str:
    return dt.datetime.fromtimestamp(int(ts), dt.UTC).strftime("%Y-%m-%dT%H:%MZ")


def value_of(spec: dict[str, Any], settings) -> dict[str, Any]:
    """The settlement value of ``spec`` through the reporter's own Valuer, as a JSON-able dict."""
    from core.calendar import profile_hours, profile_words
    from core.specs import feed_hex, settlement_feed, symbol
    from core.units import base_to_usd
    from oracle.errors import MissingData, OracleError, WindowOpen
    from oracle.service import build_source
    from oracle.valuation import Valuer

    sym = symbol(spec)
    end = (spec["power"] if spec["kind"] == "SPREAD" else spec)["delivery_end"]
    res: dict[str, Any] = {
        "symbol": sym,
        "kind": spec["kind"],
        "spec": spec,
        "settlement_feed": feed_hex(settlement_feed(sym)),
        "window": {
            "start": _iso((spec["power"] if spec["kind"] == "SPREAD" else spec)["delivery_start"]),
            "end": _iso(end),
        },
        "rounding": "exact mean of integer micro-dollar prices, rounded once to 0.000001 USD half-to-even",
        "sources": sources_of(spec, settings),
    }
    if (block := profile_words(spec)) is not None:
        res["block"] = block
    if spec["kind"] == "COMPUTE" or spec["kind"] == "SPREAD":
        leg = spec if spec["kind"] == "COMPUTE" else spec["compute"]
        res["hours"] = (leg["delivery_end"] - leg["delivery_start"]) // 3600
    else:
        res["hours"] = int(
            profile_hours(spec["delivery_start"], spec["delivery_end"], spec["profile"], spec["tz"], spec["iso"]).size
        )
    valuer = Valuer(build_source(settings), **settings.valuer_kwargs())  # exactly as oracle.service.create_app
    try:
        v = valuer.settlement(spec, end)  # the reporter's settlement call (oracle.reporter.Reporter._observe)
    except MissingData as e:
        res.update(
            status="missing", value=None, price_units=None, missing_hours=[_iso(h) for h in e.missing], detail=str(e)
        )
        return res
    except WindowOpen as e:  # pragma: no cover - settlement is asked at delivery_end
        res.update(status="open", value=None, price_units=None, detail=str(e))
        return res
    except (OracleError, LookupError) as e:
        res.update(status="unavailable", value=None, price_units=None, detail=f"{type(e).__name__}: {e}")
        return res
    res.update(
        status="ok",
        value=str(base_to_usd(v.price_units).quantize(Decimal("0.000001"))),
        price_units=str(v.price_units),
        hours=v.n_hours,
    )
    if v.legs:
        res["legs"] = {
            name: {"value": str(base_to_usd(leg.price_units).quantize(Decimal("0.000001"))), "hours": leg.n_hours}
            for name, leg in v.legs
        }
    res["unit"] = {"POWER": "USD/MWh", "COMPUTE": "USD/GPU-hour", "SPREAD": "USD/GPU-hour"}[spec["kind"]]
    return res


@app.command("value", context_settings={"ignore_unknown_options": False})
def value_cmd(
    args: list[str] = typer.Argument(
        ..., metavar="ISO NODE MARKET PROFILE PERIOD | GPU CLASS PERIOD | SPREAD CLASS ISO NODE MARKET PROFILE PERIOD"
    ),
    as_json: bool = typer.Option(
        False, "--json", help="one JSON object: value (decimal string, USD), hours, sources, ..."
    ),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="vendored data directory (default: the repo's data/)"
    ),
    replay_offsets: str | None = typer.Option(
        None,
        "--replay-offsets",
        help="per dataset data = period time + seconds, e.g. '{\"GPU\": 148780800}' "
        "(what a devnet reporter is given; needed for a spread whose legs' data "
        "cover different years)",
    ),
    mwh_per_gpu_hour: str = typer.Option("0.0012", "--mwh-per-gpu-hour", help="SPREAD only: MWh per GPU-hour"),
) -> None:
    """Settlement value of a POWER, GPU or SPREAD window, recomputed exactly as the oracle's reporter signs it."""
    from oracle.settings import OracleSettings

    overrides: dict[str, Any] = {}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if replay_offsets is not None:
        try:
            overrides["replay_offsets"] = {str(k): int(v) for k, v in json.loads(replay_offsets).items()}
        except (ValueError, AttributeError, TypeError):
            raise CliError(f"--replay-offsets must be a JSON object of whole seconds, got {replay_offsets!r}") from None
    try:
        settings = OracleSettings(**overrides)
    except ValueError as e:
        raise CliError(" ".join(str(e).split())) from None
    res = value_of(build_spec(args, mwh_per_gpu_hour), settings)
    if as_json:
        print_json(res)
    else:
        _print(res)
    if res["status"] != "ok":
        raise typer.Exit(1)


def _print(r: dict[str, Any]) -> None:
    out.print(f"[bold]{r['symbol']}[/]  settlement value ({r['kind']})")
    if r["status"] == "ok":
        out.print(f"  value     [bold]{r['value']}[/] {r['unit']}   (signed integer {r['price_units']})")
        out.print(
            f"  hours     {r['hours']}"
            + (" fixings" if r["kind"] != "POWER" else " delivery hours")
            + (f" ({r['block']})" if r.get("block") else "")
        )
        for name, leg in r.get("legs", {}).items():
            out.print(f"  {name:9} {leg['value']} over {leg['hours']} hours")
    else:
        n = len(r.get("missing_hours") or [])
        out.print(
            f"  [bold red]no value[/]: {r['status']}"
            + (f", {n} hour(s) without a price" if n else "")
            + f"; {r.get('detail', '')}"
        )
        if n:
            shown = ", ".join(r["missing_hours"][:6]) + (" …" if n > 6 else "")
            out.print(f"  missing   {shown}")
        out.print(
            "  a window with any missing hour is settled by the contracts' fallback path, never by a partial mean"
        )
    out.print(f"  window    {r['window']['start']} .. {r['window']['end']} (UTC, [start, end))")
    out.print(f"  feed      {r['settlement_feed']} (settlement feed id)")
    out.print(f"  rounding  {r['rounding']}")
    for s in r["sources"]:
        if "file" in s:
            out.print(
                f"  source    {s['file']}\n            sha256 {s['sha256']} (file)\n"
                f"            sha256 {s['csv_sha256']} (CSV inside, as in data/SOURCES.md)"
            )
        else:
            out.print(f"  source    live: {s['adapter']}")


# ---------------------------------------------------------------- basis: your own prices against the index


def index_values(args: list[str], periods: list[str], settings, mwh_per_gpu_hour: str = "0.0012") -> dict:
    """The contract index (its settlement value, USD per unit as a Decimal) of the series named by
    ``args`` (``ISO NODE MARKET PROFILE`` | ``GPU CLASS`` | ``SPREAD CLASS ISO NODE MARKET PROFILE``)
    for each period label (a day or a month), through the reporter's own Valuer; None where the
    data has no value for the window (outside the data, or a missing hour: never filled in)."""
    from core.specs import SpecError
    from core.units import base_to_usd
    from oracle.errors import OracleError
    from oracle.service import build_source
    from oracle.valuation import Valuer

    valuer = Valuer(build_source(settings), **settings.valuer_kwargs())
    out: dict = {}
    for p in periods:
        try:
            spec = build_spec([*args, p], mwh_per_gpu_hour)
        except SpecError as e:
            raise CliError(str(e)) from None
        end = (spec["power"] if spec["kind"] == "SPREAD" else spec)["delivery_end"]
        try:
            out[p] = base_to_usd(valuer.settlement(spec, end).price_units)
        except (OracleError, LookupError, ValueError):
            out[p] = None
    return out


def unshifted(settings):
    """``settings`` without any replay time shift: an operator's dates are calendar dates, so a
    devnet's ``CSPREAD_ORACLE_REPLAY_OFFSET(S)`` in the environment must not move them (a copy:
    pydantic-settings merges dict fields from the environment into constructor arguments)."""
    return settings.model_copy(
        update={"replay_offsets": {}, "replay_offset": None, "replay_chain_anchor": None, "replay_data_anchor": None}
    )


def basis_json(eff, places: int = 2) -> dict[str, Any]:
    q = Decimal(1).scaleb(-places)

    def px(x):
        return None if x is None else str(x.quantize(q))

    def ratio(x, n=4):
        return None if x is None else str(x.quantize(Decimal(1).scaleb(-n)))

    return {
        "rows": [{"period": r.period, "own": px(r.own), "index": px(r.index), "basis": px(r.basis)} for r in eff.rows],
        "overlap": len(eff.rows),
        "missing_index": list(eff.missing_index),
        "mean_basis": px(eff.mean_basis),
        "basis_sd": px(eff.basis_sd),
        "own_sd": px(eff.own_sd),
        "variance_reduction": ratio(eff.variance_reduction),
        "hedge_ratio": ratio(eff.hedge_ratio, 3),
        "r_squared": ratio(eff.r_squared),
    }


def basis_report(text: str, args: list[str], settings, mwh_per_gpu_hour: str = "0.0012") -> dict[str, Any]:
    """Parse the operator's history, price the index over the same periods, and compare (JSON-able).
    Raises core.basis.BasisError on bad input (the message names the line)."""
    from core.basis import effectiveness, parse_history

    hist = parse_history(text)
    if args and args[-1].upper() == "HOURLY":
        raise CliError("an HOURLY series prices single hours: compare daily or monthly prices against ATC/PEAK/OFFPEAK")
    idx = index_values(args, list(hist.prices), settings, mwh_per_gpu_hour)
    eff = effectiveness(hist.prices, idx)
    places = 3 if args and args[0].upper() == "GPU" else 4 if args and args[0].upper() == "SPREAD" else 2
    return {"series": " ".join(args), "granularity": hist.granularity, **basis_json(eff, places)}


@app.command("basis")
def basis_cmd(
    file: str = typer.Argument(
        ..., metavar="FILE", help="your prices: CSV of period,price (a day or a month); - = stdin"
    ),
    args: list[str] = typer.Argument(..., metavar="ISO NODE MARKET PROFILE | GPU CLASS"),
    as_json: bool = typer.Option(False, "--json", help="rows and statistics as JSON"),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="vendored data directory (default: data/)"),
) -> None:
    """Basis of your own node or rental price against a series' index over the overlapping
    periods, and how well the contract hedges it (variance reduction, hedge ratio, R²)."""
    import sys

    from core.basis import BasisError
    from oracle.settings import OracleSettings

    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text()
    except OSError as e:
        raise CliError(f"cannot read {file}: {e.strerror or e}") from None
    settings = unshifted(OracleSettings(**({"data_dir": data_dir} if data_dir else {})))
    try:
        rep = basis_report(text, args, settings)
    except BasisError as e:
        raise CliError(f"{file}: {e}") from None
    if as_json:
        print_json(rep)
        return
    from rich.table import Table

    t = Table(title=f"Basis: your price - {rep['series']} index (USD per unit)", title_justify="left")
    for col in ("period", "yours", "index", "basis"):
        t.add_column(col, justify="left" if col == "period" else "right")
    for r in rep["rows"]:
        t.add_row(r["period"], r["own"], r["index"], r["basis"])
    out.print(t)
    if rep["missing_index"]:
        shown = ", ".join(rep["missing_index"][:6]) + (" …" if len(rep["missing_index"]) > 6 else "")
        out.print(f"[dim]no index for {len(rep['missing_index'])} of your periods (outside the data): {shown}[/]")
    if rep["r_squared"] is None and rep["variance_reduction"] is None:
        out.print(f"[yellow]{rep['overlap']} overlapping periods: too few (or too flat) for hedge statistics[/]")
        return
    vr = rep["variance_reduction"]
    one = (
        "—"
        if vr is None
        else f"removes {Decimal(vr) * 100:.1f}% of your price variance"
        if Decimal(vr) >= 0
        else f"adds {-Decimal(vr) * 100:.1f}% to your price variance (a poor hedge at 1:1)"
    )
    out.print(
        f"mean basis {rep['mean_basis']} USD (sd {rep['basis_sd']}) over {rep['overlap']} {rep['granularity']}s · "
        f"a 1:1 hedge {one} · best hedge ratio {rep['hedge_ratio']} (R² {rep['r_squared']})"
    )
