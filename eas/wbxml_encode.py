"""XML (a tree or text) to WBXML: canonical tokens, and the bytes the round-trip markers describe."""

from __future__ import annotations

import base64
import binascii
import re
import threading
from collections.abc import Iterator, Sequence
from typing import Final

from lxml import etree

from .codepages import ENCODER_TOKENS, PAGE_BY_NAMESPACE
from .errors import EasError, EncodeError, MalformedError
from .wbxml_common import (
    ATTRS_FLAG, CODECS, CONTENT_FLAG, DEFAULT_PUBLICID, DEFAULT_VERSION, LITERAL, LITERAL_C,
    MARKER_CLARK_PREFIX, MAX_DEPTH, PI, SWITCH_PAGE, StringTable, UTF8, encode_mb_u_int32, skip_attr_list,
)

__all__ = ["encode", "parse_xml"]

# Theory of operation (the XML's markers and placeholders are described in eas.wbxml)
# Encoding. XML without markers encodes canonically: SWITCH_PAGE only when the page changes, the content
# flag only when there is content, STR_I for text; for tags in page.opaque_tags the text is sent as an
# OPAQUE of its UTF-8 bytes (ComposeMail Mime written as text does what one expects); binary OPAQUE data
# needs wbxml:opaque="base64". Namespaces resolve through PAGE_BY_NAMESPACE, so the spellings of older
# specs (`AirSync:`, `POOMMAIL:`) work. Whitespace-only text in an element that has child nodes is layout
# and ignored; text of an element without child nodes is kept verbatim. Comments and processing
# instructions of the XML are ignored. The walk is iterative over a precomputed Clark-name table.

_XML_DECLARATION: Final = re.compile(r"^\s*<\?xml[^>]*\?>")
_PLACEHOLDER_TAG: Final = re.compile(r"tag-([0-9A-Fa-f]{2})-([0-9A-Fa-f]{2})")

_local = threading.local()

# The largest XML document parse_xml takes. libxml2's own limits (10 MB per text node, depth 256) would refuse
# the decoded form of an ordinary large OPAQUE body (an 8 MB attachment is about 11 MB of base64), so the parser
# runs with huge_tree and this explicit bound instead; entities, DTDs and the network stay off whatever the size.
MAX_XML_SIZE: Final = 64 * 1024 * 1024


def _safe_parser() -> etree.XMLParser:
    parser: etree.XMLParser | None = getattr(_local, "safe_parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=True
        )
        _local.safe_parser = parser
    return parser


def parse_xml(text: str | bytes) -> etree._Element:
    """Parse XML written by hand or by `to_xml` with a parser that resolves no entity and fetches nothing.

    Raises:
        EncodeError: malformed XML (with the line of the problem).
    """
    if len(text) > MAX_XML_SIZE:
        raise EncodeError(f"XML of {len(text)} characters is larger than the {MAX_XML_SIZE} the encoder takes")
    try:
        if isinstance(text, str):
            text = _XML_DECLARATION.sub("", text, count=1)
        root = etree.fromstring(text, _safe_parser())
    except etree.XMLSyntaxError as err:
        lineno: object = getattr(err, "lineno", None)
        raise EncodeError(f"malformed XML: {err.msg}", line=lineno if isinstance(lineno, int) else None) from err
    except ValueError as err:
        raise EncodeError(f"malformed XML: {err}") from err
    if root is None:
        raise EncodeError("malformed XML: no root element")
    return root


