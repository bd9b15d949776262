"""`eas-inspector view`: open a capture (or a .mitm file, imported first) in the terminal viewer."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

DEFAULT_DIR = Path("captures")


def newest_capture(directory: Path = DEFAULT_DIR) -> Path | None:
    """The most recently modified capture (*.sqlite) in `directory`, or None."""
    if not directory.is_dir():
        return None
    candidates = [p for p in directory.glob("*.sqlite") if p.is_file()]
    return max(candidates, key=lambda p: p.stat().st_mtime) if candidates else None


def run(args: argparse.Namespace) -> int:
    """Open the viewer; exit 1 with one line on stderr when there is nothing to open."""
    capture = getattr(args, "capture", None)
    follow = bool(getattr(args, "follow", False))
    path = Path(capture) if capture else newest_capture()
    if path is None:
        print(f"eas-inspector view: no capture in {DEFAULT_DIR}/; give a capture or a .mitm file", file=sys.stderr)
        return 1
    if not path.is_file():
        print(f"eas-inspector view: {path}: no such file", file=sys.stderr)
        return 1
    from addon.store import CaptureError

    temporary: tempfile.TemporaryDirectory[str] | None = None
    label = path.name
    try:
        if path.suffix.lower() in (".mitm", ".flows", ".flow") or not _is_sqlite(path):
            from addon.convert import import_mitm

            temporary = tempfile.TemporaryDirectory(prefix="eas-inspector-")
            imported = Path(temporary.name) / (path.stem + ".sqlite")
            print(f"importing {path} …", file=sys.stderr)
            count = import_mitm(path, imported)
            if follow:
                print("eas-inspector view: --follow needs a capture, not a .mitm file; showing it once", file=sys.stderr)
                follow = False
            label = f"{path.name} ({count} flows imported)"
            path = imported
        from addon.store import CaptureReader

        CaptureReader(path).close()  # a clear error before the screen opens
    except CaptureError as err:
        print(f"eas-inspector view: {err}", file=sys.stderr)
        if temporary is not None:
            temporary.cleanup()
        return 1
    from viewer.app import make_app

    try:
        make_app(path, follow=follow, label=label).run()
    finally:
        if temporary is not None:
            temporary.cleanup()
    return 0


def _is_sqlite(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(16) == b"SQLite format 3\x00"


__all__ = ["newest_capture", "run"]
