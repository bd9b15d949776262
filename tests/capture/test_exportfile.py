"""capture.exportfile.open_export: private whatever the umask, folders made, errors named."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from capture.exportfile import open_export
from capture.model import CaptureError


def test_a_new_export_is_0600_under_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        with open_export(tmp_path / "a" / "b" / "out.har") as out:
            out.write("{}")
    finally:
        os.umask(old)
    assert (tmp_path / "a" / "b" / "out.har").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "a").stat().st_mode & 0o777 == 0o700


def test_binary_mode_writes_bytes(tmp_path: Path) -> None:
    with open_export(tmp_path / "out.mitm", binary=True) as out:
        out.write(b"\x00\xff")
    assert (tmp_path / "out.mitm").read_bytes() == b"\x00\xff"


def test_a_folder_that_cannot_be_made_is_a_capture_error_naming_the_path(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(CaptureError, match="out.xml: cannot write"):
        open_export(tmp_path / "file" / "out.xml")
