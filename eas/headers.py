"""EAS HTTP headers and status codes explained (MS-ASHTTP 2.2.1.1.2, 2.2.2.1.1, 2.2.2.1.2); credentials hidden."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType

from . import auth, sensitive
from .constants import MULTIPART_CONTENT_TYPE, WBXML_CONTENT_TYPES
from .model import HeaderNote

__all__ = [
    "HeaderNote",
    "explain_headers",
    "explain_http_status",
    "redact_authorization",
    "basic_user",
    "credential_user",
    "shown_header_value",
    "header_value",
    "offered_versions",
    "offered_commands",
    "options_summary",
]

# The values shown for headers are cut to this many characters (a header can be arbitrarily long).
_MAX_SHOWN = 2000


def header_value(headers: Sequence[tuple[str, str]], name: str) -> str | None:
    """The first value of header `name` (case-insensitive), or None."""
    wanted = name.lower()
    for key, value in headers:
        if key.lower() == wanted:
            return value
    return None


def _split_list(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def offered_versions(headers: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    """Protocol versions of an MS-ASProtocolVersions response header (OPTIONS), in the order sent."""
    value = header_value(headers, "MS-ASProtocolVersions")
    return _split_list(value) if value else ()


def offered_commands(headers: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    """Commands of an MS-ASProtocolCommands response header (OPTIONS), in the order sent."""
    value = header_value(headers, "MS-ASProtocolCommands")
    return _split_list(value) if value else ()


def _version_key(version: str) -> tuple[int, ...]:
    parts: list[int] = []
    for piece in version.split("."):
        parts.append(int(piece) if piece.isdigit() else -1)
    return tuple(parts)


def options_summary(headers: Sequence[tuple[str, str]]) -> str | None:
    """One line on what an OPTIONS response offers (versions, newest, commands), or None without those headers.

    MS-ASHTTP 2.2.3: the client should use the newest version that both sides support.
    """
    versions = offered_versions(headers)
    commands = offered_commands(headers)
    if not versions and not commands:
        return None
    pieces = []
    if versions:
        newest = max(versions, key=_version_key)
        pieces.append(f"versions {', '.join(versions)} (newest {newest})")
    if commands:
        pieces.append(f"{len(commands)} commands: {', '.join(commands)}")
    return "server offers " + "; ".join(pieces)


def redact_authorization(value: str, request_time: float | None = None) -> str:
    """The Authorization value with its secret removed, read for its scheme (see eas.auth).

    Basic shows the user name only, Bearer the non-secret claims of its JWT (expiry told against `request_time`),
    NTLM the user of a type 3 message; the password, token or response is never part of the result.
    """
    return auth.describe_authorization(value, request_time)


def basic_user(value: str) -> str | None:
    """The user name of a Basic Authorization value, or None (other schemes, undecodable)."""
    credentials = auth.parse_authorization(value)
    return credentials.user if credentials.scheme.lower() == "basic" else None


def credential_user(value: str) -> str | None:
    """The user an Authorization value names, whatever its scheme: the Basic user, a bearer token's upn or
    unique_name claim, the DOMAIN\\user of an NTLM type 3 message; None when it names none."""
    return auth.parse_authorization(value).user


def shown_header_value(name: str, value: str, request_time: float | None = None) -> str:
    """A header's value as it may be shown: secrets (eas.sensitive.is_secret_header) hidden, the rest as sent."""
    key = name.lower()
    if key in ("authorization", "proxy-authorization"):
        return redact_authorization(value, request_time)
    if not sensitive.is_secret_header(key):
        return value
    if key in ("cookie", "cookie2", "set-cookie", "set-cookie2"):
        return sensitive.hide_header_value(key, value)  # the names and attributes may be shown, not the values
    return f"(hidden, {len(value)} characters)"


def _authorization_meaning(value: str) -> str:
    scheme = auth.parse_authorization(value).scheme
    return auth.scheme_meaning(scheme) if scheme else "credentials without a scheme (not an HTTP scheme)"


def _content_type_meaning(value: str) -> str:
    media = value.split(";", 1)[0].strip().lower()
    if media in WBXML_CONTENT_TYPES:
        return "body is WBXML (MS-ASWBXML)"
    if media == MULTIPART_CONTENT_TYPE:
        return "body is a multipart ItemOperations response: a part table, then the parts (MS-ASCMD 2.2.2.10.1)"
    if media == "message/rfc822":
        return "body is a MIME message (SendMail/SmartReply/SmartForward before 14.0)"
    if media in ("text/xml", "application/xml"):
        return "body is XML (Autodiscover POX)"
    if media == "application/json":
        return "body is JSON"
    if media.startswith("text/"):
        return "body is text"
    return f"body type {media or '(none)'}"


