"""Loaders for the vendored real price data in ``data/*.csv.gz`` (see ``data/SOURCES.md``).

Every loader returns numpy arrays: timestamps as ``int64`` unix seconds UTC, prices as
``float64`` USD. Files are parsed once per process (``lru_cache``) and the arrays are
read-only, so a cached series cannot be corrupted by a caller.
"""

from __future__ import annotations

import csv
import gzip
import io
from functools import cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

from oracle.errors import SeriesUnavailable

DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent / "data"

# Which vendored files hold each ISO's hourly prices.
POWER_FILES: dict[str, tuple[str, ...]] = {
    "ERCOT": ("ercot_dam_hubs_2021_2022.csv.gz",),
    "PJM": ("pjm_hubs_da_rt_2025-05_2025-07.csv.gz", "pjm_rto_rt_2024.csv.gz"),
}
GPU_FILE = "gpu_primeintellect_by_provider_2025-10_2025-11.csv.gz"

# Spec market code -> the code used in the data files.
MARKET_CODES = {"DA": "DAM", "RT": "RTM", "DAM": "DAM", "RTM": "RTM"}

# Our GPU class names (specs, symbols) -> the tracker's names in the data.
GPU_CLASSES: dict[str, str] = {
    "H100-SXM": "H100_80GB_SXM5",
    "H100-PCIE": "H100_80GB_PCIe",
    "H200": "H200_141GB",
    "B200": "B200_180GB",
    "A100-80G": "A100_80GB_SXM4",
    "A100-PCIE": "A100_80GB_PCIe",
    "GH200": "GH200_96GB",
}
GPU_CLASSES_BY_DATA_NAME = {v: k for k, v in GPU_CLASSES.items()}


class DataNotFound(SeriesUnavailable):
    """No vendored series for the requested key (the message lists what exists)."""


class HourlySeries(NamedTuple):
    """Hourly prices; ``timestamps`` = UTC start of each hour, sorted, unique."""

    timestamps: np.ndarray  # int64 unix seconds
    prices: np.ndarray  # float64 USD/MWh


class GpuQuotes(NamedTuple):
    """Provider quotes, sorted by timestamp; one row per (snapshot, provider)."""

    timestamps: np.ndarray  # int64 unix seconds (snapshot time)
    providers: np.ndarray  # str
    prices: np.ndarray  # float64 USD per GPU-hour (provider's cheapest listing)
    n_listings: np.ndarray  # int64 listings behind the quote


def parse_utc(values: list[str] | np.ndarray) -> np.ndarray:
    """ISO-8601 UTC strings (``2021-01-01T06:00:00Z``) -> int64 unix seconds."""
    arr = np.asarray([v[:-1] if v.endswith("Z") else v for v in values], dtype="datetime64[s]")
    return arr.astype(np.int64)


def _resolve(data_dir: str | Path | None) -> Path:
    return Path(data_dir) if data_dir is not None else DEFAULT_DATA_DIR


def _read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    if not path.exists():
        raise DataNotFound(f"data file {path} is missing (fresh clone? it is vendored under data/)")
    with gzip.open(path, "rb") as f:
        text = io.TextIOWrapper(f, encoding="utf-8", newline="")
        reader = csv.reader(text)
        header = next(reader)
        return header, list(reader)


def _frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


@cache
def _power_file(path: str) -> dict[tuple[str, str, str], HourlySeries]:
    header, rows = _read_rows(Path(path))
    if header != ["timestamp_utc", "iso", "node", "market", "price_usd_per_mwh"]:
        raise ValueError(f"{path}: unexpected header {header}")
    cols = list(zip(*rows, strict=False))
    ts = parse_utc(np.asarray(cols[0]))
    keys = np.asarray([f"{i}|{n}|{m}" for i, n, m in zip(cols[1], cols[2], cols[3], strict=False)])
    px = np.asarray(cols[4], dtype=np.float64)
    out: dict[tuple[str, str, str], HourlySeries] = {}
    for key in np.unique(keys):
        sel = keys == key
        t, p = ts[sel], px[sel]
        order = np.argsort(t, kind="stable")
        t, p = t[order], p[order]
        if np.any(np.diff(t) <= 0):
            raise ValueError(f"{path}: duplicate hours for {key}")
        iso, node, market = str(key).split("|")
        out[(iso, node, market)] = HourlySeries(_frozen(t), _frozen(p))
    return out


