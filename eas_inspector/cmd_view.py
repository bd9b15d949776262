"""`eas-inspector view`: open a capture (or a .mitm file, imported first) in the terminal viewer."""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DIR = Path("captures")
MITM_SUFFIXES = (".mitm", ".flows", ".flow")


class ViewError(Exception):
    """Nothing to open (no capture, not a capture, import failed); the message is for the user."""


@dataclass
class Target:
    """What the viewer opens: a capture path, its label, follow mode, and a temporary directory to remove."""

    path: Path
    label: str
    follow: bool
    temporary: tempfile.TemporaryDirectory[str] | None = None

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


def resolve(capture: str | None, follow: bool, directory: Path = DEFAULT_DIR) -> Target:
    """Find the capture to open; a .mitm file is imported into a temporary capture first.

    Raises:
        ViewError: no capture, a missing file, a file that is neither a capture nor a mitmproxy flow file.
    """
    path = Path(capture) if capture else newest_capture(directory)
    if path is None:
        raise ViewError(f"no capture in {directory}/; give a capture or a .mitm file")
    if not path.is_file():
        raise ViewError(f"{path}: no such file")
    from addon.store import CaptureError, CaptureReader

    target = Target(path, path.name, follow)
    try:
        if path.suffix.lower() in MITM_SUFFIXES or not _is_sqlite(path):
            from addon.convert import import_mitm

            target.temporary = tempfile.TemporaryDirectory(prefix="eas-inspector-")
            imported = Path(target.temporary.name) / (path.stem + ".sqlite")
            count = import_mitm(path, imported)
            if not imported.exists():
                raise ViewError(f"{path}: no ActiveSync flows to show")
            target.path = imported
            target.label = f"{path.name} ({count} flows imported)"
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
        target = resolve(getattr(args, "capture", None), bool(getattr(args, "follow", False)))
    except ViewError as err:
        print(f"eas-inspector view: {err}", file=sys.stderr)
        return 1
    from viewer.app import make_app

    try:
        make_app(target.path, follow=target.follow, label=target.label).run()
    finally:
        target.cleanup()
    return 0


def _is_sqlite(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(16) == b"SQLite format 3\x00"


__all__ = ["Target", "ViewError", "newest_capture", "resolve", "run"]
