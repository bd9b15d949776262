"""`eas-inspector share`: a capture as a .mitm file that can be handed on (identities pseudonymised, secrets gone)."""

from __future__ import annotations

import argparse
from pathlib import Path

from eas_inspector.cli import fail
from eas_inspector.cmd_view import ViewError, resolve


def _fail(message: str) -> int:
    return fail(message)


# The kinds of `Pseudonyms.mapping()` as the summary names them (singular, plural).
KIND_NOUNS = {
    "user": ("user name", "user names"),
    "address": ("e-mail address", "e-mail addresses"),
    "display": ("display name", "display names"),
    "device": ("device id", "device ids"),
    "host": ("host", "hosts"),
    "client": ("client address", "client addresses"),
    "folder": ("folder name", "folder names"),
    "domain": ("Windows domain", "Windows domains"),
}


def _count(count: int, noun: str, plural: str | None = None) -> str:
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def run(args: argparse.Namespace) -> int:
    from capture.model import CaptureError
    from capture.share import NOTE_HEADER, share_capture

    capture = Path(args.capture)
    if not capture.is_file():
        return _fail(f"{capture}: no such file")
    try:
        # A .mitm file is imported into a temporary capture first, as `list`, `diagnose` and `view` do.
        target = resolve(args.capture, False)
    except ViewError as err:
        return _fail(str(err))
    try:
        report = share_capture(target.path, args.out, keep_content=args.keep_content)
    except CaptureError as err:
        return _fail(str(err))
    except OSError as err:
        return _fail(f"{err.filename or capture}: {err.strerror or err}")
    finally:
        target.cleanup()
    kinds = ", ".join(
        _count(len(values), *KIND_NOUNS.get(kind, (kind, kind + "s"))) for kind, values in report.pseudonyms.items()
    )
    content = "content kept" if args.keep_content else "content replaced by its size"
    print(f"shared {_count(report.flows, 'flow')} to {args.out} ({content}; pseudonymised: {kinds or 'nothing'})")
    if report.removed_bodies:
        print(
            f"{_count(report.removed_bodies, 'body', 'bodies')} could not be rewritten and were removed "
            f"(the {NOTE_HEADER} header of each such flow says why)"
        )
    return 0
