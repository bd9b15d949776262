"""Adds what each EAS value means as an XML comment right after its element; tables live in eas.meanings."""

from __future__ import annotations

import re
import threading
from itertools import compress
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from lxml import etree

from . import sensitive, values, versions, wbxml
from .codepages import CODE_PAGES, TAG_ALIASES
from .meanings import contacts, enums, provision, settings, status

# Theory of operation: one pass over root.iter() looks every element's Clark tag up in a dict of handlers
# (resolved once per tag, cached) and records one comment text (or None) per element; it keeps no element.
# A handler returns the note or None. Contact properties whose note never depends on the value get their
# comment text straight from a per-tag table (no call); notes that depend only on the tag and the text are
# memoized across calls (bounded). Children of a Supported element are remembered when the walk meets it (a
# parent comes before its children), so no element has to look at its parent for that. Comments are inserted
# after the walk (never while iterating): a second root.iter() paired with the texts gives the elements back
# (cheaper than holding tens of thousands of proxies), each comment becomes the element's next sibling, so
# leaf text stays byte-exact and empty elements stay empty. Many comments are parsed in one go, a few come
# from a per-thread pool of blank comments parsed in bulk (one etree.Comment per note builds one document
# each). The element's tail moves to the comment, so the note sits on the element's line. A tree with no
# comment needs no check against duplicates; the walk sees comments, so that costs no extra pass. Handlers
# never raise: values.py reports garbage in words.
# decode_annotated (decode + annotate in one) has the decoder write the notes into its XML text, right after
# the end tags, so libxml2 builds those comments with the tree (wbxml._Notes): notes that never depend on the
# value (contact properties, descriptions) are part of the decoder's tag tables; a note that depends on a
# leaf's text (enums, flags, dates), or also on its parent's and grandparent's names and the command (Status,
# EstimatedDataSize), is looked up by those in a memo per context (command, is_response), made by the same
# handler on a miss (given a _NoteView of the leaf). Notes that need the tree (FilterType: the collection's
# class; AirSyncBase Data: its Type sibling; values noted by their markers) come from a pass over the tags
# the decoder saw (lxml matches them in C). What the decoder cannot note (a Supported element, a noted
# element that is not a plain leaf) makes decode_annotated decode again without notes and annotate.


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


Handler = Callable[["_Walk", etree._Element, str, str], str | None]

# Namespace spelling (lower case, no trailing colon) -> MS-ASWBXML page name, from the code page table with
# the older spellings it lists ("POOMMAIL:", "ItemEstimate:").
_NAMESPACES: dict[str, str] = {
    spelling.rstrip(":").lower(): page.name for page in CODE_PAGES for spelling in (page.name, *page.aliases)
}
# (page name, other spelling) -> the table's name, so that pasted XML ("Calendar:TimeZone") gets its notes too.
_TAG_SPELLINGS: dict[tuple[str, str], str] = {
    (CODE_PAGES[alias.page].name, alias.spelling): alias.name for alias in TAG_ALIASES
}
_MAX_CACHED_TAGS = 4096
# Notes of context-free values and comment texts, shared by every call (values repeat across documents);
# emptied when full, so memory stays bounded. Plain dict operations: safe to share between threads.
_MAX_CACHED_NOTES = 8192
_MAX_CACHED_TEXT = 512
_NOTE_CACHE: dict[tuple[object, ...], str | None] = {}  # (tag, text[, markers]) -> comment text; MIME notes
_COMMENT_CACHE: dict[str, str] = {}
_TAG_CACHE: dict[str, _Entry | None] = {}
_FIXED_CACHE: dict[str, tuple[str, str]] = {}  # Clark tag -> _Entry.fixed, .fixed_empty, where set
# (surrogates spelt with chr(): mypyc refuses surrogates in string literals)
_INVALID_XML_CHARS = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f{chr(0xD800)}-{chr(0xDFFF)}\ufffe\uffff]")
_COMMENT_MAX = 2000
_DOUBLE_DASH = re.compile("-(?=-)")
_COMMENT_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
_FEW_COMMENTS = 32  # up to this many comments come from the blank pool (_pooled_comments), more from one parse


def status_meaning(command: str, code: int) -> str | None:
    """What a top-level Status code means for a command (codes >= 101 fall back to MS-ASCMD 2.2.2).

    Returns None when neither the command's table nor the common table lists the code.
    """
    table = status.BY_COMMAND.get(command)
    if table is not None and code in table:
        return table[code]
    return status.COMMON.get(code)


def annotate(root: etree._Element, context: AnnotationContext) -> etree._Element:
    """Add a comment with the meaning after each value that has one; returns the same root.

    Running it twice adds nothing new (an identical comment already after an element is kept).
    """
    walk = _Walk(root, context)
    supported = walk.supported_children
    texts: list[str | None] = []  # per element in document order: its comment text, None for none
    saw_comment = False
    saw_other = False  # a comment, processing instruction or entity: the second pass has to skip them
    add = texts.append
    cache = _TAG_CACHE
    fixed_texts = _FIXED_CACHE.get
    memo = _NOTE_CACHE
    if len(memo) > _MAX_CACHED_NOTES:
        memo.clear()
    # comments too: one met means the tree may be annotated already. Their tag is a function, not the str the
    # stubs say: typed Any, so that a compiled build (mypyc) does not check it is a str
    nodes: Iterator[Any] = root.iter()
    for element in nodes:
        tag = element.tag
        fixed = fixed_texts(tag)
        if fixed is not None and not supported:  # most elements of a contact: no handler call
            add(fixed[0] if element.text or len(element) else fixed[1])
            continue
        try:
            entry = cache[tag]
        except KeyError:
            if not isinstance(tag, str):  # a comment, processing instruction or entity: no text slot
                saw_comment = saw_comment or tag is etree.Comment
                saw_other = True
                continue
            entry = _resolve(tag)
            if len(cache) < _MAX_CACHED_TAGS:
                cache[tag] = entry
                if entry is not None and entry.fixed is not None:
                    _FIXED_CACHE[tag] = (entry.fixed, entry.fixed_empty)  # type: ignore[assignment]
        if entry is None:
            add(None)
        elif supported and element in supported:  # a listed property: its note says so (see _contact)
            note = entry.handler(walk, element, entry.namespace, entry.local)
            add(_cached_comment_text(note) if note else None)
        elif entry.fixed is not None:
            add(entry.fixed if element.text or len(element) else entry.fixed_empty)
        elif entry.is_pure and not len(element):
            key: tuple[str | None, ...] = (tag, element.text)
            if entry.by_markers:
                key += (element.get(_OPAQUE_MARKER), element.get(_TEXT_MARKER))
            try:
                add(memo[key])
            except KeyError:
                note = entry.handler(walk, element, entry.namespace, entry.local)
                text = _comment_text(note) if note else None
                if len(key[1] or "") <= _MAX_CACHED_TEXT:
                    memo[key] = text
                add(text)
        else:
            note = entry.handler(walk, element, entry.namespace, entry.local)
            add(_cached_comment_text(note) if note else None)
    texts[0] = None  # the root gets no comment
    count = len(texts) - texts.count(None)
    if count:
        _attach_all(root, texts, count, saw_comment, saw_other)
    _version_and_secrets(root, context)
    return root


