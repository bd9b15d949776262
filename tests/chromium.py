"""Debian's Chromium, headless, driven by selenium through Debian's ChromeDriver: the browser of every browser test.

Debian ships `chromium-driver` built from the same source as `chromium`, so the two always match, and selenium is
given both paths: nothing is downloaded (scripts/run-tests installs both packages when run as root).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.remote.webelement import WebElement

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
# The flags that keep Chromium from reaching out on its own (the machine's network is closed).
CHROMIUM_ARGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)
SKIP_WITHOUT_CHROMIUM = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
    reason="Debian's chromium and chromium-driver are not installed (scripts/run-tests installs them as root)",
)


def start_chromium(profile: Path, *, width: int = 1400, height: int = 1000) -> webdriver.Chrome:
    """A headless Chromium with its own profile; it records every request its pages make (`requested_urls`) and
    leaves a dialog a page opens in place (`open_dialog` sees it)."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (*CHROMIUM_ARGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    options.unhandled_prompt_behavior = "ignore"
    return webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))


# Chromium's own pages (its start tab loads dozens of chrome:// resources): never the network, never the page's.
BROWSER_INTERNAL = ("chrome:", "chrome-untrusted:", "devtools:")


def requested_urls(driver: webdriver.Chrome) -> list[str]:
    """The URLs the browser requested since the last call (Chromium's Network.requestWillBeSent events), but
    for its own internal pages and what they load."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            url = message["params"]["request"]["url"]
            document = message["params"].get("documentURL", "")  # the page that asked for it
            if not url.startswith(BROWSER_INTERNAL) and not document.startswith(BROWSER_INTERNAL):
                urls.append(url)
    return urls


def open_dialog(driver: webdriver.Chrome) -> str | None:
    """The text of an alert, confirm or prompt the page has open, or None."""
    try:
        return driver.switch_to.alert.text
    except NoAlertPresentException:
        return None


def text_content(element: WebElement) -> str:
    """The element's textContent (SVG text and titles included, shown or not)."""
    return str(element.get_property("textContent") or "")


def visible_box(element: WebElement) -> dict[str, float]:
    """The element's box, after checking that it is shown and has an area."""
    assert element.is_displayed()
    box = element.rect
    assert box["width"] > 0 and box["height"] > 0
    return dict(box)
