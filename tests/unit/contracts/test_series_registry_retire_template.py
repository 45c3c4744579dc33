"""SeriesRegistry.retire_template: owner only, once; listed markets are unaffected."""

from __future__ import annotations

import boa

from tests.utils.deployers import next_day


def test_retire_template__owner__inactive_and_event(protocol):
    tid = protocol.approve_template("R")
    with boa.env.prank(protocol.owner):
        protocol.registry.retire_template(tid)
    logs = [type(x).__name__ for x in protocol.registry.get_logs()]

    assert logs == ["TemplateRetired"]
    assert protocol.registry.template(tid).active is False


def test_retire_template__twice__reverts(protocol):
    tid = protocol.approve_template("R")
    with boa.env.prank(protocol.owner):
        protocol.registry.retire_template(tid)
        with boa.reverts("SeriesRegistry: template retired"):
            protocol.registry.retire_template(tid)


def test_retire_template__unknown__reverts(protocol):
    with boa.env.prank(protocol.owner), boa.reverts("SeriesRegistry: unknown template"):
        protocol.registry.retire_template(5)


def test_retire_template__non_owner__reverts(protocol, non_owner):
    tid = protocol.approve_template("R")
    with boa.env.prank(non_owner), boa.reverts("ownable: caller is not the owner"):
        protocol.registry.retire_template(tid)
    assert protocol.registry.template(tid).active is True


def test_retire_template__listed_market__still_settles(protocol):
    tid = protocol.approve_template("R")
    mid = protocol.list_from_template(tid, *next_day(boa.env.evm.patch.timestamp))
    with boa.env.prank(protocol.owner):
        protocol.registry.retire_template(tid)

    protocol.finalize(mid, 45_000_000)
    assert protocol.clearinghouse.market_state(mid).settled is True
