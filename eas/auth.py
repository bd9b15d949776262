"""HTTP authentication as EAS clients and servers use it: Basic, Bearer (OAuth JWT), NTLM, Negotiate; secrets hidden.

Each Authorization value is read for what it is and shown without its secret:
  Basic      RFC 7617: base64 of "user:password"; the user is shown, never the password.
  Bearer     RFC 6750: an OAuth 2.0 access token (Exchange Online, hybrid modern authentication). A JWT (RFC 7519:
             header.payload.signature, base64url) shows its non-secret claims (aud, scp, tid, upn/unique_name,
             exp against the request time); the token itself never. An opaque token shows its length only.
  NTLM       MS-NLMP: a NEGOTIATE (type 1), CHALLENGE (type 2, from the server) or AUTHENTICATE (type 3) message,
             base64. Type 3 names the user, domain and workstation (MS-NLMP 2.2.1.3); its responses are never shown.
  Negotiate  RFC 4559 / RFC 4178 (SPNEGO): a Kerberos ticket, or an NTLM message wrapped or raw. An NTLM message
             inside is read as above; a Kerberos ticket names no user without the service's key.
Every read is bounds-checked and never raises: damaged values are described, not decoded.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType

__all__ = [
    "Credentials",
    "STORED_REDACTED",
    "describe_authorization",
    "explain_authenticate",
    "parse_authorization",
    "expiry_text",
    "scheme_meaning",
    "stored_authorization",
]

# How the capture store (keep_credentials off) writes a secret it dropped: "Basic alice:<redacted>".
STORED_REDACTED = "<redacted>"

# Authorization values longer than this are not decoded (a JWT is a few kilobytes; an NTLM message less).
_MAX_DECODED = 64 * 1024

# What each scheme is, for the header explanations (RFC 7617, RFC 6750, MS-NLMP, RFC 4559).
_SCHEMES: Mapping[str, str] = MappingProxyType(
    {
        "basic": "HTTP Basic (RFC 7617): user name and password in base64, readable by anyone who sees it; "
                 "only TLS protects it",
        "bearer": "OAuth 2.0 bearer token (RFC 6750), as Exchange Online and hybrid modern authentication use: "
                  "whoever holds the token is the user until it expires",
        "ntlm": "NTLM challenge-response (MS-NLMP): three messages on one connection (negotiate, the server's "
                "challenge, authenticate); the password itself is never sent",
        "negotiate": "Negotiate (SPNEGO, RFC 4559): a Kerberos ticket for the server, or NTLM messages as the "
                     "fallback",
        "digest": "HTTP Digest (RFC 7616): a hash of the password with the server's nonce",
    }
)


def scheme_meaning(scheme: str) -> str:
    """What an authentication scheme is ("Basic" -> HTTP Basic, RFC 7617 ...), for any scheme name."""
    return _SCHEMES.get(scheme.strip().lower(), f"the {scheme.strip() or '(empty)'} authentication scheme")


@dataclass(frozen=True, slots=True)
class Credentials:
    """What an Authorization value says, without its secret.

    Attributes:
        scheme: the scheme as sent ("Basic", "Bearer", "NTLM", "Negotiate", ...).
        shown: the value as it may be shown: scheme and the non-secret parts only.
        user: the user it names (Basic user, token upn/unique_name, NTLM DOMAIN\\user), or None.
        claims: for a JWT bearer token, the non-secret claims that were present (name -> value as text).
        expires: for a JWT, its exp claim (seconds since 1970), or None.
    """

    scheme: str
    shown: str
    user: str | None = None
    claims: tuple[tuple[str, str], ...] = ()
    expires: float | None = None


def parse_authorization(value: str, request_time: float | None = None) -> Credentials:
    """Read an Authorization (or Proxy-Authorization) value; the secret never reaches the result.

    Args:
        value: the header value as sent, or as the capture stored it ("Basic alice:<redacted>").
        request_time: when the request was sent (seconds since 1970): a JWT's expiry is told against it.
    """
    scheme, credentials = _scheme_and_credentials(value)
    if not scheme:
        return Credentials("", "(empty)")
    lowered = scheme.lower()
    if credentials.startswith(STORED_REDACTED):
        return _stored(scheme, credentials[len(STORED_REDACTED):].strip(), request_time)
    if not credentials:
        if lowered in _SCHEMES:
            return Credentials(scheme, scheme)
        # A scheme-less value ("Authorization: TOKEN") is itself the secret.
        return Credentials("", f"(no scheme; value hidden, {len(scheme)} characters)")
    if len(credentials) > _MAX_DECODED:
        return Credentials(scheme, f"{scheme} (credentials hidden, {len(credentials)} characters)")
    if lowered == "basic":
        return _basic(scheme, credentials)
    if lowered == "bearer":
        return _bearer(scheme, credentials, request_time)
    if lowered in ("ntlm", "negotiate"):
        return _ntlm_or_kerberos(scheme, credentials)
    return Credentials(scheme, f"{scheme} (credentials hidden, {len(credentials)} characters)")


def _scheme_and_credentials(value: str) -> tuple[str, str]:
    """An Authorization value's scheme and credentials, split at the first space or tab."""
    scheme, _, credentials = value.strip().partition(" ")
    credentials = credentials.strip()
    if "\t" in scheme:  # "Basic<TAB>..." : the tab separates the scheme too
        scheme, _, rest = scheme.partition("\t")
        credentials = (rest + " " + credentials).strip()
    return scheme, credentials


