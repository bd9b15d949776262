"""Between mitmproxy flows and the capture: FlowInput from a flow, a flow from a record, import and export."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from mitmproxy import connection, flow, http, io
from mitmproxy.exceptions import FlowReadException

from eas.exchange import DecodedBody
from eas.wiretext import shown

from addon.store import CaptureError, CaptureReader, CaptureWriter, FlowInput, FlowRecord, Headers

IMPORT_FLUSH_EVERY = 500


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _headers(headers: http.Headers | None) -> Headers | None:
    if headers is None:
        return None
    return tuple((_text(name), _text(value)) for name, value in headers.fields)


def _mitm_headers(headers: Headers | None) -> http.Headers | None:
    if headers is None:
        return None
    return http.Headers([(_bytes(name), _bytes(value)) for name, value in headers])


def _address(address: Any) -> list[Any] | None:
    if not address:
        return None
    return [str(address[0]), int(address[1])]


def _host_port(address: Any) -> str:
    """`host:port`, with brackets around an IPv6 host."""
    host = str(address[0])
    return f"[{host}]:{address[1]}" if ":" in host else f"{host}:{address[1]}"


def _connection_state(conn: connection.Connection) -> dict[str, Any]:
    return {
        "id": conn.id,
        "peername": _address(conn.peername),
        "sockname": _address(conn.sockname),
        "sni": conn.sni,
        "tls": conn.tls,
        "tls_version": conn.tls_version,
        "alpn": None if conn.alpn is None else _text(conn.alpn),
        "cipher": conn.cipher,
        "error": conn.error,
    }


def _timestamps(mitm_flow: http.HTTPFlow) -> dict[str, float]:
    request = mitm_flow.request
    response = mitm_flow.response
    client = mitm_flow.client_conn
    server = mitm_flow.server_conn
    candidates: dict[str, float | None] = {
        "flow_created": mitm_flow.timestamp_created,
        "request_start": request.timestamp_start,
        "request_end": request.timestamp_end,
        "response_start": response.timestamp_start if response else None,
        "response_end": response.timestamp_end if response else None,
        "error": mitm_flow.error.timestamp if mitm_flow.error else None,
        "client_conn_start": client.timestamp_start,
        "client_conn_tls_setup": client.timestamp_tls_setup,
        "client_conn_end": client.timestamp_end,
        "server_conn_start": server.timestamp_start,
        "server_conn_tcp_setup": server.timestamp_tcp_setup,
        "server_conn_tls_setup": server.timestamp_tls_setup,
        "server_conn_end": server.timestamp_end,
    }
    return {name: float(value) for name, value in candidates.items() if value is not None}


def _is_json_scalar(value: object) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def flow_input_from_mitm(mitm_flow: http.HTTPFlow) -> FlowInput:
    """The raw fields of a mitmproxy HTTP flow, bytes kept exactly (bodies as `raw_content`)."""
    request = mitm_flow.request
    response = mitm_flow.response
    server = mitm_flow.server_conn
    server_address = _host_port(server.address) if server.address else None
    extra: dict[str, Any] = {"mitm_id": mitm_flow.id}
    if mitm_flow.marked:
        extra["marked"] = mitm_flow.marked
    if mitm_flow.comment:
        extra["comment"] = mitm_flow.comment
    if mitm_flow.is_replay:
        extra["is_replay"] = mitm_flow.is_replay
    if request.raw_content is None:
        extra["request_body_missing"] = True  # streamed through (stream_large_bodies), never held by mitmproxy
    metadata = {key: value for key, value in mitm_flow.metadata.items() if _is_json_scalar(value)}
    if metadata:
        extra["metadata"] = metadata
    return FlowInput(
        method=_text(request.data.method),
        scheme=_text(request.data.scheme),
        target_host=request.host,
        port=request.port,
        path=_text(request.data.path),
        http_version=_text(request.data.http_version),
        request_headers=_headers(request.headers) or (),
        request_body=request.raw_content or b"",
        timestamps=_timestamps(mitm_flow),
        authority=_text(request.data.authority),
        url=request.pretty_url,
        host=request.pretty_host,
        request_trailers=_headers(request.trailers),
        response_http_version=_text(response.data.http_version) if response else None,
        response_status=response.status_code if response else None,
        response_reason=_text(response.data.reason) if response else None,
        response_headers=_headers(response.headers) if response else None,
        response_body=response.raw_content if response else None,  # None also when streamed (not kept)
        response_trailers=_headers(response.trailers) if response else None,
        error=mitm_flow.error.msg if mitm_flow.error else None,
        server_address=server_address,
        tls=bool(server.tls or request.scheme == "https"),
        connection={
            "client": _connection_state(mitm_flow.client_conn),
            "server": {**_connection_state(server), "address": _address(server.address)},
            "proxy_mode": mitm_flow.client_conn.proxy_mode.full_spec,
        },
        extra=extra,
    )


def flow_from_record(record: FlowRecord) -> http.HTTPFlow:
    """Rebuild a mitmproxy flow: method, URL parts, headers in order, raw bodies, timestamps, status, error."""
    from mitmproxy.proxy.mode_specs import ProxyMode

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
        headers=_mitm_headers(record.request_headers) or http.Headers(),
        content=None if record.extra.get("request_body_missing") else record.request_body,
        trailers=_mitm_headers(record.request_trailers),
        timestamp_start=ts.get("request_start", ts_start),
        timestamp_end=ts.get("request_end"),
    )
    if record.response_headers is not None:
        mitm_flow.response = http.Response(
            http_version=_bytes(record.response_http_version or record.http_version),
            status_code=record.row.http_status or 0,
            reason=_bytes(record.response_reason or ""),
            headers=_mitm_headers(record.response_headers) or http.Headers(),
            content=record.response_body,
            trailers=_mitm_headers(record.response_trailers),
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
# Import


def is_eas_or_autodiscover(mitm_flow: http.HTTPFlow) -> bool:
    """An EAS request (/Microsoft-Server-ActiveSync) or an Autodiscover request, by its path."""
    from addon.activesync import eas_kind  # the addon's classification, so import records what the proxy would

    return eas_kind(mitm_flow.request.path) is not None


@dataclass(frozen=True)
class ImportReport:
    """What an import did: flows written, flows skipped because they are not EAS (or not HTTP), and flows the
    capture refused (each logged with its reason; `imported` does not count them)."""

    imported: int
    skipped_other_http: int
    skipped_not_http: int
    not_stored: int = 0

    @property
    def skipped(self) -> int:
        return self.skipped_other_http + self.skipped_not_http


def import_mitm_report(
    src_path: str | os.PathLike[str],
    capture_path: str | os.PathLike[str],
    *,
    all_http: bool = False,
    keep_credentials: bool = False,
    max_body_size: int | None = None,
) -> ImportReport:
    """Copy the EAS and Autodiscover flows of a mitmproxy file into a capture (all HTTP flows with `all_http`).

    Raises:
        CaptureError: the source cannot be read (not a mitmproxy flow file) or the capture cannot be written.
    """
    src = Path(src_path)
    try:
        source = src.open("rb")
    except OSError as err:
        raise CaptureError(f"{src}: cannot read: {err.strerror or err}") from err
    added = skipped_other = skipped_not_http = 0
    with source:
        _check_flow_file(source, src)
        writer = CaptureWriter(capture_path, keep_credentials=keep_credentials, max_body_size=max_body_size)
        try:
            for mitm_flow in io.FlowReader(source).stream():
                if not isinstance(mitm_flow, http.HTTPFlow):
                    skipped_not_http += 1
                    continue
                if not all_http and not is_eas_or_autodiscover(mitm_flow):
                    skipped_other += 1
                    continue
                writer.add(flow_input_from_mitm(mitm_flow))
                added += 1
                if added % IMPORT_FLUSH_EVERY == 0:
                    writer.flush()  # bounded memory for large files
        except FlowReadException as err:
            raise CaptureError(f"{src}: not a readable mitmproxy flow file ({err})") from err
        finally:
            writer.close()
    return ImportReport(added - writer.refused_count, skipped_other, skipped_not_http, writer.refused_count)


def import_mitm(src_path: str | os.PathLike[str], capture_path: str | os.PathLike[str]) -> int:
    """Import the EAS and Autodiscover flows of a mitmproxy file; returns how many were imported."""
    return import_mitm_report(src_path, capture_path).imported


def _check_flow_file(source: Any, src: Path) -> None:
    """A mitmproxy flow file is a stream of tnetstrings: it starts with a digit (the first length)."""
    first = source.peek(1)[:1] if hasattr(source, "peek") else b""
    if first and not first.isdigit():
        raise CaptureError(f"{src}: not a mitmproxy flow file")


# ---------------------------------------------------------------------------------------------------------------
# Export


def _selected_records(capture_path: str | os.PathLike[str], flow_ids: Iterable[int] | None) -> list[FlowRecord]:
    with CaptureReader(capture_path) as reader:
        return list(reader.records(None if flow_ids is None else list(flow_ids)))


def export_mitm(
    capture_path: str | os.PathLike[str], dst_path: str | os.PathLike[str], flow_ids: Iterable[int] | None = None
) -> int:
    """Write flows of a capture (all when `flow_ids` is None) to a mitmproxy flow file; returns how many.

    Raises:
        CaptureError: the capture cannot be read, a flow id does not exist, or the file cannot be written.
    """
    records = _selected_records(capture_path, flow_ids)
    try:
        with open(dst_path, "wb") as dst:
            writer = io.FlowWriter(dst)  # type: ignore[no-untyped-call]
            for record in records:
                writer.add(flow_from_record(record))
    except OSError as err:
        raise CaptureError(f"{dst_path}: cannot write: {err.strerror or err}") from err
    return len(records)


def make_har(records: Sequence[FlowRecord]) -> dict[str, Any]:
    """HAR 1.2 of the records, built by mitmproxy's own HAR exporter."""
    from mitmproxy.addons.savehar import SaveHar

    har: dict[str, Any] = SaveHar().make_har([flow_from_record(record) for record in records])
    har["log"]["creator"]["comment"] = "exported by eas-inspector"
    return har


