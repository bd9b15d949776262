"""UI-free helpers of the viewer: filters, status parsing, credentials, hex dump, XML highlighting, replay input."""

from __future__ import annotations

import base64
import concurrent.futures
import threading
from pathlib import Path

import pytest

from viewer import credentials
from capture.model import CaptureError, FlowFilter
from capture.reader import CaptureReader
from tests.viewer.conftest import BASE_TS
from viewer.source import CaptureSource, FlowListing, parse_status, status_field, status_text
from viewer.widgets.hexdump import hexdump, line_of_offset
from viewer.widgets.xml_text import xml_highlights


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", (None, None)), ("401", (401, None)), ("http 500", (500, None)), ("3", (None, 3)), ("eas: 110", (None, 110)), ("EAS 177", (None, 177))],
)
def test_parse_status(text: str, expected: tuple[int | None, int | None]) -> None:
    assert parse_status(text) == expected


@pytest.mark.parametrize("text", ["abc", "http", "401 402", "eas x"])
def test_parse_status_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="status filter"):
        parse_status(text)


def test_flow_listing_describes_its_filter_and_is_the_readers_filter() -> None:
    listing = FlowListing(command="Sync", http_status=401, problems_only=True, text="inbox", order="response_size",
                          descending=True)
    assert listing.describe() == "Sync · HTTP 401 · problems only · text 'inbox' · by response size ↓"
    assert isinstance(listing, FlowFilter)
    assert listing.with_(command=None, order="ts_start") == FlowListing(
        http_status=401, problems_only=True, text="inbox", descending=True
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4xx", ((400, 499, False), None)),  # a class is HTTP
        ("1xx", ((100, 199, False), None)),
        ("!1", (None, (1, 1, True))),  # any EAS status but 1
        ("! 200", ((200, 200, True), None)),
        ("3-9", (None, (3, 9, False))),
        ("200 - 299", ((200, 299, False), None)),  # a range from 200 up is HTTP
        ("199", (None, 199)),  # below 200: an EAS status
        ("200", (200, None)),
        ("eas 401", (None, 401)),  # the kind overrides the number's side
        ("http 3", (3, None)),
        ("http !5xx", ((500, 599, True), None)),
        ("  Http:  7-7  ", (7, None)),  # a range of one code is that code
        ("eas !7-7", (None, (7, 7, True))),
    ],
)
def test_parse_status_ranges_classes_and_negation(text: str, expected: tuple[object, object]) -> None:
    assert parse_status(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("9-3", "status filter '9-3': the range 9-3 is empty"),
        ("6xx", "status filter '6xx': expected " + "a number (401, 3), 'http 401' / 'eas 3', a class (4xx), a range "
                "(3-9), or ! for any other (!1)"),
    ],
)
def test_parse_status_says_why_it_refuses(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_status(text)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("match", "shown"),
    [(401, "401"), ((400, 499, False), "4xx"), ((400, 499, True), "!4xx"), ((1, 1, True), "!1"),
     ((3, 9, False), "3-9"), ((400, 498, False), "400-498"), ((401, 500, False), "401-500"),
     ((0, 99, False), "0xx")],
)
def test_status_text_reads_back_as_typed(match: object, shown: str) -> None:
    assert status_text(match) == shown  # type: ignore[arg-type]


def test_status_field_spells_the_kind_out() -> None:
    assert status_field(401, None) == "http 401"
    assert status_field(None, (3, 9, False)) == "eas 3-9"
    assert status_field(None, None) == ""


def test_flow_listing_describes_every_filter_in_order() -> None:
    f = FlowListing(command="Sync", http_status=(500, 599, False), eas_status=(1, 1, True), problems_only=True,
                    text="inbox", collection_id="2", flow_ids=(4, 5, 6), order="no-such-order")
    assert f.describe() == ("Sync · HTTP 5xx · EAS !1 · problems only · text 'inbox' · collection 2 · "
                            "3 flow(s) of a finding · by no-such-order ↑")
    assert FlowListing().describe() == "by time ↑"
    assert FlowListing(collection_id="").describe() == "collection  · by time ↑"
    assert FlowListing().with_(command="Ping", descending=True) == FlowListing(command="Ping", descending=True)


def test_flow_listing_rows_are_its_flows_in_its_order_from_offset_to_limit(capture: Path) -> None:
    # the standard capture: FolderSync, Sync, Sync, Ping, Sync, one second apart from BASE_TS
    with CaptureReader(capture) as reader:
        by_command_down = FlowListing(order="command", descending=True)
        assert [(row.command, row.ts_start) for row in by_command_down.rows(reader, 1, 3)] == [
            ("Sync", BASE_TS + 2), ("Sync", BASE_TS + 1), ("Ping", BASE_TS + 3)]
        assert [row.ts_start for row in by_command_down.rows(reader, 0, None)] == [
            BASE_TS + 4, BASE_TS + 2, BASE_TS + 1, BASE_TS + 3, BASE_TS]
        syncs = FlowListing(command="Sync", order="command", descending=True)
        assert [row.ts_start for row in syncs.rows(reader, 1, None)] == [BASE_TS + 2, BASE_TS + 1]


