"""scripts._docgen.publish: the one print / --check / --write rule of the generated docs
(scripts.methodology, scripts.margins). On files in a temp dir."""

from __future__ import annotations

import pytest

from scripts._docgen import publish, render_sections

DOC = "# t\n<!-- BEGIN GENERATED: a -->\nold\n<!-- END GENERATED: a -->\ntail\n"


def _outputs(root, secs):
    doc, extra = root / "doc.md", root / "extra.json"
    return lambda: {doc: render_sections(doc.read_text(), secs, "doc.md"), extra: '{"x": 1}\n'}


def test_publish__print_writes_nothing(tmp_path, capsys):
    (tmp_path / "doc.md").write_text(DOC)
    assert publish({"a": "new"}, _outputs(tmp_path, {"a": "new"}), "print", tmp_path, "t") == 0
    assert "## a\n\nnew" in capsys.readouterr().out
    assert (tmp_path / "doc.md").read_text() == DOC and not (tmp_path / "extra.json").exists()


def test_publish__check_names_stale_files__write__then_check_passes(tmp_path, capsys):
    (tmp_path / "doc.md").write_text(DOC)
    out = _outputs(tmp_path, {"a": "new"})
    assert publish({"a": "new"}, out, "check", tmp_path, "t") == 1
    assert "out of date: doc.md, extra.json: run `make t`" in capsys.readouterr().err
    assert (tmp_path / "doc.md").read_text() == DOC  # a check changes nothing
    assert publish({"a": "new"}, out, "write", tmp_path, "t") == 0
    assert (tmp_path / "doc.md").read_text() == DOC.replace("old", "new")
    assert publish({"a": "new"}, out, "check", tmp_path, "t") == 0
    (tmp_path / "extra.json").write_text("{}\n")  # one file drifts: only it is named
    assert publish({"a": "new"}, out, "check", tmp_path, "t") == 1
    assert "out of date: extra.json: run" in capsys.readouterr().err


def test_publish__unknown_mode__refused_before_writing(tmp_path):
    (tmp_path / "doc.md").write_text(DOC)
    with pytest.raises(ValueError, match="print, check or write"):
        publish({"a": "new"}, _outputs(tmp_path, {"a": "new"}), "overwrite", tmp_path, "t")
    assert (tmp_path / "doc.md").read_text() == DOC
