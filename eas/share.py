"""What a capture may show when it is handed on: identities pseudonymised, secrets removed, content hidden."""

from __future__ import annotations

# Theory of operation
# -------------------
# `Pseudonyms` maps each identity to a stable stand-in: user names to `user1`, e-mail addresses to
# `user1@example.invalid` (a user name and the address whose local part it is share their number), display names
# to `User 1`, device ids to `DEVICE1`, server host names (and server IPs) to `server1.example.invalid`, client
# IPs to `192.0.2.1` (RFC 5737 documentation range) and user-created folder names to `folder1`. A stand-in maps
# to itself, so rewriting a rewritten value changes nothing. `Pseudonyms.text` rewrites free text: every identity
# seen so far, every e-mail address and the host of every URL.
#
# The rewriters (`share_query`, `share_headers`, `share_body`, `share_tree`) assign stand-ins as they meet values.
# A caller that wants every free text to know every identity runs them over the whole capture twice with the same
# `Pseudonyms`: the first pass learns (its output is thrown away), the second writes.
#
# WBXML bodies are rewritten as trees: each leaf's role comes from the tables of eas.share_roles (by namespace,
# local name and parent); anything else (unknown pages, placeholders) is content. Roles:
#   KEEP      protocol structure and enumerations (statuses, SyncKeys, classes, sizes, booleans): unchanged
#   ID        server/collection/item ids: kept, except the parts that are names (see `Pseudonyms.identifier`)
#   CONTENT   mailbox content (text, dates, places, certificates): "[N bytes hidden]", or free text rewritten
#             when content is kept
#   PERSONAL  device details that identify a person (IMEI, phone number, friendly name): always hidden
#   SECRET    passwords: "<redacted>", length not given
#   USER, ADDRESS, ADDRESS_LIST, DISPLAY_NAME, DISPLAY_NAMES, FOLDER_NAME, DEVICE_ID: pseudonymised
# The root's wbxml:strtbl, prolog, trailer and attribute markers are dropped (they can carry bytes the tree does
# not show); placeholders for what MS-ASWBXML never sends (PI, EXT, LITERAL, raw strings) are removed.

import base64
import binascii
import email.utils
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from urllib.parse import quote, unquote

from lxml import etree

from .bodies import media_type, sniff
from .codepages import WBXML_NS
from .errors import EasError
from .headers import basic_user
from .multipart import build_multipart, parse_multipart
from .query import decode_query, encode_base64
from .sensitive import is_secret_header, is_secret_parameter
from .share_roles import (
    AUTODISCOVER_ROLES,
    BLOB_SCHEMES,
    CHALLENGE_HEADERS,
    CLIENT_ADDRESS_HEADERS,
    COOKIE_HEADERS,
    CREDENTIAL_HEADERS,
    DEFAULT_FOLDER_TYPES,
    HOST_HEADERS,
    KEEP_HEADERS,
    QUERY_ROLES,
    SERVER_NAME_HEADERS,
    STANDARD_ID_WORDS,
    Role,
    element_role,
)
from .wbxml import decode, encode

__all__ = [
    "Role",
    "Pseudonyms",
    "SharedBody",
    "REDACTED",
    "hidden_marker",
    "share_tree",
    "share_wbxml",
    "share_body",
    "share_query",
    "share_path",
    "share_headers",
]

REDACTED = "<redacted>"  # what a removed secret reads as (the capture store writes the same word)
PSEUDONYM_DOMAIN = "example.invalid"  # RFC 2606: a domain that can never resolve


def hidden_marker(size: int) -> str:
    """The text that stands for hidden content, as Exchange's mailbox log gives lengths instead of content."""
    return f"[{size} bytes hidden]"


