"""Price sources: one :class:`PriceSource` interface, a replay adapter over the vendored
CSVs and live adapters (ERCOT public API, PJM Data Miner 2, Prime Intellect GPU
availability), all returning the arrays of :mod:`oracle.data`.

Every method takes and returns **data time**; :meth:`PriceSource.time_map` tells the
valuation how chain time maps onto it (identity for live sources). Live adapters take an
injected ``fetch(url, params, headers) -> parsed JSON`` so they can be tested on recorded
responses and run behind any HTTP client (:func:`httpx_fetch` by default).
"""

from __future__ import annotations

import datetime as dt
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from core.specs import GLOBAL_REGION, ISO_TZ
from oracle import data
from oracle.data import GpuQuotes, HourlySeries
from oracle.errors import SeriesUnavailable
from oracle.timemap import TimeMap

Fetch = Callable[[str, Mapping[str, Any], Mapping[str, str]], Any]
GPU_DATASET = "GPU"  # time-map key of GPU quotes; power series use their ISO name


def httpx_fetch(url: str, params: Mapping[str, Any], headers: Mapping[str, str], timeout: float = 20.0) -> Any:
    """GET ``url`` and parse JSON; raises on HTTP errors (the reporter then marks feeds stale)."""
    import httpx  # imported lazily: only live deployments need it

    r = httpx.get(url, params=dict(params), headers=dict(headers), timeout=timeout)
    r.raise_for_status()
    return r.json()


def _slice_series(s: HourlySeries, start: int, end: int) -> HourlySeries:
    a, b = np.searchsorted(s.timestamps, [start, end])
    return HourlySeries(s.timestamps[a:b], s.prices[a:b])


def _slice_quotes(q: GpuQuotes, start: int, end: int) -> GpuQuotes:
    a, b = np.searchsorted(q.timestamps, [start, end])
    return GpuQuotes(*(x[a:b] for x in q))


def _series_from_rows(rows: dict[int, float], start: int, end: int) -> HourlySeries:
    ts = np.asarray(sorted(t for t in rows if start <= t < end), dtype=np.int64)
    return HourlySeries(ts, np.asarray([rows[int(t)] for t in ts], dtype=np.float64))


class PriceSource(ABC):
    """Where prices come from. Windows are half-open ``[start, end)`` in data-time unix seconds."""

    name = "source"

    def time_map(self, dataset: str) -> TimeMap:
        """Chain time -> data time for ``dataset`` (an ISO name or ``"GPU"``)."""
        return TimeMap.identity()

    @abstractmethod
    def power_hourly(self, iso: str, node: str, market: str, start: int, end: int) -> HourlySeries:
        """Hourly prices (USD/MWh) whose UTC hour start lies in [start, end)."""

    @abstractmethod
    def gpu_quotes(self, gpu: str, region: str, start: int, end: int) -> GpuQuotes:
        """Provider quotes (USD per GPU-hour) with snapshot time in [start, end)."""


class ReplaySource(PriceSource):
    """The vendored CSVs, replayed on a devnet clock.

    ``time_maps`` maps a dataset (``"ERCOT"``, ``"PJM"``, ``"GPU"``) to its own
    :class:`TimeMap`, because the data sets cover different years; ``default`` applies to
    the rest. Only region ``GLOBAL`` exists for GPUs (the tracker mixes all regions).
    """

    name = "replay"

    def __init__(
        self,
        data_dir: str | Path | None = None,
        time_maps: Mapping[str, TimeMap] | None = None,
        default: TimeMap | None = None,
    ):
        self.data_dir = data_dir
        self.time_maps = dict(time_maps or {})
        self.default = default or TimeMap.identity()

    def time_map(self, dataset: str) -> TimeMap:
        return self.time_maps.get(dataset, self.default)

    def power_hourly(self, iso, node, market, start, end):
        return _slice_series(data.load_power(iso, node, market, self.data_dir), start, end)

    def gpu_quotes(self, gpu, region, start, end):
        if region != GLOBAL_REGION:
            raise SeriesUnavailable(f"replay data has no regional GPU quotes ({region}); use region {GLOBAL_REGION}")
        return _slice_quotes(data.load_gpu_quotes(gpu, self.data_dir), start, end)


