"""The `ActiveSync` contentview: decoded query and headers as XML comments, then the annotated body XML."""

from __future__ import annotations

from lxml import etree
from mitmproxy import http
from mitmproxy.contentviews import InteractiveContentview, Metadata

import eas
from eas.constants import MULTIPART_CONTENT_TYPE, WBXML_CONTENT_TYPES, path_kind
from eas.exchange import DecodedBody

from addon.metadata import header_pairs

EAS_TYPES = WBXML_CONTENT_TYPES | {MULTIPART_CONTENT_TYPE}
XML_TYPES = frozenset({"text/xml", "application/xml"})

# Above mitmproxy's own WBXML view (1) and its XML view.
PRIORITY = 2.5

# The first bytes of a WBXML 1.3 document as EAS sends it: version 1.3, public id 1 (unknown), charset 106 (UTF-8).
WBXML_MAGIC = b"\x03\x01\x6a"


def comment_text(text: str) -> str:
    """Text made safe inside an XML comment (one line, no "--", no trailing "-"); leading spaces kept."""
    text = " ".join(text.splitlines()).replace("\t", " ").rstrip()
    while "--" in text:
        text = text.replace("--", "- -")
    return text + " " if text.endswith("-") else text


def comment(text: str) -> str:
    return f"<!-- {comment_text(text)} -->"