# Where two kinds hold the same text, the first one's stand-in is used in free text.
_FREE_TEXT_ORDER = ("address", "user", "display", "host", "client", "device", "folder", "domain")
_ADDRESS = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# A URL's scheme, user information (a credential: removed) and host.
_URL_HOST = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://)(?:[^/\s@?#\"'<>]*@)?([^/\s:?#\"'<>@\[\]]+|\[[0-9a-f:.]+\])")
# An id piece that is a token, not a name: hex (with dashes), or a run without spaces that holds a digit.
_TOKEN_SEGMENT = re.compile(r"[0-9A-Fa-f]+(?:-[0-9A-Fa-f]+)*|[\w+=.~-]*\d[\w+=.~-]*")
_ID_SEPARATORS = re.compile(r"(%2[Ff]|%3[Aa]|%5[Cc]|[/:\\])")
MIN_FREE_TEXT_LENGTH = 2  # identities shorter than this are not searched for in free text
MIN_NAME_WORD_LENGTH = 3  # nor parts of names shorter than this ("Al" of "Al Smith")
_NAME_WORD = re.compile(r"[^\W\d_]{3,}")


# ---------------------------------------------------------------------------------------------------------------
# The pseudonym map


class Pseudonyms:
    """The consistent map from identities to stand-ins; one per shared file."""

    def __init__(self) -> None:
        self._maps: dict[str, dict[str, str]] = {}
        self._given: set[str] = set()  # every stand-in handed out: each maps to itself
        self._person_count = 0
        self._person_of_user: dict[str, int] = {}
        self._person_of_local: dict[str, int] = {}  # local part of an address -> its person
        self._persons_with_user: set[int] = set()
        self._persons_with_address: set[int] = set()
        self._standard_folder_names: set[str] = set(STANDARD_ID_WORDS)
        self._counters: dict[str, int] = {}
        self._pattern: re.Pattern[str] | None = None
        self._pattern_size = -1
        self._lookup: dict[str, str] = {}
        # Parts of identities that free text may hold on their own: the local part of an address ("dear carol")
        # and each word of a display name ("Hi Alice"); only free text uses them.
        self._name_words: dict[str, str] = {}

    # -- the kinds of identity

    def user(self, name: str) -> str:
        """`user1`; a name that is an address becomes the address's stand-in; `DOMAIN\\name` keeps its shape."""
        if not name or name in self._given:
            return name
        if "@" in name and _ADDRESS.fullmatch(name):
            return self.address(name)
        domain, sep, account = name.rpartition("\\")
        if sep:
            return f"{self._numbered('domain', domain, 'DOMAIN')}\\{self.user(account)}"
        key = name.lower()
        known = self._maps.setdefault("user", {}).get(key)
        if known is not None:
            return known
        person = self._person_of_local.get(key)
        if person is None or person in self._persons_with_user:
            person = self._new_person()
        self._person_of_user[key] = person
        self._persons_with_user.add(person)
        return self._remember("user", key, f"user{person}")

    def address(self, value: str) -> str:
        """`user1@example.invalid`, sharing its number with the user name that is its local part."""
        if not value or value in self._given:
            return value
        key = value.lower()
        known = self._maps.setdefault("address", {}).get(key)
        if known is not None:
            return known
        local = key.rpartition("@")[0]
        person = self._person_of_user.get(local)
        if person is None or person in self._persons_with_address:
            person = self._new_person()
        self._persons_with_address.add(person)
        self._person_of_local.setdefault(local, person)
        self._name_words.setdefault(local, f"user{person}")
        return self._remember("address", key, f"user{person}@{PSEUDONYM_DOMAIN}")

    def display_name(self, name: str, address: str | None = None) -> str:
        """`User 1`: the number of `address`'s person when the name comes with an address, else its own."""
        stripped = name.strip()
        if not stripped or stripped in self._given:
            return name
        key = stripped.lower()
        known = self._maps.setdefault("display", {}).get(key)
        if known is not None:
            return known
        if address:
            number = self.address(address).partition("@")[0].removeprefix("user")
        else:
            number = str(self._new_person())
        stand_in = f"User {number}"
        for word in _NAME_WORD.findall(key):
            self._name_words.setdefault(word, stand_in)
        return self._remember("display", key, stand_in)

    def device(self, device_id: str) -> str:
        """`DEVICE1`."""
        return self._numbered("device", device_id, "DEVICE")

    def host(self, host: str) -> str:
        """`server1.example.invalid` (names and IP addresses alike; case does not matter)."""
        if not host or host in self._given:
            return host
        bare = host.strip("[]")
        return self._numbered("host", bare.lower(), "server", suffix=f".{PSEUDONYM_DOMAIN}")

    def client_address(self, ip: str) -> str:
        """`192.0.2.1` (RFC 5737 TEST-NET-1) for a client's IP address."""
        if not ip or ip in self._given:
            return ip
        key = ip.strip("[]").lower()
        known = self._maps.setdefault("client", {}).get(key)
        if known is not None:
            return known
        number = self._counters.get("client", 0) + 1
        self._counters["client"] = number
        # RFC 5737 TEST-NET-1 while it lasts, then RFC 3849's IPv6 documentation prefix
        return self._remember("client", key, f"192.0.2.{number}" if number < 255 else f"2001:db8::{number:x}")

    def folder(self, name: str) -> str:
        """`folder1` for a user-created folder's name; a default folder's name (see `standard_folder`) stays."""
        if not name or name in self._given or name.lower() in self._standard_folder_names:
            return name
        return self._numbered("folder", name, "folder")

    def standard_folder(self, name: str) -> None:
        """Remember the display name of a default folder (it stays, in display names and inside ids)."""
        if name.lower() not in self._maps.get("folder", {}):
            self._standard_folder_names.add(name.lower())

    def identifier(self, value: str) -> str:
        """An id with the parts that are names pseudonymised: addresses, known identities, and words that are not
        hex, numbers or the usual folder names (SOGo puts folder names in ids: `mail%2FINBOX%2FProjects`)."""
        if not value:
            return value
        value = _ADDRESS.sub(self._id_address, value)
        pieces = _ID_SEPARATORS.split(value)
        out: list[str] = []
        for index, piece in enumerate(pieces):
            if index % 2 == 1 or not piece or piece in self._given:
                out.append(piece)
                continue
            out.append(self._id_piece(piece))
        return "".join(out)

    def _id_address(self, match: re.Match[str]) -> str:
        """A known address inside an id is the person's stand-in; an unknown one is a message id (`<n.m@host>`):
        its token part stays and its domain is pseudonymised like a host."""
        found = match.group(0)
        if found in self._given or found.lower() in self._maps.get("address", {}):
            return self.address(found)
        local, _, domain = found.rpartition("@")
        if _TOKEN_SEGMENT.fullmatch(local):
            return f"{local}@{self.host(domain)}"
        return self.address(found)

    def _id_piece(self, piece: str) -> str:
        try:
            plain = unquote(piece, errors="strict")
        except UnicodeDecodeError:
            plain = piece
        lower = plain.lower()
        for kind in ("folder", "user", "address", "device", "host"):
            known = self._maps.get(kind, {}).get(plain if kind in ("folder", "device") else lower)
            if known is not None:
                return known if known == plain else quote(known, safe="")
        if lower in self._standard_folder_names or _TOKEN_SEGMENT.fullmatch(plain) or "@" in plain:
            return piece
        if not any(ch.isalpha() for ch in plain):
            return piece
        replaced = self.folder(plain)
        return replaced if replaced == plain else quote(replaced, safe="")

    # -- free text

    def text(self, value: str) -> str:
        """Free text with every known identity, every e-mail address and every URL's host replaced."""
        if not value:
            return value
        value = _URL_HOST.sub(self._url, value)
        pattern = self._literal_pattern()
        if pattern is None:
            return _ADDRESS.sub(lambda match: self.address(match.group(0)), value)
        return pattern.sub(self._replace_match, value)

    def _url(self, match: re.Match[str]) -> str:
        host = match.group(2)
        return match.group(1) + (host if host in self._given else self.host(host))

    def _replace_match(self, match: re.Match[str]) -> str:
        found = match.group(0)
        if found in self._given:
            return found
        known = self._lookup.get(found.lower())
        if known is not None:
            return known
        if _ADDRESS.fullmatch(found):
            return self.address(found)
        return found

    def _literal_pattern(self) -> re.Pattern[str] | None:
        literals = sorted(
            {
                key
                for kind, mapping in self._maps.items()
                for key in mapping
                if len(key) >= MIN_FREE_TEXT_LENGTH and not (kind == "folder" and len(key) < 3)
            }
            | {word for word in self._name_words if len(word) >= MIN_NAME_WORD_LENGTH},
            key=len,
            reverse=True,
        )
        if len(literals) != self._pattern_size:
            self._lookup = {}
            for kind in _FREE_TEXT_ORDER:
                for key, stand_in in self._maps.get(kind, {}).items():
                    self._lookup.setdefault(key.lower(), stand_in)
            for word, stand_in in self._name_words.items():
                self._lookup.setdefault(word, stand_in)
            alternatives = [_ADDRESS.pattern] + [re.escape(literal) for literal in literals]
            self._pattern = re.compile(r"(?<![\w-])(?:" + "|".join(alternatives) + r")(?![\w-])", re.IGNORECASE)
            self._pattern_size = len(literals)
        return self._pattern

    # -- the map

    def mapping(self) -> dict[str, dict[str, str]]:
        """Kind -> {identity (lower-cased where case does not matter): stand-in}, for a report kept by the sender."""
        return {kind: dict(values) for kind, values in self._maps.items() if values}

    def _new_person(self) -> int:
        self._person_count += 1
        return self._person_count

    def _numbered(self, kind: str, key: str, prefix: str, suffix: str = "") -> str:
        if not key or key in self._given:
            return key
        known = self._maps.setdefault(kind, {}).get(key)
        if known is not None:
            return known
        number = self._counters.get(kind, 0) + 1
        self._counters[kind] = number
        return self._remember(kind, key, f"{prefix}{number}{suffix}")

    def _remember(self, kind: str, key: str, stand_in: str) -> str:
        self._maps.setdefault(kind, {})[key] = stand_in
        self._given.add(stand_in)
        return stand_in


