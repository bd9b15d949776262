"""What in EAS traffic is a secret, defined once: headers, query parameters and body elements, and how each is shown.

The header explanations, the query display, the annotation and the capture's stored redaction all ask these
functions, so that a secret hidden in one place is hidden in every other.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, unquote

from lxml import etree

from . import wbxml
from .codepages import PAGE_BY_NAMESPACE
from .constants import WBXML_NS
from .errors import EasError, EncodeError

__all__ = [
    "HIDDEN",
    "SECRET_ELEMENTS",
    "hidden_text",
    "hide_cookie",
    "hide_header_value",
    "hide_secret_elements",
    "hide_set_cookie",
    "is_secret_element",
    "is_secret_header",
    "is_secret_parameter",
    "redact_query",
    "redact_wbxml",
    "redact_url",
    "restore_hidden_secrets",
]

# What a hidden value is replaced with where only its place is kept (query parameters, element text).
HIDDEN = "(hidden)"

# Headers whose value is a credential or carries one: the standard ones (RFC 9110 11.6.2, 11.7.2; RFC 6265), and by
# name the custom ones gateways and clients add (X-Auth-Token, X-API-Key, X-Access-Token, X-Amz-Security-Token,
# X-CSRF-Token ...).
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie", "cookie2",
                             "set-cookie2"})
_SECRET_HEADER_WORDS = re.compile(r"(?:^|[-_])(?:auth|token|secret|password|passwd|api[-_]?key|session)(?:$|[-_])|"
                                  r"authoriz|credential", re.IGNORECASE)

# URL query parameters that carry a credential: OAuth 2.0 (RFC 6750 2.3 access_token; RFC 6749 code, refresh_token,
# client_secret; OpenID id_token), and the names web front ends use for tokens and passwords.
_SECRET_PARAMETERS = frozenset({
    "access_token", "token", "id_token", "refresh_token", "client_secret", "code", "password", "passwd", "pwd",
    "pass", "secret", "api_key", "apikey", "auth", "sig", "signature", "session", "sessionid", "ticket",
})

# Body elements whose text is a password (MS-ASWBXML page name, tag): the Password child of Settings DevicePassword
# (MS-ASCMD 2.2.3.46: the device password sent for recovery) and the document library credentials of
# ItemOperations and Search (MS-ASCMD 2.2.3.122, Password (ItemOperations), Password (Search), Password (Settings)).
SECRET_ELEMENTS = frozenset({("Settings", "Password"), ("ItemOperations", "Password"), ("Search", "Password")})


def is_secret_header(name: str) -> bool:
    """Whether a header's value is (or carries) a credential: Authorization, Cookie, X-Auth-Token-like names.

    MS-ASHTTP's own X-MS-PolicyKey is not a secret: it names the policy the device accepted, grants nothing.
    """
    key = name.strip().lower()
    if key in _SECRET_HEADERS:
        return True
    if key.startswith(("x-ms-", "ms-as")):
        return False  # MS-ASHTTP headers (X-MS-PolicyKey, MS-ASProtocolVersion ...) carry no credential
    return bool(_SECRET_HEADER_WORDS.search(key))


def is_secret_parameter(name: str) -> bool:
    """Whether a URL query parameter carries a credential (access_token=, token=, password= ...)."""
    key = name.strip().lower()
    return key in _SECRET_PARAMETERS or key.endswith(("_token", "-token", "password", "_secret"))


def is_secret_element(namespace: str, local: str) -> bool:
    """Whether a body element's text is a password (Settings DevicePassword/Password and the like).

    Args:
        namespace: the element's namespace in any spelling the code pages know ("Settings", "Settings:").
        local: its local name.
    """
    page = PAGE_BY_NAMESPACE.get(namespace) or PAGE_BY_NAMESPACE.get(namespace.rstrip(":"))
    return page is not None and (page.name, local) in SECRET_ELEMENTS


def hidden_text(text: str | None) -> str:
    """What is shown instead of a secret text: its length only."""
    return f"{HIDDEN} {len(text or '')} characters"


# hidden_text's output read back: the count is the length of the text it stands for.
_HIDDEN_TEXT = re.compile(re.escape(HIDDEN) + r" (\d+) characters")


# Set-Cookie attributes (RFC 6265 5.2; SameSite and Partitioned from RFC 6265bis; Priority as browsers send it) and
# the shape of a value that is kept as sent: anything else in a Set-Cookie value may be a cookie's value and is
# hidden. A Path holding a comma or a space is hidden too: that is a folded second cookie, not a path.
_COOKIE_ATTRIBUTES: dict[str, re.Pattern[str]] = {
    "expires": re.compile(r"[A-Za-z]{3},? ?\d{1,2}[ -][A-Za-z]{3}[ -]\d{2,4} \d{1,2}:\d{2}:\d{2} ?(?:GMT|UTC)?"),
    "max-age": re.compile(r"-?\d{1,12}"),
    "domain": re.compile(r"\.?[A-Za-z0-9.-]{0,253}"),
    "path": re.compile(r"/[^,;\s]{0,1024}"),
    "samesite": re.compile(r"[A-Za-z]{1,8}"),
    "priority": re.compile(r"[A-Za-z]{1,8}"),
    "version": re.compile(r"\d{1,3}"),
    "secure": re.compile(""),
    "httponly": re.compile(""),
    "partitioned": re.compile(""),
}
# A cookie name (RFC 6265 4.1.1: an RFC 9110 token): shown; a piece with no such name is a value and is hidden.
_COOKIE_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}")
# Where a folded Set-Cookie (several cookies joined by commas) starts its next cookie: a comma before `name=`
# (the comma inside an Expires date is followed by a day number, never by `name=`).
_NEXT_COOKIE = re.compile(r",\s*(?=[!#$%&'*+.^_`|~0-9A-Za-z-]+=)")


def _hidden_cookie(piece: str, marker: str) -> str:
    """`name=marker` for a `name=value` piece with a token name; the marker alone for a nameless cookie."""
    name, equals, _value = piece.partition("=")
    name = name.strip()
    return f"{name}={marker}" if equals and _COOKIE_NAME.fullmatch(name) else marker


def hide_cookie(value: str, marker: str = HIDDEN) -> str:
    """A Cookie value with the value of every cookie replaced by `marker`, names kept (RFC 6265 4.2.1).

    A piece without `=`, or whose name is not a token, is a nameless cookie: all of it is a value and is hidden.
    """
    return "; ".join(_hidden_cookie(piece, marker) for piece in value.split(";") if piece.strip())


def hide_set_cookie(value: str, marker: str = HIDDEN) -> str:
    """A Set-Cookie value with each cookie's value replaced by `marker` (RFC 6265 4.1.1); its name and the
    attributes of known shape (Path, Expires, Max-Age, Domain, SameSite, Secure ...) kept. A folded value
    (`a=1; Path=/, S=SECRET`) is read as the cookies it joins; an unknown attribute's value is hidden too."""
    cookies = []
    for cookie in _NEXT_COOKIE.split(value):
        first, *attributes = cookie.split(";")
        pieces = [_hidden_cookie(first, marker)] if first.strip() else []
        for attribute in attributes:
            name, equals, attribute_value = attribute.partition("=")
            key = name.strip()
            shape = _COOKIE_ATTRIBUTES.get(key.lower())
            if shape is not None and shape.fullmatch(attribute_value.strip()):
                pieces.append(f"{key}={attribute_value.strip()}" if equals else key)
            elif key and equals and _COOKIE_NAME.fullmatch(key):
                pieces.append(f"{key}={marker}")
            elif attribute.strip():
                pieces.append(marker)
        cookies.append("; ".join(pieces))
    return ", ".join(cookies)


