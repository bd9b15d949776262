"""Each form is recognised by its content, whatever the file is called; anything else is refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mitmproxy import http

from capture.importers import detect_form
from capture.model import CaptureError
from tests.capture import forms
from tests.capture.conftest import cli
from tests.capture.test_importers_har import browser_har
from tests.capture.test_importers_mailbox_log import SYNC_ENTRY
from tests.capture.test_importers_zpush_log import ISSUE_196


def test_every_form_is_recognised_by_content_not_name(tmp_path: Path, lab_flows: list[http.HTTPFlow]) -> None:
    (tmp_path / "a.log").write_bytes(forms.LAB_SESSION.read_bytes())  # a .mitm called .log
    (tmp_path / "b.txt").write_text(json.dumps(browser_har()), encoding="utf-8")
    forms.write_saz(tmp_path / "c.har", lab_flows[:3])
    (tmp_path / "d.saz").write_text(SYNC_ENTRY, encoding="utf-8")
    (tmp_path / "e.mitm").write_text(ISSUE_196, encoding="utf-8")
    (tmp_path / "f.json").write_bytes(SYNC_ENTRY.encode("utf-16"))
    detected = {name: detect_form(tmp_path / name) for name in ("a.log", "b.txt", "c.har", "d.saz", "e.mitm", "f.json")}
    assert detected == {"a.log": "mitm", "b.txt": "har", "c.har": "saz", "d.saz": "mailbox-log",
                        "e.mitm": "zpush-log", "f.json": "mailbox-log"}


@pytest.mark.parametrize("content", [b"", b"hello world\n", b'{"not": "a har"}', b"PK\x03\x04garbage"])
def test_other_content_is_refused(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "x.har").write_bytes(content)
    with pytest.raises(CaptureError, match="x.har: (the file is empty|not a form eas-inspector reads)"):
        detect_form(tmp_path / "x.har")


def test_the_cli_refuses_unknown_content_in_one_line_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "notes.har").write_text("just some notes\n")
    result = cli("import", "notes.har", "out.sqlite", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == (
        "eas-inspector: notes.har: not a form eas-inspector reads (mitmproxy flow file, HAR 1.2 (HTTP Archive), "
        "Fiddler session archive, Exchange ActiveSync mailbox log, z-push / grommunio-sync debug log)\n"
    )
    assert not (tmp_path / "out.sqlite").exists()


def test_form_can_be_given(tmp_path: Path) -> None:
    (tmp_path / "z.txt").write_text(ISSUE_196, encoding="utf-8")
    result = cli("import", "--form", "har", "z.txt", "z.sqlite", cwd=tmp_path)
    assert result.returncode == 1  # nothing could be imported
    assert result.stderr.splitlines()[0] == (
        "eas-inspector: z.txt: entry 1: line 1, column 1: expected a JSON object (a HAR file starts with {), "
        "found '0'"
    )
