"""The spool: an append-only file beside the capture holding each flow's frame until the capture has committed it."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

try:
    import fcntl
except ImportError:  # not POSIX: no lock, one worker per capture is up to the user
    fcntl = None  # type: ignore[assignment]

from addon.worker_protocol import FRAME_FLOW, FRAME_HEAD, frame_fields, split_frame
from capture.mitm import flow_input_from_fields
from capture.model import CaptureError, FlowInput
from capture.schema import sqlite_uri
from capture.writer import CaptureWriter

# The spooler process (addon/spooler.py) appends each flow frame here as soon as it reads it from the proxy's
# pipe, before the analysis process sees it (addon/worker_protocol.py, rule 9): one write per capture per read
# of bytes it already has, at the proxy's CPU priority, so neither an idle-priority analysis starved by other
# load nor a slow capture delays it. What is written survives a kill of every process at once, because it is
# in the kernel; against a machine reset the file is synced (fdatasync) by a thread of its own at most
# SYNC_SECONDS after a write, so the spooler never waits for the disk and a reset loses at most that much.
# Only the spooler writes, truncates, renames or deletes the spool it holds; the analysis tells it, by frame
# serial, what the capture has committed (worker_protocol.COMMITTED_HEAD). Once every frame in the spool is
# committed and none came for a moment, the spool is emptied (after the capture's WAL is synced: its commits
# are not, synchronous=NORMAL); past ROTATE_BYTES it is renamed to OLD_SUFFIX and a fresh one started, the old
# one deleted once committed. What a killed run left (the spool and its OLD_SUFFIX part) is set aside as the
# OLD_SUFFIX part when the next spooler takes the spool (`Spool.start`); the analysis replays that part into
# the capture before any new flow and deletes it (`replay_leftover`), and the spooler rotates no new part
# into its place meanwhile.
#
# The file: SPOOL_HEADER (a line naming the format and its version), then flow frames as the proxy wrote them
# (FRAME_HEAD, length-prefixed). A frame cut short at the end (a torn write) is ignored; a failed append is cut
# off again, so frames after it stay readable. Recovery replays each frame whose mitmproxy flow id is not in
# the capture yet, so a flow is never recorded twice.
SPOOL_SUFFIX = "-spool"
OLD_SUFFIX = ".old"
SPOOL_HEADER = b"eas-inspector spool 1\n"
SYNC_SECONDS = 0.1
ROTATE_BYTES = 32 << 20


def spool_path(capture_path: str | os.PathLike[str]) -> Path:
    """The spool of a capture file."""
    return Path(os.fspath(capture_path) + SPOOL_SUFFIX)


def old_spool_path(spool: Path) -> Path:
    return Path(os.fspath(spool) + OLD_SUFFIX)


def capture_path_of(spool: Path) -> Path:
    """The capture a spool belongs to (the spool's name without SPOOL_SUFFIX)."""
    name = os.fspath(spool)
    if name.endswith(OLD_SUFFIX):
        name = name[: -len(OLD_SUFFIX)]
    if not name.endswith(SPOOL_SUFFIX):
        raise CaptureError(f"{spool}: not a spool file (its name does not end in {SPOOL_SUFFIX})")
    return Path(name[: -len(SPOOL_SUFFIX)])


@dataclass(frozen=True)
class SpoolContents:
    """The flow frames of a spool file, and the bytes at its end that are not a whole frame."""

    frames: list[bytes]
    torn_bytes: int


def read_spool(path: Path) -> SpoolContents:
    """The whole flow frames of a spool file.

    Raises:
        CaptureError: the file is not a spool (or of another version).
        OSError: it cannot be read.
    """
    data = path.read_bytes()
    if SPOOL_HEADER.startswith(data):  # created, its header not (all) written yet: nothing spooled
        return SpoolContents([], 0)
    if not data.startswith(SPOOL_HEADER):
        raise CaptureError(f"{path}: not an eas-inspector spool (version 1) file")
    frames: list[bytes] = []
    at = len(SPOOL_HEADER)
    while len(data) - at >= FRAME_HEAD.size:
        size, kind_flags, *_ = FRAME_HEAD.unpack_from(data, at)
        end = at + 4 + size
        if size < FRAME_HEAD.size - 4 or end > len(data):
            break
        if kind_flags & 15 == FRAME_FLOW:
            frames.append(data[at:end])
        at = end
    return SpoolContents(frames, len(data) - at)


def committed_flow_ids(capture: Path, since: float) -> set[str]:
    """The mitmproxy flow ids of the capture's flows that started at `since` or later (none when it does not
    exist yet)."""
    if not capture.exists():
        return set()
    try:
        connection = sqlite3.connect(sqlite_uri(capture, "ro"), uri=True)
        try:
            rows = connection.execute("SELECT extra FROM flows WHERE ts_start >= ?", (since,)).fetchall()
        finally:
            connection.close()
    except sqlite3.Error as err:
        raise CaptureError(f"{capture}: cannot read the capture: {err}") from err
    ids = set()
    for (extra,) in rows:
        try:
            flow_id = json.loads(extra).get("mitm_id")
        except (TypeError, ValueError, AttributeError):
            continue
        if isinstance(flow_id, str):
            ids.add(flow_id)
    return ids


@dataclass(frozen=True)
class Recovery:
    """What replaying a spool into its capture did."""

    recovered: int  # flows written into the capture
    already: int  # flows the capture held already
    other: int  # frames of flows not to be recorded
    damaged: int  # frames that could not be read
    torn_bytes: int  # the end of a spool file that is not a whole frame


def replay_spool(spool: Path, writer: CaptureWriter) -> Recovery:
    """Write the spool's flows (and those of its rotated part) that the writer's capture lacks, whichever capture
    their proxy named (a spool holds those of the capture it sits beside); waits for the commit.

    Raises:
        CaptureError: a spool file is not a spool, or the capture cannot be read or written.
        OSError: a spool file cannot be read.
    """
    return replay_files((old_spool_path(spool), spool), writer)


def replay_leftover(spool: Path, writer: CaptureWriter) -> Recovery:
    """Replay the part of a spool its spooler set aside (what a killed run left, see `Spool.start`) into the
    writer's capture, put the capture on disk, then delete that part.

    Raises:
        CaptureError, OSError: as `replay_spool` (the part is kept for `eas-inspector recover`).
    """
    old = old_spool_path(spool)
    recovery = replay_files((old,), writer)
    sync_capture(writer.path)
    old.unlink(missing_ok=True)
    return recovery


def replay_files(paths: tuple[Path, ...], writer: CaptureWriter) -> Recovery:
    """Write the flows of these spool files (those that exist) that the writer's capture lacks; waits for the
    commit."""
    flows: list[FlowInput] = []
    other = damaged = torn = 0
    for path in paths:
        if not path.exists():
            continue
        contents = read_spool(path)
        torn += contents.torn_bytes
        for frame in contents.frames:
            try:
                raw, request_body, response_body = split_frame(frame)
                fields = frame_fields(raw)
                if fields.capture is None:
                    other += 1
                    continue
                flows.append(flow_input_from_fields(fields.flow, request_body, response_body))
            except Exception:  # a frame the proxy wrote damaged: the others are still replayed
                damaged += 1
    since = min((flow.ts_start for flow in flows), default=0.0) - 1.0
    present = committed_flow_ids(writer.path, since) if flows else set()
    recovered = already = 0
    for flow in flows:
        flow_id = str(flow.extra.get("mitm_id"))
        if flow_id in present:
            already += 1
            continue
        writer.add(flow)
        present.add(flow_id)
        recovered += 1
    if recovered:
        writer.flush()
    return Recovery(recovered, already, other, damaged, torn)


def recover_spool(spool: Path, capture: Path | None = None) -> Recovery:
    """Replay a spool into its capture (by default the file it sits beside), then delete the spool.

    Raises:
        CaptureError: the spool is in use by a running proxy, not a spool, or the capture cannot be written.
        OSError: the spool cannot be read.
    """
    spool = Path(os.fspath(spool).removesuffix(OLD_SUFFIX))
    target = capture if capture is not None else capture_path_of(spool)
    if not spool.exists() and not old_spool_path(spool).exists():
        raise CaptureError(f"{spool}: no such spool file")
    fd = locked_spool(spool)
    try:
        settings = first_settings(spool)
        writer = CaptureWriter(
            target,
            keep_credentials=settings[0] if settings else False,
            max_body_size=settings[1] if settings else None,
        )
        try:
            recovery = replay_spool(spool, writer)
        finally:
            writer.close()
        for path in (old_spool_path(spool), spool):
            path.unlink(missing_ok=True)
    finally:
        os.close(fd)
    return recovery


def first_settings(spool: Path) -> tuple[bool, int | None] | None:
    """keep_credentials and max_body of the first recorded flow in a spool (what its proxy recorded with)."""
    for path in (old_spool_path(spool), spool):
        if path.exists():
            for frame in read_spool(path).frames:
                try:
                    capture = frame_fields(split_frame(frame)[0]).capture
                except Exception:
                    continue
                if capture is not None:
                    return capture.keep_credentials, capture.max_body
    return None


def locked_spool(spool: Path) -> int:
    """The spool file opened for appending (created when missing) and locked, so two processes never write or
    replay it at once; closing the descriptor lets go of the lock.

    Raises:
        CaptureError: another process holds it.
        OSError: it cannot be opened.
    """
    fd = os.open(spool, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            os.close(fd)
            raise CaptureError(f"{spool}: in use by a running proxy") from err
    return fd


def sync_capture(capture: Path) -> None:
    """Put a capture's last commits (the file and its WAL) on disk before a spool lets go of their frames."""
    for path in (capture, Path(os.fspath(capture) + "-wal")):
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)


def set_aside(spool: Path) -> bool:
    """Move the frames a killed run left in a spool to its rotated part (OLD_SUFFIX), after those the part
    held already, and put that part on disk; True when the part holds frames now (or did before).

    Raises:
        CaptureError: a spool file is not a spool.
        OSError: a spool file cannot be read or written.
    """
    old = old_spool_path(spool)
    frames = read_spool(spool).frames
    if not frames:
        return old.exists()
    data = [SPOOL_HEADER, *(read_spool(old).frames if old.exists() else []), *frames]  # whole frames only
    fresh = Path(os.fspath(old) + ".new")
    fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(b"".join(data))
        while view:
            view = view[os.write(fd, view) :]
        os.fdatasync(fd)
    finally:
        os.close(fd)
    os.replace(fresh, old)
    return True


class Spool:
    """The open spool of one capture, in its spooler: frames are appended (one write each call), synced in the
    background. It is locked from the start; `start` sets aside what a killed run left and empties it.

    Raises (constructor):
        CaptureError: another process holds this spool.
        OSError: it cannot be created.
    """

    def __init__(self, path: Path, capture: Path) -> None:
        self.path = path
        self.capture = capture
        self.fd = locked_spool(path)
        self.size = len(SPOOL_HEADER)
        self.dirty = threading.Event()
        self.closed = False
        self.sync_lock = threading.Lock()  # a sync never runs on a descriptor being closed
        self.syncer = threading.Thread(target=self.sync_loop, name=f"spool-sync {path.name}", daemon=True)

    def start(self) -> bool:
        """Set aside what the spool holds (`set_aside`), empty it and start syncing it; True when a killed
        run's frames wait in the rotated part for the analysis to replay them (`replay_leftover`).

        Raises:
            CaptureError, OSError: as `set_aside` (the spool is left as it is).
        """
        leftover = set_aside(self.path)
        os.ftruncate(self.fd, 0)
        os.write(self.fd, SPOOL_HEADER)
        os.fdatasync(self.fd)
        self.syncer.start()
        return leftover

    def append(self, data: bytes) -> None:
        """Write frames at the spool's end.

        Raises:
            OSError: the disk refuses; what was written of them is cut off again where it can be.
        """
        view = memoryview(data)
        try:
            while view:
                written = os.write(self.fd, view)
                view = view[written:]
        except OSError:
            if len(view) < len(data):  # a torn frame would hide every frame after it from `read_spool`
                try:
                    os.ftruncate(self.fd, self.size)
                except OSError:
                    pass
            raise
        self.size += len(data)
        self.dirty.set()

    def sync_loop(self) -> None:
        synced_at = 0.0
        while True:
            self.dirty.wait()
            if self.closed:
                return
            time.sleep(max(0.0, SYNC_SECONDS - (time.monotonic() - synced_at)))
            self.dirty.clear()
            with self.sync_lock:
                if self.closed:
                    return
                try:
                    os.fdatasync(self.fd)
                except OSError:  # the write itself reached the kernel: a process kill still loses nothing
                    pass
            synced_at = time.monotonic()

    def empty(self) -> None:
        """Every frame in the spool is committed: drop them."""
        if self.size > len(SPOOL_HEADER):
            sync_capture(self.capture)
            os.ftruncate(self.fd, len(SPOOL_HEADER))
            self.size = len(SPOOL_HEADER)

    def forget_old(self) -> None:
        """The rotated part is committed: delete it."""
        sync_capture(self.capture)
        old_spool_path(self.path).unlink(missing_ok=True)

    def rotate(self) -> bool:
        """Move the spool aside (unless a rotated part is still there) and start a fresh one; True when done."""
        if old_spool_path(self.path).exists():
            return False
        os.replace(self.path, old_spool_path(self.path))
        fd = locked_spool(self.path)
        os.write(fd, SPOOL_HEADER)
        with self.sync_lock:
            os.fdatasync(self.fd)
            os.close(self.fd)
            self.fd = fd
        self.size = len(SPOOL_HEADER)
        return True

    def close(self, *, committed: bool) -> None:
        """Stop syncing and close; with `committed` (the capture has every frame of it), delete the spool (its
        rotated part is the caller's: `forget_old`)."""
        with self.sync_lock:
            self.closed = True
            self.dirty.set()
            if committed:
                sync_capture(self.capture)
                self.path.unlink(missing_ok=True)  # while locked: nobody replays it meanwhile
            os.close(self.fd)
