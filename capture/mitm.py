"""Between mitmproxy and the capture: a flow's raw fields, the FlowInput of a flow, a flow from a record, .mitm export.

Importing .mitm files (and every other form) is capture.importers' work, built on `flow_input_from_mitm`.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple

from mitmproxy import connection, flow, http, io
from mitmproxy.proxy.mode_specs import ProxyMode

from capture.exportfile import open_export
from capture.model import CaptureError, FlowInput, FlowRecord, Headers
from capture.reader import CaptureReader

# Request lines remembered for `shown_url_and_host` (a device repeats the same few).
SHOWN_URL_MEMO_SIZE = 1024

RawHeaders = tuple[tuple[bytes, bytes], ...]


# ---------------------------------------------------------------------------------------------------------------
# A flow's raw fields: what mitmproxy holds, as plain values (bytes, numbers, tuples) that marshal can carry.
# `raw_flow_fields` builds them as plain nested tuples in the order of these types (the addon sends them to its
# worker that way); `FlowFields._make` and the nested `_make`s name them again.


class ConnectionFields(NamedTuple):
    """One side's connection (mitmproxy `connection.Client` / `Server`)."""

    id: str
    peername: tuple[Any, ...] | None
    sockname: tuple[Any, ...] | None
    sni: str | None
    tls: bool
    tls_version: str | None
    alpn: bytes | None
    cipher: str | None
    error: str | None
    timestamp_start: float | None
    timestamp_tls_setup: float | None
    timestamp_end: float | None


class ResponseFields(NamedTuple):
    """The response line, headers and times (mitmproxy `http.Response.data`), body apart."""

    http_version: bytes
    status_code: int
    reason: bytes
    headers: RawHeaders
    trailers: RawHeaders | None
    timestamp_start: float
    timestamp_end: float | None


class FlowFields(NamedTuple):
    """Everything of an HTTP flow the capture keeps, bodies apart (they travel as they are)."""

    flow_id: str
    created: float
    marked: str
    comment: str
    is_replay: str | None
    metadata: dict[Any, Any]  # the JSON scalars only (see `scalar_metadata`)
    host: str  # where the connection went (mitmproxy request.host)
    port: int
    method: bytes
    scheme: bytes
    authority: bytes
    path: bytes
    http_version: bytes
    headers: RawHeaders
    trailers: RawHeaders | None
    request_start: float
    request_end: float | None
    response: ResponseFields | None
    error: tuple[str, float] | None  # message, time
    client: ConnectionFields
    server: ConnectionFields
    server_address: tuple[Any, ...] | None
    server_tcp_setup: float | None
    proxy_mode: str


_JSON_SCALARS = (str, int, float, bool)
_PLAIN_SCALARS = frozenset((str, int, float, bool, type(None)))


def _json_scalar(value: Any) -> Any:
    """A JSON scalar as its plain type (an enum or other subclass: the value JSON would write)."""
    kind = type(value)
    if value is None or kind is str or kind is int or kind is float or kind is bool:
        return value
    return json.loads(json.dumps(value))


def scalar_metadata(values: dict[Any, Any]) -> dict[Any, Any]:
    """The flow.metadata entries a capture keeps (JSON scalars under keys JSON can write), as plain types."""
    plain = _PLAIN_SCALARS
    if all(type(key) is str and type(value) in plain for key, value in values.items()):
        return values  # the usual case (the addon's own entries): nothing to convert or leave out
    return {
        _json_scalar(key): _json_scalar(value)
        for key, value in values.items()
        if (value is None or isinstance(value, _JSON_SCALARS)) and (key is None or isinstance(key, _JSON_SCALARS))
    }


def _raw_connection(conn: connection.Connection) -> tuple[Any, ...]:
    return (
        conn.id, conn.peername, conn.sockname, conn.sni, conn.tls, conn.tls_version, conn.alpn, conn.cipher,
        conn.error, conn.timestamp_start, conn.timestamp_tls_setup, conn.timestamp_end,
    )  # fmt: skip


def raw_flow_fields(f: http.HTTPFlow) -> tuple[Any, ...]:
    """The FlowFields of a flow as plain nested tuples (marshal takes no NamedTuple), read as mitmproxy holds them."""
    request = f.request.data
    response = f.response
    server = f.server_conn
    error = f.error
    response_fields = None
    if response is not None:
        data = response.data
        response_fields = (
            data.http_version, data.status_code, data.reason, data.headers.fields,
            None if data.trailers is None else data.trailers.fields, data.timestamp_start, data.timestamp_end,
        )  # fmt: skip
    return (
        f.id, f.timestamp_created, f.marked, f.comment, f.is_replay, scalar_metadata(f.metadata),
        request.host, request.port, request.method, request.scheme, request.authority, request.path,
        request.http_version, request.headers.fields, None if request.trailers is None else request.trailers.fields,
        request.timestamp_start, request.timestamp_end, response_fields,
        None if error is None else (error.msg, error.timestamp),
        _raw_connection(f.client_conn), _raw_connection(server), server.address, server.timestamp_tcp_setup,
        f.client_conn.proxy_mode.full_spec,
    )  # fmt: skip


