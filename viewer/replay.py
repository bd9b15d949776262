"""Send one HTTP request again (directly or through a proxy), with typed errors and cancellation; no UI here."""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

DEFAULT_TIMEOUT = 30.0

# Hop-by-hop and length headers that must follow the body actually sent, not the captured one.
_LENGTH_HEADERS = frozenset({"content-length", "transfer-encoding"})


class ReplayError(Exception):
    """Base of every failure to replay; `str(err)` is a message for the user."""


class InvalidRequestError(ReplayError):
    """The target or proxy URL cannot be used (bad scheme, no host, bad port)."""


class ConnectionRefused(ReplayError):
    """Nothing listens at the target (or the proxy)."""


class ConnectionFailed(ReplayError):
    """The connection could not be made or broke (name resolution, network unreachable, reset)."""


class Timeout(ReplayError):
    """The server did not answer within the timeout."""


class TLSError(ReplayError):
    """The TLS handshake failed (certificate not trusted, hostname mismatch, protocol error)."""


class ProxyError(ReplayError):
    """The proxy refused the CONNECT tunnel or answered with an error."""


class ProtocolError(ReplayError):
    """The server answered with something that is not HTTP, or closed the connection without answering."""


class Cancelled(ReplayError):
    """The user cancelled the request."""


@dataclass(frozen=True)
class ReplayRequest:
    """One request to send.

    Attributes:
        method: HTTP method.
        url: absolute target URL (scheme, host, optional port, path and query).
        headers: in order; Content-Length and Transfer-Encoding are replaced by the length of `body`.
        body: the exact bytes to send.
        proxy: an http:// proxy URL (absolute-form for http targets, CONNECT for https), or None.
        verify: verify the server's TLS certificate and hostname.
        timeout: seconds for connecting and for each read.
    """

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    proxy: str | None = None
    verify: bool = True
    timeout: float = DEFAULT_TIMEOUT