def describe_authorization(value: str, request_time: float | None = None) -> str:
    """The Authorization value as it may be shown (see parse_authorization)."""
    return parse_authorization(value, request_time).shown


def _basic(scheme: str, credentials: str) -> Credentials:
    user, sep, rest = credentials.partition(":")
    if sep and rest.strip() == STORED_REDACTED:
        return Credentials(scheme, f"Basic user={user!r} (password not stored)", user or None)
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return Credentials(scheme, "Basic (credentials not valid base64; hidden)")
    user, sep, _password = decoded.partition(":")
    if not sep:
        return Credentials(scheme, "Basic (no ':' between user and password; hidden)")
    return Credentials(scheme, f"Basic user={user!r} (password hidden)", user or None)


# ---- Bearer: JWT claims (RFC 7519 4.1; Microsoft identity platform access token claims) ------------------------

# The claims shown, in this order: who the token is for (aud), what it allows (scp, roles), the tenant (tid), the
# user (upn, unique_name, preferred_username), the issuer and the times. Signatures and nonces are never shown.
_SHOWN_CLAIMS = ("aud", "scp", "roles", "tid", "upn", "unique_name", "preferred_username", "iss", "nbf", "exp")
# The claims that name the user, most specific first.
_USER_CLAIMS = ("upn", "unique_name", "preferred_username", "email")
_MAX_CLAIM = 200


def _b64url(text: str) -> bytes | None:
    if not re.fullmatch(r"[A-Za-z0-9_-]*={0,2}", text):
        return None
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