def _version_and_secrets(root: etree._Element, context: AnnotationContext, decoded_xml: bytes | None = None,
                         root_page: int | None = None) -> None:
    """The notes every annotated document gets last: elements the session's version does not use, and passwords
    shown by their length only."""
    versions.add_version_notes(root, context.protocol_version, decoded_xml, root_page)
    sensitive.hide_secret_elements(root)


def decode_annotated(data: bytes | bytearray | memoryview,
                     context: AnnotationContext | Callable[[etree._Element], AnnotationContext], *,
                     strict: bool = False,
                     complete: Callable[[etree._Element], AnnotationContext] | None = None) -> etree._Element:
    """`annotate(decode(data, strict=strict), context)`, the same tree, in less time.

    context: the context, or a function that makes it from the decoded root (which may hold notes already:
        comments).
    complete: with a context, a function that makes the whole context from the decoded root (which may hold
        notes already), for what only the document tells (the collection's class, say); the command and
        is_response stay those of `context`, which the decoder's notes follow.
    The decoder writes the notes of most elements with the end tags (see _NotePlan); a pass over the few
    elements whose note needs the tree adds the rest. A document the decoder cannot annotate (a Supported
    element, a noted element that is not a plain leaf, see wbxml._Notes) is decoded again without notes and
    annotated the plain way.
    """
    raw = data if type(data) is bytes else bytes(data)
    plan = _note_plan(context) if isinstance(context, AnnotationContext) else _unknown_context_plan()
    notes = wbxml._Notes(plan.static, plan.kinds, _VALUE_NOTES, plan.place_memo, plan.note_of)
    xml = wbxml._decode_xml(raw, strict, notes)
    if notes.missed:
        root = wbxml._parse_decoded(wbxml._decode_xml(raw, strict))
        return annotate(root, _whole_context(root, context, complete))
    root = wbxml._parse_decoded(xml)
    context = _whole_context(root, context, complete)
    passed = notes.passed
    if passed:
        if _BODY_DATA in passed and _MAYBE_TYPE_4.search(xml) is None:
            passed.discard(_BODY_DATA)  # no body of type 4 (MIME): no Data note (see _body_data)
        if passed:
            _annotate_rest(root, context, [f"{{{CODE_PAGES[page].name}}}{CODE_PAGES[page].tags[token]}"
                                           for page, token in passed])
    root_namespace = root.tag[1 : root.tag.find("}")] if root.tag.startswith("{") else ""
    root_page = _ROOT_PAGES.get(root_namespace)
    _version_and_secrets(root, context, xml if root_page is not None else None, root_page)
    return root


_ROOT_PAGES: dict[str, int] = {page.name: page.number for page in CODE_PAGES}


def _whole_context(root: etree._Element,
                   context: AnnotationContext | Callable[[etree._Element], AnnotationContext],
                   complete: Callable[[etree._Element], AnnotationContext] | None) -> AnnotationContext:
    if not isinstance(context, AnnotationContext):
        return context(root)
    if complete is None:
        return context
    return replace(complete(root), command=context.command, is_response=context.is_response)


# (page, token) of AirSyncBase Data, whose note needs a sibling Type of 4; an element named Type holding a 4
# in the decoder's XML text (a search in C: cheaper than the pass over a tree of many bodies of other types).
_BODY_DATA: tuple[int, int] = next((page.number, page.tokens["Data"]) for page in CODE_PAGES
                                   if page.name == "AirSyncBase")
_MAYBE_TYPE_4 = re.compile(rb"Type>[^<]*4")


class _NoteView:
    """Just enough of an element for a handler to note a leaf the decoder is writing: tag, text, parent."""

    __slots__ = ("tag", "text", "parent")

    def __init__(self, tag: str, text: str | None, parent: _NoteView | None) -> None:
        self.tag = tag
        self.text = text
        self.parent = parent

    def __len__(self) -> int:
        return 0  # noted leaves have no children; of a parent, only the name is looked at

    def get(self, name: str, default: str | None = None) -> str | None:
        return default  # no marker: a leaf with markers is never noted by the decoder

    def getparent(self) -> _NoteView | None:
        return self.parent

    def iterchildren(self, *tags: str) -> Iterator[etree._Element]:
        return iter(())


# The decoder's notes by (page, token, text) (wbxml._Notes.memo): they depend on nothing else, so every plan
# shares them; bounded like the other memos.
_VALUE_NOTES: dict[tuple[int | bytes, ...], bytes] = {}
_MAX_CACHED_PLACE_NOTES = 1024  # per plan (notes by place: Status codes and sizes, few distinct)


