"""eas.analyze: whole exchanges from the lab server (fixtures and live), spec examples, and arbitrary bytes."""

from __future__ import annotations

import base64
import dataclasses
import gzip
import http.client
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import eas
from eas.exchange import DecodedBody, Exchange, Problem, StatusNote, analyze
from eas.multipart import build_multipart, parse_multipart
from eas.query import EasQuery, encode_base64
from eas.summary import summarize
from tests.lab.policy import lab_missing

DATA = Path(__file__).resolve().parent.parent / "data" / "exchange"
LAB_HOST, LAB_PORT = "127.0.0.1", 18081
EAS_PATH = "/Microsoft-Server-ActiveSync"


def fixture(name: str, **overrides: Any) -> Exchange:
    """analyze() over a recorded lab exchange in tests/data/exchange."""
    meta = json.loads((DATA / f"{name}.json").read_text())
    args: dict[str, Any] = {
        "method": meta["method"],
        "url": meta["url"],
        "request_headers": [tuple(pair) for pair in meta["request_headers"]],
        "request_body": (DATA / f"{name}.request.bin").read_bytes(),
        "response_status": meta["response_status"],
        "response_headers": [tuple(pair) for pair in meta["response_headers"]],
        "response_body": (DATA / f"{name}.response.bin").read_bytes(),
    }
    args.update(overrides)
    return analyze(**args)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# --- recorded lab exchanges ----------------------------------------------------------------------------------


def test_options_summarised() -> None:
    ex = fixture("options")
    assert ex.is_eas and ex.command == "Options"
    assert ex.offered_versions == ("2.5", "12.0", "12.1", "14.0", "14.1")
    assert "FolderSync" in ex.offered_commands and "Find" not in ex.offered_commands
    assert summarize(ex) == "EAS Options 14.1 HTTP 200 ok offers 2.5,12.0,12.1,14.0,14.1"
    assert ex.problems == ()
    assert ex.response_body is not None and ex.response_body.kind == "empty"


def test_text_500_under_wbxml_type_is_one_problem() -> None:
    ex = fixture("folderdelete_500_text")
    assert ex.http_status == 500 and ex.http_status_meaning and "Autodiscover" in ex.http_status_meaning
    body = ex.response_body
    assert body is not None and body.kind == "text"
    assert body.text == "Unsupported folder type during creation."
    response_problems = [p for p in ex.problems if p.where == "response body"]
    assert response_problems == [Problem("response body", "body is text, not WBXML", 0, "warning")]


def test_sendmail_rfc822_request() -> None:
    ex = fixture("sendmail_rfc822")
    assert ex.command == "SendMail" and ex.protocol_version == "12.1"
    body = ex.request_body
    assert body is not None and body.kind == "rfc822"
    assert body.text is not None
    assert "Subject: Lunch on Friday?" in body.text
    assert "Café on the corner." in body.text
    assert ex.response_body is not None and ex.response_body.kind == "empty"
    assert ex.problems == ()
    assert ("SaveInSent", "F") in ex.query_fields


def test_getattachment_raw_body_is_described_not_decoded() -> None:
    ex = fixture("getattachment_pdf")
    body = ex.response_body
    assert body is not None and body.kind == "binary"
    assert body.xml is None and body.size == 75
    assert body.text is not None and "application/pdf" in body.text and "PDF document, 75 bytes" in body.text
    assert ex.problems == ()


def test_multipart_parts_described() -> None:
    ex = fixture("itemoperations_multipart")
    body = ex.response_body
    assert body is not None and body.kind == "multipart"
    assert body.parts == (
        "part 0: WBXML response, 127 bytes",
        "part 1: PDF document, 75 bytes",
        "part 2: PNG image, 66 bytes",
    )


def test_multipart_part_elements_linked() -> None:
    ex = fixture("itemoperations_multipart")
    body = ex.response_body
    assert body is not None and body.xml is not None and body.plain_xml is not None
    assert body.root_tag == "ItemOperations"
    assert "<!-- part 1: PDF document, 75 bytes -->" in body.xml
    assert "<!-- part 2: PNG image, 66 bytes -->" in body.xml
    assert "<!--" not in body.plain_xml
    assert ex.eas_status == 1 and ex.eas_statuses[0].path == "ItemOperations/Status"


