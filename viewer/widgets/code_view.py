"""A read-only text view that renders only the lines on screen (bodies of megabytes open at once)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Offset, Size
from textual.reactive import reactive
from textual.screen import Screen
from textual.scroll_view import ScrollView
from textual.selection import Selection
from textual.strip import Strip

from viewer.widgets.xml_text import comment_states, highlight_line

HIGHLIGHT_STYLES = {
    "tag": Style(color="#F92672", bold=True),
    "property": Style(color="#A6E22E"),
    "string": Style(color="#E6DB74"),
    "comment": Style(color="#8a8a8a", italic=True),
    "constant.builtin": Style(color="#AE81FF"),
}
CACHED_LINES = 2000


@dataclass(frozen=True)
class CodeText:
    """A text split into the lines a CodeView shows (tabs expanded), with what highlighting needs; made once,
    off the UI thread when the text is large (`CodeText.of` in a worker, then `CodeView.show`)."""

    text: str
    lines: tuple[str, ...]
    comment_states: tuple[bool, ...]  # XML only: whether each line starts inside a comment
    xml: bool
    width: int  # the longest line, in characters

    @classmethod
    def of(cls, text: str, xml: bool = True) -> CodeText:
        lines = tuple(line.expandtabs(4) for line in text.split("\n"))
        return cls(text, lines, tuple(comment_states(list(lines))) if xml else (), xml,
                   max((len(line) for line in lines), default=0))


def selected_lines(lines: tuple[str, ...] | list[str], selection: Selection) -> str:
    """The characters of `lines` a selection covers, in (column, line) offsets with the end excluded; a `None`
    end is the start or the end of the text. Lines are joined with a newline, so a selection that reaches the
    first column of a later line holds the newline before it."""
    if not lines:
        return ""
    start = selection.start if selection.start is not None else Offset(0, 0)
    end = selection.end if selection.end is not None else Offset(len(lines[-1]), len(lines) - 1)
    first_line, last_line = max(0, start.y), min(len(lines) - 1, end.y)
    if first_line > last_line:
        return ""
    start_column, end_column = max(0, start.x), max(0, end.x)
    if end.y > last_line:
        end_column = len(lines[last_line])  # a selection past the last line ends with the text
    if first_line == last_line:
        return lines[first_line][start_column:end_column]
    return "\n".join([lines[first_line][start_column:], *lines[first_line + 1 : last_line], lines[last_line][:end_column]])


def selected_text(screen: Screen[Any]) -> str | None:
    """The text selected on `screen`: exactly the characters of a CodeView's selection (Textual's own joining
    drops a trailing newline), else whatever Textual extracts from the selected widgets; None without one."""
    selections = [(widget, selection) for widget, selection in screen.selections.items() if widget.is_attached]
    if len(selections) == 1:
        widget, selection = selections[0]
        if isinstance(widget, CodeView):
            return widget.selection_text(selection) or None
    return screen.get_selected_text() or None


class CodeView(ScrollView, can_focus=True):
    """Lines with optional numbers and XML highlighting; a cursor line that `move_cursor` can put anywhere.

    With `wrap` on, a long line continues on the next rows (the gutter numbers only its first row); the cursor
    and `move_cursor` still count logical lines.

    Text is selected as in Textual's read-only TextArea: a mouse drag (through the screen's selection, which
    reads the (column, line) offsets each rendered cell carries) or shift with the arrows, Home and End.
    """

    COMPONENT_CLASSES = {"code-view--gutter", "code-view--cursor-line"}
    BINDINGS = [
        Binding("up,k", "cursor_up", "Up", show=False, id="code-up"),
        Binding("down,j", "cursor_down", "Down", show=False, id="code-down"),
        Binding("pageup", "page_up_lines", "Page up", show=False, id="code-page-up"),
        Binding("pagedown", "page_down_lines", "Page down", show=False, id="code-page-down"),
        Binding("home,g", "first_line", "First line", show=False, id="code-first"),
        Binding("end,G", "last_line", "Last line", show=False, id="code-last"),
        Binding("left", "scroll_left", "Left", show=False, id="code-left"),
        Binding("right", "scroll_right", "Right", show=False, id="code-right"),
        Binding("shift+left", "select(0, -1)", "Select left", show=False, id="code-select-left"),
        Binding("shift+right", "select(0, 1)", "Select right", show=False, id="code-select-right"),
        Binding("shift+up", "select(-1, 0)", "Select up", show=False, id="code-select-up"),
        Binding("shift+down", "select(1, 0)", "Select down", show=False, id="code-select-down"),
        Binding("shift+home", "select_line_edge(False)", "Select to line start", show=False, id="code-select-home"),
        Binding("shift+end", "select_line_edge(True)", "Select to line end", show=False, id="code-select-end"),
    ]
    DEFAULT_CSS = """
    CodeView { height: 1fr; background: $surface; }
    CodeView > .code-view--gutter { color: $text-muted; }
    CodeView > .code-view--cursor-line { background: $boost; }
    CodeView:focus > .code-view--cursor-line { background: $accent 30%; }
    """

    cursor_line: reactive[int] = reactive(0, always_update=True)

    def __init__(
        self,
        text: str | CodeText,
        *,
        xml: bool = True,
        line_numbers: bool = True,
        wrap: bool = False,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self._line_numbers = line_numbers
        self._wrap = wrap
        self._cache: OrderedDict[int, Text] = OrderedDict()
        # keyboard selection: the end that stays (anchor) and the end that moves, as (column, line)
        self._anchor: Offset | None = None
        self._select_end = Offset(0, 0)
        self._set_content(text if isinstance(text, CodeText) else CodeText.of(text, xml))

    def _set_content(self, content: CodeText) -> None:
        self._text = content.text
        self._lines = content.lines
        self._xml = content.xml
        self._states = content.comment_states
        self._gutter = len(str(len(self._lines))) + 2 if self._line_numbers else 0
        self._cache.clear()
        self._width = content.width + self._gutter + 1
        self._rows: list[tuple[int, int]] = []  # wrapped: (line, first character) of each row on screen
        self._first_rows: list[int] = []  # wrapped: the row of each line's first character
        self._wrapped_for = 0  # the text width the rows were made for
        self._anchor = None

    def show(self, content: CodeText) -> None:
        """Show another text (made with `CodeText.of`, in a worker when large), from its first line."""
        if self.is_attached and self in self.screen.selections:
            self.screen.clear_selection()
        self._set_content(content)
        self._update_virtual_size()
        self.scroll_to(x=0, y=0, animate=False, immediate=True)
        self.cursor_line = 0
        self.refresh()

    @property
    def text(self) -> str:
        return self._text

    @property
    def lines(self) -> tuple[str, ...]:
        """The lines shown (tabs expanded): selections count columns in these."""
        return self._lines

    @property
    def line_count(self) -> int:
        return len(self._lines)

    @property
    def cursor_location(self) -> tuple[int, int]:
        return (self.cursor_line, 0)

    @property
    def wrap(self) -> bool:
        return self._wrap

    @wrap.setter
    def wrap(self, value: bool) -> None:
        """Turn wrapping on or off, keeping the cursor line in view."""
        if value == self._wrap:
            return
        self._wrap = value
        self._wrapped_for = 0
        self._update_virtual_size()
        self.scroll_to(x=0, animate=False, immediate=True)
        self.move_cursor((self.cursor_line, 0), center=True)
        self.refresh()

    def _text_width(self) -> int:
        return max(10, (self.scrollable_content_region.width or self.size.width) - self._gutter)

    def _update_virtual_size(self) -> None:
        if not self._wrap:
            self.virtual_size = Size(self._width, len(self._lines))
            return
        width = self._text_width()
        if width != self._wrapped_for:
            self._wrapped_for = width
            self._rows = []
            self._first_rows = []
            for index, line in enumerate(self._lines):
                self._first_rows.append(len(self._rows))
                self._rows.extend((index, start) for start in range(0, max(1, len(line)), width))
        self.virtual_size = Size(width + self._gutter, len(self._rows))

    def on_mount(self) -> None:
        self._update_virtual_size()

    def on_resize(self) -> None:
        if self._wrap:
            self._update_virtual_size()
            self.refresh()

    def _row_of(self, line: int) -> int:
        """The first row on screen of logical line `line`."""
        return self._first_rows[line] if self._wrap and line < len(self._first_rows) else line

    def _line_text(self, index: int) -> Text:
        cached = self._cache.get(index)
        if cached is not None:
            self._cache.move_to_end(index)
            return cached
        line = self._lines[index]
        text = Text(line, no_wrap=True, end="")
        if self._xml:
            spans, _, _ = highlight_line(line, self._states[index] if index < len(self._states) else False)
            for start, end, name in spans:
                style = HIGHLIGHT_STYLES.get(name)
                if style is not None:
                    text.stylize(style, start, end if end is not None else len(line))
        self._cache[index] = text
        if len(self._cache) > CACHED_LINES:
            self._cache.popitem(last=False)
        return text

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        row = scroll_y + y
        width = self.size.width
        base = self.rich_style
        if self._wrap:
            if row >= len(self._rows):
                return Strip.blank(width, base)
            index, start = self._rows[row]
        else:
            if row >= len(self._lines):
                return Strip.blank(width, base)
            index, start = row, 0
        line = Text(no_wrap=True, end="")
        if self._gutter:
            number = f"{index + 1:>{self._gutter - 1}} " if start == 0 else " " * self._gutter
            line.append(number, style=self.get_component_rich_style("code-view--gutter"))
        content = self._line_text(index)
        shown_text = content[start : start + self._wrapped_for] if self._wrap else content
        line.append_text(shown_text)
        style = base
        if index == self.cursor_line:
            cursor = self.get_component_rich_style("code-view--cursor-line")
            line.stylize(cursor)
            style = base + cursor
        selection = self.text_selection if self.is_attached else None
        if selection is not None:
            span = selection.get_span(index)
            if span is not None:
                first, last = span
                last = len(self._lines[index]) if last == -1 else last
                first, last = max(first, start) - start, min(last, start + len(shown_text)) - start
                if first < last:
                    # the background only: the XML keeps its colours (the theme's selection foreground may be
                    # transparent, which would hide the text)
                    selected = Style(bgcolor=self.screen.get_component_rich_style("screen--selection").bgcolor)
                    line.stylize(selected, self._gutter + first, self._gutter + last)
        strip = Strip(line.render(self.app.console), line.cell_len)
        strip = strip.crop_extend(scroll_x, scroll_x + width, style)
        return self._with_offsets(strip, scroll_x, index, start)

    def _with_offsets(self, strip: Strip, scroll_x: int, index: int, start: int) -> Strip:
        """Give each cell the (column, line) of the character it shows, as Textual's mouse selection reads them:
        the gutter's cells all stand for the line's first column (a drag from the numbers selects whole lines)."""
        gutter_left = max(0, self._gutter - scroll_x)
        if not gutter_left:
            return strip.apply_offsets(start + scroll_x - self._gutter, index)
        gutter, text = strip.divide([gutter_left, strip.cell_length])
        first_column = Style.from_meta({"offset": (start, index)})
        gutter_cells = [
            Segment(character, (segment.style or Style()) + first_column)
            for segment in gutter
            for character in segment.text
        ]
        return Strip([*gutter_cells, *text.apply_offsets(start, index)], strip.cell_length)

    # ------------------------------------------------------------------ selection
    def selection_text(self, selection: Selection) -> str:
        """Exactly the characters `selection` covers (lines as shown, joined with newlines)."""
        return selected_lines(self._lines, selection)

    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        return self.selection_text(selection), "\n"

    def selection_updated(self, selection: Selection | None) -> None:
        if selection is None:
            self._anchor = None
        self.refresh()

    def _moved_to(self, column: int, line: int) -> Offset:
        """(column, line) clamped to the text: past a line's end goes to the next line, before its start to the
        end of the previous one, as a text cursor moves."""
        line = max(0, min(len(self._lines) - 1, line))
        if column < 0:
            if line == 0:
                return Offset(0, 0)
            return Offset(len(self._lines[line - 1]), line - 1)
        if column > len(self._lines[line]):
            if line + 1 >= len(self._lines):
                return Offset(len(self._lines[line]), line)
            return Offset(0, line + 1)
        return Offset(column, line)

    def _selection_ends(self) -> tuple[Offset, Offset]:
        """(anchor, moving end) of the selection to extend: the keyboard's, else a mouse selection (from its start
        to its end), else none yet: both at the cursor line's start."""
        selection = self.screen.selections.get(self)
        if selection is None:
            return Offset(0, self.cursor_line), Offset(0, self.cursor_line)
        if self._anchor is not None and selection == Selection.from_offsets(self._anchor, self._select_end):
            return self._anchor, self._select_end
        last = len(self._lines) - 1
        start, end = selection.start or Offset(0, 0), selection.end or Offset(len(self._lines[last]), last)
        end_line = min(end.y, last)  # a drag may end below the text or past a line's end
        return start, Offset(min(end.x, len(self._lines[end_line])), end_line)

    def _select_to(self, anchor: Offset, end: Offset) -> None:
        self._anchor, self._select_end = anchor, end
        self.screen.selections = {self: Selection.from_offsets(anchor, end)}
        self.move_cursor((end.y, 0))
        self._show_column(end)

    def _show_column(self, end: Offset) -> None:
        """Scroll sideways so the selection's moving end is on screen (lines that do not wrap)."""
        if self._wrap:
            return
        cell = self._gutter + end.x
        width = max(1, self.scrollable_content_region.width)
        if cell < self.scroll_offset.x:
            self.scroll_to(x=max(0, cell - self._gutter), animate=False, immediate=True)
        elif cell >= self.scroll_offset.x + width:
            self.scroll_to(x=cell - width + 1, animate=False, immediate=True)

    def action_select(self, lines: int, columns: int) -> None:
        """Shift and an arrow: extend the selection by a character or a line (it starts at the cursor line)."""
        anchor, end = self._selection_ends()
        if lines:
            line = max(0, min(len(self._lines) - 1, end.y + lines))
            self._select_to(anchor, Offset(min(end.x, len(self._lines[line])), line))
        else:
            self._select_to(anchor, self._moved_to(end.x + columns, end.y))

    def action_select_line_edge(self, to_end: bool) -> None:
        """Shift+Home / Shift+End: extend the selection to the start or the end of its line."""
        anchor, end = self._selection_ends()
        self._select_to(anchor, Offset(len(self._lines[end.y]) if to_end else 0, end.y))

    def _clear_own_selection(self) -> None:
        if self in self.screen.selections:
            self.screen.clear_selection()

    def watch_cursor_line(self, old: int, new: int) -> None:
        top = self.scroll_offset.y
        height = max(1, self.scrollable_content_region.height)
        first = self._row_of(new)
        last = self._row_of(new + 1) - 1 if self._wrap and new + 1 < len(self._lines) else (len(self._rows) - 1 if self._wrap else new)
        if first < top:
            self.scroll_to(y=first, animate=False, immediate=True)
        elif last >= top + height:
            self.scroll_to(y=max(first, last - height + 1) if last - first < height else first, animate=False, immediate=True)
        self.refresh()

    def move_cursor(self, location: tuple[int, int], center: bool = False) -> None:
        """Put the cursor line on `location[0]` (the column is ignored), centred in the view when asked."""
        row = max(0, min(len(self._lines) - 1, location[0]))
        if center:
            height = max(1, self.scrollable_content_region.height)
            self.scroll_to(y=max(0, self._row_of(row) - height // 2), animate=False, immediate=True)
        self.cursor_line = row

    def _page(self) -> int:
        """Lines a page moves: a screenful of rows, fewer lines when they wrap."""
        height = max(1, self.scrollable_content_region.height - 1)
        if not self._wrap:
            return height
        target = self._row_of(self.cursor_line) + height
        line = self.cursor_line
        while line + 1 < len(self._lines) and self._row_of(line + 1) <= target:
            line += 1
        return max(1, line - self.cursor_line)

    def action_cursor_up(self) -> None:
        self._clear_own_selection()
        self.move_cursor((self.cursor_line - 1, 0))

    def action_cursor_down(self) -> None:
        self._clear_own_selection()
        self.move_cursor((self.cursor_line + 1, 0))

    def action_page_up_lines(self) -> None:
        self._clear_own_selection()
        self.move_cursor((self.cursor_line - self._page(), 0))

    def action_page_down_lines(self) -> None:
        self._clear_own_selection()
        self.move_cursor((self.cursor_line + self._page(), 0))

    def action_first_line(self) -> None:
        self._clear_own_selection()
        self.move_cursor((0, 0))

    def action_last_line(self) -> None:
        self._clear_own_selection()
        self.move_cursor((len(self._lines) - 1, 0))

    def on_click(self, event: object) -> None:
        y = getattr(event, "y", None)
        if y is None:
            return
        row = self.scroll_offset.y + int(y)
        if self._wrap:
            if row >= len(self._rows):
                return
            row = self._rows[row][0]
        self.move_cursor((row, 0))


__all__ = ["CodeText", "CodeView", "HIGHLIGHT_STYLES", "selected_lines", "selected_text"]
