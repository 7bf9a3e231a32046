"""The webhook's parsing shortcuts give what the full parse gives.

The webhook parses only what the inbox stores (`parse(obj, details=False)`) and decodes with
one shared decoder: both must agree with the full parse and with json.loads on every input.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings

from plugin.canvas.events import MalformedEvent, decode, parse
from tests.conftest import load_fixture
from tests.intake.test_ingest_properties import FIXTURE_NAMES, mutated_fixtures

# What the inbox row is made of (intake.inbox.inbox_row).
STORED = ("name", "content_hash", "canonical", "event_time", "course_id", "assignment_id",
          "user_id", "ignore")
ENROLLMENT = {
    "metadata": {"event_name": "enrollment_updated", "event_time": "2025-10-01T10:00:00Z",
                 "root_account_id": "21070000000000001", "context_id": "21070000000000565"},
    "body": {"course_id": "21070000000000565", "user_id": "21070000000000042",
             "user_name": "Åsa Öberg", "workflow_state": "active"},
}


def event(name: str) -> dict[str, Any]:
    return json.loads(json.dumps(ENROLLMENT)) if name == "enrollment" else load_fixture(name)


def stored_facts(obj: dict[str, Any], details: bool) -> dict[str, Any]:
    event = parse(obj, details=details)
    return {name: getattr(event, name) for name in STORED}


@pytest.mark.parametrize("name", [*FIXTURE_NAMES, "enrollment"])
def test_stored_facts_without_details_equal_the_full_parse(name: str) -> None:
    obj = event(name)
    assert stored_facts(obj, details=False) == stored_facts(obj, details=True)


@pytest.mark.parametrize("name", [*FIXTURE_NAMES, "enrollment"])
def test_without_details_nothing_for_applying_is_parsed(name: str) -> None:
    lean, full = parse(event(name), details=False), parse(event(name))
    assert full.observation or full.assignment or full.user or full.enrollment_state
    assert (lean.observation, lean.assignment, lean.user, lean.enrollment_state) == (
        None, {}, {}, None)


@hsettings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated=mutated_fixtures())
def test_mutated_events_give_the_same_stored_facts_either_way(mutated: dict[str, Any]) -> None:
    raw = json.dumps(mutated).encode()
    try:
        full = stored_facts(decode(raw), details=True)
    except MalformedEvent:
        with pytest.raises(MalformedEvent):
            stored_facts(decode(raw), details=False)
        return
    assert stored_facts(decode(raw), details=False) == full


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le",
                                      "utf-16-be", "utf-32"])
def test_decode_reads_bodies_in_every_json_encoding_as_json_loads_does(encoding: str) -> None:
    text = json.dumps(load_fixture("grade_change") | {"x": "Åsa \u2603"}, ensure_ascii=False)
    raw = text.encode(encoding)
    assert decode(raw) == json.loads(raw)


def test_decode_keeps_a_too_long_integer_as_text() -> None:
    obj = load_fixture("grade_change")
    obj["body"]["score"] = "BIG"
    raw = json.dumps(obj).replace('"BIG"', "9" * 5000)
    assert decode(raw.encode())["body"]["score"] == "9" * 5000