class ErcotDamSource(PriceSource):
    """ERCOT public API, report NP4-190-CD "DAM Settlement Point Prices".

    ``GET {base}/np4-190-cd/dam_stlmnt_pnt_prices?deliveryDateFrom&deliveryDateTo&settlementPoint``
    returns ``{"_meta": {...totalPages, currentPage}, "fields": [{"name": ...}], "data": [[...]]}``
    with fields deliveryDate, hourEnding ("01:00".."24:00", Central Prevailing Time),
    settlementPoint, settlementPointPrice, DSTFlag (true on the repeated fall-back hour).
    Real-time (NP6-905-CD, 15-minute) is not implemented and raises ``SeriesUnavailable``.
    """

    name = "ercot"
    ENDPOINT = "np4-190-cd/dam_stlmnt_pnt_prices"

    def __init__(
        self,
        fetch: Fetch,
        subscription_key: str | None = None,
        bearer_token: str | None = None,
        base_url: str = "https://api.ercot.com/api/public-reports",
        page_size: int = 1000,
    ):
        self.fetch, self.base_url, self.page_size = fetch, base_url.rstrip("/"), page_size
        self.headers = {}
        if subscription_key:
            self.headers["Ocp-Apim-Subscription-Key"] = subscription_key
        if bearer_token:
            self.headers["Authorization"] = f"Bearer {bearer_token}"

    def power_hourly(self, iso, node, market, start, end):
        if iso != "ERCOT":
            raise SeriesUnavailable(f"{self.name} serves ERCOT only, not {iso}")
        if market != "DA":
            raise SeriesUnavailable("ERCOT real-time prices are not available from this adapter (DAM only)")
        tz = ZoneInfo(ISO_TZ["ERCOT"])
        d0 = dt.datetime.fromtimestamp(start, tz).date()
        d1 = dt.datetime.fromtimestamp(max(start, end - 1), tz).date()
        rows: dict[int, float] = {}
        page, pages = 1, 1
        while page <= pages:
            params = {
                "deliveryDateFrom": d0.isoformat(),
                "deliveryDateTo": d1.isoformat(),
                "settlementPoint": node,
                "page": page,
                "size": self.page_size,
            }
            body = self.fetch(f"{self.base_url}/{self.ENDPOINT}", params, self.headers)
            pages = int(body.get("_meta", {}).get("totalPages", 1))
            for rec in self._records(body):
                if rec["settlementPoint"] != node:
                    continue
                t = self._interval_start(rec, tz)
                price = float(rec["settlementPointPrice"])
                if t in rows and rows[t] != price:
                    raise ValueError(f"ERCOT returned two prices for {node} at {t}")
                rows[t] = price
            page += 1
        return _series_from_rows(rows, start, end)

    def gpu_quotes(self, gpu, region, start, end):
        raise SeriesUnavailable("ERCOT source has no GPU quotes")

    @staticmethod
    def _records(body: Mapping[str, Any]):
        names = [f["name"] for f in body.get("fields", [])]
        for row in body.get("data", []):
            yield row if isinstance(row, Mapping) else dict(zip(names, row, strict=False))

    @staticmethod
    def _interval_start(rec: Mapping[str, Any], tz: ZoneInfo) -> int:
        day = dt.date.fromisoformat(str(rec["deliveryDate"])[:10])
        he = int(str(rec["hourEnding"]).split(":")[0])
        if not 1 <= he <= 24:
            raise ValueError(f"bad hourEnding {rec['hourEnding']!r}")
        flag = rec.get("DSTFlag", False)
        repeated = flag is True or str(flag).upper() in ("Y", "TRUE")
        naive = dt.datetime(day.year, day.month, day.day) + dt.timedelta(hours=he - 1)
        # fold=1 picks the second (standard-time) occurrence of the repeated hour
        return int(naive.replace(tzinfo=tz, fold=1 if repeated else 0).timestamp())


