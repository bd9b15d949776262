"""A .mitm record of the current flow format read straight into the capture's FlowFields, without mitmproxy's Flow."""

# Theory of operation
# -------------------
# mitmproxy reads a record in three steps: its tnetstring parser builds the state (dicts, lists, bytes), its
# format migrations bring an older state up to date, and `Flow.from_state` builds the objects (two connections,
# a request, a response, headers), checking each field's type as it goes; that last step costs more than the
# parsing. The capture needs none of those objects, only the fields `capture.mitm.FlowFields` names, so for a
# record already in the current format (FLOW_FORMAT_VERSION) this module takes the state from mitmproxy's parser,
# checks it against what `from_state` accepts, and builds the FlowFields straight from it.
#
# The rule that keeps it faithful: this reader accepts a subset of what mitmproxy accepts, and for every record
# it accepts it gives the values mitmproxy's path gives. Anything it is not sure of (another format version,
# another flow type, a WebSocket, an unknown or missing key, a value of a type other than the usual one, a
# state the parser cannot read) makes it answer None, and the caller reads that record with mitmproxy's own
# code, which stays the reference (and words the error of a damaged record). The checks are stricter than mitmproxy's: an int where mitmproxy also takes a float, exact
# types where it takes subclasses. Values mitmproxy would parse by calling into other code (TLS certificates,
# the proxy mode) are handed to that code once per distinct value and remembered.

from __future__ import annotations

import functools
from typing import Any, Final

from mitmproxy import certs, version
from mitmproxy.io import tnetstring
from mitmproxy.proxy.mode_specs import ProxyMode

from capture.mitm import ConnectionFields, FlowFields, ResponseFields, scalar_metadata

# The format this reader knows: mitmproxy's flow format 21 (mitmproxy 10 to 12). Another installed mitmproxy
# may migrate or read it differently, so the reader stands aside unless mitmproxy's current format is this one.
KNOWN_FORMAT: Final = 21
ACTIVE: Final = version.FLOW_FORMAT_VERSION == KNOWN_FORMAT

# The keys of each part of an HTTP flow's state in format 21 (Flow.get_state, HTTPFlow.get_state,
# MessageData.get_state, Connection's serialized dataclass fields). mitmproxy refuses missing and unknown keys.
FLOW_KEYS: Final = frozenset({
    "version", "type", "id", "error", "client_conn", "server_conn", "intercepted", "is_replay", "marked",
    "metadata", "comment", "timestamp_created", "request", "response", "websocket",
})  # fmt: skip
OPTIONAL_FLOW_KEYS: Final = frozenset({"backup"})  # popped with a default, never checked
REQUEST_KEYS: Final = frozenset({
    "host", "port", "method", "scheme", "authority", "path", "http_version", "headers", "content", "trailers",
    "timestamp_start", "timestamp_end",
})  # fmt: skip
RESPONSE_KEYS: Final = frozenset({
    "http_version", "status_code", "reason", "headers", "content", "trailers", "timestamp_start", "timestamp_end",
})  # fmt: skip
ERROR_KEYS: Final = frozenset({"msg", "timestamp"})
CONNECTION_KEYS: Final = frozenset({
    "peername", "sockname", "id", "transport_protocol", "error", "tls", "certificate_list", "alpn", "alpn_offers",
    "cipher", "cipher_list", "tls_version", "sni", "timestamp_start", "timestamp_end", "timestamp_tls_setup",
})  # fmt: skip
CLIENT_KEYS: Final = CONNECTION_KEYS | {"mitmcert", "proxy_mode"}
SERVER_KEYS: Final = CONNECTION_KEYS | {"address", "timestamp_tcp_setup", "via"}

# mitmproxy's connection.TransportProtocol and connection.TlsVersion.
TRANSPORT_PROTOCOLS: Final = frozenset({"tcp", "udp"})
TLS_VERSIONS: Final = frozenset({"SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3", "DTLSv0.9", "DTLSv1",
                                 "DTLSv1.2", "QUICv1"})  # fmt: skip

# Distinct certificates and proxy modes remembered (a capture has a few of each).
MEMO_SIZE: Final = 256


