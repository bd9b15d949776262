"""capture.mitm's conversions, field by field: a hand-made mitmproxy flow to a FlowInput and a record back to a flow.

No proxy, and a capture file only for the export: each conversion is called directly and every field is checked
against hand-written values (round trips through mitmdump are tests/capture/test_import_export.py's).
"""

from __future__ import annotations

import enum
import resource
import signal
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from mitmproxy import connection, flow, http
from mitmproxy import io as mitm_io
from mitmproxy.proxy.mode_specs import ProxyMode

from capture.mitm import (
    ConnectionFields,
    FlowFields,
    ResponseFields,
    exported_flows,
    flow_fields,
    flow_from_record,
    flow_input_from_fields,
    flow_input_from_mitm,
    header_texts,
    mitm_headers,
    raw_flow_fields,
    scalar_metadata,
    selected_records,
    shown_url_and_host,
    export_mitm,
)
from capture.model import CaptureError, FlowInput, FlowRecord, FlowRow
from capture.writer import CaptureWriter

T0 = 1_765_000_000.0
PATH = b"/Microsoft-Server-ActiveSync?Cmd=Sync&User=al\xffice&DeviceId=D1&DeviceType=T"
PATH_TEXT = "/Microsoft-Server-ActiveSync?Cmd=Sync&User=al\udcffice&DeviceId=D1&DeviceType=T"


class Colour(enum.IntEnum):
    RED = 7


class Shape(enum.StrEnum):
    ROUND = "round"


def hand_flow() -> http.HTTPFlow:
    """A flow with every field the capture keeps set to a value of its own, some bytes not UTF-8."""
    client = connection.Client(peername=("192.0.2.10", 50123), sockname=("192.0.2.1", 8080), timestamp_start=T0 + 1)
    client.id = "client-1"
    client.sni = "client.example.com"
    client.tls = True
    client.tls_version = "TLSv1.3"
    client.alpn = b"http/1.1"
    client.cipher = "TLS_AES_128_GCM_SHA256"
    client.error = "client went away"
    client.timestamp_tls_setup = T0 + 2
    client.timestamp_end = T0 + 90
    client.proxy_mode = ProxyMode.parse("regular@8080")
    server = connection.Server(address=("mail.example.com", 8443))
    server.id = "server-1"
    server.peername = ("2001:db8::5", 8443, 0, 0)  # type: ignore[assignment]  # an IPv6 socket address has four parts
    server.sockname = ("192.0.2.1", 40000)
    server.sni = "mail.example.com"
    server.tls = True
    server.tls_version = "TLSv1.2"
    server.alpn = b"h\xff"
    server.cipher = "ECDHE-RSA-AES256-GCM-SHA384"
    server.error = "server refused"
    server.timestamp_start = T0 + 3
    server.timestamp_tcp_setup = T0 + 4
    server.timestamp_tls_setup = T0 + 5
    server.timestamp_end = T0 + 80
    f = http.HTTPFlow(client, server)
    f.id = "flow-1"
    f.timestamp_created = T0
    f.request = http.Request(
        host="mail.example.com",
        port=8443,
        method=b"POST",
        scheme=b"https",
        authority=b"",
        path=PATH,
        http_version=b"HTTP/1.1",
        headers=http.Headers([(b"Host", b"mail.example.com:8443"), (b"X-Odd", b"caf\xe9")]),
        content=b"\x03\x01\x6a\x00",
        trailers=http.Headers([(b"X-Sum", b"ab\xfe")]),
        timestamp_start=T0 + 10,
        timestamp_end=T0 + 11,
    )
    f.response = http.Response(
        http_version=b"HTTP/1.0",
        status_code=449,
        reason=b"Retry Aft\xffer",
        headers=http.Headers([(b"Content-Type", b"application/vnd.ms-sync.wbxml")]),
        content=b"\x03\x01\x6a\x00\x00",
        trailers=http.Headers([(b"X-Done", b"1")]),
        timestamp_start=T0 + 20,
        timestamp_end=T0 + 21,
    )
    f.error = flow.Error("connection reset", T0 + 30)
    f.marked = ":star:"
    f.comment = "look here"
    f.is_replay = "response"
    f.metadata.update({"note": "kept", "count": 3, "ratio": 0.5, "flag": True, "nothing": None, "list": [1]})
    return f