def export_har(
    capture_path: str | os.PathLike[str], dst_path: str | os.PathLike[str], flow_ids: Iterable[int] | None = None
) -> int:
    """Write flows of a capture (all when `flow_ids` is None) as HAR 1.2 JSON; returns how many.

    Raises:
        CaptureError: the capture cannot be read, a flow id does not exist, or the file cannot be written.
    """
    records = _selected_records(capture_path, flow_ids)
    har = make_har(records)
    try:
        with open(dst_path, "w", encoding="utf-8") as dst:
            json.dump(har, dst, indent=2)
    except OSError as err:
        raise CaptureError(f"{dst_path}: cannot write: {err.strerror or err}") from err
    return len(records)


_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>\s*")
_XML_INVALID_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_body(tag: str, text: str | None) -> str:
    """The body as XML when it is a well-formed XML document (annotations kept), else as escaped text."""
    if not text:
        return f"    <{tag}/>\n"
    body = _XML_DECLARATION.sub("", text).rstrip()
    if body.startswith("<") and _is_well_formed(body):
        return f"    <{tag}>\n{body}\n    </{tag}>\n"  # not re-indented: leaf text is kept verbatim
    clean = _XML_INVALID_CHARS.sub("\ufffd", text)
    return f"    <{tag} kind=\"text\">{escape(clean)}</{tag}>\n"


