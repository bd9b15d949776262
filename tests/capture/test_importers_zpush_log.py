"""`eas-inspector import` of z-push / grommunio-sync debug logs: requests per process, bodies from base64 lines.

Public samples (real server output, quoted in issues):
- Z-Hub/Z-Push issue 196 ("Run-away log"): `[13624] [WBXML] WBXML-OUT: AwFqAAAHVkwDOQABAQ==` and
  `WBXML-IN : AwFqAAAHVlIDezM5...` (a FolderSync with a SyncKey, answered Status 9), logged without user.
- Z-Hub/Z-Push issue 99 ("Error once an iOS created appointment is pushed to Z-Push"): the FATAL
  `WBXMLException: Unknown error in Sync->Handle()` and `WBXML 10K debug data: AwFqAEVcT0sD...` of a Sync
  adding a calendar item.
- fmbiete/Z-Push-contrib issue 228: the older start line `Version='...' method='POST' from='...' cmd='FolderSync'
  getUser='mgean' devId='...' devType='iPhone'`.
The start and end lines around them follow z-push's index.php (the `cmd=... httpcode='200'` end line).
"""

from __future__ import annotations

import base64
from itertools import zip_longest
from pathlib import Path

from mitmproxy import http

import eas
from tests.capture import forms
from tests.capture.conftest import Stored, assert_lab_session, cli, stored

ISSUE_196 = """\
05/08/2026 11:13:31 [13624] [DEBUG] -------- Start
05/08/2026 11:13:31 [13624] [DEBUG] cmd='FolderSync' devType='Android' devId='androidc1234' getUser='frank' from='198.51.100.4' version='2.7.5' method='POST'
05/08/2026 11:13:31 [13624] [DEBUG] Request::ProcessHeaders() ASVersion: 14.0
05/08/2026 11:13:31 [13624] [WBXML] O  <FolderHierarchy:FolderSync>
05/08/2026 11:13:31 [13624] [WBXML] WBXML-OUT: AwFqAAAHVkwDOQABAQ==
05/08/2026 11:13:31 [13624] [WBXML] WBXML-IN : AwFqAAAHVlIDezM5NzY2NTk5LWFmMzEtNDlmYi04NDRkLWZmNjg1NTcwMTJkOH0xAAEB
05/08/2026 11:13:31 [13624] [ INFO] cmd='FolderSync' memory='2.00 MiB/2.00 MiB' time='0.10s' devType='Android' devId='androidc1234' getUser='frank' from='198.51.100.4' idle='0s' version='2.7.5' method='POST' httpcode='200'
05/08/2026 11:13:31 [13624] [DEBUG] -------- End
"""

ISSUE_99_BODY = (
    "AwFqAEVcT0sDezUwYzM2YzM3LTdhZWYtNDZkMy04MDk0LTQyZDllZjIxMTQxY30xMwABUgNjL0Nwcml2YXRlAAETVQMyNQABVwARRUYD"
    "MQABRwMzMjc2OAABAQEAAFZHTAM1ODI4MQABXQAERQN4UC8vL3dBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
    "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBb0FBQUFGQUFNQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
    "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQ"
    "U1BQUFBRkFBSUFBQUFBQUFBQXhQLy8vdz09AAFGAzAAAU0DMgABUgMyMDI0MDgyMlQxMjAwMDBaAAEAESAABCRlAzAAAWYDVGVzdDIAAWcD"
    "MjAyNDA4MjJUMTAwMDAwWgABfAM0MTRFODlEREJFRUI0N0YyOUVCODhFOTU3MjExQkU2QjAuMzIAAVgDMAABBxsBAQEBAQE="
)

ISSUE_99 = f"""\
20/08/2024 12:53:18 [4135616] [DEBUG] [dirk] -------- Start
20/08/2024 12:53:18 [4135616] [DEBUG] [dirk] cmd='Sync' devType='iPhone' devId='abcdef0123' getUser='dirk' from='203.0.113.9' version='2.7.3' method='POST'
20/08/2024 12:53:18 [4135616] [FATAL] [dirk] WBXMLException: Unknown error in Sync->Handle() - code: 0 - file: /z-push/src/lib/request/requestprocessor.php:117
20/08/2024 12:53:18 [4135616] [FATAL] [dirk] WBXML 10K debug data: {ISSUE_99_BODY}
20/08/2024 12:53:18 [4135616] [ INFO] [dirk] cmd='Sync' memory='4.00 MiB/4.00 MiB' time='0.20s' devType='iPhone' devId='abcdef0123' getUser='dirk' from='203.0.113.9' idle='0s' version='2.7.3' method='POST' httpcode='500'
20/08/2024 12:53:18 [4135616] [DEBUG] [dirk] -------- End
"""


