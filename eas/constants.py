"""The facts every layer shares, defined once: which paths are EAS, the EAS content types, the marker namespace."""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import unquote

__all__ = [
    "AUTODISCOVER_PATH",
    "EAS_PATH",
    "MULTIPART_CONTENT_TYPE",
    "WBXML_CONTENT_TYPES",
    "WBXML_NS",
    "WBXML_PREFIX",
    "is_autodiscover_path",
    "is_eas_path",
    "path_kind",
]

# MS-ASHTTP 2.2.1.1.1: every EAS command is a request to /Microsoft-Server-ActiveSync. Front ends put it
# behind a prefix (SOGo: /SOGo/Microsoft-Server-ActiveSync) and Exchange proxies append /Proxy/..., so the
# name must end the path or be followed by a slash: /Microsoft-Server-ActiveSyncX is another resource.
EAS_PATH: Final = re.compile(r"/microsoft-server-activesync(?:/[^?#]*)?$", re.IGNORECASE)

# MS-OXDSCLI 2.2 (POX: /autodiscover/autodiscover.xml) and the JSON variant
# (/autodiscover/autodiscover.json?Email=...&Protocol=ActiveSync, /autodiscover/autodiscover.json/v1.0/...).
AUTODISCOVER_PATH: Final = re.compile(r"/autodiscover/autodiscover\.(?:xml|json)(?:/[^?#]*)?$", re.IGNORECASE)

# MS-ASHTTP 2.2.1.1.2.2: a WBXML body is `application/vnd.ms-sync.wbxml`, or the shortened
# `application/vnd.ms-sync`; media types compare case-insensitively (RFC 9110 8.3.1), so these are lower case.
WBXML_CONTENT_TYPES: Final = frozenset({"application/vnd.ms-sync.wbxml", "application/vnd.ms-sync"})
# MS-ASCMD 2.2.2.10.1 (ItemOperations, delivery of content requested by Fetch): a multipart response.
MULTIPART_CONTENT_TYPE: Final = "application/vnd.ms-sync.multipart"

# The namespace of the codec's round-trip markers and placeholders (eas.wbxml's theory of operation): what
# the XML shows of the bytes beyond MS-ASWBXML's canonical encoding. Ours, not Microsoft's.
WBXML_NS: Final = "urn:eas-inspector:wbxml"
WBXML_PREFIX: Final = "wbxml"


def _path_only(path: str) -> str:
    """The path of a request target, a path or a whole URL: query and fragment cut, %-escapes decoded."""
    return unquote(path.split("?", 1)[0].split("#", 1)[0])


def is_eas_path(path: str) -> bool:
    """Whether a request path (or URL; query allowed) addresses the EAS endpoint (MS-ASHTTP 2.2.1.1.1)."""
    return EAS_PATH.search(_path_only(path)) is not None


def is_autodiscover_path(path: str) -> bool:
    """Whether a request path (or URL; query allowed) is an Autodiscover request (MS-OXDSCLI)."""
    return AUTODISCOVER_PATH.search(_path_only(path)) is not None


def path_kind(path: str) -> str | None:
    """"eas", "autodiscover", or None for any other path."""
    path_only = _path_only(path)
    if EAS_PATH.search(path_only):
        return "eas"
    if AUTODISCOVER_PATH.search(path_only):
        return "autodiscover"
    return None