class PjmDataMinerSource(PriceSource):
    """PJM Data Miner 2 hourly LMPs: feeds ``da_hrl_lmps`` (``total_lmp_da``) and
    ``rt_hrl_lmps`` (``total_lmp_rt``).

    ``GET {base}/{feed}?datetime_beginning_utc=<from>to<to>&pnode_name=..&row_is_current=TRUE
    &startRow&rowCount`` returns ``{"items": [...], "totalRows": N}``; each item carries
    ``datetime_beginning_utc`` (hour start, UTC, no zone suffix), ``pnode_name``,
    ``total_lmp_*``, ``row_is_current`` and ``version_nbr``. Like the vendored data, only
    current rows are used and the highest version per hour wins.
    """

    name = "pjm"
    FEEDS = {"DA": ("da_hrl_lmps", "total_lmp_da"), "RT": ("rt_hrl_lmps", "total_lmp_rt")}

    def __init__(
        self,
        fetch: Fetch,
        subscription_key: str | None = None,
        base_url: str = "https://api.pjm.com/api/v1",
        page_size: int = 5000,
    ):
        self.fetch, self.base_url, self.page_size = fetch, base_url.rstrip("/"), page_size
        self.headers = {"Ocp-Apim-Subscription-Key": subscription_key} if subscription_key else {}

    def power_hourly(self, iso, node, market, start, end):
        if iso != "PJM":
            raise SeriesUnavailable(f"{self.name} serves PJM only, not {iso}")
        if market not in self.FEEDS:
            raise SeriesUnavailable(f"unknown PJM market {market!r}")
        feed, column = self.FEEDS[market]

        def fmt(t: int) -> str:  # Data Miner's filter format, e.g. "5/1/2025 04:00"
            d = dt.datetime.fromtimestamp(t, dt.UTC)
            return f"{d.month}/{d.day}/{d.year} {d:%H:%M}"

        lo, hi = fmt(start), fmt(max(start, end - 3600))
        best: dict[int, tuple[int, float]] = {}
        row, total = 1, None
        while total is None or row <= total:
            params = {
                "datetime_beginning_utc": f"{lo}to{hi}",
                "pnode_name": node,
                "row_is_current": "TRUE",
                "startRow": row,
                "rowCount": self.page_size,
                "format": "json",
            }
            body = self.fetch(f"{self.base_url}/{feed}", params, self.headers)
            items = body.get("items", [])
            total = int(body.get("totalRows", len(items)))
            for it in items:
                if it.get("pnode_name") != node or it.get("row_is_current") in (False, "False", "FALSE"):
                    continue
                t = int(
                    dt.datetime.fromisoformat(str(it["datetime_beginning_utc"]).rstrip("Z"))
                    .replace(tzinfo=dt.UTC)
                    .timestamp()
                )
                ver = int(it.get("version_nbr", 0))
                if t not in best or ver > best[t][0]:
                    best[t] = (ver, float(it[column]))
            if not items:
                break
            row += len(items)
        return _series_from_rows({t: v for t, (_, v) in best.items()}, start, end)

    def gpu_quotes(self, gpu, region, start, end):
        raise SeriesUnavailable("PJM source has no GPU quotes")


