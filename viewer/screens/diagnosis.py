"""The diagnosis of a session (findings, most severe first) and one collection's SyncKey chain."""

from __future__ import annotations

import time
from collections.abc import Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from capture.model import FlowFilter
from capture.reader import CaptureReader
from eas.diagnosis import diagnose
from eas.evidence import Finding
from eas.facts import ChainLink
from eas.wiretext import shown

# Most severe first; the colour a finding's severity is shown in.
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
SEVERITY_STYLES = {"error": "bold red", "warning": "yellow", "info": "dim"}


def session_findings(reader: CaptureReader, session_id: int | None) -> list[Finding]:
    """The findings of one session (every session when None), most severe first, then in the diagnosis' order.

    The one place the viewer gets its evidence: from the capture's stored facts (CaptureReader.evidence).
    """
    findings = diagnose(reader.evidence(FlowFilter(session_id=session_id)))
    return sorted(findings, key=lambda finding: SEVERITY_ORDER.get(finding.severity, len(SEVERITY_ORDER)))


def finding_detail(finding: Finding) -> Text:
    """What the pane under the table says of the highlighted finding: summary, advice, spec, flows."""
    text = Text()
    text.append(f"{finding.severity.upper()} {finding.rule}\n", style=SEVERITY_STYLES.get(finding.severity, ""))
    text.append(shown(finding.summary) + "\n")
    if finding.advice:
        text.append("Advice: ", style="bold")
        text.append(shown(finding.advice) + "\n")
    if finding.spec:
        text.append(f"Spec: {finding.spec}\n", style="dim")
    flows = " ".join(f"#{flow_id}" for flow_id in finding.flows)
    text.append(f"Flows: {flows or '(none)'}   Enter: list only these flows", style="italic")
    return text


class DiagnosisScreen(Screen[tuple[int, ...] | None]):
    """Findings of a session; Enter returns the highlighted finding's flow ids (the list then shows only them)."""

    BINDINGS = [
        Binding("escape,q", "back", "Back", id="diagnosis-back"),
        Binding("enter", "choose", "Show its flows", id="diagnosis-choose"),
    ]

    def __init__(self, title: str, findings: Sequence[Finding]) -> None:
        super().__init__()
        self._title = title
        self.findings = list(findings)

    def compose(self) -> ComposeResult:
        yield Static(self._title, id="diagnosis-title")
        yield DataTable(id="findings", cursor_type="row", zebra_stripes=True)
        yield Static(id="finding-detail")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.styles.height = "1fr"
        self.query_one("#finding-detail", Static).styles.height = "auto"
        table.add_columns("severity", "rule", "flows", "summary")
        for finding in self.findings:
            table.add_row(
                Text(finding.severity, style=SEVERITY_STYLES.get(finding.severity, "")),
                finding.rule,
                str(len(finding.flows)),
                shown(finding.summary),
            )
        if not self.findings:
            self.query_one("#finding-detail", Static).update("No findings: nothing in this session looks wrong.")
        table.focus()

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if 0 <= event.cursor_row < len(self.findings):
            self.query_one("#finding-detail", Static).update(finding_detail(self.findings[event.cursor_row]))

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        self.action_choose()

    def action_choose(self) -> None:
        row = self.query_one(DataTable).cursor_row
        if 0 <= row < len(self.findings) and self.findings[row].flows:
            self.dismiss(tuple(self.findings[row].flows))

    def action_back(self) -> None:
        self.dismiss(None)


class ChainScreen(Screen[int | None]):
    """One collection's SyncKey chain: flow, time, key sent -> key answered, status; Enter returns the flow id."""

    BINDINGS = [
        Binding("escape,q", "back", "Back", id="chain-back"),
        Binding("enter", "choose", "Open the flow", id="chain-choose"),
    ]

    def __init__(self, title: str, links: Sequence[ChainLink]) -> None:
        super().__init__()
        self._title = title
        self.links = list(links)

    def compose(self) -> ComposeResult:
        yield Static(self._title, id="chain-title")
        yield DataTable(id="chain", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("#", "time", "command", "sync key", "status", "HTTP")
        previous_answer: str | None = None
        for link in self.links:
            # a key sent that is not the key last answered breaks the chain (MS-ASCMD 2.2.3.166.4, SyncKey(Sync))
            broken = previous_answer is not None and link.request_sync_key not in (previous_answer, "0")
            keys = Text(shown(f"{link.request_sync_key or '?'} -> {link.response_sync_key or '?'}"))
            if broken:
                keys.stylize("bold red")
            status = "" if link.status is None else str(link.status)
            table.add_row(
                str(link.flow_id),
                time.strftime("%H:%M:%S", time.localtime(link.ts)) + f".{int(link.ts * 1000) % 1000:03d}",
                link.command or "",
                keys,
                Text(status, style="" if link.status in (None, 1) else "yellow"),
                "" if link.http_status is None else str(link.http_status),
            )
            if link.response_sync_key:
                previous_answer = link.response_sync_key
        table.focus()

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        self.action_choose()

    def action_choose(self) -> None:
        row = self.query_one(DataTable).cursor_row
        if 0 <= row < len(self.links):
            self.dismiss(self.links[row].flow_id)

    def action_back(self) -> None:
        self.dismiss(None)


__all__ = ["ChainScreen", "DiagnosisScreen", "finding_detail", "session_findings"]
