"""Index methodology (pure numpy; see ``docs/methodology.md`` for the formulas).

- GPU index of a GPU class at time t (default ``median``): each provider's latest quote no
  older than the staleness cut-off is ONE vote, whatever its listing count; with at least
  ``min_quotes`` independent providers the index is the plain median of the votes. One
  provider alone then moves the index at most to the neighbouring order statistics of the
  others (:func:`manipulation_bound`). The previous listing-weighted median with MAD
  rejection (``weighted_median``) is kept only to measure old against new.
  :func:`gpu_index_batch` evaluates many times at once (one provider x time matrix, no
  Python loop over times).
- POWER: arithmetic mean of hourly prices over the profile's delivery hours, reporting
  missing hours instead of averaging fewer.
- SPREAD: GPU index - mwh_per_gpu_hour x power price, in ``Decimal``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

import numpy as np

from core.calendar import profile_hours
from core.units import float_usd_to_base, to_decimal

MAD_TO_SIGMA = 1.4826  # MAD x 1.4826 estimates sigma for normally distributed quotes

REASON_OK = ""
REASON_NO_QUOTES = "no fresh quotes"
REASON_TOO_FEW = "too few quotes after outlier rejection"


@dataclass(frozen=True)
class GpuIndexParams:
    """Parameters of the GPU index (defaults are the published methodology)."""

    staleness_s: int = 86_400  # a provider quote older than this is ignored
    mad_k: float = 3.0  # weighted_median only: reject |x - median| > mad_k * 1.4826 * MAD
    min_quotes: int = 3  # fewer independent providers (one vote each) -> no index value
    method: Literal["median", "weighted_median"] = "median"
    weight_cap: int = 10  # weighted_median only: weight = min(n_listings, cap)

    def __post_init__(self) -> None:
        if self.staleness_s <= 0:
            raise ValueError("staleness_s must be positive")
        if self.mad_k <= 0:
            raise ValueError("mad_k must be positive")
        if self.min_quotes < 1:
            raise ValueError("min_quotes must be >= 1")
        if self.method not in ("median", "weighted_median"):
            raise ValueError(f"method must be median or weighted_median, got {self.method!r}")
        if self.weight_cap < 1:
            raise ValueError("weight_cap must be >= 1")


@dataclass(frozen=True)
class GpuIndexBatch:
    """Index values at many times; ``values`` is NaN where ``reasons`` is non-empty."""

    times: np.ndarray  # int64
    values: np.ndarray  # float64 USD per GPU-hour
    n_fresh: np.ndarray  # providers with a fresh quote
    n_used: np.ndarray  # quotes surviving outlier rejection
    reasons: np.ndarray  # str, "" when the value is valid


@dataclass(frozen=True)
class GpuIndexResult:
    """The index at one time, with the audit trail a reporter can publish."""

    time: int
    value: float | None
    units: int | None
    reason: str
    used: dict[str, float] = field(default_factory=dict)  # provider -> quote kept
    rejected: dict[str, float] = field(default_factory=dict)  # provider -> outlier quote
    stale_or_missing: tuple[str, ...] = ()


def _row_median(sorted_vals: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Median of the first n[i] entries of each (ascending, NaN-last) row; NaN if n = 0."""
    rows = np.arange(sorted_vals.shape[0])
    lo = np.clip((n - 1) // 2, 0, None)
    hi = np.clip(n // 2, 0, None)
    hi = np.minimum(hi, sorted_vals.shape[1] - 1)
    lo = np.minimum(lo, sorted_vals.shape[1] - 1)
    med = (sorted_vals[rows, lo] + sorted_vals[rows, hi]) / 2.0
    return np.where(n > 0, med, np.nan)


def _latest_matrix(ts, prov_codes, prices, weights, n_prov, times, staleness):
    """M x P matrices of each provider's latest fresh quote (NaN if none) and its weight."""
    m = len(times)
    vals = np.full((m, n_prov), np.nan)
    wts = np.zeros((m, n_prov))
    if len(ts) > 1 and np.any(ts[1:] < ts[:-1]):
        by_time = np.argsort(ts, kind="stable")
        ts, prov_codes, prices, weights = ts[by_time], prov_codes[by_time], prices[by_time], weights[by_time]
    order = np.argsort(prov_codes, kind="stable")  # by provider, then time; last row wins ties
    ts, prov_codes, prices, weights = ts[order], prov_codes[order], prices[order], weights[order]
    bounds = np.searchsorted(prov_codes, np.arange(n_prov + 1))
    for p in range(n_prov):  # P is the number of providers (~10), never the number of times
        a, b = bounds[p], bounds[p + 1]
        tp = ts[a:b]
        idx = np.searchsorted(tp, times, side="right") - 1
        ok = idx >= 0
        safe = np.where(ok, idx, 0)
        ok &= (times - tp[safe]) <= staleness
        vals[ok, p] = prices[a:b][safe[ok]]
        wts[ok, p] = weights[a:b][safe[ok]]
    return vals, wts


def _aggregate(vals: np.ndarray, wts: np.ndarray, params: GpuIndexParams):
    """Outlier rejection + aggregation over each row of an M x P quote matrix."""
    if vals.shape[1] == 0:  # no provider at all (e.g. a time before the data starts)
        m = vals.shape[0]
        zeros = np.zeros(m, dtype=np.int64)
        return np.full(m, np.nan), zeros, zeros, vals.astype(bool), np.full(m, REASON_NO_QUOTES, dtype=object)
    present = ~np.isnan(vals)
    n_fresh = present.sum(axis=1)
    s = np.sort(vals, axis=1)  # NaN sort last
    med = _row_median(s, n_fresh)
    if params.method == "median":
        # one vote per provider, no filter: a filter whose cut-off depends on the attacker's own
        # quote (MAD) would let it eject honest quotes and widen the bound of manipulation_bound
        reasons = np.full(vals.shape[0], REASON_OK, dtype=object)
        reasons[n_fresh < params.min_quotes] = REASON_TOO_FEW
        reasons[n_fresh == 0] = REASON_NO_QUOTES
        return np.where(reasons == REASON_OK, med, np.nan), n_fresh, n_fresh, present, reasons
    dev = np.abs(vals - med[:, None])
    mad = _row_median(np.sort(dev, axis=1), n_fresh)
    keep = present & (dev <= params.mad_k * MAD_TO_SIGMA * mad[:, None])
    n_used = keep.sum(axis=1)

    kv = np.where(keep, vals, np.nan)
    order = np.argsort(kv, axis=1)  # kept values first (ascending), NaN last
    sv = np.take_along_axis(kv, order, axis=1)
    rows = np.arange(vals.shape[0])
    sw = np.take_along_axis(np.where(keep, wts, 0.0), order, axis=1)
    cw = np.cumsum(sw, axis=1)  # integer-valued weights: exact in float64
    half = cw[:, -1] / 2.0
    j = np.argmax(cw >= half[:, None], axis=1)
    exact_half = (cw[rows, j] == half) & (j + 1 < n_used)
    nxt = sv[rows, np.minimum(j + 1, sv.shape[1] - 1)]
    value = np.where(exact_half, (sv[rows, j] + nxt) / 2.0, sv[rows, j])

    reasons = np.full(vals.shape[0], REASON_OK, dtype=object)
    reasons[n_used < params.min_quotes] = REASON_TOO_FEW
    reasons[n_fresh == 0] = REASON_NO_QUOTES
    value = np.where(reasons == REASON_OK, value, np.nan)
    return value, n_fresh, n_used, keep, reasons


def _factorize(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted unique labels, int codes); one vectorised compare per distinct label.

    ``np.unique`` sorts all N strings; there are only ~10 providers, so P equality scans
    are several times faster on a million quotes.
    """
    codes = np.full(len(labels), -1, dtype=np.int64)
    found: list = []
    unassigned = codes < 0
    while unassigned.any():
        label = labels[np.argmax(unassigned)]
        codes[labels == label] = len(found)
        found.append(label)
        unassigned = codes < 0
    names = np.asarray(found)
    rank = np.argsort(np.argsort(names, kind="stable"))  # deterministic order: sorted names
    return names[np.argsort(names, kind="stable")], rank[codes] if len(codes) else codes


def _prepare(ts, providers, prices, n_listings, params):
    ts = np.asarray(ts, dtype=np.int64)
    prices = np.asarray(prices, dtype=np.float64)
    n_listings = np.asarray(n_listings, dtype=np.int64)
    providers = np.asarray(providers)
    if not (len(ts) == len(providers) == len(prices) == len(n_listings)):
        raise ValueError("timestamps, providers, prices and n_listings must have equal length")
    valid = np.isfinite(prices) & (prices > 0)  # a zero/negative rental price is a data error
    names, codes = _factorize(providers[valid])
    weights = np.clip(n_listings[valid], 1, params.weight_cap).astype(np.float64)
    return ts[valid], codes.astype(np.int64), prices[valid], weights, names


def gpu_index_batch(
    ts, providers, prices, n_listings, times, params: GpuIndexParams = GpuIndexParams()
) -> GpuIndexBatch:
    """GPU index at each of ``times`` (unix s) from provider quotes (any order).

    Quotes after a time are never used for it (no look-ahead). Cost is
    O(N log N + M x P log P) for N quotes, M times and P providers.
    """
    times = np.asarray(times, dtype=np.int64)
    t, codes, px, w, names = _prepare(ts, providers, prices, n_listings, params)
    vals, wts = _latest_matrix(t, codes, px, w, len(names), times, params.staleness_s)
    value, n_fresh, n_used, _, reasons = _aggregate(vals, wts, params)
    return GpuIndexBatch(times, value, n_fresh, n_used, reasons)


def gpu_index_at(
    ts, providers, prices, n_listings, time: int, params: GpuIndexParams = GpuIndexParams()
) -> GpuIndexResult:
    """GPU index at one time with the providers used/rejected (same code path as the batch)."""
    t, codes, px, w, names = _prepare(ts, providers, prices, n_listings, params)
    times = np.asarray([time], dtype=np.int64)
    vals, wts = _latest_matrix(t, codes, px, w, len(names), times, params.staleness_s)
    value, _, _, keep, reasons = _aggregate(vals, wts, params)
    row, k = vals[0], keep[0]
    used = {str(names[i]): float(row[i]) for i in range(len(names)) if k[i]}
    rejected = {str(names[i]): float(row[i]) for i in range(len(names)) if not k[i] and not np.isnan(row[i])}
    stale = tuple(str(names[i]) for i in range(len(names)) if np.isnan(row[i]))
    v = None if reasons[0] else float(value[0])
    return GpuIndexResult(
        int(time), v, None if v is None else float_usd_to_base(v), str(reasons[0]), used, rejected, stale
    )


def manipulation_bound(other_quotes) -> tuple[float, float]:
    """[lo, hi] the ``median`` index can take when ONE provider joins ``other_quotes``.

    Whatever that provider quotes (and however many listings or rows it posts: it has one
    vote), the median of the others plus its vote lies between the median with its vote at
    -inf and at +inf, i.e. between the neighbouring order statistics of the others: for m
    others sorted y_1..y_m, [y_(m/2), y_(m/2+1)] when m is even and
    [(y_k + y_(k+1))/2, (y_(k+1) + y_(k+2))/2] when m = 2k+1. Dropping out (quoting nothing)
    gives the others' own median, which also lies in [lo, hi].
    """
    y = np.sort(np.asarray(other_quotes, dtype=np.float64))
    if y.size == 0:
        raise ValueError("need at least one other provider")

    def med(v):
        n = len(v)
        return (v[(n - 1) // 2] + v[n // 2]) / 2.0

    return float(med(np.concatenate([[-np.inf], y]))), float(med(np.concatenate([y, [np.inf]])))


# --------------------------------------------------------------------------- power


@dataclass(frozen=True)
class PowerAverage:
    """Profile average over a window; ``value`` is None when any delivery hour is missing."""

    value: float | None
    units: int | None
    n_hours: int  # delivery hours of the profile in the window
    n_present: int
    missing_hours: tuple[int, ...]  # UTC hour starts without a price
    total: float  # sum over present hours


def lookup_hours(series_ts: np.ndarray, series_px: np.ndarray, hours: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(prices, found) for hour starts ``hours`` in a sorted unique hourly series."""
    series_ts = np.asarray(series_ts, dtype=np.int64)
    idx = np.searchsorted(series_ts, hours)
    safe = np.minimum(idx, max(len(series_ts) - 1, 0))
    found = (idx < len(series_ts)) & (series_ts[safe] == hours) if len(series_ts) else np.zeros(len(hours), bool)
    px = np.where(found, np.asarray(series_px)[safe] if len(series_ts) else np.nan, np.nan)
    return px, found


def power_profile_average(series_ts, series_px, start: int, end: int, profile: str, tz: str) -> PowerAverage:
    """Arithmetic mean of hourly prices over the ``profile`` hours of [start, end) in ``tz``.

    Every delivery hour counts once (the spring-forward day has 23, the fall-back day 25
    hours, exactly as delivered). If any delivery hour has no price the average is *not*
    computed over fewer hours: ``value`` is None and ``missing_hours`` lists them.
    """
    hours = profile_hours(start, end, profile, tz)
    px, found = lookup_hours(series_ts, series_px, hours)
    missing = tuple(int(h) for h in hours[~found])
    total = float(px[found].sum())
    if len(hours) == 0 or missing:
        return PowerAverage(None, None, len(hours), int(found.sum()), missing, total)
    value = total / len(hours)
    return PowerAverage(value, float_usd_to_base(value), len(hours), len(hours), (), total)


# --------------------------------------------------------------------------- spread


def spread_price(gpu_usd: float | Decimal, power_usd: float | Decimal, mwh_per_gpu_hour: str | Decimal) -> Decimal:
    """USD per GPU-hour: GPU index - mwh_per_gpu_hour x power price (USD/MWh), exact in Decimal."""
    return to_decimal(gpu_usd, "GPU price", floats=True) - to_decimal(
        mwh_per_gpu_hour, "MWh per GPU-hour", floats=True
    ) * to_decimal(power_usd, "power price", floats=True)
