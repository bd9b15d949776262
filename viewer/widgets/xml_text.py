"""XML highlighting without tree-sitter (tags, attributes, values, comments), and the editor's TextArea using it."""

from __future__ import annotations

import re

from textual.widgets import TextArea

# One XML lexical item at a time; comments may span lines, so callers carry the "inside a comment" state.
_TOKEN = re.compile(
    r"(?P<comment_start><!--)"
    r"|(?P<pi><\?.*?\?>)"
    r"|(?P<tag></?[\w:.-]+)"
    r"|(?P<attr>[\w:.-]+)(?==)"
    r"|(?P<string>\"[^\"]*\"|'[^']*')"
    r"|(?P<close>/?>)"
    r"|(?P<entity>&[#\w]+;)"
)

Span = tuple[int, "int | None", str]  # (start, end or None for "to the end of the line", highlight name)


def highlight_line(line: str, in_comment: bool = False, in_tag: bool = False) -> tuple[list[Span], bool, bool]:
    """Highlights of one line in character offsets, and the (in_comment, in_tag) state at its end."""
    found: list[Span] = []
    pos = 0
    size = len(line)
    while pos < size:
        if in_comment:
            end = line.find("-->", pos)
            if end < 0:
                found.append((pos, None, "comment"))
                return found, True, in_tag
            found.append((pos, end + 3, "comment"))
            pos = end + 3
            in_comment = False
            continue
        match = _TOKEN.search(line, pos)
        if match is None:
            break
        kind = match.lastgroup or ""
        start, end_pos = match.span()
        if kind == "comment_start":
            in_comment = True
            pos = start
            continue
        if kind == "tag":
            in_tag = True
            found.append((start, end_pos, "tag"))
        elif kind == "close":
            if in_tag:
                found.append((start, end_pos, "tag"))
            in_tag = False
        elif kind == "attr" and in_tag:
            found.append((start, end_pos, "property"))
        elif kind == "string" and in_tag:
            found.append((start, end_pos, "string"))
        elif kind == "entity":
            found.append((start, end_pos, "constant.builtin"))
        elif kind == "pi":
            found.append((start, end_pos, "comment"))
        pos = max(end_pos, pos + 1)
    return found, in_comment, in_tag


def comment_states(lines: list[str]) -> list[bool]:
    """For each line, whether it starts inside a comment (a quick scan: only comment markers are looked at)."""
    states: list[bool] = []
    inside = False
    for line in lines:
        states.append(inside)
        if not inside and "<!--" not in line:
            continue
        pos = 0
        while True:
            if inside:
                j = line.find("-->", pos)
                if j < 0:
                    break
                inside, pos = False, j + 3
            else:
                j = line.find("<!--", pos)
                if j < 0:
                    break
                inside, pos = True, j + 4
    return states


def _to_bytes(line: str, spans: list[Span]) -> list[Span]:
    if line.isascii():
        return spans

    def offset(i: int | None) -> int | None:
        return None if i is None else len(line[:i].encode("utf-8"))

    return [(offset(start) or 0, offset(end), name) for start, end, name in spans]


def xml_highlights(lines: list[str]) -> dict[int, list[tuple[int, int | None, str]]]:
    """Highlights per line as TextArea wants them: (start byte, end byte or None, highlight name)."""
    out: dict[int, list[tuple[int, int | None, str]]] = {}
    in_comment = in_tag = False
    for number, line in enumerate(lines):
        found, in_comment, in_tag = highlight_line(line, in_comment, in_tag)
        if found:
            out[number] = _to_bytes(line, found)
    return out


class XmlTextArea(TextArea):
    """TextArea with XML highlighting computed by a small scanner (tree-sitter is not a dependency)."""

    def _build_highlight_map(self) -> None:
        self._line_cache.clear()
        highlights = self._highlights
        highlights.clear()
        document = self.document
        lines = [document.get_line(i) for i in range(document.line_count)]
        for number, found in xml_highlights(lines).items():
            highlights[number].extend(found)


__all__ = ["XmlTextArea", "comment_states", "highlight_line", "xml_highlights"]