# ---------------------------------------------------------------------------------------------------------------
# WBXML trees


# Markers that describe how a leaf's old text was sent; dropped when the text changes.
_LEAF_MARKERS = tuple(f"{{{WBXML_NS}}}{name}" for name in ("opaque", "length-bytes", "text", "pieces", "content"))
# Root markers that hold raw bytes of the document outside the tree.
_RAW_MARKERS = tuple(f"{{{WBXML_NS}}}{name}" for name in ("strtbl", "prolog", "trailer", "attrs", "header"))


def _split(tag: str) -> tuple[str, str]:
    namespace, _, local = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
    return namespace, local


def _size(element: etree._Element, text: str) -> int:
    """Bytes of the leaf's content as sent: base64 markers count the decoded bytes."""
    if element.get(f"{{{WBXML_NS}}}opaque") == "base64" or element.get(f"{{{WBXML_NS}}}text") == "base64":
        try:
            return len(base64.b64decode(text, validate=False))
        except (binascii.Error, ValueError):
            pass
    return len(text.encode("utf-8", "surrogatepass"))


@dataclass(frozen=True)
class _Context:
    names: Pseudonyms
    keep_content: bool


def _sibling_text(element: etree._Element, namespace: str, local: str) -> str | None:
    parent = element.getparent()
    if parent is None:
        return None
    for sibling in parent:
        if isinstance(sibling.tag, str) and _split(sibling.tag) == (namespace, local):
            return (sibling.text or "").strip() or None
    return None


