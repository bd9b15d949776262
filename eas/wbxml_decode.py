"""WBXML to XML text in one pass over the tokens, and the XML text to an lxml tree in one parse."""

from __future__ import annotations

import threading
from collections.abc import Callable

from lxml import etree

from .codepages import CODE_PAGES
from .errors import LimitError, MalformedError, TruncatedError, UnknownCodePageError, UnknownTokenError
from .wbxml_common import (
    ATTRS_FLAG, CONTENT_FLAG, END, ENTITY, GLOBAL_NAMES, LITERAL, LITERAL_A, LITERAL_AC, LITERAL_C,
    MARKER_DECLARATION, MAX_DEPTH, OPAQUE, PI, STANDARD_HEADER, STR_I, STR_T, SWITCH_PAGE, StringTable,
    decode_mb_u_int32, encode_mb_u_int32, index_at, skip_attr_list,
)
from .wbxml_content import (
    ALWAYS_CARE, LEAF_RUN, NONCHARACTER, TEXT_CARE, Piece, add_switch, b64, escape, flush_pieces, leaf_content,
    marker_attr, mixed_piece, read_header, with_attrs, xml_text,
)
from .wbxml_tables import (
    DEFAULT_DECL, F_NS, F_OPAQUE, NOTE_PASS, NOTE_PLACE, NOTE_VALUE, PREFIX_DECL, ROOT_HEADS, ROOT_STARTS, TABLES,
    DecoderNotes, Entry, OpenElement, Table, leaf_note, noted_tables, root_tables, unknown_page,
)

__all__ = ["decode", "decode_to_xml", "decode_xml_bytes", "parse_decoded", "to_xml"]

# Package-internal API (eas.annotate uses it): decode_xml_bytes(data, strict, notes) is the XML text of a
# document, with the notes of a DecoderNotes written after the elements; parse_decoded(xml) its tree.
#
# Theory of operation
# ===================
#
# A WBXML document (WAP-192 section 5.3) is a header (version, publicid, charset, string table) followed by a
# token stream: one root element, optionally surrounded by processing instructions. decode_xml_bytes walks the
# stream once and appends ready-made UTF-8 XML byte strings to a list; decode() hands the joined bytes to
# libxml2 in one parse, which builds an lxml tree far cheaper than creating elements one by one from Python.
# The walk follows these rules, cheapest and commonest first:
#
#  1. Per code page there is a table of 256 entries indexed by the raw token byte (eas.wbxml_tables):
#     (open tag, close tag or None for an empty element, flags) for tag tokens; None for global tokens,
#     attribute-carrying tags and (strict mode) unknown tokens. A tag costs one list lookup.
#  2. The standard header and the commonest start (a plain root tag, after one SWITCH_PAGE unless on page 0)
#     are recognised by one comparison and one dict lookup (ROOT_STARTS).
#  3. The fast path applies while the flag `irregular` is off and the entry has no flags. `irregular` is on
#     before the root, while SWITCH_PAGE tokens are pending and while content tokens are held back (rule 8).
#  4. A SWITCH_PAGE to another page right before a tag of that page is taken with the tag.
#  5. `TAG+content STR_I text END` is a leaf: its text is found with bytes.find and checked by one regex (no
#     control character, no markup character, ASCII) or, failing that, decoded and escaped (xml_text).
#  6. Several such leaves in a row (each maybe after a canonical SWITCH_PAGE), or one with long text, are
#     matched by one regex (LEAF_RUN) and handled by _take_leaf_run: checked as UTF-8 once, escaped once and
#     split in C, a few steps a leaf. Leaves the run cannot take (flags, placeholders) end it there, and no
#     run is tried again before its end, which keeps the walk linear.
#  7. END closes the innermost element; runs of END are taken in place.
#  8. Everything else goes through _Irregular, which holds the state of the unusual paths: content tokens of
#     an element are held back until its END or its first child says whether it is a leaf (markers then
#     describe the tokens, see eas.wbxml) or mixed content; pending SWITCH_PAGE tokens become markers;
#     literals, extensions, processing instructions and attribute lists become placeholders and markers.
#  9. Notes (eas.annotate.decode_annotated): noted tables carry static notes after end tags, and flag the
#     tags whose note depends on the value; those flags keep such tags off the fast path, so decoding
#     without notes pays nothing for them (see DecoderNotes).
# 10. Bounds: an IndexError from reading past the end becomes TruncatedError; every length (string table,
#     OPAQUE, STR_T index) is checked against what remains; mb_u_int32 is at most 5 bytes; nesting is capped
#     at MAX_DEPTH; string-table references may add at most 16 output bytes per input byte.
# 11. When the root closes, its open tag gets the namespace declarations of the pages used (cached per root
#     and set of pages) and the root markers (prolog, trailer, header values).
#
# In the compiled build (mypyc), `out.append` and `data.find` are called on their objects, never through local
# aliases: on the object they are direct C calls, through an alias a Python-level call.