class _NotePlan:
    """What the decoder writes for one context: the note kind of each tag (wbxml._Notes), the memo of notes
    by (page, token, text, parent, grandparent, root) and how a missing note is made."""

    __slots__ = ("context", "static", "kinds", "place_memo", "_entries", "_walks")

    def __init__(self, context: AnnotationContext, kinds: dict[tuple[int, str], int]) -> None:
        self.context = context
        self.static = _static_notes()
        self.kinds = kinds
        self.place_memo: dict[tuple[int | bytes, ...], bytes] = {}
        self._entries: dict[tuple[int, int], tuple[str, _Entry]] = {}  # (page, token) -> Clark tag, entry
        # root's local name -> a walk for the handlers (only Status looks at it: the command); a walk of a
        # view holds no document state the handlers of noted leaves use
        self._walks: dict[str, _Walk] = {}

    def note_of(self, key: tuple[int | bytes, ...]) -> bytes | None:
        """The comment (b"": none) for a note key of the decoder, memoized; None: it cannot be written as text
        (a CR would not survive the XML parse)."""
        page, token, text_b = key[0], key[1], key[2]
        assert isinstance(page, int) and isinstance(token, int) and isinstance(text_b, bytes)
        found = self._entries.get((page, token))
        if found is None:
            tag = f"{{{CODE_PAGES[page].name}}}{CODE_PAGES[page].tags[token & 0x3F]}"
            entry = _resolve(tag)
            assert entry is not None  # the kinds name only tags with a handler
            found = self._entries[(page, token)] = (tag, entry)
        tag, entry = found
        text = _xml_unescape(text_b) if text_b else None
        parent: _NoteView | None = None
        root_local = ""
        if len(key) > 3:
            parent_open, grand_open, root_page, root_open = key[3], key[4], key[5], key[6]
            assert isinstance(parent_open, bytes) and isinstance(grand_open, bytes)
            assert isinstance(root_page, int) and isinstance(root_open, bytes)
            grand = _NoteView(_open_tag_name(grand_open, root_page), None, None) if grand_open else None
            parent = _NoteView(_open_tag_name(parent_open, root_page), None, grand)
            root_local = _open_tag_name(root_open, root_page).partition("}")[2]
        walk = self._walks.get(root_local)
        if walk is None:
            if len(self._walks) > _MAX_CACHED_TAGS:
                self._walks.clear()
            root = _NoteView(root_local, None, None)
            walk = self._walks[root_local] = _Walk(root, self.context)  # type: ignore[arg-type]
        view = _NoteView(tag, text, parent)
        note = entry.handler(walk, view, entry.namespace, entry.local)  # type: ignore[arg-type]
        comment = b""
        if note:
            comment_text = _cached_comment_text(note)
            if "\r" in comment_text:
                return None
            comment = b"<!--" + comment_text.encode() + b"-->"
        if len(text_b) <= _MAX_CACHED_TEXT:
            memo, bound = (self.place_memo, _MAX_CACHED_PLACE_NOTES) if len(key) > 3 else (
                _VALUE_NOTES, _MAX_CACHED_NOTES)
            if len(memo) >= bound:
                memo.clear()
            memo[key] = comment
        return comment


def _xml_unescape(text_b: bytes) -> str:
    """The text of an element from its XML text as the decoder writes it (escapes: & < > and CR only)."""
    text = text_b.decode()
    if "&" in text:
        text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&#13;", "\r").replace("&amp;", "&")
    return text


_PAGE_BY_PREFIX: dict[bytes, str] = {page.prefix.encode(): page.name for page in CODE_PAGES}


def _open_tag_name(open_b: bytes, root_page: int) -> str:
    """The Clark name of an open tag the decoder wrote (`<email:Body>`; no prefix: the root's page)."""
    name = open_b[1:].split(b" ", 1)[0].rstrip(b">")
    prefix, colon, local = name.rpartition(b":")
    if colon:
        namespace = _PAGE_BY_PREFIX.get(prefix, "")  # "wbxml" (a placeholder): none of the pages
    else:
        namespace = CODE_PAGES[root_page].name if root_page < len(CODE_PAGES) else ""
    return f"{{{namespace}}}{local.decode()}"


_PLANS: dict[tuple[str | None, bool], _NotePlan] = {}
_KINDS: dict[bool, dict[tuple[int, str], int]] = {}


def _note_plan(context: AnnotationContext) -> _NotePlan:
    """The plan for a context: one per command and is_response (all a decoder-written note looks at)."""
    key = (context.command, context.is_response)
    plan = _PLANS.get(key)
    if plan is None:
        if len(_PLANS) > 64:
            _PLANS.clear()
        plan = _PLANS[key] = _NotePlan(AnnotationContext(context.command, context.is_response),
                                       _note_kinds(True))
    return plan


def _unknown_context_plan() -> _NotePlan:
    """The plan when the context is made from the decoded root: Status notes wait for the pass."""
    if not _UNKNOWN_CONTEXT_PLAN:
        _UNKNOWN_CONTEXT_PLAN.append(_NotePlan(AnnotationContext(), _note_kinds(False)))
    return _UNKNOWN_CONTEXT_PLAN[0]


_UNKNOWN_CONTEXT_PLAN: list[_NotePlan] = []


def _note_kinds(context_known: bool) -> dict[tuple[int, str], int]:
    """(page number, tag) -> how the decoder notes it (wbxml._F_*), for the tags with a handler and no static
    note. Status notes depend on the command and is_response (Provision's on what the tree holds)."""
    kinds = _KINDS.get(context_known)
    if kinds is not None:
        return kinds
    static = _static_notes()
    kinds = {}
    for page in CODE_PAGES:
        for name in page.tokens:
            entry = _resolve(f"{{{page.name}}}{name}")
            if entry is None or (page.number, name) in static:
                continue
            if name == "Supported":  # its children's notes change: annotate the plain way
                kind = wbxml._F_REDO
            elif name in page.opaque_tags or entry.by_markers:  # noted by their markers, often OPAQUE
                kind = wbxml._F_PASS
            elif entry.handler is _status:
                kind = wbxml._F_PLACE if context_known and page.name != "Provision" else wbxml._F_PASS
            elif entry.handler in _PLACE_HANDLERS:
                kind = wbxml._F_PLACE
            elif entry.is_pure:
                kind = wbxml._F_VALUE
            else:
                kind = wbxml._F_PASS
            kinds[(page.number, name)] = kind
    _KINDS[context_known] = kinds
    return kinds


_STATIC_NOTES: list[dict[tuple[int, str], tuple[bytes, bytes]]] = []