def test_multipart_text_part_has_a_preview() -> None:
    wbxml = (DATA / "itemoperations_multipart.response.bin").read_bytes()
    parts = parse_multipart(wbxml)
    body = build_multipart([parts[0], b"Hello, this is a plain text attachment.\r\n", parts[2]])
    ex = fixture("itemoperations_multipart", response_body=body)
    assert ex.response_body is not None and ex.response_body.xml is not None
    assert "part 1: text, 41 bytes: Hello, this is a plain text attachment." in ex.response_body.xml


def test_multipart_part_index_out_of_range_is_a_warning() -> None:
    parts = parse_multipart((DATA / "itemoperations_multipart.response.bin").read_bytes())
    ex = fixture("itemoperations_multipart", response_body=build_multipart(parts[:2]))
    warnings = [p for p in ex.problems if p.severity == "warning"]
    assert len(warnings) == 1 and "<Part>2</Part>" in warnings[0].reason


def test_broken_multipart_table_is_one_problem_with_offset() -> None:
    ex = fixture("itemoperations_multipart", response_body=b"\x05\x00\x00\x00\x14\x00")
    problems = [p for p in ex.problems if p.where == "response body"]
    assert len(problems) == 1 and problems[0].offset == 6 and "multipart" in problems[0].reason
    assert ex.response_body is not None and ex.response_body.kind == "binary"


def test_sync_collections_keys_and_statuses() -> None:
    ex = fixture("sync_inbox")
    assert ex.command == "Sync"
    assert ex.collection_ids == ("mail%2F8e8437014438026bb316000083ecc375",)
    assert ex.collection_classes == ("Email",)
    assert ex.sync_keys[-1] != ex.sync_keys[0]  # the request's key, then the server's new one
    # the Email Flag's Status inside each item is item data, not a command status
    assert [(n.path, n.code) for n in ex.eas_statuses] == [("Sync/Collections/Collection/Status", 1)]
    assert ex.eas_status_meaning
    assert summarize(ex) == (
        "EAS Sync 14.1 user=alice device=EASINSPECT01 HTTP 200 ok Sync/Collections/Collection/Status=1 (success)"
    )
    assert ex.request_body is not None and ex.request_body.root_tag == "Sync"
    assert ex.response_body is not None and ex.response_body.xml is not None
    assert "Quarterly report draft" in ex.response_body.xml
    assert [p for p in ex.problems if p.severity == "error"] == []


def test_ping_folder_ids_and_status() -> None:
    ex = fixture("ping_bad_heartbeat")
    assert ex.collection_ids == ("mail%2F8e8437014438026bb316000083ecc375",)
    assert ex.collection_classes == ("Email",)
    assert ex.eas_status is not None


def test_annotate_false_gives_plain_xml() -> None:
    ex = fixture("foldersync", annotate=False)
    assert ex.response_body is not None and ex.response_body.xml == ex.response_body.plain_xml
    assert ex.response_body.xml is not None and "<!--" not in ex.response_body.xml
    annotated = fixture("foldersync")
    assert annotated.response_body is not None and annotated.response_body.xml != annotated.response_body.plain_xml


@pytest.mark.parametrize("name", sorted({path.name.split(".")[0] for path in DATA.glob("*.json")}))
def test_annotated_only_is_the_annotated_xml_of_the_full_analysis(name: str) -> None:
    """plain_xml=False (the capture's analysis: the response decoded and annotated in one) gives what the full
    analysis gives, but the plain rendering."""
    full = fixture(name)
    annotated_only = fixture(name, plain_xml=False)
    for whole, part in ((full.request_body, annotated_only.request_body), (full.response_body, annotated_only.response_body)):
        assert (whole is None) == (part is None)
        if whole is not None and part is not None:
            assert part.xml == whole.xml and part.text == whole.text and part.plain_xml is None
    assert annotated_only.problems == full.problems
    assert annotated_only.eas_statuses == full.eas_statuses
    assert (annotated_only.collection_ids, annotated_only.collection_classes, annotated_only.sync_keys) == (
        full.collection_ids, full.collection_classes, full.sync_keys)


