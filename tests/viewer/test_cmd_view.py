"""`eas-inspector view` argument handling: default capture, .mitm import, clear errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from mitmproxy import io
from mitmproxy.test import tflow, tutils

from capture.reader import CaptureReader
from eas_inspector.cli import main
from eas_inspector.cmd_view import ViewError, newest_capture, resolve
from tests.viewer.conftest import SYNC_REQUEST, SYNC_RESPONSE, standard_flows, write_capture


def test_newest_capture_by_mtime(tmp_path: Path) -> None:
    old, new = tmp_path / "eas-1.sqlite", tmp_path / "eas-2.sqlite"
    write_capture(old, standard_flows()[:1])
    write_capture(new, standard_flows()[:1])
    os.utime(old, (2_000_000_000, 2_000_000_000))
    os.utime(new, (1_000_000_000, 1_000_000_000))
    (tmp_path / "notes.txt").write_text("x")
    assert newest_capture(tmp_path) == old
    target = resolve(None, True, directory=tmp_path)
    assert (target.path, target.follow, target.temporary) == (old, True, None)


def test_no_capture_and_missing_file_are_clear_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ViewError, match="no capture in"):
        resolve(None, False, directory=tmp_path / "empty")
    assert main(["view", str(tmp_path / "missing.sqlite")]) == 1
    assert capsys.readouterr().err == f"eas-inspector: view: {tmp_path / 'missing.sqlite'}: no such file\n"


def test_not_a_capture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bogus = tmp_path / "bogus.sqlite"
    bogus.write_text("hello")
    assert main(["view", str(bogus)]) == 1
    assert capsys.readouterr().err == f"eas-inspector: view: {bogus}: neither an eas-inspector capture nor a mitmproxy flow file\n"
    fake = tmp_path / "fake.mitm"
    fake.write_text("hello")
    assert main(["view", str(fake)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"importing {fake} into a temporary capture …"
    assert err[1].startswith(f"eas-inspector: view: {fake}: ")


def test_mitm_file_is_imported_into_a_temporary_capture(tmp_path: Path) -> None:
    flow = tflow.tflow(
        req=tutils.treq(
            method=b"POST",
            host="mail.example.com",
            port=443,
            scheme=b"https",
            authority=b"",
            path=b"/Microsoft-Server-ActiveSync?Cmd=Sync&User=jdoe&DeviceId=ABC&DeviceType=iPhone",
            headers=((b"Content-Type", b"application/vnd.ms-sync.wbxml"), (b"MS-ASProtocolVersion", b"16.1")),
            content=SYNC_REQUEST,
        ),
        resp=tutils.tresp(headers=((b"Content-Type", b"application/vnd.ms-sync.wbxml"),), content=SYNC_RESPONSE),
    )
    source = tmp_path / "traffic.mitm"
    with source.open("wb") as f:
        io.FlowWriter(f).add(flow)
    target = resolve(str(source), True)
    try:
        assert target.follow is False
        assert target.label == "traffic.mitm (1 flows imported)"
        with CaptureReader(target.path) as reader:
            assert reader.count_flows() == 1
            assert reader.flows()[0].command == "Sync"
        temporary = Path(target.path).parent
    finally:
        target.cleanup()
    assert not temporary.exists()