def _static_notes() -> dict[tuple[int, str], tuple[bytes, bytes]]:
    """(page number, tag) -> (comment, comment of an empty element) for the elements whose note never depends
    on the value or the context (outside Supported): contact properties, descriptions; made on first use."""
    if not _STATIC_NOTES:
        notes = {}
        for page in CODE_PAGES:
            for name in page.tokens:
                entry = _resolve(f"{{{page.name}}}{name}")
                if entry is None:
                    continue
                if entry.fixed is not None and entry.fixed_empty is not None:
                    notes[(page.number, name)] = (b"<!--" + entry.fixed.encode() + b"-->",
                                                  b"<!--" + entry.fixed_empty.encode() + b"-->")
                constant = _CONSTANT_NOTES.get(entry.handler)
                if constant is not None:
                    comment = b"<!--" + _comment_text(constant).encode() + b"-->"
                    notes[(page.number, name)] = (comment, comment)
        _STATIC_NOTES.append(notes)
    return _STATIC_NOTES[0]


def _annotate_rest(root: etree._Element, context: AnnotationContext, tags: list[str]) -> None:
    """annotate() for the elements named by `tags`, in a tree whose other notes are in already.

    One pass over those elements (lxml matches the tags in C); the few that get a note are kept, so no second
    pass is needed."""
    walk = _Walk(root, context)
    targets: list[etree._Element] = []
    texts: list[str] = []
    memo = _NOTE_CACHE
    if len(memo) > _MAX_CACHED_NOTES:
        memo.clear()
    cache = _TAG_CACHE
    text: str | None
    for element in root.iter(*tags):
        tag = element.tag
        entry = cache.get(tag, _MISSING)
        if entry is _MISSING:
            entry = _resolve(tag)
            if len(cache) < _MAX_CACHED_TAGS:
                cache[tag] = entry
        if entry is None or element is root:
            continue
        if entry.is_pure and not len(element):
            key: tuple[str | None, ...] = (tag, element.text)
            if entry.by_markers:
                key += (element.get(_OPAQUE_MARKER), element.get(_TEXT_MARKER))
            try:
                text = memo[key]
            except KeyError:
                note = entry.handler(walk, element, entry.namespace, entry.local)
                text = _comment_text(note) if note else None
                if len(key[1] or "") <= _MAX_CACHED_TEXT:
                    memo[key] = text
        else:
            note = entry.handler(walk, element, entry.namespace, entry.local)
            text = _cached_comment_text(note) if note else None
        if text is not None:
            targets.append(element)
            texts.append(text)
    if not texts:
        return
    comments: Iterator[etree._Element] = _pooled_comments(texts)
    if len(texts) > _FEW_COMMENTS:
        holder = _parsed_comments(texts)
        if holder is not None and len(holder) == len(texts):
            comments = iter(holder)  # moving a child away does not disturb this iterator
    for element, comment in zip(targets, comments):
        _insert_after(element, comment)


class _Entry(NamedTuple):
    """What annotate does with one Clark tag."""

    namespace: str
    local: str
    handler: Handler
    is_pure: bool  # the note depends only on the tag and the text of a leaf: memoized
    by_markers: bool = False  # ... and on the decoder's marker attributes (part of the memo key)
    fixed: str | None = None  # comment text that needs no handler (contact fields not under Supported)
    fixed_empty: str | None = None  # the same for an empty element


def _resolve(tag: str) -> _Entry | None:
    if tag.startswith("{"):
        uri, _, local = tag[1:].partition("}")
    else:
        uri, local = "", tag
    namespace = _NAMESPACES.get(uri.rstrip(":").lower(), "")
    local = _TAG_SPELLINGS.get((namespace, local), local)
    handler = _HANDLERS.get((namespace, local))
    if handler is None:
        # the children of a Supported element, whatever its namespace, are listed properties (see _contact)
        return _Entry(namespace, local, _mark_supported, False) if local == "Supported" else None
    fixed = _CONTACT_NOTES.get(handler)
    if fixed is not None:
        return _Entry(namespace, local, handler, False, False, _comment_text(fixed), _comment_text(fixed + _EMPTY))
    by_markers = handler in _MARKER_DEPENDENT
    return _Entry(namespace, local, handler, by_markers or handler in _PURE_HANDLERS, by_markers)


def _comment_text(note: str) -> str:
    text = _INVALID_XML_CHARS.sub("?", note)
    if len(text) > _COMMENT_MAX:
        text = text[:_COMMENT_MAX] + "..."
    if "--" in text:
        text = _DOUBLE_DASH.sub("- ", text)
    return f" {text} "


def _cached_comment_text(note: str) -> str:
    cached = _COMMENT_CACHE
    text = cached.get(note)
    if text is None:
        text = _comment_text(note)
        if len(note) <= _MAX_CACHED_TEXT:
            if len(cached) > _MAX_CACHED_NOTES:
                cached.clear()
            cached[note] = text
    return text


def _attach_all(root: etree._Element, texts: list[str | None], count: int, saw_comment: bool,
                saw_other: bool = True) -> None:
    """Insert each comment text as a comment right after its element (texts: one per element of
    root.iter(etree.Element), None where no comment goes; count: how many are not None; saw_comment: the
    tree had a comment; saw_other: it had a comment, processing instruction or entity).

    The walk keeps no element: holding tens of thousands of proxies costs more than a second iteration.
    """
    comments: Iterator[etree._Element] | None = None
    if count <= _FEW_COMMENTS and not saw_comment:  # a small document: no generator, no parse
        pool = _POOL
        blanks = pool.blanks
        # root.iter() with a node type filter costs about 0.5 us more to set up (much of a small document's
        # time); without it, the comments inserted after parents would be met, so the targets are taken first
        elements = root.iter(etree.Element) if saw_other else root.iter()
        for element, text in zip(list(compress(elements, texts)), filter(None, texts)):
            comment = next(blanks, None)
            if comment is None:
                pool.blanks = blanks = iter(etree.fromstring(_POOL_REFILL, _COMMENT_PARSER))
                comment = next(blanks)
            comment.text = text
            tail = element.tail  # _insert_after, inlined: this loop runs once per note
            if tail is None:
                element.addnext(comment)
            else:
                element.tail = None
                element.addnext(comment)
                comment.tail = tail
        pool.blanks = blanks
        return
    if count <= _FEW_COMMENTS:
        comments = _pooled_comments(filter(None, texts))
    else:
        # one parse for all: much cheaper than one etree.Comment (hence one new document) per note
        holder = _parsed_comments(filter(None, texts))
        if holder is not None and len(holder) == count:
            comments = iter(holder)  # moving a child away does not disturb this iterator
        else:
            comments = iter([etree.Comment(text) for text in texts if text is not None])
    targets = compress(root.iter(etree.Element), texts)
    if saw_comment:
        # maybe annotated before: keep an identical comment that already follows the element
        for element, comment, text in zip(targets, comments, filter(None, texts)):
            following = element.getnext()
            if not (isinstance(following, etree._Comment) and following.text == text):
                _insert_after(element, comment)
        return
    for element, comment in zip(targets, comments):  # the common case: no comment yet
        tail = element.tail  # _insert_after, inlined as above
        if tail is None:
            element.addnext(comment)
        else:
            element.tail = None
            element.addnext(comment)
            comment.tail = tail


