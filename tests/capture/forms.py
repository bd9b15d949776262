"""The lab session written in each form evidence comes in, by writers that follow each form's documentation.

Sources of the layouts (facts only; the writers are ours):
- HAR 1.2: written by mitmproxy's own exporter (`mitmproxy.addons.savehar.SaveHar.make_har`, what `mitmproxy
  --set hardump=...` and mitmweb's "Export as HAR" write) straight from the recorded flows.
- Fiddler .saz: raw/NN_c.txt (request as sent), raw/NN_s.txt (response), raw/NN_m.xml (`<Session>` with
  `<SessionTimers ClientBeginRequest=... />` and `<SessionFlags><SessionFlag N=... V=.../>`), as Fiddler's
  SAZ format documentation describes and as saz files in public repositories show.
- Exchange mailbox log: `Log Entry: N` between lines of dashes, sections `Name :` with indented values
  (Microsoft's "Exchange ActiveSync Mailbox Logging" and "Under The Hood: Exchange ActiveSync Mailbox Log
  Analysis" articles; the section names as dseph/MailboxLogParser reads them); content replaced by
  `bytes="N"` attributes (the same article: `<Subject xmlns="Email:" bytes="19"/>`).
- z-push / grommunio-sync: `DD/MM/YYYY HH:MM:SS [  pid] [LEVEL] [user] message` (z-push lib/log/filelog.php
  BuildLogString), the start line of index.php, `WBXML-IN : ` / `WBXML-OUT: ` (requestprocessor.php,
  wbxmlencoder.php), the end line with httpcode (index.php).
"""

from __future__ import annotations

import base64
import json
import re
import zipfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from lxml import etree
from mitmproxy import http, io
from mitmproxy.addons.savehar import SaveHar

import eas
from eas.bodies import looks_like_wbxml
from eas.multipart import parse_multipart
from eas.codepages import CODE_PAGES

ROOT = Path(__file__).resolve().parents[2]
LAB_SESSION = ROOT / "tests" / "data" / "real" / "lab-session.mitm"
PAGE_NAMES = frozenset(page.name for page in CODE_PAGES)


def lab_flows() -> list[http.HTTPFlow]:
    """Every flow of the recorded lab session, read with mitmproxy's own reader."""
    return mitm_flows(LAB_SESSION)


def mitm_flows(path: Path) -> list[http.HTTPFlow]:
    """Every HTTP flow of a .mitm file, read with mitmproxy's own reader."""
    with path.open("rb") as file:
        return [flow for flow in io.FlowReader(file).stream() if isinstance(flow, http.HTTPFlow)]


def _head_lines(headers: http.Headers) -> list[str]:
    return [f"{name}: {value}" for name, value in headers.items(multi=True)]


def _dotnet_time(timestamp: float | None) -> str:
    if not timestamp:
        return "0001-01-01T00:00:00"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0+00:00")


# ---------------------------------------------------------------------------------------------------- HAR


def write_har(path: Path, flows: Sequence[http.HTTPFlow]) -> None:
    """`flows` as HAR 1.2, as mitmproxy exports them (binary bodies base64, text bodies as text)."""
    path.write_text(json.dumps(SaveHar().make_har(list(flows)), indent=2), encoding="utf-8")


# ---------------------------------------------------------------------------------------------------- SAZ


def saz_members(flows: Sequence[http.HTTPFlow]) -> list[tuple[str, bytes]]:
    """The members of a Fiddler archive of `flows`, in the order Fiddler writes them."""
    members: list[tuple[str, bytes]] = [
        ("[Content_Types].xml", b'<?xml version="1.0" encoding="utf-8"?><Types/>'),
        ("_index.htm", b"<html><body>sessions</body></html>"),
    ]
    for number, flow in enumerate(flows, start=1):
        request = flow.request
        head = [f"{request.method} {request.pretty_url} {request.http_version}", *_head_lines(request.headers)]
        request_text = "\r\n".join(head).encode() + b"\r\n\r\n" + (request.raw_content or b"")
        members.append((f"raw/{number:03d}_c.txt", request_text))
        timers = (
            f'ClientConnected="{_dotnet_time(flow.client_conn.timestamp_start)}" '
            f'ClientBeginRequest="{_dotnet_time(request.timestamp_start)}" '
            f'ClientDoneRequest="{_dotnet_time(request.timestamp_end)}" '
            f'ServerBeginResponse="{_dotnet_time(flow.response.timestamp_start if flow.response else None)}" '
            f'ServerDoneResponse="{_dotnet_time(flow.response.timestamp_end if flow.response else None)}"'
        )
        metadata = (
            f'<?xml version="1.0" encoding="utf-8"?>\r\n<Session SID="{number}" BitFlags="0">\r\n'
            f"  <SessionTimers {timers} />\r\n  <PipeInfo />\r\n  <SessionFlags>\r\n"
            f'    <SessionFlag N="x-clientip" V="127.0.0.1" />\r\n'
            f'    <SessionFlag N="x-hostip" V="127.0.0.1" />\r\n  </SessionFlags>\r\n</Session>'
        )
        members.append((f"raw/{number:03d}_m.xml", metadata.encode()))
        if flow.response:
            response = flow.response
            status = f"{response.http_version} {response.status_code} {response.reason}"
            head = [status, *_head_lines(response.headers)]
            response_text = "\r\n".join(head).encode() + b"\r\n\r\n" + (response.raw_content or b"")
            members.append((f"raw/{number:03d}_s.txt", response_text))
    return members


