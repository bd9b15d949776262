"""Opening an export file: private (0600) like the capture it comes from, its missing folders created."""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Literal, overload

from capture.model import CaptureError


@overload
def open_export(path: str | os.PathLike[str], *, binary: Literal[True]) -> IO[bytes]: ...
@overload
def open_export(path: str | os.PathLike[str], *, binary: Literal[False] = False) -> IO[str]: ...
def open_export(path: str | os.PathLike[str], *, binary: bool = False) -> IO[bytes] | IO[str]:
    """Open `path` for writing an export, replacing any file there, readable by its owner only.

    An export holds what the capture holds (mail, user names, sometimes credentials), so it gets the capture's
    mode 0600 whatever the umask, also when it replaces an older file. Missing folders are created (0700).

    Raises:
        CaptureError: the folder cannot be created or the file cannot be opened; the message names the path.
    """
    target = Path(path)
    try:
        missing = [folder for folder in reversed(target.parent.parents) if not folder.exists()]
        for folder in [*missing, target.parent]:
            folder.mkdir(mode=0o700, exist_ok=True)  # mkdir(parents=True) would give the parents the umask's mode
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as err:
        raise CaptureError(f"{path}: cannot write: {err.strerror or err}") from err
    try:
        os.fchmod(fd, 0o600)
    except OSError as err:
        os.close(fd)
        raise CaptureError(f"{path}: cannot make it private: {err.strerror or err}") from err
    if binary:
        return os.fdopen(fd, "wb")
    return os.fdopen(fd, "w", encoding="utf-8")