_LITERALS = (LITERAL, LITERAL_C, LITERAL_A, LITERAL_AC)


def decode_xml_bytes(data: bytes, strict: bool, notes: DecoderNotes | None = None) -> bytes:
    """The XML text (UTF-8) of a WBXML document; see the theory of operation above.

    notes: comments written after elements (see DecoderNotes); where a marker or a placeholder is written (the
    root then declares WBXML_NS), they may be missing or misplaced.
    """
    if data[:4] == STANDARD_HEADER:
        root_attrs: list[bytes] = []
        codec, strtbl, i = "utf-8", b"", 4
    else:
        root_attrs, codec, strtbl, i = read_header(data, strict)
    n = len(data)
    stack: list[OpenElement]
    used_pages: set[int]
    start_key = data[i : i + 1]
    if start_key == b"\x00":
        start_key = data[i : i + 3]
    root_start = ROOT_STARTS[strict].get(start_key)
    close_b: bytes | None
    root_open: bytes | None
    if root_start is not None:  # rule 2
        page, tables, table, root_bare, close_b, root_open = root_start
        if notes is not None:  # the root's own entry (above) stays plain
            tables = noted_tables(tables, strict, notes)
            noted_table = tables[page]
            assert noted_table is not None
            table = noted_table
        open_b = root_bare
        root_page = page
        used_pages = {page}
        stack = [(close_b, 0, open_b, 0, ())]
        out = [open_b]
        irregular = False
        i += len(start_key)
    else:
        root_open = None
        root_bare = b""
        root_page = -1
        used_pages = set()
        tables = TABLES[(True, strict)]
        if notes is not None:
            tables = noted_tables(tables, strict, notes)
        page = 0
        first_table = tables[0]
        assert first_table is not None
        table = first_table
        stack = []
        out = []
        irregular = True  # no root yet (rule 3)
    slow = _Irregular(data, strict, codec, strtbl, notes, bool(root_attrs))
    care = TEXT_CARE.search if codec == "utf-8" else ALWAYS_CARE.search
    leaf_run = LEAF_RUN.match
    no_run_before = 0 if codec == "utf-8" else n  # rule 6: leaves before this offset go one by one
    known_pages = len(CODE_PAGES)
    try:
        while True:
            tok = data[i]
            entry = table[tok]
            if entry is None and tok == SWITCH_PAGE and not irregular:  # rule 4
                new_table = tables[data[i + 1]]
                if new_table is not None and data[i + 1] != page and new_table[data[i + 2]] is not None:
                    page = data[i + 1]
                    table = new_table
                    used_pages.add(page)
                    i += 2
                    tok = data[i]
                    entry = table[tok]
            if entry is not None and not (irregular or entry[2]):  # rule 3: the fast path
                open_b, close_b, flags = entry
                if close_b is None:
                    out.append(open_b)
                    i += 1
                    continue
                if data[i + 1] == STR_I:  # rules 5 and 6
                    j = data.find(b"\x00", i + 2)
                    # Another leaf follows (its tag is followed by STR_I), or the text is long (one regex pass
                    # checks it): try a run. A single short leaf is cheaper one by one.
                    more = j - i > 40 or j > 0 and j + 3 < n and data[j + 3] == STR_I
                    run = leaf_run(data, i) if more and i >= no_run_before else None
                    start = i
                    if run is not None:
                        i, page, table, no_run_before = _take_leaf_run(
                            data, i, run.end(), out, page, table, tables, used_pages, notes, stack, root_page,
                            no_run_before)
                    if i != start:
                        continue
                    text = None
                    if j > 0 and data[j + 1] == END and j > i + 2:
                        chunk = data[i + 2 : j]
                        text = chunk if care(chunk) is None else xml_text(chunk, codec)
                    if text is not None:
                        out.extend((open_b, text, close_b))
                        i = j + 2
                        continue
                if len(stack) >= MAX_DEPTH:
                    raise LimitError(f"elements nested deeper than {MAX_DEPTH}", i)
                stack.append((close_b, len(out), open_b, flags, ()))
                out.append(open_b)
                i += 1
                continue
            extra: list[bytes] | None = None
            adv = 1
            if entry is not None:
                open_b, close_b, flags = entry
                if not irregular and (flags == NOTE_VALUE or flags == NOTE_PLACE):  # rule 9
                    assert notes is not None
                    next_i = _noted_leaf(data, i, entry, page, care, codec, notes, stack, root_page, out)
                    if next_i >= 0:
                        i = next_i
                        continue
            elif tok == END:  # rule 7
                if not irregular and stack and len(out) != stack[-1][1] + 1:
                    out.append(stack.pop()[0])
                    i += 1
                    while stack and data[i] == END:  # each closes an element with content: its child's
                        out.append(stack.pop()[0])
                        i += 1
                    if not stack:
                        break
                    continue
                if not stack:
                    raise MalformedError("END outside any element", i)
                irregular = slow.close(stack, out)
                i += 1
                if not stack:
                    break
                continue
            elif tok == SWITCH_PAGE:
                new_page = data[i + 1]
                new_table = _page_table(tables, new_page, strict, i)
                if not irregular and new_page != page and new_table[data[i + 2]] is not None:  # rule 4
                    if new_page < known_pages:
                        used_pages.add(new_page)
                else:
                    slow.pend_switch(page, new_page, i)
                    irregular = True
                page = new_page
                table = new_table
                i += 2
                continue
            elif tok == STR_I or tok == OPAQUE or tok == STR_T or tok == ENTITY:
                i, held_back = slow.content(i, tok, stack, out)
                irregular = irregular or held_back
                continue
            elif tok in _LITERALS:
                open_b, close_b, flags, adv, extra = slow.literal(i, tok)
            elif tok & 0x3F >= 0x05:  # a tag with attributes, or (strict) an unknown tag
                open_b, close_b, flags, adv, extra = slow.attributes(i, tok, table[tok & 0x7F], page)
            else:  # EXT_*, PI
                i = slow.extension(i, tok, stack, out)
                continue
            # A tag off the fast path: (open_b, close_b, flags), `extra` markers, `adv` bytes (rule 8).
            markers = slow.tag_markers(extra, page, flags)
            if page < known_pages:
                used_pages.add(page)
            irregular = False
            if not stack:
                root_page = 256 if tok in _LITERALS or page >= known_pages else page
                if root_page == page:
                    tables, table, (open_b, close_b, flags) = _root_tables(page, tok, strict, notes)
                    used_pages.add(page)
                out.append(with_attrs(open_b, markers) if markers else open_b)
                i += adv
                if close_b is None:
                    break
                stack.append((close_b, len(out) - 1, open_b, flags, markers))
                continue
            if flags >= NOTE_VALUE:  # noted tables only (rule 9)
                _note_elsewhere(notes, flags, page, tok)
            slow.flush(out, len(stack) - 1)
            i += adv
            if close_b is None:
                cut = open_b.find(b"/>") + 2  # a static note may follow the tag (noted tables)
                out.append(with_attrs(open_b[:cut], markers) + open_b[cut:] if markers else open_b)
                continue
            if len(stack) >= MAX_DEPTH:
                raise LimitError(f"elements nested deeper than {MAX_DEPTH}", i - adv)
            stack.append((close_b, len(out), open_b, flags, markers))
            out.append(with_attrs(open_b, markers) if markers else open_b)
    except IndexError as err:
        raise TruncatedError("input ends inside the document", n) from err
    return _with_root_head(data, i, strict, out, root_attrs, slow, root_open, root_bare, root_page, used_pages)


