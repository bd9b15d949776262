"""Importers: every form EAS evidence comes in, recognised by its content and read into a capture as it streams."""

from __future__ import annotations

import codecs
import contextlib
import functools
import os
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Final

from eas import _native

_native.select("capture.importers")  # before anything imports the .mitm record reader: its compiled build, if current

from capture.model import CaptureError
from capture.writer import CaptureWriter, PreparedFlow

from . import har, mailbox_log, mitm, parallel, saz, zpush_log
from .evidence import ImportedEntry, ImportIssue, SkippedEntry

__all__ = [
    "FORMS",
    "Form",
    "ImportIssue",
    "ImportReport",
    "SkippedEntry",
    "detect_form",
    "import_file",
    "read_entries",
]

SNIFF_SIZE: Final = 64 * 1024
FLUSH_EVERY: Final = 500


@dataclass(frozen=True)
class Form:
    """One form of evidence: its name, what it is, the nouns for its entries, and its reader."""

    name: str
    description: str
    entry_noun: str
    entries_noun: str
    read: Callable[[BinaryIO, str], Iterator[ImportedEntry]]


FORMS: Final = {
    form.name: form
    for form in (
        Form(mitm.FORM, "mitmproxy flow file", "flow", "flows", mitm.read),
        Form(har.FORM, "HAR 1.2 (HTTP Archive)", "entry", "entries", har.read),
        Form(saz.FORM, "Fiddler session archive", "session", "sessions", saz.read),
        Form(mailbox_log.FORM, "Exchange ActiveSync mailbox log", "log entry", "log entries", mailbox_log.read),
        Form(zpush_log.FORM, "z-push / grommunio-sync debug log", "request", "requests", zpush_log.read),
    )
}

# What the start of each form looks like (see each reader's theory of operation).
_TNETSTRING_START = re.compile(rb"^\d{1,12}:\d{1,6}:[A-Za-z_]+[;,]")
_HAR_START = re.compile(r'^\s*\{\s*"log"\s*:', re.DOTALL)
_MAILBOX_LOG_LINE = re.compile(r"^\s*(?:Log Entry:\s*\d+|RequestHeader :|RequestTime :)", re.MULTILINE)
_ZPUSH_LINE = re.compile(rb"\[\s*\d+\] \[\s*(?:DEBUG|INFO|WARN|ERROR|FATAL|WBXML|DEVICEID|WBXMLSTACK)\] ")
_SAZ_MEMBER = re.compile(rb"raw[/\\]\d+_[cs]\.txt")


class UnknownFormError(CaptureError):
    """The content is none of the forms eas-inspector reads."""


def _head_text(head: bytes) -> str:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return head[: len(head) - len(head) % 2].decode("utf-16", "replace")
    return head.removeprefix(codecs.BOM_UTF8).decode("utf-8", "replace")


