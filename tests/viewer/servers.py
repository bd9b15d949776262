"""Real loopback servers for the viewer tests: an EAS-like HTTP(S) server, a forward proxy, a silent server."""

from __future__ import annotations

import datetime
import http.server
import select
import socket
import socketserver
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Received:
    """One request as the server read it."""

    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class Answer:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=lambda: [("Content-Type", "application/vnd.ms-sync.wbxml")])
    body: bytes = b""


class EasServer:
    """A ThreadingHTTPServer on 127.0.0.1 that records requests and answers with `answer(received)`."""

    def __init__(self, answer: Callable[[Received], Answer] | None = None, tls: ssl.SSLContext | None = None) -> None:
        self.received: list[Received] = []
        self.answer = answer or (lambda r: Answer())
        self.got_request = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                rec = Received(self.command, self.path, list(self.headers.items()), body)
                outer.received.append(rec)
                outer.got_request.set()
                ans = outer.answer(rec)
                self.send_response(ans.status)
                for k, v in ans.headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(ans.body)))
                self.end_headers()
                self.wfile.write(ans.body)

            do_POST = do_GET = do_OPTIONS = _handle

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.scheme = "https" if tls else "http"
        self.url = f"{self.scheme}://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> EasServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class ForwardProxy:
    """A minimal forward proxy: CONNECT tunnels (or refuses with 407), absolute-form requests are recorded and
    forwarded to the origin."""

    def __init__(self, refuse_connect: bool = False) -> None:
        self.request_lines: list[str] = []
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                line = self.rfile.readline().decode("latin-1").rstrip("\r\n")
                outer.request_lines.append(line)
                head = [line]
                while True:
                    h = self.rfile.readline()
                    if h in (b"\r\n", b"\n", b""):
                        break
                    head.append(h.decode("latin-1").rstrip("\r\n"))
                method, target, _ = line.split(" ", 2)
                if method == "CONNECT":
                    if refuse_connect:
                        self.wfile.write(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
                        return
                    host, _, port = target.rpartition(":")
                    upstream = socket.create_connection((host, int(port)))
                    self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    self.wfile.flush()
                    _pipe(self.connection, upstream)
                    return
                # absolute-form: forward to the origin with the same head
                from urllib.parse import urlsplit

                parts = urlsplit(target)
                upstream = socket.create_connection((parts.hostname or "", parts.port or 80))
                origin_line = f"{method} {parts.path}{'?' + parts.query if parts.query else ''} HTTP/1.1"
                upstream.sendall(("\r\n".join([origin_line, *head[1:]]) + "\r\n\r\n").encode("latin-1"))
                _pipe(self.connection, upstream, self.rfile)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ForwardProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _pipe(a: socket.socket, b: socket.socket, a_buffer: object = None) -> None:
    if a_buffer is not None:
        pending = a_buffer.peek() if hasattr(a_buffer, "peek") else b""  # type: ignore[attr-defined]
        if pending:
            b.sendall(a_buffer.read(len(pending)))  # type: ignore[attr-defined]
    try:
        while True:
            ready, _, _ = select.select([a, b], [], [], 10)
            if not ready:
                return
            for s in ready:
                data = s.recv(65536)
                if not data:
                    return
                (b if s is a else a).sendall(data)
    except OSError:
        return
    finally:
        b.close()


class SilentServer:
    """Accepts connections and reads, but never answers (for timeouts and cancellation)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.got_request = threading.Event()
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            try:
                if conn.recv(65536):
                    self.got_request.set()
            except OSError:
                pass

    def __enter__(self) -> SilentServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()


def garbage_server() -> tuple[socket.socket, str]:
    """A server that answers any connection with bytes that are not HTTP, then closes."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)

    def run() -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            conn.recv(65536)
            conn.sendall(b"\x03\x01\x6a\x00 not http\r\n\r\n")
            conn.close()

    threading.Thread(target=run, daemon=True).start()
    return sock, f"http://127.0.0.1:{sock.getsockname()[1]}"


def free_port() -> int:
    """A loopback port with nothing listening on it."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def self_signed_context(directory: Path) -> ssl.SSLContext:
    """A server TLS context with a fresh self-signed certificate for 127.0.0.1 / localhost."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_path, key_path)
    return ctx
