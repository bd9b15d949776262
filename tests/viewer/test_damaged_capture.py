"""The viewer on damaged captures (issue 17.5): every row listed, a damaged time shown as unknown, a flow whose
record is damaged named in one notification line; the app keeps running (and exits 0 only when nothing broke)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.capture.hostile import DAMAGED_CAPTURES, GOOD_FLOWS, damaged_capture
from tests.viewer.helpers import flow_list, notifications, wait_for, wait_loaded
from viewer.app import make_app
from viewer.widgets.flow_list import UNKNOWN_TIME, clock_text, layout, row_text

SIZE = (120, 36)


@pytest.mark.parametrize("damage", ["ts-start-text", "ts-start-huge", "ts-start-blob", "status-text", "sizes-text"])
async def test_rows_with_damaged_values_are_listed(tmp_path: Path, damage: str) -> None:
    capture = damaged_capture(tmp_path / "c.sqlite", damage)
    app = make_app(capture)
    async with app.run_test(size=SIZE) as pilot:
        flows = await wait_loaded(pilot, app, GOOD_FLOWS)
        texts = [str(row_text(flows.row_at(index), layout(SIZE[0]))) for index in range(GOOD_FLOWS)]  # type: ignore[arg-type]
        assert len(texts) == GOOD_FLOWS
        await pilot.pause()
    assert app.return_code in (None, 0)


async def test_a_damaged_record_is_one_notification_line(tmp_path: Path) -> None:
    capture = damaged_capture(tmp_path / "c.sqlite", "headers-bad-json")
    app = make_app(capture)
    async with app.run_test(size=SIZE) as pilot:
        flows = await wait_loaded(pilot, app, GOOD_FLOWS)
        flows.move_cursor(next(i for i in range(GOOD_FLOWS) if flows.row_at(i).id == 2))  # type: ignore[union-attr]
        await pilot.press("enter")
        await wait_for(pilot, lambda: any(s == "error" for s, _ in notifications(app)), "an error notification")
        message = next(m for s, m in notifications(app) if s == "error")
        assert "flow 2" in message and "request_headers" in message and "\n" not in message
    assert app.return_code in (None, 0)


def test_clock_text_of_values_that_are_not_times() -> None:
    assert clock_text("yesterday") == UNKNOWN_TIME
    assert clock_text(1e300) == UNKNOWN_TIME
    assert clock_text(float("nan")) == UNKNOWN_TIME
    assert clock_text(None) == UNKNOWN_TIME
    assert clock_text(0.25).endswith(".250")
