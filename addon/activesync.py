"""The mitmproxy addon: recognise EAS and Autodiscover flows, annotate them in flow.metadata, record them."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import mitmproxy.types
from mitmproxy import command, ctx, exceptions, flow, http
from mitmproxy.log import ALERT

import eas

logger = logging.getLogger(__name__)

# MS-ASHTTP 2.2.1.1: every EAS command is a request to /Microsoft-Server-ActiveSync; front ends put it
# behind a prefix (SOGo: /SOGo/Microsoft-Server-ActiveSync) and Exchange proxies append /Proxy/...
EAS_PATH = re.compile(r"/microsoft-server-activesync(?:/[^?#]*)?$", re.IGNORECASE)
# MS-OXDSCLI (POX, /autodiscover/autodiscover.xml) and the JSON variant
# (/autodiscover/autodiscover.json?Email=...&Protocol=ActiveSync, /autodiscover/autodiscover.json/v1.0/...).
AUTODISCOVER_PATH = re.compile(r"/autodiscover/autodiscover\.(?:xml|json)(?:/[^?#]*)?$", re.IGNORECASE)

# Bodies above this size (request + response) are analysed in a worker thread, off the event loop.
OFF_LOOP_BYTES = 256 * 1024

# flow.metadata keys; small scalars so `~meta`, mitmweb and .mitm files carry them.
META_KIND = "activesync.kind"  # "eas" | "autodiscover"
META_COMMAND = "activesync.command"
META_USER = "activesync.user"
META_DEVICE = "activesync.device"
META_DEVICE_TYPE = "activesync.device_type"
META_VERSION = "activesync.version"
META_STATUS = "activesync.status"
META_STATUS_MEANING = "activesync.status_meaning"
META_PROBLEMS = "activesync.problems"
META_PROBLEM = "activesync.problem"
META_SUMMARY = "activesync.summary"
META_ERROR = "activesync.error"

DEFAULT_CAPTURE_NAME = "eas-%Y%m%d-%H%M%S.sqlite"


def eas_kind(path: str) -> str | None:
    """Classify a request path (query allowed): "eas", "autodiscover", or None for everything else."""
    path_only = path.split("?", 1)[0].split("#", 1)[0]
    if EAS_PATH.search(path_only):
        return "eas"
    if AUTODISCOVER_PATH.search(path_only):
        return "autodiscover"
    return None


def flow_kind(f: flow.Flow) -> str | None:
    """The EAS kind of a flow (see `eas_kind`), None for non-HTTP flows and non-EAS requests."""
    if not isinstance(f, http.HTTPFlow):
        return None
    kind = f.metadata.get(META_KIND)
    if isinstance(kind, str):
        return kind
    return eas_kind(f.request.path)


def header_pairs(headers: http.Headers) -> list[tuple[str, str]]:
    """Headers as (name, value) strings in wire order, repeated names kept."""
    return list(headers.items(multi=True))


def raw_body_of(message: http.Message | None) -> bytes | None:
    """The body as received, Content-Encoding and all (eas.analyze removes it); None when streamed or absent."""
    return None if message is None else message.raw_content


def analyze_flow_values(
    method: str,
    url: str,
    request_headers: list[tuple[str, str]],
    request_body: bytes | None,
    response_status: int | None,
    response_headers: list[tuple[str, str]] | None,
    response_body: bytes | None,
) -> eas.Exchange:
    """`eas.analyze` on plain values (no mitmproxy objects), so it may run in a worker thread."""
    return eas.analyze(
        method,
        url,
        request_headers,
        request_body or b"",
        response_status,
        response_headers,
        response_body,
        annotate=False,
    )


def summary_of(kind: str, exchange: eas.Exchange) -> str:
    """One line for flow.comment: command, version, user, device, EAS status and the first problem."""
    words = ["EAS" if kind == "eas" else "Autodiscover"]
    if exchange.command:
        words.append(exchange.command)
    if exchange.protocol_version:
        words.append(exchange.protocol_version)
    if exchange.user:
        words.append(f"user={exchange.user}")
    if exchange.device_id:
        words.append(f"device={exchange.device_id}")
    status = exchange.eas_status
    if status is not None:
        meaning = exchange.eas_statuses[0].meaning
        words.append(f"status={status}" + (f" ({meaning})" if meaning else ""))
    if exchange.problems:
        first = exchange.problems[0]
        count = len(exchange.problems)
        words.append(f"| {count} problem{'s' if count > 1 else ''}: {first.where}: {first.reason}")
    return " ".join(words)


def metadata_of(kind: str, exchange: eas.Exchange) -> dict[str, Any]:
    """The flow.metadata entries for one analysis; keys with no value are left out."""
    values: dict[str, Any] = {
        META_KIND: kind,
        META_COMMAND: exchange.command,
        META_USER: exchange.user,
        META_DEVICE: exchange.device_id,
        META_DEVICE_TYPE: exchange.device_type,
        META_VERSION: exchange.protocol_version,
        META_STATUS: exchange.eas_status,
        META_STATUS_MEANING: exchange.eas_statuses[0].meaning if exchange.eas_statuses else None,
        META_PROBLEMS: len(exchange.problems),
        META_PROBLEM: (
            f"{exchange.problems[0].where}: {exchange.problems[0].reason}" if exchange.problems else None
        ),
        META_SUMMARY: summary_of(kind, exchange),
    }
    return {key: value for key, value in values.items() if value is not None}


def apply_analysis(f: http.HTTPFlow, kind: str, exchange: eas.Exchange) -> None:
    """Write an analysis into flow.metadata and, unless the user wrote one, flow.comment."""
    previous_summary = f.metadata.get(META_SUMMARY)
    for key in (META_STATUS, META_STATUS_MEANING, META_PROBLEM):
        f.metadata.pop(key, None)
    values = metadata_of(kind, exchange)
    f.metadata.update(values)
    if not f.comment or f.comment == previous_summary:
        f.comment = values[META_SUMMARY]


def capture_path_from_option(value: str, now: float | None = None) -> Path | None:
    """The capture file for an `activesync_capture` value (strftime-expanded, ~ expanded); None when off."""
    if not value.strip():
        return None
    stamp = time.localtime(now if now is not None else time.time())
    return Path(os.path.expanduser(time.strftime(value, stamp)))


def check_capture_dir(path: Path) -> None:
    """Refuse a capture path whose directory cannot be created or written.

    Raises:
        OSError: with a message naming the path.
    """
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    if not os.access(directory, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot write in {directory}")
    if path.exists() and not os.access(path, os.W_OK):
        raise PermissionError(f"cannot write {path}")


def flow_input_of(f: http.HTTPFlow) -> Any:
    """The store's FlowInput for a flow."""
    from addon.store import flow_input_from_mitm

    return flow_input_from_mitm(f)


