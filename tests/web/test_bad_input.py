"""No input reaches a 500: over-long numbers and deep nesting are answered 4xx (or stored)."""

from __future__ import annotations

import json
import re

import pytest

from plugin.store.models import Event
from tests.conftest import ADMIN_TOKEN, load_fixture, post_event

HUGE = "7" * 5000
DEEP = b"[" * 100_000
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def test_webhook_body_that_is_a_5000_digit_number_answers_400(client):
    response = post_event(client, HUGE.encode())
    assert response.status_code == 400 and response.json["error"]


@pytest.mark.parametrize("field", ["score", "assignment_id", "grader_id"])
def test_event_with_a_5000_digit_field_is_stored_not_a_500(client, store, field):
    event = json.dumps(load_fixture("grade_change"))
    body = event.replace(f'"{field}": ', f'"{field}": {HUGE}, "was_{field}": ', 1).encode()
    response = post_event(client, body)
    assert response.status_code == 202, response.get_data(as_text=True)
    with store.read() as session:
        stored = session.query(Event).one()
    assert HUGE in stored.payload


@pytest.mark.parametrize("path", ["/api/exports", "/api/courses/565/resync"])
@pytest.mark.parametrize("body", [DEEP, HUGE.encode(), b'{"course": ' + HUGE.encode() + b"}"])
def test_admin_posts_with_deep_or_huge_json_answer_400(client, path, body):
    response = client.post(path, data=body, content_type="application/json", headers=ADMIN)
    assert response.status_code == 400 and response.json["error"]


def test_webhook_body_nested_100000_deep_answers_400(client):
    response = post_event(client, DEEP)
    assert response.status_code == 400 and response.json["error"]


NEXT_WITH_CONTROLS = ["/exports\r\nSet-Cookie: x=1", "/\nx", "/x\r", "/a\x00b", "/\u2028x"]


@pytest.mark.parametrize("target", NEXT_WITH_CONTROLS)
def test_control_characters_in_next_send_the_browser_to_the_start(client, target):
    from tests.web.test_pages import csrf_token

    language = client.get("/language/sv", query_string={"next": target})
    assert language.status_code == 302 and language.headers["Location"] == "/"
    assert client.get("/login", query_string={"next": target}).status_code == 200
    signed_in = client.post("/login", data={"token": ADMIN_TOKEN, "next": target,
                                            "csrf_token": csrf_token(client)})
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/"


@pytest.mark.parametrize("referer", ["https://[::1/", "https://localhost:port/login",
                                     "https://localhost:99999999/", "https://[zz]/"])
@pytest.mark.parametrize("path", ["/login", "/logout"])
def test_a_form_post_with_a_malformed_referer_is_a_400(client, referer, path):
    https = "https://localhost"
    page = client.get("/login", base_url=https).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(path, base_url=https, headers={"Referer": referer},
                           data={"token": ADMIN_TOKEN, "csrf_token": token})
    assert response.status_code == 400 and "referrer" in response.text.lower()