# Clark name -> (page, empty-tag bytes, content-tag bytes, is opaque tag), for every namespace spelling and every
# tag spelling (codepages.TAG_ALIASES).
_Info = tuple[int, bytes, bytes, bool]
_TAG_INFO: Final[dict[str, _Info]] = {
    "{" + namespace + "}" + name: (
        page.number, bytes((token,)), bytes((token | CONTENT_FLAG,)), page.tags[token] in page.opaque_tags
    )
    for namespace, page in PAGE_BY_NAMESPACE.items()
    for name, token in ENCODER_TOKENS[page.number].items()
}
_SWITCH: Final = [bytes((SWITCH_PAGE, p)) for p in range(256)]
_ROOT_MARKERS: Final = {"version", "publicid", "charset", "strtbl", "header", "prolog", "trailer"}
_ELEMENT_MARKERS: Final = {
    "switch", "end-switch", "content", "token", "attrs", "opaque", "text", "pieces", "length-bytes"
}


def _tag(node: etree._Element) -> object:
    """A node's tag: a str for elements, a factory function for comments, PIs and entities.

    lxml-stubs type every tag as str; read through getattr, the compiled module checks nothing here.
    """
    return getattr(node, "tag")


def _fail(el: etree._Element, reason: str) -> EncodeError:
    node_tag = _tag(el)
    tag = node_tag if isinstance(node_tag, str) else None
    line: object = el.sourceline
    return EncodeError(reason, element=tag, line=line if isinstance(line, int) else None)


def _b64decode(el: etree._Element, text: str | None) -> bytes:
    try:
        return base64.b64decode("".join((text or "").split()), validate=True)
    except (binascii.Error, ValueError) as err:
        raise _fail(el, f"invalid base64: {err}") from err


def _pages(el: etree._Element, value: str) -> list[int]:
    try:
        pages = [int(p, 0) for p in value.split()]
    except ValueError as err:
        raise _fail(el, f"bad page list {value!r}") from err
    if any(not 0 <= p <= 255 for p in pages):
        raise _fail(el, f"page out of range in {value!r}")
    return pages


def _int_attr(el: etree._Element, name: str, value: str | None, limit: int = 0xFFFFFFFF) -> int:
    try:
        number = int(value or "", 0)
    except ValueError as err:
        raise _fail(el, f"{name}={value!r} is not a number") from err
    if not 0 <= number <= limit:
        raise _fail(el, f"{name}={value!r} out of range")
    return number


def _encode_text(el: etree._Element, text: str, codec: str) -> bytes:
    try:
        return text.encode(codec)
    except UnicodeEncodeError as err:
        raise _fail(el, f"text cannot be written in the document's charset {codec}") from err


