"""Fuzz target for the .mitm import, `explain` and the capture reader (issue 17): mutated valid inputs, and only
the allowed outcomes: read (imported, explained), or one line per failure naming it, never a traceback.

Bounded (max_examples); the hypothesis profile of tests/conftest.py derandomizes it in CI, and scripts/run-fuzz
runs it with new random examples.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capture.model import CaptureError
from capture.reader import CaptureReader
from eas_inspector.cli import main
from tests.capture.hostile import GOOD_FLOWS, good_flows, mitm_bytes, write_good_capture

# 60 examples in CI and locally (the profile in tests/conftest.py derandomizes CI); scripts/run-fuzz (profile
# `random`) asks for its own larger number.
FUZZ = settings(max_examples=settings().max_examples if os.environ.get("HYPOTHESIS_PROFILE") == "random" else 60,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
VALID_MITM = mitm_bytes(good_flows())


@st.composite
def mutated_mitm(draw: st.DrawFn) -> bytes:
    """The valid file with bytes flipped, replaced by digits or ':', cut, or with a slice repeated."""
    data = bytearray(VALID_MITM)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "digit", "cut", "repeat", "length"]))
        at = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "digit":
            data[at] = draw(st.sampled_from(b"0123456789:,]}#^!~"))
        elif kind == "cut":
            del data[at:]
        elif kind == "repeat":
            data[at:at] = data[at : at + draw(st.integers(1, 64))]
        else:  # a length prefix out of any proportion
            data[at:at] = draw(st.sampled_from([b"999999999999:", b"99:", b"0:", b"-1:"]))
        if not data:
            data = bytearray(b"0")
    return bytes(data)


def allowed(status: int, err: str, what: str) -> None:
    lines = err.splitlines()
    assert "Traceback" not in err, err
    if status == 0:
        return
    assert status in (1, 2, 3), (status, err)  # 3: a partial import
    assert lines and lines[-1].startswith("eas-inspector: "), (what, err)
    assert all(line.startswith("eas-inspector: ") or " could not be written" in line for line in lines), err


@given(data=mutated_mitm())
@FUZZ
def test_explain_and_import_of_mutated_mitm_files(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  data: bytes) -> None:
    source = tmp_path / "fuzz.mitm"
    source.write_bytes(data)
    allowed(main(["explain", str(source)]), capsys.readouterr().err, "explain")
    capture = tmp_path / "fuzz.sqlite"
    for leftover in (capture, Path(f"{capture}-wal"), Path(f"{capture}-shm")):
        leftover.unlink(missing_ok=True)
    allowed(main(["import", str(source), str(capture)]), capsys.readouterr().err, "import")


COLUMNS = ["request_headers", "response_headers", "problems", "timestamps", "connection", "extra", "ts_start",
           "ts_end", "port", "http_status", "eas_status", "request_size", "collection_ids", "sync_keys", "method",
           "url", "path", "session_id", "replay_of", "problem_count"]
VALUES: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.binary(max_size=40),
    st.sampled_from(["[", "{", "[[1]]", "[[\"a\", \"b\", \"c\"]]", "{\"a\": {}}", "[{}]", "[{\"where\": 1}]", "null",
                     "1e999", "\"text\"", "[" * 5000 + "]" * 5000]),
)


@given(column=st.sampled_from(COLUMNS), value=VALUES, body=st.one_of(st.none(), st.text(max_size=20), st.binary()))
@FUZZ
def test_the_reader_of_mutated_capture_rows(tmp_path: Path, column: str, value: Any, body: Any) -> None:
    path = tmp_path / "fuzz.sqlite"
    for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        leftover.unlink(missing_ok=True)
    write_good_capture(path)
    connection = sqlite3.connect(path)
    try:
        connection.execute(f"UPDATE flows SET {column} = ? WHERE id = 2", (value,))
        if body is not None:
            connection.execute("UPDATE flow_bodies SET response_body = ? WHERE flow_id = 2", (body,))
        connection.commit()
    except sqlite3.IntegrityError:
        return  # a NOT NULL column: SQLite itself refuses the damage
    finally:
        connection.close()
    with CaptureReader(path) as reader:
        rows = reader.flows(limit=None)
        assert len(rows) == GOOD_FLOWS
        for row in rows:
            try:
                record = reader.flow(row.id)
            except CaptureError as err:
                assert row.id == 2 and "\n" not in str(err) and str(err).startswith("flow 2: the "), err
            else:
                assert isinstance(record.request_body, bytes)
                assert all(isinstance(v, float) for v in record.timestamps.values())