def test_the_public_sample_of_issue_196_imports(tmp_path: Path) -> None:
    (tmp_path / "z-push.log").write_text(ISSUE_196, encoding="utf-8")
    result = cli("import", "z-push.log", "z.sqlite", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    (flow,) = stored(tmp_path / "z.sqlite")
    assert (flow.command, flow.http_status, flow.eas_status) == ("FolderSync", 200, 9)
    assert (flow.user, flow.device_id) == ("frank", "androidc1234")
    assert flow.response_body == base64.b64decode("AwFqAAAHVkwDOQABAQ==")
    assert b"{39766599-af31-49fb-844d-ff68557012d8}1" in flow.request_body
    assert flow.extra["origin"] == {"form": "zpush-log", "file": "z-push.log", "entry": 1}
    # a z-push log shows no HTTP headers: the rules that read them say they could not check
    assert flow.extra["missing"] == ["host", "request_headers", "response_headers"]
    assert (flow.extra["process"], flow.extra["line"], flow.extra["client_address"]) == (13624, 1, "198.51.100.4")
    assert flow.extra["headers_from_log"] == ["MS-ASProtocolVersion", "Content-Type"]


def test_a_failed_request_keeps_its_10k_debug_data_and_exception(tmp_path: Path) -> None:
    (tmp_path / "error.log").write_text(ISSUE_99, encoding="utf-8")
    assert cli("import", "error.log", "e.sqlite", cwd=tmp_path).returncode == 0
    (flow,) = stored(tmp_path / "e.sqlite")
    assert (flow.command, flow.http_status, flow.user) == ("Sync", 500, "dirk")
    assert flow.request_body == base64.b64decode(ISSUE_99_BODY)
    assert "<calendar:Subject>Test2</calendar:Subject>" in eas.decode_to_xml(flow.request_body)
    assert flow.extra["exception"] == (
        "WBXMLException: Unknown error in Sync->Handle() - code: 0 - file: "
        "/z-push/src/lib/request/requestprocessor.php:117"
    )
    assert flow.extra["missing"] == ["host", "request_headers", "response_headers"] and flow.response_body == b""


def test_interleaved_processes_are_told_apart(tmp_path: Path) -> None:
    first, second = ISSUE_196.splitlines(), ISSUE_99.splitlines()
    mixed = [line for pair in zip_longest(first, second) for line in pair if line is not None]
    (tmp_path / "mixed.log").write_text("\n".join(mixed) + "\n", encoding="utf-8")
    assert cli("import", "mixed.log", "mixed.sqlite", cwd=tmp_path).returncode == 0
    flows = stored(tmp_path / "mixed.sqlite")
    assert sorted((f.command, f.http_status, f.user) for f in flows) == [
        ("FolderSync", 200, "frank"), ("Sync", 500, "dirk")
    ]


def test_bodies_the_log_cut_short_are_marked_and_damage_named(tmp_path: Path) -> None:
    big = eas.encode(
        '<Sync xmlns="AirSync"><Collections><Collection><SyncKey>1</SyncKey><CollectionId>1</CollectionId>'
        f'<Commands><Add><ClientId>1</ClientId><ApplicationData><Subject xmlns="Email">{"x" * 6000}</Subject>'
        "</ApplicationData></Add></Commands></Collection></Collections></Sync>"
    )
    logged_in = base64.b64encode(big[:4096]).decode()  # Request::GetInputAsBase64(4096)
    damaged_out = "AwFqAAAHVkwD!!!OQABAQ=="
    text = ISSUE_196.replace("AwFqAAAHVlIDezM5NzY2NTk5LWFmMzEtNDlmYi04NDRkLWZmNjg1NTcwMTJkOH0xAAEB", logged_in)
    text = text.replace("AwFqAAAHVkwDOQABAQ==", damaged_out).replace("cmd='FolderSync'", "cmd='Sync'")
    (tmp_path / "cut.log").write_text(text, encoding="utf-8")
    result = cli("import", "cut.log", "cut.sqlite", cwd=tmp_path)
    assert result.returncode == 3
    assert result.stderr.splitlines()[0] == (
        "eas-inspector: cut.log: request 1 (line 1, process 13624): line 5: the base64 body is damaged at "
        "character 13; kept the 9 bytes before it"
    )
    (flow,) = stored(tmp_path / "cut.sqlite")
    assert flow.request_body == big[:4096]
    assert flow.response_body == base64.b64decode("AwFqAAAHVkwD")
    assert flow.extra["truncated"] == ["request_body", "response_body"]


def test_a_log_that_ends_inside_a_request_keeps_it(tmp_path: Path) -> None:
    lines = ISSUE_196.splitlines()
    (tmp_path / "short.log").write_text("\n".join(lines[:5]) + "\n", encoding="utf-8")  # up to WBXML-OUT
    result = cli("import", "short.log", "s.sqlite", cwd=tmp_path)
    assert result.returncode == 3
    assert result.stderr.splitlines()[0] == (
        "eas-inspector: short.log: request 1 (line 1, process 13624): the log ends before this request's end line"
    )
    (flow,) = stored(tmp_path / "s.sqlite")
    assert (flow.command, flow.http_status, flow.eas_status) == ("FolderSync", None, 9)
    assert flow.extra["missing"] == ["host", "request_body", "request_headers", "response_headers", "response_status"]


def test_a_response_over_512k_is_named_missing(tmp_path: Path) -> None:
    text = ISSUE_196.replace("WBXML-OUT: AwFqAAAHVkwDOQABAQ==", "WBXML-OUT: more than 512K of data")
    (tmp_path / "large.log").write_text(text, encoding="utf-8")
    assert cli("import", "large.log", "l.sqlite", cwd=tmp_path).returncode == 0
    (flow,) = stored(tmp_path / "l.sqlite")
    assert flow.extra["missing"] == ["host", "request_headers", "response_body", "response_headers"]
    assert flow.extra["notes"] == ["WBXML-OUT: more than 512K of data"]


def test_the_older_start_line_is_read(tmp_path: Path) -> None:
    older = ISSUE_196.replace(
        "cmd='FolderSync' devType='Android' devId='androidc1234' getUser='frank' from='198.51.100.4' "
        "version='2.7.5' method='POST'",
        "Version='SVN-trunk-r1981' method='POST' from='2.12.49.185' cmd='FolderSync' getUser='mgean' "
        "devId='kesui6t2e97kt148e4m44phha4' devType='iPhone'",
    ).replace("[DEBUG] Version=", "[ INFO] Version=")
    without_end_line = "".join(line for line in older.splitlines(keepends=True) if "httpcode=" not in line)
    (tmp_path / "old.log").write_text(without_end_line, encoding="utf-8")
    assert cli("import", "old.log", "o.sqlite", cwd=tmp_path).returncode == 0
    (flow,) = stored(tmp_path / "o.sqlite")
    assert (flow.command, flow.user, flow.device_id) == ("FolderSync", "mgean", "kesui6t2e97kt148e4m44phha4")
    assert (flow.http_status, flow.eas_status) == (None, 9)


def test_the_lab_session_as_a_zpush_log_gives_the_same_diagnosis(
    tmp_path: Path, lab_flows: list[http.HTTPFlow], lab_reference: list[Stored]
) -> None:
    forms.write_zpush_log(tmp_path / "lab.log", lab_flows)
    result = cli("import", "lab.log", "lab.sqlite", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    flows = stored(tmp_path / "lab.sqlite")
    assert_lab_session(flows)
    assert [(f.command, f.http_status, f.eas_status, f.user, f.device_id) for f in flows] == [
        (f.command, f.http_status, f.eas_status, f.user, f.device_id) for f in lab_reference
    ]
    assert [f.response_body or b"" for f in flows] == [f.response_body or b"" for f in lab_reference]


def test_an_info_level_log_gives_one_flow_per_end_line(tmp_path: Path) -> None:
    info_only = "".join(line + "\n" for line in (ISSUE_196 + ISSUE_99).splitlines() if "[ INFO]" in line)
    (tmp_path / "info.log").write_text(info_only, encoding="utf-8")
    assert cli("import", "info.log", "i.sqlite", cwd=tmp_path).returncode == 0
    flows = stored(tmp_path / "i.sqlite")
    assert [(f.command, f.http_status, f.user, f.device_id) for f in flows] == [
        ("FolderSync", 200, "frank", "androidc1234"), ("Sync", 500, "dirk", "abcdef0123")
    ]
    assert flows[0].extra["missing"] == ["host", "request_body", "request_headers", "response_body", "response_headers"]


def test_an_options_request_lacks_no_body(tmp_path: Path, lab_flows: list[http.HTTPFlow]) -> None:
    # MS-ASHTTP 2.2.3, 4.2: the answer to OPTIONS is its headers, so no WBXML-OUT line is expected for it.
    assert lab_flows[0].request.method == "OPTIONS"
    (tmp_path / "options.log").write_text("\n".join(forms.zpush_request_lines(4001, lab_flows[0])) + "\n")
    assert cli("import", "options.log", "o.sqlite", cwd=tmp_path).returncode == 0
    (flow,) = stored(tmp_path / "o.sqlite")
    assert (flow.method, flow.http_status) == ("OPTIONS", 200)
    assert flow.extra["missing"] == ["host", "request_headers", "response_headers"]