class _Encoder:
    """State of one encode call (slow paths; the common path is inlined in `encode`)."""

    def __init__(self, out: bytearray, codec: str, strtbl: bytes) -> None:
        self.out = out
        self.codec = codec
        self.strtbl = strtbl
        self.string_table = StringTable(strtbl, 1 << 62)

    def string(self, el: etree._Element, text: str, opaque: bool) -> None:
        raw = _encode_text(el, text, self.codec)
        if opaque:
            self.out += b"\xc3" + encode_mb_u_int32(len(raw)) + raw
        else:
            if 0 in raw:
                raise _fail(el, "text contains NUL, which STR_I cannot carry")
            self.out += b"\x03" + raw + b"\x00"

    def table_text(self, el: etree._Element, index: int) -> str:
        try:
            raw = self.string_table.get(index, 0)
        except EasError as err:
            raise _fail(el, f"wbxml:pieces: {err.reason}") from err
        try:
            return raw.decode(self.codec)
        except UnicodeDecodeError:
            return ""

    def leaf_content(self, el: etree._Element, text: str, markers: dict[str, str], opaque: bool, cur: int) -> int:
        """Write the content tokens of a leaf with markers; returns the current page afterwards."""
        out = self.out
        pieces = markers.get("pieces")
        as_base64 = markers.get("text") == "base64"
        if pieces is not None:
            written = self.pieces(el, text, pieces, as_base64, cur)
            if written is not None:
                return written
        opaque_marker = markers.get("opaque")
        if opaque_marker is not None and "length-bytes" in markers:
            raw = _b64decode(el, text) if opaque_marker == "base64" else _encode_text(el, text, self.codec)
            length = encode_mb_u_int32(len(raw))
            width = _int_attr(el, "length-bytes", markers["length-bytes"], 5)
            out += b"\xc3" + b"\x80" * max(0, width - len(length)) + length + raw
        elif opaque_marker == "base64":
            raw = _b64decode(el, text)
            out += b"\xc3" + encode_mb_u_int32(len(raw)) + raw
        elif opaque_marker == "text":
            self.string(el, text, True)
        elif as_base64:
            raw = _b64decode(el, text)
            if 0 in raw:
                raise _fail(el, "STR_I data cannot contain NUL")
            out += b"\x03" + raw + b"\x00"
        elif text:
            self.string(el, text, opaque)
        return cur

    def pieces(self, el: etree._Element, text: str, spec: str, as_base64: bool, cur: int) -> int | None:
        """Write content as described by wbxml:pieces; None (nothing written) when it does not fit the text."""
        payload: str | bytes = _b64decode(el, text) if as_base64 else text
        chunk = bytearray()
        pos = 0
        try:
            for item in spec.split():
                kind, arg_text, width_text = item[0], *item[1:].partition(":")[::2]
                arg = int(arg_text)
                if kind == "w":  # OPAQUE with its length written in `width` bytes
                    width = int(width_text)
                    part = payload[pos : pos + arg]
                    if len(part) != arg or not 1 <= width <= 5:
                        return None
                    pos += arg
                    raw = part if isinstance(part, bytes) else _encode_text(el, part, self.codec)
                    length = encode_mb_u_int32(len(raw))
                    if width < len(length):
                        return None
                    chunk += b"\xc3" + b"\x80" * (width - len(length)) + length + raw
                elif kind == "s" or kind == "o":
                    part = payload[pos : pos + arg]
                    if len(part) != arg:
                        return None
                    pos += arg
                    raw = part if isinstance(part, bytes) else _encode_text(el, part, self.codec)
                    if kind == "s":
                        if 0 in raw:
                            return None
                        chunk += b"\x03" + raw + b"\x00"
                    else:
                        chunk += b"\xc3" + encode_mb_u_int32(len(raw)) + raw
                elif kind == "t":
                    if arg >= len(self.strtbl):
                        return None
                    if not as_base64:
                        pos += len(self.table_text(el, arg))
                        if pos > len(payload):  # stale marker: stop before more table lookups
                            return None
                    chunk += b"\x83" + encode_mb_u_int32(arg)
                elif kind == "e":
                    if not as_base64:
                        pos += 1
                    chunk += b"\x02" + encode_mb_u_int32(arg)
                elif kind == "p":
                    if not 0 <= arg <= 255:
                        return None
                    chunk += _SWITCH[arg]
                    cur = arg
                else:
                    return None
        except ValueError:
            return None
        if pos != len(payload):
            return None
        self.out += chunk
        return cur

    def placeholder(self, el: etree._Element, local: str) -> _Info | bytes:
        """Resolve an element in WBXML_NS: a tag placeholder (-> _Info) or a content token (-> bytes)."""
        match = _PLACEHOLDER_TAG.fullmatch(local)
        if match:
            page, token = int(match.group(1), 16), int(match.group(2), 16)
            if not 0x05 <= token <= 0x3F:
                raise _fail(el, f"tag token 0x{token:02X} outside 0x05-0x3F")
            return page, bytes((token,)), bytes((token | CONTENT_FLAG,)), False
        if local == "literal":
            index = encode_mb_u_int32(_int_attr(el, "index", el.get("index")))
            return -1, bytes((LITERAL,)) + index, bytes((LITERAL_C,)) + index, False
        text = el.text
        if local == "str":
            raw = _b64decode(el, text)
            if 0 in raw:
                raise _fail(el, "STR_I data cannot contain NUL")
            return b"\x03" + raw + b"\x00"
        if local == "opaque":
            raw = _b64decode(el, text)
            length = encode_mb_u_int32(len(raw))
            width_attr = el.get("length-bytes")
            width = len(length) if width_attr is None else _int_attr(el, "length-bytes", width_attr, 5)
            return b"\xc3" + b"\x80" * max(0, width - len(length)) + length + raw
        if local == "strref":
            return b"\x83" + encode_mb_u_int32(_int_attr(el, "index", el.get("index")))
        if local == "entity":
            return b"\x02" + encode_mb_u_int32(_int_attr(el, "entity", (text or "").strip()))
        if local == "pi":
            return _b64decode(el, text)
        if local == "ext":
            token = _int_attr(el, "token", el.get("token"), 0xFF)
            if token in (0x40, 0x41, 0x42):
                raw = _b64decode(el, text)
                if 0 in raw:
                    raise _fail(el, "EXT_I data cannot contain NUL")
                return bytes((token,)) + raw + b"\x00"
            if token in (0x80, 0x81, 0x82):
                return bytes((token,)) + encode_mb_u_int32(_int_attr(el, "index", el.get("index")))
            if token in (0xC0, 0xC1, 0xC2):
                return bytes((token,))
            raise _fail(el, f"0x{token:02X} is not an extension token")
        raise _fail(el, f"unknown placeholder wbxml:{local}")


