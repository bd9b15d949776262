"""WBXML bodies edited as text (mitmweb's Edit): a no-op keeps every byte, pasted XML is re-encoded, the rest refused.

mitmweb 12 has no interactive contentviews: its Edit loads the raw body as UTF-8 text (invalid bytes become
U+FFFD) and Done stores that text back, even unchanged, which corrupts a WBXML body. mitmweb tells no addon
about the edit except through its view's update signal, so the guard follows that signal: it remembers each EAS
body it has seen and judges a body that changed:

1. the text round trip of the body it had (Done without a change): the old bytes and headers come back;
2. XML (the ActiveSync view's text, pasted and edited): encoded to WBXML as the console's editor does;
3. text with U+FFFD where the old body was not UTF-8 (an edit of the bytes shown as text): refused, old body back;
4. anything else (a WBXML file uploaded with Replace, an addon's change): kept.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from mitmproxy import ctx, flow, http
from mitmproxy.contentviews import Metadata
from mitmproxy.net import encoding

from addon.contentview import WBXML_MAGIC, editable, encode_edit, keep_rejected_edit

logger = logging.getLogger(__name__)

# How mitmproxy writes text back into a body (Message.set_text): the content type's charset, or latin-1 for
# types without one, and UTF-8 when the text does not fit.
TEXT_ENCODINGS = ("utf-8", "latin-1")
REPLACEMENT = "\ufffd"


@dataclass(frozen=True)
class BodySeen:
    """A body as the guard last accepted it (the bytes object is shared with the flow, not copied)."""

    raw: bytes
    content_type: str | None
    content_length: str | None


def text_round_trips(body: bytes) -> set[bytes]:
    """The bytes a browser-side text editor gives back for `body` left unchanged."""
    text = body.decode("utf-8", errors="replace")
    shown: set[bytes] = set()
    for name in TEXT_ENCODINGS:
        try:
            shown.add(text.encode(name))
        except UnicodeEncodeError:
            continue
    return shown


def is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def plain(message: http.Message, raw: bytes) -> bytes | None:
    """`raw` without the message's Content-Encoding, or None when it does not decode."""
    try:
        decoded = encoding.decode(raw, message.headers.get("content-encoding", "identity"))
    except ValueError:
        return None
    return decoded if isinstance(decoded, bytes) else None


class EditGuard:
    """Follows a mitmproxy view's updates and keeps WBXML bodies whole through text edits."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], BodySeen] = {}
        self.view: Any = None

    def connect(self, view: Any) -> None:
        """Follow `view` (mitmproxy's View addon): its add, update and remove signals."""
        self.view = view
        view.sig_view_add.connect(self.updated)
        view.sig_view_update.connect(self.updated)
        view.sig_view_remove.connect(self.removed)

    def changed(self, f: http.HTTPFlow) -> None:
        """Tell the UIs about a body the guard put back or re-encoded."""
        if self.view is not None:
            self.view.update([f])

    def updated(self, flow: flow.Flow) -> None:
        """The view's add and update signal: judge each EAS body of the flow that changed since last seen."""
        if not isinstance(flow, http.HTTPFlow):
            return
        try:
            for side, message in (("request", flow.request), ("response", flow.response)):
                if message is not None:
                    self.check(flow, side, message)
        except Exception as err:  # a guard never breaks the UI's update
            logger.warning(f"activesync edit guard: {type(err).__name__}: {err}")

    def removed(self, flow: flow.Flow, index: int = 0) -> None:
        self.seen.pop((flow.id, "request"), None)
        self.seen.pop((flow.id, "response"), None)

    def remember(self, flow_id: str, side: str, message: http.Message) -> None:
        raw = message.raw_content
        if raw is None:
            return
        self.seen[(flow_id, side)] = BodySeen(
            raw, message.headers.get("content-type"), message.headers.get("content-length")
        )

    def check(self, f: http.HTTPFlow, side: str, message: http.Message) -> None:
        key = (f.id, side)
        before = self.seen.get(key)
        raw = message.raw_content
        if raw is None or (before is not None and raw is before.raw):
            return
        if before is None or raw == before.raw:
            self.remember(f.id, side, message)
            return
        old = plain(message, before.raw)
        new = plain(message, raw)
        metadata = Metadata(
            content_type=(before.content_type or "").split(";")[0].strip().lower() or None,
            flow=f,
            http_message=message,
            original_data=old,
        )
        if old is None or new is None or not old.startswith(WBXML_MAGIC[:2]) or not editable(old, metadata):
            self.remember(f.id, side, message)  # not WBXML: text edits of it are the user's to make
            return
        if new in text_round_trips(old):
            self.restore(f, side, message, before)
            logger.info(f"activesync: {side} body of {f.request.path} kept as it was (edited as text, unchanged)")
            return
        text = new.decode("utf-8", errors="replace")
        if text.lstrip().startswith("<"):
            try:
                body = encode_edit(text, metadata)
            except ValueError as err:
                self.restore(f, side, message, before)
                reason = " ".join(str(err).split())
                logger.error(
                    f"ActiveSync edit not applied, {side} body unchanged: {reason} (your text: {keep_rejected_edit(text)})"
                )
                return
            message.content = body
            if before.content_type is not None:
                message.headers["content-type"] = before.content_type
            self.remember(f.id, side, message)
            self.changed(f)
            logger.info(f"activesync: edited XML of the {side} re-encoded to {len(body)} bytes of WBXML")
            return
        if REPLACEMENT in text and not is_utf8(old):
            self.restore(f, side, message, before)
            logger.error(
                f"ActiveSync edit not applied, {side} body unchanged: the editor showed the "
                f"WBXML bytes as text; paste the ActiveSync view's XML into Edit instead (your text: "
                f"{keep_rejected_edit(text)})"
            )
            return
        self.remember(f.id, side, message)

    def restore(self, f: http.HTTPFlow, side: str, message: http.Message, before: BodySeen) -> None:
        message.raw_content = before.raw
        for name, value in (("content-type", before.content_type), ("content-length", before.content_length)):
            if value is None:
                message.headers.pop(name, None)
            else:
                message.headers[name] = value
        self.remember(f.id, side, message)
        self.changed(f)


class EditGuardAddon:
    """The guard as an addon: it follows the view of mitmproxy's console or mitmweb (mitmdump has none)."""

    def __init__(self) -> None:
        self.guard = EditGuard()

    def running(self) -> None:
        view = ctx.master.addons.get("view")  # type: ignore[no-untyped-call]
        if view is not None and self.guard.view is None:
            self.guard.connect(view)
            for f in view:  # flows loaded before the proxy ran (-r): their bodies as they are now
                self.guard.updated(f)
