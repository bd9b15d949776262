"""The MS-ASWBXML code pages 0-25 as data: token -> tag name, per page, with the spec section of each."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

# Namespace of the decoder's own round-trip markers (attributes only; never sent on the wire).
WBXML_NS = "urn:eas-inspector:wbxml"


@dataclass(frozen=True, slots=True)
class CodePage:
    """One MS-ASWBXML code page.

    Attributes:
        number: the page number used by SWITCH_PAGE (0-25).
        name: the namespace name of MS-ASWBXML / MS-ASCMD examples, used as the XML namespace URI.
        prefix: the short prefix the decoder writes for this page when it is not the root's page.
        section: the MS-ASWBXML section that defines the page.
        added_in: the protocol version that introduced the page.
        tags: token (0x05-0x3F, without the content flag) -> tag name, as MS-ASWBXML spells it.
        opaque_tags: tags whose content MS-ASWBXML / the class specs type as opaque (binary) data.
        aliases: other namespace spellings the encoder accepts (older specs, real logs: "POOMMAIL:").
    """

    number: int
    name: str
    prefix: str
    section: str
    added_in: str
    tags: Mapping[int, str]
    opaque_tags: frozenset[str] = frozenset()
    aliases: tuple[str, ...] = ()
    tokens: Mapping[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tags", MappingProxyType(dict(self.tags)))
        object.__setattr__(self, "tokens", MappingProxyType({v: k for k, v in self.tags.items()}))


# MS-ASWBXML 2.1.2.1.1 Code Page 0: AirSync (placeholder subset; the full tables land with the codepages work)
_AIRSYNC = CodePage(
    number=0,
    name="AirSync",
    prefix="airsync",
    section="MS-ASWBXML 2.1.2.1.1",
    added_in="2.5",
    tags={
        0x05: "Sync", 0x06: "Responses", 0x07: "Add", 0x08: "Change", 0x09: "Delete", 0x0A: "Fetch",
        0x0B: "SyncKey", 0x0C: "ClientId", 0x0D: "ServerId", 0x0E: "Status", 0x0F: "Collection",
        0x10: "Class", 0x12: "CollectionId", 0x13: "GetChanges", 0x14: "MoreAvailable",
        0x15: "WindowSize", 0x16: "Commands", 0x17: "Options", 0x18: "FilterType", 0x1B: "Conflict",
        0x1C: "Collections", 0x1D: "ApplicationData", 0x1E: "DeletesAsMoves", 0x20: "Supported",
        0x21: "SoftDelete", 0x22: "MIMESupport", 0x23: "MIMETruncation", 0x24: "Wait", 0x25: "Limit",
        0x26: "Partial", 0x27: "ConversationMode", 0x28: "MaxItems", 0x29: "HeartbeatInterval",
    },
    aliases=("AirSync:",),
)

CODE_PAGES: tuple[CodePage, ...] = (_AIRSYNC,)

PAGE_BY_NAMESPACE: Mapping[str, CodePage] = MappingProxyType(
    {ns: page for page in CODE_PAGES for ns in (page.name, *page.aliases)}
)