def _markers(el: etree._Element, items: Sequence[tuple[str | bytes, str | bytes]], root: bool) -> dict[str, str]:
    markers: dict[str, str] = {}
    for name_any, value_any in items:
        name, value = str(name_any), str(value_any)
        if name.startswith(MARKER_CLARK_PREFIX):
            local = name[len(MARKER_CLARK_PREFIX) :]
            if local in _ELEMENT_MARKERS or (root and local in _ROOT_MARKERS):
                markers[local] = value
            elif local not in _ROOT_MARKERS:
                raise _fail(el, f"unknown marker attribute wbxml:{local}")
        elif str(_tag(el)).startswith(MARKER_CLARK_PREFIX):
            continue  # placeholders carry their own plain attributes
        else:
            raise _fail(el, f"attribute {name!r} has no WBXML encoding in EAS")
    return markers


def _root_element(tree: etree._Element | etree._ElementTree | str | bytes) -> etree._Element:
    if isinstance(tree, (str, bytes, bytearray)):
        return parse_xml(bytes(tree) if isinstance(tree, bytearray) else tree)
    if isinstance(tree, etree._ElementTree):
        root = tree.getroot()
        if root is None:
            raise EncodeError("empty element tree")
        return root
    if isinstance(tree, etree._Element):
        return tree
    raise EncodeError(f"cannot encode a {type(tree).__name__}")


def _header(root: etree._Element, markers: dict[str, str]) -> tuple[bytes, str, bytes]:
    """Header bytes, codec and string table from the root's markers (WAP-192 section 5.3)."""
    version = DEFAULT_VERSION
    if "version" in markers:
        match = re.fullmatch(r"1\.([1-3])", markers["version"].strip())
        if not match:
            raise _fail(root, f"unsupported wbxml:version {markers['version']!r}")
        version = int(match.group(1))
    strtbl = _b64decode(root, markers["strtbl"]) if "strtbl" in markers else b""
    header = bytearray((version,))
    publicid = markers.get("publicid")
    if publicid is not None and publicid.startswith("strtbl:"):
        index = _int_attr(root, "publicid", publicid[7:])
        if "header" not in markers:  # else the raw header says where the string is
            try:
                StringTable(strtbl, len(strtbl)).get(index, 0)
            except EasError as err:  # a decoder would refuse the header: say so now
                raise _fail(root, f"wbxml:publicid {publicid!r}: {err.reason}") from None
        header += b"\x00" + encode_mb_u_int32(index)
    else:
        number = _int_attr(root, "publicid", publicid) if publicid else DEFAULT_PUBLICID
        if number == 0 and "header" not in markers:  # WAP-192 5.5: 0 says a string table index follows
            raise _fail(root, f"wbxml:publicid {publicid!r} is no public id (0 says a string table index follows): "
                              "write strtbl:<index>")
        header += encode_mb_u_int32(number)
    charset = _int_attr(root, "charset", markers["charset"]) if "charset" in markers else UTF8
    header += encode_mb_u_int32(charset) + encode_mb_u_int32(len(strtbl)) + strtbl
    if "header" in markers:
        header = bytearray(_b64decode(root, markers["header"]))
    return bytes(header), CODECS.get(charset, "utf-8"), strtbl