CLIENT_STATE = {
    "id": "client-1", "peername": ["192.0.2.10", 50123], "sockname": ["192.0.2.1", 8080],
    "sni": "client.example.com", "tls": True, "tls_version": "TLSv1.3", "alpn": "http/1.1",
    "cipher": "TLS_AES_128_GCM_SHA256", "error": "client went away",
}  # fmt: skip
SERVER_STATE = {
    "id": "server-1", "peername": ["2001:db8::5", 8443], "sockname": ["192.0.2.1", 40000],
    "sni": "mail.example.com", "tls": True, "tls_version": "TLSv1.2", "alpn": "h\udcff",
    "cipher": "ECDHE-RSA-AES256-GCM-SHA384", "error": "server refused", "address": ["mail.example.com", 8443],
}  # fmt: skip
TIMESTAMPS = {
    "flow_created": T0, "request_start": T0 + 10, "request_end": T0 + 11, "response_start": T0 + 20,
    "response_end": T0 + 21, "error": T0 + 30, "client_conn_start": T0 + 1, "client_conn_tls_setup": T0 + 2,
    "client_conn_end": T0 + 90, "server_conn_start": T0 + 3, "server_conn_tcp_setup": T0 + 4,
    "server_conn_tls_setup": T0 + 5, "server_conn_end": T0 + 80,
}  # fmt: skip
HAND_INPUT = FlowInput(
    method="POST",
    scheme="https",
    target_host="mail.example.com",
    port=8443,
    path=PATH_TEXT,
    http_version="HTTP/1.1",
    request_headers=(("Host", "mail.example.com:8443"), ("X-Odd", "caf\udce9")),
    request_body=b"\x03\x01\x6a\x00",
    timestamps=TIMESTAMPS,
    authority="",
    url="https://mail.example.com:8443" + PATH_TEXT,
    host="mail.example.com",
    request_trailers=(("X-Sum", "ab\udcfe"),),
    response_http_version="HTTP/1.0",
    response_status=449,
    response_reason="Retry Aft\udcffer",
    response_headers=(("Content-Type", "application/vnd.ms-sync.wbxml"),),
    response_body=b"\x03\x01\x6a\x00\x00",
    response_trailers=(("X-Done", "1"),),
    error="connection reset",
    server_address="mail.example.com:8443",
    tls=True,
    connection={"client": CLIENT_STATE, "server": SERVER_STATE, "proxy_mode": "regular@8080"},
    extra={
        "mitm_id": "flow-1", "marked": ":star:", "comment": "look here", "is_replay": "response",
        "metadata": {"note": "kept", "count": 3, "ratio": 0.5, "flag": True, "nothing": None},
    },
)  # fmt: skip


def test_raw_fields_are_the_flows_fields_in_order() -> None:
    raw = raw_flow_fields(hand_flow())
    assert raw == (
        "flow-1", T0, ":star:", "look here", "response",
        {"note": "kept", "count": 3, "ratio": 0.5, "flag": True, "nothing": None},
        "mail.example.com", 8443, b"POST", b"https", b"", PATH, b"HTTP/1.1",
        ((b"Host", b"mail.example.com:8443"), (b"X-Odd", b"caf\xe9")), ((b"X-Sum", b"ab\xfe"),), T0 + 10, T0 + 11,
        (b"HTTP/1.0", 449, b"Retry Aft\xffer", ((b"Content-Type", b"application/vnd.ms-sync.wbxml"),),
         ((b"X-Done", b"1"),), T0 + 20, T0 + 21),
        ("connection reset", T0 + 30),
        ("client-1", ("192.0.2.10", 50123), ("192.0.2.1", 8080), "client.example.com", True, "TLSv1.3", b"http/1.1",
         "TLS_AES_128_GCM_SHA256", "client went away", T0 + 1, T0 + 2, T0 + 90),
        ("server-1", ("2001:db8::5", 8443, 0, 0), ("192.0.2.1", 40000), "mail.example.com", True, "TLSv1.2", b"h\xff",
         "ECDHE-RSA-AES256-GCM-SHA384", "server refused", T0 + 3, T0 + 5, T0 + 80),
        ("mail.example.com", 8443), T0 + 4, "regular@8080",
    )  # fmt: skip