def _address_list(value: str, names: Pseudonyms) -> str:
    """An RFC 5322 address list with each address and display name pseudonymised; `Name <addr>` shapes kept."""
    if "@" not in value:
        return _display_names(value, names)  # names alone ("Bob Brown; Carol Clark"), as ResolveRecipients sends
    pairs = email.utils.getaddresses([value])
    out: list[str] = []
    for display, address in pairs:
        if address and "@" in address:
            stand_in = names.address(address)
            out.append(f'"{names.display_name(display, address)}" <{stand_in}>' if display else stand_in)
        elif address or display:
            out.append(names.display_name(display or address))
    return ", ".join(out) if out else names.text(value)


def _display_names(value: str, names: Pseudonyms) -> str:
    separator = ";" if ";" in value else ","
    return f"{separator} ".join(names.display_name(part) for part in value.split(separator) if part.strip())


def _leaf_text(element: etree._Element, role: Role, text: str, context: _Context) -> str:
    names = context.names
    if role is Role.KEEP:
        return text
    if role is Role.ID:
        return names.identifier(text)
    if role is Role.SECRET:
        return REDACTED
    if role is Role.PERSONAL:
        return hidden_marker(_size(element, text))
    if role is Role.CONTENT:
        return names.text(text) if context.keep_content else hidden_marker(_size(element, text))
    if role is Role.USER:
        return names.user(text.strip())
    if role is Role.ADDRESS:
        return names.address(text.strip()) if _ADDRESS.fullmatch(text.strip()) else _address_list(text, names)
    if role is Role.ADDRESS_LIST:
        return _address_list(text, names)
    if role is Role.DISPLAY_NAME:
        namespace, _ = _split(element.tag)
        address = _sibling_text(element, namespace, "Email") or _sibling_text(element, namespace, "EmailAddress")
        if address is None and namespace == "Calendar":
            address = _sibling_text(element, namespace, "OrganizerEmail")
        return names.display_name(text, address if address and _ADDRESS.fullmatch(address) else None)
    if role is Role.DISPLAY_NAMES:
        return _display_names(text, names)
    # FOLDER_NAME: a default folder's name stays (MS-ASCMD 2.2.3.186.3), any other is pseudonymised
    folder_type = _sibling_text(element, "FolderHierarchy", "Type")
    if folder_type in DEFAULT_FOLDER_TYPES:
        names.standard_folder(text)
        return names.text(text)
    return names.folder(text)