def _parsed_comments(texts: Iterable[str]) -> etree._Element | None:
    """An element holding a comment per text, parsed in one go; None when the parse would not give them back
    as they are (XML parsing turns CR into LF, XML 1.0 section 2.11)."""
    xml = "<r><!--" + "--><!--".join(texts) + "--></r>"
    if "\r" in xml:
        return None
    try:
        return etree.fromstring(xml, _COMMENT_PARSER)
    except etree.XMLSyntaxError:
        return None


class _CommentPool(threading.local):
    """Blank comments parsed in bulk, per thread (a document is not safe to share between threads)."""

    def __init__(self) -> None:
        self.blanks: Iterator[etree._Element] = iter(())


_POOL = _CommentPool()
_POOL_REFILL = "<r>" + "<!---->" * 256 + "</r>"


def _pooled_comments(texts: Iterable[str]) -> Iterator[etree._Element]:
    """A comment per text, taken from the pool: parsing 256 blank comments at once and setting their text
    costs far less than one etree.Comment (a new document each) per note."""
    pool = _POOL
    for text in texts:
        comment = next(pool.blanks, None)
        if comment is None:
            pool.blanks = iter(etree.fromstring(_POOL_REFILL, _COMMENT_PARSER))
            comment = next(pool.blanks)
        comment.text = text
        yield comment


def _insert_after(element: etree._Element, comment: etree._Element) -> None:
    tail = element.tail
    if tail is not None:
        element.tail = None
    element.addnext(comment)
    if tail is not None:
        comment.tail = tail


def _local(element: etree._Element) -> str:
    node: Any = element  # a comment's tag is no str (see annotate)
    tag = node.tag
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _child_text(element: etree._Element, local: str) -> str | None:
    for child in element.iterchildren("{*}" + local):  # matched in C: any namespace or none
        return (child.text or "").strip()
    return None


class _Walk:
    """Per-document state: the command, and classes found in the document (built on first need)."""

    def __init__(self, root: etree._Element, context: AnnotationContext) -> None:
        self.root = root
        self.context = context
        root_local = _local(root)
        self.command = context.command or root_local
        self.root_local = root_local
        self._folder_classes: dict[str, str] | None = None
        self._class_of: dict[etree._Element, str | None] = {}  # keys keep the proxies alive
        # children of Supported elements met so far (the walk meets a parent before its children)
        self.supported_children: set[etree._Element] = set()
        self.is_response = context.is_response or (
            root_local == "Provision" and _child_text(root, "Status") is not None)

    def folder_classes(self) -> Mapping[str, str]:
        """Collection id -> class from the context, FolderSync Add/Update types and Ping folders here."""
        if self._folder_classes is None:
            found: dict[str, str] = dict(self.context.folder_classes or {})
            for element in self.root.iter("{*}Add", "{*}Update", "{*}Folder"):  # matched in C
                server_id = _child_text(element, "ServerId") or _child_text(element, "Id")
                folder_type = _child_text(element, "Type")
                folder_class = _child_text(element, "Class")
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
            local = _local(node)
            if local in ("Options", "Collection", "Fetch", "Response", "Result"):
                if node not in self._class_of:
                    self._class_of[node] = self._own_class(node)
                found = self._class_of[node]
                if found:
                    return found
            node = node.getparent()
        return self.context.collection_class

    def _own_class(self, node: etree._Element) -> str | None:
        direct = _child_text(node, "Class")
        if direct:
            return direct
        for child in node:
            if isinstance(child.tag, str) and _local(child) == "Options":
                in_options = _child_text(child, "Class")
                if in_options:
                    return in_options
        collection_id = _child_text(node, "CollectionId")
        if collection_id:
            return self.folder_classes().get(collection_id)
        return None


# ---- handlers ---------------------------------------------------------------------------------------------

def _text(element: etree._Element) -> str:
    return (element.text or "").strip()


def _status_table(walk: _Walk, element: etree._Element, namespace: str) -> tuple[str, status.StatusTable]:
    parent = element.getparent()
    parent_local = _local(parent) if parent is not None else ""
    if namespace == "AirSync":
        grand = parent.getparent() if parent is not None else None
        if parent_local in ("Add", "Change", "Delete", "Fetch") and grand is not None \
                and _local(grand) == "Responses":
            return "Sync item", status.SYNC_ITEM
        return "Sync", status.SYNC
    if namespace == "FolderHierarchy":
        command = walk.command if walk.command in ("FolderCreate", "FolderUpdate", "FolderDelete") \
            else "FolderSync"
        return command, status.BY_COMMAND[command]
    if namespace == "Provision":
        if parent_local == "Policy":
            if walk.is_response:
                return "Provision Policy", status.PROVISION_POLICY
            return "Provision Policy acknowledgment", status.PROVISION_POLICY_ACK
        if parent_local in ("RemoteWipe", "AccountOnlyRemoteWipe"):
            return "RemoteWipe acknowledgment", status.PROVISION_REMOTE_WIPE_ACK
        return "Provision", status.PROVISION
    if namespace == "ResolveRecipients":
        table = {
            "Response": ("ResolveRecipients Response", status.RESOLVE_RECIPIENTS_RESPONSE),
            "Certificates": ("ResolveRecipients Certificates", status.RESOLVE_RECIPIENTS_CERTIFICATES),
            "Availability": ("ResolveRecipients Availability", status.RESOLVE_RECIPIENTS_AVAILABILITY),
            "Picture": ("Picture", status.PICTURE),
        }.get(parent_local)
        return table or ("ResolveRecipients", status.RESOLVE_RECIPIENTS)
    if namespace == "GAL":
        return "Picture", status.PICTURE
    if namespace == "AirSyncBase":
        return "BodyPart", status.BODY_PART
    if namespace == "ComposeMail":
        command = walk.command if walk.command in ("SmartReply", "SmartForward") else "SendMail"
        return command, status.COMPOSE_MAIL
    name = _STATUS_BY_NAMESPACE[namespace]
    if namespace == "Settings" and parent_local not in ("Settings", ""):
        name = f"Settings {parent_local}"
    return name, status.BY_COMMAND[_STATUS_BY_NAMESPACE[namespace]]


