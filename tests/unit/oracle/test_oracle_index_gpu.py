"""GPU index on real quotes: H100_80GB_SXM5 as of snapshot 2025-10-22T08:37:21Z.

The rows below are copied from data/gpu_primeintellect_by_provider_2025-10_2025-11.csv.gz:
the four providers quoted in that snapshot plus hyperstack's latest quote (19.7 h older,
so still inside the 24 h staleness cut-off). Expected values are worked by hand.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oracle import data
from oracle.index import (
    REASON_NO_QUOTES,
    REASON_TOO_FEW,
    GpuIndexParams,
    gpu_index_at,
    gpu_index_batch,
    manipulation_bound,
)

OLD = GpuIndexParams(method="weighted_median")  # the previous methodology, kept for comparison only

T = 1761122241  # 2025-10-22T08:37:21Z
ROWS = [  # (timestamp, provider, price $/GPU-h, n_listings)
    (1761051453, "hyperstack", 2.40, 1),  # 2025-10-21T12:57:33Z
    (T, "lambdalabs", 3.09, 1),
    (T, "nebius", 2.12, 4),
    (T, "primecompute", 1.00, 4),
    (T, "runpod", 2.69, 10),
]


def cols(rows):
    ts, prov, px, n = zip(*rows, strict=False)
    return np.array(ts), np.array(prov), np.array(px), np.array(n)


def test_rows_are_real():
    q = data.load_gpu_quotes("H100-SXM")
    for t, p, x, n in ROWS:
        hit = (q.timestamps == t) & (q.providers == p)
        assert hit.sum() == 1 and q.prices[hit][0] == x and q.n_listings[hit][0] == n


def test_gpu_index__default__one_vote_per_provider_median():
    # [1.00, 2.12, 2.40, 2.69, 3.09]: median 2.40, whatever the listing counts (4, 4, 1, 10, 1)
    r = gpu_index_at(*cols(ROWS), T)
    assert r.value == 2.40 and r.units == 2_400_000 and r.reason == "" and r.rejected == {}
    assert set(r.used) == {"hyperstack", "lambdalabs", "nebius", "primecompute", "runpod"}


def test_gpu_index__listing_counts_do_not_matter():
    spam = [(t, p, x, 10_000 if p == "primecompute" else n) for t, p, x, n in ROWS]
    assert gpu_index_at(*cols(spam), T).units == gpu_index_at(*cols(ROWS), T).units == 2_400_000
    # the old method: runpod's 10 listings won the weighted median at 2.69
    assert gpu_index_at(*cols(ROWS), T, OLD).value == 2.69


def test_gpu_index__many_rows_of_one_provider__still_one_vote():
    # primecompute posts 50 rows at 0.01 in the last hour: only its latest quote counts
    spam = ROWS + [(T - 60 * i, "primecompute", 0.01, 1) for i in range(1, 51)]
    assert gpu_index_at(*cols(spam), T).units == 2_400_000


def test_gpu_index__old_method__outlier_rejected_by_mad__weighted_median():
    # median of [1.00, 2.12, 2.40, 2.69, 3.09] = 2.40; |dev| = [1.40, .28, 0, .29, .69] -> MAD = .29
    # cut-off 3 * 1.4826 * .29 = 1.2899 -> primecompute (1.40 away) is rejected.
    # kept, sorted with weights: 2.12 (4), 2.40 (1), 2.69 (10), 3.09 (1); W = 16, half = 8;
    # cumulative 4, 5, 15 -> first >= 8 is 2.69.
    r = gpu_index_at(*cols(ROWS), T, OLD)
    assert r.value == 2.69 and r.units == 2_690_000 and r.reason == ""
    assert r.rejected == {"primecompute": 1.0}
    assert set(r.used) == {"hyperstack", "lambdalabs", "nebius", "runpod"}


def test_gpu_index__on_full_data_set__same_as_hand_rows():
    q = data.load_gpu_quotes("H100-SXM")
    assert gpu_index_at(*q, T).value == 2.40
    r = gpu_index_at(*q, T, OLD)
    assert r.value == 2.69 and r.rejected == {"primecompute": 1.0}


def test_gpu_index__staleness_cutoff_drops_old_quote():
    # 6 h cut-off: hyperstack out; [1.00, 2.12, 2.69, 3.09] median 2.405, MAD = (.285+.685)/2 = .485,
    # cut-off 2.157 -> nothing rejected; weights 4,4,10,1 (W=19, half 9.5; cum 4, 8, 18) -> 2.69
    r = gpu_index_at(*cols(ROWS), T, GpuIndexParams(staleness_s=6 * 3600, method="weighted_median"))
    assert r.value == 2.69 and "primecompute" in r.used and "hyperstack" in r.stale_or_missing
    # the default median of the 4 fresh quotes [1.00, 2.12, 2.69, 3.09] = (2.12 + 2.69) / 2
    assert gpu_index_at(*cols(ROWS), T, GpuIndexParams(staleness_s=6 * 3600)).units == 2_405_000


def test_gpu_index__weight_cap_matters():
    # cap 1 = plain median of the 4 kept quotes: (2.40 + 2.69) / 2 = 2.545 (exact half -> midpoint)
    assert gpu_index_at(*cols(ROWS), T, GpuIndexParams(weight_cap=1, method="weighted_median")).units == 2_545_000


def test_gpu_index__old_method__too_few_after_rejection__no_value_with_reason():
    # H100_80GB_PCIe snapshot at T: hyperstack 1.90 (3), massedcompute 1.89 (3), runpod 2.40 (5).
    # median 1.90, MAD 0.01 -> runpod rejected -> 2 quotes < 3.
    rows = [(T, "hyperstack", 1.90, 3), (T, "massedcompute", 1.89, 3), (T, "runpod", 2.40, 5)]
    r = gpu_index_at(*cols(rows), T, OLD)
    assert r.value is None and r.units is None and r.reason == REASON_TOO_FEW
    # one vote each and no filter: the median 1.90 of three independent providers
    assert gpu_index_at(*cols(rows), T).units == 1_900_000


def test_gpu_index__fewer_than_min_providers__no_value():
    rows = [(T, "hyperstack", 1.90, 3), (T, "massedcompute", 1.89, 3)]
    r = gpu_index_at(*cols(rows), T)
    assert r.value is None and r.reason == REASON_TOO_FEW


def test_gpu_index__no_look_ahead_and_no_quotes():
    r = gpu_index_at(*cols(ROWS), 1761051453 - 1)
    assert r.value is None and r.reason == REASON_NO_QUOTES


def test_gpu_index_batch__matches_single_time_calls():
    q = data.load_gpu_quotes("H100-SXM")
    times = np.unique(q.timestamps)[::50]
    b = gpu_index_batch(*q, times)
    for t, v in zip(times, b.values, strict=False):
        single = gpu_index_at(*q, int(t)).value
        assert (single is None and np.isnan(v)) or single == v


def test_gpu_index_params__validation():
    with pytest.raises(ValueError):
        GpuIndexParams(method="mean")
    with pytest.raises(ValueError):
        GpuIndexParams(method="trimmed_mean")


def test_gpu_index_batch__no_quotes_at_all__no_value():
    empty = (np.array([], dtype=np.int64), np.array([], dtype=str), np.array([]), np.array([], dtype=np.int64))
    b = gpu_index_batch(*empty, np.array([T, T + 3600]))
    assert np.isnan(b.values).all() and list(b.reasons) == [REASON_NO_QUOTES] * 2
    assert gpu_index_at(*empty, T).reason == REASON_NO_QUOTES


def test_manipulation_bound__neighbouring_order_statistics():
    assert manipulation_bound([1.0, 2.0, 3.0, 4.0]) == (2.0, 3.0)  # m even: [y2, y3]
    assert manipulation_bound([1.0, 2.0, 3.0]) == (1.5, 2.5)  # m = 3: [(y1+y2)/2, (y2+y3)/2]
    assert manipulation_bound([2.0, 4.0]) == (2.0, 4.0)  # 3 providers in all: the range of the other two
    assert manipulation_bound([2.0]) == (-np.inf, np.inf)  # 2 providers: unbounded, hence min_quotes = 3


cents = st.integers(min_value=1, max_value=100_000).map(lambda c: c / 100)  # quotes are whole cents
attack_price = st.one_of(
    cents,
    st.floats(min_value=1e-6, max_value=1e7, allow_nan=False),
    st.sampled_from([0.0, -5.0, float("nan"), float("inf")]),
)


@settings(max_examples=300, deadline=None)
@given(
    honest=st.lists(cents, min_size=2, max_size=9),
    attack=st.lists(
        st.tuples(attack_price, st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=86_399)),
        min_size=0,
        max_size=20,
    ),
)
def test_property__one_provider_moves_index_at_most_to_the_bound(honest, attack):
    """Whatever ONE provider quotes, however many rows and listings it posts in the last day,
    the index stays within manipulation_bound(other providers' quotes), or has no value."""
    t = T
    rows = [(t - 3600, f"honest{i}", x, 1) for i, x in enumerate(honest)]
    rows += [(t - age, "attacker", px, n) for px, n, age in attack]
    r = gpu_index_at(*cols(rows), t)
    lo, hi = manipulation_bound(honest)
    if len(honest) + (1 if attack else 0) < 3:
        assert r.value is None
        return
    if r.value is not None:
        assert lo - 1e-12 <= r.value <= hi + 1e-12, (r.value, lo, hi)
    else:  # only possible when the attacker's vote is invalid and the honest ones are too few
        assert len(honest) < 3
    # and the batch path gives the same number
    b = gpu_index_batch(*cols(rows), np.array([t]))
    assert (r.value is None and np.isnan(b.values[0])) or b.values[0] == r.value