class _Unsure(Exception):
    """The record is not in the shape this reader vouches for: mitmproxy's path reads it."""


# ---------------------------------------------------------------------------------------------------------------
# Checks: each returns the value as mitmproxy's from_state leaves it, or raises _Unsure.


def _keys(state: Any, keys: frozenset[str], optional: frozenset[str] = frozenset()) -> dict[str, Any]:
    if type(state) is not dict:
        raise _Unsure
    present = state.keys()
    if present != keys and not (keys <= present and present <= keys | optional):
        raise _Unsure
    return state


def _is(value: Any, kind: type) -> Any:
    if type(value) is not kind:
        raise _Unsure
    return value


def _optional(value: Any, kind: type) -> Any:
    if value is not None and type(value) is not kind:
        raise _Unsure
    return value


def _number(value: Any) -> float | int:
    """A timestamp as the state holds it (mitmproxy's checks take an int or a float)."""
    kind = type(value)
    if kind is not float and kind is not int:
        raise _Unsure
    return value  # type: ignore[no-any-return]


def _optional_number(value: Any) -> float | int | None:
    return None if value is None else _number(value)


def _headers(value: Any) -> tuple[tuple[bytes, bytes], ...]:
    """Header fields as `http.Headers.fields` holds them: pairs of bytes."""
    if type(value) is not list:
        raise _Unsure
    fields = []
    for pair in value:
        if type(pair) is not list or len(pair) != 2 or type(pair[0]) is not bytes or type(pair[1]) is not bytes:
            raise _Unsure
        fields.append((pair[0], pair[1]))
    return tuple(fields)


def _optional_headers(value: Any) -> tuple[tuple[bytes, bytes], ...] | None:
    return None if value is None else _headers(value)


def _address(value: Any, *, optional: bool, pair_only: bool = False) -> tuple[Any, ...] | None:
    """A (host, port[, flowinfo, scope id]) address: `pair_only` for Server.address, which mitmproxy takes as a pair."""
    if value is None and optional:
        return None
    if type(value) is not list or not 2 <= len(value) <= (2 if pair_only else 4) or type(value[0]) is not str:
        raise _Unsure
    for number in value[1:]:
        if type(number) is not int:
            raise _Unsure
    return tuple(value)


def _texts(value: Any, kind: type) -> None:
    if type(value) is not list:
        raise _Unsure
    for item in value:
        if type(item) is not kind:
            raise _Unsure


@functools.lru_cache(maxsize=MEMO_SIZE)
def _certificate_readable(pem: bytes) -> bool:
    try:
        certs.Cert.from_state(pem)  # type: ignore[no-untyped-call]
    except Exception:  # whatever mitmproxy's certificate loading raises, its own path reports it
        return False
    return True


def _certificate(value: Any) -> None:
    if type(value) is not bytes or not _certificate_readable(value):
        raise _Unsure


@functools.lru_cache(maxsize=MEMO_SIZE)
def _proxy_mode_spec(spec: str) -> str | None:
    """The proxy mode as mitmproxy states it again (ProxyMode.parse(spec).full_spec); None if it refuses it."""
    try:
        return str(ProxyMode.from_state(spec).full_spec)  # type: ignore[no-untyped-call]
    except Exception:  # whatever mitmproxy's parser raises, its own path reports it
        return None


