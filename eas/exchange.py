"""One analysis of a whole EAS exchange: query, headers, bodies, statuses and problems in one value."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from copy import deepcopy
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from lxml import etree

from . import bodies, sensitive, wbxml
from . import headers as hdr
from .annotate import AnnotationContext, decode_annotated
from .annotate import annotate as add_comments
from .constants import MULTIPART_CONTENT_TYPE, WBXML_CONTENT_TYPES, is_autodiscover_path, is_eas_path
from .errors import EasError
from .facts import FlowFacts, extract_facts
from .meanings.status import status_table_for
from .model import DecodedBody, Exchange, HeaderNote, Problem, StatusNote
from .multipart import parse_multipart
from .query import decode_query
from .schema import validate_request

# A device sends the same few request URIs again and again; a decoded query (frozen) is made once per URI.
_remembered_query = functools.lru_cache(maxsize=1024)(decode_query)

__all__ = ["DecodedBody", "Exchange", "HeaderNote", "Problem", "StatusNote", "analyze"]


def analyze(
    method: str,
    url: str,
    request_headers: Sequence[tuple[str, str]],
    request_body: bytes,
    response_status: int | None = None,
    response_headers: Sequence[tuple[str, str]] | None = None,
    response_body: bytes | None = None,
    *,
    annotate: bool = True,
    plain_xml: bool = True,
    header_notes: bool = True,
    request_time: float | None = None,
) -> Exchange:
    """Decode and explain one exchange; never raises on bad input (problems are collected instead).

    Args:
        method: the HTTP method (POST, OPTIONS, GET).
        url: the request URL, absolute or just path and query.
        request_headers: (name, value) pairs in order; Authorization is never shown, only its scheme and user.
        request_body: the body as sent (still Content-Encoded, if it was).
        response_status, response_headers, response_body: the response, when there is one.
        annotate: add meaning comments to the XML (DecodedBody.xml); `plain_xml` never has them.
        plain_xml: also render the XML without comments (DecodedBody.plain_xml); False leaves it None where
            the annotated XML differs from it (a caller that keeps only the annotated XML saves a render).
        header_notes: explain each header (Exchange.request_headers, response_headers); False leaves both empty
            (a caller that keeps the headers themselves, not their notes, as the capture does, saves explaining).
        request_time: when the request was sent (seconds since 1970): a bearer token's expiry is told against it.
    """
    try:
        return _analyze(
            method,
            url,
            request_headers,
            request_body,
            response_status,
            response_headers,
            response_body,
            annotate=annotate,
            plain_xml=plain_xml,
            header_notes=header_notes,
            request_time=request_time,
        )
    except Exception as err:  # last line of defence: an analysis bug must not break the proxy or the viewer
        return Exchange(
            method=str(method),
            url=str(url),
            is_eas=is_eas_path(str(url)),
            http_status=response_status if isinstance(response_status, int) else None,
            problems=(Problem("exchange", f"analysis failed: {type(err).__name__}: {err}"),),
        )


# ----------------------------------------------------------------------------------------------------------------
# The analysis. Theory of operation: headers and the query are read first (command, version, user); then each body
# is loaded (Content-Encoding removed, kind chosen, XML parsed) without annotation, so the request's collection
# classes can give the response's annotation context; then the XML is rendered plain and annotated. Every decode
# failure becomes a Problem; nothing here raises on bad bytes.

# MS-ASHTTP 2.2.1.1.1.3 Command Codes (the base64 query carries the command as a number).
_COMMAND_CODES: dict[int, str] = {
    0: "Sync", 1: "SendMail", 2: "SmartForward", 3: "SmartReply", 4: "GetAttachment", 9: "FolderSync",
    10: "FolderCreate", 11: "FolderDelete", 12: "FolderUpdate", 13: "MoveItems", 14: "GetItemEstimate",
    15: "MeetingResponse", 16: "Search", 17: "Settings", 18: "Ping", 19: "ItemOperations", 20: "Provision",
    21: "ResolveRecipients", 22: "ValidateCert", 23: "Find",
}

# Commands whose request body is a MIME message before 14.0 (MS-ASCMD 2.2.1.15, 2.2.1.17, 2.2.1.18).
_MIME_COMMANDS = frozenset({"SendMail", "SmartReply", "SmartForward"})

_TEXT_KINDS = frozenset({"text", "html", "xml", "json", "rfc822"})


@dataclass
class _Loaded:
    """A body after loading: kind chosen, XML parsed (not yet annotated), other renderings done."""

    kind: str
    content_type: str
    size: int
    root: Any = None
    xml: str | None = None
    text: str | None = None
    parts: tuple[bytes, ...] = ()
    annotated: bool = False  # the root holds its notes already (decoded and annotated in one, see _load_body)


def _text_header(value: object) -> str:
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return bytes(value).decode("latin-1")
    return str(value)


def _clean_headers(headers: Sequence[tuple[str, str]] | None) -> tuple[tuple[str, str], ...]:
    if not headers:
        return ()
    cleaned: list[tuple[str, str]] = []
    for pair in headers:
        if type(pair) is tuple and len(pair) == 2 and type(pair[0]) is str and type(pair[1]) is str:
            cleaned.append(pair)  # the usual pair of text, as _text_header would give it again
            continue
        try:
            name, value = pair
        except (TypeError, ValueError):
            continue
        cleaned.append((_text_header(name), _text_header(value)))
    return tuple(cleaned)


def _dedupe(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


def _localname(element: Any) -> str | None:
    tag = element.tag
    if not isinstance(tag, str):
        return None
    return tag.rsplit("}", 1)[-1]


def _namespace(element: Any) -> str:
    tag = element.tag
    if isinstance(tag, str) and tag.startswith("{"):
        return str(tag[1:].split("}", 1)[0])
    return ""


def _named(root: Any, name: str) -> Any:
    """The elements (root included) whose local name is `name`, in any namespace or none, in document order.

    lxml filters by tag in C, without a Python step per element.
    """
    return root.iter("{*}" + name)


def _leaf_texts(root: Any, name: str) -> list[str]:
    return [text for text in ((el.text or "").strip() for el in _named(root, name)) if text]


def _path(element: Any) -> str:
    names = [_localname(element) or "?"]
    for ancestor in element.iterancestors():
        names.append(_localname(ancestor) or "?")
    return "/".join(reversed(names))


# Characters XML 1.0 does not allow (lxml refuses them in comments): C0 controls but tab/LF/CR, surrogates, U+FFFE/F.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _comment_text(text: str) -> str:
    safe = _NOT_XML.sub("\ufffd", text).replace("--", "- -")
    return f" {safe.rstrip('-')} "


def _query_value(query: Any, name: str) -> str | None:
    if name == "locale_shown":
        locale = getattr(query, "locale", None)
        if locale is None:
            return None
        tag = getattr(query, "locale_tag", None)
        return f"0x{locale:04X} ({tag})" if isinstance(locale, int) and tag else str(locale)
    value = getattr(query, name, None)
    if value is None or value == "":
        return None
    return str(value)


def _query_fields(query: Any) -> tuple[tuple[str, str], ...]:
    fields: list[tuple[str, str]] = []
    for label, attribute in (
        ("Cmd", "command"),
        ("User", "user"),
        ("DeviceId", "device_id"),
        ("DeviceType", "device_type"),
        ("ProtocolVersion", "protocol_version"),
        ("Locale", "locale_shown"),
        ("PolicyKey", "policy_key"),
    ):
        value = _query_value(query, attribute)
        if value is not None:
            fields.append((label, value))
    parameters = getattr(query, "parameters", ()) or ()
    for pair in parameters:
        try:
            name, value = pair
        except (TypeError, ValueError):
            continue
        fields.append((str(name), sensitive.HIDDEN if sensitive.is_secret_parameter(str(name)) else str(value)))
    options = getattr(query, "options", None)
    if options:
        fields.append(("Options", ",".join(sorted(str(o) for o in options))))
    return tuple(fields)


def _command_name(value: str | None) -> str | None:
    if value is None:
        return None
    if value.isdigit():
        return _COMMAND_CODES.get(int(value), f"command {value}")
    return value


def _decode_wbxml(data: bytes, where: str, problems: list[Problem]) -> Any:

    try:
        return wbxml.decode(data)
    except EasError as err:
        problems.append(Problem(where, err.reason, err.offset))
    except NotImplementedError:
        problems.append(Problem(where, "the WBXML decoder is not available"))
    except Exception as err:  # a decoder bug must not stop the rest of the analysis
        problems.append(Problem(where, f"WBXML decoder failed: {type(err).__name__}: {err}"))
    return None


@dataclass(frozen=True)
class _Annotation:
    """How to annotate a body while decoding it: the context the decoder's notes follow, and the function that
    makes the whole context from the decoded root (the collection's class comes from the body too)."""

    context: Any  # AnnotationContext
    complete: Callable[[Any], Any]


def _decode_annotated_wbxml(data: bytes, where: str, problems: list[Problem], annotation: _Annotation) -> Any:
    """The decoded root with its notes (eas.decode_annotated), or the plain root when annotating fails."""

    try:
        return decode_annotated(data, annotation.context, complete=annotation.complete), True
    except EasError as err:  # the decoder's own error, as the plain decode gives it
        problems.append(Problem(where, err.reason, err.offset))
        return None, False
    except Exception as err:  # annotation is a nicety; the plain XML still shows
        problems.append(Problem(where, f"annotation failed: {type(err).__name__}: {err}", None, "warning"))
    return _decode_wbxml(data, where, problems), False


def _load_text_kind(kind: str, data: bytes, content_type: str, where: str, problems: list[Problem]) -> _Loaded:
    """Text-like bodies (text, html, xml, json, rfc822): a readable rendering, XML and JSON pretty when they parse."""

    loaded = _Loaded(kind=kind, content_type=content_type, size=len(data))
    if kind == "xml":
        try:
            loaded.root = etree.fromstring(
                data, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
            )
            return loaded
        except etree.XMLSyntaxError as err:
            problems.append(Problem(where, f"XML is not well-formed: {err}", None, "warning"))
            loaded.kind = "text"
    elif kind == "json":
        try:
            loaded.text = bodies.render_json(data)
            return loaded
        except ValueError as err:
            problems.append(Problem(where, f"JSON does not parse: {err}", None, "warning"))
            loaded.kind = "text"
    elif kind == "rfc822":
        try:
            loaded.text = bodies.render_rfc822(data)
            return loaded
        except Exception as err:  # the email package is lenient; guard anyway
            problems.append(Problem(where, f"MIME message does not parse: {err}", None, "warning"))
            loaded.kind = "text"
    loaded.text = bodies.render_text(data, content_type)
    return loaded


def _load_body(
    data: bytes | None,
    headers: tuple[tuple[str, str], ...],
    *,
    where: str,
    is_response: bool,
    command: str | None,
    is_autodiscover: bool,
    problems: list[Problem],
    multipart_asked: bool = False,
    annotation: _Annotation | None = None,
) -> _Loaded | None:

    if data is None:
        return None
    content_type = hdr.header_value(headers, "Content-Type") or ""
    media = bodies.media_type(content_type)
    encoding = hdr.header_value(headers, "Content-Encoding")
    if data and encoding:
        try:
            data = bodies.decode_content_encoding(bytes(data), encoding)
        except EasError as err:
            problems.append(Problem(where, err.reason, err.offset))
            return _Loaded(
                kind="binary",
                content_type=content_type,
                size=len(data),
                text=f"still {encoding}-encoded, {len(data)} bytes\n{bodies.hex_preview(data)}",
            )
    data = bytes(data)
    if not data:
        return _Loaded(kind="empty", content_type=content_type, size=0)
    sniffed = bodies.sniff(data)

    if media == MULTIPART_CONTENT_TYPE or (
        multipart_asked and media in ("", "application/octet-stream") and _looks_multipart(data)
    ):
        try:
            parts = parse_multipart(data)
        except EasError as err:
            problems.append(Problem(where, f"multipart: {err.reason}", err.offset))
            return _Loaded(kind="binary", content_type=content_type, size=len(data), text=bodies.hex_preview(data))
        root = _decode_wbxml(parts[0], where, problems) if parts[0] else None
        return _Loaded(kind="multipart", content_type=content_type, size=len(data), root=root, parts=tuple(parts))

    if media == "message/rfc822" or (
        not is_response and command in _MIME_COMMANDS and sniffed == "rfc822" and media not in WBXML_CONTENT_TYPES
    ):
        return _load_text_kind("rfc822", data, content_type, where, problems)

    if is_autodiscover and sniffed in _TEXT_KINDS:
        kind = sniffed if sniffed in ("xml", "json", "html") else ("json" if "json" in media else "text")
        return _load_text_kind(kind, data, content_type, where, problems)

    if media in WBXML_CONTENT_TYPES or (not media and sniffed == "wbxml"):
        if sniffed in _TEXT_KINDS:
            # Real servers answer errors as text under the WBXML type (SOGo's 500): one problem, shown as text.
            problems.append(Problem(where, "body is text, not WBXML", 0, "warning"))
            kind = "html" if sniffed == "html" else "text"
            return _load_text_kind(kind, data, content_type, where, problems)
        annotated = False
        if annotation is None:
            root = _decode_wbxml(data, where, problems)
        else:
            root, annotated = _decode_annotated_wbxml(data, where, problems, annotation)
        if root is None:
            return _Loaded(kind="wbxml", content_type=content_type, size=len(data), text=bodies.hex_preview(data, 256))
        return _Loaded(kind="wbxml", content_type=content_type, size=len(data), root=root, annotated=annotated)

    if sniffed in _TEXT_KINDS and (not media or media.startswith("text/") or media.endswith(("xml", "json"))):
        kind = sniffed
        if media == "text/plain" and sniffed in ("xml", "json", "rfc822"):
            kind = "text"
        return _load_text_kind(kind, data, content_type, where, problems)

    # Anything else (GetAttachment's raw attachment, images, octet streams): described, not decoded.
    label = media or "no Content-Type"
    return _Loaded(
        kind="binary",
        content_type=content_type,
        size=len(data),
        text=f"{label}: {bodies.describe_bytes(data)}\n{bodies.hex_preview(data)}",
    )


def _multipart_asked(headers: tuple[tuple[str, str], ...], query: Any) -> bool:
    """The request asked for a multipart answer (MS-ASAcceptMultiPart: T, or the base64 query's option bit)."""

    value = hdr.header_value(headers, "MS-ASAcceptMultiPart")
    if value is not None and value.strip().upper() == "T":
        return True
    return "AcceptMultiPart" in (getattr(query, "options", None) or ())


def _looks_multipart(data: bytes) -> bool:
    """A body without a useful Content-Type that parses as a part table whose part 0 is WBXML."""

    try:
        parts = parse_multipart(data)
    except EasError:
        return False
    return bodies.looks_like_wbxml(parts[0])


def _link_parts(root: Any, parts: tuple[bytes, ...], where: str, problems: list[Problem]) -> list[str]:
    """Comment each ItemOperations <Part> with what its part holds; return one description per part."""

    descriptions = [f"part 0: WBXML response, {len(parts[0])} bytes"] if parts else []
    descriptions += [f"part {index}: {bodies.describe_bytes(part)}" for index, part in enumerate(parts) if index]
    if root is None:
        return descriptions
    for element in list(_named(root, "Part")):  # a list: comments are added while going through
        if "itemoperations" not in _namespace(element).lower():
            continue
        text = (element.text or "").strip()
        if not text.isdigit() or not 0 < int(text) < len(parts):
            problems.append(
                Problem(where, f"<Part>{text}</Part> names no part (the body has {len(parts)} parts)", None, "warning")
            )
            continue
        element.addnext(etree.Comment(_comment_text(descriptions[int(text)])))
    return descriptions


# Namespaces of item data (MS-ASWBXML class pages): a Status there is a field of the item (the Email Flag's
# Status, a Task's), not the outcome of a command.
_ITEM_NAMESPACES = frozenset(
    {"email", "email2", "calendar", "contacts", "contacts2", "tasks", "notes", "poommail", "poommail2",
     "poomcal", "poomcontacts", "poomcontacts2", "poomtasks", "rightsmanagement"}
)
_ITEM_CONTAINERS = frozenset({"ApplicationData", "Properties"})
# A Status under these, inside item data, is the outcome of returning that part: a body part (MS-ASAIRS
# 2.2.2.37) or a contact photo (MS-ASCMD 2.2.3.177.13).
_PART_STATUS_PARENTS = frozenset({"BodyPart", "Picture"})


def _is_item_data(element: Any) -> bool:
    parent = element.getparent()
    if parent is not None and _localname(parent) in _PART_STATUS_PARENTS:
        return False
    if _namespace(element).rstrip(":").lower() in _ITEM_NAMESPACES:
        return True
    return any(_localname(ancestor) in _ITEM_CONTAINERS for ancestor in element.iterancestors())


def _statuses(root: Any, command: str | None) -> list[StatusNote]:

    found: list[tuple[int, StatusNote]] = []
    for element in _named(root, "Status"):
        if _is_item_data(element):
            continue
        text = (element.text or "").strip()
        if not text.lstrip("-").isdigit():
            continue
        code = int(text)
        path = _path(element)
        meaning = status_table_for(command, path).meaning(code)  # as eas.verdicts and eas.annotate read it
        found.append((path.count("/"), StatusNote(path=path, code=code, meaning=meaning)))
    found.sort(key=lambda item: item[0])  # top-level status first; sort is stable
    return [note for _, note in found]


def _render(root: Any) -> str:

    try:
        return str(wbxml.to_xml(root, pretty=True))
    except Exception:  # codec not available yet, or a bug in it: lxml's own rendering still shows the tree
        copy = deepcopy(root)
        etree.indent(copy, space="  ")
        return str(etree.tostring(copy, encoding="unicode"))


def _finish(
    loaded: _Loaded | None,
    *,
    where: str,
    command: str | None,
    is_response: bool,
    protocol_version: str | None,
    collection_class: str | None,
    annotate_on: bool,
    plain_on: bool = True,
    problems: list[Problem],
) -> DecodedBody | None:
    if loaded is None:
        return None
    parts_text: tuple[str, ...] = ()
    xml = plain = None
    root_tag = None
    if loaded.root is not None:
        root = loaded.root
        root_tag = _localname(root)
        is_eas_xml = loaded.kind in ("wbxml", "multipart")
        if not plain_on and annotate_on and is_eas_xml:
            annotated_root = root  # nothing else reads the tree after this: annotate it in place
        else:
            plain = _render(root) if is_eas_xml else str(etree.tostring(_indented(root), encoding="unicode"))
            annotated_root = deepcopy(root)
        if loaded.kind == "multipart":
            parts_text = tuple(_link_parts(annotated_root, loaded.parts, where, problems))
        if annotate_on and is_eas_xml and not loaded.annotated:

            context = AnnotationContext(
                command=command,
                is_response=is_response,
                protocol_version=protocol_version,
                collection_class=collection_class,
            )
            try:
                annotated_root = add_comments(annotated_root, context)
            except Exception as err:  # annotation is a nicety; the plain XML still shows
                problems.append(Problem(where, f"annotation failed: {type(err).__name__}: {err}", None, "warning"))
        if annotate_on or loaded.kind == "multipart":
            xml = _render(annotated_root) if is_eas_xml else plain
        else:
            xml = plain
    elif loaded.kind == "multipart":
        parts_text = tuple(_link_parts(None, loaded.parts, where, problems))
    text = loaded.text
    if loaded.kind == "multipart" and parts_text:
        text = "\n".join(parts_text)
    return DecodedBody(
        kind=loaded.kind,
        content_type=loaded.content_type,
        xml=xml,
        plain_xml=plain,
        text=text,
        root_tag=root_tag,
        size=loaded.size,
        parts=parts_text,
    )


def _indented(root: Any) -> Any:
    copy = deepcopy(root)
    etree.indent(copy, space="  ")
    return copy


def _response_annotation(command: str | None, protocol_version: str | None, request_root: Any) -> _Annotation:

    request_classes = _leaf_texts(request_root, "Class") if request_root is not None else []

    def complete(root: Any) -> AnnotationContext:
        classes = request_classes + _leaf_texts(root, "Class")
        return AnnotationContext(
            command=command,
            is_response=True,
            protocol_version=protocol_version,
            collection_class=classes[0] if len(set(classes)) == 1 else None,
        )

    context = AnnotationContext(command=command, is_response=True, protocol_version=protocol_version)
    return _Annotation(context, complete)


def _facts(
    method: str,
    command: str | None,
    protocol_version: str | None,
    policy_key: str | None,
    response_status: int | None,
    statuses: list[StatusNote],
    req_headers: tuple[tuple[str, str], ...],
    resp_headers: tuple[tuple[str, str], ...],
    req_loaded: _Loaded | None,
    resp_loaded: _Loaded | None,
    problems: list[Problem],
) -> FlowFacts | None:
    """The diagnosis facts (eas.facts), read from the trees before annotation adds to them."""
    try:
        return extract_facts(
            command=command,
            method=method,
            protocol_version=protocol_version,
            policy_key=policy_key,
            http_status=response_status,
            statuses=((note.path, note.code) for note in statuses),
            request_headers=req_headers,
            response_headers=resp_headers,
            request_root=req_loaded.root if req_loaded is not None else None,
            response_root=resp_loaded.root if resp_loaded is not None else None,
            request_size=req_loaded.size if req_loaded is not None else None,
            response_size=resp_loaded.size if resp_loaded is not None else None,
        )
    except Exception as err:  # a facts bug leaves the diagnosis without this flow, not the analysis without XML
        problems.append(Problem("exchange", f"diagnosis facts failed: {type(err).__name__}: {err}", None, "warning"))
        return None


def _analyze(
    method: str,
    url: str,
    request_headers: Sequence[tuple[str, str]],
    request_body: bytes,
    response_status: int | None,
    response_headers: Sequence[tuple[str, str]] | None,
    response_body: bytes | None,
    *,
    annotate: bool,
    plain_xml: bool = True,
    header_notes: bool = True,
    request_time: float | None = None,
) -> Exchange:

    method = _text_header(method).upper()
    url = _text_header(url)
    problems: list[Problem] = []
    req_headers = _clean_headers(request_headers)
    resp_headers = _clean_headers(response_headers)

    try:
        split = urlsplit(url)
        path, query_text = split.path, split.query
    except ValueError:
        path, _, query_text = url.partition("?")
    is_eas = is_eas_path(path)
    is_autodiscover = is_autodiscover_path(path)

    query: Any = None
    if is_eas and query_text:

        try:
            query = _remembered_query(query_text)
        except EasError as err:
            problems.append(Problem("query", str(err), err.offset))
        except NotImplementedError:
            problems.append(Problem("query", "the query decoder is not available"))
        except Exception as err:  # a decoder bug: report it, keep going
            problems.append(Problem("query", f"query decoder failed: {type(err).__name__}: {err}"))

    if method == "OPTIONS":
        command: str | None = "Options"
    elif query is not None and _query_value(query, "command"):
        command = _command_name(_query_value(query, "command"))
    elif is_autodiscover:
        command = "Autodiscover"
    else:
        command = None

    protocol_version = hdr.header_value(req_headers, "MS-ASProtocolVersion")
    protocol_version = protocol_version.strip() if protocol_version else None
    if not protocol_version and query is not None:
        protocol_version = _query_value(query, "protocol_version")
    policy_key = hdr.header_value(req_headers, "X-MS-PolicyKey")
    policy_key = policy_key.strip() if policy_key else None
    if not policy_key and query is not None:
        policy_key = _query_value(query, "policy_key")
    user = _query_value(query, "user") if query is not None else None
    if not user:
        # No User in the query (16.x clients, OAuth): the credentials name the user (Basic user, a bearer token's
        # upn / unique_name claim, an NTLM type 3 message's user).
        authorization = hdr.header_value(req_headers, "Authorization")
        user = hdr.credential_user(authorization) if authorization else None

    req_loaded = _load_body(
        request_body if request_body is not None else b"",
        req_headers,
        where="request body",
        is_response=False,
        command=command,
        is_autodiscover=is_autodiscover,
        problems=problems,
    )
    req_root = req_loaded.root if req_loaded is not None and req_loaded.kind in ("wbxml", "multipart") else None
    if req_root is not None:
        root_name = _localname(req_root)
        if command is None:
            command = root_name
        elif root_name and root_name != command and command not in ("Options", "Autodiscover"):
            # MS-ASHTTP 4.1: the command of the query is the top element of the request body.
            reason = f"root element <{root_name}> does not match the command {command}"
            problems.append(Problem("request body", reason, 0, "warning"))

    annotation = None
    if annotate and not plain_xml:
        # Only the annotated XML is wanted: the response is decoded and annotated in one (eas.decode_annotated),
        # with the context _finish would give it (the collection's class from both bodies).
        annotation = _response_annotation(command, protocol_version, req_root)
    resp_loaded = None
    if response_status is not None or response_body is not None:
        resp_loaded = _load_body(
            response_body if response_body is not None else b"",
            resp_headers,
            where="response body",
            is_response=True,
            command=command,
            is_autodiscover=is_autodiscover,
            problems=problems,
            multipart_asked=_multipart_asked(req_headers, query),
            annotation=annotation,
        )
    resp_root = resp_loaded.root if resp_loaded is not None and resp_loaded.kind in ("wbxml", "multipart") else None

    collection_ids: list[str] = []
    classes: list[str] = []
    sync_keys: list[str] = []
    if query is not None:
        for name, value in getattr(query, "parameters", ()) or ():
            if str(name) == "CollectionId":
                collection_ids.append(str(value))
    for root in (req_root, resp_root):
        if root is None:
            continue
        collection_ids += _leaf_texts(root, "CollectionId")
        for element in _named(root, "Id"):
            parent = element.getparent()
            if parent is not None and _localname(parent) == "Folder":
                collection_ids.append((element.text or "").strip())
        classes += _leaf_texts(root, "Class")
        sync_keys += _leaf_texts(root, "SyncKey")
    collection_class = classes[0] if len(set(classes)) == 1 else None

    statuses = _statuses(resp_root, command) if resp_root is not None else []
    facts = _facts(method, command, protocol_version, policy_key, response_status, statuses, req_headers,
                   resp_headers, req_loaded, resp_loaded, problems)

    if req_root is not None and is_eas:

        try:
            for message in validate_request(req_root, protocol_version):
                reason = f"schema: {message}"
                problems.append(Problem("request body", reason, None, "warning"))
        except Exception as err:  # a schema loading bug is a warning, not a failed analysis
            reason = f"schema check failed: {type(err).__name__}: {err}"
            problems.append(Problem("request body", reason, None, "warning"))

    request_decoded = _finish(
        req_loaded,
        where="request body",
        command=command,
        is_response=False,
        protocol_version=protocol_version,
        collection_class=collection_class,
        annotate_on=annotate,
        plain_on=plain_xml,
        problems=problems,
    )
    response_decoded = _finish(
        resp_loaded,
        where="response body",
        command=command,
        is_response=True,
        protocol_version=protocol_version,
        collection_class=collection_class,
        annotate_on=annotate,
        plain_on=plain_xml,
        problems=problems,
    )

    http_status_meaning = None
    if response_status is not None:
        http_status_meaning = hdr.explain_http_status(response_status, resp_headers)
    location = hdr.header_value(resp_headers, "X-MS-Location")

    return Exchange(
        method=method,
        url=sensitive.redact_url(url),
        is_eas=is_eas,
        is_autodiscover=is_autodiscover,
        command=command,
        user=user,
        device_id=_query_value(query, "device_id") if query is not None else None,
        device_type=_query_value(query, "device_type") if query is not None else None,
        protocol_version=protocol_version,
        policy_key=policy_key,
        query_form=_query_value(query, "form") if query is not None else None,
        query_fields=_query_fields(query) if query is not None else (),
        request_headers=(
            tuple(hdr.explain_headers(req_headers, response=False, request_time=request_time)) if header_notes else ()
        ),
        response_headers=tuple(hdr.explain_headers(resp_headers, response=True)) if header_notes else (),
        http_status=response_status,
        http_status_meaning=http_status_meaning,
        collection_ids=_dedupe(collection_ids),
        collection_classes=_dedupe(classes),
        sync_keys=_dedupe(sync_keys),
        eas_statuses=tuple(statuses),
        request_body=request_decoded,
        response_body=response_decoded,
        problems=tuple(problems),
        # Servers repeat these headers on every answer; they are the point of OPTIONS only (MS-ASHTTP 2.2.3).
        offered_versions=hdr.offered_versions(resp_headers) if method == "OPTIONS" else (),
        offered_commands=hdr.offered_commands(resp_headers) if method == "OPTIONS" else (),
        redirect_location=location.strip() if location else None,
        facts=facts,
    )
