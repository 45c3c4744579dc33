import gzip
import hashlib

import numpy as np
import pytest

from oracle import data

# sha256 of the uncompressed CSVs, as published in data/SOURCES.md
SHA256 = {
    "ercot_dam_hubs_2021_2022.csv.gz": "2e6bea3e7bb02dadb479a5778a20b2131eb5692c960eabaaa9b35a7c4320f547",
    "gpu_primeintellect_by_provider_2025-10_2025-11.csv.gz": "6367c1d647f5b613e4e445b2d1a7c02a81bcd37e73f6ac6dd20be54114c26b4d",
    "gpu_primeintellect_market_stats_2025-10_2025-11.csv.gz": "5c0892050d473c2b9aa5a1323c8ccdc81574278734d42d4b9badb4d683cf3d53",
    "pjm_hubs_da_rt_2025-05_2025-07.csv.gz": "33f1c7af20a9ff6fef10b5136c43ea13e40a5b1375396be8b6f2c60959447560",
    "pjm_rto_rt_2024.csv.gz": "5c680b367764e29eb70e259372a15e92d9cedb9e78adf049be2b9488262e4b9f",
}


@pytest.mark.parametrize("name", sorted(SHA256))
def test_vendored_csv__content_matches_published_sha256(name):
    raw = gzip.decompress((data.DEFAULT_DATA_DIR / name).read_bytes())
    assert hashlib.sha256(raw).hexdigest() == SHA256[name]


def test_load_power__ercot_hb_west__full_two_years_hourly():
    s = data.load_power("ERCOT", "HB_WEST", "DA")
    assert s.timestamps.dtype == np.int64 and s.prices.dtype == np.float64
    assert len(s.timestamps) == 17_520 and np.all(np.diff(s.timestamps) == 3600)
    assert s.timestamps[0] == 1609480800  # 2021-01-01T06:00:00Z = midnight CST
    assert not s.prices.flags.writeable


def test_load_power__accepts_dam_code_and_is_cached():
    assert data.load_power("PJM", "WESTERN HUB", "DA") is data.load_power("PJM", "WESTERN HUB", "DAM")
    assert len(data.load_power("PJM", "PJM-RTO", "RT").timestamps) == 8_784


def test_load_power__ercot_real_time__is_missing_and_says_so():
    with pytest.raises(data.DataNotFound, match="no vendored ERCOT HB_WEST RTM"):
        data.load_power("ERCOT", "HB_WEST", "RT")


def test_load_gpu_quotes__class_name_mapping():
    q = data.load_gpu_quotes("H100-SXM")
    assert len(q.timestamps) > 5000 and np.all(np.diff(q.timestamps) >= 0)
    assert set(np.unique(q.providers)) >= {"runpod", "lambdalabs", "nebius"}
    assert data.gpu_data_name("A100-80G") == "A100_80GB_SXM4"
    for ours in data.GPU_CLASSES:
        assert len(data.load_gpu_quotes(ours).timestamps) > 0
    with pytest.raises(data.DataNotFound, match="unknown GPU class"):
        data.load_gpu_quotes("RTX-5090")