def _page_table(tables: list[Table | None], page: int, strict: bool, offset: int) -> Table:
    """The table of a page a SWITCH_PAGE names: a placeholder table for an unknown page, unless strict."""
    table = tables[page]
    if table is not None:
        return table
    if strict:
        raise UnknownCodePageError(f"SWITCH_PAGE to unknown code page {page}", offset)
    return unknown_page(page)


def _root_tables(page: int, tok: int, strict: bool,
                 notes: DecoderNotes | None) -> tuple[list[Table | None], Table, Entry]:
    """The tables of a document whose root tag `tok` is on `page`, that page's table and the root's entry.

    The root's entry comes from the plain table: a note after the root's end tag would not be XML."""
    tables = root_tables(page, strict)
    root_table = tables[page]
    assert root_table is not None
    root_entry = root_table[tok & 0x7F]
    assert root_entry is not None
    if notes is not None:
        tables = noted_tables(tables, strict, notes)
        noted_table = tables[page]
        assert noted_table is not None
        root_table = noted_table
    return tables, root_table, root_entry


def _note_elsewhere(notes: DecoderNotes | None, flags: int, page: int, tok: int) -> None:
    """A noted tag off the fast path: its note is left to the pass after (NOTE_PASS), or cannot be written."""
    assert notes is not None
    if flags & NOTE_PASS:
        notes.passed.add((page, tok & 0x3F))
    else:
        notes.missed = True


