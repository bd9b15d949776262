"""Import from .mitm (through capture.importers), export to .mitm (read back by a real mitmdump), HAR and annotated XML."""

from __future__ import annotations

import http.client as http_client
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from lxml import etree
from mitmproxy import http, io
from mitmproxy.test import tflow, tutils

from capture.har import export_har
from capture.importers import ImportIssue, import_file
from capture.mitm import export_mitm, flow_from_record, flow_input_from_mitm
from capture.model import CaptureError, FlowInput
from capture.reader import CaptureReader
from capture.writer import CaptureWriter
from capture.xml_export import export_xml
from tests.addon.conftest import Origin, canned_requests, send, start_mitmdump
from tests.capture.test_store import eas_flow, sync_response

MITMDUMP = Path(sys.executable).parent / "mitmdump"


def autodiscover_flow() -> http.HTTPFlow:
    request = tutils.treq(
        host="autodiscover.example.com",
        port=443,
        scheme=b"https",
        method=b"POST",
        path=b"/autodiscover/autodiscover.xml",
        headers=http.Headers(((b"Host", b"autodiscover.example.com"), (b"Content-Type", b"text/xml"))),
        content=b"<Autodiscover><Request><EMailAddress>alice@example.com</EMailAddress></Request></Autodiscover>",
    )
    return tflow.tflow(req=request, resp=True)


def plain_flow() -> http.HTTPFlow:
    return tflow.tflow(req=tutils.treq(path=b"/index.html"), resp=True)


def write_mitm(path: Path, flows: list[object]) -> None:
    with path.open("wb") as file:
        writer = io.FlowWriter(file)
        for f in flows:
            writer.add(f)  # type: ignore[arg-type]


def read_mitm(path: Path) -> list[http.HTTPFlow]:
    with path.open("rb") as file:
        return list(io.FlowReader(file).stream())  # type: ignore[arg-type]


@pytest.fixture
def mitm_file(tmp_path: Path) -> tuple[Path, list[http.HTTPFlow]]:
    eas_flows = [eas_flow("FolderSync", timestamp=100.0), eas_flow("Sync", timestamp=101.0), autodiscover_flow()]
    path = tmp_path / "traffic.mitm"
    write_mitm(path, [eas_flows[0], plain_flow(), eas_flows[1], tflow.ttcpflow(), eas_flows[2]])
    return path, eas_flows


def test_import_takes_eas_and_autodiscover_flows(tmp_path: Path, mitm_file: tuple[Path, list[http.HTTPFlow]]) -> None:
    source, _ = mitm_file
    capture = tmp_path / "capture.sqlite"
    report = import_file(source, capture)
    assert (report.imported, report.skipped_other_http, report.skipped_not_http) == (3, 1, 1)
    with CaptureReader(capture) as reader:
        rows = reader.flows(order="id")
        assert [row.command for row in rows] == ["FolderSync", "Sync", "Autodiscover"]
        assert rows[2].is_autodiscover and rows[2].url == "https://autodiscover.example.com/autodiscover/autodiscover.xml"
    assert import_file(source, capture).imported == 3  # importing again appends
    with CaptureReader(capture) as reader:
        assert reader.count_flows() == 6


def test_import_refuses_files_that_are_not_flow_files(tmp_path: Path) -> None:
    source = tmp_path / "notes.mitm"
    source.write_text("hello, these are notes")
    with pytest.raises(CaptureError, match="notes.mitm: not a form eas-inspector reads"):
        import_file(source, tmp_path / "capture.sqlite")
    broken = tmp_path / "broken.mitm"
    broken.write_bytes(b"12345:garbage")
    with pytest.raises(CaptureError, match="broken.mitm: not a form eas-inspector reads"):
        import_file(broken, tmp_path / "capture2.sqlite")
    # read as a .mitm file all the same: its one record is cut short, and the import says so instead of failing
    report = import_file(broken, tmp_path / "capture2.sqlite", form="mitm")
    assert (report.imported, report.issues) == (
        0, [ImportIssue("flow 1", "the file ends inside this flow (cut short?); it starts at byte 0", stopped=True)]
    )
    with pytest.raises(CaptureError, match="cannot read"):
        import_file(tmp_path / "missing.mitm", tmp_path / "capture3.sqlite")


def test_export_mitm_gives_back_the_imported_flows(
    tmp_path: Path, mitm_file: tuple[Path, list[http.HTTPFlow]]
) -> None:
    source, originals = mitm_file
    capture = tmp_path / "capture.sqlite"
    with CaptureWriter(capture, keep_credentials=True) as writer:
        for f in read_mitm(source):
            if isinstance(f, http.HTTPFlow) and f.request.path != "/index.html":
                writer.add(flow_input_from_mitm(f))
    exported = tmp_path / "exported.mitm"
    assert export_mitm(capture, exported) == 3
    assert [f.get_state() for f in read_mitm(exported)] == [f.get_state() for f in originals]
    assert export_mitm(capture, tmp_path / "one.mitm", flow_ids=[2]) == 1
    assert read_mitm(tmp_path / "one.mitm")[0].get_state() == originals[1].get_state()


