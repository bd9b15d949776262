"""Export from the viewer: the marked or the filtered flows, as annotated XML, .mitm and HAR, read back from disk."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from lxml import etree
from mitmproxy import io
from textual.widgets import Input


from tests.viewer.helpers import flow_list, main, notifications, wait_for, wait_loaded, wait_screen
from viewer.app import make_app
from viewer.export import ExportPathScreen

EXPORT_NS = "{urn:eas-inspector:export}"


async def _answer_path(pilot: object, app: object, path: Path) -> None:
    screen = await wait_screen(pilot, app, ExportPathScreen)  # type: ignore[arg-type]
    field = screen.query_one("#export-path", Input)
    field.value = str(path)
    await pilot.press("enter")  # type: ignore[attr-defined]


@pytest.mark.parametrize("size", [(80, 24), (200, 50)])
async def test_x_exports_the_marked_flows_as_annotated_xml_into_a_new_folder(
    capture: Path, tmp_path: Path, size: tuple[int, int]
) -> None:
    target = tmp_path / "new" / "folder" / "marked.xml"
    app = make_app(capture)
    async with app.run_test(size=size) as pilot:
        flows = await wait_loaded(pilot, app, 5)
        flows.focus()
        await pilot.press("m", "down", "down", "m")  # the FolderSync (1) and the failing Sync (3)
        await pilot.press("x")
        await _answer_path(pilot, app, target)
        await wait_for(pilot, lambda: any("Exported" in m for _, m in notifications(app)), "the export")
    assert ("information", f"Exported 2 flow(s) to {target}") in notifications(app)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    root = etree.fromstring(target.read_bytes())
    exchanges = root.findall(f"{EXPORT_NS}exchange")
    assert [(e.get("id"), e.get("command")) for e in exchanges] == [("1", "FolderSync"), ("3", "Sync")]
    # annotated: the decoded response XML is there with the annotation comments
    assert "FolderSync" in etree.tostring(exchanges[0]).decode()
    assert any(isinstance(node, etree._Comment) for node in exchanges[1].iter())


async def test_without_marks_the_filtered_list_is_exported_as_mitm_and_har(capture: Path, tmp_path: Path) -> None:
    app = make_app(capture)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_loaded(pilot, app, 5)
        main(app).set_filter(http_status=401)
        await wait_loaded(pilot, app, 1)
        assert not flow_list(app).marked
        main(app).action_export("mitm")
        await _answer_path(pilot, app, tmp_path / "out" / "ping.mitm")
        await wait_for(pilot, lambda: (tmp_path / "out" / "ping.mitm").stat().st_size > 0
                       if (tmp_path / "out" / "ping.mitm").exists() else False, "the .mitm file")
        main(app).action_export("har")
        await _answer_path(pilot, app, tmp_path / "out" / "ping.har")
        await wait_for(pilot, lambda: sum("Exported" in m for _, m in notifications(app)) == 2, "both exports")
    with open(tmp_path / "out" / "ping.mitm", "rb") as source:
        read_back = list(io.FlowReader(source).stream())
    assert [(f.request.path.split("Cmd=")[1].split("&")[0], f.response.status_code) for f in read_back] == [("Ping", 401)]
    har = json.loads((tmp_path / "out" / "ping.har").read_text())
    assert [entry["response"]["status"] for entry in har["log"]["entries"]] == [401]
    for name in ("ping.mitm", "ping.har"):
        assert stat.S_IMODE((tmp_path / "out" / name).stat().st_mode) == 0o600


async def test_an_unwritable_target_is_a_one_line_error(capture: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    app = make_app(capture)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_loaded(pilot, app, 5)
        main(app).action_export("har")
        await _answer_path(pilot, app, blocker / "out.har")
        await wait_for(pilot, lambda: any(s == "error" for s, _ in notifications(app)), "the error")
    errors = [m for s, m in notifications(app) if s == "error"]
    assert len(errors) == 1 and errors[0].startswith("Export failed: ") and "\n" not in errors[0]