def _noted_leaf(data: bytes, i: int, entry: Entry, page: int, care: Callable[[bytes], object], codec: str,
                notes: DecoderNotes, stack: list[OpenElement], root_page: int, out: list[bytes]) -> int:
    """Writes a NOTE_VALUE or NOTE_PLACE element that is a plain leaf or empty, with its note (rule 9).

    Returns the offset after it, or -1 when it is neither (the general path takes it)."""
    open_b, close_b, flags = entry
    tok = data[i]
    text_b: bytes | None = b""
    next_i = i + 1
    if close_b is not None:
        text_b = None
        j = data.find(b"\x00", i + 2) if data[i + 1] == STR_I else -1
        if j > 0 and data[j + 1] == END and j > i + 2:
            chunk = data[i + 2 : j]
            text_b = chunk if care(chunk) is None else xml_text(chunk, codec)
            next_i = j + 2
    if text_b is None:
        return -1
    # (page, token, text) -> note, the commonest hit, looked up here (no call)
    note = notes.memo.get((page, tok, text_b)) if flags == NOTE_VALUE else None
    if note is None:
        note = leaf_note(notes, flags, page, tok, text_b, stack, root_page, out[0])
    # one item for the end tag and its note: mixed content looks at the last item's end
    if close_b is None:
        out.append(open_b + note)
    else:
        out.extend((open_b, text_b, close_b + note))
    return next_i


def _is_xml_utf8(raw: bytes) -> bool:
    """Non-ASCII bytes of a leaf run: valid UTF-8 without U+FFFE / U+FFFF (controls are kept out by LEAF_RUN)."""
    try:
        raw.decode()
    except UnicodeDecodeError:
        return False
    return NONCHARACTER.search(raw) is None


def _take_leaf_run(data: bytes, i: int, run_end: int, out: list[bytes], page: int, table: Table,
                   tables: list[Table | None], used_pages: set[int], notes: DecoderNotes | None,
                   stack: list[OpenElement], root_page: int, no_run_before: int) -> tuple[int, int, Table, int]:
    """Writes the leaves of a LEAF_RUN match that starts at `i` and ends at `run_end` (rule 6).

    Returns (offset after the leaves taken, page, its table, offset before which no run is tried); the offset
    is `i` when the run is not UTF-8 text XML can hold: its leaves then go one by one.
    """
    run_bytes = data[i : run_end - 2]
    if not run_bytes.isascii() and not _is_xml_utf8(run_bytes):
        return i, page, table, i + len(run_bytes)
    # Tag bytes (0x45-0x7F), the 03/00/01 framing and the pages of the switches never equal `&<>` or CR, so
    # escaping the whole run leaves the framing intact.
    text_run = run_bytes
    if 0x26 in text_run or 0x3C in text_run or 0x3E in text_run or 0x0D in text_run:
        text_run = (
            text_run.replace(b"&", b"&amp;").replace(b"<", b"&lt;").replace(b">", b"&gt;").replace(b"\r", b"&#13;")
        )
    if run_bytes.find(b"\x00\x01\x00") < 0:  # no SWITCH_PAGE inside: one table
        taken = _leaves_on_one_page(text_run, out, page, table, notes, stack, root_page)
    else:
        taken, page, table = _leaves_across_pages(text_run, out, page, table, tables, used_pages, notes, stack,
                                                  root_page)
    if taken < 0:
        return run_end, page, table, no_run_before
    # A leaf the run cannot take (opaque, placeholder, redundant switch): resume there, slowly; the rest of
    # the run goes one by one (no rescans).
    resume = i + sum(len(piece) + 2 for piece in run_bytes.split(b"\x00\x01")[:taken])
    return resume, page, table, i + len(run_bytes)


