"""viewer.replay: the UI-free transport, against real servers on 127.0.0.1."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.viewer.servers import Answer, EasServer, ForwardProxy, SilentServer, free_port, garbage_server, self_signed_context
from viewer.replay import (
    Cancelled,
    Canceller,
    ConnectionRefused,
    InvalidRequestError,
    ProtocolError,
    ProxyError,
    ReplayRequest,
    ReplayResult,
    TLSError,
    Timeout,
    send,
)

BODY = b"\x03\x01\x6a\x00\x45\x5c\x4f\x4b\x03\x30\x00\x01\x01\x01"
HEADERS = (
    ("Host", "mail.example.com"),
    ("User-Agent", "Apple-iPhone/1"),
    ("MS-ASProtocolVersion", "16.1"),
    ("Content-Type", "application/vnd.ms-sync.wbxml"),
    ("Content-Length", "999"),
)
PATH = "/Microsoft-Server-ActiveSync?Cmd=Sync&User=jdoe&DeviceId=ABC&DeviceType=iPhone"


def _request(url: str, **kw: object) -> ReplayRequest:
    return ReplayRequest("POST", url + PATH, HEADERS, BODY, **kw)  # type: ignore[arg-type]


def test_sends_exact_body_headers_in_order_and_fixed_length() -> None:
    with EasServer(lambda r: Answer(200, [("Content-Type", "application/vnd.ms-sync.wbxml")], b"\x03\x01\x6a\x00")) as srv:
        result = send(_request(srv.url))
    assert isinstance(result, ReplayResult)
    assert (result.status, result.reason, result.body) == (200, "OK", b"\x03\x01\x6a\x00")
    assert ("Content-Type", "application/vnd.ms-sync.wbxml") in result.headers
    got = srv.received[0]
    assert (got.method, got.target, got.body) == ("POST", PATH, BODY)
    assert [k for k, _ in got.headers] == ["Host", "User-Agent", "MS-ASProtocolVersion", "Content-Type", "Content-Length"]
    assert dict(got.headers)["Content-Length"] == str(len(BODY))
    assert dict(got.headers)["Host"] == "mail.example.com"
    assert result.server_address is not None and result.server_address.startswith("127.0.0.1:")
    assert not result.tls and result.duration >= 0


def test_host_added_when_missing() -> None:
    with EasServer() as srv:
        send(ReplayRequest("OPTIONS", srv.url + "/Microsoft-Server-ActiveSync", (), b""))
    assert srv.received[0].headers[0] == ("Host", f"127.0.0.1:{srv.port}")
    assert srv.received[0].method == "OPTIONS"


def test_http_error_status_is_a_result_not_an_exception() -> None:
    with EasServer(lambda r: Answer(449, [], b"")) as srv:
        result = send(_request(srv.url))
    assert result.status == 449


def test_http_target_through_proxy_uses_absolute_form() -> None:
    with EasServer(lambda r: Answer(200, [], b"ok")) as srv, ForwardProxy() as proxy:
        result = send(_request(srv.url, proxy=proxy.url))
    assert result.body == b"ok"
    assert proxy.request_lines == [f"POST {srv.url}{PATH} HTTP/1.1"]
    assert srv.received[0].body == BODY


def test_https_target_through_proxy_uses_connect(tmp_path: Path) -> None:
    with EasServer(lambda r: Answer(200, [], b"tls"), tls=self_signed_context(tmp_path)) as srv, ForwardProxy() as proxy:
        result = send(_request(srv.url, proxy=proxy.url, verify=False))
    assert result.body == b"tls" and result.tls
    assert proxy.request_lines == [f"CONNECT 127.0.0.1:{srv.port} HTTP/1.1"]


def test_proxy_refusing_connect_is_a_proxy_error(tmp_path: Path) -> None:
    with ForwardProxy(refuse_connect=True) as proxy:
        with pytest.raises(ProxyError, match="407"):
            send(_request("https://127.0.0.1:9", proxy=proxy.url, verify=False))


def test_untrusted_certificate_is_a_tls_error_unless_verification_is_off(tmp_path: Path) -> None:
    with EasServer(lambda r: Answer(200, [], b"x"), tls=self_signed_context(tmp_path)) as srv:
        with pytest.raises(TLSError, match="verification off"):
            send(_request(srv.url))
        assert send(_request(srv.url, verify=False)).body == b"x"


def test_refused_connection() -> None:
    with pytest.raises(ConnectionRefused, match="connection refused by 127.0.0.1"):
        send(_request(f"http://127.0.0.1:{free_port()}"))


def test_timeout() -> None:
    with SilentServer() as srv:
        with pytest.raises(Timeout, match="no answer from 127.0.0.1"):
            send(_request(srv.url, timeout=0.3))


def test_cancel_from_another_thread() -> None:
    canceller = Canceller()
    outcome: list[BaseException] = []
    with SilentServer() as srv:

        def run() -> None:
            try:
                send(_request(srv.url, timeout=60), canceller)
            except BaseException as err:  # noqa: BLE001 - recorded for the assertion
                outcome.append(err)

        thread = threading.Thread(target=run)
        thread.start()
        assert srv.got_request.wait(10)
        canceller.cancel()
        thread.join(10)
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], Cancelled)


def test_cancel_before_send() -> None:
    canceller = Canceller()
    canceller.cancel()
    with EasServer() as srv:
        with pytest.raises(Cancelled):
            send(_request(srv.url), canceller)
    assert srv.received == []


def test_not_http_answer_is_a_protocol_error() -> None:
    sock, url = garbage_server()
    try:
        with pytest.raises(ProtocolError):
            send(_request(url))
    finally:
        sock.close()


@pytest.mark.parametrize(
    ("url", "proxy", "message"),
    [
        ("ftp://x/", None, "scheme must be http or https"),
        ("http:///nohost", None, "no host"),
        ("http://h:99999/", None, "target URL"),
        ("http://h/", "https://proxy:1", "proxy URL must start with http://"),
    ],
)
def test_invalid_urls(url: str, proxy: str | None, message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        send(ReplayRequest("POST", url, (), b"", proxy=proxy))
