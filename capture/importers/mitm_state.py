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
#
# The parsing is this module's own too, for speed, under the same rule:
# 1. An item is read by its position in the record (`_item`, `_span`), in place: no memoryview or slice of the
#    record per item as in mitmproxy's parser, whose steps cost more than all the checks. A length prefix is a
#    few digits, added up one byte at a time: cheaper than slicing them out for int(), and, where the module is
#    compiled (mypyc, eas/_native.py), a loop in C.
# 2. It gives the value mitmproxy's `tnetstring.loads` gives, or refuses (`_Unsure`): a length prefix of
#    anything but ASCII digits, a tag it does not know, or an item running past its container are refused, and
#    mitmproxy's own code then reads (or refuses) the record.
# 3. The two connections of a flow are read once per distinct byte string: flows sent over one connection carry
#    the same bytes, and a connection is half of a record's items. The checked fields are remembered, not the
#    parsed state, so nothing shared can be changed by a caller.

from __future__ import annotations

import functools
from typing import Any, Final

from mitmproxy import certs, version
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
# The tnetstring items of mitmproxy's flow files: `<length>:<payload><tag>`, the tag one of these bytes.

_BYTES, _TEXT, _INT, _FLOAT, _BOOL, _NULL, _LIST, _DICT = b",;#^!~]}"
_COLON, _ZERO, _NINE = b":09"
# A length prefix has at most this many digits, as mitmproxy's reader allows (a longer one: its path words the error).
_MAX_DIGITS: Final = 12


def _span(data: bytes, start: int, limit: int) -> tuple[int, int, int]:
    """The payload (first, end) of the item at `start` and its tag; the item ends at end + 1 <= limit."""
    length = 0
    position = start
    while position < limit:
        byte = data[position]
        if byte == _COLON:
            break
        if byte < _ZERO or byte > _NINE or position - start >= _MAX_DIGITS:
            raise _Unsure
        length = length * 10 + (byte - _ZERO)
        position += 1
    if position == start or position >= limit:
        raise _Unsure
    first = position + 1
    end = first + length
    if end >= limit:
        raise _Unsure
    return first, end, data[end]


def _item(data: bytes, start: int, limit: int) -> tuple[Any, int]:
    """The value of the item at `start` as mitmproxy's tnetstring.loads gives it, and where the next item starts."""
    first, end, tag = _span(data, start, limit)
    if tag == _BYTES:
        return data[first:end], end + 1
    if tag == _TEXT:
        return data[first:end].decode("utf-8"), end + 1
    if tag == _DICT:
        mapping = {}
        position = first
        while position < end:
            key, position = _item(data, position, end)
            mapping[key], position = _item(data, position, end)  # as key by key: a later duplicate key wins
        return mapping, end + 1
    if tag == _LIST:
        items = []
        position = first
        while position < end:
            value, position = _item(data, position, end)
            items.append(value)
        return items, end + 1
    if tag == _INT:
        return int(data[first:end]), end + 1
    if tag == _FLOAT:
        return float(data[first:end]), end + 1
    if tag == _NULL and end == first:
        return None, end + 1
    if tag == _BOOL and data[first:end] in (b"true", b"false"):
        return data[first:end] == b"true", end + 1
    raise _Unsure


def _flow_items(data: bytes) -> dict[str, Any]:
    """The record's top dict, each value parsed except the connections', which stay their raw items (bytes)."""
    first, end, tag = _span(data, 0, len(data))
    if tag != _DICT:
        raise _Unsure
    state: dict[str, Any] = {}
    position = first
    while position < end:
        key, position = _item(data, position, end)
        if key == "client_conn" or key == "server_conn":
            start = position
            position = _span(data, start, end)[1] + 1
            state[key] = data[start:position]
        else:
            state[key], position = _item(data, position, end)
    return state


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


@functools.lru_cache(maxsize=MEMO_SIZE)
def _client(item: bytes) -> tuple[ConnectionFields, str]:
    """The client connection's fields and proxy mode, from its tnetstring item."""
    state = _item(item, 0, len(item))[0]
    client = _connection(state, CLIENT_KEYS, client=True)
    if state["mitmcert"] is not None:
        _certificate(state["mitmcert"])
    proxy_mode = _proxy_mode_spec(_is(state["proxy_mode"], str))
    if proxy_mode is None:
        raise _Unsure
    return client, proxy_mode


@functools.lru_cache(maxsize=MEMO_SIZE)
def _server(item: bytes) -> tuple[ConnectionFields, tuple[Any, ...] | None, float | None]:
    """The server connection's fields, address and TCP set-up time, from its tnetstring item."""
    state = _item(item, 0, len(item))[0]
    server = _connection(state, SERVER_KEYS, client=False)
    if state["via"] is not None:
        raise _Unsure
    tcp_setup = _optional_number(state["timestamp_tcp_setup"])
    address = _address(state["address"], optional=True, pair_only=True)
    return server, address, None if tcp_setup is None else float(tcp_setup)


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
        state = _keys(_flow_items(data), FLOW_KEYS, OPTIONAL_FLOW_KEYS)
        if state["version"] != KNOWN_FORMAT or type(state["version"]) is not int or state["type"] != "http":
            return None
        if state["websocket"] is not None:
            return None
        request = _keys(state["request"], REQUEST_KEYS)
        request_body = _optional(request["content"], bytes)
        response = _response(state["response"])
        response_body = None if response is None else state["response"]["content"]
        client, proxy_mode = _client(state["client_conn"])
        server, server_address, tcp_setup = _server(state["server_conn"])
        error = state["error"]
        if error is not None:
            error = _keys(error, ERROR_KEYS)
            error = (_is(error["msg"], str), float(_number(error["timestamp"])))
        _is(state["intercepted"], bool)
        is_replay = _optional(state["is_replay"], str)
        metadata = scalar_metadata(_is(state["metadata"], dict))
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
            server_address,
            tcp_setup,
            proxy_mode,
        )
    except (_Unsure, ValueError, TypeError, OverflowError, RecursionError):  # a shape it does not vouch for
        return None
    return fields, request_body, response_body


__all__ = ["ACTIVE", "KNOWN_FORMAT", "http_flow"]