def test_raw_fields_of_a_flow_without_response_error_or_trailers() -> None:
    f = hand_flow()
    f.response = None
    f.error = None
    f.request.trailers = None
    raw = raw_flow_fields(f)
    assert (raw[14], raw[17], raw[18]) == (None, None, None)
    f = hand_flow()
    assert f.response is not None
    f.response.trailers = None
    assert raw_flow_fields(f)[17][4] is None


def test_flow_fields_names_every_level() -> None:
    fields = flow_fields(raw_flow_fields(hand_flow()))
    assert isinstance(fields, FlowFields)
    assert (fields.flow_id, fields.proxy_mode, fields.server_tcp_setup) == ("flow-1", "regular@8080", T0 + 4)
    assert isinstance(fields.response, ResponseFields) and fields.response.reason == b"Retry Aft\xffer"
    assert isinstance(fields.client, ConnectionFields) and fields.client.id == "client-1"
    assert isinstance(fields.server, ConnectionFields) and fields.server.timestamp_tls_setup == T0 + 5
    f = hand_flow()
    f.response = None
    assert flow_fields(raw_flow_fields(f)).response is None


def test_the_flow_input_of_a_flow_holds_every_field_exactly() -> None:
    assert flow_input_from_mitm(hand_flow()) == HAND_INPUT


def test_a_bare_flow_leaves_out_what_it_does_not_have() -> None:
    f = hand_flow()
    f.response = None
    f.error = None
    f.request.trailers = None
    f.request.headers = http.Headers()
    f.request.timestamp_end = None
    f.marked = ""
    f.comment = ""
    f.is_replay = None
    f.metadata.clear()
    f.server_conn.address = None
    f.server_conn.timestamp_tcp_setup = None
    f.server_conn.alpn = None
    f.client_conn.timestamp_tls_setup = None
    f.client_conn.timestamp_end = None
    f.server_conn.timestamp_start = None
    f.server_conn.timestamp_tls_setup = None
    f.server_conn.timestamp_end = None
    f.server_conn.peername = None
    f.server_conn.sockname = None
    f.request.data.content = None  # streamed through: mitmproxy kept no body
    got = flow_input_from_mitm(f)
    assert got.request_headers == () and got.request_trailers is None and got.request_body == b""
    assert got.timestamps == {"flow_created": T0, "request_start": T0 + 10, "client_conn_start": T0 + 1}
    assert (got.response_http_version, got.response_status, got.response_reason) == (None, None, None)
    assert (got.response_headers, got.response_body, got.response_trailers, got.error) == (None, None, None, None)
    assert got.server_address is None
    assert got.extra == {"mitm_id": "flow-1", "request_body_missing": True}
    server_state = got.connection["server"]
    assert (server_state["address"], server_state["peername"], server_state["sockname"]) == (None, None, None)
    assert server_state["alpn"] is None
    assert got.url == "https://mail.example.com:8443" + PATH_TEXT and got.host == "mail.example.com"


def test_timestamps_are_floats_even_when_mitmproxy_holds_integers() -> None:
    f = hand_flow()
    f.timestamp_created = 5
    got = flow_input_from_mitm(f)
    assert type(got.timestamps["flow_created"]) is float and got.timestamps["flow_created"] == 5.0


def test_the_authority_of_an_http2_request_is_kept() -> None:
    f = hand_flow()
    f.request.data.authority = b"mail.example.com:8443"
    assert flow_input_from_mitm(f).authority == "mail.example.com:8443"
    rebuilt = flow_from_record(record(authority="mail.example.com:8443"))
    assert rebuilt.request.data.authority == b"mail.example.com:8443"


def test_an_empty_request_body_is_not_a_missing_one() -> None:
    f = hand_flow()
    f.request.content = b""
    got = flow_input_from_mitm(f)
    assert got.request_body == b"" and "request_body_missing" not in got.extra


@pytest.mark.parametrize(
    ("server_tls", "scheme", "tls"),
    [(True, b"http", True), (False, b"https", True), (False, b"http", False)],
)
def test_tls_is_the_servers_or_the_schemes(server_tls: bool, scheme: bytes, tls: bool) -> None:
    f = hand_flow()
    f.server_conn.tls = server_tls
    f.request.data.scheme = scheme
    assert flow_input_from_mitm(f).tls is tls


def test_an_ipv6_server_address_is_bracketed() -> None:
    f = hand_flow()
    f.server_conn.address = ("2001:db8::1", 443)
    got = flow_input_from_mitm(f)
    assert got.server_address == "[2001:db8::1]:443"
    assert got.connection["server"]["address"] == ["2001:db8::1", 443]


