"""The one redaction of what a capture stores: secret headers, secret URL query parameters, body passwords.

eas.sensitive decides what is a secret (is_secret_header, is_secret_parameter, SECRET_ELEMENTS) and eas.auth how
an Authorization value is kept (stored_authorization); this module applies both to a flow before it is written,
so the SQLite file, its WAL, the full-text index and every export hold no secret unless keep_credentials is set.
X-MS-PolicyKey is kept: it names the security policy the device acknowledged (MS-ASPROV 2.2.2.42) and grants no
access without the credentials, while the diagnosis of provisioning loops needs it.
"""

from __future__ import annotations

import functools

from eas.auth import STORED_REDACTED as REDACTED
from eas.auth import stored_authorization
from eas.sensitive import SECRET_ELEMENTS, hide_header_value, is_secret_header, redact_url, redact_wbxml

from capture.model import Headers

CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization"})
# The root elements of the requests that can carry a password (the pages of eas.sensitive.SECRET_ELEMENTS).
SECRET_BODY_ROOTS = frozenset(page for page, _local in SECRET_ELEMENTS)


def redact_cookies(value: str, *, set_cookie: bool) -> str:
    """Cookie names kept, values `<redacted>` (a nameless cookie whole; `Set-Cookie` keeps its attributes)."""
    return hide_header_value("set-cookie" if set_cookie else "cookie", value, REDACTED)


# Header names remembered by `_secret_name`: a capture holds the same few dozen names again and again.
HEADER_NAME_MEMO_SIZE = 1024


@functools.lru_cache(maxsize=HEADER_NAME_MEMO_SIZE)
def _secret_name(name: str) -> str | None:
    """The header's name in lower case when its value is a secret (eas.sensitive.is_secret_header), else None."""
    lower = name.strip().lower()
    return lower if is_secret_header(lower) else None


def redact_header(name: str, value: str) -> str:
    """One header's value as a capture keeps it: Authorization in eas.auth's stored form (`Basic alice:<redacted>`),
    cookies with their values `<redacted>`, any other secret header (X-Auth-Token ...) `<redacted>` whole."""
    lower = _secret_name(name)
    if lower is None:
        return value
    if lower in CREDENTIAL_HEADERS:
        return stored_authorization(value)
    return hide_header_value(lower, value, REDACTED)


def redact_headers(headers: Headers | None) -> Headers | None:
    """The headers with the secrets of every secret header (eas.sensitive.is_secret_header) replaced."""
    if headers is None:
        return None
    return tuple((name, redact_header(name, value)) for name, value in headers)


# URLs remembered by redact_stored_url: a device sends the same few command URLs again and again.
URL_MEMO_SIZE = 1024


@functools.lru_cache(maxsize=URL_MEMO_SIZE)
def redact_stored_url(url: str) -> str:
    """A URL or path (query included) with the values of secret query parameters and a URL password hidden."""
    return redact_url(url) if url else url


def redact_request_body(body: bytes, root_tag: str | None) -> bytes:
    """A WBXML request body with its passwords hidden (Settings DevicePassword ...), re-encoded; the body as it
    was when its root (the decoded body's root tag, as `Settings` or `{Settings}Settings`) cannot hold one."""
    if not body or root_tag is None:
        return body
    local = root_tag.rsplit("}", 1)[-1]
    if local not in SECRET_BODY_ROOTS:
        return body
    redacted = redact_wbxml(body)
    return body if redacted is None else redacted


def with_content_length(headers: Headers, body: bytes) -> Headers:
    """The headers with Content-Length (when present) telling the length of `body`: a redacted body is shorter or
    longer than the one sent, and an export must stay a valid HTTP message."""
    return tuple((name, str(len(body)) if name.lower() == "content-length" else value) for name, value in headers)
