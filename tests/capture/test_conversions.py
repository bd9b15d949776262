"""capture.schema's conversions of stored values: header lists as JSON, text with non-UTF-8 bytes as a BLOB, and the
schema scripts cut into statements; expectations written by hand."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from capture.schema import headers_from_json, headers_json, split_sql, sql_text, text_from_sql


@pytest.mark.parametrize(
    ("headers", "stored"),
    [
        (None, None),
        ((), "[]"),
        ((("Content-Type", "application/vnd.ms-sync.wbxml"),), '[["Content-Type", "application/vnd.ms-sync.wbxml"]]'),
        ((("A", "1"), ("A", "2")), '[["A", "1"], ["A", "2"]]'),  # repeated names kept in order
        ((("X-Name", "caf\u00e9"),), '[["X-Name", "caf\\u00e9"]]'),  # ASCII only
        ((("X-Bad", "caf\udce9"),), '[["X-Bad", "caf\\udce9"]]'),  # the byte E9 as its surrogate escape
        ((("\udcff", ""),), '[["\\udcff", ""]]'),
        ((("Q", 'say "hi"\\'),), '[["Q", "say \\"hi\\"\\\\"]]'),
    ],
)
def test_headers_json(headers: Any, stored: str | None) -> None:
    assert headers_json(headers) == stored


@pytest.mark.parametrize(
    ("stored", "headers"),
    [
        (None, None),
        ("[]", ()),
        ('[["Host", "mail.example.com"], ["Host", "x"]]', (("Host", "mail.example.com"), ("Host", "x"))),
        ('[["X-Name", "caf\\u00e9"]]', (("X-Name", "caf\u00e9"),)),
        ('[["X-Bad", "caf\\udce9"]]', (("X-Bad", "caf\udce9"),)),
        ('[["\\udcff", ""]]', (("\udcff", ""),)),
        ('[["N", 5], [7, null]]', (("N", "5"), ("7", "None"))),  # any JSON scalar read as its text
    ],
)
def test_headers_from_json(stored: str | None, headers: Any) -> None:
    read = headers_from_json(stored)
    assert read == headers
    if read is not None:
        assert type(read) is tuple and all(type(pair) is tuple for pair in read)


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("Sync", "Sync"),
        ("caf\u00e9", "caf\u00e9"),  # valid text stays text
        ("", ""),
        ("caf\udce9", b"caf\xe9"),  # bytes that were not UTF-8: their exact bytes
        ("\u00e9\udcff", b"\xc3\xa9\xff"),
        ("\ud800", b"\xed\xa0\x80"),
        ("\udcff\ud800", b"\xff\xed\xa0\x80"),  # the escape still its byte beside a surrogate no byte made
        (None, None),
        (42, 42),
        (1.5, 1.5),
        (b"raw", b"raw"),
    ],
)
def test_sql_text(value: Any, stored: Any) -> None:
    converted = sql_text(value)
    assert converted == stored
    assert type(converted) is type(stored)


@pytest.mark.parametrize(
    ("stored", "value"),
    [
        (b"caf\xe9", "caf\udce9"),
        (b"caf\xc3\xa9", "caf\u00e9"),  # a BLOB of valid UTF-8 reads as its text
        (b"\xff\xfe", "\udcff\udcfe"),
        (b"", ""),
        ("Sync", "Sync"),
        (None, None),
        (7, 7),
    ],
)
def test_text_from_sql(stored: Any, value: Any) -> None:
    converted = text_from_sql(stored)
    assert converted == value
    assert type(converted) is type(value)


def test_text_columns_in_a_real_database() -> None:
    """What SQLite keeps: valid text as TEXT, text with stray bytes as a BLOB of exactly those bytes."""
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, value TEXT)")
    for n, value in enumerate(["Sync", "caf\u00e9", "caf\udce9", None]):
        connection.execute("INSERT INTO t VALUES (?, ?)", (n, sql_text(value)))
    rows = connection.execute("SELECT typeof(value), hex(value), value FROM t ORDER BY n").fetchall()
    assert [row[:2] for row in rows] == [("text", "53796E63"), ("text", "636166C3A9"), ("blob", "636166E9"), ("null", "")]
    assert [text_from_sql(row[2]) for row in rows] == ["Sync", "caf\u00e9", "caf\udce9", None]


@pytest.mark.parametrize(
    ("script", "statements"),
    [
        ("", []),
        ("SELECT 1", ["SELECT 1"]),
        (
            "CREATE TABLE a (x); -- a note; with a semicolon\nINSERT INTO a VALUES (1);\n\n  ;",
            ["CREATE TABLE a (x)", " \nINSERT INTO a VALUES (1)"],
        ),
        ("-- only -- comments;\n   \n", []),
        ("SELECT 1 -- one\n , 2;SELECT 3", ["SELECT 1 \n , 2", "SELECT 3"]),
        ("A;\nB --c;d\n;C", ["A", "\nB \n", "C"]),
    ],
)
def test_split_sql(script: str, statements: list[str]) -> None:
    assert list(split_sql(script)) == statements