HOST_CASES = [
    # target host, port, scheme, Host headers -> URL and host as mitmproxy shows them
    ("mail.example.com", 443, b"https", [], "https://mail.example.com/p", "mail.example.com"),
    ("mail.example.com", 80, b"http", [], "http://mail.example.com/p", "mail.example.com"),
    ("mail.example.com", 8080, b"http", [], "http://mail.example.com:8080/p", "mail.example.com"),
    ("10.0.0.1", 443, b"https", [(b"Host", b"other.example")], "https://other.example/p", "other.example"),
    ("10.0.0.1", 443, b"https", [(b"host", b"low.example:444")], "https://low.example:444/p", "low.example"),
    ("10.0.0.1", 443, b"https", [(b"HOST", b"up.example")], "https://up.example/p", "up.example"),
    ("10.0.0.1", 443, b"https", [(b"X-Host", b"not.example")], "https://10.0.0.1/p", "10.0.0.1"),
]


@pytest.mark.parametrize(("host", "port", "scheme", "headers", "url", "shown_host"), HOST_CASES)
def test_url_and_host_are_mitmproxys(
    host: str, port: int, scheme: bytes, headers: list[tuple[bytes, bytes]], url: str, shown_host: str
) -> None:
    headers = [(b"Accept", b"*/*"), *headers, (b"Content-Length", b"0")]
    assert shown_url_and_host(host, port, b"GET", scheme, b"", b"/p", b"HTTP/1.1", headers) == (url, shown_host)


def test_an_http2_authority_and_a_connect_target_are_mitmproxys_url() -> None:
    authority = b"h2.example:8443"
    host_header = [(b"host", b"other.example")]
    assert shown_url_and_host("10.0.0.1", 443, b"GET", b"https", authority, b"/p", b"HTTP/2.0", host_header) == (
        "https://h2.example:8443/p", "h2.example")  # fmt: skip
    assert shown_url_and_host("10.0.0.1", 443, b"CONNECT", b"", authority, b"", b"HTTP/1.1", []) == (
        "h2.example:8443", "10.0.0.1")  # fmt: skip


def test_metadata_keeps_json_scalars_as_plain_types() -> None:
    values: dict[Any, Any] = {
        "text": "a", "number": 1, "ratio": 1.5, "yes": False, "none": None, Colour.RED: Shape.ROUND,
        "colour": Colour.RED, 3: "three", None: "nokey", "list": [1], "dict": {"a": 1}, (1, 2): "tuple key",
    }  # fmt: skip
    got = scalar_metadata(values)
    assert got == {"text": "a", "number": 1, "ratio": 1.5, "yes": False, "none": None, 7: "round", "colour": 7,
                   3: "three", None: "nokey"}  # fmt: skip
    assert [type(value) for value in got.values()] == [str, int, float, bool, type(None), str, int, str, str]
    assert [type(key) for key in got] == [str, str, str, str, str, int, str, int, type(None)]
    plain = {"a": 1, "b": None, "c": True, "d": 0.25, "e": "x"}
    assert scalar_metadata(plain) == {"a": 1, "b": None, "c": True, "d": 0.25, "e": "x"}
    assert scalar_metadata({"a": Colour.RED}) == {"a": 7} and type(scalar_metadata({"a": Colour.RED})["a"]) is int
    assert scalar_metadata({Shape.ROUND: 1}) == {"round": 1}
    assert type(next(iter(scalar_metadata({Shape.ROUND: 1})))) is str


def test_header_conversions_keep_the_bytes() -> None:
    assert header_texts(None) is None and mitm_headers(None) is None
    assert header_texts([(b"A\xff", b"\xfe")]) == (("A\udcff", "\udcfe"),)
    headers = mitm_headers((("A\udcff", "\udcfe"), ("B", "caf\u00e9")))
    assert headers is not None and headers.fields == ((b"A\xff", b"\xfe"), (b"B", b"caf\xc3\xa9"))


def row(**changes: Any) -> FlowRow:
    values: dict[str, Any] = {
        "id": 12, "session_id": 1, "ts_start": T0 + 50, "ts_end": None, "method": "POST", "url": "",
        "host": "row.example", "command": None, "collection_id": None, "sync_key": None, "http_status": 449,
        "eas_status": None, "eas_status_meaning": None, "request_size": 4, "response_size": 5, "problem_count": 0,
        "replay_of": None,
    }  # fmt: skip
    values.update(changes)
    return FlowRow(**values)


