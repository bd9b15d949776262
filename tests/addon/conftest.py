"""Shared fixtures for the addon tests: canned EAS traffic, a loopback origin server, a mitmdump launcher."""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import os
import re
import signal
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ADDON_SCRIPT = ROOT / "activesync_addon.py"
MITMDUMP = Path(sys.executable).parent / "mitmdump"

# ---------------------------------------------------------------------------------------------------------
# WBXML written token by token (WBXML 1.3 + MS-ASWBXML code pages), independent of the project's codec.

WBXML_HEADER = b"\x03\x01\x6a\x00"  # version 1.3, public id 1, charset UTF-8 (106), empty string table


def page(number: int) -> bytes:
    """SWITCH_PAGE."""
    return bytes([0x00, number])


def tag(token: int, *content: bytes) -> bytes:
    """An element: token with the content flag, its content and END; or the bare token when empty."""
    if not content:
        return bytes([token])
    return bytes([token | 0x40]) + b"".join(content) + b"\x01"


def text(value: str) -> bytes:
    """STR_I: an inline NUL-terminated UTF-8 string."""
    return b"\x03" + value.encode("utf-8") + b"\x00"


def mb_u_int32(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def opaque(data: bytes) -> bytes:
    """OPAQUE: length-prefixed bytes."""
    return b"\xc3" + mb_u_int32(len(data)) + data


def wbxml(*body: bytes) -> bytes:
    return WBXML_HEADER + b"".join(body)


# Code page 7 FolderHierarchy: FolderSync 0x16, SyncKey 0x12, Status 0x0C, Changes 0x0E, Count 0x17, Add 0x0F,
# ServerId 0x08, ParentId 0x09, DisplayName 0x07, Type 0x0A.
FOLDERSYNC_REQUEST = wbxml(page(7), tag(0x16, tag(0x12, text("0"))))
FOLDERSYNC_RESPONSE = wbxml(
    page(7),
    tag(
        0x16,
        tag(0x0C, text("1")),
        tag(0x12, text("1")),
        tag(
            0x0E,
            tag(0x17, text("2")),
            tag(0x0F, tag(0x08, text("1")), tag(0x09, text("0")), tag(0x07, text("Inbox")), tag(0x0A, text("2"))),
            tag(0x0F, tag(0x08, text("2")), tag(0x09, text("0")), tag(0x07, text("Sent")), tag(0x0A, text("5"))),
        ),
    ),
)
FOLDERDELETE_REQUEST = wbxml(page(7), tag(0x14, tag(0x12, text("1")), tag(0x08, text("5"))))
# Code page 15 Search: Search 0x05, Store 0x07, Name 0x08, Query 0x09, Options 0x0A, Range 0x0B.
SEARCH_REQUEST = wbxml(
    page(15),
    tag(0x05, tag(0x07, tag(0x08, text("GAL")), tag(0x09, text("bob")), tag(0x0A, tag(0x0B, text("0-9"))))),
)
# Code page 0 AirSync: Sync 0x05, Collections 0x1C, Collection 0x0F, SyncKey 0x0B, CollectionId 0x12,
# DeletesAsMoves 0x1E, GetChanges 0x13, WindowSize 0x15, Options 0x17, FilterType 0x18, Status 0x0E,
# Commands 0x16, Add 0x07, ServerId 0x0D, ApplicationData 0x1D. Page 17 AirSyncBase: BodyPreference 0x05,
# Type 0x06, TruncationSize 0x07, Body 0x0A, Data 0x0B, EstimatedDataSize 0x0C. Page 2 Email: DateReceived 0x0F,
# Subject 0x14, Read 0x15, To 0x16, From 0x18.
SYNC_REQUEST = wbxml(
    tag(
        0x05,
        tag(
            0x1C,
            tag(
                0x0F,
                tag(0x0B, text("1")),
                tag(0x12, text("1")),
                tag(0x1E, text("1")),
                tag(0x13),
                tag(0x15, text("50")),
                tag(0x17, tag(0x18, text("3")), page(17), tag(0x05, tag(0x06, text("2")), tag(0x07, text("5120")))),
            ),
        ),
    )
)


def sync_response(subject: str = "Hello", body_html: str = "<p>Hi Alice</p>") -> bytes:
    return wbxml(
        tag(
            0x05,
            tag(
                0x1C,
                tag(
                    0x0F,
                    tag(0x0B, text("2")),
                    tag(0x12, text("1")),
                    tag(0x0E, text("1")),
                    tag(
                        0x16,
                        tag(
                            0x07,
                            tag(0x0D, text("1:1")),
                            tag(
                                0x1D,
                                page(2),
                                tag(0x16, text('"Alice" <alice@example.com>')),
                                tag(0x18, text('"Bob" <bob@example.com>')),
                                tag(0x14, text(subject)),
                                tag(0x0F, text("2026-11-21T10:00:00.000Z")),
                                tag(0x15, text("0")),
                                page(17),
                                tag(
                                    0x0A,
                                    tag(0x06, text("2")),
                                    tag(0x0C, text(str(len(body_html)))),
                                    tag(0x0B, text(body_html)),
                                ),
                            ),
                        ),
                    ),
                ),
            ),
        )
    )


SYNC_RESPONSE = sync_response()
# Code page 13 Ping: Ping 0x05, Status 0x07, HeartbeatInterval 0x08, Folders 0x09, Folder 0x0A, Id 0x0B, Class 0x0C.
PING_REQUEST = wbxml(
    page(13),
    tag(0x05, tag(0x08, text("480")), tag(0x09, tag(0x0A, tag(0x0B, text("1")), tag(0x0C, text("Email"))))),
)
PING_RESPONSE = wbxml(page(13), tag(0x05, tag(0x07, text("1"))))
# Code page 20 ItemOperations: ItemOperations 0x05, Fetch 0x06, Store 0x07, Options 0x08, Properties 0x0B,
# Data 0x0C, Status 0x0D, Response 0x0E, Part 0x11.
ITEMOPERATIONS_REQUEST = wbxml(
    page(20),
    tag(
        0x05,
        tag(
            0x06,
            tag(0x07, text("Mailbox")),
            page(0),
            tag(0x12, text("1")),
            tag(0x0D, text("1:1")),
            page(20),
            tag(0x08, page(17), tag(0x05, tag(0x06, text("4")))),
        ),
    ),
)


def itemoperations_response(properties: bytes) -> bytes:
    return wbxml(
        page(20),
        tag(
            0x05,
            tag(0x0D, text("1")),
            tag(
                0x0E,
                tag(
                    0x06,
                    tag(0x0D, text("1")),
                    page(0),
                    tag(0x12, text("1")),
                    tag(0x0D, text("1:1")),
                    tag(0x10, text("Email")),
                    page(20),
                    tag(0x0B, properties),
                ),
            ),
        ),
    )


MIME_MESSAGE = (
    b"From: Bob <bob@example.com>\r\nTo: Alice <alice@example.com>\r\nSubject: Hello\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHi Alice\r\n"
)


def multipart(parts: list[bytes]) -> bytes:
    """MS-ASCMD 2.2.2.10.1: part count, (offset, length) per part, then the parts (little-endian int32)."""
    table_size = 4 + 8 * len(parts)
    table = struct.pack("<i", len(parts))
    offset = table_size
    for part in parts:
        table += struct.pack("<ii", offset, len(part))
        offset += len(part)
    return table + b"".join(parts)


MULTIPART_RESPONSE = multipart(
    [itemoperations_response(page(17) + tag(0x0A, tag(0x06, text("4")), page(20), tag(0x11, text("1")))), MIME_MESSAGE]
)
BIG_DATA = bytes(range(256)) * (2 * 1024 * 1024 // 256)
BIG_RESPONSE = itemoperations_response(tag(0x0C, opaque(BIG_DATA)))
# LITERAL_C (0x44) refers to the string table, which is empty: not decodable.
MALFORMED_RESPONSE = WBXML_HEADER + b"\x45\x5c\x44\x00\x01\x01"
TEXT_UNDER_WBXML = b"Unsupported folder type during creation."
SENDMAIL_REQUEST = MIME_MESSAGE
AUTODISCOVER_REQUEST = (
    b'<?xml version="1.0" encoding="utf-8"?>\r\n'
    b'<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/mobilesync/requestschema/2006">'
    b"<Request><EMailAddress>alice@example.com</EMailAddress>"
    b"<AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006"
    b"</AcceptableResponseSchema></Request></Autodiscover>"
)
AUTODISCOVER_RESPONSE = (
    b'<?xml version="1.0" encoding="utf-8"?>\r\n'
    b'<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">'
    b'<Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006">'
    b"<Culture>en:us</Culture><User><DisplayName>Alice</DisplayName><EMailAddress>alice@example.com</EMailAddress>"
    b"</User><Action><Settings><Server><Type>MobileSync</Type><Url>https://mail.example.com/Microsoft-Server-ActiveSync"
    b"</Url><Name>https://mail.example.com/Microsoft-Server-ActiveSync</Name></Server></Settings></Action>"
    b"</Response></Autodiscover>"
)
AUTODISCOVER_JSON_RESPONSE = json.dumps(
    {"Protocol": "ActiveSync", "Url": "https://mail.example.com/Microsoft-Server-ActiveSync"}
).encode()

WBXML_TYPE = "application/vnd.ms-sync.wbxml"
AUTH = "Basic " + base64.b64encode(b"alice@example.com:alicepw").decode()


def base64_query() -> str:
    """MS-ASHTTP 2.2.1.1.1.1 base64 query: version 14.1, Sync, locale en-US, a 4-byte DeviceId, type iPhone."""
    raw = bytes([141, 0]) + struct.pack("<H", 0x0409) + bytes([4]) + b"\x01\x02\x03\x04" + bytes([0])
    raw += bytes([6]) + b"iPhone"
    return base64.b64encode(raw).decode()


def eas_path(cmd: str, prefix: str = "", user: str = "alice", device: str = "DEV1") -> str:
    return f"{prefix}/Microsoft-Server-ActiveSync?Cmd={cmd}&User={user}&DeviceId={device}&DeviceType=SmartPhone"


def eas_headers(version: str = "14.1", content_type: str | None = WBXML_TYPE) -> dict[str, str]:
    headers = {
        "Authorization": AUTH,
        "MS-ASProtocolVersion": version,
        "User-Agent": "eas-inspector-tests/1.0",
        "X-MS-PolicyKey": "1234567890",
    }
    if content_type:
        headers["Content-Type"] = content_type
    return headers


@dataclass(frozen=True)
class CannedRequest:
    """One request of the test traffic; `eas` says whether the addon must record it."""

    name: str
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    eas: bool
    command: str | None = None


def canned_requests() -> list[CannedRequest]:
    """The traffic the e2e tests send: every EAS case the origin knows, plus non-EAS requests."""
    return [
        CannedRequest(
            "options", "OPTIONS", "/Microsoft-Server-ActiveSync", {"Authorization": AUTH}, b"", True, "Options"
        ),
        CannedRequest("foldersync", "POST", eas_path("FolderSync"), eas_headers(), FOLDERSYNC_REQUEST, True, "FolderSync"),
        CannedRequest("sync", "POST", eas_path("Sync"), eas_headers(), SYNC_REQUEST, True, "Sync"),
        CannedRequest(
            "sync-base64", "POST", f"/Microsoft-Server-ActiveSync?{base64_query()}",
            {"Authorization": AUTH, "Content-Type": WBXML_TYPE}, SYNC_REQUEST, True, "Sync",
        ),
        CannedRequest("ping", "POST", eas_path("Ping"), eas_headers(), PING_REQUEST, True, "Ping"),
        CannedRequest("malformed", "POST", eas_path("Search"), eas_headers(), SEARCH_REQUEST, True, "Search"),
        CannedRequest(
            "text-500", "POST", eas_path("FolderDelete"), eas_headers(), FOLDERDELETE_REQUEST, True, "FolderDelete"
        ),
        CannedRequest(
            "sendmail-empty", "POST", eas_path("SendMail") + "&SaveInSent=T", eas_headers("12.1", "message/rfc822"),
            SENDMAIL_REQUEST, True, "SendMail",
        ),
        CannedRequest(
            "multipart", "POST", eas_path("ItemOperations"), {**eas_headers(), "MS-ASAcceptMultiPart": "T"},
            ITEMOPERATIONS_REQUEST, True, "ItemOperations",
        ),
        CannedRequest(
            "big", "POST", eas_path("ItemOperations", prefix="/big/SOGo"), eas_headers(), ITEMOPERATIONS_REQUEST,
            True, "ItemOperations",
        ),
        CannedRequest(
            "gzip", "POST", eas_path("Sync", prefix="/gzip"), {**eas_headers(), "Accept-Encoding": "gzip"},
            SYNC_REQUEST, True, "Sync",
        ),
        CannedRequest(
            "autodiscover", "POST", "/autodiscover/autodiscover.xml", {"Content-Type": "text/xml"},
            AUTODISCOVER_REQUEST, True, "Autodiscover",
        ),
        CannedRequest(
            "autodiscover-json", "GET", "/Autodiscover/Autodiscover.json/v1.0/alice@example.com?Protocol=ActiveSync",
            {}, b"", True, "Autodiscover",
        ),
        CannedRequest("plain-page", "GET", "/index.html", {}, b"", False),
        CannedRequest("ews", "POST", "/EWS/Exchange.asmx", {"Content-Type": "text/xml"}, b"<soap/>", False),
        CannedRequest(
            "lookalike", "POST", "/Microsoft-Server-ActiveSyncX?Cmd=Sync", eas_headers(), SYNC_REQUEST, False
        ),
    ]


# ---------------------------------------------------------------------------------------------------------
# The origin server.


@dataclass(frozen=True)
class CannedResponse:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def wbxml_response(body: bytes, status: int = 200) -> CannedResponse:
    return CannedResponse(status, (("Content-Type", WBXML_TYPE), ("MS-Server-ActiveSync", "14.1")), body)


RESPONSES_BY_COMMAND: dict[str, CannedResponse] = {
    "FolderSync": wbxml_response(FOLDERSYNC_RESPONSE),
    "Sync": wbxml_response(SYNC_RESPONSE),
    "Ping": wbxml_response(PING_RESPONSE),
    "Search": wbxml_response(MALFORMED_RESPONSE),
    "FolderDelete": wbxml_response(TEXT_UNDER_WBXML, status=500),
    "SendMail": CannedResponse(200, (("MS-Server-ActiveSync", "14.1"),), b""),
    "ItemOperations": CannedResponse(200, (("Content-Type", "application/vnd.ms-sync.multipart"),), MULTIPART_RESPONSE),
}
OPTIONS_RESPONSE = CannedResponse(
    200,
    (
        ("Allow", "OPTIONS,POST"),
        ("MS-ASProtocolVersions", "2.5,12.0,12.1,14.0,14.1"),
        ("MS-ASProtocolCommands", "Sync,SendMail,FolderSync,ItemOperations,Ping,Search"),
    ),
    b"",
)


def canned_response(method: str, path: str) -> CannedResponse:
    """What the origin answers for a request line."""
    path_only, _, query = path.partition("?")
    lowered = path_only.lower()
    if lowered.endswith("/microsoft-server-activesync"):
        if method == "OPTIONS":
            return OPTIONS_RESPONSE
        if lowered.startswith("/big/"):
            return wbxml_response(BIG_RESPONSE)
        if lowered.startswith("/gzip/"):
            return CannedResponse(
                200,
                (("Content-Type", WBXML_TYPE), ("Content-Encoding", "gzip")),
                gzip.compress(SYNC_RESPONSE, mtime=0),
            )
        match = re.search(r"(?:^|&)Cmd=([A-Za-z]+)", query)
        command = match.group(1) if match else "Sync"  # the base64 form carries Sync in its case
        return RESPONSES_BY_COMMAND.get(command, wbxml_response(b"", status=400))
    if lowered == "/autodiscover/autodiscover.xml":
        return CannedResponse(200, (("Content-Type", "text/xml; charset=utf-8"),), AUTODISCOVER_RESPONSE)
    if lowered.startswith("/autodiscover/autodiscover.json"):
        return CannedResponse(200, (("Content-Type", "application/json; charset=utf-8"),), AUTODISCOVER_JSON_RESPONSE)
    return CannedResponse(200, (("Content-Type", "text/plain"),), f"plain page {path}".encode())


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


class OriginHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes; no 40 ms delayed-ACK stalls
    server_version = "CannedEAS/1.0"
    sys_version = ""

    def version_string(self) -> str:
        return self.server_version

    def date_time_string(self, timestamp: float | None = None) -> str:
        return "Sat, 21 Nov 2026 10:00:00 GMT"  # fixed, so direct and proxied answers compare byte for byte

    def log_message(self, format: str, *args: object) -> None:
        pass

    def handle_any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        server: Origin = self.server  # type: ignore[assignment]
        server.received.append(ReceivedRequest(self.command, self.path, tuple(self.headers.items()), body))
        answer = canned_response(self.command, self.path)
        self.send_response(answer.status)
        for name, value in answer.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    do_GET = do_POST = do_OPTIONS = handle_any


class Origin(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), OriginHandler)
        self.received: list[ReceivedRequest] = []

    @property
    def port(self) -> int:
        return int(self.server_address[1])


@pytest.fixture(scope="module")
def origin() -> Iterator[Origin]:
    server = Origin()
    thread = threading.Thread(target=server.serve_forever, name="canned-eas-origin", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# ---------------------------------------------------------------------------------------------------------
# The mitmdump launcher.

LISTENING = re.compile(r"listening at 127\.0\.0\.1:(\d+)")


@dataclass
class Mitmdump:
    """A running mitmdump; `port` is where it listens, `lines` its console output so far."""

    process: subprocess.Popen[str]
    port: int
    lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    def stop(self, *, whole_group: bool = False) -> int:
        """Stop it the way Ctrl-C does (so addons run `done`), and wait for it to exit.

        Args:
            whole_group: send SIGINT to its whole process group, as a terminal's Ctrl-C does (needs
                `own_group=True` at start).
        """
        if self.process.poll() is None:
            if whole_group:
                os.killpg(self.process.pid, signal.SIGINT)
            else:
                self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.reader is not None:
            self.reader.join()
        return self.process.returncode

    @property
    def output(self) -> str:
        return "".join(self.lines)


def start_mitmdump(
    origin_port: int,
    confdir: Path,
    *,
    addon: bool,
    options: dict[str, str] | None = None,
    extra: list[str] | None = None,
    own_group: bool = False,
) -> Mitmdump:
    """Start mitmdump in reverse mode in front of the origin, on a free loopback port; returns once it listens.

    Raises:
        RuntimeError: mitmdump exited before listening (its output is in the message).
    """
    args = ["--mode", f"reverse:http://127.0.0.1:{origin_port}"]
    if addon:
        args += ["-s", str(ADDON_SCRIPT)]
    for name, value in (options or {}).items():
        args += ["--set", f"{name}={value}"]
    args += extra or []
    return launch_mitmdump(confdir, args, own_group=own_group)


def launch_mitmdump(confdir: Path, args: list[str], *, own_group: bool = False) -> Mitmdump:
    """mitmdump on a free loopback port with `args` (mode, scripts, options); returns once it listens.

    Raises:
        RuntimeError: mitmdump exited before listening (its output is in the message).
    """
    command = [
        str(MITMDUMP),
        "--listen-host", "127.0.0.1",
        "-p", "0",
        "--set", f"confdir={confdir}",
        "--set", "flow_detail=0",
        "--set", "termlog_verbosity=info",
        *args,
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        env=env,
        bufsize=1,
        start_new_session=own_group,
    )
    lines: list[str] = []
    assert process.stdout is not None
    port = None
    # Read until mitmdump says where it listens (or exits); no clock involved.
    for line in process.stdout:
        lines.append(line)
        if match := LISTENING.search(line):
            port = int(match.group(1))
            break
    if port is None:
        process.wait()
        raise RuntimeError("mitmdump exited before listening:\n" + "".join(lines))
    stdout = process.stdout

    def drain() -> None:
        for line in stdout:
            lines.append(line)

    reader = threading.Thread(target=drain, name="mitmdump-output", daemon=True)
    reader.start()
    return Mitmdump(process, port, lines, reader)


@pytest.fixture(scope="session")
def mitm_confdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One mitmproxy confdir (CA) for every mitmdump of the run."""
    return tmp_path_factory.mktemp("mitmproxy-conf")


@dataclass(frozen=True)
class Answer:
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


def send(connection: http.client.HTTPConnection, request: CannedRequest) -> Answer:
    """Send one canned request on a keep-alive connection and read the whole answer as received."""
    headers = {"Host": "mail.example.com", **request.headers}
    connection.request(request.method, request.path, body=request.body or None, headers=headers)
    response = connection.getresponse()
    body = response.read()
    return Answer(response.status, response.reason, tuple(response.getheaders()), body)
