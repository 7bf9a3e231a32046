"""The README's first command, then a browser: the pages say how to switch them on and /me says
where a student's page comes from (screenshots in the test's tmp_path)."""

from __future__ import annotations

import pytest

from tests.chrome import chrome, needs_browser

pytestmark = [pytest.mark.browser, pytest.mark.slow, needs_browser,
              pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]


def test_a_newcomer_opens_the_service_started_as_the_readme_says(start_server, tmp_path):
    from selenium.webdriver.common.by import By

    server = start_server("serve")  # the webhook token only: no CANVAS_LADOK_SECRET_KEY
    assert "config warning: " in server.tail() and "CANVAS_LADOK_SECRET_KEY: not set" in (
        server.tail())  # said at the start too
    driver = chrome("--window-size=1200,800", "--lang=en")
    try:
        driver.get(f"{server.url}/")
        assert driver.find_element(By.TAG_NAME, "h1").text == "The pages are switched off"
        assert driver.find_element(By.TAG_NAME, "pre").text.startswith(
            "export CANVAS_LADOK_SECRET_KEY=")
        assert driver.find_elements(By.TAG_NAME, "a") == []
        driver.save_screenshot(str(tmp_path / "pages-off.png"))

        driver.get(f"{server.url}/me")
        text = driver.find_element(By.TAG_NAME, "main").text
        assert "This service is not set up to be opened from Canvas" in text
        assert not driver.find_elements(By.TAG_NAME, "pre")  # a page, not JSON
        assert driver.find_elements(By.TAG_NAME, "a") == []  # none leads to a page that is off
        driver.save_screenshot(str(tmp_path / "me-without-lti.png"))
    finally:
        driver.quit()