def _jwt_claims(token: str) -> dict[str, object] | None:
    """The payload of a JWS compact JWT (three base64url parts, a JSON object in the second), or None."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = _b64url(parts[1])
    return None if payload is None else _json_object(payload)


def _json_object(text: str | bytes) -> dict[str, object] | None:
    """The JSON object `text` holds, or None (not JSON, or JSON of another kind)."""
    try:
        claims = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return claims if isinstance(claims, dict) else None


def _claim_text(value: object) -> str:
    if isinstance(value, list):
        text = " ".join(str(item) for item in value)
    else:
        text = str(value)
    text = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)
    return text if len(text) <= _MAX_CLAIM else text[:_MAX_CLAIM] + "..."


def _time_text(seconds: float) -> str:
    try:
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return f"{seconds:g} (out of range)"


def _span(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def expiry_text(expires: float, request_time: float | None) -> str:
    """ "2026-12-07 03:10:00 UTC (expired 3 min before this request)", or without the comparison."""
    shown = _time_text(expires)
    if request_time is None:
        return shown
    left = expires - request_time
    if left <= 0:
        return f"{shown} (expired {_span(left)} before this request)"
    return f"{shown} (valid for {_span(left)} after this request)"


def _bearer(scheme: str, token: str, request_time: float | None) -> Credentials:
    claims = _jwt_claims(token)
    if claims is None:
        return Credentials(scheme, f"Bearer (opaque token hidden, {len(token)} characters)")
    return _from_claims(scheme, claims, request_time, "token hidden")


def _from_claims(scheme: str, claims: Mapping[str, object], request_time: float | None, hidden: str) -> Credentials:
    shown: list[tuple[str, str]] = []
    expires: float | None = None
    for name in _SHOWN_CLAIMS:
        value = claims.get(name)
        if value is None or isinstance(value, dict):
            continue
        if name in ("exp", "nbf") and isinstance(value, (int, float)) and not isinstance(value, bool):
            if name == "exp":
                expires = float(value)
                shown.append((name, expiry_text(expires, request_time)))
            else:
                shown.append((name, _time_text(float(value))))
            continue
        shown.append((name, _claim_text(value)))
    user = next((_claim_text(claims[name]) for name in _USER_CLAIMS
                 if isinstance(claims.get(name), str) and claims[name]), None)
    pieces = ", ".join(f"{name}={text!r}" if name not in ("exp", "nbf") else f"{name} {text}"
                       for name, text in shown)
    text = f"Bearer JWT ({pieces}; {hidden})" if pieces else f"Bearer JWT (no readable claims; {hidden})"
    return Credentials(scheme, text, user, tuple(shown), expires)


# ---- The stored form: what a capture keeps of an Authorization value ----------------------------------------------


def stored_authorization(value: str) -> str:
    """What a capture may keep of an Authorization value: the scheme, `<redacted>` for the secret, and what
    parse_authorization shows without it (the Basic user; a JWT's non-secret claims; the NTLM type 3 user), so
    that the stored value still names the user. `Basic alice:<redacted>`, `Bearer <redacted> {"upn": ...}`."""
    credentials = parse_authorization(value)
    if not credentials.scheme:
        return STORED_REDACTED
    lowered = credentials.scheme.lower()
    if lowered == "basic" and credentials.user:
        return f"Basic {credentials.user}:{STORED_REDACTED}"
    kept: dict[str, object] = {}
    if lowered == "bearer" and (credentials.claims or credentials.user):  # email names a user, shown or not
        _scheme, token = _scheme_and_credentials(value)
        claims = _jwt_claims(token)
        if claims is None and token.startswith(STORED_REDACTED):
            claims = _stored_claims(token[len(STORED_REDACTED):])
        kept = {name: claims[name] for name in (*_SHOWN_CLAIMS, *_USER_CLAIMS)
                if claims is not None and name in claims and not isinstance(claims[name], dict)}
    elif credentials.user:
        kept = {"user": credentials.user}
    suffix = " " + json.dumps(kept, ensure_ascii=False, separators=(",", ":")) if kept else ""
    return f"{credentials.scheme} {STORED_REDACTED}{suffix}"


def _stored_claims(text: str) -> dict[str, object] | None:
    text = text.strip()
    return _json_object(text) if text else None


def _stored(scheme: str, rest: str, request_time: float | None) -> Credentials:
    """An Authorization value as stored_authorization wrote it."""
    claims = _stored_claims(rest)
    if claims is None:
        return Credentials(scheme, f"{scheme} (credentials not stored)")
    if scheme.lower() == "bearer":
        return _from_claims(scheme, claims, request_time, "token not stored")
    user = claims.get("user")
    user_text = _claim_text(user) if isinstance(user, str) and user else None
    who = f" user={user_text!r}" if user_text else ""
    shown = f"{scheme}{who} (credentials not stored)"
    return Credentials(scheme, shown, user_text)


# ---- NTLM (MS-NLMP 2.2.1) and Negotiate ------------------------------------------------------------------------

_NTLM_SIGNATURE = b"NTLMSSP\x00"
_NEGOTIATE_UNICODE = 0x00000001  # MS-NLMP 2.2.2.5 flag A
_NTLM_TYPES: Mapping[int, str] = MappingProxyType(
    {1: "NEGOTIATE (type 1)", 2: "CHALLENGE (type 2)", 3: "AUTHENTICATE (type 3)"}
)


def _ntlm_field(message: bytes, offset: int, unicode: bool) -> str | None:
    """A string of an NTLM message from its 8-byte field descriptor (Len, MaxLen, BufferOffset) at `offset`."""
    if offset + 8 > len(message):
        return None
    length, _max_length, start = struct.unpack_from("<HHI", message, offset)
    if length == 0:
        return ""
    if start + length > len(message):
        return None
    raw = message[start : start + length]
    text = raw.decode("utf-16-le" if unicode else "cp437", errors="replace")
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)


def _ntlm(message: bytes) -> tuple[str, str | None]:
    """(description, user) of an NTLM message starting with its signature."""
    if len(message) < 12:
        return "NTLM message cut short", None
    kind = struct.unpack_from("<I", message, 8)[0]
    name = _NTLM_TYPES.get(kind, f"unknown NTLM message type {kind}")
    if kind != 3:
        return name, None
    # MS-NLMP 2.2.1.3 AUTHENTICATE_MESSAGE: LmChallengeResponse 12, NtChallengeResponse 20, DomainName 28,
    # UserName 36, Workstation 44, EncryptedRandomSessionKey 52, NegotiateFlags 60.
    if len(message) < 64:
        return f"{name}, header cut short", None
    flags = struct.unpack_from("<I", message, 60)[0]
    unicode = bool(flags & _NEGOTIATE_UNICODE)
    domain = _ntlm_field(message, 28, unicode)
    user = _ntlm_field(message, 36, unicode)
    workstation = _ntlm_field(message, 44, unicode)
    if user is None or domain is None:
        return f"{name}, a field points outside the message", None
    who = f"{domain}\\{user}" if domain else user
    pieces = [name, f"user '{who}'" if user else "anonymous"]
    if workstation:
        pieces.append(f"workstation '{workstation}'")
    return ", ".join(pieces) + "; responses hidden", (who if user else None)


def _ntlm_or_kerberos(scheme: str, credentials: str) -> Credentials:
    try:
        data = base64.b64decode(credentials, validate=True)
    except (binascii.Error, ValueError):
        return Credentials(scheme, f"{scheme} (token not valid base64; hidden, {len(credentials)} characters)")
    start = data.find(_NTLM_SIGNATURE)
    if start >= 0:  # raw NTLM, or NTLM wrapped in SPNEGO (RFC 4178 negTokenInit / negTokenResp)
        description, user = _ntlm(data[start:])
        wrapped = "" if start == 0 else " in SPNEGO"
        kind = "" if scheme.lower() == "ntlm" else "NTLM "
        return Credentials(scheme, f"{scheme}: {kind}{description}{wrapped}", user)
    if scheme.lower() == "negotiate":
        return Credentials(scheme, f"Negotiate: Kerberos/SPNEGO token ({len(data)} bytes, hidden; names no "
                                   "user without the service key)")
    return Credentials(scheme, f"{scheme} (not an NTLM message; hidden, {len(data)} bytes)")


# ---- WWW-Authenticate (RFC 9110 11.6.1) ---------------------------------------------------------------------------

# The well-known principal of Microsoft's access control service in hybrid OAuth's trusted_issuers.
_ACS_PRINCIPAL = "00000001-0000-0000-c000-000000000000"
_PARAM = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*,?')


def _challenge_parameters(text: str) -> dict[str, str]:
    parameters: dict[str, str] = {}
    for match in _PARAM.finditer(text):
        value = match.group(2)
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        parameters.setdefault(match.group(1).lower(), value)
    return parameters


def explain_authenticate(value: str) -> str:
    """What a WWW-Authenticate challenge asks the client for.

    Hybrid Exchange answers `Bearer authorization_uri=..., trusted_issuers=...` (OAuth for EAS): the client should
    get an access token from the authorization server and send it as `Authorization: Bearer`.
    """
    scheme, _, rest = value.strip().partition(" ")
    rest = rest.strip()
    lowered = scheme.lower()
    if lowered == "bearer":
        parameters = _challenge_parameters(rest)
        pieces = ["the server takes OAuth 2.0 access tokens (modern authentication): the client gets one from the "
                  "authorization server and sends Authorization: Bearer <token>"]
        if "authorization_uri" in parameters:
            pieces.append(f"authorization server {parameters['authorization_uri']}")
        if "trusted_issuers" in parameters:
            issuers = parameters["trusted_issuers"]
            known = (f" ({_ACS_PRINCIPAL} is Microsoft's token service, Azure AD; @* any tenant)"
                     if _ACS_PRINCIPAL in issuers else "")
            pieces.append(f"tokens accepted from issuers (principal@tenant) {issuers}{known}")
        if "realm" in parameters:
            pieces.append(f"realm {parameters['realm']!r}")
        if "error" in parameters:
            described = parameters.get("error_description")
            pieces.append(f"the token sent was refused: {parameters['error']}"
                          + (f" ({described})" if described else ""))
        return "; ".join(pieces)
    if lowered == "basic":
        realm = _challenge_parameters(rest).get("realm")
        return scheme_meaning("basic") + (f"; realm {realm!r}" if realm else "")
    if lowered in ("ntlm", "negotiate"):
        if rest:
            try:
                data = base64.b64decode(rest, validate=True)
            except (binascii.Error, ValueError):
                data = b""
            start = data.find(_NTLM_SIGNATURE)
            if start >= 0:
                description, _user = _ntlm(data[start:])
                return f"{scheme} continues: the server's NTLM {description}; the client answers with type 3"
            return f"{scheme} continues: the server's token ({len(data)} bytes)"
        return scheme_meaning(lowered) + "; offered"
    return scheme_meaning(scheme) + "; offered"