def flow_fields(raw: Sequence[Any]) -> FlowFields:
    """Name the plain tuples of `raw_flow_fields` again."""
    fields = FlowFields._make(raw)
    response = fields.response
    return fields._replace(
        response=None if response is None else ResponseFields._make(response),
        client=ConnectionFields._make(fields.client),
        server=ConnectionFields._make(fields.server),
    )


# ---------------------------------------------------------------------------------------------------------------
# FlowInput from a flow


def _text(data: bytes) -> str:
    """Bytes as mitmproxy shows them: UTF-8 with surrogate escapes, so the bytes come back exactly."""
    return data.decode("utf-8", "surrogateescape")


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def header_texts(fields: Sequence[tuple[bytes, bytes]] | None) -> Headers | None:
    """mitmproxy's header fields as the capture's text pairs (bytes that are not UTF-8 kept as surrogates)."""
    if fields is None:
        return None
    return tuple((_text(name), _text(value)) for name, value in fields)


def _address(address: Any) -> list[Any] | None:
    return [str(address[0]), int(address[1])] if address else None


def _host_port(address: Any) -> str:
    """`host:port`, with brackets around an IPv6 host."""
    host = str(address[0])
    return f"[{host}]:{address[1]}" if ":" in host else f"{host}:{address[1]}"


def _connection_state(conn: ConnectionFields) -> dict[str, Any]:
    return {
        "id": conn.id, "peername": _address(conn.peername), "sockname": _address(conn.sockname), "sni": conn.sni,
        "tls": conn.tls, "tls_version": conn.tls_version, "alpn": None if conn.alpn is None else _text(conn.alpn),
        "cipher": conn.cipher, "error": conn.error,
    }  # fmt: skip


def shown_url_and_host(
    host: str, port: int, method: bytes, scheme: bytes, authority: bytes, path: bytes, http_version: bytes,
    headers: Sequence[tuple[bytes, bytes]],
) -> tuple[str, str]:
    """The URL and host as mitmproxy shows them (its Request's pretty_url and pretty_host: Host header, default
    ports); of the headers only Host counts, and a device repeats the same few request lines, so they are
    remembered."""
    host_headers = tuple(value for name, value in headers if name.lower() == b"host")
    return _shown_url_and_host(host, port, method, scheme, authority, path, http_version, host_headers)


@functools.lru_cache(maxsize=SHOWN_URL_MEMO_SIZE)
def _shown_url_and_host(
    host: str, port: int, method: bytes, scheme: bytes, authority: bytes, path: bytes, http_version: bytes,
    host_headers: tuple[bytes, ...],
) -> tuple[str, str]:
    headers = tuple((b"Host", value) for value in host_headers)
    request = http.Request(host, port, method, scheme, authority, path, http_version, headers, None, None, 0.0, None)
    return request.pretty_url, request.pretty_host


