"""The timeline's layout from hand-made flows (rows, round cells, started and running flows, worst outcome), and the
reader's timeline rows and list positions from a real capture."""

from __future__ import annotations

from pathlib import Path

import pytest

from capture.model import FlowFilter
from capture.reader import CaptureReader
from capture.timeline import Cell, TimelineFlow, build_timeline, flow_lanes, lane_label, lane_order, round_step
from eas.verdicts import Outcome
from tests.viewer.conftest import BASE_TS
from tests.viewer.timeline_capture import write_timeline_capture


def flow(flow_id: int, start: float, end: float | None, command: str, collections: tuple[str, ...] = (),
         outcome: Outcome | None = Outcome.OK) -> TimelineFlow:
    return TimelineFlow(flow_id, start, end, command, collections, outcome)


def test_collections_are_rows_but_ping_and_commands_without_one_have_their_commands_row() -> None:
    assert flow_lanes("Sync", ["5", "7", "5"]) == (("collection", "5"), ("collection", "7"))
    assert flow_lanes("Ping", ["5"]) == (("command", "Ping"),)  # the folders it watches are not its rows
    assert flow_lanes("FolderSync", []) == (("command", "FolderSync"),)
    assert flow_lanes(None, []) == (("command", "(no command)"),)
    lanes = [(("command", "FolderSync"),), (("collection", "5"),), (("command", "Ping"),), (("collection", "7"),)]
    assert lane_order(lanes) == (("collection", "5"), ("collection", "7"), ("command", "FolderSync"),
                                 ("command", "Ping"))
    assert lane_label(("collection", "5"), {"5": "Inbox"}) == "Inbox"
    assert lane_label(("collection", "9"), {"5": "Inbox"}) == "9"
    assert lane_label(("command", "Ping"), {"Ping": "not a folder"}) == "Ping"


@pytest.mark.parametrize(
    ("span", "cells", "step"),
    [
        (612, 63, 10),  # 61.2 cells of 10 s, and one for the round start
        (612, 62, 15),
        (612, 69, 10),
        (612, 189, 5),
        (59, 61, 1),
        (59, 60, 1),
        (59, 59, 2),
        (0, 10, 0.1),
        (3 * 86400, 10, 43200),
        (40 * 86400, 5, 10 * 86400),  # past a day a cell: whole days
    ],
)
def test_a_cell_lasts_the_shortest_round_step_that_fits(span: float, cells: int, step: float) -> None:
    assert round_step(span, cells) == step


def test_cells_hold_the_flows_that_start_or_run_in_them_with_the_worst_outcome() -> None:
    flows = [
        flow(1, 100.0, 100.1, "FolderSync"),
        flow(2, 103.0, 163.0, "Ping", ("5",)),  # held a minute
        flow(3, 101.0, 101.2, "Sync", ("5",), Outcome.WARNING),
        flow(4, 108.0, 108.1, "Sync", ("5",), Outcome.FAILED),
        flow(5, 109.9, None, "Sync", ("5", "7")),  # no end recorded: it ends at its start
        flow(6, 150.0, 150.1, "Settings", (), None),  # stored without a verdict
    ]
    # 63.1 s over 8 cells: 10 s cells (6.3 <= 7), from 100 (a multiple of 10)
    timeline = build_timeline(flows, 8)
    assert (timeline.start, timeline.step, timeline.cell_count) == (100.0, 10.0, 7)
    assert timeline.lanes == (("collection", "5"), ("collection", "7"), ("command", "FolderSync"),
                              ("command", "Ping"), ("command", "Settings"))
    assert dict(timeline.rows[("collection", "5")]) == {0: Cell((3, 4, 5), (), Outcome.FAILED)}
    assert dict(timeline.rows[("collection", "7")]) == {0: Cell((5,), (), Outcome.OK)}
    assert dict(timeline.rows[("command", "Ping")]) == {
        0: Cell((2,), (), Outcome.OK),
        **{index: Cell((), (2,), Outcome.OK) for index in range(1, 7)},
    }
    assert dict(timeline.rows[("command", "Settings")]) == {5: Cell((6,), (), None)}
    assert timeline.cell(("command", "FolderSync"), 1) is None
    assert timeline.cell(("collection", "5"), 0).flows == (3, 4, 5)  # type: ignore[union-attr]


def test_a_running_flow_and_a_flow_starting_share_the_cell_and_its_worst_outcome() -> None:
    flows = [flow(1, 0.0, 25.0, "Sync", ("5",)), flow(2, 12.0, 12.5, "Sync", ("5",), Outcome.FAILED),
             flow(3, 21.0, 21.5, "Sync", ("5",), Outcome.WARNING)]
    timeline = build_timeline(flows, 4)
    assert (timeline.start, timeline.step) == (0.0, 10.0)
    assert dict(timeline.rows[("collection", "5")]) == {
        0: Cell((1,), (), Outcome.OK),
        1: Cell((2,), (1,), Outcome.FAILED),
        2: Cell((3,), (1,), Outcome.WARNING),
    }


def test_no_flows_give_no_rows_and_no_cells_is_refused() -> None:
    assert build_timeline([], 10).lanes == ()
    with pytest.raises(ValueError, match="at least one cell"):
        build_timeline([flow(1, 0.0, 1.0, "Ping")], 0)


def test_reader_gives_a_sessions_timeline_rows_and_positions_in_a_filtered_list(tmp_path: Path) -> None:
    path = write_timeline_capture(tmp_path / "timeline.sqlite")
    with CaptureReader(path) as reader:
        flows = reader.timeline_flows(1)
        assert [item.flow_id for item in flows] == list(range(1, 13))  # not #13: another device's session
        ping = flows[3]
        assert (ping.command, ping.ts_start, ping.ts_end, ping.outcome) == ("Ping", BASE_TS + 2, BASE_TS + 302,
                                                                            Outcome.OK)
        assert (flows[5].collection_ids, flows[5].outcome, flows[5].eas_status) == (("5",), Outcome.FAILED, 3)
        assert (flows[9].http_status, flows[9].outcome) == (503, Outcome.FAILED)
        assert flows[11].outcome is Outcome.WARNING
        assert reader.timeline_flows(99) == []
        # every flow by time: #1 #2 #3 #4, then #13 (+4 s), then #5 ...
        assert reader.position(13) == 4 and reader.position(5) == 5
        assert reader.position(5, descending=True) == 7
        assert reader.position(7, FlowFilter(outcome="failed")) == 1  # #6, #7, #10 failed
        assert reader.position(1, FlowFilter(outcome="failed")) is None
