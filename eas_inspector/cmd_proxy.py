"""The `proxy` subcommand: run mitmdump (or mitmproxy, mitmweb) with the ActiveSync addon script."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

import eas_inspector
from eas_inspector.cli import fail

PROG = "eas-inspector"
ENTRY_SCRIPT = "activesync_addon.py"
# --ui choice -> mitmproxy front end executable
FRONT_ENDS = {"dump": "mitmdump", "console": "mitmproxy", "web": "mitmweb"}
DEFAULT_PORT = 8080  # mitmproxy's own default listen port, regular proxy mode


def repo_root() -> Path:
    """The directory holding the eas_inspector package (the repository root of an editable install)."""
    return Path(eas_inspector.__file__).resolve().parent.parent


def find_executable(name: str) -> str | None:
    """The mitmproxy executable installed next to this Python first, then on PATH."""
    beside = Path(sys.executable).with_name(name)
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


def option_value(mitm_args: Sequence[str], names: Sequence[str]) -> str | None:
    """The last value given for one of `names` (`-p 8081`, `--listen-port=8081`), or None."""
    found: str | None = None
    for index, arg in enumerate(mitm_args):
        for name in names:
            if arg == name and index + 1 < len(mitm_args):
                found = mitm_args[index + 1]
            elif name.startswith("--") and arg.startswith(name + "="):
                found = arg[len(name) + 1 :]
    return found


def set_option_value(mitm_args: Sequence[str], option: str) -> str | None:
    """The value of `--set option=value` among the arguments, or None."""
    found: str | None = None
    for index, arg in enumerate(mitm_args):
        if arg == "--set" and index + 1 < len(mitm_args):
            key, sep, value = mitm_args[index + 1].partition("=")
            if sep and key == option:
                found = value
        elif arg.startswith("--set="):
            key, sep, value = arg[len("--set=") :].partition("=")
            if sep and key == option:
                found = value
    return found


def build_command(ui: str, mitm_args: Sequence[str], root: Path) -> list[str]:
    """The argv that runs the front end with the entry script and the user's arguments.

    Raises:
        FileNotFoundError: the entry script or the executable is missing (message says which).
    """
    script = root / ENTRY_SCRIPT
    if not script.is_file():
        raise FileNotFoundError(f"{script}: not found (the proxy needs the repository checkout, not only the package)")
    tool = FRONT_ENDS[ui]
    executable = find_executable(tool)
    if executable is None:
        raise FileNotFoundError(f"{tool}: not found next to {sys.executable} nor on PATH (pip install mitmproxy)")
    return [executable, "-s", str(script), *mitm_args]


def describe(ui: str, mitm_args: Sequence[str], root: Path) -> str:
    """One line saying what runs, where it listens and where captures go."""
    capture = set_option_value(mitm_args, "activesync_capture")
    if capture is None:
        where = f"captures go to {root / 'captures'}/"
    elif capture.strip():
        where = f"captures go to {capture}"
    else:
        where = "capture off"
    port = option_value(mitm_args, ("-p", "--listen-port")) or str(DEFAULT_PORT)
    mode = option_value(mitm_args, ("-m", "--mode")) or "regular"
    return f"{PROG}: {FRONT_ENDS[ui]} with the ActiveSync addon, {mode} proxy on port {port}; {where}"


def run(args: argparse.Namespace) -> int:
    """Replace this process with the mitmproxy front end (signals and exit status are then its own)."""
    mitm_args = list(args.mitm_args)
    if mitm_args[:1] == ["--"]:
        mitm_args = mitm_args[1:]
    root = repo_root()
    try:
        argv = build_command(args.ui, mitm_args, root)
    except FileNotFoundError as err:
        return fail(err)
    print(describe(args.ui, mitm_args, root), file=sys.stderr, flush=True)
    sys.stdout.flush()
    os.execv(argv[0], argv)
    return 0  # pragma: no cover - execv does not return