@pytest.mark.parametrize("name", sorted({path.name.split(".")[0] for path in DATA.glob("*.json")}))
def test_without_header_notes_only_the_notes_are_left_out(name: str) -> None:
    """header_notes=False (the capture's analysis: it stores the headers, not their notes) leaves both header
    lists empty and everything else as the full analysis gives it."""
    full = fixture(name)
    without = fixture(name, header_notes=False)
    assert full.request_headers and (without.request_headers, without.response_headers) == ((), ())
    assert dataclasses.replace(full, request_headers=(), response_headers=()) == without


WBXML_DOCUMENTS = sorted((DATA.parent / "wbxml").rglob("*.wbxml")) + sorted((DATA.parent / "real").rglob("*.wbxml"))


@pytest.mark.parametrize("command", ["Sync", "Provision", "ItemOperations", "Search"])
def test_annotated_only_agrees_on_every_document(command: str) -> None:
    """The same over every WBXML document of the tests as a response (and as the request too, so the collection
    class comes from both bodies), for commands whose notes depend on the context."""
    url = f"https://mail.example.com{EAS_PATH}?Cmd={command}&User=u&DeviceId=d&DeviceType=t"
    headers = [("Content-Type", "application/vnd.ms-sync.wbxml"), ("MS-ASProtocolVersion", "14.1")]
    assert WBXML_DOCUMENTS
    for path in WBXML_DOCUMENTS:
        body = path.read_bytes()
        for request_body in (b"", body):
            full = analyze("POST", url, headers, request_body, 200, headers, body)
            annotated_only = analyze("POST", url, headers, request_body, 200, headers, body, plain_xml=False)
            assert full.response_body is not None and annotated_only.response_body is not None
            assert annotated_only.response_body.xml == full.response_body.xml, path
            assert (annotated_only.problems, annotated_only.eas_statuses) == (full.problems, full.eas_statuses), path


# --- content encodings -------------------------------------------------------------------------------------


def _with_encoding(name: str, coding: str, encoded: bytes) -> Exchange:
    meta = json.loads((DATA / f"{name}.json").read_text())
    headers = [tuple(pair) for pair in meta["response_headers"]] + [("Content-Encoding", coding)]
    return fixture(name, response_headers=headers, response_body=encoded)


@pytest.mark.parametrize(
    ("coding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data, wbits=-15)),  # raw deflate, as some servers send it
    ],
)
def test_content_encoding_removed_before_decoding(coding: str, compress: Any) -> None:
    raw = (DATA / "foldersync.response.bin").read_bytes()
    plain = fixture("foldersync")
    ex = _with_encoding("foldersync", coding, compress(raw))
    assert ex.response_body is not None and plain.response_body is not None
    assert ex.response_body.size == len(raw)
    assert ex.response_body == plain.response_body
    assert ex.problems == plain.problems


def test_brotli_when_a_decoder_is_installed() -> None:
    brotli = pytest.importorskip("brotli", reason="no brotli module: br is reported as a problem instead")
    raw = (DATA / "foldersync.response.bin").read_bytes()
    ex = _with_encoding("foldersync", "br", brotli.compress(raw))
    assert ex.response_body is not None and ex.response_body.size == len(raw)


@pytest.mark.parametrize(("coding", "body"), [("gzip", b"\x1f\x8bnot gzip"), ("compress", b"xx"), ("gzip", b"")])
def test_bad_content_encoding_is_a_problem(coding: str, body: bytes) -> None:
    ex = _with_encoding("foldersync", coding, body)
    response_problems = [p for p in ex.problems if p.where == "response body"]
    if body:
        assert len(response_problems) == 1 and coding in response_problems[0].reason
    else:
        assert response_problems == [] and ex.response_body is not None and ex.response_body.kind == "empty"


# --- URLs, queries, headers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://mail.example.com/Microsoft-Server-ActiveSync?Cmd=Ping&User=a&DeviceId=D&DeviceType=T",
        "https://mail.example.com/prefix/x/microsoft-server-activesync?Cmd=Ping&User=a&DeviceId=D&DeviceType=T",
        "/MICROSOFT-SERVER-ACTIVESYNC?Cmd=Ping&User=a&DeviceId=D&DeviceType=T",
        "/SOGo/Microsoft-Server-ActiveSync/?Cmd=Ping&User=a&DeviceId=D&DeviceType=T",
    ],
)
def test_eas_path_in_any_case_behind_any_prefix(url: str) -> None:
    ex = analyze("POST", url, [], b"")
    assert ex.is_eas and not ex.is_autodiscover
    assert ex.command == "Ping" and ex.user == "a" and ex.device_id == "D" and ex.device_type == "T"