def test_capture_source_runs_every_read_on_one_reader_thread_with_one_reader(capture: Path) -> None:
    source = CaptureSource(capture)
    try:
        first = source.call(lambda reader: (reader, threading.current_thread()))
        assert isinstance(first[0], CaptureReader) and first[0].path == capture
        assert first[1] is not threading.current_thread() and first[1].name.startswith("capture-reader")
        assert source.call(lambda reader: (reader, threading.current_thread())) == first
        assert source.submit(lambda reader: (reader, threading.current_thread())).result() == first
        # one thread: a read waits for the one before it
        release = threading.Event()
        order: list[int] = []
        blocked = source.submit(lambda reader: (release.wait(10), order.append(1)))
        waiting = source.submit(lambda reader: order.append(2))
        assert concurrent.futures.wait([waiting], timeout=0.3).not_done == {waiting}
        release.set()
        waiting.result(), blocked.result()
        assert order == [1, 2]
    finally:
        source.close()


def test_capture_source_passes_errors_back_and_refuses_reads_once_closed(capture: Path, tmp_path: Path) -> None:
    missing = CaptureSource(tmp_path / "none.sqlite")
    with pytest.raises(CaptureError, match="no such capture"):
        missing.call(lambda reader: reader.meta())
    missing.close()
    source = CaptureSource(capture)
    reader = source.call(lambda reader: reader)
    with pytest.raises(KeyError):
        source.call(lambda reader: {}["absent"])
    source.close()
    with pytest.raises(CaptureError, match="cannot read the capture"):
        reader.meta()  # closed with the source
    for read in (source.call, source.submit):
        with pytest.raises(RuntimeError, match="^capture closed$"):
            read(lambda reader: reader)
    source.close()  # a second close does nothing


def test_credentials_states() -> None:
    full = credentials.basic_authorization("jdoe", "s3cret")
    assert base64.b64decode(full.split()[1]) == b"jdoe:s3cret"
    assert credentials.auth_state([("Authorization", full)]) == "present"
    assert credentials.auth_state([("authorization", "Basic jdoe:<redacted>")]) == "redacted"
    assert credentials.auth_state([("Authorization", "Bearer <redacted>")]) == "redacted"
    assert credentials.auth_state([("Authorization", "Basic user='jdoe' (password hidden)")]) == "redacted"
    assert credentials.auth_state([("Authorization", "Bearer eyJhbGciOi")]) == "present"
    assert credentials.auth_state([("Host", "x")]) == "none"
    assert credentials.basic_user([("Authorization", full)]) == "jdoe"
    assert credentials.basic_user([("Authorization", "Basic jdoe:<redacted>")]) == "jdoe"
    assert credentials.basic_user([("Authorization", "Basic user='a b' (password hidden)")]) == "a b"
    headers = [("Host", "a"), ("X", "1"), ("host", "b")]
    assert credentials.replace_header(headers, "HOST", "c") == [("Host", "c"), ("X", "1")]
    assert credentials.replace_header(headers, "Y", "2")[-1] == ("Y", "2")
    assert credentials.replace_header(headers, "X", None) == [("Host", "a"), ("host", "b")]


def test_hexdump_lines_offsets_and_limit() -> None:
    data = bytes(range(40))
    lines = hexdump(data).splitlines()
    assert lines[0] == "00000000  00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f  |................|"
    assert lines[2].startswith("00000020  20 21 22 23 24 25 26 27") and lines[2].endswith("| !\"#$%&'|")
    assert line_of_offset(0x1F) == 1
    assert hexdump(b"") == "(empty)"
    assert hexdump(bytes(100), limit=32).splitlines()[-1] == "… 68 more bytes not shown (100 in all)"


def test_xml_highlights_tags_attributes_strings_and_multiline_comments() -> None:
    lines = ['<Sync xmlns="AirSync">', "  <Status>1</Status><!-- Success", "  still comment -->", "é<A b='c'/>"]
    found = xml_highlights(lines)
    assert (0, 5, "tag") in found[0] and (6, 11, "property") in found[0] and (12, 21, "string") in found[0]
    assert (2, 9, "tag") in found[1] and any(name == "comment" and end is None for _, end, name in found[1])
    assert found[2] == [(0, 19, "comment")]
    # byte offsets: the two-byte é shifts the tag by two
    assert (2, 4, "tag") in found[3]


def test_comment_states_and_line_highlights_for_lazy_rendering() -> None:
    from viewer.widgets.xml_text import comment_states, highlight_line

    lines = ["<a>", "<!-- one", "two", "three --> <b/>", "<!-- x --><!-- y", "z -->"]
    assert comment_states(lines) == [False, False, True, True, False, True]
    spans, in_comment, _ = highlight_line(lines[3], in_comment=True)
    assert spans[0] == (0, 9, "comment") and (10, 12, "tag") in spans and not in_comment
    spans, in_comment, _ = highlight_line("é<A b='c'/>")
    assert (1, 3, "tag") in spans  # character offsets for rich Text