def record(**changes: Any) -> FlowRecord:
    """The record the capture keeps of `hand_flow()`, written out by hand."""
    values: dict[str, Any] = {
        "row": row(), "http_version": "HTTP/1.1", "scheme": "https", "port": 8443, "path": PATH_TEXT,
        "request_headers": HAND_INPUT.request_headers, "request_body": b"\x03\x01\x6a\x00",
        "response_headers": HAND_INPUT.response_headers, "response_body": b"\x03\x01\x6a\x00\x00",
        "response_reason": "Retry Aft\udcffer", "error": "connection reset", "timestamps": dict(TIMESTAMPS),
        "server_address": "mail.example.com:8443", "tls": True, "target_host": "mail.example.com", "authority": "",
        "request_trailers": (("X-Sum", "ab\udcfe"),), "response_http_version": "HTTP/1.0",
        "response_trailers": (("X-Done", "1"),),
        "connection": {"client": dict(CLIENT_STATE), "server": dict(SERVER_STATE), "proxy_mode": "regular@8080"},
        "extra": dict(HAND_INPUT.extra),
    }  # fmt: skip
    values.update(changes)
    return FlowRecord(**values)


def test_a_record_gives_back_the_flow_it_was_made_of() -> None:
    rebuilt = flow_from_record(record())
    original = hand_flow()
    original.metadata.pop("list")  # not a JSON scalar: the capture does not keep it
    original.server_conn.peername = ("2001:db8::5", 8443)  # the capture keeps host and port only
    assert rebuilt.get_state() == original.get_state()
    assert rebuilt.live is False


def test_a_record_gives_back_every_field_of_its_flow() -> None:
    f = flow_from_record(record())
    assert (f.id, f.timestamp_created, f.marked, f.comment, f.is_replay) == (
        "flow-1", T0, ":star:", "look here", "response")  # fmt: skip
    assert f.metadata == {"note": "kept", "count": 3, "ratio": 0.5, "flag": True, "nothing": None}
    request = f.request.data
    assert (request.host, request.port, request.method, request.scheme, request.authority, request.path) == (
        "mail.example.com", 8443, b"POST", b"https", b"", PATH)  # fmt: skip
    assert request.http_version == b"HTTP/1.1" and request.content == b"\x03\x01\x6a\x00"
    assert request.headers.fields == ((b"Host", b"mail.example.com:8443"), (b"X-Odd", b"caf\xe9"))
    assert request.trailers is not None and request.trailers.fields == ((b"X-Sum", b"ab\xfe"),)
    assert (request.timestamp_start, request.timestamp_end) == (T0 + 10, T0 + 11)
    assert f.response is not None
    response = f.response.data
    assert (response.http_version, response.status_code, response.reason) == (b"HTTP/1.0", 449, b"Retry Aft\xffer")
    assert response.headers.fields == ((b"Content-Type", b"application/vnd.ms-sync.wbxml"),)
    assert response.content == b"\x03\x01\x6a\x00\x00"
    assert response.trailers is not None and response.trailers.fields == ((b"X-Done", b"1"),)
    assert (response.timestamp_start, response.timestamp_end) == (T0 + 20, T0 + 21)
    assert f.error is not None and (f.error.msg, f.error.timestamp) == ("connection reset", T0 + 30)
    client = f.client_conn
    assert (client.id, client.peername, client.sockname, client.sni, client.tls) == (
        "client-1", ("192.0.2.10", 50123), ("192.0.2.1", 8080), "client.example.com", True)  # fmt: skip
    assert (client.tls_version, client.alpn, client.cipher, client.error) == (
        "TLSv1.3", b"http/1.1", "TLS_AES_128_GCM_SHA256", "client went away")  # fmt: skip
    assert (client.timestamp_start, client.timestamp_tls_setup, client.timestamp_end) == (T0 + 1, T0 + 2, T0 + 90)
    assert client.proxy_mode.full_spec == "regular@8080"
    server = f.server_conn
    assert (server.id, server.address, server.peername, server.sockname, server.sni, server.tls) == (
        "server-1", ("mail.example.com", 8443), ("2001:db8::5", 8443), ("192.0.2.1", 40000), "mail.example.com",
        True)  # fmt: skip
    assert (server.tls_version, server.alpn, server.cipher, server.error) == (
        "TLSv1.2", b"h\xff", "ECDHE-RSA-AES256-GCM-SHA384", "server refused")  # fmt: skip
    assert (server.timestamp_start, server.timestamp_tcp_setup, server.timestamp_tls_setup, server.timestamp_end) == (
        T0 + 3, T0 + 4, T0 + 5, T0 + 80)  # fmt: skip


