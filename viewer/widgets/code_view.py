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
    """Lines with optional numbers and XML highlighting; a cursor line that `move_cursor` can put anywhere."""

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

    def __init__(self, text: str, *, xml: bool = True, line_numbers: bool = True, id: str | None = None) -> None:
        super().__init__(id=id)
        self._text = text
        self._lines = text.split("\n")
        self._xml = xml
        self._states = comment_states(self._lines) if xml else []
        self._gutter = len(str(len(self._lines))) + 2 if line_numbers else 0
        self._cache: OrderedDict[int, Text] = OrderedDict()
        self._width = max((len(line) for line in self._lines), default=0) + self._gutter + 1

    @property
    def text(self) -> str:
        return self._text

    @property
    def line_count(self) -> int:
        return len(self._lines)

    @property
    def cursor_location(self) -> tuple[int, int]:
        return (self.cursor_line, 0)

    def on_mount(self) -> None:
        self.virtual_size = Size(self._width, len(self._lines))

    def _line_text(self, index: int) -> Text:
        cached = self._cache.get(index)
        if cached is not None:
            self._cache.move_to_end(index)
            return cached
        line = self._lines[index].expandtabs(4)
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
        index = scroll_y + y
        width = self.size.width
        base = self.rich_style
        if index >= len(self._lines):
            return Strip.blank(width, base)
        line = Text(no_wrap=True, end="")
        if self._gutter:
            line.append(f"{index + 1:>{self._gutter - 1}} ", style=self.get_component_rich_style("code-view--gutter"))
        line.append_text(self._line_text(index))
        style = base
        if index == self.cursor_line:
            cursor = self.get_component_rich_style("code-view--cursor-line")
            line.stylize(cursor)
            style = base + cursor
        strip = Strip(line.render(self.app.console), line.cell_len)
        return strip.crop_extend(scroll_x, scroll_x + width, style).apply_offsets(scroll_x, index)

    def watch_cursor_line(self, old: int, new: int) -> None:
        top = self.scroll_offset.y
        height = max(1, self.scrollable_content_region.height)
        if new < top:
            self.scroll_to(y=new, animate=False, immediate=True)
        elif new >= top + height:
            self.scroll_to(y=new - height + 1, animate=False, immediate=True)
        self.refresh()

    def move_cursor(self, location: tuple[int, int], center: bool = False) -> None:
        """Put the cursor line on `location[0]` (the column is ignored), centred in the view when asked."""
        row = max(0, min(len(self._lines) - 1, location[0]))
        if center:
            height = max(1, self.scrollable_content_region.height)
            self.scroll_to(y=max(0, row - height // 2), animate=False, immediate=True)
        self.cursor_line = row

    def action_cursor_up(self) -> None:
        self.move_cursor((self.cursor_line - 1, 0))

    def action_cursor_down(self) -> None:
        self.move_cursor((self.cursor_line + 1, 0))

    def action_page_up_lines(self) -> None:
        self.move_cursor((self.cursor_line - max(1, self.scrollable_content_region.height - 1), 0))

    def action_page_down_lines(self) -> None:
        self.move_cursor((self.cursor_line + max(1, self.scrollable_content_region.height - 1), 0))

    def action_first_line(self) -> None:
        self.move_cursor((0, 0))

    def action_last_line(self) -> None:
        self.move_cursor((len(self._lines) - 1, 0))

    def on_click(self, event: object) -> None:
        y = getattr(event, "y", None)
        if y is not None:
            self.move_cursor((self.scroll_offset.y + int(y), 0))


__all__ = ["CodeView", "HIGHLIGHT_STYLES"]
