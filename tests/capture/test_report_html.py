"""The report's pure pieces: the one escape of capture text, and the timeline's geometry from hand-made flows."""

from __future__ import annotations

import re

from capture.report_html import FlowView, SessionView, text, timeline_lanes, timeline_svg
from eas.verdicts import Outcome


def flow(flow_id: int, start: float, end: float | None, collections: tuple[str, ...], outcome: Outcome) -> FlowView:
    return FlowView(flow_id, start, end, "POST", "https://h/Microsoft-Server-ActiveSync?Cmd=Sync", "Sync", 200,
                    collections, outcome, (), ())


SESSION = SessionView(
    anchor="session-1", label="alice", details=(),
    flows=(flow(1, 1000.0, 1010.0, ("7",), Outcome.OK), flow(2, 1090.0, 1100.0, (), Outcome.FAILED)),
    folder_names={"7": "Inbox"},
)


def test_text_escapes_markup_and_quotes() -> None:
    assert text('a<b>&"\'') == "a&lt;b&gt;&amp;&quot;&#x27;"
    assert text(None) == ""


def test_text_shows_bytes_that_were_not_utf8_and_control_characters() -> None:
    # U+DCFF is the surrogate escape of the byte 0xFF (PEP 383); 0x01 is a control character
    assert text("x\udcff\x01y") == "x\\xff\\x01y"
    assert text("tab\tand\nline") == "tab\tand\nline"


def test_lanes_are_collections_by_folder_name_then_the_rest() -> None:
    assert timeline_lanes(SESSION) == [("c:7", "Inbox (7)"), ("other", "other commands")]


def test_marks_span_start_to_end_on_a_shared_time_axis() -> None:
    svg = timeline_svg(SESSION)
    marks = {
        int(found[0]): (float(found[1]), float(found[2]), float(found[3]), found[4])
        for found in re.findall(
            r'data-flow="(\d+)" x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="14" fill="(#\w+)"', svg)
    }
    # The plot runs from x=190 to x=986 (1000 wide, 14 right margin) over 100 s: 7.96 units a second. Lanes are
    # 24 high under a 30 high axis; a 14 high mark sits 5 below its lane's top.
    assert marks == {
        1: (190.0, 35.0, 79.6, "#2e8540"),
        2: (906.4, 59.0, 79.6, "#c62828"),
    }
    assert svg.count("<a href=\"#flow-") == 2
