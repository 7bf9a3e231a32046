"""Filling what the store lacks from Canvas: names of assignments, names and identities of
students (one roster request per page of students), in the store or in a dry run's memory."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import pytest
from sqlalchemy import select

from plugin.canvas.client import CanvasClient
from plugin.canvas.events import parse
from plugin.demo.live_events import grade_event
from plugin.intake.apply import StoreSink, apply_event
from plugin.intake.gaps import BackgroundFill, fill_overlay, fill_store, find_gaps
from plugin.intake.overlay import Overlay
from plugin.store.models import Assignment, User
from tests.fake_canvas import NOW, FakeCanvas


@pytest.fixture
def canvas(settings, sleeps) -> CanvasClient:
    """The configured client, recording its waits instead of sleeping."""
    return CanvasClient(settings.canvas_url, settings.canvas_token, sleep=sleeps.append)


def post(store, events: list[dict]) -> None:
    """Apply Canvas events to the state as the scheduler applies the webhook's events."""
    with store.write() as session:
        for event in events:
            apply_event(StoreSink(session), parse(event))


def graded(students, assignment: int = 301, sis: bool = False) -> list[dict]:
    """A grade event per student, naming neither the assignment nor the student."""
    return [grade_event(565, assignment, u, "G", NOW, sis_id=f"19900101-{u - 1000:04d}"
                        if sis else None) for u in students]


def users(store) -> dict[int, User]:
    with store.read() as session:
        return {u.user_id: u for u in session.scalars(select(User))}


@pytest.mark.parametrize("count", [1, 100, 250])
def test_unknown_students_are_filled_with_one_roster_request_per_page(
        rsps, store, settings, canvas, count):
    fake = FakeCanvas(rsps, students=count)
    post(store, graded(fake.students, sis=True))  # the identity came with the event, no name
    before = len(rsps.calls)
    assert fill_store(store, settings, 565, canvas) == {"assignments": 2, "students": count}
    roster = [c for c in rsps.calls[before:] if "user_ids" in c.request.url]
    assert len(roster) == math.ceil(count / 100)
    known = users(store)
    assert {known[u].name for u in fake.students} == {f"Student {u - 1000}"
                                                       for u in fake.students}
    calls = len(rsps.calls)
    assert fill_store(store, settings, 565, canvas) == {}  # nothing missing: nothing asked
    assert len(rsps.calls) == calls


def test_a_student_canvas_does_not_know_is_asked_once(rsps, store, settings, canvas):
    fake = FakeCanvas(rsps, students=0, assignments=1)
    fake.users[1005] = fake.user_json(1005)
    fake.users[1006] = {**fake.user_json(1006), "sis_user_id": None}
    post(store, graded([1005, 1006, 1007]))  # 1007 is gone from Canvas
    with store.read() as session:
        assert find_gaps(session, settings, 565).students == [1005, 1006, 1007]
    assert fill_store(store, settings, 565, canvas)["students"] == 3
    assert fake.roster_asked == [[1005, 1006, 1007]]
    known = users(store)
    assert (known[1005].name, known[1005].sis_user_id) == ("Student 5", "19900101-0005")
    assert known[1006].sis_user_id is None and known[1007].looked_up_at is not None
    assert fill_store(store, settings, 565, canvas) == {}
    assert fake.roster_asked == [[1005, 1006, 1007]]


def test_an_assignment_named_only_in_canvas_is_named(rsps, store, settings, canvas):
    FakeCanvas(rsps, students=1, assignments=2)
    post(store, graded([1001], assignment=302, sis=True))
    with store.read() as session:
        assert find_gaps(session, settings, 565).unnamed == [302]
    fill_store(store, settings, 565, canvas)
    with store.read() as session:
        assert session.get(Assignment, (565, 302)).name == "Kmom02"
        assert not find_gaps(session, settings, 565)


def test_without_a_canvas_api_nothing_is_asked(store, settings):
    offline = dataclasses.replace(settings, canvas_token="")
    post(store, graded([1005]))
    assert fill_store(store, offline, 565) == {}


def test_a_dry_runs_fill_keeps_canvas_answers_in_memory(rsps, store, settings, canvas):
    FakeCanvas(rsps, students=2, assignments=2)
    post(store, graded([1001], assignment=302))
    overlay = Overlay()
    assert fill_overlay(store, settings, 565, overlay, client=canvas) == {
        "assignments": 2, "students": 1}
    assert overlay.named(565)[302]["name"] == "Kmom02"
    assert overlay.person(1001, None).sis_user_id == "19900101-0001"
    with store.read() as session:  # the store is as it was
        assert session.get(Assignment, (565, 302)) is None
        assert session.get(User, 1001) is None
        assert find_gaps(session, settings, 565, overlay) == find_gaps(session, settings, 565,
                                                                       overlay) and not \
            find_gaps(session, settings, 565, overlay)


def test_the_background_fill_asks_after_new_events_only(rsps, store, settings, canvas,
                                                        monkeypatch):
    fake = FakeCanvas(rsps, students=3, assignments=1)
    monkeypatch.setattr("plugin.intake.gaps.client_from_settings", lambda _s: canvas)
    fill = BackgroundFill(store, settings)
    post(store, graded([1001, 1002], sis=True))
    fill()
    assert fake.roster_asked == [[1001, 1002]] and users(store)[1002].name == "Student 2"
    fill()  # nothing changed since: Canvas is not asked again
    assert fake.roster_asked == [[1001, 1002]]
    post(store, graded([1003], sis=True))
    fill()
    assert fake.roster_asked == [[1001, 1002], [1003]]


def test_the_background_fill_rests_after_canvas_fails(rsps, store, settings, canvas,
                                                      monkeypatch):
    fake = FakeCanvas(rsps, students=1, assignments=1)
    monkeypatch.setattr("plugin.intake.gaps.client_from_settings", lambda _s: canvas)
    fake.fail("/roster", (401, {}, '{"errors": [{"message": "Invalid access token."}]}'))
    fill = BackgroundFill(store, settings)
    post(store, graded([1001], sis=True))
    now = dt.datetime.now(dt.UTC)
    fill(now)
    fill(now + dt.timedelta(minutes=1))  # resting: not asked
    assert fake.roster_asked == []
    fill(now + dt.timedelta(minutes=6))
    assert fake.roster_asked == [[1001]] and users(store)[1001].name == "Student 1"
