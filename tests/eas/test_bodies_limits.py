"""Compression bombs: every Content-Encoding is decoded up to MAX_DECODED_SIZE and no further, and says so."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib
from collections.abc import Callable
from typing import Any

import pytest

import eas
from eas import bodies
from eas.errors import LimitError

MIB = 1024 * 1024
# The cap a body is shown up to: 64 MiB is above any attachment a mail server hands out in one ItemOperations
# answer, and far below what a bomb expands to.
EXPECTED_CAP = 64 * MIB


def zeros_stream(compressor: Any, total: int, step: int = 4 * MIB) -> bytes:
    """`total` zero bytes compressed a piece at a time (never the whole plain text in memory)."""
    out = []
    chunk = b"\0" * step
    for _ in range(total // step):
        out.append(compressor(chunk))
    return b"".join(out)


def brotli_bomb(total: int) -> bytes:
    brotli = pytest.importorskip("brotli")
    compressor = brotli.Compressor(quality=1)
    return zeros_stream(compressor.process, total) + compressor.finish()


def gzip_bomb(total: int) -> bytes:
    compressor = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return zeros_stream(compressor.compress, total) + compressor.flush()


def test_the_cap_is_64_mib() -> None:
    assert bodies.MAX_DECODED_SIZE == EXPECTED_CAP


@pytest.mark.parametrize(("coding", "bomb"), [("br", brotli_bomb), ("gzip", gzip_bomb)])
def test_a_bomb_stops_at_the_cap_with_memory_bounded(coding: str, bomb: Callable[[int], bytes]) -> None:
    body = bomb(4 * EXPECTED_CAP)  # 256 MiB of zeros
    assert len(body) < 2 * MIB  # about 100 KB for brotli, about 1 MB for gzip
    tracemalloc.start()
    try:
        with pytest.raises(LimitError) as info:
            bodies.decode_content_encoding(body, coding)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert f"{coding} body expands beyond {EXPECTED_CAP} bytes; decoding stopped there" in str(info.value)
    # What the decoder held at most: the cap plus one step of output, never the bomb's 256 MiB.
    assert peak < EXPECTED_CAP + 8 * MIB


def test_a_brotli_body_just_under_the_cap_decodes_whole() -> None:
    brotli = pytest.importorskip("brotli")
    plain = bytes(range(256)) * (EXPECTED_CAP // 256)  # exactly the cap
    assert bodies.decode_content_encoding(brotli.compress(plain, quality=1), "br") == plain


def test_a_brotli_bomb_in_a_response_is_a_problem_and_the_raw_body_is_kept() -> None:
    body = brotli_bomb(2 * EXPECTED_CAP)
    exchange = eas.analyze(
        "POST",
        "https://mail.example.com/Microsoft-Server-ActiveSync?Cmd=Sync&User=alice&DeviceId=D1&DeviceType=T",
        [("Content-Type", "application/vnd.ms-sync.wbxml")],
        b"",
        200,
        [("Content-Type", "application/vnd.ms-sync.wbxml"), ("Content-Encoding", "br")],
        body,
    )
    reasons = [problem.reason for problem in exchange.problems if problem.where == "response body"]
    assert reasons == [f"br body expands beyond {EXPECTED_CAP} bytes; decoding stopped there"]
    assert exchange.response_body is not None
    assert exchange.response_body.size == len(body)  # shown as the still-encoded bytes


def test_truncated_brotli_is_reported_as_ending_early() -> None:
    brotli = pytest.importorskip("brotli")
    whole = brotli.compress(bytes(range(256)) * 4096)
    with pytest.raises(bodies.ContentEncodingError, match="br data ends early"):
        bodies.decode_content_encoding(whole[: len(whole) // 2], "br")


def test_gzip_still_decodes() -> None:
    assert bodies.decode_content_encoding(gzip.compress(b"hello"), "gzip") == b"hello"


def zstd_bomb(total: int) -> bytes:
    zstd = pytest.importorskip("backports.zstd")
    compressor = zstd.ZstdCompressor()
    return zeros_stream(compressor.compress, total) + compressor.flush()


def test_a_zstd_bomb_stops_at_the_cap() -> None:
    body = zstd_bomb(2 * EXPECTED_CAP)
    with pytest.raises(LimitError, match=f"zstd body expands beyond {EXPECTED_CAP} bytes; decoding stopped there"):
        bodies.decode_content_encoding(body, "zstd")


def test_zstd_under_the_cap_decodes_whole() -> None:
    zstd = pytest.importorskip("backports.zstd")
    plain = bytes(range(256)) * 40_000
    assert bodies.decode_content_encoding(zstd.compress(plain), "zstd") == plain
