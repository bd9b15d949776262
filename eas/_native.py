"""Loads the project's mypyc-compiled modules when they were built from the sources beside them, else the sources."""

from __future__ import annotations

# How staleness is told without reading a source. setup.py compiles the modules of NATIVE_PACKAGES to C
# extensions and then writes each package's _build_stamps.py with each source's stamp: its size and modification
# time, the pair CPython itself compares to decide that a timestamp-based .pyc is stale (PEP 552). At import,
# select() compares the recorded stamps with a stat() of each source, the one call the import system makes
# anyway to find a module; no file is opened or read. A source edited since the build (other size or time)
# makes every compiled module of its package stand aside for the sources, so an edit is never shadowed by an
# older build; touching a file without changing it does the same, which errs on the safe side (the run scripts
# compile again when select() reports a stale build). A regular (non-editable) install copies the sources into
# site-packages with new times: its stamps hold the size alone, since nobody edits an installed copy and a
# wheel does not carry modification times.
#
# The table names packages beyond this one as data only: a package selects its own compiled modules when it is
# imported (eas in its __init__, capture.importers in its own), and this module imports none of them.

import importlib
import importlib.util
import os
import sys
from pathlib import Path

# The modules setup.py compiles (it reads this table), by package; within a package, in an order where each
# imports only earlier ones. The WBXML codec, and the reader of .mitm records, which an import runs per flow.
NATIVE_PACKAGES: dict[str, tuple[str, ...]] = {
    "eas": ("wbxml_common", "wbxml_content", "wbxml_tables", "wbxml_decode", "wbxml_encode", "wbxml"),
    "capture.importers": ("mitm_state",),
}

# The directory that holds the packages (the project, or site-packages).
_ROOT_DIR = Path(__file__).resolve().parent.parent

# What this process runs of the codec: "compiled", or "pure Python (<why>)"; shown by `eas-inspector --version`.
status = "pure Python"
# The same for every package selected so far, the codec's included.
statuses: dict[str, str] = {}

# A stamp: (size in bytes, modification time in ns), or (size, None) where the time is not compared.
Stamp = tuple[int, int | None]


def package_path(package: str) -> str:
    """A package's directory relative to the project ("capture/importers")."""
    return package.replace(".", "/")


def source_path(name: str, package: str = "eas") -> Path:
    """The source file of one of a package's compiled modules."""
    return _ROOT_DIR / package_path(package) / f"{name}.py"


def source_stamp(name: str, with_time: bool = True, package: str = "eas") -> Stamp:
    """The stamp of a module's source now, as setup.py records it in _build_stamps.py (one stat, no read)."""
    stat = os.stat(source_path(name, package))
    return stat.st_size, stat.st_mtime_ns if with_time else None


def stale_module(built: dict[str, Stamp], package: str = "eas") -> str | None:
    """The first compiled module of the package whose source no longer has the stamp recorded at build, or None."""
    for name in NATIVE_PACKAGES[package]:
        recorded = built.get(name)
        if recorded is None or source_stamp(name, recorded[1] is not None, package) != tuple(recorded):
            return name
    return None


def _set_status(package: str, text: str) -> None:
    global status
    statuses[package] = text
    if package == "eas":
        status = text


def _load_sources(reason: str, package: str) -> None:
    """Import each module from its .py file, so that an extension module beside it is not used."""
    _set_status(package, f"pure Python ({reason})")
    for name in NATIVE_PACKAGES[package]:
        qualified = f"{package}.{name}"
        if qualified in sys.modules:
            continue
        spec = importlib.util.spec_from_file_location(qualified, source_path(name, package))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[qualified] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[qualified]
            raise
        setattr(sys.modules[package], name, module)  # as the import system does for a submodule


def select(package: str = "eas") -> None:
    """Decide, before the package imports them, where a package's compiled modules come from."""
    if os.environ.get("EAS_PURE_PYTHON"):
        _load_sources("EAS_PURE_PYTHON is set", package)
        return
    try:
        # Written by setup.py after a successful build; absent in a checkout that was never compiled.
        stamps = importlib.import_module(f"{package}._build_stamps")
    except ImportError:
        _load_sources("not compiled", package)
        return
    built: dict[str, Stamp] = stamps.SOURCE_STAMPS
    stale = stale_module(built, package)
    if stale is not None:
        # Edited since the build: the extension would run the old code.
        where = package_path(package)
        _load_sources(f"{where}/{stale}.py changed since it was compiled; reinstall to compile it again", package)
        return
    modules = [importlib.import_module(f"{package}.{name}") for name in NATIVE_PACKAGES[package]]
    if all(not str(module.__file__).endswith(".py") for module in modules):
        _set_status(package, "compiled")
    else:
        _set_status(package, "pure Python (the compiled modules are missing)")
