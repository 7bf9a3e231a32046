"""Debian's headless chromium under Selenium, for the browser tests; skipped only where absent."""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMEDRIVER = Path("/usr/bin/chromedriver")  # passed explicitly: nothing is downloaded
CHROMIUM = Path("/usr/bin/chromium")
needs_browser = pytest.mark.skipif(
    not (CHROMEDRIVER.exists() and CHROMIUM.exists()),
    reason="browser absent: chromium and chromium-driver are not installed")
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-dev-shm-usage")


def chrome(*flags: str, logs: bool = False):
    """A headless chromium; `logs` keeps its console and network logs for the test to read."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS + flags:
        options.add_argument(flag)
    if logs:
        options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
