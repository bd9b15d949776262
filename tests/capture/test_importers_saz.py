"""`eas-inspector import` of Fiddler .saz archives: the lab session, Fiddler's quirks, and a cut archive."""

from __future__ import annotations

import zipfile
from pathlib import Path

from mitmproxy import http

from capture.reader import CaptureReader
from tests.capture import forms
from tests.capture.conftest import LAB_FIRST_COMMANDS, Stored, assert_lab_session, cli, stored

CHUNKED_SESSION = [
    ("raw/01_c.txt", b"CONNECT mail.example.com:443 HTTP/1.1\r\nHost: mail.example.com:443\r\n\r\n"),
    ("raw/01_s.txt", b"HTTP/1.1 200 Connection Established\r\n\r\n"),
    ("raw/02_c.txt",
     b"POST https://mail.example.com/Microsoft-Server-ActiveSync?Cmd=FolderSync&User=dave&DeviceId=SAZ1"
     b"&DeviceType=Fiddler HTTP/1.1\r\nHost: mail.example.com\r\nMS-ASProtocolVersion: 14.1\r\n"
     b"Content-Type: application/vnd.ms-sync.wbxml\r\nContent-Length: 13\r\n\r\n"
     + bytes.fromhex("03016a00000756520330000101")),
    # The FolderSync Status 9 answer (Z-Hub/Z-Push issue 196) sent chunked: 5 + 8 bytes, then the last chunk.
    ("raw/02_s.txt",
     b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.ms-sync.wbxml\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"5\r\n" + bytes.fromhex("03016a0000") + b"\r\n8\r\n" + bytes.fromhex("07564c0339000101") + b"\r\n0\r\n\r\n"),
    ("raw/02_m.xml",
     b'<?xml version="1.0" encoding="utf-8"?><Session SID="2" BitFlags="0"><SessionTimers '
     b'ClientConnected="2026-11-21T10:00:00.0000000+01:00" ClientBeginRequest="2026-11-21T10:00:00.1250000+01:00" '
     b'ClientDoneRequest="2026-11-21T10:00:00.1300000+01:00" ServerBeginResponse="0001-01-01T00:00:00" '
     b'ServerDoneResponse="2026-11-21T10:00:00.5000000+01:00" /><SessionFlags>'
     b'<SessionFlag N="x-clientip" V="192.0.2.7" /><SessionFlag N="x-hostip" V="192.0.2.10" />'
     b'</SessionFlags></Session>'),
    ("raw/03_c.txt",
     b"POST https://mail.example.com/Microsoft-Server-ActiveSync?Cmd=Ping&User=dave&DeviceId=SAZ1"
     b"&DeviceType=Fiddler HTTP/1.1\r\nHost: mail.example.com\r\n\r\n"),
]


def test_the_lab_session_as_a_saz_gives_the_same_flows(tmp_path: Path, lab_flows: list[http.HTTPFlow],
                                                       lab_reference: list[Stored]) -> None:
    forms.write_saz(tmp_path / "lab.saz", lab_flows)
    result = cli("import", "lab.saz", "saz.sqlite", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    flows = stored(tmp_path / "saz.sqlite")
    assert_lab_session(flows)
    assert [(f.command, f.http_status, f.eas_status, f.user, f.device_id) for f in flows] == [
        (f.command, f.http_status, f.eas_status, f.user, f.device_id) for f in lab_reference
    ]
    assert [(f.request_body, f.response_body) for f in flows] == [
        (f.request_body, f.response_body) for f in lab_reference
    ]
    assert flows[2].extra["origin"] == {"form": "saz", "file": "lab.saz", "entry": 3}
    assert flows[2].extra["fiddler_flags"] == {"x-clientip": "127.0.0.1", "x-hostip": "127.0.0.1"}


def test_tunnels_are_skipped_chunked_bodies_joined_and_timers_read(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "fiddler.saz", "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in CHUNKED_SESSION:
            archive.writestr(name, data)
    result = cli("import", "fiddler.saz", "f.sqlite", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "imported 2 EAS/Autodiscover flows into f.sqlite; skipped 1 non-HTTP flow"
    folder_sync, ping = stored(tmp_path / "f.sqlite")
    assert (folder_sync.command, folder_sync.eas_status, folder_sync.user) == ("FolderSync", 9, "dave")
    assert folder_sync.response_body == bytes.fromhex("03016a000007564c0339000101")
    assert folder_sync.extra["missing"] == []
    assert (ping.command, ping.http_status) == ("Ping", None)
    assert ping.extra["missing"] == ["response", "timestamps"]
    with CaptureReader(tmp_path / "f.sqlite") as reader:
        record = reader.flow(1)
    # 10:00:00.125 at +01:00; the unset ServerBeginResponse timer (year 1) is left out
    assert record.timestamps["request_start"] == 1795251600.125
    assert "response_start" not in record.timestamps
    assert record.server_address == "192.0.2.10:443"


def test_a_cut_archive_keeps_the_sessions_before_the_cut(tmp_path: Path, lab_flows: list[http.HTTPFlow]) -> None:
    forms.write_saz(tmp_path / "lab.saz", lab_flows[:10])
    data = (tmp_path / "lab.saz").read_bytes()
    with zipfile.ZipFile(tmp_path / "lab.saz") as archive:
        eighth_response = archive.getinfo("raw/008_s.txt")
    cut_at = eighth_response.header_offset + 40  # inside the local header of session 8's response
    (tmp_path / "cut.saz").write_bytes(data[:cut_at])
    result = cli("import", "cut.saz", "cut.sqlite", cwd=tmp_path)
    assert result.returncode == 3
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[0] == (
        "eas-inspector: cut.saz: session 8: a zip member header at byte "
        f"{eighth_response.header_offset:,} is cut short; the archive has no central directory (cut short?)"
    )
    assert [f.command for f in stored(tmp_path / "cut.sqlite")] == LAB_FIRST_COMMANDS  # sessions 1-7


def test_a_damaged_member_costs_only_its_session(tmp_path: Path, lab_flows: list[http.HTTPFlow]) -> None:
    forms.write_saz(tmp_path / "lab.saz", lab_flows[:4])
    data = bytearray((tmp_path / "lab.saz").read_bytes())
    with zipfile.ZipFile(tmp_path / "lab.saz") as archive:
        info = archive.getinfo("raw/002_c.txt")
    start = info.header_offset + 30 + len(info.filename)
    data[start : start + 4] = b"\xff\xff\xff\xff"  # the deflate stream of session 2's request
    (tmp_path / "damaged.saz").write_bytes(bytes(data))
    result = cli("import", "damaged.saz", "d.sqlite", cwd=tmp_path)
    assert result.returncode == 3
    first_line = result.stderr.splitlines()[0]
    assert first_line.startswith("eas-inspector: damaged.saz: session 2: raw/002_c.txt cannot be read")
    assert len(stored(tmp_path / "d.sqlite")) == 3
