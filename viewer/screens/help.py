"""F1: every key of every screen, generated from the bindings themselves so it cannot go stale."""

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


class HelpScreen(ModalScreen[None]):
    """All keys; Escape or F1 closes."""

    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close help", id="help-close")]

    def __init__(self, sections: list[tuple[str, list[BindingType]]]) -> None:
        super().__init__(id="help")
        self.sections = sections

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static("eas-inspector keys  (Ctrl+P: command palette, Esc: close)", id="help-title")
            yield DataTable(id="help-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("where", "keys", "does")
        for row in binding_rows(self.sections):
            table.add_row(*row)
        table.focus()

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)


__all__ = ["HelpScreen", "binding_rows"]