def test_exported_credentials_stay_redacted(tmp_path: Path, mitm_file: tuple[Path, list[http.HTTPFlow]]) -> None:
    source, _ = mitm_file
    capture = tmp_path / "capture.sqlite"
    import_file(source, capture)
    exported = tmp_path / "exported.mitm"
    export_mitm(capture, exported)
    assert read_mitm(exported)[0].request.headers["Authorization"] == "Basic alice@example.com:<redacted>"
    assert b"alicepw" not in exported.read_bytes()


def test_mitmdump_reads_the_exported_file(tmp_path: Path, mitm_file: tuple[Path, list[http.HTTPFlow]]) -> None:
    source, _ = mitm_file
    capture = tmp_path / "capture.sqlite"
    import_file(source, capture)
    exported = tmp_path / "exported.mitm"
    export_mitm(capture, exported)
    resaved = tmp_path / "resaved.mitm"
    command = [str(MITMDUMP), "-n", "-r", str(exported), "-w", str(resaved), "--set", f"confdir={tmp_path / 'conf'}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("POST https://mail.example.com/Microsoft-Server-ActiveSync") == 2
    assert result.stdout.count("<< 200 OK") == 3
    assert [f.get_state() for f in read_mitm(resaved)] == [f.get_state() for f in read_mitm(exported)]


def test_export_har(tmp_path: Path, mitm_file: tuple[Path, list[http.HTTPFlow]]) -> None:
    source, _ = mitm_file
    capture = tmp_path / "capture.sqlite"
    import_file(source, capture)
    har_path = tmp_path / "capture.har"
    assert export_har(capture, har_path) == 3
    har = json.loads(har_path.read_text())
    assert har["log"]["version"] == "1.2"
    entries = har["log"]["entries"]
    assert [e["request"]["url"].split("?")[0] for e in entries] == [
        "https://mail.example.com/Microsoft-Server-ActiveSync",
        "https://mail.example.com/Microsoft-Server-ActiveSync",
        "https://autodiscover.example.com/autodiscover/autodiscover.xml",
    ]
    assert entries[0]["response"]["status"] == 200
    assert export_har(capture, tmp_path / "one.har", flow_ids=[3]) == 1


def test_export_of_a_missing_flow_or_capture_fails_clearly(tmp_path: Path) -> None:
    capture = tmp_path / "capture.sqlite"
    CaptureWriter(capture).close()
    with pytest.raises(CaptureError, match="no flow 7"):
        export_mitm(capture, tmp_path / "x.mitm", flow_ids=[7])
    with pytest.raises(CaptureError, match="no such capture"):
        export_har(tmp_path / "missing.sqlite", tmp_path / "x.har")


def test_export_xml_is_one_well_formed_annotated_document(tmp_path: Path) -> None:
    capture = tmp_path / "capture.sqlite"
    with CaptureWriter(capture) as writer:
        sync_id = writer.add_sync(flow_input_from_mitm(eas_flow(response_body=sync_response("Lunch & more"))))
        broken_id = writer.add_sync(flow_input_from_mitm(eas_flow(response_body=b"\x03\x01\x6a\x00\x45\x44")))
        plain_id = writer.add_sync(flow_input_from_mitm(plain_flow()))
    with CaptureReader(capture) as reader:
        records = list(reader.records([sync_id, broken_id, plain_id]))
    document = export_xml(records)
    root = etree.fromstring(document.encode())
    exchanges = root.findall("{urn:eas-inspector:export}exchange")
    assert [e.get("id") for e in exchanges] == [str(sync_id), str(broken_id), str(plain_id)]
    assert exchanges[0].get("command") == "Sync" and exchanges[0].get("user") == "alice"
    assert "Lunch &amp; more" in document
    response = exchanges[0].find("{urn:eas-inspector:export}response")
    assert response is not None and response[0].tag == "{AirSync}Sync"
    assert exchanges[1].find("{urn:eas-inspector:export}problem") is not None
    assert exchanges[2].find("{urn:eas-inspector:export}request").text == "content"  # type: ignore[union-attr]


def test_flow_from_record_of_a_flow_without_connection_details(tmp_path: Path) -> None:
    capture = tmp_path / "capture.sqlite"
    original = eas_flow()
    with CaptureWriter(capture, keep_credentials=True) as writer:
        stripped = flow_input_from_mitm(original)
        flow_id = writer.add_sync(replace(stripped, connection={}, extra={}))
    with CaptureReader(capture) as reader:
        rebuilt = flow_from_record(reader.flow(flow_id))
    assert rebuilt.request.get_state() == original.request.get_state()
    assert rebuilt.server_conn.address == ("address", 22)


def test_server_address_without_connection_details_keeps_ipv6_hosts(tmp_path: Path) -> None:
    original = eas_flow()
    original.server_conn.address = ("2001:db8::1", 443)
    stripped = replace(flow_input_from_mitm(original), connection={})
    assert stripped.server_address == "[2001:db8::1]:443"
    capture = tmp_path / "capture.sqlite"
    with CaptureWriter(capture) as writer:
        flow_id = writer.add_sync(stripped)
    with CaptureReader(capture) as reader:
        assert flow_from_record(reader.flow(flow_id)).server_conn.address == ("2001:db8::1", 443)


def test_exports_take_error_flows_and_bare_flow_inputs(tmp_path: Path) -> None:
    capture = tmp_path / "capture.sqlite"
    bare = FlowInput(
        method="OPTIONS",
        scheme="https",
        target_host="mail.example.com",
        port=443,
        path="/Microsoft-Server-ActiveSync",
        http_version="HTTP/1.1",
        request_headers=(),
        request_body=b"",
        timestamps={},
    )
    with CaptureWriter(capture) as writer:
        writer.add(flow_input_from_mitm(tflow.tflow(req=eas_flow().request, err=True)))
        writer.add(bare)
    assert export_har(capture, tmp_path / "x.har") == 2
    entries = json.loads((tmp_path / "x.har").read_text())["log"]["entries"]
    assert entries[1]["request"]["url"] == "https://mail.example.com/Microsoft-Server-ActiveSync"
    assert export_mitm(capture, tmp_path / "x.mitm") == 2
    error_flow, bare_flow = read_mitm(tmp_path / "x.mitm")
    assert error_flow.error is not None and error_flow.response is None
    assert bare_flow.request.method == "OPTIONS" and bare_flow.response is None


def test_tls_details_are_kept(tmp_path: Path) -> None:
    original = eas_flow()
    original.server_conn.sni = "mail.example.com"
    original.server_conn.tls_version = "TLSv1.3"
    original.server_conn.alpn = b"h2"
    capture = tmp_path / "capture.sqlite"
    with CaptureWriter(capture) as writer:
        flow_id = writer.add_sync(flow_input_from_mitm(original))
    with CaptureReader(capture) as reader:
        record = reader.flow(flow_id)
    assert (record.sni, record.tls_version, record.alpn) == ("mail.example.com", "TLSv1.3", "h2")
    assert record.server_address == "address:22" and record.tls


def test_export_xml_of_a_truncated_flow_uses_the_text_seen_whole(tmp_path: Path) -> None:
    capture = tmp_path / "capture.sqlite"
    with CaptureWriter(capture, max_body_size=40) as writer:
        flow_id = writer.add_sync(flow_input_from_mitm(eas_flow(response_body=sync_response("Seen whole"))))
    with CaptureReader(capture) as reader:
        record = reader.flow(flow_id)
    assert record.response_truncated
    document = export_xml([record])
    assert "Seen whole" in document
    etree.fromstring(document.encode())


@pytest.mark.slow
def test_import_of_what_a_plain_mitmdump_wrote(tmp_path: Path, origin: Origin, mitm_confdir: Path) -> None:
    """Traffic through a real mitmdump without the addon (`-w`), then imported: EAS and Autodiscover flows only."""
    recorded = tmp_path / "plain.mitm"
    proxy = start_mitmdump(origin.port, mitm_confdir, addon=False, extra=["-w", str(recorded)])
    requests = canned_requests()
    try:
        connection = http_client.HTTPConnection("127.0.0.1", proxy.port, timeout=60)
        for request in requests:
            send(connection, request)
        connection.close()
    finally:
        assert proxy.stop() == 0, proxy.output
    capture = tmp_path / "capture.sqlite"
    report = import_file(recorded, capture)
    assert report.imported == sum(1 for r in requests if r.eas)
    assert report.skipped_other_http == sum(1 for r in requests if not r.eas)
    with CaptureReader(capture) as reader:
        rows = reader.flows(order="id", limit=None)
        assert [row.command for row in rows if row.command] == [
            r.command or "Autodiscover" for r in requests if r.eas and (r.command or "autodiscover" in r.name)
        ]
        gzip_row = rows[[r.name for r in requests if r.eas].index("gzip")]
        assert gzip_row.eas_status == 1  # decoded through Content-Encoding: gzip
        assert "Hello" in (reader.flow(gzip_row.id).response_text or "")
