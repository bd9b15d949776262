"""`eas-inspector import` of HAR 1.2: mitmproxy's own export, a browser-style file written by hand, damage."""

from __future__ import annotations

import base64
import json
import sqlite3
from pathlib import Path
from typing import Any

from capture.har import export_har
from capture.importers import import_file
from tests.capture import forms
from tests.capture.conftest import Stored, assert_lab_session, cli, stored

# MS-ASWBXML: a FolderSync request with SyncKey 0 (WBXML 1.3, UTF-8, FolderHierarchy page 7).
FOLDERSYNC_REQUEST = bytes.fromhex("03016a000007565203300001 01".replace(" ", ""))
# A FolderSync response with Status 9 (the answer in Z-Hub/Z-Push issue 196: `WBXML-OUT: AwFqAAAHVkwDOQABAQ==`).
FOLDERSYNC_STATUS_9 = base64.b64decode("AwFqAAAHVkwDOQABAQ==")
EAS_URL = "https://mail.example.com/Microsoft-Server-ActiveSync?Cmd=FolderSync&User=carol&DeviceId=HAR1&DeviceType=Browser"


def _header_list(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in pairs]


def browser_har() -> dict[str, Any]:
    """A HAR as browsers write it (HAR 1.2 spec): HTTP/2 pseudo-headers, base64 content, a gzip answer, a failure."""
    request_headers = [(":authority", "mail.example.com"), (":method", "POST"),
                       ("content-type", "application/vnd.ms-sync.wbxml"), ("ms-asprotocolversion", "14.1")]
    return {"log": {
        "version": "1.2",
        "creator": {"name": "WebInspector", "version": "537.36"},
        "pages": [{"id": "page_1", "title": "x" * 100_000}],  # a large member before the entries
        "entries": [
            {   # 1: not EAS: skipped by default
                "startedDateTime": "2026-11-21T10:00:00.000Z", "time": 5,
                "request": {"method": "GET", "url": "https://mail.example.com/owa/", "httpVersion": "h2",
                            "headers": [], "queryString": [], "cookies": [], "headersSize": -1, "bodySize": 0},
                "response": {"status": 200, "statusText": "", "httpVersion": "h2", "headers": [], "cookies": [],
                             "content": {"size": 2, "mimeType": "text/html", "text": "ok"},
                             "redirectURL": "", "headersSize": -1, "bodySize": 2},
                "cache": {}, "timings": {"send": 1, "wait": 3, "receive": 1},
            },
            {   # 2: EAS with base64 bodies both ways, gzip answer stored decoded
                "startedDateTime": "2026-11-21T10:00:01.250Z", "time": 120.5,
                "serverIPAddress": "192.0.2.10",
                "request": {"method": "POST", "url": EAS_URL, "httpVersion": "h2",
                            "headers": _header_list(request_headers), "queryString": [], "cookies": [],
                            "headersSize": -1, "bodySize": len(FOLDERSYNC_REQUEST),
                            "postData": {"mimeType": "application/vnd.ms-sync.wbxml",
                                         "text": base64.b64encode(FOLDERSYNC_REQUEST).decode(),
                                         "encoding": "base64"}},
                "response": {"status": 200, "statusText": "", "httpVersion": "h2",
                             "headers": _header_list([("content-type", "application/vnd.ms-sync.wbxml"),
                                                      ("content-encoding", "gzip")]),
                             "cookies": [], "content": {"size": len(FOLDERSYNC_STATUS_9),
                                                        "mimeType": "application/vnd.ms-sync.wbxml",
                                                        "text": base64.b64encode(FOLDERSYNC_STATUS_9).decode(),
                                                        "encoding": "base64"},
                             "redirectURL": "", "headersSize": -1, "bodySize": 30},
                "cache": {}, "timings": {"blocked": 0.5, "dns": -1, "connect": -1, "send": 0.5, "wait": 100,
                                         "receive": 19.5},
            },
            {   # 3: EAS request that got no answer
                "startedDateTime": "2026-11-21T10:00:02Z", "time": 0,
                "request": {"method": "POST", "url": EAS_URL.replace("FolderSync", "Ping"), "httpVersion": "h2",
                            "headers": [], "queryString": [], "cookies": [], "headersSize": -1, "bodySize": 0},
                "response": {"status": 0, "statusText": "", "httpVersion": "", "headers": [], "cookies": [],
                             "content": {"size": 0, "mimeType": "x-unknown"}, "redirectURL": "",
                             "headersSize": -1, "bodySize": -1, "_error": "net::ERR_CONNECTION_RESET"},
                "cache": {}, "timings": {},
            },
        ],
    }}


