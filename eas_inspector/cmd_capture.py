"""`eas-inspector import` (any form of evidence into a capture), `recover` (a spool into its capture), `export`."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from eas_inspector.cli import counted, fail, file_error

CAPTURE_NAME_FORMAT = "eas-%Y%m%d-%H%M%S.sqlite"


def default_capture_path(directory: Path | None = None) -> Path:
    """A new capture file in `directory` (default: ./captures, created when missing), named by the time now."""
    captures = directory if directory is not None else Path.cwd() / "captures"
    captures.mkdir(parents=True, exist_ok=True)
    path = captures / time.strftime(CAPTURE_NAME_FORMAT)
    serial = 1
    while path.exists():
        serial += 1
        path = captures / time.strftime(CAPTURE_NAME_FORMAT).replace(".sqlite", f"-{serial}.sqlite")
    return path


EXIT_PARTIAL = 3  # some entries could not be read; everything else was imported
MAX_ISSUES_SHOWN = 20
PROGRESS_SECONDS = 0.2


class _ProgressLine:
    """`importing NAME: 12,345 flows, 45%` on standard error, redrawn at most every PROGRESS_SECONDS."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.shown_at = 0.0
        self.drawn = False

    def __call__(self, report: object, position: int, size: int) -> None:
        now = time.monotonic()
        if now - self.shown_at < PROGRESS_SECONDS:
            return
        self.shown_at = now
        imported = getattr(report, "imported", 0)
        percent = f", {min(100, position * 100 // size)}%" if size else ""
        sys.stderr.write(f"\rimporting {self.name}: {imported:,} flows{percent}\033[K")
        sys.stderr.flush()
        self.drawn = True

    def clear(self) -> None:
        if self.drawn:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def run_import(args: argparse.Namespace) -> int:
    from capture.importers import FORMS, import_file
    from capture.model import CaptureError

    source = Path(args.source)
    if not source.is_file():
        return fail(f"{source}: no such file")
    if is_spool(source):
        return run_recover(source, Path(args.capture) if args.capture else None)
    progress = _ProgressLine(source.name) if sys.stderr.isatty() else None
    try:
        capture = Path(args.capture) if args.capture else default_capture_path()
        report = import_file(source, capture, form=args.form, all_http=args.all_http, progress=progress)
    except CaptureError as err:
        return fail(str(err))
    except OSError as err:
        return fail(file_error(err, source))
    finally:
        if progress is not None:
            progress.clear()
    skipped = []
    if report.skipped_other_http:
        skipped.append(counted(report.skipped_other_http, "other HTTP flow"))
    if report.skipped_not_http:
        skipped.append(counted(report.skipped_not_http, "non-HTTP flow"))
    note = f"; skipped {' and '.join(skipped)}" if skipped else ""
    kind = "HTTP" if args.all_http else "EAS/Autodiscover"
    print(f"imported {counted(report.imported, kind + ' flow')} into {_shown(capture)}{note}")
    if report.not_stored:
        fail(f"{counted(report.not_stored, kind + ' flow')} could not be stored (see the messages above)")
    if report.complete:
        return 0 if not report.not_stored else EXIT_PARTIAL
    for issue in report.issues[:MAX_ISSUES_SHOWN]:
        fail(f"{source}: {issue}")
    if len(report.issues) > MAX_ISSUES_SHOWN:
        fail(f"{source}: ... and {len(report.issues) - MAX_ISSUES_SHOWN} more issues")
    nouns = FORMS[report.form].entries_noun
    lost = sum(1 for issue in report.issues if not issue.kept)
    total = report.entries_seen + lost
    summary = f"{report.entries_seen:,} of {total:,} {nouns} read" if lost else f"all {total:,} {nouns} read"
    stopped = report.stopped
    where = f", reading stopped at {stopped.where}" if stopped else ""
    fail(f"{source}: partial import: {summary}{where} (issues above)")
    return EXIT_PARTIAL if report.imported or report.entries_seen else 1


def is_spool(path: Path) -> bool:
    """The file starts as a proxy's spool does (addon.spool.SPOOL_HEADER)."""
    from addon.spool import SPOOL_HEADER

    try:
        with path.open("rb") as source:
            return source.read(len(SPOOL_HEADER)) == SPOOL_HEADER
    except OSError:
        return False


def run_recover(spool: Path, capture: Path | None) -> int:
    from addon.spool import capture_path_of, recover_spool
    from capture.model import CaptureError

    try:
        target = capture if capture is not None else capture_path_of(spool)
        recovery = recover_spool(spool, target)
    except CaptureError as err:
        return fail(str(err))
    except OSError as err:
        return fail(file_error(err, spool))
    notes = []
    if recovery.already:
        notes.append(f"{counted(recovery.already, 'EAS/Autodiscover flow')} already there")
    if recovery.torn_bytes:
        notes.append(f"an unfinished last frame ({recovery.torn_bytes} bytes) left out")
    note = f"; {', '.join(notes)}" if notes else ""
    print(f"recovered {counted(recovery.recovered, 'EAS/Autodiscover flow')} into {_shown(target)}{note}")
    if recovery.damaged:
        return fail(f"{recovery.damaged} damaged frames in {spool} could not be read")
    return 0


def _shown(path: Path) -> Path:
    """The path relative to the current directory when it is inside it (what the user would type)."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def run_export(args: argparse.Namespace) -> int:
    from capture.har import export_har
    from capture.mitm import export_mitm
    from capture.model import CaptureError

    capture = Path(args.capture)
    damaged: list[str] = []
    try:
        if args.mitm:
            count = export_mitm(capture, args.mitm, damaged=damaged)
            destination = args.mitm
        else:
            count = export_har(capture, args.har, damaged=damaged)
            destination = args.har
    except CaptureError as err:
        return fail(str(err))
    except OSError as err:
        return fail(file_error(err, capture))
    print(f"exported {counted(count, 'flow')} to {destination}")
    for line in damaged:
        fail(f"{capture}: {line}")
    if damaged:
        return fail(f"{capture}: {counted(len(damaged), 'damaged flow')} left out of the export")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.command == "import":
        return run_import(args)
    if args.command == "recover":
        spool = Path(args.spool)
        if not spool.exists() and not Path(f"{spool}.old").exists():
            return fail(f"{spool}: no such file")
        return run_recover(spool, Path(args.capture) if args.capture else None)
    return run_export(args)
