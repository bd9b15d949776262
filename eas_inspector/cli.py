"""The `eas-inspector` command line: each subcommand imports what it needs only when it runs."""

from __future__ import annotations

import argparse
import codecs
import importlib
import io
import logging
import os
import sys
from collections.abc import Sequence

from eas.wiretext import SHOWN_ERRORS, error_line, shown_errors

PROG = "eas-inspector"
# Set to 1 to get the traceback of an unexpected error instead of its one line (for bug reports).
DEBUG_VARIABLE = "EAS_INSPECTOR_DEBUG"

# subcommand -> module under eas_inspector that has `run(args: argparse.Namespace) -> int`
_COMMAND_MODULES = {
    "decode": "cmd_codec",
    "encode": "cmd_codec",
    "query": "cmd_codec",
    "explain": "cmd_explain",
    "import": "cmd_capture",
    "export": "cmd_capture",
    "recover": "cmd_capture",
    "share": "cmd_share",
    "report": "cmd_report",
    "proxy": "cmd_proxy",
    "view": "cmd_view",
    "diagnose": "cmd_diagnose",
    "list": "cmd_diagnose",
}


def build_parser() -> argparse.ArgumentParser:
    from eas import __version__, _native  # eas/__init__ is light: lxml only

    parser = argparse.ArgumentParser(
        prog="eas-inspector",
        description="See and debug Exchange ActiveSync traffic.",
    )
    parser.add_argument("--version", action="version", version=f"eas-inspector {__version__} (codec: {_native.status})")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("decode", help="WBXML to (annotated) XML; binary, base64 or hex as pasted from logs")
    p.add_argument("file", nargs="?", default="-", help="WBXML file, or - for standard input")
    pasted = p.add_mutually_exclusive_group()
    pasted.add_argument("--base64", dest="input_form", action="store_const", const="base64",
                        help="the input is base64 (as z-push logs write it); default: recognised")
    pasted.add_argument("--hex", dest="input_form", action="store_const", const="hex",
                        help="the input is hex (plain, spaced, 0x-prefixed, xxd or hexdump -C); default: recognised")
    pasted.add_argument("--binary", dest="input_form", action="store_const", const="binary",
                        help="the input is WBXML bytes as they are")
    p.add_argument("--plain", action="store_true", help="bare XML, no annotation comments")
    p.add_argument("--strict", action="store_true", help="refuse unknown code pages and tokens")
    p.add_argument("--command", dest="eas_command", help="EAS command for the annotation context (default: from the root)")
    p.add_argument("--response", action="store_true", help="annotate as a response (default: guessed)")
    p.add_argument("--version-eas", dest="protocol_version", help="protocol version for the annotation context")

    p = sub.add_parser("encode", help="XML to WBXML (written to standard output)")
    p.add_argument("file", nargs="?", default="-", help="XML file, or - for standard input")
    p.add_argument("-o", "--output", help="write here instead of standard output")
    p.add_argument("--original", metavar="WBXML",
                   help="the body the XML was decoded from: passwords still shown as (hidden) are taken from it")

    p = sub.add_parser("query", help="decode an EAS request URI query (plain or base64)")
    p.add_argument("query", help="the query string, a whole URL, or - for standard input")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("explain", help="print every EAS exchange of a .mitm file or a capture, decoded")
    p.add_argument("file", help="a mitmproxy .mitm file or an eas-inspector capture (.sqlite)")
    p.add_argument("--plain", action="store_true", help="no annotation comments")

    p = sub.add_parser(
        "import",
        help="import evidence into a capture: .mitm, HAR, Fiddler .saz, Exchange mailbox log, z-push log, a spool",
        description="Import the EAS and Autodiscover flows of a file into a capture. The form is recognised by "
        "the content: mitmproxy .mitm, HAR 1.2, Fiddler .saz, an Exchange ActiveSync mailbox log, a z-push or "
        "grommunio-sync debug log, or a proxy's spool (CAPTURE-spool, as `recover` does). Exit status: 0 all imported, 3 some entries could not be read (each is "
        "named, everything before them is imported), 1 nothing could be imported.",
    )
    p.add_argument("source", help="the file to import")
    p.add_argument("capture", nargs="?", help="capture to write (default: a new file in captures/)")
    p.add_argument("--form", choices=["mitm", "har", "saz", "mailbox-log", "zpush-log"],
                   help="read the file as this form instead of recognising it")
    p.add_argument("--all-http", action="store_true", help="import every HTTP flow, not only EAS and Autodiscover")

    p = sub.add_parser("recover", help="record the flows a killed proxy left in a capture's spool, then delete it")
    p.add_argument("spool", help="the spool (the capture's name + -spool)")
    p.add_argument("capture", nargs="?", help="capture to write (default: the one the spool sits beside)")

    p = sub.add_parser("export", help="export a capture to .mitm or HAR")
    p.add_argument("capture", help="the capture (.sqlite)")
    fmt = p.add_mutually_exclusive_group(required=True)
    fmt.add_argument("--mitm", metavar="FILE", help="write a mitmproxy flow file")
    fmt.add_argument("--har", metavar="FILE", help="write a HAR file")

    p = sub.add_parser("share", help="write a capture as a .mitm file to hand on: names pseudonymised, secrets removed")
    p.add_argument("capture", help="the capture (.sqlite), or a .mitm file (imported first)")
    p.add_argument("out", help="the .mitm file to write (mode 0600)")
    p.add_argument(
        "--keep-content", action="store_true", help="keep subjects, bodies and attachments (still pseudonymised)"
    )

    p = sub.add_parser("report", help="write a capture as one self-contained HTML file: sessions, diagnosis, timelines")
    p.add_argument("capture", help="the capture (.sqlite), or any file `import` reads (.mitm, HAR, .saz, logs)")
    p.add_argument("out", help="the .html file to write (mode 0600)")
    p.add_argument(
        "--share", action="store_true",
        help="pseudonymise first, as `eas-inspector share` does, so the report can be handed on",
    )

    p = sub.add_parser("proxy", help="run mitmdump with the ActiveSync addon (extra arguments go to mitmdump)")
    p.add_argument("--ui", choices=["dump", "console", "web"], default="dump", help="which mitmproxy front end")
    p.add_argument("mitm_args", nargs=argparse.REMAINDER, help="arguments passed to mitmproxy")

    p = sub.add_parser("view", help="browse a capture in the terminal viewer")
    p.add_argument("capture", nargs="?", help="capture or .mitm file (default: the newest in captures/)")
    p.add_argument("--follow", action="store_true", help="follow a capture the proxy is still writing")

    p = sub.add_parser("diagnose", help="what went wrong in each device session of a capture or a .mitm file")
    p.add_argument("file", help="an eas-inspector capture (.sqlite) or a mitmproxy .mitm file")
    p.add_argument("--device", metavar="ID", help="only this DeviceId's sessions")
    p.add_argument("--json", action="store_true", help='print {"findings": [...]}')

    p = sub.add_parser("list", help="one line per flow of a capture or a .mitm file: command, outcome, statuses")
    p.add_argument("file", help="an eas-inspector capture (.sqlite) or a mitmproxy .mitm file")
    p.add_argument("--device", metavar="ID", help="only this DeviceId's flows")
    p.add_argument("--command", dest="eas_command", metavar="C", help="only this EAS command (Sync, Ping ...)")
    p.add_argument("--failed", action="store_true", help="only flows whose outcome is failed")
    p.add_argument("--json", action="store_true", help="print a JSON array of flows")

    return parser