def _policy_key_meaning(value: str) -> str:
    if value.strip() == "0":
        return "policy key 0: the device has no policy yet and must provision (Provision command)"
    return "the policy key the device got from its last Provision; the server answers 449 when it is stale"


def _accept_multipart_meaning(value: str) -> str:
    if value.strip().upper() == "T":
        return "the client asks for ItemOperations data as application/vnd.ms-sync.multipart"
    return "the client wants inline (base64 in WBXML) ItemOperations data"


def _versions_meaning(value: str) -> str:
    versions = _split_list(value)
    if not versions:
        return "protocol versions the server supports (none listed)"
    return f"protocol versions the server supports; newest {max(versions, key=_version_key)}"


def _commands_meaning(value: str) -> str:
    return f"{len(_split_list(value))} commands the server supports"


def _retry_after_meaning(value: str) -> str:
    text = value.strip()
    if text.isdigit():
        return f"wait {int(text)} seconds before the next request"
    return f"wait until {text} before the next request"


def _fixed(text: str) -> Callable[[str], str]:
    return lambda _value: text


# MS-ASHTTP 2.2.1.1.2 Request Headers (Authorization 2.2.1.1.2.1, Content-Type 2.2.1.1.2.2; MS-ASAcceptMultiPart,
# MS-ASProtocolVersion, User-Agent and X-MS-PolicyKey are the later subsections of 2.2.1.1.2 in the 14.x revisions).
_REQUEST_MEANINGS: Mapping[str, Callable[[str], str]] = MappingProxyType(
    {
        "authorization": _authorization_meaning,
        "proxy-authorization": lambda v: f"credentials for a proxy: {_authorization_meaning(v)}",
        "content-type": _content_type_meaning,
        "ms-asprotocolversion": lambda v: f"the client speaks protocol version {v.strip()}",
        "x-ms-policykey": _policy_key_meaning,
        "ms-asacceptmultipart": _accept_multipart_meaning,
        "user-agent": _fixed("the client software"),
        "x-ms-clientinfo": _fixed("client details sent by some clients (not defined by MS-ASHTTP)"),
        "x-ms-clientapplication": _fixed("client application sent by some clients (not defined by MS-ASHTTP)"),
        "x-ms-deviceinfo": _fixed("device information sent by some clients (not defined by MS-ASHTTP)"),
        "content-encoding": lambda v: f"the body is compressed with {v.strip()}",
        "accept-encoding": _fixed("compressions the client accepts for the response"),
        "content-length": lambda v: f"{v.strip()} bytes of body",
        "host": _fixed("the server name the client asked for"),
        "cookie": _fixed("cookies (values hidden)"),
    }
)

# MS-ASHTTP 2.2.2.1.2 Response Headers (MS-Server-ActiveSync, X-MS-RP, X-MS-MV); MS-ASProtocolVersions and
# MS-ASProtocolCommands are the OPTIONS answer (MS-ASHTTP 2.2.3, example 4.2); X-MS-Location with 451
# (2.2.2.1.1.4); Retry-After with 503 (the 14.x revisions of 2.2.2.1.1).
_RESPONSE_MEANINGS: Mapping[str, Callable[[str], str]] = MappingProxyType(
    {
        "content-type": _content_type_meaning,
        "content-encoding": lambda v: f"the body is compressed with {v.strip()}",
        "content-length": lambda v: f"{v.strip()} bytes of body",
        "ms-server-activesync": lambda v: f"ActiveSync server version {v.strip()}",
        "ms-asprotocolversions": _versions_meaning,
        "ms-asprotocolcommands": _commands_meaning,
        "ms-asprotocolrevisions": _fixed("protocol revisions the server supports"),
        "x-ms-location": lambda v: f"redirect: use {v.strip()} for every later request",
        "x-ms-rp": _fixed("the server was upgraded: the client must resynchronize fully (versions listed)"),
        "x-ms-mv": lambda v: f"server build {v.strip()}",
        "retry-after": _retry_after_meaning,
        "x-ms-asthrottle": lambda v: f"the server throttles this client: {v.strip()}",
        "x-ms-asthrottlereason": lambda v: f"why the server throttles: {v.strip()}",
        "x-ms-credentialsexpire": lambda v: f"the password expires in {v.strip()} days",
        "x-ms-credentialserviceurl": _fixed("where the user can change the password"),
        "www-authenticate": auth.explain_authenticate,
        "proxy-authenticate": lambda v: f"the proxy asks for credentials: {auth.explain_authenticate(v)}",
        "allow": lambda v: f"methods allowed: {v.strip()}",
        "public": lambda v: f"methods allowed: {v.strip()}",
        "set-cookie": _fixed("a cookie for the client (value hidden)"),
        "cache-control": _fixed("caching rule"),
        "date": _fixed("when the response was made"),
        "server": _fixed("the web server software"),
    }
)


