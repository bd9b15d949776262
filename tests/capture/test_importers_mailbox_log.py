"""`eas-inspector import` of Exchange ActiveSync mailbox logs: hidden content, XML evidence, damage.

The sample follows the layout Microsoft documents ("Exchange ActiveSync Mailbox Logging", learn.microsoft.com
archive of the Exchange blogs: `Log Entry` blocks, `Name :` sections with indented values, content replaced by
`bytes="N"`, as in `<Subject xmlns="Email:" bytes="19"/>`) and the section names MailboxLogParser
(github.com/dseph/MailboxLogParser) reads; `<Body=552 bytes/>` is the non-XML form of a hidden body that the
issue tracker quotes from real logs. Names, keys and ids are made up.
"""

from __future__ import annotations

from pathlib import Path

from mitmproxy import http

import eas
from capture.reader import CaptureReader
from tests.capture import forms
from tests.capture.conftest import Stored, assert_lab_session, cli, stored

SYNC_ENTRY = """\
-----------------
 Log Entry: 1
-----------------

RequestTime : 
\t2026-11-21T09:15:02.123Z

ServerName : 
\tEXCH01

AssemblyVersion : 
\t15.2.1544.4

Identifier : 
\t5C1E62A0

RequestHeader : 
\tPOST /Microsoft-Server-ActiveSync/default.eas?Cmd=Sync&User=contoso%5Cerin&DeviceId=ApplF17ABCDEF&DeviceType=iPhone HTTP/1.1
\tConnection: keep-alive
\tContent-Type: application/vnd.ms-sync.wbxml
\tAuthorization: ********
\tHost: mail.contoso.com
\tUser-Agent: Apple-iPhone14C2/2008.81
\tMS-ASProtocolVersion: 16.1
\tX-MS-PolicyKey: 3489107234

RequestBody : 
\t<?xml version="1.0" encoding="utf-8" ?>
\t<Sync xmlns="AirSync:">
\t\t<Collections>
\t\t\t<Collection>
\t\t\t\t<SyncKey>1137429843</SyncKey>
\t\t\t\t<CollectionId>7</CollectionId>
\t\t\t\t<GetChanges/>
\t\t\t\t<WindowSize>25</WindowSize>
\t\t\t</Collection>
\t\t</Collections>
\t</Sync>

AccessState : 
\tAllowed

AccessStateReason : 
\tGlobal

ResponseHeader : 
\tHTTP/1.1 200 OK
\tCache-Control: private
\tContent-Type: application/vnd.ms-sync.wbxml
\tServer: Microsoft-IIS/10.0
\tMS-Server-ActiveSync: 15.20

ResponseBody : 
\t<?xml version="1.0" encoding="utf-8" ?>
\t<Sync xmlns="AirSync:">
\t\t<Collections>
\t\t\t<Collection>
\t\t\t\t<SyncKey>1993847392</SyncKey>
\t\t\t\t<CollectionId>7</CollectionId>
\t\t\t\t<Status>1</Status>
\t\t\t\t<Commands>
\t\t\t\t\t<Add>
\t\t\t\t\t\t<ServerId>7:41</ServerId>
\t\t\t\t\t\t<ApplicationData>
\t\t\t\t\t\t\t<To xmlns="Email:" bytes="31"/>
\t\t\t\t\t\t\t<From xmlns="Email:" bytes="29"/>
\t\t\t\t\t\t\t<Subject xmlns="Email:" bytes="9"/>
\t\t\t\t\t\t\t<DateReceived xmlns="Email:">2026-11-21T09:14:40.000Z</DateReceived>
\t\t\t\t\t\t\t<Read xmlns="Email:">0</Read>
\t\t\t\t\t\t\t<Body=552 bytes/>
\t\t\t\t\t\t</ApplicationData>
\t\t\t\t\t</Add>
\t\t\t\t</Commands>
\t\t\t</Collection>
\t\t</Collections>
\t</Sync>

ResponseTime : 
\t2026-11-21T09:15:02.387Z

"""

PING_ENTRY = """\
-----------------
 Log Entry: 2
-----------------

RequestTime : 
\t2026-11-21T09:15:03.000Z

RequestHeader : 
\tPOST /Microsoft-Server-ActiveSync/default.eas?Cmd=Ping&User=contoso%5Cerin&DeviceId=ApplF17ABCDEF&DeviceType=iPhone HTTP/1.1
\tHost: mail.contoso.com
\tMS-ASProtocolVersion: 16.1

RequestBody : 
\t<?xml version="1.0" encoding="utf-8" ?>
\t<Ping xmlns="Ping:">
\t\t<HeartbeatInterval>470</HeartbeatInterval>
\t\t<Folders>
\t\t\t<Folder>
\t\t\t\t<Id>7</Id>
\t\t\t\t<Class>Email</Class>
\t\t\t</Folder>
\t\t</Folders>
\t</Ping>

ResponseHeader : 
\tHTTP/1.1 200 OK
\tContent-Type: application/vnd.ms-sync.wbxml

ResponseBody : 
\t<?xml version="1.0" encoding="utf-8" ?>
\t<Ping xmlns="Ping:">
\t\t<Status>1</Status>
\t</Ping>

ResponseTime : 
\t2026-11-21T09:22:53.000Z

"""

