"""Export of the flows the user chose (marked, else the filtered list) as annotated XML, .mitm or HAR."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from capture.har import export_har
from capture.mitm import export_mitm, selected_records
from capture.model import CaptureError
from capture.xml_export import export_xml

# Format key -> (file suffix, what the user reads).
EXPORT_FORMATS: dict[str, tuple[str, str]] = {
    "xml": (".xml", "annotated XML"),
    "mitm": (".mitm", "mitmproxy flows (.mitm)"),
    "har": (".har", "HAR 1.2"),
}
EXPORT_FOLDER = "exports"  # beside the capture, created on first export


def default_export_path(capture_path: Path, fmt: str, now: float | None = None) -> Path:
    """`exports/<capture name>-<local time><suffix>` in the capture's folder."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(time.time() if now is None else now))
    return capture_path.parent / EXPORT_FOLDER / f"{capture_path.stem}-{stamp}{EXPORT_FORMATS[fmt][0]}"


def _owner_only_file(path: Path) -> None:
    """Create the folder and an empty file that only its owner reads: exports hold requests and credentials."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.close(descriptor)
        os.chmod(path, 0o600)  # an existing file keeps its old mode through O_CREAT
    except OSError as err:
        raise CaptureError(f"{path}: cannot write: {err.strerror or err}") from err


def export_flows(capture_path: Path, flow_ids: Sequence[int], dst: Path, fmt: str) -> int:
    """Write the given flows of the capture to `dst` in `fmt` (a key of EXPORT_FORMATS); returns how many.

    Raises:
        CaptureError: unknown format, the capture cannot be read, or the file cannot be written.
    """
    if fmt not in EXPORT_FORMATS:
        raise CaptureError(f"cannot export as {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")
    _owner_only_file(dst)
    if fmt == "mitm":
        return export_mitm(capture_path, dst, flow_ids)
    if fmt == "har":
        return export_har(capture_path, dst, flow_ids)
    records = selected_records(capture_path, flow_ids)
    try:
        dst.write_text(export_xml(records), encoding="utf-8")
    except OSError as err:
        raise CaptureError(f"{dst}: cannot write: {err.strerror or err}") from err
    return len(records)


class ExportPathScreen(ModalScreen[Path | None]):
    """Asks where to write an export; Enter accepts the path shown, Escape cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="export-cancel")]
    DEFAULT_CSS = """
    ExportPathScreen { align: center middle; }
    ExportPathScreen > Vertical { width: 90%; max-width: 120; height: auto; border: round $accent; padding: 0 1; }
    """

    def __init__(self, title: str, suggested: Path) -> None:
        super().__init__()
        self._title = title
        self._suggested = suggested

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._title)
            yield Input(str(self._suggested), id="export-path")
            yield Label("Enter writes the file (folders are created); Escape cancels.")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        self.dismiss(Path(text).expanduser() if text else None)

    def action_cancel(self) -> None:
        self.dismiss(None)


__all__ = ["EXPORT_FORMATS", "ExportPathScreen", "default_export_path", "export_flows"]
