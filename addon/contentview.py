"""The `ActiveSync` contentviews: header meanings and a base64 query as XML comments, then the annotated XML."""

from __future__ import annotations

import os
import tempfile

from lxml import etree
from mitmproxy import exceptions, http
from mitmproxy.contentviews import Contentview, InteractiveContentview, Metadata

import eas
from eas.constants import MULTIPART_CONTENT_TYPE, WBXML_CONTENT_TYPES, path_kind
from eas.exchange import DecodedBody, HeaderNote
from eas.sensitive import restore_hidden_secrets

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
    request_time = f.request.timestamp_start if isinstance(f, http.HTTPFlow) else None
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
            request_time=request_time,
        )
        return exchange, exchange.response_body, True
    if isinstance(message, http.Request):
        method, url, headers = message.method, message.url, header_pairs(message.headers)
    else:
        content_type = metadata.content_type or ""
        method, url = "POST", "/Microsoft-Server-ActiveSync"
        headers = [("Content-Type", content_type)] if content_type else []
    exchange = eas.analyze(method, url, without_content_encoding(headers), data, request_time=request_time)
    return exchange, exchange.request_body, False


# Folded comment lines stay about this wide, so the XML starts a few lines down at any terminal size.
FOLD_WIDTH = 110


def folded(label: str, items: list[str]) -> list[str]:
    """`label: a; b; c` folded into comment lines of about FOLD_WIDTH characters."""
    lines: list[str] = []
    line = f"{label}:"
    for item in items:
        if len(line) + len(item) + 2 > FOLD_WIDTH and line != f"{label}:":
            lines.append(comment(line + ";"))
            line = " "
        line += f" {item}" if line.endswith(":") or line == " " else f"; {item}"
    lines.append(comment(line))
    return lines


# Credentials mitmproxy lists as sent (base64, a JWT): what they hold without the secret (the user; a token's
# claims and its expiry against this request) is told with the scheme's meaning.
DECODED_HEADERS = frozenset({"authorization", "proxy-authorization"})


def header_explanation(note: HeaderNote) -> str | None:
    """What the header block says of one header: its meaning; for credentials, their decoded form first."""
    if note.name.lower() in DECODED_HEADERS and note.shown_value:
        return f"{note.shown_value}; {note.meaning}" if note.meaning else note.shown_value
    return note.meaning


def header_block(exchange: eas.Exchange, body: DecodedBody | None, is_response: bool) -> list[str]:
    """The comment lines above the body: only what mitmproxy does not show already.

    That is the command and protocol, the meaning of the HTTP status, a base64 query decoded (a plain query is
    in the URL), the meanings of the EAS headers (not their values, which mitmproxy lists; credentials decoded),
    multipart parts, EAS statuses and problems.
    """
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
    if not is_response and exchange.query_fields and exchange.query_form == "base64":
        lines.extend(folded("base64 query", [f"{name}={value}" for name, value in exchange.query_fields]))
    notes = exchange.response_headers if is_response else exchange.request_headers
    meanings = [f"{note.name}: {explanation}" for note in notes if (explanation := header_explanation(note))]
    if meanings:
        lines.extend(folded("headers", meanings))
    if body is not None and body.parts:
        lines.append(comment(f"{body.kind} body, {len(body.parts)} parts:"))
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


class EditRejected(exceptions.CommandError, ValueError):
    """An edit the view cannot write back; mitmproxy's console shows a CommandError as one line in its log."""


def keep_rejected_edit(text: str) -> str:
    """Save the text of a rejected edit in a private temporary file, so the edit is not lost; returns its path."""
    fd, name = tempfile.mkstemp(prefix="eas-edit-", suffix=".xml")  # mode 0600: an edit may hold mail
    with os.fdopen(fd, "w", encoding="utf-8") as kept:
        kept.write(text)
    return name


def editable(data: bytes, metadata: Metadata) -> bool | None:
    """Whether the ActiveSync view can write this body back (True), only show it (False), or is not for it (None).

    It writes back WBXML and Autodiscover XML; multipart bodies and text or binary sent under an EAS content
    type are shown only.
    """
    if not data:
        return None
    content_type = metadata.content_type or ""
    path = metadata.flow.request.path if isinstance(metadata.flow, http.HTTPFlow) else ""
    kind = path_kind(path)
    is_wbxml = data.startswith(WBXML_MAGIC[:2])
    if content_type in EAS_TYPES:
        return content_type != MULTIPART_CONTENT_TYPE and is_wbxml
    if kind == "eas" and data.startswith(WBXML_MAGIC):
        return True
    if kind == "autodiscover" and content_type in XML_TYPES:
        return True
    return None


