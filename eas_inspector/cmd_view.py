"""`eas-inspector view`: open a capture (or a .mitm file, imported first) in the terminal viewer."""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from eas_inspector.cli import fail

DEFAULT_DIR = Path("captures")
MITM_SUFFIXES = (".mitm", ".flows", ".flow")


class ViewError(Exception):
    """Nothing to open (no capture, not a capture, import failed); the message is for the user."""


@dataclass
class Target:
    """What the viewer opens: a capture path, its label, follow mode, and a temporary directory to remove.

    `kept_as`: for a temporary capture, where it is kept when the viewer stored replays in it.
    """

    path: Path
    label: str
    follow: bool
    temporary: tempfile.TemporaryDirectory[str] | None = None
    kept_as: Path | None = None

    def cleanup(self) -> None:
        if self.temporary is not None:
            self.temporary.cleanup()
            self.temporary = None


def newest_capture(directory: Path = DEFAULT_DIR) -> Path | None:
    """The most recently modified capture (*.sqlite) in `directory`, or None."""
    if not directory.is_dir():
        return None
    candidates = [p for p in directory.glob("*.sqlite") if p.is_file()]
    return max(candidates, key=lambda p: p.stat().st_mtime) if candidates else None


def resolve(
    capture: str | None, follow: bool, directory: Path = DEFAULT_DIR, progress: Callable[[str], None] | None = None
) -> Target:
    """Find the capture to open; a .mitm file is imported into a temporary capture first.

    Raises:
        ViewError: no capture, a missing file, a file that is neither a capture nor a mitmproxy flow file.
    """
    path = Path(capture) if capture else newest_capture(directory)
    if path is None:
        raise ViewError(f"no capture in {directory}/; give a capture or a .mitm file")
    if not path.is_file():
        raise ViewError(f"{path}: no such file")
    from capture.model import CaptureError
    from capture.reader import CaptureReader

    target = Target(path, path.name, follow)
    try:
        head = _head(path)
        if not head.startswith(b"SQLite format 3\x00"):
            if path.suffix.lower() not in MITM_SUFFIXES and not head[:1].isdigit():
                raise ViewError(f"{path}: neither an eas-inspector capture nor a mitmproxy flow file")
            from capture.importers import import_file

            if progress is not None:
                progress(f"importing {path} into a temporary capture …")
            target.temporary = tempfile.TemporaryDirectory(prefix="eas-inspector-")
            imported = Path(target.temporary.name) / (path.stem + ".sqlite")
            report = import_file(path, imported)
            if not imported.exists():
                raise ViewError(f"{path}: no ActiveSync flows to show")
            target.path = imported
            target.kept_as = unused_path(directory / f"{path.stem}-replays.sqlite")
            # a damaged file shows what could be read; `eas-inspector import` names each issue
            damage = "" if report.complete else f", partial: {len(report.issues)} unreadable parts"
            target.label = f"{path.name} ({report.imported} flows imported{damage})"
            target.follow = False  # a .mitm file does not grow
        CaptureReader(target.path).close()  # a clear error before the screen opens
    except CaptureError as err:
        target.cleanup()
        raise ViewError(str(err)) from err
    except ViewError:
        target.cleanup()
        raise
    return target


def run(args: argparse.Namespace) -> int:
    """Open the viewer; exit 1 with one line on stderr when there is nothing to open."""
    try:
        target = resolve(
            getattr(args, "capture", None),
            bool(getattr(args, "follow", False)),
            progress=lambda text: print(text, file=sys.stderr, flush=True),
        )
    except ViewError as err:
        return fail(f"view: {err}")
    from viewer.app import make_app

    app = make_app(target.path, follow=target.follow, label=target.label, kept_as=target.kept_as)
    try:
        app.run()
        if app.replays_stored and target.temporary is not None and target.kept_as is not None:
            try:
                keep_capture(target.path, target.kept_as)
            except (OSError, sqlite3.Error) as err:
                return fail(f"view: cannot keep the replays in {target.kept_as}: {err}")
            print(f"{app.replays_stored} replay(s) kept with the imported flows in {target.kept_as}", file=sys.stderr)
    finally:
        target.cleanup()
    # Textual prints the traceback of an error that ended the app and sets a non-zero return code.
    return app.return_code or 0


def unused_path(wanted: Path) -> Path:
    """`wanted`, or `wanted` with -2, -3 ... before its suffix when that file exists."""
    candidate, number = wanted, 1
    while candidate.exists():
        number += 1
        candidate = wanted.with_name(f"{wanted.stem}-{number}{wanted.suffix}")
    return candidate


def keep_capture(source: Path, destination: Path) -> None:
    """Copy the capture `source` (with what its WAL holds) to `destination`, readable by its owner only.

    Raises:
        OSError, sqlite3.Error: the copy could not be made.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # 0600 before a byte is written
    os.close(fd)
    with sqlite3.connect(source) as src, sqlite3.connect(destination) as dst:
        src.backup(dst)
    src.close()
    dst.close()


def _head(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            return f.read(16)
    except OSError as err:
        raise ViewError(f"{path}: cannot read: {err.strerror or err}") from err


__all__ = ["Target", "ViewError", "keep_capture", "newest_capture", "resolve", "run", "unused_path"]
