"""The ActiveSync addon in mitmproxy's test context: recognition, metadata, options, capture, commands."""

from __future__ import annotations

import json
import logging
import os
import signal
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from mitmproxy import contentviews, exceptions, flowfilter, hooks, http, io
from mitmproxy.test import taddons, tflow, tutils

from addon.activesync import ActiveSyncAddon
from addon.worker_protocol import FLAG_ANALYSE, CaptureSettings, flow_frame, flow_input_from_frame, split_frame
from capture.mitm import flow_input_from_mitm
from capture.reader import CaptureReader
from capture.writer import CaptureWriter
from eas.constants import path_kind
from tests.addon.conftest import (
    ADDON_SCRIPT,
    AUTH,
    BIG_RESPONSE,
    FOLDERSYNC_REQUEST,
    FOLDERSYNC_RESPONSE,
    MALFORMED_RESPONSE,
    PING_REQUEST,
    PING_RESPONSE,
    ROOT,
    SYNC_REQUEST,
    SYNC_RESPONSE,
    TEXT_UNDER_WBXML,
    WBXML_TYPE,
    eas_headers,
    eas_path,
)


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/Microsoft-Server-ActiveSync", "eas"),
        ("/Microsoft-Server-ActiveSync?Cmd=Sync&User=alice&DeviceId=D1&DeviceType=iPhone", "eas"),
        ("/microsoft-server-activesync?Cmd=Ping", "eas"),
        ("/MICROSOFT-SERVER-ACTIVESYNC/", "eas"),
        ("/SOGo/Microsoft-Server-ActiveSync?Cmd=FolderSync", "eas"),
        ("/Microsoft-Server-ActiveSync/Proxy/default.eas?Cmd=Sync", "eas"),
        ("/Microsoft-Server-ActiveSync?jAAJBBAwMTIzNDU2Nzg5QUJDREVGAAR=", "eas"),
        ("/autodiscover/autodiscover.xml", "autodiscover"),
        ("/Autodiscover/Autodiscover.xml", "autodiscover"),
        ("/autodiscover/autodiscover.json?Email=alice@example.com&Protocol=ActiveSync", "autodiscover"),
        ("/autodiscover/autodiscover.json/v1.0/alice@example.com?Protocol=ActiveSync", "autodiscover"),
        ("/", None),
        ("/owa/", None),
        ("/EWS/Exchange.asmx", None),
        ("/Microsoft-Server-ActiveSyncX", None),
        ("/index.html?next=/Microsoft-Server-ActiveSync", None),
        ("/autodiscover/autodiscover.svc", None),
    ],
)
def test_eas_kind_recognises_eas_and_autodiscover_paths(path: str, kind: str | None) -> None:
    assert path_kind(path) == kind


@pytest.fixture
def tctx() -> Iterator[taddons.context]:
    with taddons.context() as context:
        yield context
        for addon in context.master.addons.lookup.values():
            if isinstance(addon, ActiveSyncAddon):
                addon.done()  # stops the worker process


def load(tctx: taddons.context, **options: Any) -> ActiveSyncAddon:
    """Load the entry script the way `-s` does and return its addon, configured with `options`.

    Unless told otherwise the flow waits for its analysis ("wait"), so tests read metadata right after a hook.
    """
    script = tctx.script(str(ADDON_SCRIPT))
    addon = script.addons[0]
    assert isinstance(addon, ActiveSyncAddon)
    configure(tctx, addon, **{"activesync_annotate": "wait", **options})
    return addon


def configure(tctx: taddons.context, addon: ActiveSyncAddon, **options: Any) -> None:
    """Set options and run the addon's configure, as mitmproxy does for a script's addons (undone on error)."""
    with tctx.options.rollback(set(options), reraise=True):
        tctx.options.update(**options)
        tctx.master.addons.invoke_addon_sync(addon, hooks.ConfigureHook(set(options)))


def run(tctx: taddons.context, coroutine: Coroutine[Any, Any, Any]) -> Any:
    return tctx.master.event_loop.run_until_complete(coroutine)


def eas_flow(
    cmd: str = "Sync",
    body: bytes = SYNC_REQUEST,
    response: bytes | None = SYNC_RESPONSE,
    *,
    status: int = 200,
    path: str | None = None,
    response_headers: tuple[tuple[bytes, bytes], ...] = ((b"Content-Type", WBXML_TYPE.encode()),),
) -> http.HTTPFlow:
    headers = http.Headers([(k.encode(), v.encode()) for k, v in eas_headers().items()])
    request = tutils.treq(
        method=b"POST", host="mail.example.com", port=443, scheme=b"https",
        path=(path or eas_path(cmd)).encode(), headers=headers, content=body,
    )
    f = tflow.tflow(req=request)
    if response is not None:
        f.response = tutils.tresp(status_code=status, headers=http.Headers(list(response_headers)), content=response)
    return f