def _leaves_on_one_page(text_run: bytes, out: list[bytes], page: int, table: Table, notes: DecoderNotes | None,
                        stack: list[OpenElement], root_page: int) -> int:
    """Writes the leaves of an escaped run without switches; returns how many it took, -1 for all."""
    before = len(out)
    for leaf in text_run.split(b"\x00\x01"):
        leaf_entry = table[leaf[0]]
        if leaf_entry is not None and not leaf_entry[2]:
            out.extend((leaf_entry[0], leaf[2:], leaf_entry[1]))  # type: ignore[arg-type]
            continue
        if leaf_entry is None or (leaf_entry[2] != NOTE_VALUE and leaf_entry[2] != NOTE_PLACE):
            return (len(out) - before) // 3
        assert notes is not None and leaf_entry[1] is not None
        leaf_text = leaf[2:]
        note = notes.memo.get((page, leaf[0], leaf_text)) if leaf_entry[2] == NOTE_VALUE else None
        if note is None:
            note = leaf_note(notes, leaf_entry[2], page, leaf[0], leaf_text, stack, root_page, out[0])
        out.extend((leaf_entry[0], leaf_text, leaf_entry[1] + note))
    return -1


def _leaves_across_pages(text_run: bytes, out: list[bytes], page: int, table: Table, tables: list[Table | None],
                         used_pages: set[int], notes: DecoderNotes | None, stack: list[OpenElement],
                         root_page: int) -> tuple[int, int, Table]:
    """Writes the leaves of an escaped run with switches; returns (how many pieces it took, -1 for all; page;
    table)."""
    switch_to = -1  # a SWITCH_PAGE seen before the leaf, and the piece where it began
    switch_at = 0
    for k, leaf in enumerate(text_run.split(b"\x00\x01")):
        if not leaf:  # SWITCH_PAGE 1: its two bytes were taken for a separator
            switch_to, switch_at = 1, k
            continue
        if not leaf[0]:  # SWITCH_PAGE n
            switch_to, switch_at, leaf = leaf[1], k, leaf[2:]
        leaf_table = table if switch_to < 0 else tables[switch_to] if switch_to != page else None
        leaf_entry = leaf_table[leaf[0]] if leaf_table is not None else None
        leaf_flags = -1 if leaf_entry is None else leaf_entry[2]
        if leaf_flags != 0 and leaf_flags != NOTE_VALUE and leaf_flags != NOTE_PLACE:
            return (switch_at if switch_to >= 0 else k), page, table
        assert leaf_entry is not None and leaf_entry[1] is not None and leaf_table is not None
        if switch_to >= 0:
            page = switch_to
            table = leaf_table
            used_pages.add(page)
            switch_to = -1
        close_tag = leaf_entry[1]
        if leaf_flags:  # a noted leaf (decode_annotated): its note goes with the end tag
            assert notes is not None
            close_tag += leaf_note(notes, leaf_flags, page, leaf[0], leaf[2:], stack, root_page, out[0])
        out.extend((leaf_entry[0], leaf[2:], close_tag))
    return -1, page, table