def export_flows(
    fmt: str, flows: Sequence[http.HTTPFlow], path: str, *, keep_credentials: bool, max_body: int | None
) -> int:
    """Write flows to `path` as "xml", "mitm" or "har", the way `eas-inspector export` writes a capture.

    The flows go through a temporary capture first, so the same redaction and decoding apply.

    Raises:
        OSError, addon.store.CaptureError: reading or writing failed.
    """
    import tempfile

    from addon import convert
    from addon.store import CaptureReader, CaptureWriter

    with tempfile.TemporaryDirectory(prefix="eas-export-") as tmp:
        capture = Path(tmp) / "export.sqlite"
        writer = CaptureWriter(capture, keep_credentials=keep_credentials, max_body_size=max_body)
        try:
            for f in flows:
                writer.add(flow_input_of(f))
        finally:
            writer.close()
        if fmt == "mitm":
            return int(convert.export_mitm(capture, path))
        if fmt == "har":
            return int(convert.export_har(capture, path))
        with CaptureReader(capture) as reader:
            records = list(reader.records())
        Path(path).write_text(convert.export_xml(records), encoding="utf-8")
        return len(records)


class ActiveSyncAddon:
    """Recognise EAS traffic, annotate it in flow.metadata / flow.comment, and record it in a capture.

    The proxy never changes traffic: the addon only reads message bodies, and every hook catches its own
    failures, logs them once with the flow, and lets the flow go on unchanged.
    """

    def __init__(self, capture_dir: Path | str | None = None) -> None:
        self.capture_dir = Path(capture_dir) if capture_dir is not None else Path("captures")
        self.annotate = True
        self.keep_credentials = False
        self.max_body: int | None = None
        self.capture_path: Path | None = None
        self.writer: Any = None  # addon.store.CaptureWriter, opened with the first EAS flow
        self.writer_failed = False
        self.writer_error: str | None = None
        self.stored = 0
        self.not_stored = 0
        self.in_flight: dict[str, http.HTTPFlow] = {}

    # -- options -------------------------------------------------------------------------------------------

    def load(self, loader: Any) -> None:
        loader.add_option(
            "activesync_capture",
            str,
            str(self.capture_dir / DEFAULT_CAPTURE_NAME),
            """
            SQLite capture file that records every ActiveSync and Autodiscover flow (strftime
            patterns expand when the proxy starts; missing directories are created). Empty: no capture.
            """,
        )
        loader.add_option(
            "activesync_keep_credentials",
            bool,
            False,
            "Store the Authorization header as sent; by default the capture keeps only scheme and user.",
        )
        loader.add_option(
            "activesync_max_body",
            int,
            0,
            "Largest request or response body stored in the capture, in bytes (longer ones are cut); 0: no limit.",
        )
        loader.add_option(
            "activesync_annotate",
            bool,
            True,
            "Decode each ActiveSync flow while it passes and show command, user, device, status and problems "
            "in flow.metadata (activesync.*) and as the flow comment.",
        )

    def configure(self, updated: set[str]) -> None:
        if "activesync_max_body" in updated:
            max_body = ctx.options.activesync_max_body
            if max_body < 0:
                raise exceptions.OptionsError(f"activesync_max_body must be 0 (no limit) or more, not {max_body}")
            self.max_body = max_body or None
        if "activesync_keep_credentials" in updated:
            self.keep_credentials = ctx.options.activesync_keep_credentials
        if "activesync_annotate" in updated:
            self.annotate = ctx.options.activesync_annotate
        if updated & {"activesync_capture", "activesync_keep_credentials", "activesync_max_body"}:
            try:
                path = capture_path_from_option(ctx.options.activesync_capture)
            except ValueError as err:
                raise exceptions.OptionsError(f"activesync_capture: {err}") from err
            if path is not None:
                try:
                    check_capture_dir(path)
                except OSError as err:
                    raise exceptions.OptionsError(f"activesync_capture: {err}") from err
            if path != self.capture_path or self.writer is not None:
                self.close_writer()
            self.capture_path = path
            self.writer_failed = False

    # -- flow hooks ----------------------------------------------------------------------------------------

    def requestheaders(self, f: http.HTTPFlow) -> None:
        try:
            kind = eas_kind(f.request.path)
            if kind is not None:
                f.metadata[META_KIND] = kind
        except Exception as err:  # a hook never breaks the flow
            self.report(f, "requestheaders", err)

    async def request(self, f: http.HTTPFlow) -> None:
        try:
            kind = flow_kind(f)
            if kind is None:
                return
            self.in_flight[f.id] = f
            if self.annotate:
                await self.analyze_into(f, kind, with_response=False)
        except Exception as err:
            self.report(f, "request", err)

    async def response(self, f: http.HTTPFlow) -> None:
        try:
            kind = flow_kind(f)
            if kind is None:
                return
            if self.annotate:
                await self.analyze_into(f, kind, with_response=True)
        except Exception as err:
            self.report(f, "response", err)
        self.finish(f)

    async def error(self, f: http.HTTPFlow) -> None:
        try:
            kind = flow_kind(f)
            if kind is None:
                return
            early = f.id not in self.in_flight and f.response is None
            if self.annotate:
                await self.analyze_into(f, kind, with_response=f.response is not None)
        except Exception as err:
            self.report(f, "error", err)
            early = False
        self.finish(f, failed_early=early)

    def done(self) -> None:
        for f in list(self.in_flight.values()):
            self.finish(f)
        self.close_writer()

    # -- work ----------------------------------------------------------------------------------------------

    async def analyze_into(self, f: http.HTTPFlow, kind: str, *, with_response: bool) -> None:
        """Analyse the flow (off the event loop when its bodies are large) and apply the result."""
        request_body = raw_body_of(f.request)
        response = f.response if with_response else None
        response_body = raw_body_of(response)
        values = (
            f.request.method,
            f.request.url,
            header_pairs(f.request.headers),
            request_body,
            response.status_code if response is not None else None,
            header_pairs(response.headers) if response is not None else None,
            response_body,
        )
        if len(request_body or b"") + len(response_body or b"") > OFF_LOOP_BYTES:
            exchange = await asyncio.to_thread(analyze_flow_values, *values)
        else:
            exchange = analyze_flow_values(*values)
        apply_analysis(f, kind, exchange)

    def finish(self, f: http.HTTPFlow, *, failed_early: bool = False) -> None:
        """Hand a finished EAS flow to the capture writer (only enqueues); never raises.

        A flow is stored once: when it leaves `in_flight` (set by `request`), or on an error that came
        before its request was complete (`failed_early`).
        """
        if self.in_flight.pop(f.id, None) is None and not failed_early:
            return
        if self.capture_path is None:
            return
        try:
            writer = self.open_writer()
            if writer is None:
                self.not_stored += 1
                return
            writer.add(flow_input_of(f))
            self.stored += 1
            self.check_writer(writer)
        except Exception as err:
            self.not_stored += 1
            self.report(f, "capture", err)

    def open_writer(self) -> Any:
        """The capture writer, opened on first use; None once opening failed (logged once)."""
        if self.writer is not None or self.writer_failed or self.capture_path is None:
            return self.writer
        try:
            from addon.store import CaptureWriter

            self.writer = CaptureWriter(
                self.capture_path, keep_credentials=self.keep_credentials, max_body_size=self.max_body
            )
        except Exception as err:
            self.writer_failed = True
            logger.log(ALERT, f"ActiveSync capture disabled: cannot open {self.capture_path}: {err}")
            return None
        logger.info(f"ActiveSync capture: {self.capture_path}")
        return self.writer

    def check_writer(self, writer: Any) -> None:
        """Say once (per distinct error) when the writer thread could not write, e.g. on a full disk."""
        error = getattr(writer, "last_error", None)
        if error is not None and str(error) != self.writer_error:
            self.writer_error = str(error)
            logger.log(ALERT, f"ActiveSync capture {self.capture_path}: cannot write: {error}")

    def close_writer(self) -> None:
        """Flush and close the capture; a failure here is logged, never raised."""
        writer, self.writer = self.writer, None
        if writer is None:
            return
        try:
            writer.close()
        except Exception as err:
            logger.log(ALERT, f"ActiveSync capture {self.capture_path}: closing failed: {err}")
        if self.not_stored:
            logger.log(ALERT, f"ActiveSync capture {self.capture_path}: {self.not_stored} flows not stored")

    def report(self, f: http.HTTPFlow, stage: str, err: Exception) -> None:
        """Log a failure once with its flow and mark the flow; the flow itself goes on untouched."""
        message = f"{type(err).__name__}: {err}"
        try:
            if f.metadata.get(META_ERROR) == f"{stage}: {message}":
                return
            f.metadata[META_ERROR] = f"{stage}: {message}"
            where = f"{f.request.method} {f.request.pretty_url}"
        except Exception:
            where = "flow"
        logger.warning(f"activesync {stage} hook, {where}: {message}", exc_info=err)

    # -- commands ------------------------------------------------------------------------------------------

    def export(self, fmt: str, flows: Sequence[flow.Flow], path: str) -> None:
        eas_flows = [f for f in flows if isinstance(f, http.HTTPFlow) and flow_kind(f) is not None]
        if not eas_flows:
            raise exceptions.CommandError("no ActiveSync or Autodiscover flows among the flows given")
        target = os.path.expanduser(path)
        try:
            count = export_flows(
                fmt, eas_flows, target, keep_credentials=self.keep_credentials, max_body=self.max_body
            )
        except Exception as err:  # CaptureError, OSError, and whatever a half-written flow raises
            raise exceptions.CommandError(f"export to {path} failed: {err}") from err
        skipped = len(flows) - len(eas_flows)
        note = f" ({skipped} other flows left out)" if skipped else ""
        logger.log(ALERT, f"Exported {count} ActiveSync flows to {path}{note}.")

    @command.command("activesync.export.xml")
    def export_xml(self, flows: Sequence[flow.Flow], path: mitmproxy.types.Path) -> None:
        """Write the ActiveSync flows as one annotated XML document."""
        self.export("xml", flows, path)

    @command.command("activesync.export.mitm")
    def export_mitm(self, flows: Sequence[flow.Flow], path: mitmproxy.types.Path) -> None:
        """Write the ActiveSync flows as a mitmproxy dump file."""
        self.export("mitm", flows, path)

    @command.command("activesync.export.har")
    def export_har(self, flows: Sequence[flow.Flow], path: mitmproxy.types.Path) -> None:
        """Write the ActiveSync flows as a HAR file."""
        self.export("har", flows, path)

    @command.command("activesync.capture")
    def capture(self) -> str:
        """The capture file this proxy writes (empty when capture is off)."""
        return str(self.capture_path) if self.capture_path else ""
