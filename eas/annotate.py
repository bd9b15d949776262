"""Adds what each EAS value means as an XML comment right after its element; the notes come from eas.notes."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from itertools import compress
from typing import Any

from lxml import etree

from . import sensitive, versions
from .codepages import CODE_PAGES
from .notes import (
    CONSTANT_NOTES,
    FIXED_CACHE,
    MAX_CACHED_NOTES,
    MAX_CACHED_TAGS,
    MAX_CACHED_TEXT,
    MISSING_ENTRY,
    NOTE_CACHE,
    OPAQUE_MARKER,
    PLACE_HANDLERS,
    TAG_CACHE,
    TEXT_MARKER,
    AnnotationContext,
    DocumentWalk,
    NoteEntry,
    cached_comment_text,
    comment_text,
    element_status_meaning,
    resolve,
    status_meaning,
    status_note,
)
from .wbxml_decode import decode_xml_bytes, parse_decoded
from .wbxml_tables import NOTE_PASS, NOTE_PLACE, NOTE_REDO, NOTE_VALUE, DecoderNotes

__all__ = ["AnnotationContext", "annotate", "decode_annotated", "element_status_meaning", "status_meaning"]

# Theory of operation: one pass over root.iter() looks every element's Clark tag up in the handlers of
# eas.notes (resolved once per tag, cached) and records one comment text (or None) per element; it keeps no element.
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
# the end tags, so libxml2 builds those comments with the tree (eas.wbxml_tables.DecoderNotes): notes that never depend on the
# value (contact properties, descriptions) are part of the decoder's tag tables; a note that depends on a
# leaf's text (enums, flags, dates), or also on its parent's and grandparent's names and the command (Status,
# EstimatedDataSize), is looked up by those in a memo per context (command, is_response), made by the same
# handler on a miss (given a _NoteView of the leaf). Notes that need the tree (FilterType: the collection's
# class; AirSyncBase Data: its Type sibling; values noted by their markers) come from a pass over the tags
# the decoder saw (lxml matches them in C). What the decoder cannot note (a Supported element, a noted
# element that is not a plain leaf) makes decode_annotated decode again without notes and annotate.

_COMMENT_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
_FEW_COMMENTS = 32  # up to this many comments come from the blank pool (_pooled_comments), more from one parse


def annotate(root: etree._Element, context: AnnotationContext) -> etree._Element:
    """Add a comment with the meaning after each value that has one; returns the same root.

    Running it twice adds nothing new (an identical comment already after an element is kept).
    """
    walk = DocumentWalk(root, context)
    supported = walk.supported_children
    texts: list[str | None] = []  # per element in document order: its comment text, None for none
    saw_comment = False
    saw_other = False  # a comment, processing instruction or entity: the second pass has to skip them
    add = texts.append
    cache = TAG_CACHE
    fixed_texts = FIXED_CACHE.get
    memo = NOTE_CACHE
    if len(memo) > MAX_CACHED_NOTES:
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
            entry = resolve(tag)
            if len(cache) < MAX_CACHED_TAGS:
                cache[tag] = entry
                if entry is not None and entry.fixed is not None:
                    FIXED_CACHE[tag] = (entry.fixed, entry.fixed_empty)  # type: ignore[assignment]
        if entry is None:
            add(None)
        elif supported and element in supported:  # a listed property: its note says so (see eas.notes)
            note = entry.handler(walk, element, entry.namespace, entry.local)
            add(cached_comment_text(note) if note else None)
        elif entry.fixed is not None:
            add(entry.fixed if element.text or len(element) else entry.fixed_empty)
        elif entry.is_pure and not len(element):
            key: tuple[str | None, ...] = (tag, element.text)
            if entry.by_markers:
                key += (element.get(OPAQUE_MARKER), element.get(TEXT_MARKER))
            try:
                add(memo[key])
            except KeyError:
                note = entry.handler(walk, element, entry.namespace, entry.local)
                text = comment_text(note) if note else None
                if len(key[1] or "") <= MAX_CACHED_TEXT:
                    memo[key] = text
                add(text)
        else:
            note = entry.handler(walk, element, entry.namespace, entry.local)
            add(cached_comment_text(note) if note else None)
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
    element, a noted element that is not a plain leaf, see eas.wbxml_tables.DecoderNotes) is decoded again without notes and
    annotated the plain way.
    """
    raw = data if type(data) is bytes else bytes(data)
    plan = _note_plan(context) if isinstance(context, AnnotationContext) else _unknown_context_plan()
    notes = DecoderNotes(plan.static, plan.kinds, _VALUE_NOTES, plan.place_memo, plan.note_of)
    xml = decode_xml_bytes(raw, strict, notes)
    if notes.missed:
        root = parse_decoded(decode_xml_bytes(raw, strict))
        return annotate(root, _whole_context(root, context, complete))
    root = parse_decoded(xml)
    context = _whole_context(root, context, complete)
    passed = notes.passed
    if passed:
        if _BODY_DATA in passed and _MAYBE_TYPE_4.search(xml) is None:
            passed.discard(_BODY_DATA)  # no body of type 4 (MIME): no Data note (see eas.notes)
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


# The decoder's notes by (page, token, text) (DecoderNotes.memo): they depend on nothing else, so every plan
# shares them; bounded like the other memos.
_VALUE_NOTES: dict[tuple[int | bytes, ...], bytes] = {}
_MAX_CACHED_VALUE_NOTES = 8192
_MAX_CACHED_PLACE_NOTES = 1024  # per plan (notes by place: Status codes and sizes, few distinct)


