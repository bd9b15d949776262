"""`eas-inspector report`: a capture as one self-contained HTML file (sessions, diagnosis, timelines, exchanges)."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from eas_inspector.cli import counted, fail, file_error

SQLITE_MAGIC = b"SQLite format 3\x00"
# What the page calls its source when it was shared: the capture's own file name may name a person.
SHARED_SOURCE_LABEL = "a capture pseudonymised by eas-inspector share (names, devices and hosts replaced)"


def _is_capture(path: Path) -> bool:
    """An SQLite file (an eas-inspector capture, or a database the reader refuses in one line)."""
    with path.open("rb") as file:
        return file.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC


def run(args: argparse.Namespace) -> int:
    from capture.importers import import_file
    from capture.model import CaptureError
    from capture.report import write_report
    from capture.share import share_capture

    capture = Path(args.capture)
    if not capture.is_file():
        return fail(f"{capture}: no such file")
    try:
        with tempfile.TemporaryDirectory(prefix="eas-report-") as work:
            source = capture
            if not _is_capture(capture):
                # Any evidence `import` reads (.mitm, HAR, .saz, mailbox log, z-push log), imported first.
                source = Path(work) / "imported.sqlite"
                import_file(capture, source, all_http=True)
            if args.share:
                # Shared the way `eas-inspector share` shares (to a .mitm file), imported back, then reported:
                # the page is made from exactly what a shared file would hand on.
                shared_mitm = Path(work) / "shared.mitm"
                shared_capture = Path(work) / "shared.sqlite"
                share_capture(source, shared_mitm)
                import_file(shared_mitm, shared_capture, form="mitm", all_http=True)
                summary = write_report(shared_capture, args.out, source_label=SHARED_SOURCE_LABEL)
            else:
                summary = write_report(source, args.out, source_label=capture.name)
    except CaptureError as err:
        return fail(str(err))
    except OSError as err:
        return fail(file_error(err, capture))
    shared = " (pseudonymised)" if args.share else ""
    print(
        f"wrote {args.out}{shared}: {counted(summary.flows, 'flow')}, {counted(summary.sessions, 'device session')}, "
        f"{counted(summary.findings, 'finding')} ({counted(summary.errors, 'error')})"
    )
    return 0