def flow_input_from_fields(fields: FlowFields, request_body: bytes | None, response_body: bytes | None) -> FlowInput:
    """The FlowInput of a flow's raw fields and bodies (bodies as on the wire; None when mitmproxy kept none)."""
    url, pretty_host = shown_url_and_host(
        fields.host, fields.port, fields.method, fields.scheme, fields.authority, fields.path, fields.http_version,
        fields.headers,
    )  # fmt: skip
    extra: dict[str, Any] = {"mitm_id": fields.flow_id}
    if fields.marked:
        extra["marked"] = fields.marked
    if fields.comment:
        extra["comment"] = fields.comment
    if fields.is_replay:
        extra["is_replay"] = fields.is_replay
    if request_body is None:
        extra["request_body_missing"] = True  # streamed through (stream_large_bodies), never held by mitmproxy
    if fields.metadata:
        extra["metadata"] = fields.metadata
    response, error, client, server = fields.response, fields.error, fields.client, fields.server
    timestamps = {
        "flow_created": fields.created,
        "request_start": fields.request_start,
        "request_end": fields.request_end,
        "response_start": None if response is None else response.timestamp_start,
        "response_end": None if response is None else response.timestamp_end,
        "error": None if error is None else error[1],
        "client_conn_start": client.timestamp_start,
        "client_conn_tls_setup": client.timestamp_tls_setup,
        "client_conn_end": client.timestamp_end,
        "server_conn_start": server.timestamp_start,
        "server_conn_tcp_setup": fields.server_tcp_setup,
        "server_conn_tls_setup": server.timestamp_tls_setup,
        "server_conn_end": server.timestamp_end,
    }
    return FlowInput(
        method=_text(fields.method),
        scheme=_text(fields.scheme),
        target_host=fields.host,
        port=fields.port,
        path=_text(fields.path),
        http_version=_text(fields.http_version),
        request_headers=header_texts(fields.headers) or (),
        request_body=request_body or b"",
        timestamps={name: float(value) for name, value in timestamps.items() if value is not None},
        authority=_text(fields.authority),
        url=url,
        host=pretty_host,
        request_trailers=header_texts(fields.trailers),
        response_http_version=None if response is None else _text(response.http_version),
        response_status=None if response is None else response.status_code,
        response_reason=None if response is None else _text(response.reason),
        response_headers=None if response is None else header_texts(response.headers),
        response_body=response_body,  # None also when streamed (not kept)
        response_trailers=None if response is None else header_texts(response.trailers),
        error=None if error is None else error[0],
        server_address=_host_port(fields.server_address) if fields.server_address else None,
        tls=bool(server.tls or fields.scheme == b"https"),
        connection={
            "client": _connection_state(client),
            "server": {**_connection_state(server), "address": _address(fields.server_address)},
            "proxy_mode": fields.proxy_mode,
        },
        extra=extra,
    )


def flow_input_from_mitm(mitm_flow: http.HTTPFlow) -> FlowInput:
    """The raw fields of a mitmproxy HTTP flow, bytes kept exactly (bodies as `raw_content`)."""
    response = mitm_flow.response
    return flow_input_from_fields(
        flow_fields(raw_flow_fields(mitm_flow)),
        mitm_flow.request.raw_content,
        None if response is None else response.raw_content,
    )


# ---------------------------------------------------------------------------------------------------------------
# A flow from a record


def flow_from_record(record: FlowRecord) -> http.HTTPFlow:
    """Rebuild a mitmproxy flow: method, URL parts, headers in order, raw bodies, timestamps, status, error."""
    ts = record.timestamps
    ts_start = record.row.ts_start
    client_state = record.connection.get("client") or {}
    server_state = record.connection.get("server") or {}
    client = connection.Client(
        peername=tuple(client_state.get("peername") or ("", 0)),
        sockname=tuple(client_state.get("sockname") or ("", 0)),
        timestamp_start=ts.get("client_conn_start", ts_start),
    )
    client.timestamp_tls_setup = ts.get("client_conn_tls_setup")
    client.timestamp_end = ts.get("client_conn_end")
    _restore_connection(client, client_state)
    mode = record.connection.get("proxy_mode")
    if mode:
        try:
            client.proxy_mode = ProxyMode.parse(mode)
        except ValueError:
            pass
    address = server_state.get("address")
    server = connection.Server(address=tuple(address) if address else None)
    if address is None and record.server_address:
        host, _, port = record.server_address.rpartition(":")
        if port.isdigit():
            server.address = (host.removeprefix("[").removesuffix("]"), int(port))
    server.peername = tuple(server_state["peername"]) if server_state.get("peername") else None
    server.sockname = tuple(server_state["sockname"]) if server_state.get("sockname") else None
    server.timestamp_start = ts.get("server_conn_start")
    server.timestamp_tcp_setup = ts.get("server_conn_tcp_setup")
    server.timestamp_tls_setup = ts.get("server_conn_tls_setup")
    server.timestamp_end = ts.get("server_conn_end")
    _restore_connection(server, server_state)
    if not server_state and record.tls:
        server.tls = True

    mitm_flow = http.HTTPFlow(client, server)
    if record.extra.get("mitm_id"):
        mitm_flow.id = str(record.extra["mitm_id"])
    mitm_flow.timestamp_created = ts.get("flow_created", ts_start)
    mitm_flow.request = http.Request(
        host=record.target_host or record.row.host,
        port=record.port,
        method=_bytes(record.row.method),
        scheme=_bytes(record.scheme),
        authority=_bytes(record.authority),
        path=_bytes(record.path),
        http_version=_bytes(record.http_version),
        headers=mitm_headers(record.request_headers) or http.Headers(),
        content=None if record.extra.get("request_body_missing") else record.request_body,
        trailers=mitm_headers(record.request_trailers),
        timestamp_start=ts.get("request_start", ts_start),
        timestamp_end=ts.get("request_end"),
    )
    if record.response_headers is not None:
        mitm_flow.response = http.Response(
            http_version=_bytes(record.response_http_version or record.http_version),
            status_code=record.row.http_status or 0,
            reason=_bytes(record.response_reason or ""),
            headers=mitm_headers(record.response_headers) or http.Headers(),
            content=record.response_body,
            trailers=mitm_headers(record.response_trailers),
            timestamp_start=ts.get("response_start", ts.get("request_end", ts_start)),
            timestamp_end=ts.get("response_end"),
        )
    if record.error is not None:
        mitm_flow.error = flow.Error(record.error, ts.get("error", ts_start))
    mitm_flow.metadata.update(record.extra.get("metadata") or {})
    mitm_flow.marked = str(record.extra.get("marked") or "")
    mitm_flow.comment = str(record.extra.get("comment") or "")
    is_replay = record.extra.get("is_replay")
    if is_replay:
        mitm_flow.is_replay = is_replay
    elif record.row.replay_of is not None:
        mitm_flow.is_replay = "request"
    mitm_flow.live = False
    return mitm_flow


