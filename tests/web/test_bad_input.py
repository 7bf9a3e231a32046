"""No input reaches a 500: over-long numbers and deep nesting are answered 4xx (or stored)."""

from __future__ import annotations

import json

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
