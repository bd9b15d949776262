"""`eas-inspector import` (a .mitm file into a capture) and `eas-inspector export` (a capture to .mitm or HAR)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from eas_inspector.cli import fail

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


def _fail(message: str) -> int:
    return fail(message)


def run_import(args: argparse.Namespace) -> int:
    from capture.mitm import import_mitm_report
    from capture.model import CaptureError

    source = Path(args.source)
    if not source.is_file():
        return _fail(f"{source}: no such file")
    try:
        capture = Path(args.capture) if args.capture else default_capture_path()
        report = import_mitm_report(source, capture)
    except CaptureError as err:
        return _fail(str(err))
    except OSError as err:
        return _fail(f"{err.filename or source}: {err.strerror or err}")
    skipped = []
    if report.skipped_other_http:
        skipped.append(_flows(report.skipped_other_http, "other HTTP"))
    if report.skipped_not_http:
        skipped.append(_flows(report.skipped_not_http, "non-HTTP"))
    note = f"; skipped {' and '.join(skipped)}" if skipped else ""
    print(f"imported {_flows(report.imported, 'EAS/Autodiscover')} into {_shown(capture)}{note}")
    if report.not_stored:
        return _fail(f"{_flows(report.not_stored, 'EAS/Autodiscover')} could not be stored (see the messages above)")
    return 0


def _flows(count: int, kind: str) -> str:
    return f"{count} {kind} flow{'' if count == 1 else 's'}"


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
        return _fail(str(err))
    except OSError as err:
        return _fail(f"{err.filename or capture}: {err.strerror or err}")
    print(f"exported {count} flow{'' if count == 1 else 's'} to {destination}")
    for line in damaged:
        _fail(f"{capture}: {line}")
    if damaged:
        return _fail(f"{capture}: {len(damaged)} damaged flow{'' if len(damaged) == 1 else 's'} left out of the export")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.command == "import":
        return run_import(args)
    return run_export(args)
