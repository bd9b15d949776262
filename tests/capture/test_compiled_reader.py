"""The mypyc-compiled .mitm record reader (capture.importers.mitm_state): used when current, never shadowing an
edited source, and giving what the pure one gives."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from capture.importers import mitm_state
from eas import _native
from tests.eas.test_native import REAL_CORPUS, ROOT_DIR, run_corpus_script

LAB_SESSION = REAL_CORPUS / "lab-session.mitm"
COMPILED = _native.statuses["capture.importers"] == "compiled"

# Reads every record of the lab session through the direct .mitm reader and prints a digest of what it gives.
READER_SCRIPT = """
import hashlib, json, sys
import capture.importers, eas._native
from capture.importers import mitm, mitm_state
digest = hashlib.sha256()
with open(sys.argv[1], "rb") as file:
    for record in mitm.records(file):
        digest.update(repr(mitm_state.http_flow(record.data)).encode())
print(json.dumps({"status": eas._native.statuses["capture.importers"], "file": mitm_state.__file__,
                  "digest": digest.hexdigest()}))
"""


def test_the_compiled_reader_runs_where_it_was_built() -> None:
    if not os.environ.get("EAS_EXPECT_COMPILED"):
        pytest.skip("EAS_EXPECT_COMPILED is not set (no C compiler expected)")
    assert _native.statuses["capture.importers"] == "compiled"
    assert not str(mitm_state.__file__).endswith(".py")
    assert (ROOT_DIR / "capture" / "importers" / "_build_stamps.py").is_file()


def test_the_pure_reader_gives_what_the_compiled_one_gives() -> None:
    pure = run_corpus_script({"EAS_PURE_PYTHON": "1"}, script=READER_SCRIPT, data=LAB_SESSION)
    assert pure["status"] == "pure Python (EAS_PURE_PYTHON is set)"
    assert pure["file"].endswith("mitm_state.py")
    default = run_corpus_script({}, script=READER_SCRIPT, data=LAB_SESSION)
    assert default["digest"] == pure["digest"]
    assert default["status"] == _native.statuses["capture.importers"]


@pytest.mark.skipif(not COMPILED, reason="the reader is not compiled in this installation")
def test_an_edited_reader_is_never_shadowed_by_an_older_build(tmp_path: Path) -> None:
    for package in ("eas", "capture"):
        shutil.copytree(ROOT_DIR / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    for lib in ROOT_DIR.glob("*__mypyc*"):
        shutil.copy(lib, tmp_path / lib.name)
    unchanged = run_corpus_script({"EAS_PURE_PYTHON": ""}, tmp_path, READER_SCRIPT, LAB_SESSION)
    assert unchanged["status"] == "compiled"
    assert unchanged["file"].startswith(str(tmp_path / "capture" / "importers"))
    source = tmp_path / "capture" / "importers" / "mitm_state.py"
    source.write_text(source.read_text() + "\n# edited after the build\n")
    edited = run_corpus_script({"EAS_PURE_PYTHON": ""}, tmp_path, READER_SCRIPT, LAB_SESSION)
    assert edited["status"] == ("pure Python (capture/importers/mitm_state.py changed since it was compiled; "
                                "reinstall to compile it again)")
    assert edited["file"] == str(source)
    assert edited["digest"] == unchanged["digest"]
