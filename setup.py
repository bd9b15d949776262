"""Build hook: compiles the WBXML codec and the .mitm record reader with mypyc where a C compiler is at hand."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


def _load_native_module() -> object:
    """eas/_native.py by its path (standard library only): importing the package would need lxml here."""
    spec = importlib.util.spec_from_file_location("eas_native_at_build", ROOT / "eas" / "_native.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The modules compiled to C extensions, by package, and the stamp of a source, as eas/_native.py checks them at
# import: each stays a plain Python module too, loaded instead when it no longer matches the build.
_native = _load_native_module()
NATIVE_PACKAGES: dict[str, tuple[str, ...]] = _native.NATIVE_PACKAGES  # type: ignore[attr-defined]
package_path = _native.package_path  # type: ignore[attr-defined]
source_stamp = _native.source_stamp  # type: ignore[attr-defined]
STAMPS_NAME = "_build_stamps.py"
# mypy's options for the build: the build environment has the build requirements only (no mitmproxy, no lxml
# itself), so what the compiled modules import from other libraries is typed Any there.
MYPY_BUILD_OPTIONS = ["--ignore-missing-imports", "--no-warn-unused-ignores"]


def stamps_file(package: str) -> Path:
    return ROOT / str(package_path(package)) / STAMPS_NAME


# The stamps of the sources as mypyc read them: taken before it compiles, so that a source edited during the
# build has another stamp than the one recorded and does not pass for the code compiled.
COMPILED_STAMPS: dict[str, dict[str, tuple[int, int | None]]] = {}


def stamps_module(package: str, with_time: bool) -> str:
    """The text of a package's _build_stamps.py for its sources that were compiled."""
    stamps = {name: stamp if with_time else (stamp[0], None) for name, stamp in COMPILED_STAMPS[package].items()}
    return (
        '"""Size and modification time of the sources the compiled modules were built from (written by setup.py)."""'
        f"\n\nSOURCE_STAMPS = {stamps!r}\n"
    )


def skip(reason: str) -> list[object]:
    print(f"eas-inspector: the codec and the .mitm reader stay pure Python ({reason})", file=sys.stderr)
    for package in NATIVE_PACKAGES:
        stamps_file(package).unlink(missing_ok=True)
    return []


def native_extensions() -> list[object]:
    if os.environ.get("EAS_PURE_PYTHON"):
        return skip("EAS_PURE_PYTHON is set")
    try:
        from mypyc.build import mypycify
    except ImportError:
        return skip("mypyc is not installed")
    for package, names in NATIVE_PACKAGES.items():
        stamps_file(package).unlink(missing_ok=True)  # written again only once the extensions are built
        COMPILED_STAMPS[package] = {name: source_stamp(name, package=package) for name in names}
    # Paths relative to the project, so that mypyc names the modules eas.wbxml, ... and finds pyproject's config.
    sources = [f"{package_path(package)}/{name}.py" for package, names in NATIVE_PACKAGES.items() for name in names]
    previous = Path.cwd()
    os.chdir(ROOT)
    try:
        extensions: list[object] = mypycify([*MYPY_BUILD_OPTIONS, *sources], opt_level="3")
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
        for package in NATIVE_PACKAGES:
            stamps_file(package).write_text(stamps_module(package, with_time=True))
            # A regular (non-editable) build packs the packages from build_lib, and installing them gives the
            # sources new times: its copy of the file records sizes only (see eas/_native.py).
            if not self.inplace and not getattr(self, "editable_mode", False):
                target = Path(self.build_lib) / package_path(package) / STAMPS_NAME
                if target.parent.is_dir():
                    target.write_text(stamps_module(package, with_time=False))


setup(ext_modules=native_extensions(), cmdclass={"build_ext": OptionalBuildExt})