def test_not_eas() -> None:
    ex = analyze("GET", "https://example.com/index.html", [], b"", 200, [("Content-Type", "text/html")], b"<html></html>")
    assert not ex.is_eas and not ex.is_autodiscover and ex.command is None


def test_base64_query() -> None:
    query = EasQuery(
        form="base64", command="Sync", user="alice", device_id="ABC123", device_type="iPhone",
        protocol_version="14.1", locale=0x0409, policy_key=3942919513,
    )
    ex = analyze("POST", f"https://h/Microsoft-Server-ActiveSync?{encode_base64(query)}", [], b"")
    assert ex.query_form == "base64"
    assert ex.command == "Sync" and ex.user == "alice" and ex.device_id == "ABC123" and ex.device_type == "iPhone"
    assert ex.protocol_version == "14.1" and ex.policy_key == "3942919513"
    assert ("Locale", "0x0409 (en-US)") in ex.query_fields


def test_header_version_and_policy_key_win() -> None:
    ex = analyze(
        "POST",
        "/Microsoft-Server-ActiveSync?Cmd=FolderSync&User=u&DeviceId=d&DeviceType=t",
        [("MS-ASProtocolVersion", "16.1"), ("X-MS-PolicyKey", "2034202722")],
        b"",
    )
    assert ex.protocol_version == "16.1" and ex.policy_key == "2034202722"


def test_bad_query_is_a_problem() -> None:
    ex = analyze("POST", "/Microsoft-Server-ActiveSync?%%%invalid", [], b"")
    assert ex.is_eas
    assert [p.where for p in ex.problems] == ["query"]


def test_authorization_never_leaks_and_names_the_user() -> None:
    ex = analyze(
        "POST", "/Microsoft-Server-ActiveSync", [("Authorization", basic("carol", "s3cr3t-PASS"))], b"", 401, [], b""
    )
    assert "s3cr3t-PASS" not in repr(ex)
    assert base64.b64encode(b"carol:s3cr3t-PASS").decode() not in repr(ex)
    assert ex.user == "carol"
    assert ex.http_status_meaning and "authentication" in ex.http_status_meaning


def test_451_redirect() -> None:
    target = "https://mail.exchange.microsoft.com/Microsoft-Server-ActiveSync"
    ex = analyze(
        "OPTIONS", "/Microsoft-Server-ActiveSync", [("MS-ASProtocolVersion", "14.0")], b"",
        451, [("X-MS-Location", target), ("Content-Length", "0")], b"",
    )
    assert ex.redirect_location == target
    assert ex.http_status_meaning and target in ex.http_status_meaning
    assert summarize(ex).endswith(f"-> {target}")


def test_no_response() -> None:
    ex = analyze("POST", "/Microsoft-Server-ActiveSync?Cmd=Ping&User=u&DeviceId=d&DeviceType=t", [], b"")
    assert ex.response_body is None and ex.http_status is None
    assert summarize(ex) == "EAS Ping user=u device=d no response warning: no response recorded"


def test_summary_shape() -> None:
    ex = Exchange(
        method="POST", url="/Microsoft-Server-ActiveSync", is_eas=True, command="Sync", user="alice",
        device_id="ABC123", device_type="iPhone", protocol_version="14.1", http_status=200,
        eas_statuses=(StatusNote("Sync/Status", 1, "success"),),
    )
    assert summarize(ex) == "EAS Sync 14.1 user=alice device=ABC123 HTTP 200 ok Sync/Status=1 (success)"
    with_problem = Exchange(method="POST", url="/x", is_eas=True, problems=(Problem("query", "bad"),))
    # the undecodable query fails the exchange; no response recorded is the second problem
    assert summarize(with_problem) == "EAS POST no response failed: query: bad | 2 problems"


# --- bodies of other kinds ---------------------------------------------------------------------------------

AUTODISCOVER_REQUEST = b"""<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/mobilesync/requestschema/2006"><Request>
<EMailAddress>alice@example.com</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006</AcceptableResponseSchema></Request></Autodiscover>"""

