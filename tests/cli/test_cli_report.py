"""`eas-inspector report`, run as the real command on the real lab session plus a failing device, read in Chromium."""

from __future__ import annotations

import base64
import json
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

import eas
from capture.importers import import_file
from capture.model import FlowInput
from capture.writer import CaptureWriter
from tests.chromium import SKIP_WITHOUT_CHROMIUM, open_dialog, requested_urls, start_chromium, text_content, visible_box

ROOT = Path(__file__).resolve().parents[2]
LAB_SESSION = ROOT / "tests" / "data" / "real" / "lab-session.mitm"
# The lab session's users and device ids (tests/data/real/README.md), and the failing device added here.
LAB_USERS = ["alice", "bob"]
LAB_DEVICE_IDS = ["EA5100000000000000000000000000A1", "EA5100000000000000000000000000B2", "PYAS0003C"]
LOOP_USER, LOOP_DEVICE, LOOP_HOST = "carol", "LOOPDEV0001", "eas.loop-lab.example.net"
LOOP_PASSWORD = "Carol-Secret-4711"
# A folder name that is markup: the report must show it as text, never load or run it.
HOSTILE_FOLDER = 'Inbox <img src="http://192.0.2.1/pixel.png" onerror="alert(1)"><script>alert(2)</script>'
HOSTILE_AGENT = '<iframe src="https://192.0.2.1/"></iframe>'
START = 1_764_000_000.0  # 2025-11-24 16:00:00 UTC
FAILED_FILL = "#c62828"  # capture.report_html.OUTCOME_COLOURS, the colour a failed exchange is drawn in


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eas_inspector", *args], capture_output=True, text=True, cwd=cwd, timeout=300,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )


def loop_flow(index: int, command: str, request_xml: str, response_xml: str | None,
              error: str | None = None) -> FlowInput:
    """One request of the failing device: WBXML both ways, its credentials kept in the capture."""
    path = f"/Microsoft-Server-ActiveSync?Cmd={command}&User={LOOP_USER}&DeviceId={LOOP_DEVICE}&DeviceType=TestPhone"
    wbxml = [("Content-Type", "application/vnd.ms-sync.wbxml")]
    credentials = base64.b64encode(f"{LOOP_USER}:{LOOP_PASSWORD}".encode()).decode()
    started = START + index * 2.0
    return FlowInput(
        method="POST", scheme="https", target_host=LOOP_HOST, port=443, path=path, http_version="HTTP/1.1",
        request_headers=(("Host", LOOP_HOST), ("Authorization", f"Basic {credentials}"),
                         ("MS-ASProtocolVersion", "14.1"), ("User-Agent", HOSTILE_AGENT), *wbxml),
        request_body=eas.encode(request_xml),
        timestamps={"request_start": started, "request_end": started + 0.05,
                    **({"response_start": started + 0.3, "response_end": started + 0.4} if response_xml else {}),
                    **({"error": started + 1.0} if error else {})},
        response_http_version="HTTP/1.1" if response_xml else None,
        response_status=200 if response_xml else None,
        response_reason="OK" if response_xml else None,
        response_headers=tuple(wbxml) if response_xml else None,
        response_body=eas.encode(response_xml) if response_xml else None,
        error=error, tls=True,
    )


def sync_status_3(sync_key: str) -> tuple[str, str]:
    # MS-ASCMD 2.2.3.177.17: Sync collection Status 3, invalid synchronization key
    request = (f'<Sync xmlns="AirSync"><Collections><Collection><SyncKey>{sync_key}</SyncKey>'
               "<CollectionId>7</CollectionId></Collection></Collections></Sync>")
    response = (f'<Sync xmlns="AirSync"><Collections><Collection><SyncKey>{sync_key}</SyncKey>'
                "<CollectionId>7</CollectionId><Status>3</Status></Collection></Collections></Sync>")
    return request, response


def loop_flows() -> list[FlowInput]:
    """A FolderSync naming folder 7, then three Syncs of it that keep SyncKey 5 after Status 3 (a loop, MS-ASCMD
    2.2.3.177.17), then a Ping the connection dropped."""
    folder_sync = (
        '<FolderSync xmlns="FolderHierarchy"><SyncKey>0</SyncKey></FolderSync>',
        '<FolderSync xmlns="FolderHierarchy"><Status>1</Status><SyncKey>1</SyncKey><Changes><Count>1</Count>'
        f"<Add><ServerId>7</ServerId><ParentId>0</ParentId><DisplayName>{escape_xml(HOSTILE_FOLDER)}"
        "</DisplayName><Type>2</Type></Add></Changes></FolderSync>",
    )
    ping = ('<Ping xmlns="Ping"><HeartbeatInterval>480</HeartbeatInterval><Folders><Folder><Id>7</Id>'
            "<Class>Email</Class></Folder></Folders></Ping>")
    flows = [loop_flow(0, "FolderSync", *folder_sync)]
    flows += [loop_flow(index, "Sync", *sync_status_3("5")) for index in (1, 2, 3)]
    flows.append(loop_flow(4, "Ping", ping, None, error="connection reset by peer"))
    return flows


