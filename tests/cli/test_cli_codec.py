"""The decode, encode, query and proxy subcommands, run as the real console script in subprocesses."""

from __future__ import annotations

import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import eas
from eas_inspector import cmd_proxy

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent

# MS-ASCMD 4.5.1-style FolderSync request: WBXML 1.3, public id 1, UTF-8 (106), empty string table,
# SWITCH_PAGE 7 (FolderHierarchy), <FolderSync> (0x16|0x40) <SyncKey> (0x12|0x40) "0" </SyncKey> </FolderSync>.
FOLDERSYNC_REQUEST = bytes.fromhex("03 01 6a 00 00 07 56 52 03 30 00 01 01")
# The matching response head: <FolderSync><Status>1</Status><SyncKey>1</SyncKey></FolderSync>.
FOLDERSYNC_RESPONSE = bytes.fromhex("03 01 6a 00 00 07 56 4c 03 31 00 01 52 03 31 00 01 01")

# base64 query with every field (see tests/eas/test_query.py FULL_BYTES), and one with policy key length 3.
FULL_QUERY = "jQMHBBCgoaKjpKWmp6ipqqusra6vBFktBOsGaVBob25lAQE1AwQ1OjEyCAVhbGljZQcBAw=="
BAD_QUERY = "jQAJBAFBAwECAw=="  # 8d 00 09 04 01 41 03 01 02 03


def command() -> list[str]:
    script = Path(sys.executable).with_name("eas-inspector")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "eas_inspector"]


