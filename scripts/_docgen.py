"""Generated sections of the docs: the one rule for replacing what sits between the markers.

A section sits in a Markdown file between ``<!-- BEGIN GENERATED: name -->`` and
``<!-- END GENERATED: name -->``; nothing outside the markers is touched, and a section with
no markers is an error (a renamed heading must not silently drop a table).
"""

from __future__ import annotations

import re


def render_sections(doc: str, secs: dict[str, str], doc_name: str) -> str:
    """``doc`` with each named section's body replaced; ``SystemExit`` naming ``doc_name`` when a
    section has no markers."""
    for name, body in secs.items():
        pat = re.compile(
            rf"(<!-- BEGIN GENERATED: {re.escape(name)} -->).*?(<!-- END GENERATED: {re.escape(name)} -->)", re.S
        )
        if not pat.search(doc):
            raise SystemExit(f"{doc_name} has no markers for section {name!r}")
        doc = pat.sub(lambda m: f"{m.group(1)}\n{body}\n{m.group(2)}", doc)  # noqa: B023 - used at once
    return doc
