"""Writing an export file: private (0600) like the capture it comes from; opened in place, or replaced when done."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import IO, Any, BinaryIO, Literal, TextIO, overload

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


@overload
def replace_privately(path: str | os.PathLike[str], *, binary: Literal[True]) -> AbstractContextManager[BinaryIO]: ...
@overload
def replace_privately(
    path: str | os.PathLike[str], *, binary: Literal[False] = False
) -> AbstractContextManager[TextIO]: ...
def replace_privately(path: str | os.PathLike[str], *, binary: bool = False) -> AbstractContextManager[IO[Any]]:
    """A new file (mode 0600) beside `path` that replaces it when the `with` block completes; when the block
    raises, the new file is removed and `path` is left as it was, so a reader never sees half a file.

    Text is UTF-8 with `\\n` line ends (characters it cannot encode replaced).

    Raises:
        CaptureError: the file cannot be created, written or renamed into place; the message names `path`.
    """
    return _replaced(Path(path), binary)


@contextmanager
def _replaced(destination: Path, binary: bool) -> Iterator[IO[Any]]:
    directory = destination.parent if str(destination.parent) else Path(".")
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".part", dir=directory)
    except OSError as err:
        raise CaptureError(f"{destination}: cannot write: {err.strerror or err}") from err
    try:
        # mkstemp creates the file 0600: what it holds (mail, names) is the capture's.
        if binary:
            with os.fdopen(handle, "wb") as binary_out:
                yield binary_out
        else:
            with os.fdopen(handle, "w", encoding="utf-8", errors="replace", newline="\n") as text_out:
                yield text_out
        os.replace(temporary, destination)
    except OSError as err:
        Path(temporary).unlink(missing_ok=True)
        raise CaptureError(f"{destination}: cannot write: {err.strerror or err}") from err
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