def write_saz(path: Path, flows: Sequence[http.HTTPFlow]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in saz_members(flows):
            archive.writestr(name, data)


# ---------------------------------------------------------------------------------------------- mailbox log


def exchange_xml(wbxml: bytes, hide: frozenset[str] = frozenset()) -> str:
    """A WBXML body as Exchange logs it: XML with `Name:` namespaces; elements named in `hide` as `bytes="N"`."""
    root = eas.decode(wbxml)
    for element in root.iter():
        if isinstance(element.tag, str) and etree.QName(element).localname in hide and len(element) == 0:
            element.set("bytes", str(len((element.text or "").encode())))
            element.text = None
    xml = eas.to_xml(root, pretty=True)
    xml = re.sub(r'xmlns(:\w+)?="(\w+)"', lambda m: f'xmlns{m[1] or ""}="{m[2]}:"' if m[2] in PAGE_NAMES else m[0], xml)
    return '<?xml version="1.0" encoding="utf-8" ?>\n' + xml


def _section(name: str, value: str) -> str:
    lines = value.splitlines() or [""]
    return f"{name} : \n" + "".join(f"\t{line}\n" for line in lines) + "\n"


def mailbox_log_entry(number: int, flow: http.HTTPFlow, hide: frozenset[str] = frozenset()) -> str:
    """One `Log Entry` of `flow` in the layout of an Exchange ActiveSync mailbox log."""
    request = flow.request
    text = f"-----------------\n Log Entry: {number}\n-----------------\n\n"
    text += _section("RequestTime", _dotnet_time(request.timestamp_start))
    text += _section("ServerName", "EXLAB01")
    text += _section("AssemblyVersion", "15.2.1544.4")
    text += _section("Identifier", f"{number:08X}")
    request_head = [f"{request.method} {request.path} {request.http_version}", *_head_lines(request.headers)]
    text += _section("RequestHeader", "\n".join(request_head))
    if request.raw_content and looks_like_wbxml(request.raw_content):
        text += _section("RequestBody", exchange_xml(request.raw_content, hide))
    text += _section("AccessState", "Allowed")
    text += _section("AccessStateReason", "Global")
    if flow.response:
        response = flow.response
        status = f"{response.http_version} {response.status_code} {response.reason}"
        text += _section("ResponseHeader", "\n".join([status, *_head_lines(response.headers)]))
        body = response.raw_content or b""
        if "multipart" in response.headers.get("content-type", ""):
            body = parse_multipart(body)[0]  # Exchange logs the WBXML part of a multipart answer
        if body and looks_like_wbxml(body):
            text += _section("ResponseBody", exchange_xml(body, hide))
        text += _section("ResponseTime", _dotnet_time(response.timestamp_end))
    return text


def write_mailbox_log(path: Path, flows: Sequence[http.HTTPFlow], hide: frozenset[str] = frozenset()) -> None:
    with path.open("w", encoding="utf-8", newline="\r\n") as file:
        for number, flow in enumerate(flows, start=1):
            file.write(mailbox_log_entry(number, flow, hide))


# ---------------------------------------------------------------------------------------------- z-push log


def zpush_time(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%d/%m/%Y %H:%M:%S")


def zpush_request_lines(pid: int, flow: http.HTTPFlow) -> list[str]:
    """The lines z-push writes for one request at LOGLEVEL_WBXML (grommunio-sync writes the same)."""
    request = flow.request
    decoded = eas.decode_query(request.path)  # z-push logs the decoded query, plain or base64
    query = {"Cmd": decoded.command or "", "User": decoded.user or "", "DeviceId": decoded.device_id or "",
             "DeviceType": decoded.device_type or ""}
    user = query["User"]
    when = zpush_time(request.timestamp_start)
    prefix = f"{when} [{pid:>5}]"
    lines = [
        f"{prefix} [DEBUG] [{user}] -------- Start",
        f"{prefix} [DEBUG] [{user}] cmd='{query.get('Cmd', '')}' devType='{query.get('DeviceType', '')}' "
        f"devId='{query.get('DeviceId', '')}' getUser='{user}' from='127.0.0.1' version='2.7.5' "
        f"method='{request.method}'",
        f"{prefix} [DEBUG] [{user}] Request::ProcessHeaders() ASVersion: "
        f"{request.headers.get('MS-ASProtocolVersion', '14.1')}",
    ]
    if flow.response and flow.response.raw_content:
        body = flow.response.raw_content
        shown = base64.b64encode(body).decode() if len(body) < 524288 else "more than 512K of data"
        lines.append(f"{prefix} [WBXML] [{user}] WBXML-OUT: {shown}")
    if request.raw_content:
        lines.append(f"{prefix} [WBXML] [{user}] WBXML-IN : {base64.b64encode(request.raw_content[:4096]).decode()}")
    status = flow.response.status_code if flow.response else 500
    end = zpush_time(flow.response.timestamp_end if flow.response else request.timestamp_start)
    lines.append(
        f"{end} [{pid:>5}] [ INFO] [{user}] cmd='{query.get('Cmd', '')}' memory='2.00 MiB/2.00 MiB' time='0.05s' "
        f"devType='{query.get('DeviceType', '')}' devId='{query.get('DeviceId', '')}' getUser='{user}' "
        f"from='127.0.0.1' idle='0s' version='2.7.5' method='{request.method}' httpcode='{status}'"
    )
    lines.append(f"{end} [{pid:>5}] [DEBUG] [{user}] -------- End")
    return lines


def write_zpush_log(path: Path, flows: Sequence[http.HTTPFlow]) -> None:
    with path.open("w", encoding="utf-8") as file:
        for number, flow in enumerate(flows, start=1):
            file.write("\n".join(zpush_request_lines(4000 + number, flow)) + "\n")