AUTODISCOVER_RESPONSE = b"""<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns:autodiscover="http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006"><autodiscover:Response><autodiscover:Culture>en:us</autodiscover:Culture><autodiscover:User><autodiscover:DisplayName>Alice</autodiscover:DisplayName><autodiscover:EMailAddress>alice@example.com</autodiscover:EMailAddress></autodiscover:User><autodiscover:Action><autodiscover:Settings><autodiscover:Server><autodiscover:Type>MobileSync</autodiscover:Type><autodiscover:Url>https://mail.example.com/Microsoft-Server-ActiveSync</autodiscover:Url></autodiscover:Server></autodiscover:Settings></autodiscover:Action></autodiscover:Response></Autodiscover>"""


def test_autodiscover_pox() -> None:
    ex = analyze(
        "POST", "https://example.com/AutoDiscover/AutoDiscover.xml", [("Content-Type", "text/xml")],
        AUTODISCOVER_REQUEST, 200, [("Content-Type", "text/xml; charset=utf-8")], AUTODISCOVER_RESPONSE,
    )
    assert ex.is_autodiscover and not ex.is_eas and ex.command == "Autodiscover"
    assert ex.request_body is not None and ex.request_body.kind == "xml"
    assert ex.request_body.root_tag == "Autodiscover"
    assert ex.request_body.xml is not None and "\n  <Request>" in ex.request_body.xml
    assert ex.response_body is not None and ex.response_body.kind == "xml"
    assert ex.response_body.xml is not None and "MobileSync" in ex.response_body.xml
    assert ex.problems == ()


def test_autodiscover_json() -> None:
    ex = analyze(
        "GET", "https://example.com/autodiscover/autodiscover.json/v1.0/alice@example.com?Protocol=ActiveSync", [],
        b"", 200, [("Content-Type", "application/json")],
        b'{"Protocol":"ActiveSync","Url":"https://mail.example.com/Microsoft-Server-ActiveSync"}',
    )
    assert ex.is_autodiscover
    assert ex.response_body is not None and ex.response_body.kind == "json"
    assert ex.response_body.text is not None and '  "Protocol": "ActiveSync"' in ex.response_body.text


def test_html_error_page_under_wbxml_type() -> None:
    ex = analyze(
        "POST", "/Microsoft-Server-ActiveSync?Cmd=Sync&User=u&DeviceId=d&DeviceType=t", [], b"",
        503, [("Content-Type", "application/vnd.ms-sync.wbxml")],
        b"<html><body><h1>Service Unavailable</h1></body></html>",
    )
    assert ex.response_body is not None and ex.response_body.kind == "html"
    assert [p.reason for p in ex.problems] == ["body is text, not WBXML"]


def test_truncated_wbxml_is_one_error_with_offset() -> None:
    raw = (DATA / "foldersync.response.bin").read_bytes()
    ex = fixture("foldersync", response_body=raw[:100])
    errors = [p for p in ex.problems if p.severity == "error"]
    assert len(errors) == 1 and errors[0].where == "response body" and errors[0].offset is not None
    assert ex.response_body is not None and ex.response_body.text is not None  # a hex preview instead


def test_schema_violation_is_a_warning() -> None:
    body = eas.encode(
        '<FolderCreate xmlns="FolderHierarchy"><SyncKey>1</SyncKey><ParentId>0</ParentId>'
        "<DisplayName></DisplayName><Type>12</Type></FolderCreate>"
    )
    ex = analyze(
        "POST", "/Microsoft-Server-ActiveSync?Cmd=FolderCreate&User=u&DeviceId=d&DeviceType=t",
        [("Content-Type", "application/vnd.ms-sync.wbxml")], body,
    )
    warnings = [p for p in ex.problems if p.severity == "warning"]
    assert len(warnings) == 1
    assert warnings[0].where == "request body" and "DisplayName" in warnings[0].reason


def test_command_and_root_mismatch_is_a_warning() -> None:
    body = eas.encode('<FolderSync xmlns="FolderHierarchy"><SyncKey>0</SyncKey></FolderSync>')
    ex = analyze("POST", "/Microsoft-Server-ActiveSync?Cmd=Sync&User=u&DeviceId=d&DeviceType=t", [], body)
    assert any("does not match" in p.reason for p in ex.problems)


# --- never raises ------------------------------------------------------------------------------------------

