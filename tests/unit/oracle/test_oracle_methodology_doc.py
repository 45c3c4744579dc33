"""docs/methodology.md's generated tables are what scripts/methodology.py computes from the data.

The fast sections are checked here; the mark-error tables (a few minutes of marks) are checked
by ``make methodology-check``."""

from __future__ import annotations

import re

import pytest

from scripts import methodology


def generated(name: str) -> str:
    doc = methodology.DOC.read_text()
    m = re.search(
        rf"<!-- BEGIN GENERATED: {re.escape(name)} -->\n(.*?)\n<!-- END GENERATED: {re.escape(name)} -->", doc, re.S
    )
    assert m, f"no generated section {name}"
    return m.group(1)


@pytest.mark.parametrize(
    "name,make",
    [("peak-blocks", lambda: {"peak-blocks": methodology.peak_blocks()}), ("exactness", methodology.exactness)],
)
def test_generated_section_matches_a_fresh_run(name, make):
    assert generated(name) == make()[name]


def test_render__replaces_only_between_markers():
    doc = "a\n<!-- BEGIN GENERATED: x -->\nold\n<!-- END GENERATED: x -->\nb"
    assert methodology.render(doc, {"x": "new"}) == "a\n<!-- BEGIN GENERATED: x -->\nnew\n<!-- END GENERATED: x -->\nb"
    with pytest.raises(SystemExit):
        methodology.render(doc, {"y": "new"})
