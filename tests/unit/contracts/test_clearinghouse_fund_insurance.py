"""Clearinghouse.fund_insurance: anyone adds collateral to the insurance fund."""

import boa
import pytest

from tests.utils.contract_helpers import USDC, events


@pytest.fixture
def approved(usdc, clearinghouse, keeper):
    usdc.mint(keeper.address, 1_000 * USDC)
    with boa.env.prank(keeper.address):
        usdc.approve(clearinghouse.address, 1_000 * USDC)


def test_fund_insurance__anyone__grows_fund(clearinghouse, usdc, keeper, approved):
    with boa.env.prank(keeper.address):
        clearinghouse.fund_insurance(300 * USDC)

    (log,) = events(clearinghouse, "InsuranceFunded")
    assert (log.payer, log.amount) == (keeper.address, 300 * USDC)
    assert clearinghouse.insurance_fund() == 300 * USDC
    assert clearinghouse.collateral(keeper.address) == 0
    assert usdc.balanceOf(clearinghouse.address) == 300 * USDC


def test_fund_insurance__zero_amount__reverts(clearinghouse, keeper, approved, snapshot):
    before = snapshot()

    with boa.env.prank(keeper.address), boa.reverts("Clearinghouse: zero amount"):
        clearinghouse.fund_insurance(0)

    assert snapshot() == before


def test_fund_insurance__not_approved__reverts(clearinghouse, usdc, non_owner, snapshot):
    usdc.mint(non_owner, 10)
    before = snapshot()

    with boa.env.prank(non_owner), boa.reverts("erc20: insufficient allowance"):
        clearinghouse.fund_insurance(10)

    assert snapshot() == before


def test_fund_insurance__token_returns_false__reverts(failing_protocol, failing_snapshot, keeper):
    token, ch = failing_protocol.usdc, failing_protocol.clearinghouse
    token.mint(keeper.address, 100)
    with boa.env.prank(keeper.address):
        token.approve(ch.address, 100)
    token.set_failing(True)
    before = failing_snapshot()

    with boa.env.prank(keeper.address), boa.reverts("Clearinghouse: transfer failed"):
        ch.fund_insurance(100)

    assert failing_snapshot() == before

    assert ch.insurance_fund() == 0
    assert token.balanceOf(keeper.address) == 100