CONTENT_TYPES = st.sampled_from([
    "application/vnd.ms-sync.wbxml", "application/vnd.ms-sync.multipart", "message/rfc822", "text/xml",
    "application/json", "text/plain", "application/octet-stream", "", "text/html; charset=bogus",
])


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    method=st.sampled_from(["POST", "OPTIONS", "GET", "\x00"]),
    path=st.sampled_from([EAS_PATH, "/autodiscover/autodiscover.xml", "/x"]),
    query=st.text(max_size=40),
    request_type=CONTENT_TYPES,
    response_type=CONTENT_TYPES,
    encoding=st.sampled_from([None, "gzip", "deflate", "br", "zstd", "x-unknown"]),
    request_body=st.binary(max_size=300),
    response_body=st.one_of(st.none(), st.binary(max_size=300)),
    status=st.one_of(st.none(), st.integers(min_value=-5, max_value=1000)),
)
def test_analyze_never_raises(
    method: str, path: str, query: str, request_type: str, response_type: str, encoding: str | None,
    request_body: bytes, response_body: bytes | None, status: int | None,
) -> None:
    request_headers = [("Content-Type", request_type), ("Authorization", "Basic " + query)]
    response_headers = [("Content-Type", response_type)]
    if encoding:
        response_headers.append(("Content-Encoding", encoding))
    ex = analyze(method, f"https://h{path}?{query}", request_headers, request_body, status, response_headers,
                 response_body)
    assert isinstance(ex, Exchange)
    assert isinstance(summarize(ex), str)
    assert not any(p.reason.startswith("analysis failed") for p in ex.problems)
    for body in (ex.request_body, ex.response_body):
        assert body is None or isinstance(body, DecodedBody)
    # The capture's analysis (the response decoded and annotated in one) says the same about the same bytes.
    annotated_only = analyze(method, f"https://h{path}?{query}", request_headers, request_body, status,
                             response_headers, response_body, plain_xml=False)
    assert annotated_only.problems == ex.problems
    assert (annotated_only.response_body is None) == (ex.response_body is None)
    if annotated_only.response_body is not None and ex.response_body is not None:
        assert annotated_only.response_body.xml == ex.response_body.xml


def test_analyze_survives_garbage_arguments() -> None:
    ex = analyze("POST", "http://[::1/Microsoft-Server-ActiveSync", [("only-one",)], b"\x03\x01\x6a")  # type: ignore[list-item]
    assert summarize(ex) == "EAS POST no response warning: no response recorded"  # an unparseable URL names no command
    assert not any(p.reason.startswith("analysis failed") for p in ex.problems)
    # the body is kept whole, shown as what it is without a Content-Type
    assert ex.request_body is not None and (ex.request_body.kind, ex.request_body.size) == ("binary", 3)
    assert "03 01 6a" in ex.request_body.text


# --- live lab server ---------------------------------------------------------------------------------------


def _lab_reachable() -> bool:
    try:
        connection = http.client.HTTPConnection(LAB_HOST, LAB_PORT, timeout=3)
        connection.request("OPTIONS", EAS_PATH, headers={"Authorization": basic("alice", "alicepw")})
        return connection.getresponse().status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def lab() -> Iterator[Any]:
    if not _lab_reachable():
        lab_missing(f"not reachable at {LAB_HOST}:{LAB_PORT} (start ../shared/lab/eas-server.sh)")

    def send(method: str, query: str, body: bytes = b"", content_type: str = "application/vnd.ms-sync.wbxml",
             version: str = "14.1", extra: tuple[tuple[str, str], ...] = ()) -> Exchange:
        headers = [("Authorization", basic("alice", "alicepw")), ("MS-ASProtocolVersion", version),
                   ("User-Agent", "eas-inspector-tests")]
        if body:
            headers.append(("Content-Type", content_type))
        headers += list(extra)
        url = EAS_PATH + (f"?{query}" if query else "")
        connection = http.client.HTTPConnection(LAB_HOST, LAB_PORT, timeout=30)
        connection.request(method, url, body=body, headers=dict(headers))
        response = connection.getresponse()
        data = response.read()
        return analyze(method, f"http://{LAB_HOST}:{LAB_PORT}{url}", headers, body, response.status,
                       response.getheaders(), data)

    yield send


def _q(command: str, extra: str = "") -> str:
    return f"Cmd={command}&User=alice&DeviceId=EASINSPECTLIVE&DeviceType=TestDevice{extra}"


