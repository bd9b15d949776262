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


def test_lanes_are_collections_by_folder_name_then_each_command() -> None:
    assert timeline_lanes(SESSION) == [("c:7", "Inbox (7)"), ("cmd:Sync", "Sync")]


def test_cells_hold_the_flows_starting_or_running_in_them_on_a_shared_time_axis() -> None:
    svg = timeline_svg(SESSION)
    marks = [
        (found[0], float(found[1]), float(found[2]), float(found[3]), int(found[4]), found[5])
        for found in re.findall(
            r'data-flows="([\d ]+)" x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="(\d+)" fill="(#\w+)"', svg)
    ]
    # 100 s in at most 200 cells: 1 s cells (0.5 s would need 200 and one for the round start), 101 of them from
    # 1000 s across the plot from x=190 to x=986: 7.88 units a cell. Lanes are 24 high under a 30 high axis; a
    # cell where a flow starts is 14 high (5 below its lane's top), one it runs through 4 high (10 below).
    green, red = "#2e8540", "#c62828"
    cell = 796 / 101
    expected = [("1", 190.0, 35.0, 7.88, 14, green)]
    expected += [("1", round(190 + index * cell, 2), 40.0, 7.88, 4, green) for index in range(1, 11)]
    expected += [("2", round(190 + 90 * cell, 2), 59.0, 7.88, 14, red)]
    expected += [("2", round(190 + index * cell, 2), 64.0, 7.88, 4, red) for index in range(91, 101)]
    assert marks == expected
    assert expected[11][1] == 899.31
    assert svg.count("<a href=\"#flow-1\">") == 11 and svg.count("<a href=\"#flow-2\">") == 11


def test_a_cell_of_several_flows_is_filled_by_the_worst_and_names_them_all() -> None:
    session = SessionView(
        anchor="session-2", label="bob", details=(),
        flows=(flow(1, 1000.0, 1000.1, ("7",), Outcome.OK), flow(2, 1000.2, 1000.3, ("7",), Outcome.FAILED),
               flow(3, 1000.4, 1000.5, ("7",), Outcome.WARNING), flow(4, 1100.0, 1100.1, ("7",), Outcome.OK)),
        folder_names={},
    )
    svg = timeline_svg(session)
    first = re.search(r'<a href="#flow-(\d+)"><rect class="mark (\w+)" data-flows="([\d ]+)"[^>]*fill="(#\w+)"'
                      r'[^>]*><title>([^<]*)</title>', svg)
    assert first is not None
    assert first.groups()[:4] == ("1", "failed", "1 2 3", "#c62828")
    title = first.group(5)
    assert "3 flows started · worst failed" in title
    assert all(f"flow {flow_id} · Sync · HTTP 200" in title for flow_id in (1, 2, 3))
