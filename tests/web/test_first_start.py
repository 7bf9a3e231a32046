"""A first start explains itself: without CANVAS_LADOK_SECRET_KEY the pages say how to switch
them on and link nowhere that answers the same; /me is a page for a browser, saying where a
student's page comes from."""

from __future__ import annotations

import dataclasses
import re

import pytest

from plugin import create_app
from tests.conftest import sign_in

SWEDISH = {"Accept-Language": "sv-SE,sv;q=0.9"}


@pytest.fixture
def keyless(settings, store):
    app = create_app({"SETTINGS": dataclasses.replace(settings, secret_key=""),
                      "TESTING": True})
    yield app.test_client()
    app.extensions["canvas_ladok"].store.dispose()


@pytest.mark.parametrize("path", ["/", "/login", "/courses/565", "/exports",
                                  "/language/sv?next=/"])
def test_without_a_secret_key_every_page_says_how_to_switch_the_pages_on(keyless, path):
    response = keyless.get(path)
    html = response.get_data(as_text=True)
    assert response.status_code == 503 and response.mimetype == "text/html"
    assert "<h1>The pages are switched off</h1>" in html
    assert ("export CANVAS_LADOK_SECRET_KEY=\"$(python3 -c 'import secrets; "
            "print(secrets.token_hex(32))')\"") in html
    assert "32 or more random characters" in html
    assert "<a " not in html  # every page answers this one: a link would lead back here


def test_the_switched_off_page_speaks_swedish(keyless):
    html = keyless.get("/", headers=SWEDISH).get_data(as_text=True)
    assert 'lang="sv"' in html and "<h1>Sidorna är avstängda</h1>" in html
    assert "export CANVAS_LADOK_SECRET_KEY=" in html


def test_me_without_a_launch_is_a_page_saying_lti_is_not_set_up(client):
    response = client.get("/me", headers={"Accept": "text/html"})
    html = response.get_data(as_text=True)
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "not set up to be opened from Canvas (no LTI launch is configured)" in html
    assert "Ladok för studenter" in html and "<a href=\"/\"" not in html


def test_me_for_staff_links_back_to_their_courses(course_client):
    html = course_client.get("/me").get_data(as_text=True)
    assert "Back to the courses" in html


def test_me_of_a_course_no_longer_configured_is_a_page_without_a_link_to_courses(client):
    sign_in(client, {"kind": "student", "course": 424242, "user": 1001})
    response = client.get("/me")
    html = response.get_data(as_text=True)
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "There is no such page" in html and "Back to the courses" not in html


def test_a_students_page_links_to_no_staff_page(client, store):
    sign_in(client, {"kind": "student", "course": 565, "user": 1001})
    html = client.get("/me").get_data(as_text=True)
    assert '<span class="brand">canvas-ladok</span>' in html and 'href="/"' not in html


def test_me_in_swedish(client):
    html = client.get("/me", headers=SWEDISH).get_data(as_text=True)
    assert "<h1>Mina resultat</h1>" in html
    assert not re.search(r"Students see|not set up", html)