class _Irregular:
    """The decoder's state and steps off the fast path (rule 8): pending switches, held-back content tokens,
    markers, placeholders, the prolog; one per document."""

    def __init__(self, data: bytes, strict: bool, codec: str, strtbl: bytes, notes: DecoderNotes | None,
                 need_ns: bool) -> None:
        self.data = data
        self.strict = strict
        self.codec = codec
        self.strtbl = strtbl
        self.notes = notes
        self.need_ns = need_ns  # the root must declare WBXML_NS
        # Content tokens held back (by index in the stack) until it is known whether the element is a leaf.
        self.buffered: dict[int, list[Piece]] = {}
        self.pend: list[int] = []  # SWITCH_PAGE tokens not yet attached to a tag, END or text
        self.pend_base = 0  # the page before the first pending switch
        self.pend_at = 0  # the offset of the first pending switch
        # The current page was reached by switches that no tag consumed: the next tag must note it as used.
        self.page_unmarked = False
        self.prolog: list[bytes] = []
        self.string_table: StringTable | None = None  # made when a STR_T or LITERAL needs it

    def table_string(self, index: int, offset: int) -> bytes:
        """A string-table entry; references may add at most 16 output bytes per input byte (rule 10)."""
        if self.string_table is None:
            self.string_table = StringTable(self.strtbl, 16 * len(self.data) + 65536)
        return self.string_table.get(index, offset)

    def pend_switch(self, page: int, new_page: int, offset: int) -> None:
        """A SWITCH_PAGE that is not the canonical one before a tag: it waits for what it comes before."""
        if not self.pend:
            self.pend_base = page
            self.pend_at = offset
        self.pend.append(new_page)

    def take_pending(self) -> list[int]:
        """The pending switches, now attached to what follows them."""
        pend = self.pend
        self.pend = []
        self.page_unmarked = True
        return pend

    def tag_markers(self, extra: list[bytes] | None, page: int, flags: int) -> list[bytes]:
        """The markers of a tag off the fast path: `extra`, and wbxml:switch for unexpected pending switches."""
        markers = extra if extra is not None else []
        if self.pend:
            if self.pend != ([] if page == self.pend_base else [page]):
                markers.append(marker_attr("switch", " ".join(map(str, self.pend))))
            self.pend = []
        if markers or flags & F_NS:
            self.need_ns = True
        self.page_unmarked = False
        return markers

    def flush(self, out: list[bytes], index: int) -> None:
        """Writes the held-back content of the element at `index` in the stack as mixed content: a child came."""
        pieces = self.buffered.pop(index, None)
        if pieces is not None:
            flushed, ns = flush_pieces(pieces, self.codec)
            out.extend(flushed)
            self.need_ns = self.need_ns or ns

    def close(self, stack: list[OpenElement], out: list[bytes]) -> bool:
        """END of an element with held-back content, pending switches or no content; returns `irregular`."""
        close_b, idx, open_b, flags, open_markers = stack.pop()
        pieces = self.buffered.pop(len(stack), None)
        notes = self.notes
        new_markers: list[bytes] = []
        if self.pend:
            new_markers.append(marker_attr("end-switch", " ".join(map(str, self.take_pending()))))
        if pieces is not None:
            content_markers, text = leaf_content(pieces, self.codec, bool(flags & F_OPAQUE))
            new_markers.extend(content_markers)
            out.append(text)
            out.append(close_b)
            if not text and notes is not None and close_b.find(b">") + 1 < len(close_b):
                notes.missed = True  # an empty element: its static note is the other one
        elif len(out) == idx + 1:
            new_markers.append(marker_attr("content", "empty"))
            open_b = open_b[:-1] + b"/>"
            if notes is not None and close_b.find(b">") + 1 < len(close_b):
                notes.missed = True  # its static note went with the end tag that is not written
        else:
            out.append(close_b)
        if new_markers:
            self.need_ns = True
            out[idx] = with_attrs(open_b, [*open_markers, *new_markers])
        return self.page_unmarked

    def content(self, i: int, tok: int, stack: list[OpenElement], out: list[bytes]) -> tuple[int, bool]:
        """STR_I, OPAQUE, STR_T or ENTITY at `i`; returns (the offset after it, whether it was held back)."""
        if not stack:
            raise MalformedError(f"{GLOBAL_NAMES[tok]} outside the root element", i)
        piece, next_i = self._piece(i, tok)
        top_index = len(stack) - 1
        pieces_list = self.buffered.get(top_index)
        if pieces_list is None and len(out) == stack[top_index][1] + 1:
            pieces_list = self.buffered[top_index] = []
        if pieces_list is not None:
            if self.pend:
                pieces_list.extend(("p", p) for p in self.take_pending())
            pieces_list.append(piece)
            return next_i, True
        xml, ns = mixed_piece(piece, self.codec, bool(self.pend) or not out[-1].endswith(b">"))
        if self.pend:
            xml = add_switch(xml, self.take_pending())
        self.need_ns = self.need_ns or ns
        out.append(xml)
        return next_i, False

    def _piece(self, i: int, tok: int) -> tuple[Piece, int]:
        """One content token at `i` as a piece (kind, payload), and the offset after it."""
        data = self.data
        if tok == STR_I:
            j = data.find(b"\x00", i + 1)
            if j < 0:
                raise TruncatedError("input ends inside an inline string (STR_I)", i)
            return ("s", data[i + 1 : j]), j + 1
        if tok == OPAQUE:
            length, used = decode_mb_u_int32(data, i + 1)
            start = i + 1 + used
            if length > len(data) - start:
                raise TruncatedError(f"OPAQUE of {length} bytes runs past the end of the input", i)
            if used > 1 and used != len(encode_mb_u_int32(length)):  # a length written wider than needed
                return ("w", (data[start : start + length], used)), start + length
            return ("o", data[start : start + length]), start + length
        if tok == STR_T:
            index, used = index_at(data, i + 1, "STR_T index")
            return ("t", (index, self.table_string(index, i))), i + 1 + used
        code_point, used = index_at(data, i + 1, "ENTITY code point")
        return ("e", code_point), i + 1 + used

    def literal(self, i: int, tok: int) -> tuple[bytes, bytes | None, int, int, list[bytes] | None]:
        """A LITERAL tag as a wbxml:literal placeholder: (open tag, close tag, flags, bytes used, markers)."""
        if self.strict:
            raise UnknownTokenError(f"{GLOBAL_NAMES[tok]} is not used by MS-ASWBXML", i)
        data = self.data
        index, used = index_at(data, i + 1, f"{GLOBAL_NAMES[tok]} index")
        name = self.table_string(index, i)
        shown = escape(name.decode("utf-8", "replace").encode()).replace(b'"', b"&quot;")
        opening = b"<wbxml:literal" + f' index="{index}" name="'.encode() + shown + b'"'
        adv = 1 + used
        extra = None
        if tok & ATTRS_FLAG:
            attr_end = skip_attr_list(data, i + adv)
            extra = [marker_attr("attrs", b64(data[i + adv : attr_end]))]
            adv = attr_end - i
        if tok & CONTENT_FLAG:
            return opening + b">", b"</wbxml:literal>", F_NS, adv, extra
        return opening + b"/>", None, F_NS, adv, extra

    def attributes(self, i: int, tok: int, base: Entry | None,
                   page: int) -> tuple[bytes, bytes | None, int, int, list[bytes] | None]:
        """A tag sent with attributes (kept as wbxml:attrs), or an unknown tag (an error here)."""
        if base is None or not tok & ATTRS_FLAG:
            raise UnknownTokenError(f"unknown tag token 0x{tok & 0x3F:02X} in code page {page}", i)
        if self.strict:
            raise UnknownTokenError(f"tag token 0x{tok:02X} carries attributes, unused by MS-ASWBXML", i)
        attr_end = skip_attr_list(self.data, i + 1)
        return base[0], base[1], base[2], attr_end - i, [marker_attr("attrs", b64(self.data[i + 1 : attr_end]))]

    def extension(self, i: int, tok: int, stack: list[OpenElement], out: list[bytes]) -> int:
        """An EXT_* token or a PI at `i` as a placeholder (a PI before the root joins the prolog)."""
        if self.strict:
            raise UnknownTokenError(f"{GLOBAL_NAMES[tok]} is not used by MS-ASWBXML", i)
        data = self.data
        if tok == PI:
            end_pi = skip_attr_list(data, i + 1)
            if not stack:
                # switches before a PI in the prolog travel with it
                self.prolog.append(data[self.pend_at if self.pend else i : end_pi])
                self.pend = []
                return end_pi
            xml = b"<wbxml:pi>" + b64(data[i:end_pi]) + b"</wbxml:pi>"
            next_i = end_pi
        else:
            xml, next_i = self._ext_placeholder(i, tok, stack)
        self.flush(out, len(stack) - 1)
        if self.pend:
            xml = add_switch(xml, self.take_pending())
        self.need_ns = True
        out.append(xml)
        return next_i

    def _ext_placeholder(self, i: int, tok: int, stack: list[OpenElement]) -> tuple[bytes, int]:
        """A wbxml:ext placeholder for the EXT_I_*, EXT_T_* or EXT_* token at `i`, and the offset after it."""
        if not stack:
            raise MalformedError(f"{GLOBAL_NAMES[tok]} outside the root element", i)
        data = self.data
        kind = tok & 0xC0
        if kind == 0x40:
            j = data.find(b"\x00", i + 1)
            if j < 0:
                raise TruncatedError("input ends inside an EXT_I string", i)
            return f'<wbxml:ext token="0x{tok:02X}">'.encode() + b64(data[i + 1 : j]) + b"</wbxml:ext>", j + 1
        if kind == 0x80:
            index, used = index_at(data, i + 1, f"{GLOBAL_NAMES[tok]} index")
            return f'<wbxml:ext token="0x{tok:02X}" index="{index}"/>'.encode(), i + 1 + used
        return f'<wbxml:ext token="0x{tok:02X}"/>'.encode(), i + 1


