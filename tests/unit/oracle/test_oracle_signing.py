import pytest
from eth_account import Account
from oracle_test_helpers import REPORTER_KEY

from oracle.signing import REPORT_TYPEHASH, KeyConfigError, ReportSigner, recover_report_signer, report_digest


@pytest.fixture
def report_vector(eip712_vectors):
    (v,) = [v for v in eip712_vectors["vectors"] if v["typed_data"]["primaryType"] == "Report"]
    m, d = v["typed_data"]["message"], v["typed_data"]["domain"]
    args = (m["feed_ids"], [int(p) for p in m["prices"]], int(m["observed_at"]), d["chainId"], d["verifyingContract"])
    return v, args


def test_report_typehash__matches_vector(eip712_vectors):
    assert eip712_vectors["report_typehash"] == REPORT_TYPEHASH


def test_sign_report__reproduces_golden_digest_and_signature(report_vector):
    v, args = report_vector
    signed = ReportSigner(REPORTER_KEY).sign(*args)
    assert signed.digest == v["digest"]
    assert signed.signature == v["signature"]
    assert signed.signer == v["signer"]
    assert "0x" + report_digest(*args).hex() == v["digest"]
    assert recover_report_signer(*args, v["signature"]) == v["signer"]


def test_sign_report__other_chain__different_digest(report_vector):
    v, (feeds, prices, at, chain, oracle) = report_vector
    assert "0x" + report_digest(feeds, prices, at, chain + 1, oracle).hex() != v["digest"]


@pytest.mark.parametrize("prices", [[1], [1, 2, 3], [1.5, 2], [True, 2], [2**255, 0]])
def test_sign_report__bad_prices__raises(report_vector, prices):
    _, (feeds, _, at, chain, oracle) = report_vector
    with pytest.raises(ValueError):
        ReportSigner(REPORTER_KEY).sign(feeds, prices, at, chain, oracle)


def test_signer__repr_and_errors_never_show_key(monkeypatch):
    s = ReportSigner(REPORTER_KEY)
    assert REPORTER_KEY[2:] not in repr(s) and s.address in repr(s)
    monkeypatch.setenv("BAD_KEY", "0xnot-a-key-secret")
    with pytest.raises(KeyConfigError) as e:
        ReportSigner.from_env("BAD_KEY")
    assert "secret" not in str(e.value)
    with pytest.raises(KeyConfigError, match="UNSET_KEY"):
        ReportSigner.from_env("UNSET_KEY")
    monkeypatch.setenv("GOOD_KEY", REPORTER_KEY)
    assert ReportSigner.from_env("GOOD_KEY").address == s.address


def test_signer__from_keystore(tmp_path, monkeypatch):
    import json

    ks = Account.encrypt(REPORTER_KEY, "pw", kdf="pbkdf2", iterations=2)
    path = tmp_path / "reporter.json"
    path.write_text(json.dumps(ks))
    monkeypatch.setenv("KS_PW", "pw")
    assert ReportSigner.from_keyfile(path, "KS_PW").address == Account.from_key(REPORTER_KEY).address
    monkeypatch.setenv("KS_PW", "wrong")
    with pytest.raises(KeyConfigError, match="wrong password"):
        ReportSigner.from_keyfile(path, "KS_PW")