def hide_header_value(name: str, value: str, marker: str = HIDDEN) -> str:
    """A secret header's value (is_secret_header) with its secret replaced by `marker`: cookie names and
    Set-Cookie attributes kept, any other such header's value (X-Auth-Token ...) replaced whole. Authorization
    is eas.auth's to read (stored_authorization, describe_authorization)."""
    key = name.strip().lower()
    if key in ("cookie", "cookie2"):
        return hide_cookie(value, marker)
    if key in ("set-cookie", "set-cookie2"):
        return hide_set_cookie(value, marker)
    return marker


def redact_query(query: str) -> str:
    """A plain-form URL query with the values of secret parameters replaced by (hidden); the rest unchanged."""
    if not query:
        return query
    pieces = []
    changed = False
    for segment in query.split("&"):
        name, sep, _value = segment.partition("=")
        if sep and is_secret_parameter(unquote(name)):
            pieces.append(f"{name}={quote(HIDDEN)}")
            changed = True
        else:
            pieces.append(segment)
    return "&".join(pieces) if changed else query


def redact_url(url: str) -> str:
    """The URL with the values of secret query parameters replaced by (hidden) (user:password@ too)."""
    head, sep, query = url.partition("?")
    fragment = ""
    if "#" in query:
        query, _, rest = query.partition("#")
        fragment = "#" + rest
    scheme, found, rest = head.partition("://")
    if found and "@" in rest.split("/", 1)[0]:
        userinfo, _, host_part = rest.partition("@")
        if ":" in userinfo:
            head = f"{scheme}://{userinfo.split(':', 1)[0]}:{quote(HIDDEN)}@{host_part}"
    return head + sep + redact_query(query) + fragment if sep else head + fragment


