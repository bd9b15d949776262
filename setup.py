"""Build hook: compiles the WBXML codec (eas/wbxml.py) with mypyc where a C compiler is at hand."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
STAMPS_FILE = ROOT / "eas" / "_build_stamps.py"


def _load_native_module() -> object:
    """eas/_native.py by its path (standard library only): importing the package would need lxml here."""
    spec = importlib.util.spec_from_file_location("eas_native_at_build", ROOT / "eas" / "_native.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The modules compiled to C extensions, and the stamp of a source, as eas/_native.py checks them at import:
# each stays a plain Python module too, loaded instead when it no longer matches the build.
_native = _load_native_module()
NATIVE_MODULES: tuple[str, ...] = _native.NATIVE_MODULES  # type: ignore[attr-defined]
source_stamp = _native.source_stamp  # type: ignore[attr-defined]


# The stamps of the sources as mypyc read them: taken before it compiles, so that a source edited during the
# build has another stamp than the one recorded and does not pass for the code compiled.
COMPILED_STAMPS: dict[str, tuple[int, int | None]] = {}


def stamps_module(with_time: bool) -> str:
    """The text of eas/_build_stamps.py for the sources that were compiled."""
    stamps = {name: stamp if with_time else (stamp[0], None) for name, stamp in COMPILED_STAMPS.items()}
    return (
        '"""Size and modification time of the sources the compiled modules were built from (written by setup.py)."""'
        f"\n\nSOURCE_STAMPS = {stamps!r}\n"
    )


def skip(reason: str) -> list[object]:
    print(f"eas-inspector: the codec stays pure Python ({reason})", file=sys.stderr)
    STAMPS_FILE.unlink(missing_ok=True)
    return []


def native_extensions() -> list[object]:
    if os.environ.get("EAS_PURE_PYTHON"):
        return skip("EAS_PURE_PYTHON is set")
    try:
        from mypyc.build import mypycify
    except ImportError:
        return skip("mypyc is not installed")
    STAMPS_FILE.unlink(missing_ok=True)  # written again only once the extensions are built
    # Paths relative to the project, so that mypyc names the modules eas.wbxml, ... and finds pyproject's config.
    COMPILED_STAMPS.update((name, source_stamp(name)) for name in NATIVE_MODULES)
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
        STAMPS_FILE.write_text(stamps_module(with_time=True))
        # A regular (non-editable) build packs eas/ from build_lib, and installing it gives the sources new
        # times: its copy of the file records sizes only (see eas/_native.py).
        if not self.inplace and not getattr(self, "editable_mode", False):
            target = Path(self.build_lib) / "eas" / STAMPS_FILE.name
            if target.parent.is_dir():
                target.write_text(stamps_module(with_time=False))


setup(ext_modules=native_extensions(), cmdclass={"build_ext": OptionalBuildExt})
