"""The demo course's pages in Swedish in a real browser: course, student, preview, job, receipt
and /me say everything in Swedish (screenshots in the test's tmp_path)."""

from __future__ import annotations

import re

import pytest

from plugin.jobs import queue
from plugin.jobs.worker import run_job
from tests.chrome import chrome, needs_browser
from tests.conftest import ADMIN_TOKEN, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow, needs_browser,
              pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]

# English words a Swedish page must not hold (names, codes and file names aside).
ENGLISH = ("the", "and", "with", "passed", "waiting", "grade", "posted", "hidden", "held",
           "earned", "module", "course", "assignment", "withdrawn", "correction", "handle",
           "not", "from", "for", "points", "below", "decided", "room", "removed", "excused",
           "identity", "next", "until", "new", "run", "job", "students", "files", "error",
           "queued", "done", "failed", "none", "yes", "exported", "results", "receipt",
           "date", "scheduler", "process", "events", "back", "sign", "out", "Modules", "Final")
WAIT = 20  # seconds a page may take to replace the last one
WORD = re.compile(r"[A-Za-zÅÄÖåäö]+")


def english_words(text: str) -> set[str]:
    """The English words of ENGLISH in `text`, whole words, any case."""
    wanted = {w.lower() for w in ENGLISH}
    return {w for w in WORD.findall(text) if w.lower() in wanted}


def _shot(driver, path) -> None:
    """The whole page, however long, as a PNG."""
    import base64

    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True, "clip": clip})
    path.write_bytes(base64.b64decode(shot["data"]))


def _check(driver, tmp_path, name: str) -> str:
    from selenium.webdriver.common.by import By

    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "sv", name
    text = driver.find_element(By.TAG_NAME, "main").text
    _shot(driver, tmp_path / f"{name}.png")
    assert english_words(text) == set(), (name, text)
    return text


def _follow(driver, selector: str) -> None:
    """Click what `selector` finds and wait until the next page has replaced this one."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, selector).click()
    WebDriverWait(driver, WAIT).until(expected_conditions.staleness_of(page))
    WebDriverWait(driver, WAIT).until(lambda d: d.find_elements(By.TAG_NAME, "main"))


def test_the_demo_pages_in_swedish(app, demo, store, settings, live_url, tmp_path):
    from selenium.webdriver.common.by import By

    driver = chrome("--window-size=1400,1000", "--lang=sv")
    try:
        driver.get(f"{live_url}/language/sv?next=/login")
        driver.find_element(By.NAME, "token").send_keys(ADMIN_TOKEN)
        _follow(driver, "form button[type=submit]")
        driver.get(f"{live_url}/")
        _check(driver, tmp_path, "overview")

        driver.get(f"{live_url}/courses/565")
        text = _check(driver, tmp_path, "course")
        assert "väntar på attestering av moduler" in text and "inte uppnådd" in text
        assert "betyget PG är inte godkänt" in text and "Klar" not in text

        driver.get(f"{live_url}/courses/565/students/1102")
        text = _check(driver, tmp_path, "student")
        assert "inget publicerat betyg (dolt)" in text and "2,5 hp" in text

        driver.get(f"{live_url}/courses/565")
        _follow(driver, "form[action$='/preview'] button")
        _check(driver, tmp_path, "preview")

        _follow(driver, "form[action$='/export'] button")
        job_id = int(driver.current_url.rsplit("/", 1)[1])
        job = queue.claim(store, "test")
        assert job is not None and job.id == job_id
        run_job(store, settings, job, "test")  # as the scheduler's worker runs it
        driver.get(f"{live_url}/jobs/{job_id}")
        text = _check(driver, tmp_path, "job")
        assert "slutfört" in text

        _follow(driver, "a.button")
        text = _check(driver, tmp_path, "receipt")
        assert "kurs DV1531" in text
        links = driver.find_elements(By.CSS_SELECTOR, "main table a[href*='/students/']")
        assert links  # students are links to their page

        student = sign_in(app.test_client(), {"kind": "student", "course": 565, "user": 1102},
                          "x", lti=True)
        cookie = student.get_cookie(app.config["SESSION_COOKIE_NAME"])
        driver.delete_all_cookies()
        driver.add_cookie({"name": cookie.key, "value": cookie.value, "path": "/"})
        driver.get(f"{live_url}/language/sv?next=/me")
        _check(driver, tmp_path, "me")
    finally:
        driver.quit()