_STATUS_BY_NAMESPACE: Mapping[str, str] = {
    "GetItemEstimate": "GetItemEstimate", "ItemOperations": "ItemOperations",
    "MeetingResponse": "MeetingResponse", "Move": "MoveItems", "Ping": "Ping", "Search": "Search",
    "Settings": "Settings", "ValidateCert": "ValidateCert", "Find": "Find",
}


def _status_code_meaning(walk: _Walk, element: etree._Element, namespace: str) -> tuple[int, str] | None:
    raw = _text(element)
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        return None
    code = int(raw)
    name, table = _status_table(walk, element, namespace)
    meaning = table.get(code)
    if meaning is None and namespace == "AirSync" and table is status.SYNC_ITEM:
        meaning = status.SYNC.get(code)
    if meaning is None and code >= 101:
        meaning = status.COMMON.get(code)
        if meaning is not None:
            meaning += " (common status)"
    if meaning is None:
        meaning = f"unknown {name} status code"
    return code, meaning


def _status(walk: _Walk, element: etree._Element, namespace: str, local: str) -> str | None:
    # memoized on all _status_table looks at: the parent's and grandparent's names, the command, is_response
    raw = element.text
    parent = element.getparent()
    grand = parent.getparent() if parent is not None else None
    key = (_status, namespace, raw, parent.tag if parent is not None else None,
           grand.tag if grand is not None else None, walk.command, walk.is_response)
    note = _NOTE_CACHE.get(key)
    if note is None:
        found = _status_code_meaning(walk, element, namespace)
        if found is None:
            note = f"Status {_text(element)!r}: not a number"
        else:
            note = f"Status {found[0]}: {found[1]}"
        if len(raw or "") <= _MAX_CACHED_TEXT:
            _NOTE_CACHE[key] = note
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
    entry = _resolve(tag)
    if entry is None or entry.handler is not _status:
        return None
    walk = _Walk(element.getroottree().getroot(), context or AnnotationContext())
    found = _status_code_meaning(walk, element, entry.namespace)
    return found[1] if found else None


def _flag_status(walk: _Walk, element: etree._Element, namespace: str, local: str) -> str | None:
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
    def handler(walk: _Walk, element: etree._Element, namespace: str, local: str) -> str | None:
        raw = _text(element)
        if not raw and len(element):
            return None
        return _lookup(label or local, raw, table)
    return handler


def _filter_type(walk: _Walk, element: etree._Element, namespace: str, local: str) -> str | None:
    collection_class = walk.class_for(element)
    table = enums.FILTER_TYPE_BY_CLASS.get(collection_class or "", enums.FILTER_TYPE_ANY)
    qualifier = f" ({collection_class})" if collection_class in enums.FILTER_TYPE_BY_CLASS else ""
    return _lookup("FilterType", _text(element), table, qualifier)


def _folder_type(walk: _Walk, element: etree._Element, namespace: str, local: str) -> str | None:
    raw = _text(element)
    note = _lookup("Type", raw, enums.FOLDER_TYPE)
    folder_class = enums.FOLDER_TYPE_CLASS.get(raw)
    return f"{note} (class {folder_class})" if folder_class and raw != "19" else note


def _truncation(walk: _Walk, element: etree._Element, namespace: str, local: str) -> str | None:
    return _lookup("Truncation", _text(element), enums.TRUNCATION_25, " (protocol 2.5)")


def _flag(meanings: tuple[str, str]) -> Handler:
    def handler(walk: _Walk, element: etree._Element, namespace: str, local: str) -> str | None:
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
    def handler(walk: _Walk, element: etree._Element, namespace: str, local: str) -> str | None:
        raw = _text(element)
        return f"{local} {raw}: {description}" if raw else None
    return handler


_MARKER_DEPENDENT: set[Handler] = set()  # notes that also depend on the decoder's marker attributes
_OPAQUE_MARKER = "{urn:eas-inspector:wbxml}opaque"
_TEXT_MARKER = "{urn:eas-inspector:wbxml}text"


def _leaf_value(element: etree._Element) -> str | bytes:
    """The leaf's value: bytes when the decoder's markers say what bytes the text stands for."""
    raw = element.text or ""
    marker = element.get(_OPAQUE_MARKER) or element.get(_TEXT_MARKER)
    if marker == "base64":
        data = values.binary_from_text(raw) if raw.strip() else b""
        return raw if data is None else data
    if marker == "text":
        return raw.encode("utf-8", errors="surrogateescape")
    return raw


def _decoded(describe: Callable[[str], str], prefix: str | None = None) -> Handler:
    def handler(walk: _Walk, element: etree._Element, namespace: str, local: str) -> str | None:
        raw = element.text or ""
        if not raw.strip() or len(element):
            return None
        described = describe(raw)
        return f"{prefix}: {described}" if prefix else described
    return handler


def _decoded_bytes(describe: Callable[[str | bytes], str], prefix: str | None = None) -> Handler:
    def handler(walk: _Walk, element: etree._Element, namespace: str, local: str) -> str | None:
        if not (element.text or "").strip() or len(element):
            return None
        described = describe(_leaf_value(element))
        return f"{prefix}: {described}" if prefix else described
    _MARKER_DEPENDENT.add(handler)
    return handler


def _day_of_week(walk: _Walk, element: etree._Element, namespace: str, local: str) -> str | None:
    raw = _text(element)
    return f"DayOfWeek {raw}: {values.describe_day_of_week(raw)}" if raw else None