class _NotePlan:
    """What the decoder writes for one context: the note kind of each tag (DecoderNotes), the memo of notes
    by (page, token, text, parent, grandparent, root) and how a missing note is made."""

    __slots__ = ("context", "static", "kinds", "place_memo", "_entries", "_walks")

    def __init__(self, context: AnnotationContext, kinds: dict[tuple[int, str], int]) -> None:
        self.context = context
        self.static = _static_notes()
        self.kinds = kinds
        self.place_memo: dict[tuple[int | bytes, ...], bytes] = {}
        self._entries: dict[tuple[int, int], tuple[str, NoteEntry]] = {}  # (page, token) -> Clark tag, entry
        # root's local name -> a walk for the handlers (only Status looks at it: the command); a walk of a
        # view holds no document state the handlers of noted leaves use
        self._walks: dict[str, DocumentWalk] = {}

    def note_of(self, key: tuple[int | bytes, ...]) -> bytes | None:
        """The comment (b"": none) for a note key of the decoder, memoized; None: it cannot be written as text
        (a CR would not survive the XML parse)."""
        page, token, text_b = key[0], key[1], key[2]
        assert isinstance(page, int) and isinstance(token, int) and isinstance(text_b, bytes)
        found = self._entries.get((page, token))
        if found is None:
            tag = f"{{{CODE_PAGES[page].name}}}{CODE_PAGES[page].tags[token & 0x3F]}"
            entry = resolve(tag)
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
            if len(self._walks) > MAX_CACHED_TAGS:
                self._walks.clear()
            root = _NoteView(root_local, None, None)
            walk = self._walks[root_local] = DocumentWalk(root, self.context)  # type: ignore[arg-type]
        view = _NoteView(tag, text, parent)
        note = entry.handler(walk, view, entry.namespace, entry.local)  # type: ignore[arg-type]
        comment = b""
        if note:
            comment_text = cached_comment_text(note)
            if "\r" in comment_text:
                return None
            comment = b"<!--" + comment_text.encode() + b"-->"
        if len(text_b) <= MAX_CACHED_TEXT:
            memo, bound = (self.place_memo, _MAX_CACHED_PLACE_NOTES) if len(key) > 3 else (
                _VALUE_NOTES, _MAX_CACHED_VALUE_NOTES)
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
    """(page number, tag) -> how the decoder notes it (eas.wbxml_tables.NOTE_*), for the tags with a handler and no static
    note. Status notes depend on the command and is_response (Provision's on what the tree holds)."""
    kinds = _KINDS.get(context_known)
    if kinds is not None:
        return kinds
    static = _static_notes()
    kinds = {}
    for page in CODE_PAGES:
        for name in page.tokens:
            entry = resolve(f"{{{page.name}}}{name}")
            if entry is None or (page.number, name) in static:
                continue
            if name == "Supported":  # its children's notes change: annotate the plain way
                kind = NOTE_REDO
            elif name in page.opaque_tags or entry.by_markers:  # noted by their markers, often OPAQUE
                kind = NOTE_PASS
            elif entry.handler is status_note:
                kind = NOTE_PLACE if context_known and page.name != "Provision" else NOTE_PASS
            elif entry.handler in PLACE_HANDLERS:
                kind = NOTE_PLACE
            elif entry.is_pure:
                kind = NOTE_VALUE
            else:
                kind = NOTE_PASS
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
                entry = resolve(f"{{{page.name}}}{name}")
                if entry is None:
                    continue
                if entry.fixed is not None and entry.fixed_empty is not None:
                    notes[(page.number, name)] = (b"<!--" + entry.fixed.encode() + b"-->",
                                                  b"<!--" + entry.fixed_empty.encode() + b"-->")
                constant = CONSTANT_NOTES.get(entry.handler)
                if constant is not None:
                    comment = b"<!--" + comment_text(constant).encode() + b"-->"
                    notes[(page.number, name)] = (comment, comment)
        _STATIC_NOTES.append(notes)
    return _STATIC_NOTES[0]


def _annotate_rest(root: etree._Element, context: AnnotationContext, tags: list[str]) -> None:
    """annotate() for the elements named by `tags`, in a tree whose other notes are in already.

    One pass over those elements (lxml matches the tags in C); the few that get a note are kept, so no second
    pass is needed."""
    walk = DocumentWalk(root, context)
    targets: list[etree._Element] = []
    texts: list[str] = []
    memo = NOTE_CACHE
    if len(memo) > MAX_CACHED_NOTES:
        memo.clear()
    cache = TAG_CACHE
    text: str | None
    for element in root.iter(*tags):
        tag = element.tag
        entry = cache.get(tag, MISSING_ENTRY)
        if entry is MISSING_ENTRY:
            entry = resolve(tag)
            if len(cache) < MAX_CACHED_TAGS:
                cache[tag] = entry
        if entry is None or element is root:
            continue
        if entry.is_pure and not len(element):
            key: tuple[str | None, ...] = (tag, element.text)
            if entry.by_markers:
                key += (element.get(OPAQUE_MARKER), element.get(TEXT_MARKER))
            try:
                text = memo[key]
            except KeyError:
                note = entry.handler(walk, element, entry.namespace, entry.local)
                text = comment_text(note) if note else None
                if len(key[1] or "") <= MAX_CACHED_TEXT:
                    memo[key] = text
        else:
            note = entry.handler(walk, element, entry.namespace, entry.local)
            text = cached_comment_text(note) if note else None
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
        # root.iter() with a node type filter has a setup cost a small document notices; without the filter,
        # the comments inserted after parents would be met, so the targets are taken first
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