def test_a_record_without_connection_times_or_extras_takes_the_rows() -> None:
    f = flow_from_record(
        record(
            timestamps={}, connection={}, extra={}, response_http_version=None, response_reason=None,
            row=row(http_status=None, replay_of=3), target_host="", server_address="[2001:db8::1]:443",
        )
    )  # fmt: skip
    start = T0 + 50
    assert f.timestamp_created == start and f.client_conn.timestamp_start == start
    assert (f.client_conn.peername, f.client_conn.sockname) == (("", 0), ("", 0))
    assert f.client_conn.timestamp_tls_setup is None and f.client_conn.timestamp_end is None
    assert f.client_conn.proxy_mode.full_spec == "regular"
    assert (f.request.timestamp_start, f.request.timestamp_end) == (start, None)
    assert f.request.host == "row.example"
    assert f.response is not None and f.response.timestamp_start == start and f.response.timestamp_end is None
    assert (f.response.data.http_version, f.response.status_code, f.response.data.reason) == (b"HTTP/1.1", 0, b"")
    assert f.error is not None and f.error.timestamp == start
    assert f.server_conn.address == ("2001:db8::1", 443)
    assert (f.server_conn.peername, f.server_conn.sockname, f.server_conn.tls) == (None, None, True)
    server = f.server_conn
    assert (server.timestamp_start, server.timestamp_tcp_setup, server.timestamp_tls_setup, server.timestamp_end) == (
        None, None, None, None)  # fmt: skip
    assert (f.marked, f.comment, f.is_replay, f.metadata) == ("", "", "request", {})
    assert len(f.id) == 36 and f.id != "flow-1"  # a new UUID


def test_a_record_with_only_a_request_end_starts_its_response_there() -> None:
    f = flow_from_record(record(timestamps={"request_end": T0 + 11}))
    assert f.response is not None and f.response.timestamp_start == T0 + 11


def test_a_record_gives_what_it_lacks_as_absent() -> None:
    extra = {"mitm_id": "flow-1", "request_body_missing": True}
    f = flow_from_record(
        record(response_headers=None, error=None, request_trailers=None, request_headers=(), extra=extra, tls=False)
    )
    assert f.response is None and f.error is None and f.request.trailers is None
    assert f.request.headers.fields == () and f.request.data.content is None
    assert f.is_replay is None
    f = flow_from_record(record(response_headers=(), response_trailers=None))
    assert f.response is not None and f.response.headers.fields == () and f.response.trailers is None


def test_a_record_without_server_state_or_address() -> None:
    f = flow_from_record(record(connection={}, server_address=None, tls=False))
    assert f.server_conn.address is None and f.server_conn.tls is False
    assert f.server_conn.alpn is None and f.server_conn.sni is None
    f = flow_from_record(record(connection={}, server_address="mail.example.com:https"))
    assert f.server_conn.address is None
    f = flow_from_record(record(connection={"server": {"address": None}}, server_address="mail.example.com:81"))
    assert f.server_conn.address == ("mail.example.com", 81)
    f = flow_from_record(record(connection={"server": {"address": ["a.example", 82]}}, server_address="b.example:83"))
    assert f.server_conn.address == ("a.example", 82)


def test_connection_state_partly_known() -> None:
    state = {"tls": 1, "id": "", "alpn": None}
    f = flow_from_record(record(connection={"client": dict(state), "server": dict(state), "proxy_mode": "nonsense:"}))
    for conn in (f.client_conn, f.server_conn):
        assert conn.tls is True and len(conn.id) == 36 and conn.alpn is None
        assert (conn.sni, conn.tls_version, conn.cipher, conn.error) == (None, None, None, None)
    assert f.client_conn.proxy_mode.full_spec == "regular"  # a mode mitmproxy does not read is left at its default
    f = flow_from_record(record(connection={"client": {"id": 42}, "server": {"tls": 0}}, tls=True))
    assert f.client_conn.id == "42" and f.server_conn.tls is False  # the state's word over the record's