def explain_headers(headers: Sequence[tuple[str, str]], *, response: bool,
                    request_time: float | None = None) -> list[HeaderNote]:
    """Each header in order, with its value (credentials hidden) and what it means for EAS.

    Args:
        headers: (name, value) pairs as sent.
        response: True for response headers, False for request headers.
        request_time: when the request was sent (seconds since 1970): a bearer token's expiry is told against it.
    """
    notes: list[HeaderNote] = []
    for name, value in headers:
        if name.lower() in _TIMED_HEADERS:
            notes.append(_header_note(name, value, response, request_time))
        else:  # the same few headers come back in every request of a device: each note is made once
            notes.append(_remembered_header_note(name, value, response))
    return notes


# Headers whose note depends on when the request was sent (a bearer token's expiry).
_TIMED_HEADERS = frozenset({"authorization", "proxy-authorization"})
HEADER_NOTE_MEMO_SIZE = 4096


def _header_note(name: str, value: str, response: bool, request_time: float | None) -> HeaderNote:
    key = name.lower()
    shown = shown_header_value(key, value, request_time)
    if len(shown) > _MAX_SHOWN:
        shown = shown[:_MAX_SHOWN] + f"... ({len(shown)} characters)"
    explain = (_RESPONSE_MEANINGS if response else _REQUEST_MEANINGS).get(key)
    if explain is None and sensitive.is_secret_header(key):
        explain = _fixed("a credential (value hidden)")
    return HeaderNote(name=name, shown_value=shown, meaning=explain(value) if explain else None)


@functools.lru_cache(maxsize=HEADER_NOTE_MEMO_SIZE)
def _remembered_header_note(name: str, value: str, response: bool) -> HeaderNote:
    return _header_note(name, value, response, None)


# MS-ASHTTP 2.2.2.1.1 (status line table, with 451) and the troubleshooting advice of 2.2.2.1.1.2-2.2.2.1.1.4;
# 449 is the 14.x revisions' "provision first" status (MS-ASPROV 3.2.5.1 gives the same meaning).
_STATUS_MEANINGS: Mapping[int, str] = MappingProxyType(
    {
        200: "the command succeeded",
        400: "the request or its headers are wrong (bad query, missing header, body the server cannot read)",
        401: "authentication missing or refused; check the credentials, then run Autodiscover again",
        403: "the user is not allowed to use ActiveSync (or the device is blocked); run Autodiscover again",
        404: "no such URI, or this server does not offer ActiveSync",
        449: "the device must provision first (send Provision, then retry with the new X-MS-PolicyKey)",
        451: "wrong server for this mailbox: redirect permanently to X-MS-Location; without it, run Autodiscover",
        500: "the server failed on an apparently valid request; the client should run Autodiscover again",
        501: "the server does not implement this command or method",
        502: "proxy error: the server behind it could not be reached",
        503: "the service is unavailable (too many requests queued); retry later, after Retry-After if given",
        507: "the user's mailbox is full",
    }
)

# MS-ASHTTP 2.2.2.1.1.1 status code ranges.
_STATUS_RANGES: tuple[tuple[int, int, str], ...] = (
    (100, 199, "informational"),
    (200, 299, "success"),
    (300, 399, "redirection: the client must act before the request can complete"),
    (400, 499, "client error: the request is wrong or cannot be fulfilled"),
    (500, 599, "server error: the server failed on an apparently valid request"),
)


def explain_http_status(code: int, headers: Sequence[tuple[str, str]] = ()) -> str | None:
    """What an HTTP status means to an EAS client, with the target of a 451 and the wait of a 503.

    Args:
        code: the HTTP status code.
        headers: the response headers (X-MS-Location, Retry-After are read from them).
    Returns:
        A sentence, or None for codes outside 100-599.
    """
    meaning = _STATUS_MEANINGS.get(code)
    if meaning is None:
        for low, high, text in _STATUS_RANGES:
            if low <= code <= high:
                meaning = text
                break
    if meaning is None:
        return None
    if code == 451:
        location = header_value(headers, "X-MS-Location")
        if location:
            meaning += f"; redirect target {location.strip()}"
    if code in (503, 429):
        retry = header_value(headers, "Retry-After")
        if retry:
            meaning += f"; {_retry_after_meaning(retry)}"
    return meaning