def _prolog(root: etree._Element, markers: dict[str, str]) -> tuple[bytes, int]:
    """The bytes of wbxml:prolog (PIs, maybe SWITCH_PAGE tokens) and the code page they leave current."""
    if "prolog" not in markers:
        return b"", 0
    prolog = _b64decode(root, markers["prolog"])
    page, i = 0, 0
    try:
        while i < len(prolog):
            if prolog[i] == SWITCH_PAGE:
                page, i = prolog[i + 1], i + 2
            elif prolog[i] == PI:
                i = skip_attr_list(prolog, i + 1)
            else:
                raise MalformedError(f"0x{prolog[i]:02X} is neither a PI nor a SWITCH_PAGE", i)
    except (EasError, IndexError) as err:
        raise _fail(root, f"wbxml:prolog is not a sequence of processing instructions: {err}") from err
    return prolog, page


def _comment_only_text(el: etree._Element) -> str | None:
    """For an element whose child nodes are only comments/PIs: its text runs that are not layout."""
    runs = [el.text]
    for child in el:
        child_tag = _tag(child)
        if isinstance(child_tag, str):
            return None
        if child_tag is etree.Entity:
            raise _fail(child, f"entity reference {child.text} cannot be encoded (entities are never resolved)")
        runs.append(child.tail)
    return "".join(run for run in runs if run and not run.isspace())


