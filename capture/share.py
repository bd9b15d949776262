"""A capture written as a mitmproxy flow file fit to hand on: `eas.share` applied to every part of every flow."""

from __future__ import annotations

# Theory of operation
# -------------------
# Each stored flow is rebuilt as a mitmproxy flow, then every place an identity or a secret can sit is rewritten
# with one `eas.share.Pseudonyms`: the request target (host, authority, path and query), headers and trailers,
# bodies (Content-Encoding removed, rewritten, encoded again by mitmproxy, which also sets Content-Length), the
# response reason, the error message, the client's and server's addresses and TLS server names, the proxy mode
# (a reverse proxy's spec names the server), and the flow's comment and metadata. The capture is read twice: the
# first pass only learns the identities, so that the second one, which writes, replaces each of them in free
# text wherever it appears (a user name learnt from flow 50 is also hidden in flow 3's error page).
# The file is written next to its destination as a 0600 temporary file and renamed into place when complete:
# a failure leaves no half-written file.

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mitmproxy import connection, http, io
from mitmproxy.proxy.mode_specs import ProxyMode

from eas.share import Pseudonyms, SharedBody, share_body, share_headers, share_path

from .exportfile import replace_privately
from .mitm import flow_from_record, header_texts, mitm_headers
from .reader import CaptureReader

# The header that says, in the shared file, that a body was removed and why.
NOTE_HEADER = "X-EAS-Inspector-Share"


@dataclass(frozen=True)
class ShareReport:
    """What `share_capture` wrote: flows, bodies removed outright, and the pseudonym map (kept by the sender)."""

    flows: int
    removed_bodies: int
    pseudonyms: dict[str, dict[str, str]]


def _share_message(message: http.Message, names: Pseudonyms, keep_content: bool) -> bool:
    """Rewrite a request's or response's headers, trailers and body in place; True when the body was removed."""
    original_headers = list(header_texts(message.headers.fields) or ())
    content_type = message.headers.get("content-type")
    body: bytes | None
    try:
        body = message.get_content(strict=True)
        decodable = True
    except ValueError:
        body, decodable = message.raw_content, False
    message.headers = mitm_headers(tuple(share_headers(original_headers, names))) or http.Headers()
    if message.trailers is not None:
        message.trailers = mitm_headers(tuple(share_headers(list(header_texts(message.trailers.fields) or ()), names)))
    if body is None:
        return False
    if not decodable:
        shared = SharedBody(b"", f"body of {len(body)} bytes removed (its Content-Encoding does not decode)")
        message.headers.pop("content-encoding", None)
    else:
        shared = share_body(body, content_type, names, keep_content=keep_content)
    if shared.data != body or not decodable:
        message.content = shared.data
    if shared.note is not None:
        message.headers[NOTE_HEADER] = shared.note
        return True
    return False


def _address(address: Any, rewrite: Any) -> Any:
    if not address:
        return address
    return (rewrite(str(address[0])), *tuple(address[1:]))


def _share_connections(mitm_flow: http.HTTPFlow, names: Pseudonyms) -> None:
    client = mitm_flow.client_conn
    client.peername = _address(client.peername, names.client_address)
    client.sockname = _address(client.sockname, names.client_address)
    if client.sni:
        client.sni = names.host(client.sni)
    try:
        client.proxy_mode = ProxyMode.parse(names.text(client.proxy_mode.full_spec))
    except ValueError:
        client.proxy_mode = ProxyMode.parse("regular")
    server: connection.Server = mitm_flow.server_conn
    server.address = _address(server.address, names.host)
    server.peername = _address(server.peername, names.host)
    server.sockname = _address(server.sockname, names.client_address)
    if server.sni:
        server.sni = names.host(server.sni)
    server.certificate_list = []
    client.certificate_list = []


def share_flow(mitm_flow: http.HTTPFlow, names: Pseudonyms, *, keep_content: bool = False) -> int:
    """Rewrite one flow in place for sharing; returns how many of its bodies were removed outright."""
    request = mitm_flow.request
    request.data.host = names.host(request.data.host)
    if request.data.authority:
        authority = request.data.authority.decode("utf-8", "surrogateescape")
        host, sep, port = authority.rpartition(":")
        shared_authority = f"{names.host(host)}:{port}" if sep and port.isdigit() else names.host(authority)
        request.data.authority = shared_authority.encode("utf-8", "surrogateescape")
    path = request.data.path.decode("utf-8", "surrogateescape")
    request.data.path = share_path(path, names).encode("utf-8", "surrogateescape")
    removed = int(_share_message(request, names, keep_content))
    if mitm_flow.response is not None:
        response = mitm_flow.response
        response.reason = names.text(response.reason)
        removed += int(_share_message(response, names, keep_content))
    if mitm_flow.error is not None:
        mitm_flow.error.msg = names.text(mitm_flow.error.msg)
    _share_connections(mitm_flow, names)
    mitm_flow.comment = names.text(mitm_flow.comment)
    for key, value in list(mitm_flow.metadata.items()):
        if isinstance(value, str):
            mitm_flow.metadata[key] = names.text(value)
    return removed


def _flows(capture_path: str | os.PathLike[str]) -> Iterator[http.HTTPFlow]:
    with CaptureReader(capture_path) as reader:
        for record in reader.records():
            yield flow_from_record(record)


def share_capture(
    capture_path: str | os.PathLike[str], dst_path: str | os.PathLike[str], *, keep_content: bool = False
) -> ShareReport:
    """Write every flow of a capture to a mitmproxy flow file (mode 0600) with identities pseudonymised,
    secrets removed and, unless `keep_content`, content replaced by its size.

    Raises:
        CaptureError: the capture cannot be read or the file cannot be written.
    """
    names = Pseudonyms()
    for mitm_flow in _flows(capture_path):  # first pass: learn every identity
        share_flow(mitm_flow, names, keep_content=keep_content)
    flows = removed = 0
    with replace_privately(dst_path, binary=True) as out:
        writer = io.FlowWriter(out)  # type: ignore[no-untyped-call]
        for mitm_flow in _flows(capture_path):
            removed += share_flow(mitm_flow, names, keep_content=keep_content)
            writer.add(mitm_flow)
            flows += 1
    return ShareReport(flows, removed, names.mapping())