def test_the_lab_session_as_mitmproxy_exports_it_gives_the_same_flows(
    tmp_path: Path, lab_reference: list[Stored]
) -> None:
    assert cli("import", str(forms.LAB_SESSION), "lab.sqlite", cwd=tmp_path).returncode == 0
    export_har(tmp_path / "lab.sqlite", tmp_path / "lab.json")  # mitmproxy's SaveHar writes it
    result = cli("import", "lab.json", "from-har.sqlite", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    flows = stored(tmp_path / "from-har.sqlite")
    assert_lab_session(flows)
    shape = [(f.method, f.command, f.http_status, f.eas_status, f.user, f.device_id) for f in flows]
    assert shape == [(f.method, f.command, f.http_status, f.eas_status, f.user, f.device_id) for f in lab_reference]
    # WBXML goes through the HAR as text (ISO-8859-1) or base64 and comes back byte for byte
    assert [f.request_body for f in flows] == [f.request_body for f in lab_reference]
    assert [f.response_body for f in flows] == [f.response_body for f in lab_reference]
    assert flows[5].extra["origin"] == {"form": "har", "file": "lab.json", "entry": 6}


def test_a_browser_har_imports_its_eas_entries(tmp_path: Path) -> None:
    (tmp_path / "browser.har").write_text(json.dumps(browser_har()), encoding="utf-8")
    result = cli("import", "browser.har", "b.sqlite", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "imported 2 EAS/Autodiscover flows into b.sqlite; skipped 1 other HTTP flow"
    folder_sync, ping = stored(tmp_path / "b.sqlite")
    assert (folder_sync.command, folder_sync.http_status, folder_sync.eas_status) == ("FolderSync", 200, 9)
    assert (folder_sync.user, folder_sync.device_id) == ("carol", "HAR1")
    assert (folder_sync.request_body, folder_sync.response_body) == (FOLDERSYNC_REQUEST, FOLDERSYNC_STATUS_9)
    assert folder_sync.extra["notes"] == [
        "the HAR holds the response body decoded: its 'Content-Encoding: gzip' is left out"
    ]
    assert (ping.command, ping.http_status, ping.response_body) == ("Ping", None, None)
    assert ping.extra["missing"] == ["request_headers", "response"]  # the HAR gives no headers for it


def test_entries_before_a_cut_are_kept_and_the_cut_is_named(tmp_path: Path) -> None:
    text = json.dumps(browser_har(), indent=1)
    cut = text[: text.index("Cmd=Ping")]  # inside the third entry
    (tmp_path / "cut.har").write_text(cut, encoding="utf-8")
    result = cli("import", "cut.har", "cut.sqlite", cwd=tmp_path)
    assert result.returncode == 3
    entry_start = cut.rfind("\n   {") + 1  # json.dumps(indent=1): the entries' braces are indented by 3
    line = cut[:entry_start].count("\n") + 1
    assert result.stderr.splitlines()[0] == (
        f"eas-inspector: cut.har: entry 3: line {line}, column 4: the file ends inside this value (cut short?)"
    )
    assert "Traceback" not in result.stderr
    assert [f.command for f in stored(tmp_path / "cut.sqlite")] == ["FolderSync"]


def test_broken_json_names_the_entry_and_its_line(tmp_path: Path) -> None:
    text = json.dumps(browser_har(), indent=1)
    broken = text.replace('"startedDateTime": "2026-11-21T10:00:02Z"', '"startedDateTime" "2026-11-21T10:00:02Z"')
    (tmp_path / "broken.har").write_text(broken, encoding="utf-8")
    result = cli("import", "broken.har", "broken.sqlite", cwd=tmp_path)
    line = broken[: broken.index('"startedDateTime" "')].count("\n") + 1
    assert result.returncode == 3
    assert result.stderr.splitlines()[0].startswith(f"eas-inspector: broken.har: entry 3: line {line}, column ")
    assert "not valid JSON (Expecting ':' delimiter)" in result.stderr
    assert len(stored(tmp_path / "broken.sqlite")) == 1


def test_bytes_that_are_not_utf8_are_kept_and_reported(tmp_path: Path) -> None:
    har = browser_har()
    har["log"]["entries"][1]["request"]["headers"].append({"name": "X-Note", "value": "MARK"})
    data = json.dumps(har).encode().replace(b"MARK", b"caf\xe9")  # Latin-1 written where UTF-8 belongs
    (tmp_path / "latin1.har").write_bytes(data)
    result = cli("import", "latin1.har", "l.sqlite", cwd=tmp_path)
    assert result.returncode == 3
    assert result.stderr.splitlines()[0] == (
        "eas-inspector: latin1.har: entry 2: has bytes that are not UTF-8; they are kept as they are"
    )
    assert len(stored(tmp_path / "l.sqlite")) == 2


def test_a_utf16_har_is_read(tmp_path: Path) -> None:
    (tmp_path / "wide.har").write_bytes(json.dumps(browser_har()).encode("utf-16"))  # with its byte order mark
    result = cli("import", "wide.har", "w.sqlite", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [f.eas_status for f in stored(tmp_path / "w.sqlite")] == [9, None]


def test_all_http_keeps_the_other_entries(tmp_path: Path) -> None:
    (tmp_path / "browser.har").write_text(json.dumps(browser_har()), encoding="utf-8")
    result = cli("import", "--all-http", "browser.har", "all.sqlite", cwd=tmp_path)
    assert result.stdout.strip() == "imported 3 HTTP flows into all.sqlite"
    assert stored(tmp_path / "all.sqlite")[0].response_body == b"ok"


def test_an_escaped_byte_beside_a_surrogate_no_byte_made_is_stored_as_that_byte(tmp_path: Path) -> None:
    """A statusText `O\\udcff\\ud800K` (JSON escapes): the byte FF, then U+D800 as its UTF-8 form ED A0 80."""
    har = browser_har()
    har["log"]["entries"][1]["response"]["statusText"] = "O\udcff\ud800K"
    (tmp_path / "odd.har").write_text(json.dumps(har), encoding="ascii")
    import_file(tmp_path / "odd.har", tmp_path / "odd.sqlite")
    connection = sqlite3.connect(tmp_path / "odd.sqlite")
    try:
        reasons = connection.execute("SELECT typeof(response_reason), hex(response_reason) FROM flows").fetchall()
    finally:
        connection.close()
    assert ("blob", "4FFFEDA0804B") in reasons