def wire_state(f: http.HTTPFlow) -> tuple[Any, ...]:
    """Everything that goes on the wire (what the addon must never change)."""
    response = f.response
    return (
        f.request.method, f.request.url, f.request.headers.fields, f.request.raw_content,
        response and (response.status_code, response.reason, response.headers.fields, response.raw_content),
    )


def test_the_entry_script_registers_the_addon_and_the_contentview(tctx: taddons.context) -> None:
    addon = load(tctx)
    assert "activesync" in contentviews.registry
    assert contentviews.registry["ActiveSync"].name == "ActiveSync"
    default = Path(tctx.options.activesync_capture)
    assert default.parent == ROOT / "captures"
    assert default.name == "eas-%Y%m%d-%H%M%S.sqlite"
    assert addon.capture_path is not None and addon.capture_path.parent == ROOT / "captures"
    assert tctx.options.activesync_keep_credentials is False
    assert tctx.options.activesync_max_body == 0
    assert tctx.options.activesync_annotate == "wait"  # as load() sets it; the default is "live"
    assert tctx.options.default("activesync_annotate") == "live"


def test_loading_the_script_writes_no_capture_file(tctx: taddons.context) -> None:
    before = set((ROOT / "captures").iterdir())
    load(tctx)
    assert set((ROOT / "captures").iterdir()) == before


def test_a_negative_max_body_is_refused(tctx: taddons.context) -> None:
    addon = load(tctx, activesync_capture="")
    with pytest.raises(exceptions.OptionsError, match="activesync_max_body"):
        configure(tctx, addon, activesync_max_body=-5)


def test_a_capture_under_a_file_is_refused(tctx: taddons.context, tmp_path: Path) -> None:
    addon = load(tctx, activesync_capture="")
    (tmp_path / "file").write_text("x")
    with pytest.raises(exceptions.OptionsError, match="activesync_capture"):
        configure(tctx, addon, activesync_capture=str(tmp_path / "file" / "capture.sqlite"))


def test_the_capture_path_expands_strftime_patterns(tctx: taddons.context, tmp_path: Path) -> None:
    addon = load(tctx, activesync_capture=str(tmp_path / "run-%Y.sqlite"))
    assert addon.capture_path is not None
    assert addon.capture_path.parent == tmp_path
    assert addon.capture_path.name.startswith("run-2") and "%" not in addon.capture_path.name


def test_an_empty_capture_option_turns_capture_off(tctx: taddons.context) -> None:
    addon = load(tctx, activesync_capture="")
    assert addon.capture_path is None


def test_a_waiting_request_shows_before_its_response(tctx: taddons.context) -> None:
    addon = load(tctx, activesync_capture="")
    f = eas_flow("Ping", PING_REQUEST, None)
    addon.requestheaders(f)
    addon.request(f)
    assert f.metadata["activesync.kind"] == "eas"
    assert f.metadata["activesync.command"] == "Ping"
    assert f.metadata["activesync.user"] == "alice"
    assert f.metadata["activesync.device"] == "DEV1"
    assert f.metadata["activesync.version"] == "14.1"
    assert f.comment.startswith("EAS Ping 14.1 user=alice device=DEV1")


def test_a_complete_flow_is_annotated_and_left_byte_for_byte(tctx: taddons.context) -> None:
    addon = load(tctx, activesync_capture="")
    f = eas_flow("FolderSync", FOLDERSYNC_REQUEST, FOLDERSYNC_RESPONSE)
    before = wire_state(f)
    run(tctx, tctx.cycle(addon, f))
    assert wire_state(f) == before
    assert f.metadata["activesync.command"] == "FolderSync"
    assert f.metadata["activesync.problems"] == 0, f.metadata.get("activesync.problem")
    assert f.metadata["activesync.status"] == 1
    assert "activesync.error" not in f.metadata
    assert "HTTP 200 ok FolderSync/Status=1 (success)" in f.comment


