"""`eas-inspector explain`: a .mitm file (and a capture) printed exchange by exchange, run as the real command."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest
from mitmproxy import http, io
from mitmproxy.test import tflow

from capture.mitm import flow_input_from_mitm
from capture.writer import CaptureWriter

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "data" / "exchange"
SECRET = "s3cr3t-password"


def command() -> list[str]:
    script = Path(sys.executable).with_name("eas-inspector")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "eas_inspector"]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*command(), *args], capture_output=True, text=True, timeout=120)


def lab_flow(name: str, *, authorization: bool = True) -> http.HTTPFlow:
    """A mitmproxy flow rebuilt from a recorded lab exchange (tests/data/exchange)."""
    meta = json.loads((DATA / f"{name}.json").read_text())
    request_headers = [(a.encode(), b.encode()) for a, b in meta["request_headers"]]
    if authorization:
        token = base64.b64encode(f"alice:{SECRET}".encode())
        request_headers.append((b"Authorization", b"Basic " + token))
    request = http.Request.make(meta["method"], meta["url"], (DATA / f"{name}.request.bin").read_bytes(),
                                request_headers)
    response = http.Response.make(meta["response_status"], (DATA / f"{name}.response.bin").read_bytes(),
                                  [(a.encode(), b.encode()) for a, b in meta["response_headers"]])
    return tflow.tflow(req=request, resp=response)


def write_flows(path: Path, flows: list[http.HTTPFlow]) -> Path:
    with path.open("wb") as handle:
        writer = io.FlowWriter(handle)
        for flow in flows:
            writer.add(flow)
    return path


@pytest.fixture(scope="module")
def lab_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    other = tflow.tflow(resp=True)  # a plain web request, not EAS: left out
    names = ["options", "foldersync", "sync_inbox", "itemoperations_multipart", "folderdelete_500_text",
             "sendmail_rfc822", "getattachment_pdf"]
    flows = [lab_flow(name) for name in names]
    flows.insert(1, other)
    return write_flows(tmp_path_factory.mktemp("explain") / "lab.mitm", flows)


@pytest.fixture(scope="module")
def explained(lab_file: Path) -> str:
    result = run_cli("explain", str(lab_file))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout


def test_every_eas_flow_once(explained: str) -> None:
    headings = [line for line in explained.splitlines() if line.startswith("=== #")]
    assert len(headings) == 7
    assert headings[0].startswith("=== #1 OPTIONS")
    assert headings[1].startswith("=== #3 POST")  # flow 2 is not EAS


def test_summary_and_query_lines(explained: str) -> None:
    assert "EAS Options 14.1 user=alice HTTP 200 ok offers 2.5,12.0,12.1,14.0,14.1" in explained  # user from Basic
    assert "Server offers commands: Sync, SendMail" in explained
    assert "Query (plain): Cmd=Sync, User=alice, DeviceId=EASINSPECT01, DeviceType=TestDevice" in explained


def test_credentials_never_printed(explained: str) -> None:
    assert SECRET not in explained
    assert base64.b64encode(f"alice:{SECRET}".encode()).decode() not in explained
    assert "Authorization: Basic user='alice' (password hidden)" in explained


def test_headers_explained(explained: str) -> None:
    assert "MS-ASAcceptMultiPart: T  -- the client asks for ItemOperations data as" in explained
    assert "Content-Type: message/rfc822  -- body is a MIME message" in explained


def test_bodies_of_every_kind(explained: str) -> None:
    assert "Request body (rfc822, 264 bytes, message/rfc822):" in explained
    assert "    Subject: Lunch on Friday?" in explained
    assert "Response body (text, 40 bytes, application/vnd.ms-sync.wbxml):" in explained
    assert "    Unsupported folder type during creation." in explained
    assert "warning: response body at offset 0x0 (0): body is text, not WBXML" in explained
    assert "application/pdf: PDF document, 75 bytes" in explained
    assert "Response body (multipart <ItemOperations>, 296 bytes" in explained
    assert "part 2: PNG image, 66 bytes" in explained


def test_annotated_xml(explained: str) -> None:
    assert "<FolderSync xmlns=\"FolderHierarchy\">" in explained
    assert "<!-- part 1: PDF document, 75 bytes -->" in explained
    assert "Quarterly report draft" in explained
    assert "EAS status Sync/Collections/Collection/Status = 1" in explained


def test_plain_has_no_comments(lab_file: Path) -> None:
    result = run_cli("explain", "--plain", str(lab_file))
    assert result.returncode == 0, result.stderr
    assert "<!--" not in result.stdout
    assert "<FolderSync xmlns=\"FolderHierarchy\">" in result.stdout


@pytest.mark.parametrize("content", [b"this is not a flow file\n", b"\x00\x01\x02" * 50])
def test_bad_file_one_line_exit_1(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.mitm"
    path.write_bytes(content)
    result = run_cli("explain", str(path))
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(f"eas-inspector: {path}:")


def test_missing_file(tmp_path: Path) -> None:
    result = run_cli("explain", str(tmp_path / "nope.mitm"))
    assert result.returncode == 1
    assert result.stderr.strip() == f"eas-inspector: {tmp_path / 'nope.mitm'}: No such file or directory"


def test_file_without_eas(tmp_path: Path) -> None:
    path = write_flows(tmp_path / "web.mitm", [tflow.tflow(resp=True)])
    result = run_cli("explain", str(path))
    assert result.returncode == 0
    assert result.stdout == ""
    assert "no ActiveSync or Autodiscover exchange" in result.stderr


def test_flow_without_response(tmp_path: Path) -> None:
    flow = lab_flow("foldersync")
    flow.response = None
    path = write_flows(tmp_path / "noresp.mitm", [flow])
    result = run_cli("explain", str(path))
    assert result.returncode == 0, result.stderr
    summary = result.stdout.splitlines()[1]
    assert summary.startswith("EAS FolderSync ")
    assert summary.endswith(" user=alice device=EASINSPECT01 no response warning: no response recorded")
    assert "HTTP: no response" in result.stdout


def test_capture_file(tmp_path: Path) -> None:
    path = tmp_path / "lab.sqlite"
    writer = CaptureWriter(path)
    try:
        for name in ["options", "itemoperations_multipart", "folderdelete_500_text"]:
            writer.add_sync(flow_input_from_mitm(lab_flow(name)))
    finally:
        writer.close()
    result = run_cli("explain", str(path))
    assert result.returncode == 0, result.stderr
    headings = [line for line in result.stdout.splitlines() if line.startswith("=== #")]
    assert len(headings) == 3 and "OPTIONS" in headings[0]
    assert "<!-- part 1: PDF document, 75 bytes -->" in result.stdout
    assert "Authorization: Basic user='alice' (password not stored)" in result.stdout
    assert SECRET not in result.stdout
    plain = run_cli("explain", "--plain", str(path))
    assert plain.returncode == 0 and "<!--" not in plain.stdout


def test_sqlite_that_is_not_a_capture(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "other.sqlite"
    connection = sqlite3.connect(path)
    connection.execute("create table t (a)")
    connection.commit()
    connection.close()
    result = run_cli("explain", str(path))
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1 and str(path) in result.stderr


def test_truncated_flow_file_prints_what_it_read_then_fails(tmp_path: Path) -> None:
    whole = write_flows(tmp_path / "two.mitm", [lab_flow("options"), lab_flow("sync_inbox")]).read_bytes()
    first_only = write_flows(tmp_path / "one.mitm", [lab_flow("options")]).read_bytes()
    cut = tmp_path / "cut.mitm"
    cut.write_bytes(whole[: len(first_only) + 40])
    result = run_cli("explain", str(cut))
    assert result.returncode == 1
    assert "=== #1 OPTIONS" in result.stdout
    assert len(result.stderr.splitlines()) == 1 and "not a readable mitmproxy flow file" in result.stderr