def _with_root_head(data: bytes, i: int, strict: bool, out: list[bytes], root_attrs: list[bytes], slow: _Irregular,
                    root_open: bytes | None, root_bare: bytes, root_page: int, used_pages: set[int]) -> bytes:
    """The document once the root closed at `i`: its open tag with declarations and root markers (rule 11)."""
    n = len(data)
    need_ns = slow.need_ns
    if slow.prolog:
        root_attrs.append(marker_attr("prolog", b64(b"".join(slow.prolog))))
        need_ns = True
    if i < n:
        if strict:
            raise MalformedError(f"{n - i} bytes after the root element", i)
        root_attrs.append(marker_attr("trailer", b64(data[i:])))
        need_ns = True
    if root_open is not None and not root_attrs and out[0] is root_bare:  # a plain root
        if not need_ns and len(used_pages) == 1:  # one page, no markers
            out[0] = root_open
            return b"".join(out)
        head_key = (root_bare, frozenset(used_pages), need_ns)
        head = ROOT_HEADS.get(head_key)
        if head is None:
            decls = [PREFIX_DECL[used_page] for used_page in sorted(used_pages) if used_page != root_page]
            head = root_open[:-1] + b"".join(decls) + (MARKER_DECLARATION if need_ns else b"") + b">"
            if len(ROOT_HEADS) < 4096:
                ROOT_HEADS[head_key] = head
        out[0] = head
        return b"".join(out)
    decls = [DEFAULT_DECL[root_page]] if 0 <= root_page < len(CODE_PAGES) else []
    if len(used_pages) > 1 or root_page not in used_pages:
        decls.extend(PREFIX_DECL[used_page] for used_page in sorted(used_pages) if used_page != root_page)
    if need_ns:
        decls.append(MARKER_DECLARATION)
    # Declarations go right after the root's name.
    first = out[0]
    cut = first.find(b" ")
    if cut < 0:
        cut = len(first) - (2 if first.endswith(b"/>") else 1)
    out[0] = first[:cut] + b"".join(decls) + b"".join(root_attrs) + first[cut:]
    return b"".join(out)


