"""GPU index on real quotes: H100_80GB_SXM5 as of snapshot 2025-10-22T08:37:21Z.

The rows below are copied from data/gpu_primeintellect_by_provider_2025-10_2025-11.csv.gz:
the four providers quoted in that snapshot plus hyperstack's latest quote (19.7 h older,
so still inside the 24 h staleness cut-off). Expected values are worked by hand.
"""


import numpy as np
import pytest

from oracle import data
from oracle.index import REASON_NO_QUOTES, REASON_TOO_FEW, GpuIndexParams, gpu_index_at, gpu_index_batch

T = 1761122241  # 2025-10-22T08:37:21Z
ROWS = [  # (timestamp, provider, price $/GPU-h, n_listings)
    (1761051453, "hyperstack", 2.40, 1),  # 2025-10-21T12:57:33Z
    (T, "lambdalabs", 3.09, 1),
    (T, "nebius", 2.12, 4),
    (T, "primecompute", 1.00, 4),
    (T, "runpod", 2.69, 10),
]


def cols(rows):
    ts, prov, px, n = zip(*rows)
    return np.array(ts), np.array(prov), np.array(px), np.array(n)


def test_rows_are_real():
    q = data.load_gpu_quotes("H100-SXM")
    for t, p, x, n in ROWS:
        hit = (q.timestamps == t) & (q.providers == p)
        assert hit.sum() == 1 and q.prices[hit][0] == x and q.n_listings[hit][0] == n


def test_gpu_index__outlier_rejected_by_mad__weighted_median():
    # median of [1.00, 2.12, 2.40, 2.69, 3.09] = 2.40; |dev| = [1.40, .28, 0, .29, .69] -> MAD = .29
    # cut-off 3 * 1.4826 * .29 = 1.2899 -> primecompute (1.40 away) is rejected.
    # kept, sorted with weights: 2.12 (4), 2.40 (1), 2.69 (10), 3.09 (1); W = 16, half = 8;
    # cumulative 4, 5, 15 -> first >= 8 is 2.69.
    r = gpu_index_at(*cols(ROWS), T)
    assert r.value == 2.69 and r.units == 2_690_000 and r.reason == ""
    assert r.rejected == {"primecompute": 1.0}
    assert set(r.used) == {"hyperstack", "lambdalabs", "nebius", "runpod"}


def test_gpu_index__on_full_data_set__same_as_hand_rows():
    q = data.load_gpu_quotes("H100-SXM")
    r = gpu_index_at(*q, T)
    assert r.value == 2.69 and r.rejected == {"primecompute": 1.0}


def test_gpu_index__trimmed_mean():
    # same 4 kept quotes; trim 0.2 of 4 -> floor(0.8) = 0 dropped: (2.12+2.40+2.69+3.09)/4 = 2.575
    assert gpu_index_at(*cols(ROWS), T, GpuIndexParams(method="trimmed_mean")).units == 2_575_000
    # trim 0.25 -> 1 dropped at each end: (2.40+2.69)/2 = 2.545
    assert gpu_index_at(*cols(ROWS), T, GpuIndexParams(method="trimmed_mean", trim=0.25)).units == 2_545_000


def test_gpu_index__staleness_cutoff_drops_old_quote():
    # 6 h cut-off: hyperstack out; [1.00, 2.12, 2.69, 3.09] median 2.405, MAD = (.285+.685)/2 = .485,
    # cut-off 2.157 -> nothing rejected; weights 4,4,10,1 (W=19, half 9.5; cum 4, 8, 18) -> 2.69
    r = gpu_index_at(*cols(ROWS), T, GpuIndexParams(staleness_s=6 * 3600))
    assert r.value == 2.69 and "primecompute" in r.used and "hyperstack" in r.stale_or_missing


def test_gpu_index__weight_cap_matters():
    # cap 1 = plain median of the 4 kept quotes: (2.40 + 2.69) / 2 = 2.545 (exact half -> midpoint)
    assert gpu_index_at(*cols(ROWS), T, GpuIndexParams(weight_cap=1)).units == 2_545_000


def test_gpu_index__too_few_after_rejection__no_value_with_reason():
    # H100_80GB_PCIe snapshot at T: hyperstack 1.90 (3), massedcompute 1.89 (3), runpod 2.40 (5).
    # median 1.90, MAD 0.01 -> runpod rejected -> 2 quotes < 3.
    rows = [(T, "hyperstack", 1.90, 3), (T, "massedcompute", 1.89, 3), (T, "runpod", 2.40, 5)]
    r = gpu_index_at(*cols(rows), T)
    assert r.value is None and r.units is None and r.reason == REASON_TOO_FEW


def test_gpu_index__no_look_ahead_and_no_quotes():
    r = gpu_index_at(*cols(ROWS), 1761051453 - 1)
    assert r.value is None and r.reason == REASON_NO_QUOTES


def test_gpu_index_batch__matches_single_time_calls():
    q = data.load_gpu_quotes("H100-SXM")
    times = np.unique(q.timestamps)[::50]
    b = gpu_index_batch(*q, times)
    for t, v in zip(times, b.values):
        single = gpu_index_at(*q, int(t)).value
        assert (single is None and np.isnan(v)) or single == v


def test_gpu_index_params__validation():
    with pytest.raises(ValueError):
        GpuIndexParams(method="mean")
    with pytest.raises(ValueError):
        GpuIndexParams(trim=0.5)


def test_gpu_index_batch__no_quotes_at_all__no_value():
    empty = (np.array([], dtype=np.int64), np.array([], dtype=str), np.array([]), np.array([], dtype=np.int64))
    b = gpu_index_batch(*empty, np.array([T, T + 3600]))
    assert np.isnan(b.values).all() and list(b.reasons) == [REASON_NO_QUOTES] * 2
    assert gpu_index_at(*empty, T).reason == REASON_NO_QUOTES