def without_content_encoding(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Headers for a body that mitmproxy already decoded (the contentview gets it without Content-Encoding)."""
    return [(name, value) for name, value in headers if name.lower() != "content-encoding"]


def analyze_for_view(data: bytes, metadata: Metadata) -> tuple[eas.Exchange, DecodedBody | None, bool]:
    """Analyse the exchange around `data`, with `data` as the body shown; returns that body's analysis too.

    Args:
        data: the body as mitmproxy hands it to contentviews (Content-Encoding already removed).
        metadata: the flow and message it belongs to, when there is one.
    """
    f = metadata.flow
    message = metadata.http_message
    if isinstance(message, http.Response):
        request = f.request if isinstance(f, http.HTTPFlow) else None
        exchange = eas.analyze(
            request.method if request else "POST",
            request.url if request else "/Microsoft-Server-ActiveSync",
            header_pairs(request.headers) if request else [],
            (request.raw_content or b"") if request else b"",
            message.status_code,
            without_content_encoding(header_pairs(message.headers)),
            data,
        )
        return exchange, exchange.response_body, True
    if isinstance(message, http.Request):
        method, url, headers = message.method, message.url, header_pairs(message.headers)
    else:
        content_type = metadata.content_type or ""
        method, url = "POST", "/Microsoft-Server-ActiveSync"
        headers = [("Content-Type", content_type)] if content_type else []
    exchange = eas.analyze(method, url, without_content_encoding(headers), data)
    return exchange, exchange.request_body, False


def header_block(exchange: eas.Exchange, body: DecodedBody | None, is_response: bool) -> list[str]:
    """The comment lines above the body: what the request is, its decoded query, the headers explained."""
    lines: list[str] = []
    side = "response" if is_response else "request"
    if exchange.is_autodiscover:
        title = f"Autodiscover {side}"
    else:
        title = f"EAS {exchange.command or exchange.method} {side}"
    if exchange.protocol_version:
        title += f", protocol {exchange.protocol_version}"
    if is_response and exchange.http_status is not None:
        title += f", HTTP {exchange.http_status}"
        if exchange.http_status_meaning:
            title += f" ({exchange.http_status_meaning})"
    lines.append(comment(title))
    if not is_response and exchange.query_fields:
        form = f" ({exchange.query_form} form)" if exchange.query_form else ""
        lines.append(comment(f"query{form}:"))
        lines.extend(comment(f"  {name} = {value}") for name, value in exchange.query_fields)
    notes = exchange.response_headers if is_response else exchange.request_headers
    if notes:
        lines.append(comment(f"{side} headers:"))
        for note in notes:
            meaning = f"  ({note.meaning})" if note.meaning else ""
            lines.append(comment(f"  {note.name}: {note.shown_value}{meaning}"))
    if body is not None:
        size = f"{body.kind} body, {body.size} bytes"
        if body.content_type:
            size += f", {body.content_type}"
        lines.append(comment(size))
        lines.extend(comment(f"  {part}") for part in body.parts)
    for status in exchange.eas_statuses if is_response else ():
        meaning = f" ({status.meaning})" if status.meaning else ""
        lines.append(comment(f"status {status.path} = {status.code}{meaning}"))
    side_names = ("response" if is_response else "request", "query", "headers")
    for problem in exchange.problems:
        if any(name in problem.where for name in side_names):
            at = f" at offset {problem.offset}" if problem.offset is not None else ""
            lines.append(comment(f"{problem.severity}: {problem.where}{at}: {problem.reason}"))
    return lines


def with_header(xml: str, header: list[str]) -> str:
    """Put the header comments after any XML declaration, so the text stays well-formed XML."""
    if xml.startswith("<?xml"):
        end = xml.find("?>")
        if end != -1:
            declaration, rest = xml[: end + 2], xml[end + 2 :].lstrip("\r\n")
            return "\n".join([declaration, *header, rest])
    return "\n".join([*header, xml])


class ActiveSyncContentview(InteractiveContentview):
    """ActiveSync WBXML (and Autodiscover XML) as annotated XML that can be edited and re-encoded."""

    name = "ActiveSync"
    syntax_highlight = "xml"

    def prettify(self, data: bytes, metadata: Metadata) -> str:
        exchange, body, is_response = analyze_for_view(data, metadata)
        header = header_block(exchange, body, is_response)
        if body is None:
            return "\n".join(header)
        if body.xml is not None:
            return with_header(body.xml, header)
        if body.text is not None:
            return "\n".join([*header, body.text])
        return "\n".join(header)

    def reencode(self, prettified: str, metadata: Metadata) -> bytes:
        """Encode edited XML back to WBXML (comments are ignored); Autodiscover XML is written as XML.

        Raises:
            eas.EncodeError: the XML is not well-formed or not encodable (the message names line and reason).
            ValueError: the body is not one this view can write back (multipart, text, binary).
        """
        content_type = metadata.content_type or ""
        if content_type == MULTIPART_CONTENT_TYPE:
            raise ValueError(
                "a multipart ActiveSync body cannot be re-encoded from this view; "
                "edit it in the raw or hex view"
            )
        path = metadata.flow.request.path if isinstance(metadata.flow, http.HTTPFlow) else ""
        if content_type in XML_TYPES and path_kind(path) == "autodiscover":
            root = eas.parse_xml(prettified.encode("utf-8"))
            for node in list(root.iter(etree.Comment)):
                parent = node.getparent()
                if parent is not None:
                    parent.remove(node)
            return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))
        original = metadata.original_data
        if original and not original.startswith(WBXML_MAGIC[:2]):
            raise ValueError(
                f"this {content_type or 'untyped'} body is not WBXML; the ActiveSync view writes back only "
                "WBXML and Autodiscover XML; edit it in the raw view"
            )
        return eas.encode(prettified.encode("utf-8"))

    def render_priority(self, data: bytes, metadata: Metadata) -> float:
        if not data:
            return -1
        content_type = metadata.content_type or ""
        if content_type in EAS_TYPES:
            return PRIORITY
        path = metadata.flow.request.path if isinstance(metadata.flow, http.HTTPFlow) else ""
        kind = path_kind(path)
        if kind == "eas" and data.startswith(WBXML_MAGIC):
            return PRIORITY
        if kind == "autodiscover" and content_type in XML_TYPES:
            return PRIORITY
        return -1


activesync = ActiveSyncContentview()