def share_tree(root: etree._Element, names: Pseudonyms, *, keep_content: bool = False) -> etree._Element:
    """Rewrite a decoded WBXML tree in place (see the theory of operation) and return it."""
    context = _Context(names, keep_content)
    for marker in _RAW_MARKERS:
        root.attrib.pop(marker, "")
    placeholders: list[etree._Element] = []
    # Document order, so that FolderHierarchy Type (after DisplayName) is read from the tree as decoded.
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        namespace, local = _split(element.tag)
        for marker in _RAW_MARKERS:
            element.attrib.pop(marker, "")
        if namespace == WBXML_NS and not local.startswith("tag-"):
            placeholders.append(element)
            continue
        parent = element.getparent()
        parent_local = _split(parent.tag)[1] if parent is not None and isinstance(parent.tag, str) else None
        role = Role.CONTENT if namespace == WBXML_NS else element_role(namespace, local, parent_local)
        if len(element):
            # mixed content: text between children is the element's own text
            for node_text, setter in _mixed_texts(element):
                if node_text.strip():
                    setter(_leaf_text(element, role, node_text, context))
            continue
        text = element.text
        if not text:
            continue
        new_text = _leaf_text(element, role, text, context)
        if new_text != text:
            for marker in _LEAF_MARKERS:
                element.attrib.pop(marker, "")
            element.text = new_text
    for element in placeholders:
        parent = element.getparent()
        if parent is not None:
            parent.remove(element)
    return root


def _mixed_texts(element: etree._Element) -> list[tuple[str, Callable[[str], None]]]:
    def set_text(value: str) -> None:
        element.text = value

    texts: list[tuple[str, Callable[[str], None]]] = [(element.text or "", set_text)]
    for child in element:
        def set_tail(value: str, child: etree._Element = child) -> None:
            child.tail = value

        texts.append((child.tail or "", set_tail))
    return texts


def share_wbxml(data: bytes, names: Pseudonyms, *, keep_content: bool = False) -> bytes:
    """WBXML bytes rewritten for sharing and encoded again.

    Raises:
        EasError: the bytes are not WBXML the codec can decode, or the rewritten tree cannot be encoded.
    """
    return encode(share_tree(decode(data), names, keep_content=keep_content))


# ---------------------------------------------------------------------------------------------------------------
# Bodies


@dataclass(frozen=True)
class SharedBody:
    """A rewritten body; `note` says what was removed outright (a body that could not be rewritten)."""

    data: bytes
    note: str | None = None