def escape_xml(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The lab session plus the failing device as a capture, and its report plain and shared."""
    work = tmp_path_factory.mktemp("report")
    capture = work / "lab-and-loop.sqlite"
    assert import_file(LAB_SESSION, capture).imported > 70
    with CaptureWriter(capture, keep_credentials=True) as writer:
        for flow_input in loop_flows():
            writer.add(flow_input)
    paths = {"work": work, "capture": capture}
    for name, extra in (("plain", ()), ("shared", ("--share",))):
        out = work / f"{name}.html"
        result = cli("report", str(capture), str(out), *extra, cwd=work)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"wrote {out}"), result.stdout
        paths[name] = out
    return paths


def loop_flow_ids(html_text: str) -> list[int]:
    """The ids of the failing device's Sync flows, read from the exchange summaries of its session."""
    section = html_text[html_text.index(f"{LOOP_USER} · TestPhone {LOOP_DEVICE}"):]
    return [int(flow_id) for flow_id in re.findall(r'<details class="flow o-failed" id="flow-(\d+)"><summary>'
                                                   r'<span class="mono">#\d+</span> [\d:]+ <strong>Sync', section)]


# ------------------------------------------------------------------------------------------------ the file


def test_report_file_is_private_and_self_contained(reports: dict[str, Path]) -> None:
    for name in ("plain", "shared"):
        path = reports[name]
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        page = path.read_text(encoding="utf-8")
        assert page.startswith("<!DOCTYPE html>")
        assert "default-src 'none'" in page
        # No reference to anything outside the page: no src/href to a scheme, no @import, no url(...).
        assert re.findall(r'(?:src|href)\s*=\s*"(?!#)', page) == []
        assert "@import" not in page and "url(" not in page
        assert page.count("<script") == 1


def test_capture_text_is_escaped_never_markup(reports: dict[str, Path]) -> None:
    page = reports["plain"].read_text(encoding="utf-8")
    assert "<img" not in page and "<iframe" not in page
    assert page.count("<script") == 1
    assert "Inbox &lt;img src=&quot;http://192.0.2.1/pixel.png&quot;" in page
    assert "&lt;iframe src=&quot;https://192.0.2.1/&quot;&gt;&lt;/iframe&gt;" in page


def test_report_never_shows_credentials(reports: dict[str, Path]) -> None:
    credentials = base64.b64encode(f"{LOOP_USER}:{LOOP_PASSWORD}".encode()).decode()
    for name in ("plain", "shared"):
        page = reports[name].read_text(encoding="utf-8")
        assert LOOP_PASSWORD not in page and credentials not in page


def test_shared_report_names_no_one(reports: dict[str, Path]) -> None:
    plain = reports["plain"].read_text(encoding="utf-8")
    shared = reports["shared"].read_text(encoding="utf-8")
    identities = [*LAB_USERS, *LAB_DEVICE_IDS, LOOP_USER, LOOP_DEVICE, LOOP_HOST, reports["capture"].name]
    # The plain report shows them (so the check below can fail), the shared one none of them.
    assert [identity for identity in identities if identity.lower() not in plain.lower()] == []
    assert [identity for identity in identities if identity.lower() in shared.lower()] == []
    # The shared capture is diagnosed the same: the same rules find something.
    rules = re.compile(r'<div class="finding [\w-]+" data-rule="([\w-]+)">')
    assert sorted(rules.findall(shared)) == sorted(rules.findall(plain))
    assert "sync-key-invalid-loop" in rules.findall(shared)


FINDING_BLOCK = re.compile(
    r'<div class="finding [\w-]+" data-rule="([\w-]+)">\n<p><span class="badge [\w-]+">(\w+)</span>.*?'
    r'<p class="flows">Flows: (.*?)</p>', re.S)


def report_findings(page: str) -> list[tuple[str, str, list[int]]]:
    """(rule, severity, flow ids) of each finding block of a report, in page order."""
    return [(rule, severity, [int(flow_id) for flow_id in re.findall(r'href="#flow-(\d+)"', links)])
            for rule, severity, links in FINDING_BLOCK.findall(page)]


def diagnose_findings(capture: Path, cwd: Path) -> list[tuple[str, str, list[int]]]:
    result = cli("diagnose", "--json", str(capture), cwd=cwd)
    assert result.returncode == 0, result.stderr
    return [(f["rule"], f["severity"], f["flows"]) for f in json.loads(result.stdout)["findings"]]


def test_the_report_shows_the_findings_diagnose_prints(reports: dict[str, Path]) -> None:
    page = reports["plain"].read_text(encoding="utf-8")
    assert report_findings(page) == diagnose_findings(reports["capture"], reports["work"])
    assert [rule for rule, _, _ in report_findings(page)][0] == "sync-key-invalid-loop"


def test_the_report_reads_the_stored_facts_as_diagnose_does(tmp_path: Path) -> None:
    """A capture that keeps bodies cut at 16 bytes still holds each flow's facts, taken from the whole body when
    it was stored: the report and `diagnose` both read those, and find the loop the cut bodies no longer show."""
    capture = tmp_path / "cut.sqlite"
    with CaptureWriter(capture, max_body_size=16) as writer:
        for flow_input in loop_flows():
            writer.add(flow_input)
    result = cli("report", str(capture), str(tmp_path / "cut.html"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    found = report_findings((tmp_path / "cut.html").read_text(encoding="utf-8"))
    assert found == diagnose_findings(capture, tmp_path)
    # loop_flows: flow 1 is the FolderSync, flows 2-4 the Syncs that keep SyncKey 5 after Status 3
    assert ("sync-key-invalid-loop", "error", [2, 3, 4]) in found


def test_report_of_a_mitm_file_imports_it_first(tmp_path: Path) -> None:
    result = cli("report", str(LAB_SESSION), str(tmp_path / "lab.html"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"wrote {tmp_path / 'lab.html'}: 76 flows, 3 device sessions, ")
    page = (tmp_path / "lab.html").read_text(encoding="utf-8")
    assert "<td>lab-session.mitm</td>" in page and page.count('<details class="flow ') == 76


def test_report_of_a_missing_or_foreign_file_is_one_line(tmp_path: Path) -> None:
    result = cli("report", str(tmp_path / "absent.sqlite"), str(tmp_path / "out.html"), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"eas-inspector: {tmp_path / 'absent.sqlite'}: no such file"]
    foreign = tmp_path / "notes.txt"
    foreign.write_text("not a capture\n")
    result = cli("report", str(foreign), str(tmp_path / "out.html"), cwd=tmp_path)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "out.html").exists()


# ------------------------------------------------------------------------------------------------ in Chromium


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    driver = start_chromium(tmp_path_factory.mktemp("chromium-profile"), width=1280, height=1400)
    try:
        yield driver
    finally:
        driver.quit()


def open_page(browser: webdriver.Chrome, path: Path) -> list[str]:
    """Open the report; the URLs the browser requested for it."""
    requested_urls(browser)  # what earlier pages requested is not this page's
    browser.get(path.as_uri())
    WebDriverWait(browser, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")
    return requested_urls(browser)


def session_section(browser: webdriver.Chrome, heading: str) -> WebElement:
    (section,) = [section for section in browser.find_elements(By.CSS_SELECTOR, "section.session")
                  if heading in text_content(section)]
    return section


@SKIP_WITHOUT_CHROMIUM
def test_findings_and_timeline_show_in_chromium_and_nothing_is_fetched(
        browser: webdriver.Chrome, reports: dict[str, Path]) -> None:
    path = reports["plain"]
    requested = open_page(browser, path)
    sync_ids = loop_flow_ids(path.read_text(encoding="utf-8"))
    assert len(sync_ids) == 3
    # The findings: the loop is an error, listed first, its flows linked.
    first = browser.find_elements(By.CSS_SELECTOR, "#findings .finding")[0]
    visible_box(first)
    assert first.get_dom_attribute("data-rule") == "sync-key-invalid-loop"
    assert first.find_element(By.CSS_SELECTOR, ".badge").text.lower() == "error"
    assert "Status 3" in first.text
    links = first.find_elements(By.CSS_SELECTOR, ".flows a")
    linked = [int(link.get_dom_attribute("href")[len("#flow-"):]) for link in links]
    assert set(linked) <= set(sync_ids) and len(linked) >= 2

    # The failing device's timeline: a lane for folder 7 under its (escaped) name, then one per other command
    # (the Ping watches folder 7 but has its own lane).
    timeline = session_section(browser, f"{LOOP_USER} · TestPhone {LOOP_DEVICE}").find_element(
        By.CSS_SELECTOR, "svg.timeline")
    visible_box(timeline)
    assert text_content(timeline.find_element(By.CSS_SELECTOR, 'text[data-lane="c:7"]')).startswith("Inbox <img")
    assert text_content(timeline.find_element(By.CSS_SELECTOR, 'text[data-lane="cmd:FolderSync"]')) == "FolderSync"
    assert text_content(timeline.find_element(By.CSS_SELECTOR, 'text[data-lane="cmd:Ping"]')) == "Ping"
    for flow_id in sync_ids:
        # two seconds apart, each Sync starts in a cell of its own (the full-height mark)
        mark = timeline.find_element(By.CSS_SELECTOR, f'rect.mark[data-flows="{flow_id}"][height="14"]')
        visible_box(mark)
        assert mark.get_dom_attribute("fill") == FAILED_FILL
        title = text_content(mark.find_element(By.CSS_SELECTOR, "title"))
        assert "1 flow started · worst failed" in title
        assert f"\nflow {flow_id} · Sync · HTTP 200 · " in title
        assert "Status = 3" in title

    # A picture of the page as opened: the sessions and the findings (kept beside the reports).
    screenshot = reports["work"] / "report.png"
    assert browser.save_screenshot(str(screenshot))
    assert screenshot.stat().st_size > 10_000

    # A finding's flow link opens that exchange, with its annotated XML.
    links[0].click()
    WebDriverWait(browser, 10).until(
        lambda d: d.execute_script(f"return document.getElementById('flow-{linked[0]}').open"))
    request_xml = browser.find_element(By.CSS_SELECTOR, f"#flow-{linked[0]} pre")
    visible_box(request_xml)
    assert "<SyncKey>5</SyncKey>" in request_xml.text

    # Markup from the capture stayed text: no element was made of it, nothing ran, nothing was fetched.
    assert browser.find_elements(By.CSS_SELECTOR, "img, iframe") == []
    assert open_dialog(browser) is None
    assert requested + requested_urls(browser) == [path.as_uri()]


@SKIP_WITHOUT_CHROMIUM
def test_shared_report_renders_its_findings_in_chromium(browser: webdriver.Chrome, reports: dict[str, Path]) -> None:
    requested = open_page(browser, reports["shared"])
    visible_box(browser.find_element(By.CSS_SELECTOR, '#findings .finding[data-rule="sync-key-invalid-loop"]'))
    timelines = browser.find_elements(By.CSS_SELECTOR, "svg.timeline")
    assert len(timelines) >= 4
    visible_box(timelines[0])
    assert requested == [reports["shared"].as_uri()]


@SKIP_WITHOUT_CHROMIUM
def test_only_problems_filter_hides_the_ok_exchanges(browser: webdriver.Chrome, reports: dict[str, Path]) -> None:
    open_page(browser, reports["plain"])
    ok_exchange = browser.find_element(By.CSS_SELECTOR, "details.flow.o-ok")
    failed_exchange = browser.find_element(By.CSS_SELECTOR, "details.flow.o-failed")
    assert ok_exchange.is_displayed() and failed_exchange.is_displayed()
    only_problems = browser.find_element(By.CSS_SELECTOR, "#only-problems")
    assert not only_problems.is_selected()
    only_problems.click()
    assert not ok_exchange.is_displayed()
    assert failed_exchange.is_displayed()


def test_flows_of_no_device_session_are_reported_too(reports: dict[str, Path], tmp_path: Path) -> None:
    capture = tmp_path / "orphan.sqlite"
    shutil.copyfile(reports["capture"], capture)
    with sqlite3.connect(capture) as connection:
        orphan = connection.execute("SELECT max(id) FROM flows").fetchone()[0]
        connection.execute("UPDATE flows SET session_id = NULL WHERE id = ?", (orphan,))
    connection.close()
    result = cli("report", str(capture), str(tmp_path / "orphan.html"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "orphan.html").read_text(encoding="utf-8")
    other = page[page.index('<section class="session" id="session-other">'):]
    assert "Flows outside device sessions" in other[:200]
    assert f'id="flow-{orphan}"' in other and page.count(f'id="flow-{orphan}"') == 1


def test_a_flow_without_a_stored_verdict_says_so_instead_of_being_judged_again(
    reports: dict[str, Path], tmp_path: Path
) -> None:
    capture = tmp_path / "unjudged.sqlite"
    shutil.copyfile(reports["capture"], capture)
    with sqlite3.connect(capture) as connection:
        last = connection.execute("SELECT max(id) FROM flows").fetchone()[0]
        connection.execute("UPDATE flows SET outcome = NULL WHERE id = ?", (last,))
    connection.close()
    result = cli("report", str(capture), str(tmp_path / "unjudged.html"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "unjudged.html").read_text(encoding="utf-8")
    exchange = page[page.index(f'id="flow-{last}"') - len('<details class="flow o-warning" '):]
    assert exchange.startswith('<details class="flow o-warning" ')
    assert "the capture holds no verdict for this flow" in exchange[:3000]
