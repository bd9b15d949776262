"""The addon's exports: private files (0600), missing folders created, the count said in good English; and the
command of a base64-query flow in its comment from the request on."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from mitmproxy.test import taddons

from tests.addon.conftest import base64_query
from tests.addon.test_addon import eas_flow, load, run, tctx  # noqa: F401 (tctx is a fixture)


@pytest.mark.parametrize("fmt", ["xml", "mitm", "har"])
def test_an_export_is_private_and_its_missing_folders_are_made(
    tctx: taddons.context, tmp_path: Path, fmt: str  # noqa: F811
) -> None:
    addon = load(tctx, activesync_capture="")
    f = eas_flow()
    run(tctx, tctx.cycle(addon, f))
    target = tmp_path / "new" / "folder" / f"out.{fmt}"
    old_umask = os.umask(0o022)
    try:
        getattr(addon, f"export_{fmt}")([f], str(target))
    finally:
        os.umask(old_umask)
    assert target.stat().st_mode & 0o777 == 0o600
    assert target.stat().st_size > 0


def test_an_export_over_a_readable_file_makes_it_private(tctx: taddons.context, tmp_path: Path) -> None:  # noqa: F811
    addon = load(tctx, activesync_capture="")
    target = tmp_path / "out.xml"
    target.write_text("old")
    target.chmod(0o644)
    addon.export_xml([eas_flow()], str(target))
    assert target.stat().st_mode & 0o777 == 0o600
    assert "old" not in target.read_text()


@pytest.mark.parametrize(("count", "said"), [(1, "Exported 1 ActiveSync flow to"), (2, "Exported 2 ActiveSync flows to")])
def test_the_count_is_said_in_the_singular_or_plural(
    tctx: taddons.context, tmp_path: Path, caplog: pytest.LogCaptureFixture, count: int, said: str  # noqa: F811
) -> None:
    addon = load(tctx, activesync_capture="")
    with caplog.at_level(logging.INFO):
        addon.export_xml([eas_flow() for _ in range(count)], str(tmp_path / "out.xml"))
    assert said in caplog.text


def test_a_base64_query_flow_names_its_command_in_the_comment_at_request_time(
    tctx: taddons.context,  # noqa: F811
) -> None:
    addon = load(tctx, activesync_capture="", activesync_annotate="live")
    f = eas_flow("Sync", path=f"/Microsoft-Server-ActiveSync?{base64_query()}")
    assert "Cmd=" not in f.request.path  # the URL in the flow list does not name the command
    addon.request(f)
    assert f.comment.startswith("EAS Sync")  # mitmweb's Comment column, the console's Detail tab, ~comment