@dataclass(frozen=True)
class ReplayResult:
    """The server's answer, raw as received (body de-chunked, Content-Encoding kept)."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    http_version: str
    ts_start: float
    ts_end: float
    server_address: str | None
    tls: bool
    sent_headers: tuple[tuple[str, str], ...] = field(default=())

    @property
    def duration(self) -> float:
        return self.ts_end - self.ts_start


class Canceller:
    """Cancels a running `send` from another thread by shutting its socket down."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cancelled = False
        self._conn: http.client.HTTPConnection | None = None

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            conn = self._conn
        if conn is not None:
            _shutdown(conn)

    def _attach(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            self._conn = conn
            cancelled = self._cancelled
        if cancelled:
            _shutdown(conn)


def _shutdown(conn: http.client.HTTPConnection) -> None:
    sock = conn.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    conn.close()


def _split_host_port(url: str, what: str) -> tuple[str, str, int, str]:
    """Return (scheme, host, port, request target) of an absolute URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as err:
        raise InvalidRequestError(f"{what} URL {url!r}: {err}") from err
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise InvalidRequestError(f"{what} URL {url!r}: scheme must be http or https")
    if not parts.hostname:
        raise InvalidRequestError(f"{what} URL {url!r}: no host")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return scheme, parts.hostname, port or (443 if scheme == "https" else 80), target


def tls_context(verify: bool) -> ssl.SSLContext:
    """A client TLS context; with `verify` off, any certificate and host name are accepted."""
    ctx = ssl.create_default_context()
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _authority(host: str, port: int, scheme: str) -> str:
    shown = f"[{host}]" if ":" in host else host
    default = 443 if scheme == "https" else 80
    return shown if port == default else f"{shown}:{port}"


def send(request: ReplayRequest, canceller: Canceller | None = None) -> ReplayResult:
    """Send `request` and read the whole answer.

    Raises:
        ReplayError: one of its subclasses, with a message for the user.
    """
    scheme, host, port, target = _split_host_port(request.url, "target")
    proxy: tuple[str, str, int, str] | None = None
    if request.proxy:
        proxy = _split_host_port(request.proxy, "proxy")
        if proxy[0] != "http":
            raise InvalidRequestError("proxy URL must start with http:// (for https targets a CONNECT tunnel is used)")
    canceller = canceller or Canceller()
    conn: http.client.HTTPConnection
    if scheme == "https":
        ctx = tls_context(request.verify)
        if proxy:
            conn = http.client.HTTPSConnection(proxy[1], proxy[2], timeout=request.timeout, context=ctx)
            conn.set_tunnel(host, port)
        else:
            conn = http.client.HTTPSConnection(host, port, timeout=request.timeout, context=ctx)
    elif proxy:
        conn = http.client.HTTPConnection(proxy[1], proxy[2], timeout=request.timeout)
        target = f"http://{_authority(host, port, scheme)}{target}"
    else:
        conn = http.client.HTTPConnection(host, port, timeout=request.timeout)

    sent_headers = [(k, v) for k, v in request.headers if k.lower() not in _LENGTH_HEADERS]
    if not any(k.lower() == "host" for k, _ in sent_headers):
        sent_headers.insert(0, ("Host", _authority(host, port, scheme)))
    if request.body or request.method.upper() in ("POST", "PUT", "PATCH"):
        sent_headers.append(("Content-Length", str(len(request.body))))

    where = f"{proxy[1]}:{proxy[2]} (proxy)" if proxy else f"{host}:{port}"
    ts_start = time.time()
    try:
        canceller._attach(conn)
        if canceller.cancelled:
            raise Cancelled("cancelled")
        conn.putrequest(request.method, target, skip_host=True, skip_accept_encoding=True)
        for name, value in sent_headers:
            conn.putheader(name, value)
        conn.endheaders(request.body or None)
        response = conn.getresponse()
        body = response.read()
        ts_end = time.time()
        peer: str | None = None
        if conn.sock is not None:
            try:
                address = conn.sock.getpeername()
                peer = f"{address[0]}:{address[1]}"
            except OSError:
                peer = None
        return ReplayResult(
            status=response.status,
            reason=response.reason,
            headers=tuple(response.getheaders()),
            body=body,
            http_version="HTTP/1.0" if response.version == 10 else "HTTP/1.1",
            ts_start=ts_start,
            ts_end=ts_end,
            server_address=peer,
            tls=scheme == "https",
            sent_headers=tuple(sent_headers),
        )
    except ReplayError:
        raise
    except Exception as err:
        if canceller.cancelled:
            raise Cancelled("request cancelled") from err
        raise _classify(err, where, request) from err
    finally:
        conn.close()


def _classify(err: Exception, where: str, request: ReplayRequest) -> ReplayError:
    """Turn a low-level exception into a ReplayError with a message a user can act on."""
    if isinstance(err, ConnectionRefusedError):
        return ConnectionRefused(f"connection refused by {where}: is the server (or proxy) running?")
    if isinstance(err, ssl.SSLCertVerificationError):
        return TLSError(
            f"TLS certificate not trusted for {where}: {err.verify_message or err.reason}. "
            "For a test server (or through mitmproxy without its CA installed) turn TLS verification off."
        )
    if isinstance(err, ssl.SSLError):
        return TLSError(f"TLS handshake with {where} failed: {err.reason or err}")
    if isinstance(err, (socket.timeout, TimeoutError)):
        return Timeout(f"no answer from {where} within {request.timeout:g} s")
    if isinstance(err, socket.gaierror):
        return ConnectionFailed(f"cannot resolve the host of {where}: {err.strerror or err}")
    if isinstance(err, OSError) and str(err).startswith("Tunnel connection failed"):
        return ProxyError(f"the proxy {where} refused the tunnel: {str(err).partition(':')[2].strip()}")
    if isinstance(err, (http.client.RemoteDisconnected, http.client.BadStatusLine)):
        return ProtocolError(f"{where} closed the connection without a valid HTTP answer")
    if isinstance(err, http.client.HTTPException):
        return ProtocolError(f"bad HTTP answer from {where}: {type(err).__name__}: {err}")
    if isinstance(err, OSError):
        return ConnectionFailed(f"connection to {where} failed: {err.strerror or err}")
    return ReplayError(f"replay to {where} failed: {type(err).__name__}: {err}")


__all__ = [
    "DEFAULT_TIMEOUT",
    "Cancelled",
    "Canceller",
    "ConnectionFailed",
    "ConnectionRefused",
    "InvalidRequestError",
    "ProtocolError",
    "ProxyError",
    "ReplayError",
    "ReplayRequest",
    "ReplayResult",
    "TLSError",
    "Timeout",
    "send",
    "tls_context",
]
