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
[b]Search[/b] (/, type, Enter) looks in the decoded XML, the URL and the summary.
  mail%2F39     matches the start of a word: finds mail%2F39165e…
  "Sync Add"    quotes match these words exactly, in this order
  Sync 401      every word and phrase must occur
[b]Status[/b] (the status field, Enter):
  401  http 401   an HTTP status     3  eas 3   an EAS status
                  (a bare number from 200 up is an HTTP status)
  4xx             a class: 400-499   3-9        a range
  !1              any other status (flows without one are left out)
[b]Marks[/b] in the first column:
  ●  marked by you (m)
  !  failed (red): an HTTP or EAS status, or the decoding, failed
  ~  a warning (yellow): a status that tells the client what to do next
     (n / N step through both; tab 4 of the exchange lists the reasons)
  ↻  a replay (e sends one; r shows a flow's latest replay)
[b]Diagnosis[/b]: D lists the session's findings (Enter: their flows);
  f keeps the selected flow's collection; K shows its SyncKey chain;
  x exports the marked flows (else the list); Ctrl+P: .mitm and HAR.
[b]Split[/b]: from 160 columns the selected flow's detail shows beside the list;
  v turns it on or off at any width (until the width crosses 160 again).
[b]Copy[/b]: select text in an XML view with the mouse or shift+arrows (and
  shift+Home/End); y copies exactly that, else the element, XML or table.
[b]Keys[/b]: q goes back, and quits on the flow list; Escape goes back;
  Ctrl+Q quits anywhere; Ctrl+P lists every command."""


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
        table.can_focus = False  # the box scrolls as one, from the syntax at its top
        box = self.query_one("#help-box", VerticalScroll)
        box.focus()
        box.scroll_home(animate=False)

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)


__all__ = ["SYNTAX_HELP", "HelpScreen", "binding_rows"]
