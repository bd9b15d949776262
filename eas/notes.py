"""What each EAS element's value means: the note handlers by (namespace, tag) and the document walk they read."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from lxml import etree

from . import values
from .codepages import CODE_PAGES, TAG_ALIASES
from .constants import WBXML_NS
from .meanings import contacts, elements, enums, provision, settings, status

# Package-internal: eas.annotate walks documents and attaches the notes; this module says what they are.
# A handler takes (walk, element, namespace, local name) and returns the note or None; it never raises
# (values.py reports garbage in words). resolve() gives, per Clark tag, the handler and how its note may be
# memoized (NoteEntry); the handlers read the document only through the element and the DocumentWalk.


@dataclass(frozen=True)
class AnnotationContext:
    """What the annotator knows about the document beyond its XML.

    Attributes:
        command: the EAS command (`Sync`, `FolderSync`...); None: taken from the root element's name.
        is_response: the document is a server response (matters for Provision acknowledgments).
        protocol_version: MS-ASProtocolVersion, e.g. "14.1", when known.
        collection_class: class of the collection (`Email`, `Calendar`...) when known for the whole document.
        folder_classes: collection id -> class, e.g. learnt from an earlier FolderSync.
    """

    command: str | None = None
    is_response: bool = False
    protocol_version: str | None = None
    collection_class: str | None = None
    folder_classes: Mapping[str, str] | None = field(default=None, hash=False)


Handler = Callable[["DocumentWalk", etree._Element, str, str], str | None]

# Namespace spelling (lower case, no trailing colon) -> MS-ASWBXML page name, from the code page table with
# the older spellings it lists ("POOMMAIL:", "ItemEstimate:").
NAMESPACES: dict[str, str] = {
    spelling.rstrip(":").lower(): page.name for page in CODE_PAGES for spelling in (page.name, *page.aliases)
}
# (page name, other spelling) -> the table's name, so that pasted XML ("Calendar:TimeZone") gets its notes too.
_TAG_SPELLINGS: dict[tuple[str, str], str] = {
    (CODE_PAGES[alias.page].name, alias.spelling): alias.name for alias in TAG_ALIASES
}
MAX_CACHED_TAGS = 4096
# Notes of context-free values and comment texts, shared by every call (values repeat across documents);
# emptied when full, so memory stays bounded. Plain dict operations: safe to share between threads.
MAX_CACHED_NOTES = 8192
MAX_CACHED_TEXT = 512
NOTE_CACHE: dict[tuple[object, ...], str | None] = {}  # (tag, text[, markers]) -> comment text; MIME notes
_COMMENT_CACHE: dict[str, str] = {}
TAG_CACHE: dict[str, NoteEntry | None] = {}
FIXED_CACHE: dict[str, tuple[str, str]] = {}  # Clark tag -> NoteEntry.fixed, .fixed_empty, where set
# (surrogates spelt with chr(): mypyc refuses surrogates in string literals)
_INVALID_XML_CHARS = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f{chr(0xD800)}-{chr(0xDFFF)}\ufffe\uffff]")
_COMMENT_MAX = 2000
_DOUBLE_DASH = re.compile("-(?=-)")


def status_meaning(command: str, code: int) -> str | None:
    """What a top-level Status code means for a command (codes >= 101 fall back to MS-ASCMD 2.2.2).

    Returns None when neither the command's table nor the common table lists the code.
    """
    return status.BY_COMMAND.get(command, status.UNKNOWN_COMMAND).meaning(code)


class NoteEntry(NamedTuple):
    """What annotate does with one Clark tag."""

    namespace: str
    local: str
    handler: Handler
    is_pure: bool  # the note depends only on the tag and the text of a leaf: memoized
    by_markers: bool = False  # ... and on the decoder's marker attributes (part of the memo key)
    fixed: str | None = None  # comment text that needs no handler (contact fields not under Supported)
    fixed_empty: str | None = None  # the same for an empty element


def resolve(tag: str) -> NoteEntry | None:
    if tag.startswith("{"):
        uri, _, local = tag[1:].partition("}")
    else:
        uri, local = "", tag
    namespace = NAMESPACES.get(uri.rstrip(":").lower(), "")
    local = _TAG_SPELLINGS.get((namespace, local), local)
    handler = HANDLERS.get((namespace, local))
    if handler is None:
        # the children of a Supported element, whatever its namespace, are listed properties (see _contact)
        return NoteEntry(namespace, local, _mark_supported, False) if local == "Supported" else None
    fixed = _CONTACT_NOTES.get(handler)
    if fixed is not None:
        return NoteEntry(namespace, local, handler, False, False, comment_text(fixed), comment_text(fixed + _EMPTY))
    by_markers = handler in _MARKER_DEPENDENT
    return NoteEntry(namespace, local, handler, by_markers or handler in PURE_HANDLERS, by_markers)


def comment_text(note: str) -> str:
    text = _INVALID_XML_CHARS.sub("?", note)
    if len(text) > _COMMENT_MAX:
        text = text[:_COMMENT_MAX] + "..."
    if "--" in text:
        text = _DOUBLE_DASH.sub("- ", text)
    return f" {text} "


def cached_comment_text(note: str) -> str:
    cached = _COMMENT_CACHE
    text = cached.get(note)
    if text is None:
        text = comment_text(note)
        if len(note) <= MAX_CACHED_TEXT:
            if len(cached) > MAX_CACHED_NOTES:
                cached.clear()
            cached[note] = text
    return text


def local_name(element: etree._Element) -> str:
    node: Any = element  # a comment's tag is no str (see annotate)
    tag = node.tag
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def child_text(element: etree._Element, local: str) -> str | None:
    for child in element.iterchildren("{*}" + local):  # matched in C: any namespace or none
        return (child.text or "").strip()
    return None


class DocumentWalk:
    """Per-document state: the command, and classes found in the document (built on first need)."""

    def __init__(self, root: etree._Element, context: AnnotationContext) -> None:
        self.root = root
        self.context = context
        root_local = local_name(root)
        self.command = context.command or root_local
        self.root_local = root_local
        self._folder_classes: dict[str, str] | None = None
        self._class_of: dict[etree._Element, str | None] = {}  # keys keep the proxies alive
        # children of Supported elements met so far (the walk meets a parent before its children)
        self.supported_children: set[etree._Element] = set()
        self.is_response = context.is_response or (
            root_local == "Provision" and child_text(root, "Status") is not None)

    def folder_classes(self) -> Mapping[str, str]:
        """Collection id -> class from the context, FolderSync Add/Update types and Ping folders here."""
        if self._folder_classes is None:
            found: dict[str, str] = dict(self.context.folder_classes or {})
            for element in self.root.iter("{*}Add", "{*}Update", "{*}Folder"):  # matched in C
                server_id = child_text(element, "ServerId") or child_text(element, "Id")
                folder_type = child_text(element, "Type")
                folder_class = child_text(element, "Class")
                if server_id is None:
                    continue
                if folder_class:
                    found[server_id] = folder_class
                elif folder_type and folder_type in enums.FOLDER_TYPE_CLASS:
                    found[server_id] = enums.FOLDER_TYPE_CLASS[folder_type]
            self._folder_classes = found
        return self._folder_classes

    def class_for(self, element: etree._Element) -> str | None:
        """Class of the collection an element sits in: Options/Collection Class, CollectionId, context."""
        node: etree._Element | None = element.getparent()
        while node is not None:
            local = local_name(node)
            if local in ("Options", "Collection", "Fetch", "Response", "Result"):
                if node not in self._class_of:
                    self._class_of[node] = self._own_class(node)
                found = self._class_of[node]
                if found:
                    return found
            node = node.getparent()
        return self.context.collection_class

    def _own_class(self, node: etree._Element) -> str | None:
        direct = child_text(node, "Class")
        if direct:
            return direct
        for child in node:
            if isinstance(child.tag, str) and local_name(child) == "Options":
                in_options = child_text(child, "Class")
                if in_options:
                    return in_options
        collection_id = child_text(node, "CollectionId")
        if collection_id:
            return self.folder_classes().get(collection_id)
        return None


# ---- handlers ---------------------------------------------------------------------------------------------


def _text(element: etree._Element) -> str:
    return (element.text or "").strip()


def _status_table(walk: DocumentWalk, element: etree._Element, namespace: str) -> status.StatusTable:
    # the one table choice of eas.meanings.status, also behind eas.exchange's StatusNote and eas.verdicts
    parent = element.getparent()
    parent_local = local_name(parent) if parent is not None else ""
    command = walk.command if walk.command in status.BY_COMMAND else _STATUS_BY_NAMESPACE.get(namespace)
    return status.status_table_for(command, f"{parent_local}/Status", in_request=not walk.is_response)


# The command whose tables a Status of this namespace reads when the document names no known command.
_STATUS_BY_NAMESPACE: Mapping[str, str] = {
    "AirSync": "Sync", "FolderHierarchy": "FolderSync", "Provision": "Provision",
    "ResolveRecipients": "ResolveRecipients", "GAL": "Search", "ComposeMail": "SendMail",
    "GetItemEstimate": "GetItemEstimate", "ItemOperations": "ItemOperations",
    "MeetingResponse": "MeetingResponse", "Move": "MoveItems", "Ping": "Ping", "Search": "Search",
    "Settings": "Settings", "ValidateCert": "ValidateCert", "Find": "Find",
}


def _status_code_meaning(walk: DocumentWalk, element: etree._Element, namespace: str) -> tuple[int, str] | None:
    raw = _text(element)
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        return None
    code = int(raw)
    table = _status_table(walk, element, namespace)
    source = table.source_of(code)
    if source is None:
        return code, f"unknown {table.name} status code"
    meaning = source.meanings[code]
    if source is status.COMMON and table is not status.COMMON:
        meaning += " (common status)"
    return code, meaning


def status_note(walk: DocumentWalk, element: etree._Element, namespace: str, local: str) -> str | None:
    # memoized on all _status_table looks at: the parent's and grandparent's names, the command, is_response
    raw = element.text
    parent = element.getparent()
    grand = parent.getparent() if parent is not None else None
    key = (status_note, namespace, raw, parent.tag if parent is not None else None,
           grand.tag if grand is not None else None, walk.command, walk.is_response)
    note = NOTE_CACHE.get(key)
    if note is None:
        found = _status_code_meaning(walk, element, namespace)
        if found is None:
            note = f"Status {_text(element)!r}: not a number"
        else:
            note = f"Status {found[0]}: {found[1]}"
        if len(raw or "") <= MAX_CACHED_TEXT:
            NOTE_CACHE[key] = note
    return note


def element_status_meaning(element: etree._Element, context: AnnotationContext | None = None) -> str | None:
    """What a Status element means where it stands (Sync item vs collection, Provision Policy, ResolveRecipients
    Certificates...), the same table choice `annotate` makes; None when it is not a command Status element
    or holds no number. Unknown codes give "unknown ... status code".
    """
    node: Any = element  # a comment's tag is no str (see annotate)
    tag = node.tag
    if not isinstance(tag, str):
        return None
    entry = resolve(tag)
    if entry is None or entry.handler is not status_note:
        return None
    walk = DocumentWalk(element.getroottree().getroot(), context or AnnotationContext())
    found = _status_code_meaning(walk, element, entry.namespace)
    return found[1] if found else None


def _flag_status(walk: DocumentWalk, element: etree._Element, namespace: str, local: str) -> str | None:
    return _lookup("Flag status", _text(element), enums.FLAG_STATUS)


def _lookup(label: str, raw: str, table: Mapping[str, str], qualifier: str = "") -> str:
    meaning = table.get(raw)
    if meaning is None and raw.isascii() and raw.lstrip("-").isdigit() and len(raw) < 10:
        meaning = table.get(str(int(raw)))
    if meaning is None and raw:
        folded = raw.casefold()
        spelled = next((key for key in table if key.casefold() == folded), None)
        if spelled is not None:
            meaning = f"{table[spelled]} (the spec spells it {spelled})"
    shown = f"{label} {raw}" if raw else f"{label} (empty)"
    return f"{shown}{qualifier}: {meaning if meaning is not None else 'unknown value'}"


def _enum(table: Mapping[str, str], label: str | None = None) -> Handler:
    def handler(walk: DocumentWalk, element: etree._Element, namespace: str, local: str) -> str | None:
        raw = _text(element)
        if not raw and len(element):
            return None
        return _lookup(label or local, raw, table)
    return handler


def _filter_type(walk: DocumentWalk, element: etree._Element, namespace: str, local: str) -> str | None:
    collection_class = walk.class_for(element)
    table = enums.FILTER_TYPE_BY_CLASS.get(collection_class or "", enums.FILTER_TYPE_ANY)
    qualifier = f" ({collection_class})" if collection_class in enums.FILTER_TYPE_BY_CLASS else ""
    return _lookup("FilterType", _text(element), table, qualifier)


def _folder_type(walk: DocumentWalk, element: etree._Element, namespace: str, local: str) -> str | None:
    raw = _text(element)
    note = _lookup("Type", raw, enums.FOLDER_TYPE)
    folder_class = enums.FOLDER_TYPE_CLASS.get(raw)
    return f"{note} (class {folder_class})" if folder_class and raw != "19" else note


def _truncation(walk: DocumentWalk, element: etree._Element, namespace: str, local: str) -> str | None:
    return _lookup("Truncation", _text(element), enums.TRUNCATION_25, " (protocol 2.5)")


def _flag(meanings: tuple[str, str]) -> Handler:
    def handler(walk: DocumentWalk, element: etree._Element, namespace: str, local: str) -> str | None:
        raw = _text(element)
        if raw == "0":
            return f"{local} 0: {meanings[0]}"
        if raw == "1":
            return f"{local} 1: {meanings[1]}"
        if not raw:
            return None
        return f"{local} {raw}: unknown value (expected 0 or 1)"
    return handler


def _unit(description: str) -> Handler:
    def handler(walk: DocumentWalk, element: etree._Element, namespace: str, local: str) -> str | None:
        raw = _text(element)
        return f"{local} {raw}: {description}" if raw else None
    return handler


_MARKER_DEPENDENT: set[Handler] = set()  # notes that also depend on the decoder's marker attributes
OPAQUE_MARKER = "{" + WBXML_NS + "}opaque"
TEXT_MARKER = "{" + WBXML_NS + "}text"


def _leaf_value(element: etree._Element) -> str | bytes:
    """The leaf's value: bytes when the decoder's markers say what bytes the text stands for."""
    raw = element.text or ""
    marker = element.get(OPAQUE_MARKER) or element.get(TEXT_MARKER)
    if marker == "base64":
        data = values.binary_from_text(raw) if raw.strip() else b""
        return raw if data is None else data
    if marker == "text":
        return raw.encode("utf-8", errors="surrogateescape")
    return raw


def _decoded(describe: Callable[[str], str], prefix: str | None = None) -> Handler:
    def handler(walk: DocumentWalk, element: etree._Element, namespace: str, local: str) -> str | None:
        raw = element.text or ""
        if not raw.strip() or len(element):
            return None
        described = describe(raw)
        return f"{prefix}: {described}" if prefix else described
    return handler


def _decoded_bytes(describe: Callable[[str | bytes], str], prefix: str | None = None) -> Handler:
    def handler(walk: DocumentWalk, element: etree._Element, namespace: str, local: str) -> str | None:
        if not (element.text or "").strip() or len(element):
            return None
        described = describe(_leaf_value(element))
        return f"{prefix}: {described}" if prefix else described
    _MARKER_DEPENDENT.add(handler)
    return handler


def _day_of_week(walk: DocumentWalk, element: etree._Element, namespace: str, local: str) -> str | None:
    raw = _text(element)
    return f"DayOfWeek {raw}: {values.describe_day_of_week(raw)}" if raw else None


def _body_data(walk: DocumentWalk, element: etree._Element, namespace: str, local: str) -> str | None:
    parent = element.getparent()
    raw = element.text or ""
    if parent is None or child_text(parent, "Type") != "4" or not raw.strip():
        return None
    value = _leaf_value(element)
    if len(value) > MAX_CACHED_TEXT:
        return "MIME: " + values.describe_mime(value)
    key = (_body_data, value)  # the same shared memo as the leaf notes: the summary depends on the value only
    note = NOTE_CACHE.get(key)
    if note is None:
        note = NOTE_CACHE[key] = "MIME: " + values.describe_mime(value)
    return note


def _message_class(walk: DocumentWalk, element: etree._Element, namespace: str, local: str) -> str | None:
    raw = _text(element)
    if not raw:
        return None
    meaning = enums.message_class_meaning(raw)
    return f"MessageClass {raw}: {meaning if meaning else 'unknown message class'}"


def _range(walk: DocumentWalk, element: etree._Element, namespace: str, local: str) -> str | None:
    raw = _text(element)
    first, dash, last = raw.partition("-")
    if not dash or not (first + last).isascii() or not first.isdigit() or not last.isdigit() or len(raw) > 40:
        return f"Range {raw!r}: invalid (expected m-n, e.g. 0-9)" if raw else None
    what = "bytes" if namespace == "ItemOperations" else "results"
    count = int(last) - int(first) + 1
    if count < 1:
        return f"Range {raw}: invalid (m is greater than n)"
    return f"Range {raw}: {what} {first} to {last}, zero-based ({count} in all)"


def _picture_data(walk: DocumentWalk, element: etree._Element, namespace: str, local: str) -> str | None:
    parent = element.getparent()
    raw = element.text or ""
    if parent is None or local_name(parent) != "Picture" or not raw.strip():
        return None
    return "Picture: " + values.describe_picture(raw)


def _estimated_size(walk: DocumentWalk, element: etree._Element, namespace: str, local: str) -> str | None:
    raw = _text(element)
    parent = element.getparent()
    what = "attachment" if parent is not None and local_name(parent) == "Attachment" else "body"
    return f"EstimatedDataSize {raw}: estimated size of the whole {what}, in bytes" if raw else None


def _parent_id(walk: DocumentWalk, element: etree._Element, namespace: str, local: str) -> str | None:
    return "ParentId 0: a top-level folder (no parent)" if _text(element) == "0" else None


def _sync_key(walk: DocumentWalk, element: etree._Element, namespace: str, local: str) -> str | None:
    raw = _text(element)
    if raw != "0":
        return None
    if namespace == "FolderHierarchy":
        return "SyncKey 0: first FolderSync: the server sends the whole folder list and resets every collection"
    return "SyncKey 0: initial key: the server resets this collection's state and answers with a new key"


def _more_available(walk: DocumentWalk, element: etree._Element, namespace: str, local: str) -> str | None:
    return CONSTANT_NOTES[_more_available]


# handler -> its note, for handlers whose note depends on nothing (the decoder writes them as static notes)
CONSTANT_NOTES: dict[Handler, str] = {
    _more_available: "MoreAvailable: more changes wait on the server: Sync again with the new SyncKey"}
# handlers whose note depends on the leaf's text and its parent's and grandparent's names (and the command)
PLACE_HANDLERS: frozenset[Handler] = frozenset({_estimated_size, _picture_data})


def _contact(namespace_label: str, description: str) -> Handler:
    """A contact property: its description; under Supported, that the client syncs it; dates and photos decoded.

    annotate takes the note of most properties from FIXED_CACHE without calling this (same text)."""
    def handler(walk: DocumentWalk, element: etree._Element, namespace: str, local: str) -> str | None:
        note = f"{namespace_label}:{local}: {description}"
        if element in walk.supported_children:
            return note + _SUPPORTED
        raw = element.text or ""
        if not raw and not len(element):
            return note + _EMPTY
        if raw.strip():
            if local in ("Birthday", "Anniversary"):
                note += ": " + values.describe_date(raw)
            elif local == "Picture":
                note += ": " + values.describe_picture(raw)
        return note
    return handler


_SUPPORTED = " (listed as supported: the client syncs it)"
_EMPTY = " (empty: no value)"
_DECODED_CONTACT_PROPERTIES = frozenset({"Birthday", "Anniversary", "Picture"})
_CONTACT_NOTES: dict[Handler, str] = {}  # handler of a property whose value changes nothing -> its note


def _mark_supported(walk: DocumentWalk, element: etree._Element, namespace: str, local: str) -> str | None:
    walk.supported_children.update(element)
    return None


_GHOSTABLE_CONTACT_PROPERTIES: tuple[str, ...] = tuple(
    name for name in (*contacts.CONTACTS, *contacts.CONTACTS2) if name not in contacts.NOT_GHOSTABLE)


def _supported(walk: DocumentWalk, element: etree._Element, namespace: str, local: str) -> str | None:
    _mark_supported(walk, element, namespace, local)
    children = [child for child in element if isinstance(child.tag, str)]
    listed = {local_name(child) for child in children}
    collection_class = walk.class_for(element)
    if collection_class is None and children:
        # 12.1 and later send no Class in a Sync request: the listed properties' namespace tells it
        uri = etree.QName(children[0]).namespace or ""
        collection_class = {"Contacts": "Contacts", "Contacts2": "Contacts", "Calendar": "Calendar"}.get(
            NAMESPACES.get(uri.rstrip(":").lower(), ""))
    count = f"{len(listed)} property" if len(listed) == 1 else f"{len(listed)} properties"
    note = (f"Supported: the client lists the {count} it syncs; the ones not listed are "
            "ghosted: when a Change from the client omits them, the server keeps their values")
    if collection_class == "Contacts":
        ghosted = [name for name in _GHOSTABLE_CONTACT_PROPERTIES if name not in listed]
        if ghosted:
            note += "; ghosted here: " + ", ".join(ghosted)
    elif collection_class:
        note += f" (class {collection_class})"
    return note


def _description(label: str, description: str) -> Handler:
    def handler(walk: DocumentWalk, element: etree._Element, namespace: str, local: str) -> str | None:
        return note
    note = CONSTANT_NOTES[handler] = f"{label}: {description}"
    return handler


def _policy_setting(setting: provision.PolicySetting) -> Handler:
    def handler(walk: DocumentWalk, element: etree._Element, namespace: str, local: str) -> str | None:
        raw = _text(element)
        note = f"{local}: {setting.description}"
        if len(element) or not raw:
            return note
        if setting.values is not None:
            meaning = setting.values.get(raw, "unknown value")
            return f"{note}: {raw} = {meaning}"
        if setting.unit:
            return f"{note}: {raw} {setting.unit}"
        return note
    return handler


def _build_handlers() -> dict[tuple[str, str], Handler]:
    handlers: dict[tuple[str, str], Handler] = {}
    for namespace in ("AirSync", "FolderHierarchy", "GetItemEstimate", "ItemOperations", "MeetingResponse",
                      "Move", "Ping", "Provision", "ResolveRecipients", "Search", "Settings", "ValidateCert",
                      "Find", "ComposeMail", "GAL", "AirSyncBase"):
        handlers[(namespace, "Status")] = status_note
    for key, meanings in enums.FLAG_MEANINGS.items():
        handlers[key] = _flag(meanings)
    for key, unit in enums.UNITS.items():
        handlers[key] = _unit(unit)
    for label, properties in (("Contacts", contacts.CONTACTS), ("Contacts2", contacts.CONTACTS2)):
        for name, description in properties.items():
            handlers[(label, name)] = handler = _contact(label, description)
            if name not in _DECODED_CONTACT_PROPERTIES:
                _CONTACT_NOTES[handler] = f"{label}:{name}: {description}"
    for name, setting in provision.POLICY_SETTINGS.items():
        handlers[("Provision", name)] = _policy_setting(setting)
    for name, description in provision.PROVISION_ELEMENTS.items():
        handlers[("Provision", name)] = _description(name, description)
    for name, description in settings.SETTINGS_ELEMENTS.items():
        handlers[("Settings", name)] = _description(name, description)
    for key, (enum_table, enum_label) in elements.ENUM_ELEMENTS.items():
        handlers[key] = _enum(enum_table, enum_label)
    handlers.update({
        ("Email", "Status"): _flag_status,
        ("Email", "FlagStatus"): _flag_status,
        ("FolderHierarchy", "Type"): _folder_type,
        ("AirSync", "FilterType"): _filter_type,
        ("AirSync", "Truncation"): _truncation,
        ("AirSync", "SyncKey"): _sync_key,
        ("FolderHierarchy", "SyncKey"): _sync_key,
        ("AirSync", "MoreAvailable"): _more_available,
        ("AirSync", "Supported"): _supported,
        ("AirSyncBase", "Data"): _body_data,
        ("Email", "MessageClass"): _message_class,
        ("FolderHierarchy", "ParentId"): _parent_id,
        ("AirSyncBase", "EstimatedDataSize"): _estimated_size,
        ("Email", "GlobalObjId"): _decoded(values.describe_global_obj_id, "GlobalObjId"),
        ("GAL", "Data"): _picture_data,
        ("ResolveRecipients", "Data"): _picture_data,
        ("Search", "Range"): _range,
        ("ItemOperations", "Range"): _range,
        ("Find", "Range"): _range,
        ("Email", "TimeZone"): _decoded(values.describe_timezone, "TimeZone"),
        ("Calendar", "Timezone"): _decoded(values.describe_timezone, "TimeZone"),
        ("Email2", "ConversationId"): _decoded_bytes(values.describe_conversation_id),
        ("ItemOperations", "ConversationId"): _decoded_bytes(values.describe_conversation_id),
        ("Search", "ConversationId"): _decoded_bytes(values.describe_conversation_id),
        ("Email2", "ConversationIndex"): _decoded_bytes(values.describe_conversation_index, "ConversationIndex"),
        ("Email", "MIMEData"): _decoded_bytes(values.describe_mime, "MIME"),
        ("ComposeMail", "Mime"): _decoded_bytes(values.describe_mime, "MIME"),
    })
    for namespace in ("Calendar", "Email", "Tasks"):
        handlers[(namespace, "DayOfWeek")] = _day_of_week
    date = _decoded(values.describe_date)
    for key in elements.DATE_ELEMENTS:
        handlers[key] = date
    return handlers


HANDLERS: dict[tuple[str, str], Handler] = _build_handlers()
assert [key for key in HANDLERS if key[1] == "Supported"] == [("AirSync", "Supported")], "see resolve"

# Handlers whose note depends only on the element's tag and text (memoized across calls); contact properties
# also depend on a Supported parent, which annotate checks before it looks at the memo.
PURE_HANDLERS: frozenset[Handler] = frozenset(
    handler for handler in HANDLERS.values()
    if handler not in (status_note, _filter_type, _supported, _body_data, _picture_data, _estimated_size)
    and handler not in _MARKER_DEPENDENT)

MISSING_ENTRY = NoteEntry("", "", _more_available, False)