class PrimeIntellectGpuSource(PriceSource):
    """Prime Intellect GPU marketplace availability (the aggregator behind the vendored data).

    ``GET {base}/availability/?gpu_type=H100_80GB`` returns ``{gpu_type: [offer, ...]}``
    (older shape) or ``{"items": [offer, ...]}``; an offer has ``provider``, ``socket``,
    ``gpuCount``, ``isSpot`` and ``prices.onDemand`` / ``prices.communityPrice`` (total $/h).
    Each poll becomes one snapshot of per-provider quotes computed like the vendored tracker:
    the provider's cheapest price per GPU (rounded to cents) and its listing count.
    Snapshots are kept in memory for ``retention_s`` so marks can use trailing days of history.

    Unlike the vendored tracker, this API says which offers are spot, so the product is kept
    comparable: by default (``spot=False``) only on-demand offers (``isSpot`` false, with an
    ``onDemand`` price) are quoted; ``spot=True`` quotes the spot offers only, for a separate
    spot class. A provider's cheap spot offer can then not pull an on-demand index down.
    """

    name = "primeintellect"

    def __init__(
        self,
        fetch: Fetch,
        api_key: str | None = None,
        base_url: str = "https://api.primeintellect.ai/api/v1",
        clock: Callable[[], float] = time.time,
        poll_interval_s: int = 300,
        retention_s: int = 10 * 86400,
        spot: bool = False,
    ):
        self.fetch, self.base_url, self.clock, self.spot = fetch, base_url.rstrip("/"), clock, spot
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.poll_interval_s, self.retention_s = poll_interval_s, retention_s
        self._rows: dict[str, list[tuple[int, str, float, int]]] = {}
        self._last_poll: dict[str, int] = {}

    @staticmethod
    def _split(data_name: str) -> tuple[str, str | None]:
        for socket in ("SXM5", "SXM4", "PCIe"):
            if data_name.endswith("_" + socket):
                return data_name[: -len(socket) - 1], socket
        return data_name, None

    def poll(self, gpu: str, now: int | None = None) -> int:
        """Fetch one snapshot for ``gpu`` (our class name); returns the number of providers quoted."""
        now = int(self.clock() if now is None else now)
        gpu_type, socket = self._split(data.gpu_data_name(gpu))
        body = self.fetch(f"{self.base_url}/availability/", {"gpu_type": gpu_type}, self.headers)
        offers = body.get("items") if isinstance(body, Mapping) and "items" in body else body.get(gpu_type, [])
        per_provider: dict[str, list[float]] = {}
        for o in offers:
            if o.get("gpuType", gpu_type) != gpu_type or (socket and o.get("socket") != socket):
                continue
            if bool(o.get("isSpot", False)) != self.spot:  # spot and on-demand are different products
                continue
            prices = o.get("prices") or {}
            if self.spot:
                total = prices.get("onDemand") if prices.get("onDemand") is not None else prices.get("communityPrice")
            else:
                total = prices.get("onDemand")
            count = o.get("gpuCount") or 0
            if total is None or count <= 0 or not math.isfinite(float(total)) or float(total) <= 0:
                continue
            per_provider.setdefault(str(o.get("provider") or "unknown"), []).append(float(total) / count)
        rows = self._rows.setdefault(gpu, [])
        for p, xs in sorted(per_provider.items()):
            rows.append((now, p, round(min(xs), 2), len(xs)))
        self._rows[gpu] = [r for r in rows if r[0] > now - self.retention_s]
        self._last_poll[gpu] = now
        return len(per_provider)

    def gpu_quotes(self, gpu, region, start, end):
        if region != GLOBAL_REGION:
            raise SeriesUnavailable(f"{self.name} adapter aggregates all regions; use region {GLOBAL_REGION}")
        now = int(self.clock())
        if now - self._last_poll.get(gpu, -(1 << 62)) >= self.poll_interval_s:
            self.poll(gpu, now)
        rows = sorted(r for r in self._rows.get(gpu, []) if start <= r[0] < end)
        cols = list(zip(*rows, strict=False)) if rows else [(), (), (), ()]
        return GpuQuotes(
            np.asarray(cols[0], dtype=np.int64),
            np.asarray(cols[1], dtype=str),
            np.asarray(cols[2], dtype=np.float64),
            np.asarray(cols[3], dtype=np.int64),
        )

    def power_hourly(self, iso, node, market, start, end):
        raise SeriesUnavailable("Prime Intellect source has no power prices")


class RoutingSource(PriceSource):
    """Routes POWER series by ISO and GPU quotes to one source; each keeps its own time map."""

    name = "routing"

    def __init__(self, power: Mapping[str, PriceSource], gpu: PriceSource | None):
        self.power, self.gpu = dict(power), gpu

    def _power_source(self, iso: str) -> PriceSource:
        if iso not in self.power:
            raise SeriesUnavailable(f"no power source configured for {iso}")
        return self.power[iso]

    def time_map(self, dataset: str) -> TimeMap:
        if dataset == GPU_DATASET:
            return self.gpu.time_map(dataset) if self.gpu else TimeMap.identity()
        return self._power_source(dataset).time_map(dataset) if dataset in self.power else TimeMap.identity()

    def power_hourly(self, iso, node, market, start, end):
        return self._power_source(iso).power_hourly(iso, node, market, start, end)

    def gpu_quotes(self, gpu, region, start, end):
        if self.gpu is None:
            raise SeriesUnavailable("no GPU source configured")
        return self.gpu.gpu_quotes(gpu, region, start, end)
