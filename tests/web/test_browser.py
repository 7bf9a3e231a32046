"""A study administrator's morning in a real browser (Debian's chromium and chromedriver)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from plugin.demo.fill import fill_demo
from plugin.export.publish import run_folder
from plugin.jobs.worker import run_pending
from tests.chrome import chrome, needs_browser
from tests.conftest import ADMIN_TOKEN

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    needs_browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]
WAIT = 20  # seconds a condition may take before the test fails


@pytest.fixture
def browser(tmp_path):
    """Headless chromium that downloads into tmp_path/downloads and logs console and network."""
    driver = chrome("--window-size=1400,1000", logs=True)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver.execute_cdp_cmd("Browser.setDownloadBehavior",
                           {"behavior": "allow", "downloadPath": str(downloads)})
    driver.downloads = downloads
    yield driver
    driver.quit()


def wait_for(driver, condition):
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # A page being replaced (by a click or the job page's refresh) leaves stale elements.
    return WebDriverWait(driver, WAIT, poll_frequency=0.1, ignored_exceptions=(
        NoSuchElementException, StaleElementReferenceException)).until(condition)


def screenshot(driver, path: Path) -> None:
    """The whole page, not only the window."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, max(1000, height))
    driver.save_screenshot(str(path))
    driver.set_window_size(1400, 1000)


def requested_hosts(driver) -> set[str]:
    """The hosts of every request the browser made (from its network log)."""
    hosts = set()
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            url = message["params"]["request"]["url"]
            if not url.startswith(("data:", "blob:")):
                hosts.add(urlsplit(url).netloc)
    return hosts


def test_a_study_administrators_morning(app, store, settings, live_url, browser, tmp_path,
                                        canvas_users_unknown):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    fill_demo(store, settings)
    driver = browser
    shots = tmp_path / "screenshots"
    shots.mkdir()

    driver.get(f"{live_url}/")
    wait_for(driver, lambda d: d.find_elements(By.ID, "token"))
    driver.find_element(By.ID, "token").send_keys(ADMIN_TOKEN)
    driver.find_element(By.CSS_SELECTOR, "form.login button").click()
    wait_for(driver, lambda d: "Courses" in d.find_element(By.TAG_NAME, "h1").text)
    screenshot(driver, shots / "pages.png")

    driver.find_element(By.LINK_TEXT, "DV1531").click()
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "svg.chart"))
    screenshot(driver, shots / "course.png")
    Select(driver.find_element(By.ID, "show")).select_by_value("problems")
    driver.find_element(By.CSS_SELECTOR, "form.filter button").click()
    wait_for(driver, lambda d: "show=problems" in d.current_url)
    names = [a.text for a in driver.find_elements(By.CSS_SELECTOR, "tr.student td:first-child a")]
    assert "Nils Utan-Nummer" in names and "Student 3" not in names

    driver.find_element(By.LINK_TEXT, "Nils Utan-Nummer").click()
    wait_for(driver, lambda d: "missing: no sis_user_id" in d.page_source)
    screenshot(driver, shots / "student.png")
    driver.find_element(By.LINK_TEXT, "DV1531").click()

    driver.find_element(By.XPATH, "//button[text()='Preview export']").click()
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "form.confirm"))
    screenshot(driver, shots / "preview.png")
    lines = driver.find_elements(By.CSS_SELECTOR, "table.lines tbody tr")
    confirm = driver.find_element(By.CSS_SELECTOR, "form.confirm button")
    assert f"{len(lines)} lines" in confirm.text
    confirm.click()
    wait_for(driver, lambda d: "/jobs/" in d.current_url)
    run_pending(store, settings)  # the scheduler's part: run the queued export
    receipt = wait_for(driver, lambda d: d.find_elements(By.PARTIAL_LINK_TEXT, "Open the receipt"))
    driver.get(receipt[0].get_attribute("href"))
    wait_for(driver, lambda d: "Receipt of run" in d.find_element(By.TAG_NAME, "h1").text)
    run_id = int(driver.current_url.rsplit("/", 1)[1])
    screenshot(driver, shots / "receipt.png")

    driver.find_element(By.LINK_TEXT, "ladok-report.tsv").click()
    downloaded = driver.downloads / "ladok-report.tsv"
    wait_for(driver, lambda d: downloaded.exists() and downloaded.stat().st_size > 0)
    assert downloaded.read_bytes() == (run_folder(settings, run_id) / "ladok-report.tsv") \
        .read_bytes()

    driver.find_element(By.CSS_SELECTOR, "form.signout button").click()
    wait_for(driver, lambda d: d.find_elements(By.ID, "token"))
    driver.get(f"{live_url}/courses/565")
    assert "/login" in driver.current_url

    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
    assert requested_hosts(driver) == {urlsplit(live_url).netloc}
    print(f"screenshots in {shots}")