def fail(message: object, status: int = 1) -> int:
    """Write one error line to standard error (`eas-inspector: message`, made safe by eas.wiretext.error_line:
    one line, control characters escaped) and return the exit status to give."""
    sys.stdout.flush()
    print(error_line(f"{PROG}: {message}"), file=sys.stderr, flush=True)
    return status


def file_error(err: OSError, path: object) -> str:
    """An OSError as `FILE: reason`, FILE being the file it names, else `path`."""
    return f"{err.filename or path}: {err.strerror or err}"


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """`1 flow`, `2 flows`; `plural` where an added s is wrong (`2 bodies`)."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


class _ErrorLineFormatter(logging.Formatter):
    """Log records (the capture writer's warnings) as error lines: `eas-inspector: message`, one line."""

    def format(self, record: logging.LogRecord) -> str:
        return error_line(f"{PROG}: {record.getMessage()}")


def _log_to_stderr() -> None:
    """Warnings and errors the layers log reach standard error as one line each, never with a traceback."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h.formatter, _ErrorLineFormatter)]:
        root.removeHandler(old)  # main() run again in one process (tests): one handler, on today's stderr
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_ErrorLineFormatter())
    handler.setLevel(logging.WARNING)
    root.addHandler(handler)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # Text from the wire may hold bytes that are not UTF-8 (surrogate escapes): printed as \xNN, never a traceback.
    codecs.register_error(SHOWN_ERRORS, shown_errors)
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors=SHOWN_ERRORS)
    if args.command not in ("proxy", "view"):  # mitmproxy and Textual own the terminal there
        _log_to_stderr()
    module = importlib.import_module(f"eas_inspector.{_COMMAND_MODULES[args.command]}")
    try:
        return int(module.run(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except (Exception, RecursionError, MemoryError) as err:
        # The last line of defence for damaged input a subcommand did not foresee: one line, never a traceback.
        if os.environ.get(DEBUG_VARIABLE) == "1":
            raise
        return fail(f"{args.command} failed: {type(err).__name__}: {err} (set {DEBUG_VARIABLE}=1 for details)", 2)


if __name__ == "__main__":
    sys.exit(main())
