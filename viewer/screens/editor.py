"""Edit a captured request (XML, query, headers) and send it again, directly or through a proxy."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from lxml import etree
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Button, Collapsible, Footer, Input, Label, Static, Switch, TextArea
from textual.worker import Worker, WorkerState, get_current_worker

import eas
from eas.bodies import decode_content_encoding
from eas.headers import explain_http_status
from eas.schema import validate_request
from eas.sensitive import HIDDEN, is_secret_element, restore_hidden_secrets
from viewer import credentials
from viewer.messages import LoadedFlow, ReplayFailed, ReplayFinished
from viewer.screens.exchange import prepare
from viewer.replay import DEFAULT_TIMEOUT, Canceller, ReplayError, ReplayRequest, send
from viewer.widgets.xml_text import XmlTextArea

if TYPE_CHECKING:
    from viewer.app import EasInspectorApp

NOTES_DELAY = 0.6  # seconds without typing before the notes are made again
TALL_SCREEN = 40  # rows from which the request headers show unfolded

# Headers that follow from the body or the connection; the transport sets them.
_SKIPPED_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "proxy-connection"})


class EncodeFailed(Exception):
    """The edited XML cannot be encoded (message for the user, line when known)."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


def editable_text(flow: LoadedFlow) -> tuple[str, bool]:
    """The request body as the editor shows it, and whether it is XML (re-encoded to WBXML on change)."""
    ex = flow.exchange
    body = ex.request_body if ex is not None else None
    if body is not None and body.kind == "wbxml" and body.xml:
        return body.xml, True
    raw = flow.record.request_body
    if not raw:
        return "", False
    return raw.decode("utf-8", errors="replace"), False


def captured_body(flow: LoadedFlow) -> bytes | None:
    """The captured request body without its Content-Encoding (the bytes the shown XML was decoded from), or None
    when that cannot be undone."""
    record = flow.record
    try:
        return decode_content_encoding(record.request_body or b"", credentials.header(record.request_headers, "Content-Encoding"))
    except eas.EasError:
        return None


def encode_body(text: str, is_xml: bool, original: bytes | None = None) -> bytes:
    """The bytes to send for edited text: WBXML for XML, UTF-8 otherwise.

    A password the XML shows as "(hidden) N characters" is sent as it was in `original`, the captured body
    (eas.sensitive.restore_hidden_secrets); one typed over it is sent as typed.

    Raises:
        EncodeFailed: with the line of the problem when the encoder or the XML parser knows it; a password
            placeholder that maps to no single original value (a capture that hid it) is refused too.
    """
    if not is_xml:
        return text.encode("utf-8")
    if not text.strip():
        return b""
    try:
        root = eas.parse_xml(text)
        restore_hidden_secrets(root, original)
        return bytes(eas.encode(root))
    except eas.EncodeError as err:
        raise EncodeFailed(f"cannot encode: {err}", err.line) from err
    except etree.XMLSyntaxError as err:
        raise EncodeFailed(f"not well-formed XML: {err.msg}", err.lineno) from err
    except eas.EasError as err:
        raise EncodeFailed(f"cannot encode: {err}", None) from err
    except NotImplementedError as err:
        raise EncodeFailed("cannot encode: the WBXML encoder is not available in this build", None) from err


def schema_problems(text: str) -> list[str] | None:
    """Problems the request schema finds in `text`, or None when no schema check is available."""
    try:
        return list(validate_request(eas.parse_xml(text)))
    except NotImplementedError:
        return None


def renote(text: str, flow: LoadedFlow) -> str | None:
    """`text` with its annotation comments made again for what it now says, or None when it does not parse."""
    try:
        root = eas.parse_xml(text)
    except eas.EasError:
        return None
    for comment in list(root.iter(etree.Comment)):
        parent = comment.getparent()
        if parent is not None:
            parent.remove(comment)  # keeps the tail: the indentation is made again below
    ex = flow.exchange
    context = eas.AnnotationContext(
        command=ex.command if ex is not None else None,
        is_response=False,
        protocol_version=ex.protocol_version if ex is not None else None,
    )
    # eas.annotate shows a password by its length; in the user's edit it stays as it is (typed, or the placeholder
    # with its count), else a typed password would be lost and a placeholder would count its own characters.
    passwords = [
        (element, element.text)
        for element in root.iter(etree.Element)
        if is_secret_element(etree.QName(element).namespace or "", etree.QName(element).localname)
    ]
    try:
        eas.annotate(root, context)
    except Exception:  # noqa: BLE001 - notes are a help: an annotator failure leaves the text as typed
        return None
    for element, typed in passwords:
        element.text = typed
    etree.indent(root, space="  ")
    return eas.to_xml(root, pretty=True).rstrip("\n") + ("\n" if text.endswith("\n") else "")


