"""Build hook: compiles the WBXML codec (eas/wbxml.py) with mypyc where a C compiler is at hand."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
# The modules compiled to C extensions. Each stays a plain Python module too: eas/_native.py loads the
# compiled one only when it was built from the very source beside it, so an edited file is never shadowed.
NATIVE_MODULES = ("wbxml",)
DIGESTS_FILE = ROOT / "eas" / "_build_digests.py"


def source_digest(name: str) -> str:
    return hashlib.sha256((ROOT / "eas" / f"{name}.py").read_bytes()).hexdigest()


def skip(reason: str) -> list[object]:
    print(f"eas-inspector: the codec stays pure Python ({reason})", file=sys.stderr)
    DIGESTS_FILE.unlink(missing_ok=True)
    return []


def native_extensions() -> list[object]:
    if os.environ.get("EAS_PURE_PYTHON"):
        return skip("EAS_PURE_PYTHON is set")
    try:
        from mypyc.build import mypycify
    except ImportError:
        return skip("mypyc is not installed")
    DIGESTS_FILE.unlink(missing_ok=True)  # written again only once the extensions are built
    # Paths relative to the project, so that mypyc names the modules eas.wbxml, ... and finds pyproject's config.
    previous = Path.cwd()
    os.chdir(ROOT)
    try:
        extensions: list[object] = mypycify([f"eas/{name}.py" for name in NATIVE_MODULES], opt_level="3")
    except BaseException as err:  # a type error, a mypy crash: the pure modules still work
        return skip(f"mypyc failed: {err}")
    finally:
        os.chdir(previous)
    return extensions


class OptionalBuildExt(build_ext):
    """Builds the extensions when it can; without a working C compiler the package installs pure Python."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as err:  # CompileError, LinkError, a missing compiler
            skip(f"the C build failed: {err}")
            return
        digests = {name: source_digest(name) for name in NATIVE_MODULES}
        DIGESTS_FILE.write_text(
            '"""Digests of the sources the compiled modules were built from (written by setup.py)."""\n\n'
            f"SOURCE_SHA256 = {digests!r}\n"
        )
        # A regular (non-editable) build packs eas/ from build_lib: put the file there too.
        if not self.inplace and not getattr(self, "editable_mode", False):
            target = Path(self.build_lib) / "eas" / DIGESTS_FILE.name
            if target.parent.is_dir():
                target.write_text(DIGESTS_FILE.read_text())


setup(ext_modules=native_extensions(), cmdclass={"build_ext": OptionalBuildExt})
