"""F1: the search and filter syntax, the marks, and every key of every screen (from the bindings themselves)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static


def _keys(binding: Binding) -> str:
    names = {"slash": "/", "plus": "+", "minus": "-", "equals_sign": "=", "escape": "Esc", "enter": "Enter"}
    return ", ".join(names.get(k.strip(), k.strip()) for k in binding.key.split(","))


def binding_rows(sections: list[tuple[str, list[BindingType]]]) -> list[tuple[str, str, str]]:
    """(section, keys, description) for every Binding in `sections` (tuples and strings are skipped)."""
    rows = []
    for section, bindings in sections:
        for binding in bindings:
            if isinstance(binding, Binding):
                rows.append((section, _keys(binding), binding.description or binding.action))
    return rows


# What the flow list's search field, status field and first column mean (the rules live in fts_query, parse_status
# and flow_list.cell_values; this is their user manual).
SYNTAX_HELP = """\
[b]Search[/b] (/ then Enter): the decoded XML, the URL and the summary of each flow.
  mail%2F39     a word matches the start of a word: finds mail%2F39165e…  (word* says the same)
  "Sync Add"    quotes match those words exactly, in that order
  Sync 401      every word and phrase must occur
[b]Status[/b] (the status field, then Enter):
  401, http 401   an HTTP status        3, eas 3   an EAS status (a bare number from 200 up is HTTP)
  4xx             a class: 400 to 499   3-9        a range
  !1              any other status (flows without an EAS status are left out)
[b]Marks[/b] in the first column:
  ●  marked by you (m)     !  the flow has problems (tab 4)     ↻  a replay (e sends one; r shows the latest)
[b]Keys[/b]: q goes back (on the flow list it quits), Escape goes back, Ctrl+Q quits anywhere, Ctrl+P lists commands."""


class HelpScreen(ModalScreen[None]):
    """All keys; Escape or F1 closes."""

    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close help", id="help-close")]

    def __init__(self, sections: list[tuple[str, list[BindingType]]]) -> None:
        super().__init__(id="help")
        self.sections = sections

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static("eas-inspector help  (Esc, q or F1: close)", id="help-title")
            yield Static(SYNTAX_HELP, id="help-syntax")
            yield DataTable(id="help-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("where", "keys", "does")
        for row in binding_rows(self.sections):
            table.add_row(*row)
        table.focus()

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)


__all__ = ["SYNTAX_HELP", "HelpScreen", "binding_rows"]
