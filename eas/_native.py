"""Loads the mypyc-compiled codec modules when they were built from the sources beside them, else the sources."""

from __future__ import annotations

# How staleness is told without reading a source. setup.py compiles the modules of NATIVE_MODULES to C
# extensions and then writes eas/_build_stamps.py with each source's stamp: its size and modification time,
# the pair CPython itself compares to decide that a timestamp-based .pyc is stale (PEP 552). At import,
# select() compares the recorded stamps with a stat() of each source, the one call the import system makes
# anyway to find a module; no file is opened or read. A source edited since the build (other size or time)
# makes every compiled module stand aside for the sources, so an edit is never shadowed by an older build;
# touching a file without changing it does the same, which errs on the safe side (the run scripts compile
# again when select() reports a stale build). A regular (non-editable) install copies the sources into
# site-packages with new times: its stamps hold the size alone, since nobody edits an installed copy and a
# wheel does not carry modification times.

import importlib
import importlib.util
import os
import sys
from pathlib import Path

# The modules setup.py compiles (it reads this tuple), in an order where each imports only earlier ones.
NATIVE_MODULES = ("wbxml_common", "wbxml_content", "wbxml_tables", "wbxml_decode", "wbxml_encode", "wbxml")

_PACKAGE_DIR = Path(__file__).resolve().parent

# What this process runs: "compiled", or "pure Python (<why>)"; shown by `eas-inspector --version`.
status = "pure Python"

# A stamp: (size in bytes, modification time in ns), or (size, None) where the time is not compared.
Stamp = tuple[int, int | None]


def source_path(name: str) -> Path:
    """The source file of one of NATIVE_MODULES."""
    return _PACKAGE_DIR / f"{name}.py"


def source_stamp(name: str, with_time: bool = True) -> Stamp:
    """The stamp of a module's source now, as setup.py records it in _build_stamps.py (one stat, no read)."""
    stat = os.stat(source_path(name))
    return stat.st_size, stat.st_mtime_ns if with_time else None


def stale_module(built: dict[str, Stamp]) -> str | None:
    """The first of NATIVE_MODULES whose source no longer has the stamp recorded at build, or None."""
    for name in NATIVE_MODULES:
        recorded = built.get(name)
        if recorded is None or source_stamp(name, recorded[1] is not None) != tuple(recorded):
            return name
    return None


def _load_sources(reason: str) -> None:
    """Import each module from its .py file, so that an extension module beside it is not used."""
    global status
    status = f"pure Python ({reason})"
    for name in NATIVE_MODULES:
        qualified = f"{__package__}.{name}"
        if qualified in sys.modules:
            continue
        spec = importlib.util.spec_from_file_location(qualified, source_path(name))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[qualified] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[qualified]
            raise
        setattr(sys.modules[__package__], name, module)  # as the import system does for a submodule


def select() -> None:
    """Decide, before the package imports them, where the codec modules come from."""
    global status
    if os.environ.get("EAS_PURE_PYTHON"):
        _load_sources("EAS_PURE_PYTHON is set")
        return
    try:
        # Written by setup.py after a successful build; absent in a checkout that was never compiled.
        stamps = importlib.import_module(f"{__package__}._build_stamps")
    except ImportError:
        _load_sources("not compiled")
        return
    built: dict[str, Stamp] = stamps.SOURCE_STAMPS
    stale = stale_module(built)
    if stale is not None:
        # Edited since the build: the extension would run the old code.
        _load_sources(f"eas/{stale}.py changed since it was compiled; reinstall to compile it again")
        return
    modules = [importlib.import_module(f"{__package__}.{name}") for name in NATIVE_MODULES]
    if all(not str(module.__file__).endswith(".py") for module in modules):
        status = "compiled"
    else:
        status = "pure Python (the compiled modules are missing)"
