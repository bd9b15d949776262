"""The mypyc-compiled codec: used when current, never shadowing an edited source, and equal to the pure one.
(tests/capture/test_compiled_reader.py does the same for the .mitm reader.)"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import eas
from eas import _native

PACKAGE_DIR = Path(eas.__file__).resolve().parent
ROOT_DIR = PACKAGE_DIR.parent
REAL_CORPUS = Path(__file__).resolve().parents[1] / "data" / "real"
COMPILED = _native.status == "compiled"

# Decodes and re-encodes every real body and prints a digest of the results, plus where the codec came from.
CORPUS_SCRIPT = """
import hashlib, json, pathlib, sys
import eas, eas._native, eas.wbxml
digest = hashlib.sha256()
for path in sorted(pathlib.Path(sys.argv[1]).glob("*.wbxml")):
    data = path.read_bytes()
    try:
        xml = eas.decode_to_xml(data)
        digest.update(xml.encode())
        digest.update(eas.encode(xml))
    except eas.EasError as err:
        digest.update(str(err).encode())
print(json.dumps({"status": eas._native.status, "file": eas.wbxml.__file__, "digest": digest.hexdigest()}))
"""


def run_corpus_script(env: dict[str, str], pythonpath: Path | None = None, script: str = CORPUS_SCRIPT,
                      data: Path = REAL_CORPUS) -> dict[str, str]:
    environ = {**os.environ, **env}
    if pythonpath is not None:
        environ["PYTHONPATH"] = str(pythonpath)
    done = subprocess.run(
        [sys.executable, "-c", script, str(data)],
        capture_output=True, text=True, env=environ, cwd=pythonpath or PACKAGE_DIR.parent, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, str] = json.loads(done.stdout)
    return result


def test_the_compiled_codec_runs_where_it_was_built() -> None:
    # scripts/run-tests sets EAS_EXPECT_COMPILED=1 where a C compiler is at hand: the install must have built it.
    if not os.environ.get("EAS_EXPECT_COMPILED"):
        pytest.skip("EAS_EXPECT_COMPILED is not set (no C compiler expected)")
    assert _native.status == "compiled"
    assert not str(eas.wbxml.__file__).endswith(".py")
    assert (PACKAGE_DIR / "_build_stamps.py").is_file()


def test_status_names_a_reason_when_pure() -> None:
    assert _native.status == "compiled" or _native.status.startswith("pure Python (")


def test_the_pure_modules_give_the_same_results_as_the_compiled_ones() -> None:
    pure = run_corpus_script({"EAS_PURE_PYTHON": "1"})
    assert pure["status"] == "pure Python (EAS_PURE_PYTHON is set)"
    assert pure["file"].endswith("wbxml.py")
    default = run_corpus_script({})  # this process's own environment
    assert default["digest"] == pure["digest"]
    assert default["status"] == _native.status


@pytest.mark.skipif(not COMPILED, reason="the codec is not compiled in this installation")
def test_an_edited_source_is_never_shadowed_by_an_older_build(tmp_path: Path) -> None:
    copy = tmp_path / "eas"
    shutil.copytree(PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    for lib in PACKAGE_DIR.parent.glob("*__mypyc*"):  # a shared library mypyc may put beside the package
        shutil.copy(lib, tmp_path / lib.name)
    unchanged = run_corpus_script({"EAS_PURE_PYTHON": ""}, pythonpath=tmp_path)
    assert unchanged["status"] == "compiled"
    assert unchanged["file"].startswith(str(copy))
    source = copy / "wbxml.py"
    source.write_text(source.read_text() + "\n# edited after the build\n")
    edited = run_corpus_script({"EAS_PURE_PYTHON": ""}, pythonpath=tmp_path)
    assert edited["status"] == "pure Python (eas/wbxml.py changed since it was compiled; reinstall to compile it again)"
    assert edited["file"] == str(source)
    assert edited["digest"] == unchanged["digest"]


@pytest.mark.skipif(not COMPILED, reason="the codec is not compiled in this installation")
@pytest.mark.parametrize("package", sorted(_native.NATIVE_PACKAGES))
def test_the_build_records_the_size_and_time_of_each_compiled_source(package: str) -> None:
    stamps = importlib.import_module(f"{package}._build_stamps")

    assert set(stamps.SOURCE_STAMPS) == set(_native.NATIVE_PACKAGES[package])
    for name, (size, mtime_ns) in stamps.SOURCE_STAMPS.items():
        stat = os.stat(ROOT_DIR / _native.package_path(package) / f"{name}.py")
        assert (size, mtime_ns) == (stat.st_size, stat.st_mtime_ns)


@pytest.mark.skipif(not COMPILED, reason="the codec is not compiled in this installation")
def test_a_touched_source_counts_as_changed(tmp_path: Path) -> None:
    copy = tmp_path / "eas"
    shutil.copytree(PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    for lib in PACKAGE_DIR.parent.glob("*__mypyc*"):
        shutil.copy(lib, tmp_path / lib.name)
    source = copy / f"{_native.NATIVE_PACKAGES["eas"][0]}.py"
    stat = os.stat(source)
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # same bytes, a later time
    touched = run_corpus_script({"EAS_PURE_PYTHON": ""}, pythonpath=tmp_path)
    assert touched["status"].startswith(f"pure Python (eas/{_native.NATIVE_PACKAGES["eas"][0]}.py changed since")


# Imports eas with an audit hook that records every file opened; prints those under the package's directory.
OPENED_SCRIPT = """
import json, sys
opened = []
sys.addaudithook(lambda event, args: opened.append(str(args[0])) if event == "open" else None)
import eas
print(json.dumps({"status": eas._native.status, "opened": opened}))
"""


@pytest.mark.skipif(not COMPILED, reason="the codec is not compiled in this installation")
def test_importing_the_compiled_codec_reads_no_source() -> None:
    done = subprocess.run([sys.executable, "-c", OPENED_SCRIPT], capture_output=True, text=True,
                          cwd=PACKAGE_DIR.parent, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "compiled"
    sources = {str(PACKAGE_DIR / f"{name}.py") for name in _native.NATIVE_PACKAGES["eas"]}
    assert [path for path in result["opened"] if path in sources] == []