_local = threading.local()


def _internal_parser() -> etree.XMLParser:
    # lxml parsers must not be shared between threads; this one reads only XML the decoder wrote.
    parser: etree.XMLParser | None = getattr(_local, "decode_parser", None)
    if parser is None:
        parser = etree.XMLParser(huge_tree=True, resolve_entities=False, no_network=True, load_dtd=False)
        _local.decode_parser = parser
    return parser


def decode(data: bytes | bytearray | memoryview, *, strict: bool = False) -> etree._Element:
    """Decode a WBXML document to an lxml tree.

    Args:
        data: the whole document (not incremental).
        strict: refuse unknown code pages and tokens, attributes, literals, extensions, PIs, unsupported
            charsets and trailing bytes instead of keeping them as placeholders.
    Returns:
        The root element.
    Raises:
        TruncatedError: the input ends early. MalformedError (UnknownTokenError, UnknownCodePageError,
        LimitError): anything else wrong; each names the byte offset.
    """
    return parse_decoded(decode_xml_bytes(data if type(data) is bytes else bytes(data), strict))


def parse_decoded(xml: bytes) -> etree._Element:
    """The tree of XML text written by decode_xml_bytes."""
    try:
        parser = _local.decode_parser
    except AttributeError:
        parser = _internal_parser()
    try:
        # The feed interface (libxml2's push parser, reused per thread) builds the same tree as etree.fromstring
        # without setting up a parse context per call. A parse error resets the parser, and so does close().
        parser.feed(xml)
        root: etree._Element = parser.close()
    except etree.XMLSyntaxError as err:  # a decoder bug: never let it escape as a foreign error
        raise MalformedError(f"decoded XML did not parse: {err}") from err
    return root


def to_xml(root: etree._Element, pretty: bool = True) -> str:
    """Serialize a decoded (possibly annotated) tree as XML text; CR is written `&#13;`."""
    text: str = etree.tostring(root, encoding="unicode", pretty_print=pretty)
    return text


def decode_to_xml(data: bytes | bytearray | memoryview, *, strict: bool = False, pretty: bool = True) -> str:
    """`to_xml(decode(data, strict=strict), pretty)`."""
    return to_xml(decode(data, strict=strict), pretty)
