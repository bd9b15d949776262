"""Whether a captured request still holds its credentials, and putting typed ones back (never shown in clear)."""

from __future__ import annotations

import base64
import binascii
from typing import Literal

AuthState = Literal["present", "redacted", "none"]


def header(headers: tuple[tuple[str, str], ...] | list[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name.lower():
            return value
    return None


def auth_state(headers: tuple[tuple[str, str], ...] | list[tuple[str, str]]) -> AuthState:
    """"present" when the Authorization header can be sent again, "redacted" when the capture hid its secret,
    "none" when the request had no Authorization header."""
    value = header(headers, "Authorization")
    if value is None:
        return "none"
    scheme, _, credentials = value.strip().partition(" ")
    credentials = credentials.strip()
    if not credentials or "hidden" in value.lower() or "<redacted>" in value.lower():
        return "redacted"
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return "redacted"
        user, sep, password = decoded.partition(":")
        if not sep or not password or set(password) <= {"*", "x", "X"}:
            return "redacted"
    return "present"


def basic_user(headers: tuple[tuple[str, str], ...] | list[tuple[str, str]]) -> str | None:
    """The user name the request authenticated as (from a full or redacted Basic header), when readable."""
    value = header(headers, "Authorization")
    if value is None:
        return None
    scheme, _, credentials = value.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        user, sep, _ = decoded.partition(":")
        return user if sep and user else None
    except (binascii.Error, ValueError):
        pass
    # redacted forms: the store's `Basic jdoe:<redacted>`, eas.headers' `Basic user='jdoe' (password hidden)`
    user, sep, secret = credentials.strip().partition(":")
    if sep and secret.startswith("<") and user:
        return user
    start = value.find("user=")
    if start >= 0:
        rest = value[start + 5 :].strip()
        if rest[:1] in ("'", '"'):
            end = rest.find(rest[0], 1)
            if end > 0:
                return rest[1:end]
        return rest.split()[0] if rest else None
    return None


def basic_authorization(user: str, password: str) -> str:
    """The Authorization value for HTTP Basic (MS-ASHTTP 2.2.1.1.2.1)."""
    token = base64.b64encode(f"{user}:{password}".encode("utf-8")).decode("ascii")
    return f"Basic {token}"


def replace_header(headers: list[tuple[str, str]], name: str, value: str | None) -> list[tuple[str, str]]:
    """Headers with `name` set to `value` at its first position (appended when absent; removed when None)."""
    out: list[tuple[str, str]] = []
    done = False
    for key, old in headers:
        if key.lower() == name.lower():
            if not done and value is not None:
                out.append((key, value))
            done = True
            continue
        out.append((key, old))
    if not done and value is not None:
        out.append((name, value))
    return out


__all__ = ["AuthState", "auth_state", "basic_authorization", "basic_user", "header", "replace_header"]