def _is_saz(path: Path, head: bytes) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return any(_SAZ_MEMBER.fullmatch(name.encode("utf-8", "replace")) for name in archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return _SAZ_MEMBER.search(head) is not None  # no central directory (cut short): look at local headers


def detect_form(path: str | os.PathLike[str]) -> str:
    """The form of a file, recognised by its content (never its name): one of FORMS.

    Raises:
        CaptureError: the file cannot be read, or is none of the forms (UnknownFormError).
    """
    source = Path(path)
    try:
        with source.open("rb") as file:
            head = file.read(SNIFF_SIZE)
    except OSError as err:
        raise CaptureError(f"{source}: cannot read: {err.strerror or err}") from err
    if not head:
        raise UnknownFormError(f"{source}: the file is empty")
    if head.startswith(b"PK\x03\x04") and _is_saz(source, head):
        return saz.FORM
    if _TNETSTRING_START.match(head):
        return mitm.FORM
    text = _head_text(head)
    if _HAR_START.match(text):
        return har.FORM
    if _MAILBOX_LOG_LINE.search(text):
        return mailbox_log.FORM
    if _ZPUSH_LINE.search(head if not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
                          else text.encode("utf-8", "replace")):
        return zpush_log.FORM
    names = ", ".join(form.description for form in FORMS.values())
    raise UnknownFormError(f"{source}: not a form eas-inspector reads ({names})")


def read_entries(path: str | os.PathLike[str], form: str | None = None) -> Iterator[ImportedEntry]:
    """The entries of a file, as its reader yields them (the form detected when not given).

    Raises:
        CaptureError: the file cannot be opened or its form is unknown.
    """
    source = Path(path)
    reader = FORMS[form or detect_form(source)]
    try:
        file = source.open("rb")
    except OSError as err:
        raise CaptureError(f"{source}: cannot read: {err.strerror or err}") from err
    with file:
        yield from reader.read(file, source.name)


@dataclass
class ImportReport:
    """What an import did: the form, flows written, entries skipped, and the issues met (in file order)."""

    form: str
    imported: int = 0
    skipped_other_http: int = 0
    skipped_not_http: int = 0
    issues: list[ImportIssue] = field(default_factory=list)
    entries_seen: int = 0
    not_stored: int = 0  # flows the capture refused (each logged with its reason; not counted in `imported`)

    @property
    def skipped(self) -> int:
        return self.skipped_other_http + self.skipped_not_http

    @property
    def stopped(self) -> ImportIssue | None:
        """The issue that ended reading early (everything after it is lost), if any."""
        return next((issue for issue in self.issues if issue.stopped), None)

    @property
    def complete(self) -> bool:
        return not self.issues


Progress = Callable[[ImportReport, int, int], None]  # (report so far, bytes read, file size)


def import_file(
    src_path: str | os.PathLike[str],
    capture_path: str | os.PathLike[str],
    *,
    form: str | None = None,
    all_http: bool = False,
    keep_credentials: bool = False,
    max_body_size: int | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
    flow_objects: bool = False,
) -> ImportReport:
    """Import the EAS and Autodiscover flows of any known form into a capture (all HTTP flows with `all_http`).

    Entries the file holds before a damaged part are all written; the report names where reading stopped.
    `workers` processes read and analyse the flows (default: one per CPU for files of MIN_PARALLEL_BYTES and
    more; 0 or 1: none, the capture writer analyses). `flow_objects` reads .mitm records through mitmproxy's
    Flow objects only, the reference the direct reader (`mitm_state`) is checked and measured against.

    Raises:
        CaptureError: the source cannot be read or is no known form, or the capture cannot be written.
    """
    source = Path(src_path)
    chosen = FORMS[form or detect_form(source)]
    try:
        file = source.open("rb")
        size = os.fstat(file.fileno()).st_size
    except OSError as err:
        raise CaptureError(f"{source}: cannot read: {err.strerror or err}") from err
    report = ImportReport(chosen.name)
    if workers is None:
        workers = parallel.worker_count() if size >= parallel.MIN_PARALLEL_BYTES else 0
    pool = parallel.start_pool(workers) if workers > 1 else None
    options = parallel.RowOptions(keep_credentials, max_body_size, all_http, flow_objects)
    read = functools.partial(mitm.read, flow_objects=True) if flow_objects and chosen.name == mitm.FORM else chosen.read
    with file, pool or contextlib.nullcontext(), parallel.import_collector():
        writer = CaptureWriter(capture_path, keep_credentials=keep_credentials, max_body_size=max_body_size)
        entries = (
            parallel.analyzed_entries(read, chosen.name, file, source.name, pool, workers, options)
            if pool is not None
            else parallel.sequential_entries(read, file, source.name)
        )
        try:
            for analyzed in entries:
                if isinstance(analyzed, PreparedFlow):  # an EAS flow (or any, with all_http) as its rows
                    report.entries_seen += 1
                    writer.add_prepared(analyzed)
                    _count_imported(report, writer, progress, file, size)
                    continue
                item, exchange = analyzed
                if isinstance(item, ImportIssue):
                    report.issues.append(item)
                    continue
                report.entries_seen += 1
                if isinstance(item, SkippedEntry):
                    report.skipped_not_http += 1
                    continue
                _, flow_input = item
                if not all_http and not parallel.is_eas(flow_input):
                    report.skipped_other_http += 1
                    continue
                writer.add(flow_input, exchange=exchange)
                _count_imported(report, writer, progress, file, size)
        finally:
            writer.close()
            report.not_stored = writer.refused_count
            report.imported -= writer.refused_count
    return report


def _count_imported(
    report: ImportReport, writer: CaptureWriter, progress: Progress | None, file: BinaryIO, size: int
) -> None:
    """One more flow handed to the writer: flush now and then (bounded memory), tell the progress line."""
    report.imported += 1
    if report.imported % FLUSH_EVERY == 0:
        writer.flush()
    if progress is not None:
        progress(report, file.tell() if not file.closed else size, size)
