"""The mitmproxy addon: recognise EAS and Autodiscover flows, annotate them in flow.metadata, record them."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import mitmproxy.types
from mitmproxy import command, ctx, exceptions, flow, hooks, http
from mitmproxy.log import ALERT

from eas.constants import path_kind

from addon.dispatch import WorkerClient
from addon.export import export_flows
from addon.metadata import META_ERROR, META_KIND, apply_metadata, flow_kind, request_metadata
from addon.pipes import QueuedFlow, WorkerProcess
from addon.worker_protocol import FLAG_ANALYSE, FLAG_WAITING, Answer, CaptureSettings

logger = logging.getLogger(__name__)

# activesync_annotate: when the full analysis (bodies, statuses, problems) reaches flow.metadata.
ANNOTATE_LIVE = "live"  # after the flow passed (in the traffic's next pause): the flow never waits for the decoder
ANNOTATE_WAIT = "wait"  # before the flow goes on, so later addons (save_stream_file, filters) see it
ANNOTATE_OFF = "off"
ANNOTATE_CHOICES = (ANNOTATE_LIVE, ANNOTATE_WAIT, ANNOTATE_OFF)

DEFAULT_CAPTURE_NAME = "eas-%Y%m%d-%H%M%S.sqlite"

# "wait" mode: how long a flow may wait for its analysis before it goes on without it.
WAIT_LIMIT_SECONDS = 10.0



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


class ActiveSyncAddon:
    """Recognise EAS traffic, annotate it in flow.metadata / flow.comment, and record it in a capture.

    The proxy never changes traffic: the addon only reads messages, and every hook catches its own failures,
    logs them once with the flow, and lets the flow go on unchanged. Decoding and the capture writer run in
    one worker process, so neither the event loop nor mitmproxy's process pays for them.
    """

    def __init__(self, capture_dir: Path | str | None = None) -> None:
        self.capture_dir = Path(capture_dir) if capture_dir is not None else Path("captures")
        self.annotate = ANNOTATE_LIVE
        self.wait_limit = WAIT_LIMIT_SECONDS
        self.keep_credentials = False
        self.max_body: int | None = None
        self.capture_path: Path | None = None
        self.capture_settings: CaptureSettings | None = None  # what the worker records with; None: no capture
        self.capture_failed = False
        self.writer_error: str | None = None
        self.stored = 0
        self.not_stored = 0
        self.in_flight: dict[str, http.HTTPFlow] = {}  # flows seen by `request`, not yet finished
        self.has_view: bool | None = None  # mitmproxy's console or mitmweb: flows are redrawn when analysed
        # The live diagnosis' findings, latest form of each (the worker diagnoses; flows by the worker's serial).
        self.findings: dict[tuple[Any, ...], dict[str, Any]] = {}
        self.flow_ids: dict[int, str] = {}  # worker serial -> mitmproxy flow id, of flows that carry findings
        self.client = WorkerClient(self)

    # -- options -------------------------------------------------------------------------------------------

    def load(self, loader: Any) -> None:
        loader.add_option(
            "activesync_capture",
            str,
            str(self.capture_dir / DEFAULT_CAPTURE_NAME),
            """
            SQLite capture file that records every ActiveSync and Autodiscover flow (strftime patterns
            expand when the option is set; missing directories are created). Empty: no capture.
            """,
        )
        loader.add_option(
            "activesync_keep_credentials",
            bool,
            False,
            "Store Authorization and cookies as sent; by default the capture keeps only scheme and user.",
        )
        loader.add_option(
            "activesync_max_body",
            int,
            0,
            "Largest request or response body stored in the capture, in bytes (longer ones are cut); 0: no limit.",
        )
        loader.add_option(
            "activesync_annotate",
            str,
            ANNOTATE_LIVE,
            """
            When the decoded command, user, device, status and problems reach flow.metadata (activesync.*)
            and the flow comment: "live" after the flow passed (it never waits for the decoder), in the
            next pause of the traffic, at most about 2 s later (command, user and device show at once),
            "wait" before the flow goes on (so save_stream_file and filters of later addons see them),
            "off" never (flows are still recorded).
            """,
            choices=ANNOTATE_CHOICES,
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
        if "activesync_capture" in updated:
            try:
                path = capture_path_from_option(ctx.options.activesync_capture)
            except ValueError as err:
                raise exceptions.OptionsError(f"activesync_capture: {err}") from err
            if path is not None:
                try:
                    check_capture_dir(path)
                except OSError as err:
                    raise exceptions.OptionsError(f"activesync_capture: {err}") from err
            if path != self.capture_path:
                self.capture_path = path
                self.capture_failed = False
                self.writer_error = None
        settings = (
            None
            if self.capture_path is None
            else CaptureSettings(str(self.capture_path), self.keep_credentials, self.max_body)
        )
        changed, self.capture_settings = settings != self.capture_settings, settings
        if changed and settings is not None and self.client.proc is not None:
            self.client.open_capture(settings)  # a running proxy pointed at another capture: recover it now

    # -- flow hooks ----------------------------------------------------------------------------------------

    def requestheaders(self, f: http.HTTPFlow) -> None:
        try:
            kind = path_kind(f.request.path)
            if kind is not None:
                f.metadata[META_KIND] = kind
        except Exception as err:  # a hook never breaks the flow
            self.report(f, "requestheaders", err)

    def request(self, f: http.HTTPFlow) -> None:
        try:
            kind = flow_kind(f)
            if kind is None:
                return
            self.in_flight[f.id] = f
            if self.annotate != ANNOTATE_OFF:
                request = f.request
                values = request_metadata(kind, request.method, request.path, request.headers.get("MS-ASProtocolVersion"))
                apply_metadata(f, values, complete=False)
        except Exception as err:
            self.report(f, "request", err)

    async def response(self, f: http.HTTPFlow) -> None:
        await self.finish(f, "response")

    async def error(self, f: http.HTTPFlow) -> None:
        await self.finish(f, "error")

    def running(self) -> None:
        """Start the worker processes now, so the first flows do not wait for them to start, and open the capture
        there: the flows a killed proxy left in its spool are recorded before new ones."""
        try:
            if self.capture_settings is not None:
                self.client.open_capture(self.capture_settings)  # a killed run's spooled flows are replayed first
            else:
                self.client.worker()
        except Exception as err:  # the first flow tries again
            logger.log(ALERT, f"ActiveSync worker process cannot start: {err}")

    def done(self) -> None:
        """Record flows still waiting (a Ping when the proxy stops), flush the capture, stop the worker."""
        for f in list(self.in_flight.values()):
            try:
                self.submit(f, flow_kind(f) or "eas", None)
            except Exception as err:
                self.report(f, "done", err)
        self.in_flight.clear()
        self.stop_worker()

    # -- work ----------------------------------------------------------------------------------------------

    async def finish(self, f: http.HTTPFlow, stage: str) -> None:
        """Hand a finished flow to the worker, once; with "wait", apply its analysis before returning."""
        try:
            kind = flow_kind(f)
            if kind is None:
                return
            if self.in_flight.pop(f.id, None) is None and (stage != "error" or f.response is not None):
                return  # already finished (an error after the response), or not seen by `request`
            waiter = asyncio.get_running_loop().create_future() if self.annotate == ANNOTATE_WAIT else None
            if self.submit(f, kind, waiter) and waiter is not None:
                try:
                    await asyncio.wait_for(asyncio.shield(waiter), self.wait_limit)
                except TimeoutError:
                    # A stuck decoder never holds traffic: the flow goes on, its analysis lands when it comes.
                    waiter.cancel()
                    self.report(f, stage, TimeoutError(f"no analysis within {self.wait_limit:g} s; not waiting"))
        except Exception as err:
            self.report(f, stage, err)

    def submit(self, f: http.HTTPFlow, kind: str, waiter: asyncio.Future[None] | None) -> bool:
        """Queue the flow for the worker; False when there is nothing to do (annotation and capture off)."""
        analyse = self.annotate != ANNOTATE_OFF
        capture = None if self.capture_failed else self.capture_settings
        if not analyse and capture is None:
            return False
        flags = (FLAG_ANALYSE if analyse else 0) | (FLAG_WAITING if waiter is not None else 0)
        self.client.submit(f, kind, flags, capture, waiter)
        return True

    def take(self, item: QueuedFlow, answer: Answer, *, update: bool) -> None:
        """Apply a worker answer: metadata into the flow, capture problems into the log (each said once)."""
        f = item.flow
        metadata, capture_error, writer_error, error = (
            answer.metadata, answer.capture_error, answer.writer_error, answer.error
        )
        if error is not None:
            self.report(f, "analysis", RuntimeError(error))
        if answer.findings:
            self.take_findings(answer.serial, f, answer.findings)
        if metadata is not None:
            apply_metadata(f, metadata, complete=True)
            if self.has_view is None:
                self.has_view = ctx.master.addons.get("view") is not None
            if update and self.has_view:
                # mitmproxy's console and mitmweb (which have a flow view) redraw the flow; mitmdump has none
                ctx.master.addons.trigger(hooks.UpdateHook([f]))
        if not item.recorded:
            return
        if capture_error is not None:
            self.not_stored += 1
            if not self.capture_failed:
                self.capture_failed = True
                logger.log(ALERT, f"ActiveSync capture disabled: cannot open {self.capture_path}: {capture_error}")
        else:
            self.stored += 1
        if writer_error is not None and writer_error != self.writer_error:
            self.writer_error = writer_error
            logger.log(ALERT, f"ActiveSync capture {self.capture_path}: cannot write: {writer_error}")

    def take_findings(self, serial: int, f: http.HTTPFlow, findings: list[dict[str, Any]]) -> None:
        """Keep the latest form of each finding; the event log says each one once, when it first appears."""
        self.flow_ids[serial] = f.id
        for finding in findings:
            flows = finding.get("flows") or [serial]
            key = (finding.get("rule"), finding.get("host"), finding.get("user"), finding.get("device_id"),
                   finding.get("device_type"), flows[0])  # fmt: skip
            if key not in self.findings:
                who = "/".join(str(value) for value in (finding.get("user"), finding.get("device_id")) if value)
                logger.log(ALERT, f"ActiveSync finding {finding.get('rule')} ({finding.get('severity')}) {who}: "
                                  f"{finding.get('summary')}")  # fmt: skip
            self.findings[key] = finding

    def dropped(self, item: QueuedFlow) -> None:
        """A flow the worker will never answer for: not stored, if it was to be."""
        self.not_stored += item.recorded

    def stop_worker(self) -> None:
        """Take the worker's last answers, close the capture there, stop the process; never raises."""
        close_answer = self.client.stop()
        if close_answer:
            logger.log(ALERT, f"ActiveSync capture {self.capture_path}: closing failed: {close_answer}")
        self.report_not_stored()

    @property
    def proc(self) -> WorkerProcess | None:
        """The worker process, while one runs."""
        return self.client.proc

    async def settled(self) -> None:
        """Wait until every flow handed to the worker is analysed and its result applied."""
        await self.client.settled()

    def report_not_stored(self) -> None:
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
        note = f" ({skipped} other flow{'' if skipped == 1 else 's'} left out)" if skipped else ""
        logger.log(ALERT, f"Exported {count} ActiveSync flow{'' if count == 1 else 's'} to {path}{note}.")

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

    @command.command("activesync.diagnose")
    def diagnose(self) -> list[str]:
        """The diagnosis findings so far, one line each (also written to the event log)."""
        order = {"error": 0, "warning": 1, "info": 2}
        lines = []
        for finding in sorted(self.findings.values(), key=lambda item: order.get(str(item.get("severity")), 3)):
            flows = [self.flow_ids.get(serial, f"#{serial}") for serial in finding.get("flows") or ()]
            who = "/".join(str(value) for value in (finding.get("user"), finding.get("device_id")) if value)
            lines.append(f"{finding.get('severity')} {finding.get('rule')} {who}: {finding.get('summary')} "
                         f"(advice: {finding.get('advice')}; {finding.get('spec')}; flows {', '.join(flows)})")
        for line in lines or ["no ActiveSync findings so far"]:
            logger.log(ALERT, line)
        return lines

    @command.command("activesync.capture")
    def capture(self) -> str:
        """The capture file this proxy writes (empty when capture is off)."""
        return str(self.capture_path) if self.capture_path else ""