_SECRET_TAGS: tuple[str, ...] = tuple(f"{{{page}}}{local}" for page, local in sorted(SECRET_ELEMENTS))
_SECRET_ROOTS = frozenset(page for page, _local in SECRET_ELEMENTS)
_SECRET_LOCALS = frozenset(local for _page, local in SECRET_ELEMENTS)
_MARKER_PREFIX = "{" + WBXML_NS + "}"


def hide_secret_elements(root: Any) -> int:
    """Replace the text of password elements (SECRET_ELEMENTS) in a decoded tree by its length; returns how many.

    The decoder's round-trip markers of those elements go too: they describe the bytes of the hidden text.
    """
    hidden = 0
    tag = root.tag
    if not isinstance(tag, str) or tag[1 : tag.find("}")] not in _SECRET_ROOTS:
        return 0  # only these commands carry a password (one check instead of a pass over the tree)
    for element in root.iter(*_SECRET_TAGS):
        if not element.text:
            continue
        element.text = hidden_text(element.text)
        for name in [key for key in element.attrib if str(key).startswith(_MARKER_PREFIX)]:
            del element.attrib[name]
        hidden += 1
    return hidden


def redact_wbxml(data: bytes) -> bytes | None:
    """A WBXML request body with its passwords (SECRET_ELEMENTS) hidden, re-encoded; None when it holds none or
    cannot be decoded (then there is nothing this function can hide).

    For the capture and every export: a Settings DevicePassword request keeps its shape, not the password.
    """
    try:
        root = wbxml.decode(data)
    except EasError:
        return None
    if not hide_secret_elements(root):
        return None
    try:
        return wbxml.encode(root)
    except EasError:
        return None


def _path(element: Any) -> tuple[tuple[str, str], ...]:
    """(code page name, local name) of each element from the root down to `element`, whatever namespace
    spelling the XML uses (`Settings`, `Settings:`)."""
    steps: list[tuple[str, str]] = []
    node = element
    while node is not None:
        namespace, _, local = str(node.tag)[1:].rpartition("}")
        page = PAGE_BY_NAMESPACE.get(namespace) or PAGE_BY_NAMESPACE.get(namespace.rstrip(":"))
        steps.append((page.name if page is not None else namespace, local))
        node = node.getparent()
    return tuple(reversed(steps))