@pytest.mark.lab
def test_live_options(lab: Any) -> None:
    ex = lab("OPTIONS", "")
    assert ex.command == "Options" and ex.http_status == 200
    assert "14.1" in ex.offered_versions and "ItemOperations" in ex.offered_commands


@pytest.mark.lab
def test_live_sendmail_rfc822(lab: Any) -> None:
    mime = (b"From: alice@example.com\r\nTo: bob@example.com\r\nSubject: live test\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n\r\nSent by the eas-inspector tests.\r\n")
    ex = lab("POST", _q("SendMail", "&SaveInSent=F"), mime, content_type="message/rfc822", version="12.1")
    assert ex.http_status == 200
    assert ex.request_body is not None and ex.request_body.kind == "rfc822"
    assert ex.request_body.text is not None and "Subject: live test" in ex.request_body.text
    assert "alicepw" not in repr(ex)


@pytest.mark.lab
def test_live_folder_delete_500_and_multipart(lab: Any) -> None:
    folders = lab("POST", _q("FolderSync"), eas.encode('<FolderSync xmlns="FolderHierarchy"><SyncKey>0</SyncKey></FolderSync>'))
    assert folders.eas_status == 1 and folders.sync_keys
    key = folders.sync_keys[-1]
    failed = lab("POST", _q("FolderDelete"), eas.encode(
        f'<FolderDelete xmlns="FolderHierarchy"><SyncKey>{key}</SyncKey><ServerId>vcard%2Fpersonal</ServerId></FolderDelete>'))
    assert failed.http_status == 500
    assert failed.response_body is not None and failed.response_body.kind == "text"
    assert [p.reason for p in failed.problems if p.where == "response body"] == ["body is text, not WBXML"]

    fetch = lab("POST", _q("ItemOperations"), eas.encode(
        '<ItemOperations xmlns="ItemOperations" xmlns:airsyncbase="AirSyncBase"><Fetch><Store>Mailbox</Store>'
        "<airsyncbase:FileReference>mail/INBOX/4/2</airsyncbase:FileReference></Fetch></ItemOperations>"),
        extra=(("MS-ASAcceptMultiPart", "T"),))
    assert fetch.response_body is not None and fetch.response_body.kind == "multipart"
    assert fetch.response_body.xml is not None and "part 1: PDF document" in fetch.response_body.xml
    assert [p for p in fetch.problems if p.severity == "error"] == []


# --- MS-ASHTTP section 4 examples --------------------------------------------------------------------------


def test_spec_4_1_foldersync() -> None:
    request = eas.encode('<FolderSync xmlns="FolderHierarchy"><SyncKey>2</SyncKey></FolderSync>')
    response = eas.encode(
        '<FolderSync xmlns="FolderHierarchy"><Status>1</Status><SyncKey>2</SyncKey>'
        "<Changes><Count>0</Count></Changes></FolderSync>"
    )
    ex = analyze(
        "POST",
        "/Microsoft-Server-ActiveSync?Cmd=FolderSync&User=fakename&DeviceId=v140Device&DeviceType=SmartPhone",
        [("Content-Type", "application/vnd.ms-sync.wbxml"), ("MS-ASProtocolVersion", "14.0"),
         ("User-Agent", "ASOM"), ("Host", "Contoso.com")],
        request,
        200,
        [("Content-Type", "application/vnd.ms-sync.wbxml"), ("X-MS-MV", "14.0.511"),
         ("Date", "Thu, 12 Mar 2009 19:34:31 GMT"), ("Content-Length", str(len(response)))],
        response,
    )
    assert summarize(ex) == "EAS FolderSync 14.0 user=fakename device=v140Device HTTP 200 ok FolderSync/Status=1 (success)"
    assert ex.sync_keys == ("2",)
    assert ex.problems == ()
    assert {n.name: n.meaning for n in ex.response_headers}["X-MS-MV"] == "server build 14.0.511"