UNKNOWN_ELEMENT_ENTRY = PING_ENTRY.replace("Log Entry: 2", "Log Entry: 3").replace(
    "<Status>1</Status>", "<Status>1</Status>\n\t\t<NotAPingElement>x</NotAPingElement>"
)


def test_a_mailbox_log_imports_with_what_exchange_hid(tmp_path: Path) -> None:
    (tmp_path / "mailbox.txt").write_text(SYNC_ENTRY + PING_ENTRY, encoding="utf-8")
    result = cli("import", "mailbox.txt", "m.sqlite", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    sync, ping = stored(tmp_path / "m.sqlite")
    assert (sync.command, sync.http_status, sync.eas_status) == ("Sync", 200, 1)
    assert (sync.user, sync.device_id) == ("contoso\\erin", "ApplF17ABCDEF")
    assert (ping.command, ping.eas_status) == ("Ping", 1)
    assert sync.extra["rebuilt"] is True
    assert sync.extra["hidden"] == [
        {"where": "response_body", "element": "Body", "count": 1, "bytes": 552},
        {"where": "response_body", "element": "From", "count": 1, "bytes": 29},
        {"where": "response_body", "element": "Subject", "count": 1, "bytes": 9},
        {"where": "response_body", "element": "To", "count": 1, "bytes": 31},
    ]
    assert (sync.extra["server_name"], sync.extra["access_state"], sync.extra["identifier"]) == (
        "EXCH01", "Allowed", "5C1E62A0"
    )
    # The rebuilt WBXML holds what the log shows: keys, ids, statuses, and the hidden elements empty.
    response = eas.to_xml(eas.decode(sync.response_body or b""), pretty=False)
    assert "<SyncKey>1993847392</SyncKey>" in response and "<ServerId>7:41</ServerId>" in response
    assert "<email:Subject/>" in response and "<email:Read>0</email:Read>" in response
    request = eas.to_xml(eas.decode(sync.request_body), pretty=False)
    assert "<WindowSize>25</WindowSize>" in request and "<GetChanges/>" in request
    with CaptureReader(tmp_path / "m.sqlite") as reader:
        record = reader.flow(1)
    assert record.timestamps == {"request_start": 1795252502.123, "response_end": 1795252502.387}
    assert record.row.host == "mail.contoso.com"


def test_xml_that_cannot_be_encoded_is_kept_as_logged(tmp_path: Path) -> None:
    (tmp_path / "mailbox.txt").write_text(UNKNOWN_ELEMENT_ENTRY, encoding="utf-8")
    result = cli("import", "mailbox.txt", "x.sqlite", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (ping,) = stored(tmp_path / "x.sqlite")
    assert ping.extra["body_forms"] == {"request_body": "wbxml", "response_body": "xml"}
    assert (ping.response_body or b"").startswith(b'<?xml version="1.0" encoding="utf-8" ?>\n<Ping xmlns="Ping:">')
    assert b"<NotAPingElement>x</NotAPingElement>" in (ping.response_body or b"")
    assert ping.extra["notes"][0].startswith("response body kept as logged XML: not encodable to WBXML")


GET_ATTACHMENT_ENTRY = """\
-----------------
 Log Entry: 4
-----------------

RequestTime : 
\t2026-11-21T09:30:00.000Z

RequestHeader : 
\tPOST /Microsoft-Server-ActiveSync/default.eas?Cmd=GetAttachment&AttachmentName=7%3a41%3a0&User=erin&DeviceId=ApplF17ABCDEF&DeviceType=iPhone HTTP/1.1
\tHost: mail.contoso.com
\tMS-ASProtocolVersion: 12.1
\tContent-Length: 0

ResponseHeader : 
\tHTTP/1.1 200 OK
\tContent-Type: application/pdf
\tContent-Length: 75

ResponseTime : 
\t2026-11-21T09:30:01.000Z

"""


def test_a_body_the_log_has_no_section_for_is_empty_or_missing_as_its_head_says(tmp_path: Path) -> None:
    # MS-ASCMD 2.2.1.7: GetAttachment has no XML body (Content-Length: 0); its answer is the file, 75 bytes,
    # which Exchange does not log (it logs XML only). A POST that states no length and shows no body is missing.
    without_length = PING_ENTRY.replace("Log Entry: 2", "Log Entry: 5")
    without_length = without_length[: without_length.index("RequestBody")] + without_length[
        without_length.index("ResponseHeader"):]
    (tmp_path / "mailbox.txt").write_text(GET_ATTACHMENT_ENTRY + without_length, encoding="utf-8")
    assert cli("import", "mailbox.txt", "g.sqlite", cwd=tmp_path).returncode == 0
    attachment, ping = stored(tmp_path / "g.sqlite")
    assert (attachment.command, attachment.request_body, attachment.response_body) == ("GetAttachment", b"", b"")
    assert attachment.extra["missing"] == ["response_body"]
    assert (ping.command, ping.eas_status, ping.extra["missing"]) == ("Ping", 1, ["request_body"])


def test_the_lab_session_as_a_mailbox_log_gives_the_same_diagnosis(
    tmp_path: Path, lab_flows: list[http.HTTPFlow], lab_reference: list[Stored]
) -> None:
    forms.write_mailbox_log(tmp_path / "lab.log", lab_flows, hide=frozenset({"Subject", "Data", "Mime"}))
    result = cli("import", "lab.log", "lab.sqlite", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    flows = stored(tmp_path / "lab.sqlite")
    assert_lab_session(flows)
    assert [(f.command, f.http_status, f.eas_status, f.user, f.device_id) for f in flows] == [
        (f.command, f.http_status, f.eas_status, f.user, f.device_id) for f in lab_reference
    ]
    assert all(flow.extra["rebuilt"] for flow in flows if flow.request_body)


def test_a_log_cut_inside_an_entry_keeps_what_it_has_and_says_where(tmp_path: Path) -> None:
    text = SYNC_ENTRY + PING_ENTRY
    cut = text[: text.index("ResponseBody", len(SYNC_ENTRY))]  # entry 2 ends after its ResponseHeader
    (tmp_path / "cut.log").write_text(cut, encoding="utf-8")
    result = cli("import", "cut.log", "cut.sqlite", cwd=tmp_path)
    assert result.returncode == 3
    entry_line = SYNC_ENTRY.count("\n") + 2
    assert result.stderr.splitlines()[0] == (
        f"eas-inspector: cut.log: log entry 2 (line {entry_line}): the file ends inside this entry; "
        "imported what it has"
    )
    sync, ping = stored(tmp_path / "cut.sqlite")
    assert (ping.command, ping.http_status, ping.eas_status, ping.response_body) == ("Ping", 200, None, b"")


def test_an_entry_without_its_request_is_named_and_the_others_kept(tmp_path: Path) -> None:
    start = PING_ENTRY.index("RequestHeader :")
    headless = PING_ENTRY[:start] + PING_ENTRY[PING_ENTRY.index("RequestBody :"):]
    third = SYNC_ENTRY.replace("Log Entry: 1", "Log Entry: 3")
    (tmp_path / "gap.log").write_text(SYNC_ENTRY + headless + third, encoding="utf-8")
    result = cli("import", "gap.log", "gap.sqlite", cwd=tmp_path)
    assert result.returncode == 3
    entry_line = SYNC_ENTRY.count("\n") + 2
    assert result.stderr.splitlines() == [
        f"eas-inspector: gap.log: log entry 2 (line {entry_line}): no RequestHeader section: nothing to import",
        "eas-inspector: gap.log: partial import: 2 of 3 log entries read (issues above)",
    ]
    assert [flow.extra["origin"]["entry"] for flow in stored(tmp_path / "gap.sqlite")] == [1, 3]


def test_a_line_that_is_not_utf8_is_read_as_windows_1252_and_named(tmp_path: Path) -> None:
    data = (SYNC_ENTRY + PING_ENTRY).encode("utf-8").replace(b"Global", b"Gl\xf6bal")
    (tmp_path / "ansi.log").write_bytes(data)
    result = cli("import", "ansi.log", "a.sqlite", cwd=tmp_path)
    assert result.returncode == 3
    line = SYNC_ENTRY[: SYNC_ENTRY.index("Global")].count("\n") + 1
    assert result.stderr.splitlines()[0] == (
        f"eas-inspector: ansi.log: log entry 1 (line 2): line {line} not UTF-8, read as Windows-1252"
    )
    sync, _ = stored(tmp_path / "a.sqlite")
    assert sync.extra["access_state_reason"] == "Glöbal"


def test_a_utf16_export_is_read(tmp_path: Path) -> None:
    (tmp_path / "export.txt").write_bytes((SYNC_ENTRY + PING_ENTRY).replace("\n", "\r\n").encode("utf-16"))
    result = cli("import", "export.txt", "u.sqlite", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    assert [f.command for f in stored(tmp_path / "u.sqlite")] == ["Sync", "Ping"]