def mitm_headers(headers: Headers | None) -> http.Headers | None:
    """The capture's text header pairs as mitmproxy headers, byte for byte as they came."""
    if headers is None:
        return None
    return http.Headers([(_bytes(name), _bytes(value)) for name, value in headers])


def _restore_connection(conn: connection.Connection, state: dict[str, Any]) -> None:
    if not state:
        return
    if state.get("id"):
        conn.id = str(state["id"])
    conn.sni = state.get("sni")
    conn.tls = bool(state.get("tls"))
    conn.tls_version = state.get("tls_version")
    alpn = state.get("alpn")
    conn.alpn = None if alpn is None else _bytes(alpn)
    conn.cipher = state.get("cipher")
    conn.error = state.get("error")


# ---------------------------------------------------------------------------------------------------------------
# .mitm export


def selected_records(
    capture_path: str | os.PathLike[str], flow_ids: Iterable[int] | None, damaged: list[str] | None = None
) -> list[FlowRecord]:
    """The records of the given flows of a capture (all when `flow_ids` is None).

    Args:
        damaged: when given, a flow whose row is damaged is left out and the reason appended here (one line
            naming the flow and column); otherwise its CaptureError is raised.
    """
    with CaptureReader(capture_path) as reader:
        ids = reader.flow_ids() if flow_ids is None else list(flow_ids)
        records = []
        for flow_id in ids:
            try:
                records.append(reader.flow(flow_id))
            except CaptureError as err:
                if damaged is None:
                    raise
                damaged.append(str(err))
        return records


# What building a mitmproxy flow from a damaged record can raise (a port or status out of range, a wrong type).
UNBUILDABLE = (ValueError, TypeError, KeyError, OverflowError, AttributeError)


def exported_flows(records: Iterable[FlowRecord], damaged: list[str] | None = None) -> Iterator[http.HTTPFlow]:
    """The records as mitmproxy flows, for an export. With `damaged`, a record that cannot be made into a flow is
    left out and named there; otherwise its CaptureError is raised."""
    for record in records:
        try:
            mitm_flow = flow_from_record(record)
        except UNBUILDABLE as err:
            if damaged is None:
                raise CaptureError(f"flow {record.row.id}: cannot be exported ({err})") from err
            damaged.append(f"flow {record.row.id}: cannot be exported ({type(err).__name__}: {err})")
            continue
        yield mitm_flow


def export_mitm(
    capture_path: str | os.PathLike[str],
    dst_path: str | os.PathLike[str],
    flow_ids: Iterable[int] | None = None,
    damaged: list[str] | None = None,
) -> int:
    """Write flows of a capture (all when `flow_ids` is None) to a mitmproxy flow file (0600, its folder created);
    returns how many. With `damaged`, flows that cannot be read are left out and named there.

    Raises:
        CaptureError: the capture cannot be read, a flow id does not exist, or the file cannot be written.
    """
    records = selected_records(capture_path, flow_ids, damaged)
    written = 0
    try:
        with open_export(dst_path, binary=True) as dst:
            writer = io.FlowWriter(dst)  # type: ignore[no-untyped-call]
            for mitm_flow in exported_flows(records, damaged):
                writer.add(mitm_flow)
                written += 1
    except OSError as err:
        raise CaptureError(f"{dst_path}: cannot write: {err.strerror or err}") from err
    return written
