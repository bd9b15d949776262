"""Request schema check against the MS-ASHTTP Appendix A XSDs kept in eas/schemas (loaded offline, cached).

The appendix is the protocol 14.0 schema set. Where later versions (14.1, 16.0, 16.1) added request elements, the
affected files are extended to accept them where the current MS-ASCMD / MS-ASPROV place them (Provision, Settings,
ResolveRecipients, ValidateCert, Sync, ItemOperations, Search; see the note at the top of each file); everything
else is checked as the appendix has it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from copy import deepcopy
from functools import cache, lru_cache
from importlib import resources
from types import MappingProxyType
from typing import Any

from lxml import etree

from .constants import WBXML_NS

__all__ = ["SCHEMA_FILES", "schema_for", "validate_request", "xsd_namespace"]

_PACKAGE = "eas.schemas"
_URL_SCHEME = "eas-schemas:///"

# Root element (XSD namespace, local name) -> the Appendix A file that declares it (MS-ASHTTP 6.x).
# ItemOperations and Search lost text at page breaks in the spec's text dump: they are reassembled and checked
# against the same schemas in MS-ASCMD 6.23/6.34 (see the notes at the top of each file). Sync keeps its own schema;
# of its class schemas only Calendar is replaced by a permissive one, see Calendar-support.xsd.
# Files extended with later protocol elements: Provision (settings:DeviceInformation, imported from Settings-request,
# and AccountOnlyRemoteWipe), Settings (RightsManagementInformation), ResolveRecipients (Availability, Picture),
# ValidateCert (CheckCRL), Sync/ItemOperations/Search (airsyncbase:BodyPartPreference, rm:* from
# RightsManagement-support.xsd, Search Picture).
SCHEMA_FILES: Mapping[tuple[str, str], str] = MappingProxyType(
    {
        ("FolderHierarchy:", "FolderCreate"): "FolderCreate-request.xsd",  # 6.1
        ("FolderHierarchy:", "FolderDelete"): "FolderDelete-request.xsd",  # 6.2
        ("FolderHierarchy:", "FolderSync"): "FolderSync-request.xsd",  # 6.3
        ("FolderHierarchy:", "FolderUpdate"): "FolderUpdate-request.xsd",  # 6.4
        ("GetItemEstimate:", "GetItemEstimate"): "GetItemEstimate-request.xsd",  # 6.5
        ("ItemOperations:", "ItemOperations"): "ItemOperations-request.xsd",  # 6.6
        ("MeetingResponse:", "MeetingResponse"): "MeetingResponse-request.xsd",  # 6.7
        ("Move:", "MoveItems"): "MoveItems-request.xsd",  # 6.8
        ("Ping:", "Ping"): "Ping-request.xsd",  # 6.9
        ("Provision:", "Provision"): "Provision-request.xsd",  # 6.10
        ("ResolveRecipients:", "ResolveRecipients"): "ResolveRecipients-request.xsd",  # 6.11
        ("Search:", "Search"): "Search-request.xsd",  # 6.13
        ("ComposeMail:", "SendMail"): "SendMail.xsd",  # 6.14
        ("Settings:", "Settings"): "Settings-request.xsd",  # 6.15
        ("ComposeMail:", "SmartForward"): "SmartForward-request.xsd",  # 6.16
        ("ComposeMail:", "SmartReply"): "SmartReply-request.xsd",  # 6.17
        ("AirSync:", "Sync"): "Sync-request.xsd",  # 6.23 (with the class schemas 6.19-6.24 it imports)
        ("ValidateCert:", "ValidateCert"): "ValidateCert-request.xsd",  # 6.25
    }
)

# Decoder namespace (MS-ASWBXML page name) -> XSD namespace, where they differ by more than the trailing colon
# the XSDs write (the XSDs use the MS-ASCMD example spellings, "AirSync:", "Move:", "GetItemEstimate:").
_NAMESPACE_ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "ItemEstimate": "GetItemEstimate:",
        "POOMMAIL": "Email:",
        "POOMCONTACTS": "Contacts:",
        "POOMCAL": "Calendar:",
        "POOMTASKS": "Tasks:",
        "POOMCONTACTS2": "Contacts2:",
        "POOMMAIL2": "Email2:",
    }
)


def xsd_namespace(namespace: str) -> str:
    """The XSD spelling of a decoder namespace: "AirSync" -> "AirSync:" (already colon-ended names unchanged)."""
    if namespace in _NAMESPACE_ALIASES:
        return _NAMESPACE_ALIASES[namespace]
    bare = namespace.rstrip(":")
    if bare in _NAMESPACE_ALIASES:
        return _NAMESPACE_ALIASES[bare]
    return namespace if namespace.endswith(":") or not namespace else namespace + ":"


class _PackageResolver(etree.Resolver):
    """Resolves schemaLocation names to the XSD files shipped in eas/schemas; refuses everything else."""

    def resolve(self, system_url: str | None, public_id: str | None, context: Any) -> Any:  # type: ignore[override]
        name = (system_url or "").rsplit("/", 1)[-1]
        if name and name.endswith(".xsd") and re.fullmatch(r"[A-Za-z0-9_.-]+", name):
            try:
                data = resources.files(_PACKAGE).joinpath(name).read_bytes()
            except (FileNotFoundError, OSError):
                return None
            return self.resolve_string(data, context, base_url=_URL_SCHEME + name)
        return None


def _parser() -> etree.XMLParser:
    parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
    parser.resolvers.add(_PackageResolver())
    return parser


@cache
def _load(file_name: str) -> etree.XMLSchema:
    data = resources.files(_PACKAGE).joinpath(file_name).read_bytes()
    document = etree.fromstring(data, _parser(), base_url=_URL_SCHEME + file_name)
    return etree.XMLSchema(document)


def schema_for(namespace: str, local_name: str) -> etree.XMLSchema | None:
    """The compiled request schema for a root element (decoder namespace and local name), or None when we have none."""
    file_name = SCHEMA_FILES.get((xsd_namespace(namespace), local_name))
    return _load(file_name) if file_name else None


def _split(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return "", tag


def _prepared(root: Any) -> Any:
    """A copy without comments and round-trip markers, its namespaces renamed to the XSD spellings."""
    clean = deepcopy(root)
    clean.tail = None  # a fresh tree with no tail of the caller's document
    for comment in list(clean.iter(etree.Comment, etree.ProcessingInstruction, etree.Entity)):
        parent = comment.getparent()
        if parent is None:
            continue
        # Keep the text around the comment: the tail belongs to the element's text or to the previous sibling.
        previous = comment.getprevious()
        if comment.tail:
            if previous is not None:
                previous.tail = (previous.tail or "") + comment.tail
            else:
                parent.text = (parent.text or "") + comment.tail
        parent.remove(comment)
    for element in clean.iter(etree.Element):
        if element.keys():
            attrib = element.attrib
            for name in [key for key in attrib if str(key).startswith(_MARKER_PREFIX)]:
                del attrib[name]
        element.tag = _xsd_tag(element.tag)
    etree.cleanup_namespaces(clean)
    return clean


@lru_cache(maxsize=4096)  # bounded: a document may make up names
def _xsd_tag(tag: str) -> str:
    """A decoder tag (Clark notation) in its XSD spelling."""
    namespace, local = _split(tag)
    return f"{{{xsd_namespace(namespace)}}}{local}" if namespace else local


_MARKER_PREFIX = "{" + WBXML_NS + "}"


# A Clark-notation namespace "{AirSync:}" (not a regex quantifier like "{1,9}" quoted from a pattern facet).
_CLARK = re.compile(r"\{(?![\d,]*\})[^}]*\}")
_PATH_PREFIX = re.compile(r"[A-Za-z_][\w.-]*:")


def validate_request(root: Any) -> list[str]:
    """Check a decoded request against its MS-ASHTTP Appendix A schema (extended with later protocol elements).

    A server answers a request that breaks its schema with Status 4 (MS-ASHTTP 6; MS-ASCMD's protocol error).

    Args:
        root: the decoded request's root element (comments and round-trip markers are ignored).
    Returns:
        One message per violation ("Sync/Collections/Collection: Element 'X': rule"), empty when the request is
        valid or when no schema covers its root.
    """
    if not isinstance(getattr(root, "tag", None), str):
        return []
    namespace, local = _split(root.tag)
    schema = schema_for(namespace, local)
    if schema is None:
        return []
    document = _prepared(root)
    if schema.validate(document):
        return []
    messages = []
    error_log: Any = schema.error_log
    for entry in error_log:
        text = _CLARK.sub("", entry.message).strip()
        path = _PATH_PREFIX.sub("", entry.path or "").strip("/")
        messages.append(f"{path}: {text}" if path else text)
    return messages