def _text_bytes(data: bytes, names: Pseudonyms) -> bytes:
    return names.text(data.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape")


def _share_xml(data: bytes, names: Pseudonyms) -> bytes:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError:
        return _text_bytes(data, names)
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        for name, value in element.attrib.items():
            element.set(name, names.text(str(value)))
        if element.tail:
            element.tail = names.text(element.tail)
        if not element.text or len(element):
            if element.text:
                element.text = names.text(element.text)
            continue
        role = AUTODISCOVER_ROLES.get(_split(element.tag)[1])
        text = element.text
        if role is Role.ADDRESS:
            element.text = names.address(text.strip()) if _ADDRESS.fullmatch(text.strip()) else names.text(text)
        elif role is Role.DISPLAY_NAME:
            element.text = names.display_name(text)
        elif role is Role.PERSONAL:
            element.text = hidden_marker(len(text.encode("utf-8")))
        else:
            element.text = names.text(text)
    result: bytes = etree.tostring(root, xml_declaration=True, encoding="utf-8")
    return result


def share_body(
    data: bytes, content_type: str | None, names: Pseudonyms, *, keep_content: bool = False
) -> SharedBody:
    """A body (Content-Encoding already removed) rewritten for sharing, by what it is.

    WBXML: rewritten as a tree; multipart: part 0 as WBXML, the other parts (MIME, attachments) are content;
    rfc822 and binary bodies are content; XML (Autodiscover): identities pseudonymised; other text (error pages,
    JSON): free text rewritten. A WBXML or multipart body that does not decode is removed, with a note.
    """
    if not data:
        return SharedBody(data)
    media = media_type(content_type)
    kind = sniff(data)
    if media == "application/vnd.ms-sync.multipart":
        try:
            parts = parse_multipart(data)
            rewritten = [share_wbxml(parts[0], names, keep_content=keep_content)] if parts else []
        except EasError as err:
            return SharedBody(b"", f"multipart body of {len(data)} bytes removed: {err}")
        for part in parts[1:]:
            rewritten.append(_content_bytes(part, names, keep_content))
        return SharedBody(build_multipart(rewritten))
    if media in ("application/vnd.ms-sync.wbxml", "application/vnd.ms-sync") or kind == "wbxml":
        if kind in ("text", "html", "json", "xml"):
            return SharedBody(_text_bytes(data, names))  # a server error in text under the WBXML type
        try:
            return SharedBody(share_wbxml(data, names, keep_content=keep_content))
        except EasError as err:
            return SharedBody(b"", f"WBXML body of {len(data)} bytes removed (it does not decode: {err})")
    if media == "message/rfc822" or kind == "rfc822":
        return SharedBody(_content_bytes(data, names, keep_content))
    if kind == "xml" or media in ("text/xml", "application/xml"):
        return SharedBody(_share_xml(data, names))
    if kind in ("text", "html", "json"):
        return SharedBody(_text_bytes(data, names))
    return SharedBody(_content_bytes(data, names, keep_content))


def _content_bytes(data: bytes, names: Pseudonyms, keep_content: bool) -> bytes:
    if not keep_content:
        return hidden_marker(len(data)).encode("ascii")
    if sniff(data) in ("text", "rfc822", "html", "xml", "json"):
        return _text_bytes(data, names)
    return data


# ---------------------------------------------------------------------------------------------------------------
# The request line and headers


def _query_value(name: str, value: str, names: Pseudonyms) -> str:
    role = QUERY_ROLES.get(name.lower())
    if role is Role.KEEP:
        return value
    if role is Role.USER:
        return names.user(value)
    if role is Role.DEVICE_ID:
        return names.device(value)
    if role is Role.ID:
        return names.identifier(value)
    if role is Role.FOLDER_NAME:
        return names.folder(value)
    return names.text(value)


def _share_plain_query(query: str, names: Pseudonyms) -> str:
    out: list[str] = []
    for segment in query.split("&"):
        raw_name, sep, raw_value = segment.partition("=")
        name = unquote(raw_name.replace("+", " "))
        if is_secret_parameter(name):
            continue
        if not sep:
            out.append(quote(names.text(name), safe="@%") if name else segment)
            continue
        value = unquote(raw_value.replace("+", " "), errors="surrogateescape")
        new_value = _query_value(name, value, names)
        out.append(segment if new_value == value else f"{raw_name}={quote(new_value, safe='@')}")
    return "&".join(out)


def share_query(query: str, names: Pseudonyms) -> str:
    """A request URI query (after `?`) with User and DeviceId pseudonymised, ids rewritten, tokens removed.

    The base64 form (MS-ASHTTP 2.2.1.1.1.1) is decoded and encoded again; a binary DeviceId becomes the text of
    its stand-in. Anything that is not an EAS query is rewritten as `name=value` pairs.
    """
    if not query:
        return query
    if "=" not in query.rstrip("=") and "&" not in query:
        try:
            decoded = decode_query(query)
        except EasError:
            return names.text(query)
        if decoded.form == "base64" and decoded.command_code is not None:
            parameters = tuple((name, _query_value(name, value, names)) for name, value in decoded.parameters)
            shared = replace(
                decoded,
                user=None if decoded.user is None else names.user(decoded.user),
                device_id=None if decoded.device_id is None else names.device(decoded.device_id),
                device_id_hex=None,
                parameters=parameters,
            )
            try:
                return encode_base64(shared)
            except EasError:
                return names.text(query)
    return _share_plain_query(query, names)



def share_path(path: str, names: Pseudonyms) -> str:
    """A request target (path and query) rewritten: the path as free text, the query by `share_query`."""
    base, sep, query = path.partition("?")
    return names.text(base) + sep + share_query(query, names)


def _host_port(value: str, names: Pseudonyms) -> str:
    value = value.strip()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        return f"[{names.host(host)}]{rest}" if ":" in names.host(host) else names.host(host) + rest
    host, sep, port = value.rpartition(":")
    if sep and port.isdigit() and ":" not in host:
        return f"{names.host(host)}:{port}"
    return names.host(value)


def _credential(value: str, names: Pseudonyms) -> str:
    scheme, _, credentials = value.strip().partition(" ")
    if not credentials.strip():
        return REDACTED
    user = basic_user(value)
    if user is not None:
        return f"{scheme} {names.user(user)}:{REDACTED}"
    return f"{scheme} {REDACTED}"


def _cookie(value: str, names: Pseudonyms, *, set_cookie: bool) -> str:
    pieces = value.split(";")
    out: list[str] = []
    for index, piece in enumerate(pieces):
        name, equals, _ = piece.partition("=")
        if set_cookie and index > 0:
            out.append(names.text(piece))
        elif equals:
            out.append(f"{name}={REDACTED}")
        else:
            out.append(piece)
    return ";".join(out)


def _challenge(value: str, names: Pseudonyms) -> str:
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() in BLOB_SCHEMES and rest.strip():
        return f"{scheme} {REDACTED}"
    return names.text(value)


def share_header(name: str, value: str, names: Pseudonyms) -> str | None:
    """One header's value rewritten for sharing; None when the header is left out."""
    lower = name.lower()
    if lower in KEEP_HEADERS:
        return value
    if lower in CREDENTIAL_HEADERS:
        return _credential(value, names)
    if lower in COOKIE_HEADERS:
        return _cookie(value, names, set_cookie=lower.startswith("set-cookie"))
    if lower in CHALLENGE_HEADERS:
        return _challenge(value, names)
    if is_secret_header(name):
        return REDACTED
    if lower in HOST_HEADERS:
        return _host_port(value, names)
    if lower in SERVER_NAME_HEADERS:
        return ",".join(names.host(part.strip()) if part.strip() else part for part in value.split(","))
    if lower in CLIENT_ADDRESS_HEADERS:
        return ", ".join(names.client_address(part.strip()) for part in value.split(",") if part.strip())
    return names.text(value)


def share_headers(headers: Sequence[tuple[str, str]], names: Pseudonyms) -> list[tuple[str, str]]:
    """Headers in order with each value rewritten (`share_header`); names are kept."""
    out: list[tuple[str, str]] = []
    for name, value in headers:
        shared = share_header(name, value, names)
        if shared is not None:
            out.append((name, shared))
    return out
