"""mitmweb in headless Chromium: the ActiveSync view shows the XML, and Edit then Done leaves every byte of the body."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mitmproxy import io
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from tests.addon.conftest import ADDON_SCRIPT
from tests.addon.test_edit_guard import CONTENT_LENGTH, SENDMAIL_REQUEST, sendmail_flow
from tests.chromium import SKIP_WITHOUT_CHROMIUM, start_chromium

MITMWEB = Path(sys.executable).parent / "mitmweb"
PASSWORD = "eas-test"

pytestmark = [pytest.mark.slow, SKIP_WITHOUT_CHROMIUM]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def mitmweb(tmp_path: Path) -> Iterator[str]:
    """mitmweb with the entry script on a flow file holding one SendMail flow whose body is not UTF-8."""
    flows = tmp_path / "flows.mitm"
    with flows.open("wb") as out:
        io.FlowWriter(out).add(sendmail_flow())
    port = free_port()
    proc = subprocess.Popen(
        [
            str(MITMWEB), "-r", str(flows), "-s", str(ADDON_SCRIPT), "--set", "server=false",
            "--set", f"web_port={port}", "--set", "web_open_browser=false", "--set", f"web_password={PASSWORD}",
            "--set", f"confdir={tmp_path / 'confdir'}", "--set", "activesync_capture=",
        ],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else "mitmweb exited"
                time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    driver = start_chromium(tmp_path / "chromium-profile")
    try:
        yield driver
    finally:
        driver.quit()


def body_as_stored(browser: Any, base: str) -> tuple[bytes, dict[str, str]]:
    """The request body's bytes and headers read back through mitmweb's API, in the browser's session."""
    script = """
        const done = arguments[arguments.length - 1];
        (async () => {
            const flows = await (await fetch('/flows')).json();
            const id = flows[0].id;
            const bytes = new Uint8Array(await (await fetch(`/flows/${id}/request/content.data`)).arrayBuffer());
            done({bytes: Array.from(bytes), headers: flows[0].request.headers});
        })();
    """
    result = browser.execute_async_script(script)
    return bytes(result["bytes"]), {name.lower(): value for name, value in result["headers"]}


def test_the_activesync_view_shows_xml_and_a_no_op_edit_keeps_every_byte(mitmweb: str, browser: Any) -> None:
    browser.set_script_timeout(20)
    browser.get(f"{mitmweb}/?token={PASSWORD}")
    wait = WebDriverWait(browser, 30)
    row = wait.until(lambda d: d.find_element(By.XPATH, "//tr[contains(., 'Microsoft-Server-ActiveSync')]"))
    row.click()
    view = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, ".contentview"))
    wait.until(lambda d: "<SendMail" in view.text)
    assert "ActiveSync" in browser.find_element(By.CSS_SELECTOR, ".contentview h5").text
    assert "ComposeMail" in view.text  # decoded XML, not WBXML bytes

    browser.find_element(By.XPATH, "//button[contains(., 'Edit')]").click()
    wait.until(lambda d: "Subject: caf" in d.find_element(By.CSS_SELECTOR, ".cm-content").text)
    browser.find_element(By.XPATH, "//button[contains(., 'Done')]").click()
    wait.until(lambda d: not d.find_elements(By.XPATH, "//h5[contains(., '[Editing]')]"))
    time.sleep(1.0)  # the guard answers within the same update; give the UI a moment to settle

    body, headers = body_as_stored(browser, mitmweb)
    assert body == SENDMAIL_REQUEST
    assert headers["content-length"] == CONTENT_LENGTH
    assert headers["content-type"] == "application/vnd.ms-sync.wbxml"
    shown = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, ".contentview"))
    wait.until(lambda d: "<SendMail" in shown.text)  # still decodes after the edit


def rows(browser: Any) -> int:
    return len(browser.find_elements(By.XPATH, "//tr[contains(., 'Microsoft-Server-ActiveSync')]"))


def test_the_readme_filters_for_mitmweb_work_in_its_search_box(mitmweb: str, browser: Any) -> None:
    browser.get(f"{mitmweb}/?token={PASSWORD}")
    wait = WebDriverWait(browser, 30)
    wait.until(lambda d: rows(d) == 1)
    search = browser.find_element(By.CSS_SELECTOR, "input[placeholder='Search']")
    search.send_keys('~comment "EAS SendMail"')
    time.sleep(1.0)
    assert rows(browser) == 1  # the comment names the command (the flow list shows no query for it)
    search.send_keys(Keys.CONTROL, "a")
    search.send_keys('~comment "EAS Ping"')
    wait.until(lambda d: rows(d) == 0)