def _is_well_formed(text: str) -> bool:
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
    try:
        etree.fromstring(text.encode("utf-8", "surrogatepass"), parser)
    except (etree.XMLSyntaxError, ValueError):
        return False
    return True


def export_xml(records: Iterable[FlowRecord]) -> str:
    """One XML document with the annotated request and response XML of each record, in the given order.

    Each flow is an `<exchange>` element (id, method, url, command, status, ...) holding `<request>` and
    `<response>`; decoded WBXML appears as XML with its annotation comments, other bodies as escaped text.
    """
    parts = ['<?xml version="1.0" encoding="utf-8"?>\n<exchanges xmlns="urn:eas-inspector:export">\n']
    for record in records:
        row = record.row
        attributes: dict[str, Any] = {
            "id": row.id,
            "method": row.method,
            "url": row.url,
            "command": row.command,
            "user": row.user,
            "device-id": row.device_id,
            "device-type": row.device_type,
            "protocol-version": row.protocol_version,
            "http-status": row.http_status,
            "eas-status": row.eas_status,
            "replay-of": row.replay_of,
        }
        attrs = "".join(
            f" {name}={quoteattr(_XML_INVALID_CHARS.sub('', shown(str(value))))}"
            for name, value in attributes.items()
            if value is not None
        )
        if record.request_truncated or record.response_truncated:
            # The stored bodies are cut short; the text indexed when the whole flow was seen is the better view.
            request_text, response_text = record.request_text, record.response_text
        else:
            exchange = record.exchange()
            request_text = _decoded_text(exchange.request_body)
            response_text = _decoded_text(exchange.response_body)
        parts.append(f"  <exchange{attrs}>\n")
        if record.error:
            parts.append(f"    <error>{escape(_XML_INVALID_CHARS.sub('', record.error))}</error>\n")
        for problem in record.problems:
            parts.append(
                f"    <problem where={quoteattr(problem.where)} severity={quoteattr(problem.severity)}>"
                f"{escape(_XML_INVALID_CHARS.sub('', problem.reason))}</problem>\n"
            )
        parts.append(_xml_body("request", request_text))
        if record.response_headers is not None:
            parts.append(_xml_body("response", response_text))
        parts.append("  </exchange>\n")
    parts.append("</exchanges>\n")
    return "".join(parts)


def _decoded_text(body: DecodedBody | None) -> str | None:
    return None if body is None else body.xml or body.text
