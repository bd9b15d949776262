"""A read-only text view that renders only the lines on screen (bodies of megabytes open at once)."""

from __future__ import annotations

from collections import OrderedDict

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
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


class CodeView(ScrollView, can_focus=True):
    """Lines with optional numbers and XML highlighting; a cursor line that `move_cursor` can put anywhere.

    With `wrap` on, a long line continues on the next rows (the gutter numbers only its first row); the cursor
    and `move_cursor` still count logical lines.
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
    ]
    DEFAULT_CSS = """
    CodeView { height: 1fr; background: $surface; }
    CodeView > .code-view--gutter { color: $text-muted; }
    CodeView > .code-view--cursor-line { background: $boost; }
    CodeView:focus > .code-view--cursor-line { background: $accent 30%; }
    """

    cursor_line: reactive[int] = reactive(0, always_update=True)

    def __init__(
        self, text: str, *, xml: bool = True, line_numbers: bool = True, wrap: bool = False, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self._text = text
        self._lines = [line.expandtabs(4) for line in text.split("\n")]
        self._xml = xml
        self._states = comment_states(self._lines) if xml else []
        self._gutter = len(str(len(self._lines))) + 2 if line_numbers else 0
        self._cache: OrderedDict[int, Text] = OrderedDict()
        self._width = max((len(line) for line in self._lines), default=0) + self._gutter + 1
        self._wrap = wrap
        self._rows: list[tuple[int, int]] = []  # wrapped: (line, first character) of each row on screen
        self._first_rows: list[int] = []  # wrapped: the row of each line's first character
        self._wrapped_for = 0  # the text width the rows were made for

    @property
    def text(self) -> str:
        return self._text

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
        line.append_text(content[start : start + self._wrapped_for] if self._wrap else content)
        style = base
        if index == self.cursor_line:
            cursor = self.get_component_rich_style("code-view--cursor-line")
            line.stylize(cursor)
            style = base + cursor
        strip = Strip(line.render(self.app.console), line.cell_len)
        return strip.crop_extend(scroll_x, scroll_x + width, style).apply_offsets(scroll_x, row)

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
        self.move_cursor((self.cursor_line - 1, 0))

    def action_cursor_down(self) -> None:
        self.move_cursor((self.cursor_line + 1, 0))

    def action_page_up_lines(self) -> None:
        self.move_cursor((self.cursor_line - self._page(), 0))

    def action_page_down_lines(self) -> None:
        self.move_cursor((self.cursor_line + self._page(), 0))

    def action_first_line(self) -> None:
        self.move_cursor((0, 0))

    def action_last_line(self) -> None:
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


__all__ = ["CodeView", "HIGHLIGHT_STYLES"]
