"""Generated sections of the docs: the one rule for replacing what sits between the markers.

A section sits in a Markdown file between ``<!-- BEGIN GENERATED: name -->`` and
``<!-- END GENERATED: name -->``; nothing outside the markers is touched, and a section with
no markers is an error (a renamed heading must not silently drop a table).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path


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


def publish(secs: dict[str, str], outputs: Callable[[], dict[Path, str]], mode: str, root: Path, target: str) -> int:
    """The generated-docs command (``make <target>``, ``--check`` in CI): ``mode`` "print" shows
    the sections; "check" returns 1 naming every file whose text differs from this run's
    ``outputs()`` (file -> full new text), 0 when all match; "write" writes them. Exit code."""
    if mode == "print":
        for name, body in secs.items():
            print(f"## {name}\n\n{body}\n")
        return 0
    fresh = outputs()
    names = ", ".join(str(f.relative_to(root)) for f in fresh)
    if mode == "check":
        stale = [str(f.relative_to(root)) for f, text in fresh.items() if (f.read_text() if f.exists() else "") != text]
        if stale:
            print(f"out of date: {', '.join(stale)}: run `make {target}`", file=sys.stderr)
            return 1
        print(f"up to date with the data: {names}")
        return 0
    if mode != "write":
        raise ValueError(f"mode {mode!r}: print, check or write")
    for f, text in fresh.items():
        f.write_text(text)
    print(f"wrote {len(secs)} sections to {names}")
    return 0
