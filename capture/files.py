"""Files the capture layer writes besides the capture itself (exports): private (0600), their folder created."""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

# Exports hold what the capture holds (mail, and credentials under keep_credentials): as private as the capture.
PRIVATE_MODE = 0o600


def open_private(path: str | os.PathLike[str]) -> IO[bytes]:
    """Open `path` for writing bytes, truncated, mode 0600 whatever the umask (an existing file is made 0600
    before anything is written to it); a missing parent folder is created (0700).

    Raises:
        OSError: the folder or the file cannot be created or written.
    """
    target = Path(path)
    if target.parent != target:
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
    try:
        os.fchmod(fd, PRIVATE_MODE)
        return os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        raise


def write_private_text(path: str | os.PathLike[str], text: str) -> None:
    """Write `text` as UTF-8 to a private file (open_private)."""
    with open_private(path) as handle:
        handle.write(text.encode("utf-8"))
