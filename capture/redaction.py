"""The one redaction of secrets in stored headers: Authorization (eas.auth's stored form), cookies, Set-Cookie."""

from __future__ import annotations

from eas.auth import STORED_REDACTED as REDACTED
from eas.auth import stored_authorization

from capture.model import Headers

CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization"})
COOKIE_HEADERS = frozenset({"cookie", "set-cookie"})


def redact_cookies(value: str, *, set_cookie: bool) -> str:
    """Cookie names kept, values redacted (`Set-Cookie` keeps its attributes)."""
    pairs = value.split(";")
    redacted: list[str] = []
    for index, pair in enumerate(pairs):
        name, equals, _ = pair.partition("=")
        if set_cookie and index > 0:
            redacted.append(pair)
        elif equals:
            redacted.append(f"{name}={REDACTED}")
        else:
            redacted.append(pair)
    return ";".join(redacted)


def redact_headers(headers: Headers | None) -> Headers | None:
    """Authorization, Proxy-Authorization, Cookie and Set-Cookie with their secrets replaced."""
    if headers is None:
        return None
    out: list[tuple[str, str]] = []
    for name, value in headers:
        lower = name.lower()
        if lower in CREDENTIAL_HEADERS:
            value = stored_authorization(value)  # `Basic alice:<redacted>`: eas.auth owns the reading
        elif lower in COOKIE_HEADERS:
            value = redact_cookies(value, set_cookie=lower == "set-cookie")
        out.append((name, value))
    return tuple(out)