def _body_data(walk: _Walk, element: etree._Element, namespace: str, local: str) -> str | None:
    parent = element.getparent()
    raw = element.text or ""
    if parent is None or _child_text(parent, "Type") != "4" or not raw.strip():
        return None
    value = _leaf_value(element)
    if len(value) > _MAX_CACHED_TEXT:
        return "MIME: " + values.describe_mime(value)
    key = (_body_data, value)  # the same shared memo as the leaf notes: the summary depends on the value only
    note = _NOTE_CACHE.get(key)
    if note is None:
        note = _NOTE_CACHE[key] = "MIME: " + values.describe_mime(value)
    return note


def _message_class(walk: _Walk, element: etree._Element, namespace: str, local: str) -> str | None:
    raw = _text(element)
    if not raw:
        return None
    meaning = enums.message_class_meaning(raw)
    return f"MessageClass {raw}: {meaning if meaning else 'unknown message class'}"


def _range(walk: _Walk, element: etree._Element, namespace: str, local: str) -> str | None:
    raw = _text(element)
    first, dash, last = raw.partition("-")
    if not dash or not (first + last).isascii() or not first.isdigit() or not last.isdigit() or len(raw) > 40:
        return f"Range {raw!r}: invalid (expected m-n, e.g. 0-9)" if raw else None
    what = "bytes" if namespace == "ItemOperations" else "results"
    count = int(last) - int(first) + 1
    if count < 1:
        return f"Range {raw}: invalid (m is greater than n)"
    return f"Range {raw}: {what} {first} to {last}, zero-based ({count} in all)"


def _picture_data(walk: _Walk, element: etree._Element, namespace: str, local: str) -> str | None:
    parent = element.getparent()
    raw = element.text or ""
    if parent is None or _local(parent) != "Picture" or not raw.strip():
        return None
    return "Picture: " + values.describe_picture(raw)


def _estimated_size(walk: _Walk, element: etree._Element, namespace: str, local: str) -> str | None:
    raw = _text(element)
    parent = element.getparent()
    what = "attachment" if parent is not None and _local(parent) == "Attachment" else "body"
    return f"EstimatedDataSize {raw}: estimated size of the whole {what}, in bytes" if raw else None


def _parent_id(walk: _Walk, element: etree._Element, namespace: str, local: str) -> str | None:
    return "ParentId 0: a top-level folder (no parent)" if _text(element) == "0" else None


def _sync_key(walk: _Walk, element: etree._Element, namespace: str, local: str) -> str | None:
    raw = _text(element)
    if raw != "0":
        return None
    if namespace == "FolderHierarchy":
        return "SyncKey 0: first FolderSync: the server sends the whole folder list and resets every collection"
    return "SyncKey 0: initial key: the server resets this collection's state and answers with a new key"


def _more_available(walk: _Walk, element: etree._Element, namespace: str, local: str) -> str | None:
    return _CONSTANT_NOTES[_more_available]


# handler -> its note, for handlers whose note depends on nothing (the decoder writes them as static notes)
_CONSTANT_NOTES: dict[Handler, str] = {
    _more_available: "MoreAvailable: more changes wait on the server: Sync again with the new SyncKey"}
# handlers whose note depends on the leaf's text and its parent's and grandparent's names (and the command)
_PLACE_HANDLERS: frozenset[Handler] = frozenset({_estimated_size, _picture_data})


def _contact(namespace_label: str, description: str) -> Handler:
    """A contact property: its description; under Supported, that the client syncs it; dates and photos decoded.

    annotate takes the note of most properties from _FIXED_NOTES without calling this (same text)."""
    def handler(walk: _Walk, element: etree._Element, namespace: str, local: str) -> str | None:
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


def _mark_supported(walk: _Walk, element: etree._Element, namespace: str, local: str) -> str | None:
    walk.supported_children.update(element)
    return None


_GHOSTABLE_CONTACT_PROPERTIES: tuple[str, ...] = tuple(
    name for name in (*contacts.CONTACTS, *contacts.CONTACTS2) if name not in contacts.NOT_GHOSTABLE)


def _supported(walk: _Walk, element: etree._Element, namespace: str, local: str) -> str | None:
    _mark_supported(walk, element, namespace, local)
    children = [child for child in element if isinstance(child.tag, str)]
    listed = {_local(child) for child in children}
    collection_class = walk.class_for(element)
    if collection_class is None and children:
        # 12.1 and later send no Class in a Sync request: the listed properties' namespace tells it
        uri = etree.QName(children[0]).namespace or ""
        collection_class = {"Contacts": "Contacts", "Contacts2": "Contacts", "Calendar": "Calendar"}.get(
            _NAMESPACES.get(uri.rstrip(":").lower(), ""))
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
    def handler(walk: _Walk, element: etree._Element, namespace: str, local: str) -> str | None:
        return note
    note = _CONSTANT_NOTES[handler] = f"{label}: {description}"
    return handler