def test_spec_4_3_sendmail_with_policy_key() -> None:
    request = eas.encode(
        '<SendMail xmlns="ComposeMail"><ClientId>633724606026842453</ClientId>'
        "<Mime>From: fakeuser@Contoso.com\nTo: fakeuser@Contoso.com\nSubject: From NSync\n\n"
        "This is the body text.</Mime></SendMail>"
    )
    ex = analyze(
        "POST",
        "/Microsoft-Server-ActiveSync?Cmd=SendMail&User=fakeusername&DeviceId=v140Device&DeviceType=SmartPhone",
        [("Content-Type", "application/vnd.ms-sync.wbxml"), ("MS-ASProtocolVersion", "14.0"),
         ("X-MS-PolicyKey", "2034202722"), ("User-Agent", "ASOM")],
        request,
        200,
        [("X-MS-MV", "14.0.511"), ("Content-Length", "0")],
        b"",
    )
    assert ex.policy_key == "2034202722"
    assert ex.request_body is not None and ex.request_body.root_tag == "SendMail"
    assert ex.response_body is not None and ex.response_body.kind == "empty"
    assert ex.problems == ()  # valid against MS-ASHTTP 6.14


def test_spec_2_2_2_1_1_3_busy_server() -> None:
    ex = analyze(
        "OPTIONS", "/Microsoft-Server-ActiveSync",
        [("Content-Type", "application/vnd.ms-sync.wbxml"), ("MS-ASProtocolVersion", "14.0")], b"",
        503, [("Connection", "close"), ("Server", "Microsoft-IIS/7.0"), ("Content-Type", "text/html")], b"",
    )
    assert ex.http_status_meaning is not None and "unavailable" in ex.http_status_meaning
    assert summarize(ex) == "EAS Options 14.0 HTTP 503 failed"


def test_multipart_without_its_content_type_when_asked_for() -> None:
    body = (DATA / "itemoperations_multipart.response.bin").read_bytes()
    ex = fixture("itemoperations_multipart", response_headers=[("Content-Type", "application/octet-stream")],
                 response_body=body)
    assert ex.response_body is not None and ex.response_body.kind == "multipart"
    not_asked = fixture("itemoperations_multipart", request_headers=[],
                        response_headers=[("Content-Type", "application/octet-stream")], response_body=body)
    assert not_asked.response_body is not None and not_asked.response_body.kind == "binary"


def test_rfc822_with_attachment_and_encoded_subject() -> None:
    mime = (
        b"From: alice@example.com\r\nTo: bob@example.com\r\n"
        b"Subject: =?utf-8?q?R=C3=A9union?=\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
        b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee the report.\r\n"
        b'--b1\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename="q.pdf"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.b64encode(b"%PDF-1.4 tiny") + b"\r\n--b1--\r\n"
    )
    ex = analyze(
        "POST", "/Microsoft-Server-ActiveSync?Cmd=SmartReply&User=u&DeviceId=d&DeviceType=t&ItemId=1&CollectionId=5",
        [("Content-Type", "message/rfc822"), ("MS-ASProtocolVersion", "12.1")], mime,
    )
    body = ex.request_body
    assert body is not None and body.kind == "rfc822" and body.text is not None
    assert "Subject: Réunion" in body.text
    assert "See the report." in body.text
    assert "application/pdf attachment 'q.pdf': PDF document, 13 bytes" in body.text
    assert ex.collection_ids == ("5",)


def test_mime_request_without_content_type_is_still_shown_as_mime() -> None:
    mime = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nbody\r\n"
    ex = analyze("POST", "/Microsoft-Server-ActiveSync?Cmd=SendMail&User=u&DeviceId=d&DeviceType=t", [], mime)
    assert ex.request_body is not None and ex.request_body.kind == "rfc822"


# --- past failures found by mutating the lab fixtures ------------------------------------------------------


def test_text_part_with_control_characters_still_commented() -> None:
    parts = parse_multipart((DATA / "itemoperations_multipart.response.bin").read_bytes())
    body = build_multipart([parts[0], b"text with \x01 a control byte " + b"x" * 60, parts[2]])
    ex = fixture("itemoperations_multipart", response_body=body)
    assert not any(p.reason.startswith("analysis failed") for p in ex.problems)
    assert ex.response_body is not None and ex.response_body.xml is not None
    assert "part 1: text" in ex.response_body.xml


def test_lone_id_root_is_not_a_ping_folder() -> None:
    body = eas.encode('<Id xmlns="Ping">x</Id>')
    ex = analyze("POST", "/Microsoft-Server-ActiveSync?Cmd=Ping&User=u&DeviceId=d&DeviceType=t", [], body)
    assert not any(p.reason.startswith("analysis failed") for p in ex.problems)
    assert ex.collection_ids == ()
