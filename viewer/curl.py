"""A captured request as a shell command to send it again: curl with the bytes, or the XML through `eas-inspector encode`.

No secret is written out: HTTP Basic becomes `-u USER` (curl asks for the password), any other Authorization or
Cookie value is read from an environment variable the command names.
"""

from __future__ import annotations

import base64
import shlex
from collections.abc import Sequence
from urllib.parse import urlsplit

from viewer import credentials

# Headers curl writes itself from the URL and the body (MS-ASHTTP 2.2.1.1.2 lists the ones EAS needs; these are
# plain HTTP framing).
_FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "proxy-connection", "expect"})
# Headers whose values are secrets, and the environment variable the command reads each from instead.
_SECRET_HEADERS = {"authorization": "EAS_AUTHORIZATION", "cookie": "EAS_COOKIE"}
RESPONSE_FILE = "response.wbxml"
XML_END = "EAS_XML"  # the here-document's end marker


def _header_options(url: str, headers: Sequence[tuple[str, str]], drop: frozenset[str]) -> list[str]:
    options: list[str] = []
    netloc = urlsplit(url).netloc
    for name, value in headers:
        lower = name.lower()
        if lower in _FRAMING_HEADERS or lower in drop:
            continue
        if lower == "host" and value == netloc:
            continue  # curl sends the same Host from the URL
        if lower == "authorization":
            user = credentials.basic_user(list(headers)) if value.strip().lower().startswith("basic") else None
            if user is not None:
                options += ["-u", shlex.quote(user)]
                continue
        if lower in _SECRET_HEADERS:
            options += ["-H", f'"{name}: ${_SECRET_HEADERS[lower]}"']
            continue
        options += ["-H", shlex.quote(f"{name}: {value}")]
    return options


def _curl(method: str, url: str, header_options: list[str], with_body: bool) -> str:
    words = ["curl", "-sS", "-D", "-", "-o", RESPONSE_FILE]
    if method != ("POST" if with_body else "GET"):
        words += ["-X", shlex.quote(method)]
    words += header_options
    if with_body:
        words += ["--data-binary", "@-"]
    words.append(shlex.quote(url))
    return " ".join(words)


def curl_command(method: str, url: str, headers: Sequence[tuple[str, str]], body: bytes) -> str:
    """A shell command that sends this request again byte for byte (the body through base64, so WBXML survives).

    The answer's headers go to standard output, its body to `response.wbxml`.
    """
    options = _header_options(url, headers, frozenset())
    if not body:
        return _curl(method, url, options, with_body=False)
    encoded = base64.b64encode(body).decode("ascii")
    return f"printf %s {encoded} | base64 -d | " + _curl(method, url, options, with_body=True)


def encode_curl_command(method: str, url: str, headers: Sequence[tuple[str, str]], xml: str) -> str:
    """A shell command that encodes `xml` with `eas-inspector encode` and sends it: edit the XML, then run it.

    Content-Encoding is dropped: the encoder's output is sent as it is.
    """
    options = _header_options(url, headers, frozenset({"content-encoding"}))
    body = xml if xml.endswith("\n") else xml + "\n"
    return f"eas-inspector encode - <<'{XML_END}' | " + _curl(method, url, options, with_body=True) + f"\n{body}{XML_END}\n"


__all__ = ["RESPONSE_FILE", "curl_command", "encode_curl_command"]