def run_cli(*args: str, stdin: bytes = b"", cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    return subprocess.run(
        [*command(), *args], input=stdin, capture_output=True, cwd=cwd or REPO, env=env, check=False
    )


def assert_one_line_error(result: subprocess.CompletedProcess[bytes], expected_start: str) -> str:
    assert result.returncode == 1, result
    assert result.stdout == b""
    stderr = result.stderr.decode()
    assert "Traceback" not in stderr
    assert stderr.count("\n") == 1 and stderr.endswith("\n"), stderr
    assert stderr.startswith(expected_start), stderr
    return stderr.rstrip("\n")


# ------------------------------------------------------------------------------------------------- query


def test_query_plain_prints_aligned_fields() -> None:
    result = run_cli("query", "Cmd=Sync&User=fakeuser@Contoso.com&DeviceId=v140&DeviceType=SmartPhone")
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().splitlines() == [
        "Form        plain",
        "Command     Sync (0)",
        "DeviceId    v140",
        "DeviceType  SmartPhone",
        "User        fakeuser@Contoso.com",
    ]


def test_query_accepts_a_whole_url() -> None:
    result = run_cli("query", f"https://mail.example.com/Microsoft-Server-ActiveSync?{FULL_QUERY}")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    assert "Command          SmartReply (3)" in lines
    assert "Locale           0x0407 (de-DE)" in lines
    assert "DeviceId (GUID)  {A3A2A1A0-A5A4-A7A6-A8A9-AAABACADAEAF}" in lines
    assert "Options          SaveInSent, AcceptMultiPart" in lines


def test_query_json() -> None:
    result = run_cli("query", "--json", FULL_QUERY)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["command"] == "SmartReply" and data["command_code"] == 3
    assert data["policy_key"] == 3942919513 and data["locale_tag"] == "de-DE"
    assert data["parameters"] == [["CollectionId", "5"], ["ItemId", "5:12"]]
    assert data["options"] == ["AcceptMultiPart", "SaveInSent"]
    assert ["User", "alice"] in data["fields"]


def test_query_from_stdin() -> None:
    result = run_cli("query", "-", stdin=b"jAAJBAp2MTQwRGV2aWNlAApTbWFydFBob25l\n")
    assert result.returncode == 0, result.stderr
    assert "DeviceType       SmartPhone" in result.stdout.decode().splitlines()


def test_query_error_is_one_line() -> None:
    line = assert_one_line_error(run_cli("query", BAD_QUERY), "eas-inspector: query: ")
    assert line == "eas-inspector: query: PolicyKey length: offset 0x6 (6): policy key length must be 0 or 4, not 3"
    assert_one_line_error(run_cli("query", ""), "eas-inspector: query: offset 0x0 (0): empty query")


# ---------------------------------------------------------------------------------------- decode / encode


def test_unreadable_files_are_one_line_errors(tmp_path: Path) -> None:
    missing = tmp_path / "missing.wbxml"
    line = assert_one_line_error(run_cli("decode", str(missing)), f"eas-inspector: {missing}: ")
    assert line.endswith("No such file or directory")
    assert_one_line_error(run_cli("decode", str(tmp_path)), f"eas-inspector: {tmp_path}: ")
    assert_one_line_error(run_cli("encode", str(missing)), f"eas-inspector: {missing}: ")


def test_decode_imports_only_the_protocol_layer(tmp_path: Path) -> None:
    sample = tmp_path / "foldersync.wbxml"
    sample.write_bytes(FOLDERSYNC_REQUEST)
    probe = (
        "import runpy, sys\n"
        f"sys.argv = ['eas-inspector', 'decode', {str(sample)!r}]\n"
        "try:\n"
        "    runpy.run_module('eas_inspector', run_name='__main__', alter_sys=True)\n"
        "except BaseException:\n"  # SystemExit always: the probe only lists the modules imported
        "    pass\n"
        "sys.stderr.write('\\n'.join(sorted(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, cwd=REPO, check=False)
    modules = set(result.stderr.decode().splitlines())
    assert "eas_inspector.cmd_codec" in modules and "eas" in modules
    heavy = sorted(m for m in modules if m.split(".")[0] in {"mitmproxy", "textual", "addon", "viewer", "rich"})
    assert heavy == []


def test_decode_encode_round_trip(tmp_path: Path) -> None:
    sample = tmp_path / "foldersync.wbxml"
    sample.write_bytes(FOLDERSYNC_REQUEST)
    decoded = run_cli("decode", "--plain", str(sample))
    assert decoded.returncode == 0, decoded.stderr
    xml = decoded.stdout.decode()
    assert "FolderSync" in xml and "<!--" not in xml
    root = eas.parse_xml(decoded.stdout)
    assert root.tag == "{FolderHierarchy}FolderSync"
    assert [child.text for child in root] == ["0"]

    encoded = run_cli("encode", "-", stdin=decoded.stdout)  # through a pipe
    assert encoded.returncode == 0, encoded.stderr
    assert encoded.stdout == FOLDERSYNC_REQUEST

    xml_file = tmp_path / "foldersync.xml"
    xml_file.write_bytes(decoded.stdout)
    out = tmp_path / "out.wbxml"
    written = run_cli("encode", str(xml_file), "-o", str(out))
    assert written.returncode == 0 and written.stdout == b"", written.stderr
    assert out.read_bytes() == FOLDERSYNC_REQUEST

    from_stdin = run_cli("decode", "--plain", "-", stdin=FOLDERSYNC_REQUEST)
    assert from_stdin.stdout == decoded.stdout


def real_samples() -> list[Path]:
    """A spread of the real lab exchanges (tests/data/real): every 12th body, plus the largest."""
    bodies = sorted((REPO / "tests" / "data" / "real").glob("*.wbxml"))
    if not bodies:
        return []
    return sorted(set(bodies[::12]) | {max(bodies, key=lambda p: p.stat().st_size)})


@pytest.mark.parametrize("sample", real_samples(), ids=lambda p: p.name)
def test_real_bodies_survive_annotated_decode_and_encode(sample: Path, tmp_path: Path) -> None:
    decoded = run_cli("decode", str(sample))  # annotated: the encoder ignores the comments
    assert decoded.returncode == 0, decoded.stderr
    encoded = run_cli("encode", "-", stdin=decoded.stdout)
    assert encoded.returncode == 0, encoded.stderr
    assert encoded.stdout == sample.read_bytes()


def test_decode_annotates_by_default() -> None:
    plain = run_cli("decode", "--plain", "-", stdin=FOLDERSYNC_RESPONSE)
    annotated = run_cli("decode", "-", stdin=FOLDERSYNC_RESPONSE)
    assert plain.returncode == 0 and annotated.returncode == 0, annotated.stderr
    # annotation adds comments only: the XML without them is the plain XML
    root = eas.parse_xml(annotated.stdout)
    for comment in root.xpath("//comment()"):
        comment.getparent().remove(comment)
    assert eas.encode(root) == FOLDERSYNC_RESPONSE
    context = eas.AnnotationContext(command="FolderSync", is_response=True)
    if "<!--" in eas.to_xml(eas.annotate(eas.decode(FOLDERSYNC_RESPONSE), context)):
        assert b"<!--" in annotated.stdout  # the Status was explained, so the response was recognised


def test_decode_errors_are_one_line(tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.wbxml"
    truncated.write_bytes(FOLDERSYNC_REQUEST[:-3])
    line = assert_one_line_error(run_cli("decode", str(truncated)), f"eas-inspector: {truncated}: ")
    assert "offset 0x" in line
    assert_one_line_error(run_cli("decode", "-", stdin=b"\x03\x01\x6a"), "eas-inspector: <stdin>: ")
    assert_one_line_error(run_cli("decode", "--strict", "-", stdin=bytes.fromhex("03 01 6a 00 00 7f 45 01")),
                          "eas-inspector: <stdin>: ")


def test_encode_errors_are_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.xml"
    broken.write_text('<FolderSync xmlns="FolderHierarchy"><SyncKey>0</FolderSync>')
    assert_one_line_error(run_cli("encode", str(broken)), f"eas-inspector: {broken}: ")
    assert_one_line_error(run_cli("encode", "-", stdin=b'<Nope xmlns="NoSuchPage"/>'), "eas-inspector: <stdin>: ")


# -------------------------------------------------------------------------------------------------- proxy


def test_proxy_runs_mitmdump_with_the_entry_script() -> None:
    result = run_cli("proxy", "--", "--version")
    assert result.returncode == 0, result.stderr
    assert b"Mitmproxy: 12." in result.stdout
    assert result.stderr.decode().splitlines() == [
        f"eas-inspector: mitmdump with the ActiveSync addon, regular proxy on port 8080; "
        f"captures go to {REPO / 'captures'}/"
    ]


def test_proxy_command_line() -> None:
    root = cmd_proxy.repo_root()
    assert (root / "activesync_addon.py").is_file()
    argv = cmd_proxy.build_command("web", ["-p", "9000"], root)
    assert Path(argv[0]).name == "mitmweb" and argv[1:] == ["-s", str(root / "activesync_addon.py"), "-p", "9000"]
    line = cmd_proxy.describe("dump", ["--listen-port=9001", "--set", "activesync_capture=/tmp/x.sqlite"], root)
    assert line.endswith("regular proxy on port 9001; captures go to /tmp/x.sqlite")
    line = cmd_proxy.describe("dump", ["--mode", "reverse:http://127.0.0.1:1", "--set=activesync_capture="], root)
    assert "reverse:http://127.0.0.1:1 proxy on port 8080; capture off" in line
    with pytest.raises(FileNotFoundError, match="activesync_addon.py"):
        cmd_proxy.build_command("dump", [], root / "nowhere")


class _Origin(http.server.BaseHTTPRequestHandler):
    """A stand-in EAS server: answers every POST with an empty 200."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 - the http.server hook name
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - signature of the base class
        pass


@pytest.fixture()
def origin() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Origin)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_proxy_captures_eas_traffic(origin: int, tmp_path: Path) -> None:
    port = free_port()
    capture = tmp_path / "capture.sqlite"
    proxy = subprocess.Popen(
        [*command(), "proxy", "--", "--listen-host", "127.0.0.1", "-p", str(port), "--set", f"confdir={tmp_path}",
         "--set", f"activesync_capture={capture}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=tmp_path,
    )
    output: list[str] = []
    try:
        assert proxy.stdout is not None
        for raw in proxy.stdout:  # wait until mitmdump says it listens (or dies)
            output.append(raw.decode(errors="replace"))
            if "listening at" in output[-1]:
                break
        else:
            pytest.fail("mitmdump stopped before listening:\n" + "".join(output))
        with socket.create_connection(("127.0.0.1", port)) as conn:
            body = FOLDERSYNC_REQUEST
            conn.sendall(
                f"POST http://127.0.0.1:{origin}/Microsoft-Server-ActiveSync?Cmd=FolderSync&User=alice"
                f"&DeviceId=EASI0001A&DeviceType=TestDevice HTTP/1.1\r\nHost: 127.0.0.1:{origin}\r\n"
                f"Content-Type: application/vnd.ms-sync.wbxml\r\nMS-ASProtocolVersion: 14.1\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body
            )
            reply = b""
            while chunk := conn.recv(65536):
                reply += chunk
        assert reply.startswith(b"HTTP/1.1 200"), reply
    finally:
        proxy.send_signal(signal.SIGINT)
        rest, _ = proxy.communicate(timeout=60)
        output.append(rest.decode(errors="replace"))
    assert output[0].startswith("eas-inspector: mitmdump with the ActiveSync addon, regular proxy on port")
    assert f"captures go to {capture}" in output[0]
    from capture.reader import CaptureReader

    reader = CaptureReader(capture)
    try:
        flows = reader.flows()
    finally:
        reader.close()
    assert [flow.command for flow in flows] == ["FolderSync"], "".join(output)


# -------------------------------------------------------------------------------------------- run scripts


def fake_python(path: Path, version: str) -> Path:
    """A stand-in interpreter that claims `version` and is never >= 3.12 (prints nothing for the probe)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/sh\nif [ "$1" = --version ]; then echo "Python {version}"; fi\n')
    path.chmod(0o755)
    return path


@pytest.mark.parametrize("script", ["run-proxy", "run-tests"])
def test_run_scripts_refuse_an_old_python_clearly(script: str, tmp_path: Path) -> None:
    old = fake_python(tmp_path / "bin" / "python3.11", "3.11.9")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
           "EAS_VENV": str(tmp_path / "venv"), "EAS_PYTHON": str(old)}
    result = subprocess.run(["bash", str(REPO / "scripts" / script)], env=env, capture_output=True, text=True,
                            check=False)
    assert result.returncode == 1
    assert result.stderr == f"EAS_PYTHON={old} is Python 3.11.9; eas-inspector needs Python >= 3.12 (mitmproxy 12 does).\n"
    assert not (tmp_path / "venv").exists()

    env["EAS_PYTHON"] = str(tmp_path / "missing")
    result = subprocess.run(["bash", str(REPO / "scripts" / script)], env=env, capture_output=True, text=True,
                            check=False)
    assert (result.returncode, result.stderr.count("\n")) == (1, 1)
    assert "no such program" in result.stderr

    fake_python(tmp_path / "venv" / "bin" / "python", "3.11.9")  # a venv made with an old Python
    result = subprocess.run(["bash", str(REPO / "scripts" / script)], env=env, capture_output=True, text=True,
                            check=False)
    assert result.returncode == 1 and "remove it and run again" in result.stderr


# A Settings DevicePassword request (MS-ASCMD 2.2.3.42.1: the recovery password the device sends); decode shows the
# password as "(hidden) 13 characters", never its text.
SETTINGS_PASSWORD_XML = (
    b'<Settings xmlns="Settings:"><DevicePassword><Set><Password>hunter2secret</Password></Set></DevicePassword>'
    b"</Settings>"
)


def test_encode_of_a_decoded_password_refuses_the_placeholder_or_takes_it_from_the_original(tmp_path: Path) -> None:
    original = tmp_path / "settings.wbxml"
    original.write_bytes(eas.encode(SETTINGS_PASSWORD_XML))
    decoded = run_cli("decode", str(original))
    assert decoded.returncode == 0
    assert b"hunter2secret" not in decoded.stdout and b"(hidden) 13 characters" in decoded.stdout
    shown = tmp_path / "settings.xml"
    shown.write_bytes(decoded.stdout)

    refused = run_cli("encode", str(shown), "-o", str(tmp_path / "out.wbxml"))
    assert refused.returncode == 1
    assert not (tmp_path / "out.wbxml").exists()
    message = refused.stderr.decode()
    assert message.count("\n") == 1
    assert "Settings/DevicePassword/Set/Password" in message and "--original" in message

    restored = run_cli("encode", str(shown), "--original", str(original), "-o", str(tmp_path / "out.wbxml"))
    assert restored.returncode == 0, restored.stderr
    assert (tmp_path / "out.wbxml").read_bytes() == original.read_bytes()

    typed = run_cli("encode", "-", "-o", str(tmp_path / "typed.wbxml"),
                    stdin=decoded.stdout.replace(b"(hidden) 13 characters", b"newpass"))
    assert typed.returncode == 0, typed.stderr
    assert b"<Password>newpass</Password>" in eas.to_xml(eas.decode((tmp_path / "typed.wbxml").read_bytes())).encode()
