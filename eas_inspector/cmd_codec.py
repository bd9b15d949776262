"""The `decode`, `encode` and `query` subcommands: the eas codec on files, standard input and URLs."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

# Only the protocol layer: `decode` must start fast, so nothing here may pull in mitmproxy or textual.
import eas
from eas.errors import EasError
from eas.pasted import bytes_from_paste
from eas.sensitive import restore_hidden_secrets
from eas.wiretext import terminal_text

from eas_inspector.cli import fail

PROG = "eas-inspector"
STDIN_NAME = "<stdin>"

# Elements whose presence marks a decoded body as a response when the caller does not say (MS-ASCMD: requests
# carry no Status; Sync responses carry Responses).
RESPONSE_MARKERS = frozenset({"Status", "Responses"})


class CommandError(Exception):
    """A failure to report as one line on standard error: `eas-inspector: <where>: <reason>`."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")


def run(args: argparse.Namespace) -> int:
    """Run `decode`, `encode` or `query`; return the exit status (1 on bad input)."""
    handlers = {"decode": run_decode, "encode": run_encode, "query": run_query}
    try:
        return handlers[args.command](args)
    except CommandError as err:
        return fail(err)


def run_decode(args: argparse.Namespace) -> int:
    """WBXML in (as bytes, or base64 / hex text as pasted from logs), (annotated) XML out."""
    name, data = read_input(args.file)
    try:
        data, _ = bytes_from_paste(data, getattr(args, "input_form", None))
    except EasError as err:
        raise CommandError(name, str(err)) from err
    try:
        if args.plain:
            root = eas.decode(data, strict=args.strict)
        else:
            def context(root: Any) -> eas.AnnotationContext:
                return eas.AnnotationContext(
                    command=args.eas_command or local_name(root.tag),
                    is_response=args.response or looks_like_response(root),
                    protocol_version=args.protocol_version,
                    collection_class=None,
                )
            # decode + annotate in one: the notes that need no context are written while decoding
            root = eas.decode_annotated(data, context, strict=args.strict)
        xml = eas.to_xml(root, pretty=True)
    except EasError as err:
        raise CommandError(name, str(err)) from err
    write_text(xml if xml.endswith("\n") else xml + "\n")
    return 0


def run_encode(args: argparse.Namespace) -> int:
    """XML in, WBXML bytes out (standard output or -o)."""
    from lxml import etree  # already loaded by eas; named here for its syntax error type

    name, data = read_input(args.file)
    original = None
    if args.original:
        try:
            with open(args.original, "rb") as source:
                original = source.read()
        except OSError as err:
            raise CommandError(args.original, err.strerror or str(err)) from err
    try:
        root = eas.parse_xml(data)
        try:
            # decode shows passwords as "(hidden) N characters": never encode that text in their place
            restore_hidden_secrets(root, original)
        except EasError as err:
            hint = "" if original is not None else " (or give --original with the WBXML it was decoded from)"
            raise CommandError(name, f"{err}{hint}") from err
        wbxml = eas.encode(root)
    except EasError as err:
        raise CommandError(name, str(err)) from err
    except etree.LxmlError as err:
        raise CommandError(name, f"not well-formed XML: {err}") from err
    if args.output and args.output != "-":
        try:
            with open(args.output, "wb") as out:
                out.write(wbxml)
        except OSError as err:
            raise CommandError(args.output, err.strerror or str(err)) from err
        return 0
    if sys.stdout.isatty():
        raise CommandError("encode", "refusing to write binary WBXML to a terminal; use -o FILE or a pipe")
    sys.stdout.buffer.write(wbxml)
    sys.stdout.buffer.flush()
    return 0


def run_query(args: argparse.Namespace) -> int:
    """An EAS request URI query (or a whole URL) in, its fields out."""
    text = args.query
    if text == "-":
        text = sys.stdin.read()
    try:
        query = eas.decode_query(text)
    except EasError as err:
        raise CommandError("query", str(err)) from err
    if args.json:
        write_text(json.dumps(query_as_json(query), indent=2, ensure_ascii=False) + "\n")
    else:
        write_text(format_fields(query.fields()))
    return 0


def read_input(path: str) -> tuple[str, bytes]:
    """(name for messages, bytes) of a file, or of standard input for `-`."""
    if path == "-":
        return STDIN_NAME, sys.stdin.buffer.read()
    try:
        with open(path, "rb") as handle:
            return path, handle.read()
    except OSError as err:
        raise CommandError(path, err.strerror or str(err)) from err


def write_text(text: str) -> None:
    """Write UTF-8 text to standard output whatever the locale says."""
    sys.stdout.buffer.write(text.encode("utf-8", "backslashreplace"))
    sys.stdout.buffer.flush()


def local_name(tag: Any) -> str | None:
    """`Sync` from `{AirSync}Sync`; None for comments and processing instructions."""
    if not isinstance(tag, str):
        return None
    return tag.rpartition("}")[2]


def looks_like_response(root: Any) -> bool:
    """True when the tree has a Status or Responses element anywhere."""
    return any(local_name(element.tag) in RESPONSE_MARKERS for element in root.iter())


def format_fields(fields: list[tuple[str, str]]) -> str:
    """Labels and values in two aligned columns, control characters escaped (eas.wiretext.terminal_text): a
    parameter name or value from the query never writes an escape sequence to the terminal."""
    rows = [(terminal_text(label), terminal_text(value)) for label, value in fields]
    width = max((len(label) for label, _ in rows), default=0)
    return "".join(f"{label:<{width}}  {value}\n" for label, value in rows)


def query_as_json(query: eas.EasQuery) -> dict[str, Any]:
    """Every field of an EasQuery as JSON values (options sorted, parameters as pairs)."""
    return {
        "form": query.form,
        "command": query.command,
        "command_code": query.command_code,
        "user": query.user,
        "device_id": query.device_id,
        "device_id_hex": query.device_id_hex,
        "device_id_guid": query.device_id_guid,
        "device_type": query.device_type,
        "protocol_version": query.protocol_version,
        "locale": query.locale,
        "locale_tag": query.locale_tag,
        "policy_key": query.policy_key,
        "parameters": [list(pair) for pair in query.parameters],
        "options": sorted(query.options),
        "notes": list(query.notes),
        "fields": [list(pair) for pair in query.fields()],
    }
