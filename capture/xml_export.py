"""The annotated XML export: one document with the decoded request and response of each flow, annotations kept."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from lxml import etree

from eas.exchange import DecodedBody
from eas.wiretext import shown

from capture.model import FlowRecord

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