def _policy_setting(setting: provision.PolicySetting) -> Handler:
    def handler(walk: _Walk, element: etree._Element, namespace: str, local: str) -> str | None:
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
        handlers[(namespace, "Status")] = _status
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
    handlers.update({
        ("Email", "Status"): _flag_status,
        ("Email", "FlagStatus"): _flag_status,
        ("FolderHierarchy", "Type"): _folder_type,
        ("AirSync", "FilterType"): _filter_type,
        ("AirSync", "Class"): _enum(enums.CLASS),
        ("Ping", "Class"): _enum(enums.CLASS),
        ("GetItemEstimate", "Class"): _enum(enums.CLASS),
        ("AirSync", "Conflict"): _enum(enums.CONFLICT),
        ("AirSync", "MIMESupport"): _enum(enums.MIME_SUPPORT),
        ("AirSync", "MIMETruncation"): _enum(enums.MIME_TRUNCATION),
        ("AirSync", "Truncation"): _truncation,
        ("AirSync", "SyncKey"): _sync_key,
        ("FolderHierarchy", "SyncKey"): _sync_key,
        ("AirSync", "MoreAvailable"): _more_available,
        ("AirSync", "Supported"): _supported,
        ("AirSyncBase", "Type"): _enum(enums.BODY_TYPE, "Body type"),
        ("AirSyncBase", "NativeBodyType"): _enum(enums.BODY_TYPE),
        ("AirSyncBase", "Method"): _enum(enums.ATTACHMENT_METHOD, "Attachment method"),
        ("AirSyncBase", "Data"): _body_data,
        ("Email", "Importance"): _enum(enums.IMPORTANCE),
        ("Tasks", "Importance"): _enum(enums.IMPORTANCE),
        ("Email", "Sensitivity"): _enum(enums.SENSITIVITY),
        ("Calendar", "Sensitivity"): _enum(enums.SENSITIVITY),
        ("Tasks", "Sensitivity"): _enum(enums.SENSITIVITY),
        ("Email", "BusyStatus"): _enum(enums.BUSY_STATUS),
        ("Calendar", "BusyStatus"): _enum(enums.BUSY_STATUS),
        ("Calendar", "MeetingStatus"): _enum(enums.MEETING_STATUS),
        ("Calendar", "ResponseType"): _enum(enums.RESPONSE_TYPE),
        ("Calendar", "AttendeeStatus"): _enum(enums.ATTENDEE_STATUS, "Attendee status"),
        ("Calendar", "AttendeeType"): _enum(enums.ATTENDEE_TYPE, "Attendee type"),
        ("Email", "InstanceType"): _enum(enums.INSTANCE_TYPE),
        ("Email", "MessageClass"): _message_class,
        ("Email", "InternetCPID"): _enum(enums.INTERNET_CPID),
        ("Email", "ContentClass"): _enum(enums.CONTENT_CLASS),
        ("FolderHierarchy", "ParentId"): _parent_id,
        ("AirSyncBase", "EstimatedDataSize"): _estimated_size,
        ("Email", "GlobalObjId"): _decoded(values.describe_global_obj_id, "GlobalObjId"),
        ("GAL", "Data"): _picture_data,
        ("ResolveRecipients", "Data"): _picture_data,
        ("Search", "Range"): _range,
        ("ItemOperations", "Range"): _range,
        ("Find", "Range"): _range,
        ("Email2", "LastVerbExecuted"): _enum(enums.LAST_VERB),
        ("Email2", "MeetingMessageType"): _enum(enums.MEETING_MESSAGE_TYPE),
        ("MeetingResponse", "UserResponse"): _enum(enums.USER_RESPONSE),
        ("ResolveRecipients", "Type"): _enum({"1": "found in the global address list",
                                              "2": "found in the user's contacts"}),
        ("Search", "Name"): _enum(enums.STORE_NAME, "Store"),
        ("ItemOperations", "Store"): _enum(enums.STORE_NAME, "Store"),
        ("Provision", "PolicyType"): _enum(enums.POLICY_TYPE),
        ("Settings", "OofState"): _enum(enums.OOF_STATE),
        ("Settings", "BodyType"): _enum(enums.OOF_BODY_TYPE),
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
        handlers[(namespace, "Type")] = _enum(enums.RECURRENCE_TYPE, "Recurrence type")
        handlers[(namespace, "DayOfWeek")] = _day_of_week
        handlers[(namespace, "WeekOfMonth")] = _enum(enums.WEEK_OF_MONTH)
        handlers[(namespace, "MonthOfYear")] = _enum(enums.MONTH_OF_YEAR)
    for namespace in ("Calendar", "Email2", "Tasks"):
        handlers[(namespace, "FirstDayOfWeek")] = _enum(enums.FIRST_DAY_OF_WEEK)
        handlers[(namespace, "CalendarType")] = _enum(enums.CALENDAR_TYPE)
    date = _decoded(values.describe_date)
    for key in _DATE_ELEMENTS:
        handlers[key] = date
    return handlers


# Elements whose value is a date (MS-ASEMAIL, MS-ASCAL, MS-ASTASK, MS-ASNOTE, MS-ASCMD, MS-ASRM sections).
_DATE_ELEMENTS: tuple[tuple[str, str], ...] = (
    ("Email", "DateReceived"), ("Email", "DtStamp"), ("Email", "StartTime"), ("Email", "EndTime"),
    ("Email", "RecurrenceId"), ("Email", "Until"), ("Email", "CompleteTime"),
    ("Email2", "LastVerbExecutionTime"),
    ("Calendar", "DtStamp"), ("Calendar", "StartTime"), ("Calendar", "EndTime"), ("Calendar", "Until"),
    ("Calendar", "ExceptionStartTime"), ("Calendar", "AppointmentReplyTime"),
    ("Tasks", "DateCompleted"), ("Tasks", "DueDate"), ("Tasks", "UtcDueDate"), ("Tasks", "StartDate"),
    ("Tasks", "UtcStartDate"), ("Tasks", "ReminderTime"), ("Tasks", "Until"), ("Tasks", "OrdinalDate"),
    ("Notes", "LastModifiedDate"), ("Settings", "StartTime"), ("Settings", "EndTime"),
    ("MeetingResponse", "InstanceId"), ("MeetingResponse", "ProposedStartTime"),
    ("MeetingResponse", "ProposedEndTime"), ("RightsManagement", "ContentExpiryDate"),
    ("ResolveRecipients", "StartTime"), ("ResolveRecipients", "EndTime"), ("AirSyncBase", "InstanceId"),
    ("DocumentLibrary", "CreationDate"), ("DocumentLibrary", "LastModifiedDate"),
)

_HANDLERS: dict[tuple[str, str], Handler] = _build_handlers()
assert [key for key in _HANDLERS if key[1] == "Supported"] == [("AirSync", "Supported")], "see _resolve"

# Handlers whose note depends only on the element's tag and text (memoized across calls); contact properties
# also depend on a Supported parent, which annotate checks before it looks at the memo.
_PURE_HANDLERS: frozenset[Handler] = frozenset(
    handler for handler in _HANDLERS.values()
    if handler not in (_status, _filter_type, _supported, _body_data, _picture_data, _estimated_size)
    and handler not in _MARKER_DEPENDENT)

_MISSING = _Entry("", "", _more_available, False)

__all__ = ["AnnotationContext", "annotate", "decode_annotated", "element_status_meaning", "status_meaning"]