def _is_comment_line(line: str) -> bool:
    stripped = line.strip()
    return stripped.startswith("<!--") and stripped.endswith("-->")


def _line_after_renote(old: list[str], new: list[str], row: int) -> int:
    """The line of `new` that holds what line `row` of `old` held (lines other than notes keep their order)."""
    wanted = sum(1 for line in old[: row + 1] if not _is_comment_line(line))
    seen = 0
    for index, line in enumerate(new):
        if not _is_comment_line(line):
            seen += 1
            if seen == wanted:
                return index
    return max(0, len(new) - 1)


class EditorScreen(Screen[None]):
    """Ctrl+S sends; Escape cancels a running send, else closes the editor."""

    BINDINGS = [
        Binding("ctrl+s", "send", "Send", id="replay-send", priority=True),
        Binding("escape", "cancel", "Cancel / close", id="replay-cancel", priority=True),
        Binding("ctrl+o", "restore", "Restore original", show=False, id="replay-restore"),
    ]

    def __init__(self, flow: LoadedFlow) -> None:
        super().__init__(classes="editor")
        self.flow = flow
        self.original_text, self.is_xml = editable_text(flow)
        record = flow.record
        parts = urlsplit(record.row.url)
        self.original_base = f"{parts.scheme}://{parts.netloc}{parts.path}"
        self.original_query = parts.query
        self.original_netloc = parts.netloc
        self.auth = credentials.auth_state(record.request_headers)
        if record.credentials_redacted and self.auth == "present":
            self.auth = "redacted"
        self.sending = False
        self._notes_timer: Timer | None = None
        self._refreshing_notes = False
        self._canceller: Canceller | None = None
        self.last_request: ReplayRequest | None = None

    @property
    def inspector(self) -> EasInspectorApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        record = self.flow.record
        yield Static(f"Replay of #{record.row.id} {record.row.method} {record.row.command or ''}", id="editor-title")
        with Vertical(id="editor-fields"):
            with Horizontal(classes="field"):
                yield Label("URL", classes="field-label")
                yield Input(self.original_base, id="replay-url", compact=True)
            with Horizontal(classes="field"):
                yield Label("Query", classes="field-label")
                yield Input(self.original_query, id="replay-query", compact=True)
            ex = self.flow.exchange
            if ex is not None and ex.query_form == "base64" and ex.query_fields:
                decoded = "  ".join(f"{name}={value}" for name, value in ex.query_fields)
                yield Static(f"base64 query: {decoded}", id="replay-query-note", classes="field-note")
            with Horizontal(classes="field"):
                yield Label("Proxy", classes="field-label")
                yield Input(placeholder="none: direct (mitmproxy: http://127.0.0.1:8080)", id="replay-proxy", compact=True)
            with Horizontal(classes="field", id="replay-options"):
                yield Label("", classes="field-label")
                yield Label("Verify TLS", classes="switch-label")
                yield Switch(True, id="replay-verify")
                yield Label("Schema", classes="switch-label")
                yield Switch(schema_problems("<x/>") is not None, id="replay-schema")
                yield Label("Timeout s", classes="switch-label")
                yield Input(f"{DEFAULT_TIMEOUT:g}", id="replay-timeout", type="number", compact=True)
            with Horizontal(classes="field", id="credentials"):
                yield Label("User", classes="field-label")
                yield Input(credentials.basic_user(record.request_headers) or (self.flow.exchange.user if self.flow.exchange else None) or "", id="replay-user", compact=True)
                yield Label("Password", classes="switch-label")
                yield Input(placeholder="the capture hid it: type it to send", password=True, id="replay-password", compact=True)
        shown_headers = [
            (index, name, value)
            for index, (name, value) in enumerate(record.request_headers)
            if name.lower() not in _SKIPPED_HEADERS and not (name.lower() == "authorization" and self.auth == "redacted")
        ]
        title = f"Request headers ({len(shown_headers)}; Content-Length follows the body)"
        with Collapsible(title=title, collapsed=True, id="replay-headers-fold"):
            with VerticalScroll(id="replay-headers"):
                for index, name, value in shown_headers:
                    with Horizontal(classes="field header-row"):
                        yield Label(name, classes="header-name")
                        yield Input(value, id=f"header-{index}", password=name.lower() in ("authorization", "cookie"), compact=True)
        yield XmlTextArea(self.original_text, id="replay-xml", show_line_numbers=True, soft_wrap=False)
        yield Static("Ctrl+S sends. The unedited request is sent byte for byte.", id="replay-status")
        with Horizontal(id="replay-buttons"):
            yield Button("Send", id="replay-send-button", variant="primary")
            yield Button("Cancel", id="replay-cancel-button")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#credentials").display = self.auth == "redacted"
        # A tall terminal has room for the headers; a small one keeps it for the XML (the fold opens on click).
        self.query_one("#replay-headers-fold", Collapsible).collapsed = self.app.size.height < TALL_SCREEN
        self.query_one("#replay-xml", XmlTextArea).focus()
        if self.auth == "redacted":
            password = self.inspector.passwords.get(self._password_key())
            if password is not None:
                self.query_one("#replay-password", Input).value = password
                self.set_status("Using the password typed earlier in this viewer session (kept in memory only).")
            else:
                self.set_status("The capture hid the password: type it (it is sent, never stored or shown).")

    def _password_key(self) -> tuple[str, str]:
        return (self.original_netloc, self.query_one("#replay-user", Input).value)

    # ------------------------------------------------------------------ notes
    @on(TextArea.Changed, "#replay-xml")
    def _xml_changed(self, event: TextArea.Changed) -> None:
        if not self.is_xml or self._refreshing_notes:
            return
        if self._notes_timer is not None:
            self._notes_timer.stop()
        self._notes_timer = self.set_timer(NOTES_DELAY, self.refresh_notes)

    def refresh_notes(self) -> None:
        """Annotate the edited XML again, so that a note that no longer holds goes and a new one shows.

        Left alone while the XML does not parse (the user is typing); the cursor stays on its element's line.
        """
        self._notes_timer = None
        area = self.query_one("#replay-xml", XmlTextArea)
        text = area.text
        renoted = renote(text, self.flow)
        if renoted is None or renoted == text:
            return
        row, column = area.cursor_location
        target = _line_after_renote(text.split("\n"), renoted.split("\n"), row)
        self._refreshing_notes = True
        try:
            area.replace(renoted, (0, 0), area.document.end)
        finally:
            self._refreshing_notes = False
        area.move_cursor((target, column))

    def set_status(self, text: str, error: bool = False) -> None:
        status = self.query_one("#replay-status", Static)
        status.update(text)
        status.set_class(error, "error")

    # ------------------------------------------------------------------ building the request
    def build_request(self) -> ReplayRequest | None:
        """The request from the fields, or None (after telling the user why) when it cannot be sent."""
        record = self.flow.record
        text = self.query_one("#replay-xml", XmlTextArea).text
        if text == self.original_text:
            body = record.request_body
            edited = False
            if self.is_xml and HIDDEN in text:
                try:  # sent byte for byte, unless the capture hid a password it holds (a placeholder would go)
                    restore_hidden_secrets(eas.parse_xml(text), captured_body(self.flow))
                except eas.EncodeError as err:
                    self._show_encode_error(EncodeFailed(str(err), err.line))
                    return None
        else:
            try:
                body = encode_body(text, self.is_xml, captured_body(self.flow))
            except EncodeFailed as err:
                self._show_encode_error(err)
                return None
            edited = True
            if self.is_xml and self.query_one("#replay-schema", Switch).value:
                problems = schema_problems(text)
                if problems:
                    message = "Schema: " + "; ".join(problems[:3]) + (" …" if len(problems) > 3 else "")
                    self.set_status(message + " (turn Schema off to send anyway)", error=True)
                    self.inspector.inform(message, title="Not sent", severity="error")
                    return None
        base = self.query_one("#replay-url", Input).value.strip()
        query = self.query_one("#replay-query", Input).value.strip()
        url = f"{base}?{query}" if query else base
        headers: list[tuple[str, str]] = []
        for index, (name, value) in enumerate(record.request_headers):
            if name.lower() in _SKIPPED_HEADERS:
                continue
            if name.lower() == "authorization" and self.auth == "redacted":
                continue
            if name.lower() == "content-encoding" and edited:
                continue  # the edited body is sent as encoded, uncompressed
            widgets = self.query(f"#header-{index}")
            headers.append((name, widgets.first(Input).value if widgets else value))
        if self.auth == "redacted":
            user = self.query_one("#replay-user", Input).value
            password = self.query_one("#replay-password", Input).value
            if not password:
                self.set_status("Type the password: the capture does not hold it.", error=True)
                self.inspector.inform("The capture hid the password: type it first.", title="Not sent", severity="error")
                self.query_one("#replay-password", Input).focus()
                return None
            headers = credentials.replace_header(headers, "Authorization", credentials.basic_authorization(user, password))
            self.inspector.passwords[self._password_key()] = password
        new_netloc = urlsplit(url).netloc
        if new_netloc and new_netloc != self.original_netloc and credentials.header(headers, "Host") is not None:
            headers = credentials.replace_header(headers, "Host", new_netloc)
        try:
            timeout = float(self.query_one("#replay-timeout", Input).value or DEFAULT_TIMEOUT)
        except ValueError:
            timeout = DEFAULT_TIMEOUT
        proxy = self.query_one("#replay-proxy", Input).value.strip() or None
        return ReplayRequest(
            method=record.row.method,
            url=url,
            headers=tuple(headers),
            body=body,
            proxy=proxy,
            verify=self.query_one("#replay-verify", Switch).value,
            timeout=timeout,
        )

    def _show_encode_error(self, err: EncodeFailed) -> None:
        self.set_status(f"Not sent: {err}", error=True)
        self.inspector.inform(str(err), title="Not sent", severity="error")
        if err.line is not None:
            area = self.query_one("#replay-xml", XmlTextArea)
            area.move_cursor((max(0, err.line - 1), 0), center=True)
            area.focus()

    # ------------------------------------------------------------------ sending (worker does I/O)
    @work(thread=True, exclusive=True, group="replay")
    def send_replay(self, request: ReplayRequest, canceller: Canceller) -> None:
        worker = get_current_worker()
        try:
            result = send(request, canceller)
        except ReplayError as err:
            self.post_message(ReplayFailed(str(err), type(err).__name__))
            return
        if worker.is_cancelled:
            self.post_message(ReplayFailed("request cancelled", "Cancelled"))
            return
        flow_id: int | None = None
        store_error: str | None = None
        unsaved: LoadedFlow | None = None
        unsaved_view: object = None
        try:
            flow_id = self.inspector.store_replay(self.flow.record, request, result)
        except Exception as err:  # noqa: BLE001 - the answer is still shown, decoded
            store_error = f"the replay was not stored in the capture: {err}"
            unsaved, unsaved_view = prepare(self.inspector.unsaved_replay(self.flow, request, result))
        self.post_message(ReplayFinished(result, flow_id, store_error, unsaved, unsaved_view))

    def action_send(self) -> None:
        if self.sending:
            self.inspector.inform("Already sending; Escape cancels.", severity="warning")
            return
        request = self.build_request()
        if request is None:
            return
        self.last_request = request
        self.sending = True
        self._canceller = Canceller()
        via = f" via {request.proxy}" if request.proxy else ""
        self.set_status(f"Sending to {request.url}{via}… (Escape cancels)")
        self.query_one("#replay-send-button", Button).disabled = True
        self.send_replay(request, self._canceller)

    def action_cancel(self) -> None:
        if self.sending and self._canceller is not None:
            self._canceller.cancel()
            self.workers.cancel_group(self, "replay")
            self.set_status("Cancelling…")
            return
        self.dismiss()

    def action_restore(self) -> None:
        self.query_one("#replay-xml", XmlTextArea).text = self.original_text
        self.set_status("Original request restored.")

    @on(Button.Pressed, "#replay-send-button")
    def _send_pressed(self) -> None:
        self.action_send()

    @on(Button.Pressed, "#replay-cancel-button")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "replay" and event.state == WorkerState.CANCELLED:
            self._done()
            self.set_status("Cancelled: nothing received.", error=True)

    @on(ReplayFailed)
    def _replay_failed(self, event: ReplayFailed) -> None:
        self._done()
        title = {
            "ConnectionRefused": "Connection refused",
            "Timeout": "Timeout",
            "TLSError": "TLS error",
            "ProxyError": "Proxy error",
            "Cancelled": "Cancelled",
        }.get(event.kind, "Replay failed")
        self.set_status(f"{title}: {event.error}", error=True)
        self.inspector.inform(event.error, title=title, severity="warning" if event.kind == "Cancelled" else "error", timeout=10)

    @on(ReplayFinished)
    def _replay_finished(self, event: ReplayFinished) -> None:
        self._done()
        result = event.result
        meaning = explain_http_status(result.status, result.headers) or result.reason
        line = f"HTTP {result.status} {result.reason}: {meaning}" if meaning != result.reason else f"HTTP {result.status} {result.reason}"
        if event.store_error:
            self.inspector.inform(event.store_error, title="Capture", severity="error", timeout=10)
        severity: SeverityLevel = "error" if result.status >= 400 else "information"
        stored = f" (stored as #{event.flow_id})" if event.flow_id is not None else ""
        if event.flow_id is not None and self.inspector.kept_as is not None:
            stored = f" (stored as #{event.flow_id}; the capture is kept as {self.inspector.kept_as} on exit)"
        self.set_status(line + stored, error=result.status >= 400)
        self.inspector.inform(line + stored, title="Replay answered", severity=severity)
        self.inspector.replay_finished(self, event)

    def _done(self) -> None:
        self.sending = False
        self._canceller = None
        self.query_one("#replay-send-button", Button).disabled = False


__all__ = ["EditorScreen", "EncodeFailed", "editable_text", "encode_body", "schema_problems"]
