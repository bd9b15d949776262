"""A TextArea that highlights XML without tree-sitter (tags, attributes, values, comments)."""

from __future__ import annotations

import re

from textual.widgets import TextArea

# One XML lexical item at a time; comments may span lines, so the scanner keeps state across lines.
_TOKEN = re.compile(
    rb"(?P<comment_start><!--)"
    rb"|(?P<pi><\?.*?\?>)"
    rb"|(?P<tag></?[\w:.-]+)"
    rb"|(?P<attr>[\w:.-]+)(?==)"
    rb"|(?P<string>\"[^\"]*\"|'[^']*')"
    rb"|(?P<close>/?>)"
    rb"|(?P<entity>&[#\w]+;)"
)
_COMMENT_END = re.compile(rb"-->")


def xml_highlights(lines: list[str]) -> dict[int, list[tuple[int, int | None, str]]]:
    """Highlights per line as TextArea wants them: (start byte, end byte or None, highlight name)."""
    out: dict[int, list[tuple[int, int | None, str]]] = {}
    in_comment = False
    in_tag = False
    for number, line in enumerate(lines):
        data = line.encode("utf-8")
        found: list[tuple[int, int | None, str]] = []
        pos = 0
        while pos < len(data):
            if in_comment:
                end = _COMMENT_END.search(data, pos)
                if end is None:
                    found.append((pos, None, "comment"))
                    pos = len(data)
                    break
                found.append((pos, end.end(), "comment"))
                pos = end.end()
                in_comment = False
                continue
            match = _TOKEN.search(data, pos)
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
        if found:
            out[number] = found
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


__all__ = ["XmlTextArea", "xml_highlights"]