def encode(tree: etree._Element | etree._ElementTree | str | bytes) -> bytes:
    """Encode an XML tree (or XML text) to WBXML; see the theory of operation for markers and rules.

    Raises:
        EncodeError: malformed XML, an element in no code page, a bad marker; names element and line.
    """
    root = _root_element(tree)
    if not isinstance(_tag(root), str):
        raise _fail(root, "the root is not an element")
    root_items = root.items()
    root_markers = _markers(root, root_items, True) if root_items else {}
    header, codec, strtbl = _header(root, root_markers)
    prolog, cur = _prolog(root, root_markers)
    out = bytearray(header + prolog)
    enc = _Encoder(out, codec, strtbl)
    utf8 = codec == "utf-8"
    tag_info = _TAG_INFO
    switch = _SWITCH
    # Open containers: (the iterator over their parent's children, END preamble bytes, the element).
    stack: list[tuple[Iterator[etree._Element], bytes, etree._Element]] = []
    children: Iterator[etree._Element] = iter((root,))
    while True:
        for el in children:
            tag = _tag(el)
            if not isinstance(tag, str):
                if tag is etree.Entity:
                    raise _fail(el, f"entity reference {el.text} cannot be encoded (entities are never resolved)")
                tail = el.tail
                if tail and not tail.isspace():
                    enc.string(el, tail, False)
                continue
            info = tag_info.get(tag)
            items = el.items()
            text = el.text
            kids = len(el)
            if kids and not isinstance(_tag(el[0]), str):
                leaf_text = _comment_only_text(el)
                if leaf_text is not None:
                    kids = 0
                    text = leaf_text
            if info is None or items:
                # Slow path: markers, placeholders, errors.
                markers = _markers(el, items, el is root) if items else {}
                if info is None:
                    resolved = _resolve_unknown(enc, el, tag)
                    if isinstance(resolved, bytes):
                        if "switch" in markers:
                            for p in _pages(el, markers["switch"]):
                                out += switch[p]
                                cur = p
                        out += resolved
                        tail = el.tail
                        if tail and stack and not tail.isspace():
                            enc.string(el, tail, False)
                        continue
                    info = resolved
                page, empty_b, content_b, opaque = info
                if "switch" in markers:
                    for p in _pages(el, markers["switch"]):
                        out += switch[p]
                        cur = p
                if page >= 0 and page != cur:
                    out += switch[page]
                    cur = page
                if "token" in markers:
                    token = _int_attr(el, "token", markers["token"], 0x3F)
                    if token < 0x05:
                        raise _fail(el, "wbxml:token must be 0x05-0x3F")
                    empty_b, content_b = bytes((token,)), bytes((token | CONTENT_FLAG,))
                attrs = _b64decode(el, markers["attrs"]) if "attrs" in markers else b""
                if attrs:
                    empty_b = bytes((empty_b[0] | ATTRS_FLAG,)) + empty_b[1:]
                    content_b = bytes((content_b[0] | ATTRS_FLAG,)) + content_b[1:]
                end_switch = _pages(el, markers["end-switch"]) if "end-switch" in markers else []
                end_b = b"".join(switch[p] for p in end_switch)
                if kids:
                    out += content_b
                    out += attrs
                    if text and not text.isspace():
                        enc.string(el, text, False)
                    if len(stack) >= MAX_DEPTH:
                        raise _fail(el, f"elements nested deeper than {MAX_DEPTH}")
                    stack.append((children, end_b, el))
                    children = iter(el)
                    break
                if text or "content" in markers or "opaque" in markers or "pieces" in markers or "text" in markers:
                    out += content_b
                    out += attrs
                    cur = enc.leaf_content(el, text or "", markers, opaque, cur)
                    if end_switch:
                        out += end_b
                        cur = end_switch[-1]
                    out += b"\x01"
                else:
                    out += empty_b
                    out += attrs
            else:
                page, empty_b, content_b, opaque = info
                if page != cur:
                    out += switch[page]
                    cur = page
                if kids:
                    out += content_b
                    if text and not text.isspace():
                        enc.string(el, text, False)
                    if len(stack) >= MAX_DEPTH:
                        raise _fail(el, f"elements nested deeper than {MAX_DEPTH}")
                    stack.append((children, b"", el))
                    children = iter(el)
                    break
                if text:
                    out += content_b
                    if opaque or not utf8:
                        enc.string(el, text, opaque)
                        out += b"\x01"
                    else:
                        out += b"\x03"
                        out += text.encode()
                        out += b"\x00\x01"
                else:
                    out += empty_b
            if stack:
                tail = el.tail
                if tail and not tail.isspace():
                    enc.string(el, tail, False)
        else:
            if not stack:
                break
            children, end_b, closed = stack.pop()
            if end_b:
                out += end_b
                cur = end_b[-1]
            out += b"\x01"
            if stack:
                tail = closed.tail
                if tail and not tail.isspace():
                    enc.string(closed, tail, False)
    if "trailer" in root_markers:
        out += _b64decode(root, root_markers["trailer"])
    return bytes(out)


def _resolve_unknown(enc: _Encoder, el: etree._Element, tag: str) -> _Info | bytes:
    """A tag missing from the code pages: a placeholder, or an EncodeError saying why it cannot be encoded."""
    if tag.startswith(MARKER_CLARK_PREFIX):
        return enc.placeholder(el, tag[len(MARKER_CLARK_PREFIX) :])
    if tag.startswith("{"):
        namespace = tag[1 : tag.index("}")]
        if namespace in PAGE_BY_NAMESPACE:
            raise _fail(el, f"code page {PAGE_BY_NAMESPACE[namespace].name} has no tag of this name")
        raise _fail(el, f"namespace {namespace!r} is not an MS-ASWBXML code page")
    raise _fail(el, "element in no namespace: EAS tags need the namespace of their code page")
