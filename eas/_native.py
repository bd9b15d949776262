"""Loads the mypyc-compiled codec modules when they were built from the sources beside them, else the sources."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from pathlib import Path

# The modules setup.py compiles (it reads this tuple).
NATIVE_MODULES = ("wbxml",)

_PACKAGE_DIR = Path(__file__).resolve().parent

# What this process runs: "compiled", or "pure Python (<why>)"; shown by `eas-inspector --version`.
status = "pure Python"


def source_digest(name: str) -> str:
    """SHA-256 of a module's source, as setup.py records it in _build_digests.py."""
    return hashlib.sha256((_PACKAGE_DIR / f"{name}.py").read_bytes()).hexdigest()


def _load_sources(reason: str) -> None:
    """Import each module from its .py file, so that an extension module beside it is not used."""
    global status
    status = f"pure Python ({reason})"
    for name in NATIVE_MODULES:
        qualified = f"{__package__}.{name}"
        if qualified in sys.modules:
            continue
        spec = importlib.util.spec_from_file_location(qualified, _PACKAGE_DIR / f"{name}.py")
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
        from ._build_digests import SOURCE_SHA256  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        _load_sources("not compiled")
        return
    built: dict[str, str] = SOURCE_SHA256
    for name in NATIVE_MODULES:
        if built.get(name) != source_digest(name):
            # Edited since the build: the extension would run the old code.
            _load_sources(f"eas/{name}.py changed since it was compiled; reinstall to compile it again")
            return
    modules = [importlib.import_module(f"{__package__}.{name}") for name in NATIVE_MODULES]
    if all(not str(module.__file__).endswith(".py") for module in modules):
        status = "compiled"
    else:
        status = "pure Python (the compiled modules are missing)"
