"""Request check against the session's protocol version and the MS-ASHTTP Appendix A XSDs kept in eas/schemas.

Theory of operation:
1. The appendix is the protocol 14.0 schema set (loaded offline, cached). Some files are extended with 14.1-16.1
   request elements where the current MS-ASCMD / MS-ASPROV place them (Provision, Settings, ResolveRecipients,
   ValidateCert, Sync, ItemOperations, Search; see the note at the top of each file).
2. With the session's version known, each element is first checked against the versions MS-ASWBXML gives its
   token (eas.versions): an element newer than the session, or dropped before it, is reported with that reason
   and left out of the schema check, so it is reported once.
3. The XSD then checks the rest. Where it refuses an element that the session's version does use - a token added
   after 14.0, or an older token in a place a later version opened (eas.versions.LATER_PLACEMENTS: drafts in
   16.0 Sync) - the element is left out and the check runs again. Every other complaint stays: a GetItemEstimate
   whose Collections is in the AirSync namespace is wrong in every version.
Without a known version, step 2 is skipped and step 3 assumes the newest version.
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

from .codepages import CODE_PAGES, TAG_ALIASES, VersionSpan, version_rank
from .constants import WBXML_NS
from .versions import element_versions, later_placement, version_findings

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
        "Gal": "GAL:",
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


# (XSD namespace, tag as the code pages spell it) -> the XSDs' spelling, where the 14.0 schemas spell it otherwise
# (MS-ASHTTP Appendix A writes calendar:TimeZone; MS-ASWBXML's Calendar page writes Timezone).
_XSD_TAG_SPELLINGS: Mapping[tuple[str, str], str] = MappingProxyType(
    {("Calendar:", "Timezone"): "TimeZone"}
)
_TAG_SPELLINGS = {(f"{CODE_PAGES[alias.page].name}:", alias.spelling): alias.name for alias in TAG_ALIASES}


@lru_cache(maxsize=4096)  # bounded: a document may make up names
def _xsd_tag(tag: str) -> str:
    """A decoder tag (Clark notation) in its XSD spelling."""
    namespace, local = _split(tag)
    if not namespace:
        return local
    xsd = xsd_namespace(namespace)
    local = _TAG_SPELLINGS.get((xsd, local), local)
    return f"{{{xsd}}}{_XSD_TAG_SPELLINGS.get((xsd, local), local)}"


_MARKER_PREFIX = "{" + WBXML_NS + "}"


# A Clark-notation namespace "{AirSync:}" (not a regex quantifier like "{1,9}" quoted from a pattern facet).
_CLARK = re.compile(r"\{(?![\d,]*\})[^}]*\}")
_PATH_PREFIX = re.compile(r"[A-Za-z_][\w.-]*:")


def validate_request(root: Any, protocol_version: str | None = None) -> list[str]:
    """Check a decoded request against the session's protocol version and its MS-ASHTTP Appendix A schema.

    A server answers a request that breaks its schema with Status 4 (MS-ASHTTP 6; MS-ASCMD's protocol error).

    Args:
        root: the decoded request's root element (comments and round-trip markers are ignored).
        protocol_version: the session's MS-ASProtocolVersion ("16.1"); None or unknown: no version check, and
            elements of any version are accepted where that version places them.
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
    version = protocol_version.strip() if protocol_version and version_rank(protocol_version) is not None else None
    document = _prepared(root)
    messages = []
    for finding in version_findings(document, version):
        element = finding.element
        messages.append(f"{_element_path(element)}: {finding.reason}")
        parent = element.getparent()
        if parent is not None:
            parent.remove(element)
    for _attempt in range(_MAX_RETRIES):
        if schema.validate(document):
            return messages
        error_log: Any = schema.error_log
        entries = list(error_log)
        if not _leave_out_later_elements(document, local, entries, version):
            break
    for entry in entries:
        text = _CLARK.sub("", entry.message).strip() + _later_hint(document, local, entry.message)
        path = _PATH_PREFIX.sub("", entry.path or "").strip("/")
        messages.append(f"{path}: {text}" if path else text)
    return messages


def _later_hint(document: Any, command: str, message: str) -> str:
    """" (allowed here from 16.0: <source>)" when a later version opens the refused element's place."""
    match = _REFUSED.search(message)
    if match is None:
        return ""
    tag = f"{{{match.group(1)}}}{match.group(2)}"
    for element in document.iter(tag):
        parent = element.getparent()
        placement = later_placement(command, _split(parent.tag)[1], tag, None) if parent is not None else None
        if placement is not None:
            return f" (allowed here from {placement.since}: {placement.source})"
    return ""


# Each retry leaves out at least one element; a request with more later-version elements than this keeps the rest
# of its complaints.
_MAX_RETRIES = 32
_REFUSED = re.compile(r"Element '\{([^}]*)\}([^']+)'")


def _element_path(element: Any) -> str:
    names = []
    node = element
    while node is not None:
        names.append(_split(node.tag)[1])
        node = node.getparent()
    return "/".join(reversed(names))


_XS = "{http://www.w3.org/2001/XMLSchema}"


@cache
def _declared_elements() -> frozenset[str]:
    """The Clark names (XSD namespace spellings) of every element the schema files declare: where a later element
    is declared, the files were extended to place it, and their complaints about its place stand."""
    declared = set()
    for entry in resources.files(_PACKAGE).iterdir():
        if not entry.name.endswith(".xsd"):
            continue
        document = etree.fromstring(entry.read_bytes(), _parser())
        target = document.get("targetNamespace") or ""
        for element in document.iter(f"{_XS}element"):
            name = element.get("name")
            if name:
                declared.add(f"{{{target}}}{name}")
    return frozenset(declared)


def _uses(span: VersionSpan, version: str | None) -> bool:
    """Whether the session's version (None: the newest) uses a token the 14.0 schemas may not know: one added
    after 14.0, or one dropped before it."""
    if span.first is None:
        return False
    dropped_before_schemas = span.last is not None and not span.covers(_SCHEMA_VERSION)
    if version is None:
        return span.last is None and span.is_newer_than(_SCHEMA_VERSION)
    return (span.is_newer_than(_SCHEMA_VERSION) or dropped_before_schemas) and bool(span.covers(version))


_SCHEMA_VERSION = "14.0"  # the version of the MS-ASHTTP Appendix A schemas


def _leave_out_later_elements(document: Any, command: str, entries: list[Any], version: str | None) -> bool:
    """Remove the elements the XSD refused that the session's version uses; True when any went."""
    removed = False
    for entry in entries:
        match = _REFUSED.search(entry.message)
        if match is None or "not expected" not in entry.message:
            continue  # a value or content the schema checks: a complaint whatever the version
        tag = f"{{{match.group(1)}}}{match.group(2)}"
        found = element_versions(tag)
        if found is None:
            continue
        unknown_to_schemas = tag not in _declared_elements()
        for element in list(document.iter(tag)):
            parent = element.getparent()
            if parent is None:
                continue
            parent_name = _split(parent.tag)[1]
            if ((unknown_to_schemas and _uses(found[2], version))
                    or later_placement(command, parent_name, tag, version) is not None):
                parent.remove(element)
                removed = True
    return removed