@pytest.mark.parametrize(
    ("response", "status", "where"),
    [(MALFORMED_RESPONSE, 200, "response body"), (TEXT_UNDER_WBXML, 500, "response body")],
    ids=["malformed-wbxml", "text-under-wbxml-type"],
)
def test_undecodable_bodies_are_problems_not_failures(
    tctx: taddons.context, response: bytes, status: int, where: str
) -> None:
    addon = load(tctx, activesync_capture="")
    f = eas_flow("Sync", SYNC_REQUEST, response, status=status)
    before = wire_state(f)
    run(tctx, tctx.cycle(addon, f))
    assert wire_state(f) == before
    assert "activesync.error" not in f.metadata
    assert f.metadata["activesync.problems"] >= 1
    assert f.metadata["activesync.outcome"] == "failed"
    # the worst judgement first: an HTTP failure before an undecodable body
    assert f.metadata["activesync.problem"].startswith(where if status == 200 else f"HTTP {status}")
    assert f"HTTP {status} failed" in f.comment


def test_a_large_body_is_analysed_too(tctx: taddons.context) -> None:
    addon = load(tctx, activesync_capture="")
    assert len(BIG_RESPONSE) > 2 * 1024 * 1024
    f = eas_flow("ItemOperations", FOLDERSYNC_REQUEST, BIG_RESPONSE)
    before = wire_state(f)
    run(tctx, tctx.cycle(addon, f))
    assert wire_state(f) == before
    assert f.metadata["activesync.command"] == "ItemOperations"
    assert "activesync.error" not in f.metadata


def test_a_user_comment_is_kept(tctx: taddons.context) -> None:
    addon = load(tctx, activesync_capture="")
    f = eas_flow()
    f.comment = "look at this one"
    run(tctx, tctx.cycle(addon, f))
    assert f.comment == "look at this one"
    assert f.metadata["activesync.command"] == "Sync"


def test_other_traffic_is_not_touched(tctx: taddons.context, tmp_path: Path) -> None:
    capture = tmp_path / "capture.sqlite"
    addon = load(tctx, activesync_capture=str(capture))
    f = tflow.tflow(resp=True)
    before = wire_state(f)
    run(tctx, tctx.cycle(addon, f))
    addon.done()
    assert wire_state(f) == before
    assert f.metadata == {}
    assert f.comment == ""
    assert not capture.exists()  # no EAS flow, so no capture file at all


def test_with_annotate_off_flows_are_only_recorded(tctx: taddons.context, tmp_path: Path) -> None:
    capture = tmp_path / "capture.sqlite"
    addon = load(tctx, activesync_capture=str(capture), activesync_annotate="off")
    f = eas_flow()
    run(tctx, tctx.cycle(addon, f))
    addon.done()
    assert f.metadata == {"activesync.kind": "eas"}
    assert f.comment == ""
    assert [record.row.command for record in read_capture(capture)] == ["Sync"]


def test_live_annotation_arrives_after_the_flow_went_on(tctx: taddons.context, tmp_path: Path) -> None:
    capture = tmp_path / "capture.sqlite"
    addon = load(tctx, activesync_capture=str(capture), activesync_annotate="live")
    f = eas_flow("FolderSync", FOLDERSYNC_REQUEST, FOLDERSYNC_RESPONSE)
    before = wire_state(f)
    run(tctx, tctx.cycle(addon, f))  # returns without waiting for the worker
    assert f.metadata["activesync.command"] == "FolderSync"  # from the query, inline
    run(tctx, addon.settled())
    assert wire_state(f) == before
    assert f.metadata["activesync.status"] == 1
    assert f.metadata["activesync.problems"] == 0
    assert "HTTP 200 ok FolderSync/Status=1 (success)" in f.comment
    addon.done()
    assert [record.row.command for record in read_capture(capture)] == ["FolderSync"]


def test_the_meta_filter_selects_by_command_and_status(tctx: taddons.context) -> None:
    addon = load(tctx, activesync_capture="")
    sync, ping = eas_flow("Sync"), eas_flow("Ping", PING_REQUEST, None)
    for f in (sync, ping):
        run(tctx, tctx.cycle(addon, f))
    by_command = flowfilter.parse('~meta "activesync.command: Ping"')
    assert [bool(by_command(f)) for f in (sync, ping)] == [False, True]
    assert flowfilter.parse("~comment Sync")(sync)


def read_capture(path: Path) -> list[Any]:
    from capture.reader import CaptureReader

    with CaptureReader(path) as reader:
        return [reader.flow(row.id) for row in sorted(reader.flows(limit=1000), key=lambda row: row.id)]