def _connection(state: Any, keys: frozenset[str], *, client: bool) -> ConnectionFields:
    state = _keys(state, keys)
    if type(state["transport_protocol"]) is not str or state["transport_protocol"] not in TRANSPORT_PROTOCOLS:
        raise _Unsure
    tls_version = state["tls_version"]
    if tls_version is not None and (type(tls_version) is not str or tls_version not in TLS_VERSIONS):
        raise _Unsure
    certificate_list = state["certificate_list"]
    if type(certificate_list) is not list:
        raise _Unsure
    for certificate in certificate_list:
        _certificate(certificate)
    _texts(state["alpn_offers"], bytes)
    _texts(state["cipher_list"], str)
    timestamp_start = state["timestamp_start"]
    timestamp_start = _number(timestamp_start) if client else _optional_number(timestamp_start)
    timestamp_tls_setup = _optional_number(state["timestamp_tls_setup"])
    timestamp_end = _optional_number(state["timestamp_end"])
    return ConnectionFields(
        _is(state["id"], str),
        _address(state["peername"], optional=not client),
        _address(state["sockname"], optional=not client),
        _optional(state["sni"], str),
        _is(state["tls"], bool),
        tls_version,
        _optional(state["alpn"], bytes),
        _optional(state["cipher"], str),
        _optional(state["error"], str),
        # Connection fields go through mitmproxy's dataclass conversion, which makes every timestamp a float.
        None if timestamp_start is None else float(timestamp_start),
        None if timestamp_tls_setup is None else float(timestamp_tls_setup),
        None if timestamp_end is None else float(timestamp_end),
    )


def _response(state: Any) -> ResponseFields | None:
    if state is None:
        return None
    state = _keys(state, RESPONSE_KEYS)
    if state["content"] is not None and type(state["content"]) is not bytes:
        raise _Unsure
    return ResponseFields(
        _is(state["http_version"], bytes),
        _is(state["status_code"], int),
        _is(state["reason"], bytes),
        _headers(state["headers"]),
        _optional_headers(state["trailers"]),
        _number(state["timestamp_start"]),
        _optional_number(state["timestamp_end"]),
    )


def http_flow(data: bytes) -> tuple[FlowFields, bytes | None, bytes | None] | None:
    """An HTTP flow record of the known format as (fields, request body, response body), bodies as on the wire
    (None when mitmproxy kept none); None when mitmproxy's own path must read the record."""
    if not ACTIVE:
        return None
    try:
        state = _keys(tnetstring.loads(data), FLOW_KEYS, OPTIONAL_FLOW_KEYS)
        if state["version"] != KNOWN_FORMAT or type(state["version"]) is not int or state["type"] != "http":
            return None
        if state["websocket"] is not None:
            return None
        request = _keys(state["request"], REQUEST_KEYS)
        request_body = _optional(request["content"], bytes)
        response = _response(state["response"])
        response_body = None if response is None else state["response"]["content"]
        client_state, server_state = state["client_conn"], state["server_conn"]
        client = _connection(client_state, CLIENT_KEYS, client=True)
        if client_state["mitmcert"] is not None:
            _certificate(client_state["mitmcert"])
        proxy_mode = _proxy_mode_spec(_is(client_state["proxy_mode"], str))
        server = _connection(server_state, SERVER_KEYS, client=False)
        if proxy_mode is None or server_state["via"] is not None:
            raise _Unsure
        error = state["error"]
        if error is not None:
            error = _keys(error, ERROR_KEYS)
            error = (_is(error["msg"], str), float(_number(error["timestamp"])))
        _is(state["intercepted"], bool)
        is_replay = _optional(state["is_replay"], str)
        metadata = scalar_metadata(_is(state["metadata"], dict))
        tcp_setup = _optional_number(server_state["timestamp_tcp_setup"])
        fields = FlowFields(
            _is(state["id"], str),
            _number(state["timestamp_created"]),
            _is(state["marked"], str),
            _is(state["comment"], str),
            is_replay,
            metadata,
            _is(request["host"], str),
            _is(request["port"], int),
            _is(request["method"], bytes),
            _is(request["scheme"], bytes),
            _is(request["authority"], bytes),
            _is(request["path"], bytes),
            _is(request["http_version"], bytes),
            _headers(request["headers"]),
            _optional_headers(request["trailers"]),
            _number(request["timestamp_start"]),
            _optional_number(request["timestamp_end"]),
            response,
            error,
            client,
            server,
            _address(server_state["address"], optional=True, pair_only=True),
            None if tcp_setup is None else float(tcp_setup),
            proxy_mode,
        )
    except (_Unsure, ValueError, TypeError, OverflowError, RecursionError):  # a shape it does not vouch for
        return None
    return fields, request_body, response_body


__all__ = ["ACTIVE", "KNOWN_FORMAT", "http_flow"]