def _secrets_by_path(root: Any) -> dict[tuple[tuple[str, str], ...], list[Any]]:
    """The password elements of a tree (SECRET_ELEMENTS, in any namespace spelling) by path, in document order."""
    found: dict[tuple[tuple[str, str], ...], list[Any]] = {}
    for element in root.iter(tag=etree.Element):
        if str(element.tag).rpartition("}")[2] not in _SECRET_LOCALS:
            continue
        path = _path(element)
        if path[-1] in SECRET_ELEMENTS:
            found.setdefault(path, []).append(element)
    return found


def _unrestorable(element: Any, path: tuple[tuple[str, str], ...], placeholder: re.Match[str], why: str) -> EncodeError:
    """The one-line refusal of a placeholder that maps to no single original value, naming element and line."""
    where = "/".join(local for _page, local in path)
    line = element.sourceline
    return EncodeError(f"{placeholder.group(0)} at {where} cannot be sent: {why}; type the value to send",
                       element=str(element.tag), line=line if isinstance(line, int) else None)


def restore_hidden_secrets(edited: Any, original_body: bytes | None) -> int:
    """Put the original password back where an edit of the annotated XML left its placeholder unchanged.

    The annotated XML shows a password element's text as `hidden_text` ("(hidden) 9 characters"). An edit
    encoded from it must send the password, never that text: each password element (SECRET_ELEMENTS) of
    `edited` whose text is still a placeholder gets the text (and the round-trip markers, so an unchanged edit
    encodes to the same bytes) of the element at the same path and occurrence in `original_body`. A password
    the user typed is left as typed. Changes `edited` in place.

    Args:
        edited: the edited XML as parsed (eas.parse_xml), comments and all.
        original_body: the WBXML body the XML was made from, as sent.

    Returns:
        How many placeholders were replaced by their original value.

    Raises:
        EncodeError: a placeholder that maps to no single original value (no original body, another number of
            such elements at that path, a length other than the placeholder's, a value the capture hid when it
            stored the body); the one-line message names the element and its line.
    """
    tag = edited.tag
    if not isinstance(tag, str) or _path(edited)[0][0] not in _SECRET_ROOTS:
        return 0  # only these commands carry a password
    edited_secrets = _secrets_by_path(edited)
    placeholders = [
        (path, index, element, match)
        for path, elements in edited_secrets.items()
        for index, element in enumerate(elements)
        if (match := _HIDDEN_TEXT.fullmatch((element.text or "").strip())) is not None and not len(element)
    ]
    if not placeholders:
        return 0
    original_secrets: dict[tuple[tuple[str, str], ...], list[Any]] | None = None
    missing = "the original body is not at hand"
    if original_body:
        try:
            original_secrets = _secrets_by_path(wbxml.decode(original_body))
        except EasError:
            missing = "the original body does not decode"
    restored: list[tuple[Any, Any]] = []
    for path, index, element, match in placeholders:
        if original_secrets is None:
            raise _unrestorable(element, path, match, missing)
        originals = original_secrets.get(path, [])
        if len(originals) != len(edited_secrets[path]):
            raise _unrestorable(element, path, match, f"the original body has {len(originals)} such element(s), "
                                f"the edit {len(edited_secrets[path])}, so it maps to no single original value")
        source = originals[index]
        value = source.text or ""
        if _HIDDEN_TEXT.fullmatch(value.strip()):
            raise _unrestorable(element, path, match, "the capture hid the original value when it stored the body")
        if len(value) != int(match.group(1)) or len(source):
            raise _unrestorable(element, path, match, f"the original value there is not the {match.group(1)} "
                                "characters the placeholder stands for")
        restored.append((element, source))
    for element, source in restored:  # only once every placeholder has its value: a refusal changes nothing
        element.text = source.text
        for name in [key for key in element.attrib if str(key).startswith(_MARKER_PREFIX)]:
            del element.attrib[name]
        for name, marker in source.attrib.items():
            if str(name).startswith(_MARKER_PREFIX):
                element.set(name, marker)
    return len(restored)