def test_eas_flows_are_recorded_once_each(tctx: taddons.context, tmp_path: Path) -> None:
    capture = tmp_path / "capture.sqlite"
    addon = load(tctx, activesync_capture=str(capture))
    flows = [eas_flow("FolderSync", FOLDERSYNC_REQUEST, FOLDERSYNC_RESPONSE), eas_flow(), tflow.tflow(resp=True)]
    for f in flows:
        run(tctx, tctx.cycle(addon, f))
    run(tctx, addon.error(flows[1]))  # an error after the response must not store the flow twice
    addon.done()
    records = read_capture(capture)
    assert [record.row.command for record in records] == ["FolderSync", "Sync"]
    assert records[1].response_body == SYNC_RESPONSE
    assert AUTH not in dict(records[0].request_headers).values()


def test_keep_credentials_stores_authorization_as_sent(tctx: taddons.context, tmp_path: Path) -> None:
    capture = tmp_path / "capture.sqlite"
    addon = load(tctx, activesync_capture=str(capture), activesync_keep_credentials=True)
    run(tctx, tctx.cycle(addon, eas_flow()))
    addon.done()
    (record,) = read_capture(capture)
    assert dict(record.request_headers)["Authorization"] == AUTH


def test_max_body_limits_stored_bodies(tctx: taddons.context, tmp_path: Path) -> None:
    capture = tmp_path / "capture.sqlite"
    addon = load(tctx, activesync_capture=str(capture), activesync_max_body=1000)
    run(tctx, tctx.cycle(addon, eas_flow("ItemOperations", FOLDERSYNC_REQUEST, BIG_RESPONSE)))
    addon.done()
    (record,) = read_capture(capture)
    assert record.response_body is not None and len(record.response_body) <= 1000


def test_a_flow_still_waiting_when_the_proxy_stops_is_recorded(tctx: taddons.context, tmp_path: Path) -> None:
    capture = tmp_path / "capture.sqlite"
    addon = load(tctx, activesync_capture=str(capture))
    f = eas_flow("Ping", PING_REQUEST, None)
    addon.requestheaders(f)
    addon.request(f)
    addon.done()
    (record,) = read_capture(capture)
    assert record.row.command == "Ping"
    assert record.response_body is None


def test_a_failed_flow_is_recorded_with_its_error(tctx: taddons.context, tmp_path: Path) -> None:
    capture = tmp_path / "capture.sqlite"
    addon = load(tctx, activesync_capture=str(capture))
    f = eas_flow("Sync", SYNC_REQUEST, None)
    f.error = tflow.terr("server disconnected")
    run(tctx, tctx.cycle(addon, f))
    addon.done()
    (record,) = read_capture(capture)
    assert record.error is not None and "server disconnected" in record.error


