"""The decoder's token tables per code page, and the notes it writes for eas.annotate (DecoderNotes)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final, Union

from .codepages import CODE_PAGES
from .wbxml_common import CONTENT_FLAG, SWITCH_PAGE


# Table entry flags.
F_NS: Final = 1  # the open tag carries a wbxml: name or marker, so the root must declare WBXML_NS
F_OPAQUE: Final = 2  # the tag's text is canonically OPAQUE, so the STR_I fast path does not apply

Entry = tuple[bytes, Union[bytes, None], int]
Table = list[Union[Entry, None]]


def _page_table(page_number: int, prefixed: bool, strict: bool) -> Table:
    """The 256-entry token table of one code page (known or not) for one output variant."""
    page = CODE_PAGES[page_number] if page_number < len(CODE_PAGES) else None
    table: Table = [None] * 256
    for token in range(0x05, 0x40):
        name = page.tags.get(token) if page is not None else None
        if name is None:
            if strict:
                continue
            qname = f"wbxml:tag-{page_number:02X}-{token:02X}".encode()
            attrs = b""
            flags = F_NS
        else:
            assert page is not None
            qname = (f"{page.prefix}:{name}" if prefixed else name).encode()
            flags = F_OPAQUE if name in page.opaque_tags else 0
            attrs = b""
            if page.tokens[name] != token:
                attrs = f' wbxml:token="0x{token:02X}"'.encode()
                flags |= F_NS
        table[token] = (b"<" + qname + attrs + b"/>", None, flags)
        table[token | CONTENT_FLAG] = (b"<" + qname + attrs + b">", b"</" + qname + b">", flags)
    return table


def _build_tables(prefixed: bool, strict: bool) -> list[Table | None]:
    tables: list[Table | None] = [None] * 256
    for page in CODE_PAGES:
        tables[page.number] = _page_table(page.number, prefixed, strict)
    return tables


TABLES: Final = {(p, s): _build_tables(p, s) for p in (False, True) for s in (False, True)}
_ROOT_TABLES: dict[tuple[int, bool], list[Table | None]] = {}
DEFAULT_DECL: Final = [f' xmlns="{page.name}"'.encode() for page in CODE_PAGES]
PREFIX_DECL: Final = [f' xmlns:{page.prefix}="{page.name}"'.encode() for page in CODE_PAGES]


def root_tables(page_number: int, strict: bool) -> list[Table | None]:
    """The page tables of a document whose root is on `page_number`: that page unprefixed, others prefixed."""
    tables = _ROOT_TABLES.get((page_number, strict))
    if tables is None:
        tables = list(TABLES[(True, strict)])
        tables[page_number] = TABLES[(False, strict)][page_number]
        _ROOT_TABLES[(page_number, strict)] = tables
    return tables


def _root_starts(strict: bool) -> dict[bytes, tuple[int, list[Table | None], Table, bytes, bytes, bytes]]:
    """The commonest document start, a plain root tag with content (after one SWITCH_PAGE unless on page 0).

    Keyed by its bytes (`T` or `00 P T`): (page, page tables, its table, open tag, close tag, open tag with
    the declaration of its page, for documents that use no other page).
    """
    starts = {}
    for page in CODE_PAGES:
        tables = root_tables(page.number, strict)
        table = tables[page.number]
        assert table is not None
        for token in range(0x05 | CONTENT_FLAG, 0x80):
            entry = table[token]
            if entry is None or entry[2] or entry[1] is None:
                continue
            open_b, close_b = entry[0], entry[1]
            key = bytes((token,)) if page.number == 0 else bytes((SWITCH_PAGE, page.number, token))
            starts[key] = (page.number, tables, table, open_b, close_b, open_b[:-1] + DEFAULT_DECL[page.number] + b">")
    return starts


ROOT_STARTS: Final = {strict: _root_starts(strict) for strict in (False, True)}
# (bare root open tag, pages used, WBXML_NS used) -> the root's open tag with its declarations.
ROOT_HEADS: dict[tuple[bytes, frozenset[int], bool], bytes] = {}
_UNKNOWN_PAGE_TABLES: dict[int, Table] = {}


def unknown_page(page_number: int) -> Table:
    table = _UNKNOWN_PAGE_TABLES.get(page_number)
    if table is None:
        table = _UNKNOWN_PAGE_TABLES[page_number] = _page_table(page_number, True, False)
    return table


# Notes, for eas.annotate.decode_annotated: the decoder writes XML comments with the meanings of values right
# after the elements, so libxml2 builds them with the tree. A note is one of:
#   static: (page number, tag name) -> (comment, comment of an empty element): the noted tables carry it after
#     the end tag, so the hot loop writes it with the tag;
#   a kind, flagged in the noted tables (flags the fast path for tags skips, so decoding without notes pays
#   nothing: a branch after it, and the leaf runs, write a NOTE_VALUE or NOTE_PLACE leaf with its note):
#     NOTE_VALUE  a leaf whose note depends on its text: looked up in notes.memo by (page, token, text), made by
#               notes.note_of on a miss;
#     NOTE_PLACE  the same, also by the open tags of its parent and grandparent, the root's page and open tag
#               (in notes.place_memo: such notes also depend on the caller's context);
#     NOTE_PASS   its note needs the whole tree: the decoder lists its tag (notes.passed) for a pass after;
#     NOTE_REDO   the decoder cannot write the notes of this document (notes.missed).
# A NOTE_VALUE or NOTE_PLACE element that is not a plain leaf (children, markers, several tokens), an element
# with a static note and the wbxml:content="empty" marker, a tag sent with another token of its name set
# notes.missed: the caller decodes again without notes. Placeholders get no note. The root never gets one.
NOTE_VALUE: Final = 4
NOTE_PLACE: Final = 8
NOTE_PASS: Final = 16
NOTE_REDO: Final = 32
NoteKey = tuple[Union[int, bytes], ...]
StaticNotes = dict[tuple[int, str], tuple[bytes, bytes]]
NoteKinds = dict[tuple[int, str], int]


class DecoderNotes:
    """What decode_xml_bytes writes besides the document, and what it reports back: one per call."""

    __slots__ = ("static", "kinds", "memo", "place_memo", "note_of", "passed", "missed")

    def __init__(self, static: StaticNotes, kinds: NoteKinds, memo: dict[NoteKey, bytes],
                 place_memo: dict[NoteKey, bytes], note_of: Callable[[NoteKey], bytes | None]) -> None:
        self.static = static
        self.kinds = kinds
        self.memo = memo  # note key -> comment bytes (b"": no note), of NOTE_VALUE leaves; note_of fills it
        self.place_memo = place_memo  # the same for NOTE_PLACE leaves
        self.note_of = note_of  # the comment for a key the memo lacks; None: it cannot be written here
        self.passed: set[tuple[int, int]] = set()  # (page, token) of the NOTE_PASS elements written
        self.missed = False  # a note could not be written: the output is not annotated right


_NOTED_TABLES: dict[tuple[int, int, int],
                    tuple[list[Table | None], list[Table | None], StaticNotes, NoteKinds]] = {}


def noted_tables(tables: list[Table | None], strict: bool, notes: DecoderNotes) -> list[Table | None]:
    """`tables` with the static notes and note kinds of the pages they name (cached per list and notes).

    The root's own entry must come from the plain tables: a note after the root's end tag is not XML."""
    static, kinds = notes.static, notes.kinds
    key = (id(tables), id(static), id(kinds))
    cached = _NOTED_TABLES.get(key)
    if cached is not None and cached[0] is tables and cached[2] is static and cached[3] is kinds:
        return cached[1]
    noted = list(tables)
    for page_number in {number for number, _ in static} | {number for number, _ in kinds}:
        table = tables[page_number]
        if table is None:
            continue
        page = CODE_PAGES[page_number]
        copy = list(table)
        for token in range(0x05, 0x40):
            name = page.tags.get(token)
            if name is None:
                continue
            note = static.get((page_number, name))
            kind = kinds.get((page_number, name), 0)
            if note is None and not kind:
                continue
            empty, full = table[token], table[token | CONTENT_FLAG]
            assert empty is not None and full is not None and full[1] is not None
            if page.tokens[name] != token:  # another token for the name (wbxml:token): not noted here
                note, kind = (b"", b""), NOTE_REDO
            elif note is None:
                note = (b"", b"")
            copy[token] = (empty[0] + note[1], None, empty[2] | kind)
            copy[token | CONTENT_FLAG] = (full[0], full[1] + note[0], full[2] | kind)
        noted[page_number] = copy
    if len(_NOTED_TABLES) > 1024:
        _NOTED_TABLES.clear()
    _NOTED_TABLES[key] = (tables, noted, static, kinds)
    return noted


# An element the decoder holds open: (close tag, index of its open tag in the output, bare open tag, entry
# flags, marker attributes).
OpenElement = tuple[bytes, int, bytes, int, Sequence[bytes]]


def leaf_note(notes: DecoderNotes, kind: int, page: int, token: int, text: bytes, stack: list[OpenElement],
              root_page: int, root_open: bytes) -> bytes:
    """The comment for a NOTE_VALUE or NOTE_PLACE leaf (text: its XML text), b"" for none (see DecoderNotes)."""
    if kind == NOTE_VALUE:
        key: NoteKey = (page, token, text)
        note = notes.memo.get(key)
    else:
        key = (page, token, text, stack[-1][2], stack[-2][2] if len(stack) > 1 else b"", root_page, root_open)
        note = notes.place_memo.get(key)
    if note is None:
        note = notes.note_of(key)
        if note is None:
            notes.missed = True
            return b""
    return note