def power_keys(data_dir: str | Path | None = None) -> list[tuple[str, str, str]]:
    """Every (iso, node, market) with vendored hourly prices; market as in the data (DAM/RTM)."""
    base = _resolve(data_dir)
    keys: list[tuple[str, str, str]] = []
    for files in POWER_FILES.values():
        for name in files:
            keys.extend(_power_file(str(base / name)))
    return sorted(keys)


def power_file(iso: str, node: str, market: str, data_dir: str | Path | None = None) -> Path:
    """The vendored file that holds one node's hourly prices (what ``cspread index value`` cites)."""
    code = MARKET_CODES.get(market)
    base = _resolve(data_dir)
    for name in POWER_FILES.get(iso, ()):
        if (iso, node, code) in _power_file(str(base / name)):
            return base / name
    raise DataNotFound(f"no vendored {iso} {node} {code} prices")


def gpu_file(data_dir: str | Path | None = None) -> Path:
    return _resolve(data_dir) / GPU_FILE


def load_power(iso: str, node: str, market: str, data_dir: str | Path | None = None) -> HourlySeries:
    """Hourly prices of one node. ``market`` is ``DA``/``RT`` (spec codes) or ``DAM``/``RTM``.

    Raises :class:`DataNotFound` (e.g. for ERCOT RT, which is not in the vendored data).
    """
    code = MARKET_CODES.get(market)
    if code is None:
        raise ValueError(f"unknown market {market!r}; expected DA or RT")
    base = _resolve(data_dir)
    for name in POWER_FILES.get(iso, ()):
        series = _power_file(str(base / name)).get((iso, node, code))
        if series is not None:
            return series
    have = ", ".join(f"{i}/{n}/{m}" for i, n, m in power_keys(data_dir) if i == iso) or "none"
    raise DataNotFound(f"no vendored {iso} {node} {code} prices (have for {iso}: {have})")


@cache
def _gpu_file(path: str) -> dict[str, GpuQuotes]:
    header, rows = _read_rows(Path(path))
    expected = ["timestamp_utc", "provider", "gpu", "price_usd_per_gpu_hour", "avg_usd_per_gpu_hour", "n_listings"]
    if header != expected:
        raise ValueError(f"{path}: unexpected header {header}")
    cols = list(zip(*rows, strict=False))
    ts = parse_utc(np.asarray(cols[0]))
    providers = np.asarray(cols[1])
    gpus = np.asarray(cols[2])
    px = np.asarray(cols[3], dtype=np.float64)
    n = np.asarray(cols[5], dtype=np.int64)
    out: dict[str, GpuQuotes] = {}
    for g in np.unique(gpus):
        sel = gpus == g
        order = np.argsort(ts[sel], kind="stable")
        out[str(g)] = GpuQuotes(*(_frozen(a[sel][order]) for a in (ts, providers, px, n)))
    return out


def gpu_data_name(gpu: str) -> str:
    """Our class name (``H100-SXM``) -> the data's name (``H100_80GB_SXM5``)."""
    try:
        return GPU_CLASSES[gpu]
    except KeyError:
        raise DataNotFound(f"unknown GPU class {gpu!r}; known: {', '.join(GPU_CLASSES)}") from None


def load_gpu_quotes(gpu: str, data_dir: str | Path | None = None) -> GpuQuotes:
    """Provider quotes for one GPU class (our name, e.g. ``H100-SXM``), sorted by time."""
    table = _gpu_file(str(_resolve(data_dir) / GPU_FILE))
    name = gpu_data_name(gpu)
    if name not in table:
        raise DataNotFound(f"no vendored quotes for {gpu} ({name})")
    return table[name]