def test_a_flow_that_cannot_be_framed_is_reported_and_the_next_is_recorded(
    tctx: taddons.context, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    capture = tmp_path / "capture.sqlite"
    addon = load(tctx, activesync_capture=str(capture), activesync_annotate="live")  # frames go out later
    caplog.set_level(logging.INFO)
    odd = eas_flow()
    before = wire_state(odd)
    run(tctx, tctx.cycle(addon, odd))
    odd.comment = object()  # type: ignore[assignment]  # another addon's doing, before the frame goes out
    fine = eas_flow("FolderSync", FOLDERSYNC_REQUEST, FOLDERSYNC_RESPONSE)
    run(tctx, tctx.cycle(addon, fine))
    run(tctx, addon.settled())
    assert wire_state(odd) == before
    assert "unmarshallable" in odd.metadata["activesync.error"]
    assert fine.metadata["activesync.status"] == 1
    addon.done()
    assert [record.row.command for record in read_capture(capture)] == ["FolderSync"]
    assert sum("1 flows not stored" in record.getMessage() for record in caplog.records) == 1


def test_a_capture_that_cannot_be_opened_is_said_once_and_traffic_goes_on(
    tctx: taddons.context, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "capture.sqlite"
    directory.mkdir()
    addon = load(tctx, activesync_capture=str(directory))
    caplog.set_level(logging.INFO)
    flows = [eas_flow(), eas_flow("FolderSync", FOLDERSYNC_REQUEST, FOLDERSYNC_RESPONSE)]
    for f in flows:
        before = wire_state(f)
        run(tctx, tctx.cycle(addon, f))
        assert wire_state(f) == before
        assert f.metadata["activesync.command"]
    addon.done()
    assert sum("capture disabled" in record.getMessage() for record in caplog.records) == 1


def test_a_streamed_body_is_analysed_as_absent(tctx: taddons.context) -> None:
    addon = load(tctx, activesync_capture="")
    f = eas_flow()
    f.request.stream = True
    f.request.raw_content = None
    run(tctx, tctx.cycle(addon, f))
    assert f.request.raw_content is None
    assert f.metadata["activesync.command"] == "Sync"


def test_export_commands_write_only_eas_flows(tctx: taddons.context, tmp_path: Path) -> None:
    addon = load(tctx, activesync_capture="")
    flows = [eas_flow("FolderSync", FOLDERSYNC_REQUEST, FOLDERSYNC_RESPONSE), eas_flow(), tflow.tflow(resp=True)]
    for f in flows:
        run(tctx, tctx.cycle(addon, f))

    addon.export_mitm(flows, str(tmp_path / "out.mitm"))
    with (tmp_path / "out.mitm").open("rb") as fp:
        exported = list(io.FlowReader(fp).stream())
    assert [f.request.path for f in exported] == [flows[0].request.path, flows[1].request.path]

    addon.export_har(flows, str(tmp_path / "out.har"))
    har = json.loads((tmp_path / "out.har").read_text())
    assert len(har["log"]["entries"]) == 2

    addon.export_xml(flows, str(tmp_path / "out.xml"))
    document = etree.parse(str(tmp_path / "out.xml"))
    assert len(document.getroot()) == 2


def test_export_without_eas_flows_is_a_command_error(tctx: taddons.context, tmp_path: Path) -> None:
    addon = load(tctx, activesync_capture="")
    with pytest.raises(exceptions.CommandError, match="no ActiveSync"):
        addon.export_xml([tflow.tflow(resp=True)], str(tmp_path / "out.xml"))


def test_export_to_an_unwritable_place_is_a_command_error(tctx: taddons.context, tmp_path: Path) -> None:
    addon = load(tctx, activesync_capture="")
    (tmp_path / "file").write_text("x")
    with pytest.raises(exceptions.CommandError, match="export to"):
        addon.export_har([eas_flow()], str(tmp_path / "file" / "out.har"))


def test_the_commands_are_registered_with_their_names(tctx: taddons.context) -> None:
    load(tctx)
    names = set(tctx.master.commands.commands)
    assert {"activesync.export.xml", "activesync.export.mitm", "activesync.export.har", "activesync.capture"} <= names


def test_a_killed_worker_is_replaced_and_traffic_goes_on(
    tctx: taddons.context, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    capture = tmp_path / "capture.sqlite"
    addon = load(tctx, activesync_capture=str(capture))
    run(tctx, tctx.cycle(addon, eas_flow()))
    assert addon.proc is not None
    addon.proc.process.kill()  # a crash of the worker process (or an OOM kill)
    addon.proc.process.wait()
    caplog.set_level(logging.INFO)
    after = [eas_flow("FolderSync", FOLDERSYNC_REQUEST, FOLDERSYNC_RESPONSE), eas_flow("Ping", PING_REQUEST, PING_RESPONSE)]
    for f in after:
        before = wire_state(f)
        run(tctx, tctx.cycle(addon, f))
        assert wire_state(f) == before
    assert sum("worker process failed" in record.getMessage() for record in caplog.records) == 1
    assert after[1].metadata["activesync.command"] == "Ping"
    assert after[1].metadata["activesync.problems"] == 0, after[1].metadata  # analysed by the new worker
    addon.done()
    assert "Ping" in [record.row.command for record in read_capture(capture)]


def test_a_stuck_worker_never_holds_a_flow_in_wait_mode(tctx: taddons.context) -> None:
    addon = load(tctx, activesync_capture="")
    run(tctx, tctx.cycle(addon, eas_flow()))  # the worker is up
    assert addon.proc is not None
    addon.wait_limit = 0.5
    os.kill(addon.proc.process.pid, signal.SIGSTOP)  # a decoder that never comes back
    try:
        f = eas_flow("FolderSync", FOLDERSYNC_REQUEST, FOLDERSYNC_RESPONSE)
        before = wire_state(f)
        run(tctx, tctx.cycle(addon, f))  # returns after the limit, without the analysis
        assert wire_state(f) == before
        assert "no analysis within 0.5 s" in f.metadata["activesync.error"]
        assert "activesync.status" not in f.metadata
    finally:
        os.kill(addon.proc.process.pid, signal.SIGCONT)
    run(tctx, addon.settled())
    assert f.metadata["activesync.status"] == 1  # it lands once the worker answers


def test_a_burst_larger_than_the_pipe_goes_out_without_blocking_and_is_recorded(
    tctx: taddons.context, tmp_path: Path
) -> None:
    capture = tmp_path / "capture.sqlite"
    addon = load(tctx, activesync_capture=str(capture), activesync_annotate="live")
    flows = [eas_flow("ItemOperations", FOLDERSYNC_REQUEST, BIG_RESPONSE) for _ in range(3)]
    flows += [eas_flow("FolderSync", FOLDERSYNC_REQUEST, FOLDERSYNC_RESPONSE) for _ in range(5)]

    async def burst() -> None:
        for f in flows:  # megabytes queued while a batch is still going into the pipe
            await tctx.cycle(addon, f)
        await addon.settled()

    run(tctx, burst())
    assert all(f.metadata.get("activesync.status") == 1 for f in flows)  # every analysis arrived
    addon.done()
    assert [record.row.command for record in read_capture(capture)] == ["ItemOperations"] * 3 + ["FolderSync"] * 5


def test_flows_held_back_for_a_batch_are_recorded_when_the_proxy_stops(tctx: taddons.context, tmp_path: Path) -> None:
    capture = tmp_path / "capture.sqlite"
    addon = load(tctx, activesync_capture=str(capture), activesync_annotate="live")
    flows = [eas_flow("FolderSync", FOLDERSYNC_REQUEST, FOLDERSYNC_RESPONSE) for _ in range(4)]

    async def burst() -> None:
        for f in flows:
            await tctx.cycle(addon, f)

    run(tctx, burst())  # returns while the flows wait for the batch's short delay
    addon.done()
    assert [record.row.command for record in read_capture(capture)] == ["FolderSync"] * 4


def frame_parts(frame: bytes) -> tuple[Any, bytes | None, bytes | None]:
    """A flow frame's fields and bodies, as the worker reads them."""
    return split_frame(frame)


def frame_test_flows() -> list[http.HTTPFlow]:
    waiting = eas_flow(response=None)
    failed = tflow.tflow(err=True)
    https = tflow.tflow(resp=True)
    https.request.scheme = "https"
    https.request.headers["Host"] = "mail.example.com:8443"
    https.marked = ":star:"
    https.comment = "checked"
    https.metadata.update({"count": 3, "note": "x", "object": object(), "flag": True})
    https.server_conn.address = ("::1", 8443)
    streamed = eas_flow()
    streamed.request.data.content = None
    assert streamed.response is not None
    streamed.response.data.content = None
    trailers = eas_flow()
    trailers.request.trailers = http.Headers([(b"X-Checksum", b"\xff1")])
    return [eas_flow(), waiting, failed, https, streamed, trailers]


@pytest.mark.parametrize("index", range(6))
def test_the_worker_rebuilds_the_flow_input_the_capture_would_make(index: int) -> None:
    f = frame_test_flows()[index]
    frame = flow_frame(1, f, "eas", FLAG_ANALYSE, CaptureSettings("capture.sqlite", False, None))
    assert flow_input_from_frame(*frame_parts(frame)) == flow_input_from_mitm(f)


def test_metadata_goes_to_the_worker_as_the_capture_stores_it(tmp_path: Path) -> None:
    from enum import Enum

    class Colour(str, Enum):
        RED = "red"

    f = eas_flow()
    f.metadata["colour"] = Colour.RED  # a JSON scalar by subclass: sent as the plain value JSON writes
    f.metadata[Colour.RED] = 1
    f.metadata["palette"] = Colour  # not a JSON scalar: left out, as the capture leaves it out
    f.metadata[("a", "b")] = 2  # a key JSON cannot write: left out (the capture could not store the flow)
    frame = flow_frame(1, f, "eas", FLAG_ANALYSE, None)
    flow_input = flow_input_from_frame(*frame_parts(frame))
    assert {key: value for key, value in flow_input.extra["metadata"].items() if key in ("colour", "red")} == {
        "colour": "red",
        "red": 1,
    }
    assert type(flow_input.extra["metadata"]["colour"]) is str
    assert "palette" not in flow_input.extra["metadata"]
    with CaptureWriter(tmp_path / "capture.sqlite") as writer:
        flow_id = writer.add_sync(flow_input)
    with CaptureReader(tmp_path / "capture.sqlite") as reader:
        assert reader.flow(flow_id).extra["metadata"]["colour"] == "red"
