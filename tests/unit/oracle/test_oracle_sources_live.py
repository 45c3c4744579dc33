"""Live adapters on recorded-SHAPE responses (no network, no live fetch happened).

The fixture files say where their numbers come from: every price is copied from a real
row of the vendored data, so parsing a fixture must reproduce the vendored series exactly.
"""

import numpy as np
import pytest
from oracle_test_helpers import utc

from oracle import data
from oracle.errors import SeriesUnavailable
from oracle.index import gpu_index_at
from oracle.sources import ErcotDamSource, PjmDataMinerSource, PrimeIntellectGpuSource, ReplaySource, RoutingSource


class RecordedFetch:
    """Serves recorded responses in order and remembers what was asked."""

    def __init__(self, responses):
        self.responses, self.calls = list(responses), []

    def __call__(self, url, params, headers):
        self.calls.append((url, dict(params), dict(headers)))
        return self.responses.pop(0)


def test_ercot_dam__two_pages_fall_back_day__matches_vendored(load_fixture):
    fetch = RecordedFetch(load_fixture("ercot_dam_spp_2021-11-07.json")["responses"])
    src = ErcotDamSource(fetch, subscription_key="sub-key")
    start, end = utc("2021-11-07T05:00Z"), utc("2021-11-08T06:00Z")  # 25-hour local day
    got = src.power_hourly("ERCOT", "HB_WEST", "DA", start, end)
    want = ReplaySource().power_hourly("ERCOT", "HB_WEST", "DA", start, end)
    assert len(got.timestamps) == 25
    np.testing.assert_array_equal(got.timestamps, want.timestamps)
    np.testing.assert_array_equal(got.prices, want.prices)
    # the repeated 01:00 hour: CDT copy at 06:00Z (6.59), CST copy (DSTFlag) at 07:00Z (23.20)
    assert got.prices[1:3].tolist() == [6.59, 23.20]
    url, params, headers = fetch.calls[0]
    assert url.endswith("/np4-190-cd/dam_stlmnt_pnt_prices") and params["settlementPoint"] == "HB_WEST"
    assert params["deliveryDateFrom"] == params["deliveryDateTo"] == "2021-11-07"
    assert headers == {"Ocp-Apim-Subscription-Key": "sub-key"} and len(fetch.calls) == 2


def test_ercot__real_time_and_other_iso__unavailable():
    src = ErcotDamSource(RecordedFetch([]))
    with pytest.raises(SeriesUnavailable, match="real-time"):
        src.power_hourly("ERCOT", "HB_WEST", "RT", 0, 3600)
    with pytest.raises(SeriesUnavailable):
        src.power_hourly("PJM", "WESTERN HUB", "DA", 0, 3600)


def test_pjm_da__parses_items_filters_node__matches_vendored(load_fixture):
    fetch = RecordedFetch([load_fixture("pjm_da_hrl_lmps_2025-07-01.json")["response"]])
    src = PjmDataMinerSource(fetch)
    start, end = utc("2025-07-01T04:00Z"), utc("2025-07-01T10:00Z")
    got = src.power_hourly("PJM", "WESTERN HUB", "DA", start, end)
    want = data.load_power("PJM", "WESTERN HUB", "DA")
    i = np.searchsorted(want.timestamps, start)
    np.testing.assert_array_equal(got.timestamps, want.timestamps[i : i + 6])
    np.testing.assert_array_equal(got.prices, want.prices[i : i + 6])
    url, params, _ = fetch.calls[0]
    assert url.endswith("/da_hrl_lmps") and params["pnode_name"] == "WESTERN HUB"
    assert params["datetime_beginning_utc"] == "7/1/2025 04:00to7/1/2025 09:00"


def test_prime_intellect__snapshot_to_quotes__same_index_as_vendored(load_fixture):
    fx = load_fixture("primeintellect_availability_h100.json")
    t = utc(fx["snapshot_utc"])
    src = PrimeIntellectGpuSource(RecordedFetch([fx["response"]]), clock=lambda: t)
    q = src.gpu_quotes("H100-SXM", "GLOBAL", t - 86400, t + 1)
    vendored = data.load_gpu_quotes("H100-SXM")
    sel = vendored.timestamps == t
    assert dict(zip(q.providers.tolist(), q.prices.tolist(), strict=False)) == dict(
        zip(vendored.providers[sel].tolist(), vendored.prices[sel].tolist(), strict=False)
    )
    assert q.n_listings.tolist() == [1, 1, 1, 1]  # the fixture has one offer per provider
    # index from these four quotes alone (no hyperstack): [1.00, 2.12, 2.69, 3.09] -> one vote
    # each, median (2.12 + 2.69) / 2 = 2.405
    assert gpu_index_at(*q, t).units == 2_405_000


def test_prime_intellect__spot_offers_kept_out_of_the_on_demand_index(load_fixture):
    """A provider adding a cheap spot offer does not change the on-demand quotes. The spot offer
    (0.50 $/GPU-h) is an attack input like issue 9's "$0.50 provider", not a market price."""
    import copy

    fx = load_fixture("primeintellect_availability_h100.json")
    t = utc(fx["snapshot_utc"])
    resp = copy.deepcopy(fx["response"])
    spot = copy.deepcopy(resp["H100_80GB"][0])  # lambdalabs SXM5, 8 GPUs
    spot.update(isSpot=True, cloudId="lambdalabs-SXM5-8x-spot", prices={**spot["prices"], "onDemand": 4.00})
    resp["H100_80GB"].append(spot)
    on_demand = PrimeIntellectGpuSource(RecordedFetch([resp]), clock=lambda: t).gpu_quotes(
        "H100-SXM", "GLOBAL", t, t + 1
    )
    assert dict(zip(on_demand.providers.tolist(), on_demand.prices.tolist(), strict=False))["lambdalabs"] == 3.09
    assert gpu_index_at(*on_demand, t).units == 2_405_000
    spot_q = PrimeIntellectGpuSource(RecordedFetch([resp]), clock=lambda: t, spot=True).gpu_quotes(
        "H100-SXM", "GLOBAL", t, t + 1
    )
    assert dict(zip(spot_q.providers.tolist(), spot_q.prices.tolist(), strict=False)) == {"lambdalabs": 0.5}


def test_prime_intellect__socket_filter_pcie(load_fixture):
    fx = load_fixture("primeintellect_availability_h100.json")
    t = utc(fx["snapshot_utc"])
    src = PrimeIntellectGpuSource(RecordedFetch([fx["response"]]), clock=lambda: t)
    q = src.gpu_quotes("H100-PCIE", "GLOBAL", t, t + 1)
    assert dict(zip(q.providers.tolist(), q.prices.tolist(), strict=False)) == {
        "hyperstack": 1.9,
        "massedcompute": 1.89,
        "runpod": 2.4,
    }
    with pytest.raises(SeriesUnavailable):
        src.gpu_quotes("H100-PCIE", "US", t, t + 1)


def test_routing_source__dispatch():
    replay = ReplaySource()
    src = RoutingSource({"ERCOT": replay}, gpu=None)
    assert (
        len(src.power_hourly("ERCOT", "HB_WEST", "DA", utc("2021-03-09T06:00Z"), utc("2021-03-09T12:00Z")).prices) == 6
    )
    with pytest.raises(SeriesUnavailable):
        src.power_hourly("PJM", "WESTERN HUB", "DA", 0, 1)
    with pytest.raises(SeriesUnavailable):
        src.gpu_quotes("H100-SXM", "GLOBAL", 0, 1)