class ActiveSyncContentview(InteractiveContentview):
    """ActiveSync WBXML (and Autodiscover XML) as annotated XML that can be edited and re-encoded."""

    name = "ActiveSync"
    syntax_highlight = "xml"

    def prettify(self, data: bytes, metadata: Metadata) -> str:
        return annotated_text(data, metadata)

    def reencode(self, prettified: str, metadata: Metadata) -> bytes:
        """Encode edited XML back to WBXML (comments are ignored); Autodiscover XML is written as XML.

        Raises:
            EditRejected: the XML is not well-formed or not encodable, or the body is not one this view can write
                back (multipart, text, binary); the one-line message names the reason and the file that keeps
                the edited text.
        """
        try:
            return encode_edit(prettified, metadata)
        except ValueError as err:
            kept = keep_rejected_edit(prettified)
            reason = " ".join(str(err).split())
            raise EditRejected(f"ActiveSync edit not applied, body unchanged: {reason} (your text: {kept})") from err

    def render_priority(self, data: bytes, metadata: Metadata) -> float:
        return PRIORITY if editable(data, metadata) else -1


class ActiveSyncShownContentview(Contentview):
    """ActiveSync bodies the view cannot write back (multipart, text under an EAS type): shown, never edited.

    A separate view, so mitmproxy's console does not offer the ActiveSync editor for them.
    """

    name = "ActiveSync (read-only)"
    syntax_highlight = "xml"

    def prettify(self, data: bytes, metadata: Metadata) -> str:
        return annotated_text(data, metadata)

    def render_priority(self, data: bytes, metadata: Metadata) -> float:
        return PRIORITY if editable(data, metadata) is False else -1


def annotated_text(data: bytes, metadata: Metadata) -> str:
    """The header comments, then the body as annotated XML (or its text)."""
    exchange, body, is_response = analyze_for_view(data, metadata)
    header = header_block(exchange, body, is_response)
    if body is None:
        return "\n".join(header)
    if body.xml is not None:
        return with_header(body.xml, header)
    if body.text is not None:
        return "\n".join([*header, body.text])
    return "\n".join(header)


def encode_edit(prettified: str, metadata: Metadata) -> bytes:
    """The body bytes for edited XML: WBXML, or XML for Autodiscover. A password left as the view shows it
    ("(hidden) N characters") is sent as it was in the original body (eas.sensitive.restore_hidden_secrets).

    Raises:
        eas.EncodeError: the XML is not well-formed or not encodable, or a password placeholder maps to no single
            original value (the message names line and reason).
        ValueError: the body is not one the view can write back (multipart, text, binary).
    """
    content_type = metadata.content_type or ""
    if content_type == MULTIPART_CONTENT_TYPE:
        raise ValueError(
            "a multipart ActiveSync body cannot be re-encoded from this view; edit it in the raw or hex view"
        )
    path = metadata.flow.request.path if isinstance(metadata.flow, http.HTTPFlow) else ""
    if content_type in XML_TYPES and path_kind(path) == "autodiscover":
        root = eas.parse_xml(prettified.encode("utf-8"))
        for node in list(root.iter(etree.Comment)):
            parent = node.getparent()
            if parent is not None:
                parent.remove(node)
        return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))
    original = original_body(metadata)
    if original and not original.startswith(WBXML_MAGIC[:2]):
        raise ValueError(
            f"this {content_type or 'untyped'} body is not WBXML; the ActiveSync view writes back only "
            "WBXML and Autodiscover XML; edit it in the raw view"
        )
    root = eas.parse_xml(prettified.encode("utf-8"))
    restore_hidden_secrets(root, original)  # the view shows passwords as "(hidden) N characters"
    return eas.encode(root)


def original_body(metadata: Metadata) -> bytes | None:
    """The body the edited text was made from: mitmweb's edit guard passes it as original_data; mitmproxy's own
    reencode_message does not, but then the message still holds it (its content is replaced after)."""
    if metadata.original_data is not None:
        return metadata.original_data
    message = metadata.http_message
    return message.get_content(strict=False) if message is not None else None


activesync = ActiveSyncContentview()