def test_a_flow_comes_back_from_its_own_flow_input() -> None:
    """FlowInput to record by hand (what the writer stores), then back: the flow mitmproxy held."""
    original = hand_flow()
    got = flow_input_from_mitm(original)
    assert got == HAND_INPUT
    rebuilt = flow_from_record(record())
    assert rebuilt.request.data == original.request.data
    assert original.response is not None and rebuilt.response is not None
    assert rebuilt.response.data == original.response.data


def test_exported_flows_name_what_cannot_be_built() -> None:
    good, bad = record(), record(port="443", row=row(id=13))  # a damaged row: the port is text
    damaged: list[str] = []
    flows = list(exported_flows([good, bad, record(row=row(id=14), extra={"mitm_id": "flow-14"})], damaged))
    assert [f.id for f in flows] == ["flow-1", "flow-14"]
    port_error = "Expected <class 'int'> for port, but got <class 'str'>."
    assert damaged == [f"flow 13: cannot be exported (TypeError: {port_error})"]
    with pytest.raises(CaptureError) as raised:
        list(exported_flows([good, bad]))
    assert str(raised.value) == f"flow 13: cannot be exported ({port_error})"


def test_export_writes_the_flows_mitmproxy_reads(tmp_path: Path) -> None:
    capture = tmp_path / "capture.sqlite"
    with CaptureWriter(capture, analyze=False) as writer:
        first = writer.add_sync(HAND_INPUT)
        second = writer.add_sync(flow_input_from_mitm(hand_flow()))
    assert [r.row.id for r in selected_records(capture, None)] == [first, second]
    assert [r.row.id for r in selected_records(capture, [second])] == [second]
    damaged: list[str] = []
    assert [r.row.id for r in selected_records(capture, [99, first], damaged)] == [first]
    assert damaged == [f"{capture}: no flow 99"]
    with pytest.raises(CaptureError, match="no flow 99"):
        selected_records(capture, [99])
    exported = tmp_path / "out" / "x.mitm"
    assert export_mitm(capture, exported, [second]) == 1
    with exported.open("rb") as file:
        (back,) = list(mitm_io.FlowReader(file).stream())
    assert isinstance(back, http.HTTPFlow) and back.request.data.path == PATH and back.id == "flow-1"
    assert export_mitm(capture, tmp_path / "two.mitm") == 2
    with pytest.raises(CaptureError, match="cannot write"):
        export_mitm(capture, tmp_path / "two.mitm" / "under-a-file.mitm")


def test_export_leaves_out_damaged_flows_and_names_them(tmp_path: Path) -> None:
    capture = tmp_path / "capture.sqlite"
    with CaptureWriter(capture, analyze=False) as writer:
        ids = [writer.add_sync(HAND_INPUT) for _ in range(3)]
    with sqlite3.connect(capture) as db:
        # Damage a mitmproxy flow cannot be built from (a peer address that is a number), and a damaged column.
        db.execute("UPDATE flows SET connection = ? WHERE id = ?", ('{"client": {"peername": 5}}', ids[1]))
        db.execute("UPDATE flows SET port = 'x443' WHERE id = ?", (ids[2],))
    db.close()
    damaged: list[str] = []
    assert export_mitm(capture, tmp_path / "x.mitm", [99, *ids], damaged) == 1
    assert damaged == [
        f"{capture}: no flow 99",
        f"flow {ids[2]}: the port column is damaged (ValueError: invalid literal for int() with base 10: 'x443')",
        f"flow {ids[1]}: cannot be exported (TypeError: 'int' object is not iterable)",
    ]
    with pytest.raises(CaptureError, match=f"^flow {ids[1]}: cannot be exported"):
        export_mitm(capture, tmp_path / "y.mitm", ids[:2])


def test_an_export_that_cannot_be_written_says_why(tmp_path: Path) -> None:
    capture = tmp_path / "capture.sqlite"
    with CaptureWriter(capture, analyze=False) as writer:
        writer.add_sync(HAND_INPUT)
    exported = tmp_path / "x.mitm"
    # A file size limit makes the write itself fail (EFBIG) after the file was opened.
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (100, limits[1]))
    try:
        with pytest.raises(CaptureError) as raised:
            export_mitm(capture, exported)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, handler)
    assert str(raised.value) == f"{exported}: cannot write: File too large"
