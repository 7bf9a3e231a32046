"""POST /webhooks/canvas: storage, duplicates, ids, ordering, errors."""

from __future__ import annotations

import copy
import io
import json
import os
import threading
import time

import pytest
from sqlalchemy import func, select

from plugin.canvas.events import decode, parse
from plugin.intake.apply import apply_pending
from plugin.intake.sqlite_inbox import WAL_AUTOCHECKPOINT_PAGES
from plugin.store.models import Assignment, Event, Submission
from tests.conftest import WEBHOOK_TOKEN, load_fixture, post_event
from tests.helpers import hold_sqlite_write_lock

FIXTURE_NAMES = ["grade_change", "submission_created", "submission_updated", "assignment_updated"]


def submission(app, course=565, assignment=355, user=48):
    apply_pending(app.extensions["canvas_ladok"].store)
    with app.extensions["canvas_ladok"].store.read() as session:
        return session.get(Submission, (course, assignment, user))


def count_events(app):
    with app.extensions["canvas_ladok"].store.read() as session:
        return session.scalar(select(func.count()).select_from(Event))


def grade_event(grade="G", time="2025-10-01T10:00:00Z", user="21070000000000048",
                assignment="21070000000000355", muted=False, **extra):
    event = copy.deepcopy(load_fixture("grade_change"))
    event["metadata"]["event_time"] = time
    event["body"].update(grade=grade, student_id=user, user_id=user,
                         assignment_id=assignment, muted=muted, **extra)
    return event


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_every_documentation_payload_is_accepted_and_stored(client, app, name):
    response = post_event(client, load_fixture(name))
    assert response.status_code == 202
    assert response.json["status"] in ("accepted", "ignored")
    assert count_events(app) == 1


def test_grade_change_fixture_is_stored_with_local_ids(client, app):
    response = post_event(client, load_fixture("grade_change"))
    assert response.json == {"status": "accepted"}
    row = submission(app)
    assert (row.grade, row.score, row.points_possible, row.grader_id) == ("5", 5.0, 1.0, 987)
    assert row.posted is True


def test_assignment_event_of_configured_course_stores_its_name(client, app):
    assert post_event(client, load_fixture("assignment_updated")).json["status"] == "accepted"
    apply_pending(app.extensions["canvas_ladok"].store)
    with app.extensions["canvas_ladok"].store.read() as session:
        row = session.get(Assignment, (1279362, 2030605))
    assert row.name == "A New Assignment For Today" and row.points_possible == 100


def test_submission_created_without_course_context_is_ignored_with_reason(client, app):
    assert post_event(client, load_fixture("submission_created")).json["status"] == "ignored"
    with app.extensions["canvas_ladok"].store.read() as session:
        event = session.scalars(select(Event)).one()
    assert "course unknown" in event.reason


def test_duplicate_event_is_stored_once_and_counted(client, app):
    event = load_fixture("grade_change")
    assert post_event(client, event).json["status"] == "accepted"
    reordered = json.loads(json.dumps(event, sort_keys=True))
    assert post_event(client, reordered).json["status"] == "duplicate"
    with app.extensions["canvas_ladok"].store.read() as session:
        row = session.scalars(select(Event)).one()
    assert row.receive_count == 2


def test_older_event_arriving_late_never_overwrites_newer_grade(client, app):
    post_event(client, grade_event("G", "2025-10-02T10:00:00Z"))
    post_event(client, grade_event("U", "2025-10-01T10:00:00Z"))
    assert submission(app).grade == "G"


def test_event_time_without_offset_is_utc(client, app):
    post_event(client, grade_event("U", "2025-10-01T12:00:00+02:00"))  # 10:00 UTC
    post_event(client, grade_event("G", "2025-10-01T10:30:00"))  # naive: UTC, newer
    assert submission(app).grade == "G"


def test_muted_grade_is_stored_as_not_posted(client, app):
    post_event(client, grade_event("G", muted=True))
    row = submission(app)
    assert row.grade == "G" and row.posted is False and row.grade_since is None


def test_id_from_another_shard_is_kept_whole(client, app):
    post_event(client, grade_event("G", user="30000000000000048"))
    assert submission(app, user=30000000000000048).grade == "G"


def test_course_not_configured_is_ignored(client, app):
    event = grade_event("G")
    event["metadata"]["context_id"] = "21070000000000999"
    response = post_event(client, event)
    assert response.status_code == 202 and response.json["status"] == "ignored"


@pytest.mark.parametrize("body", [
    b"not json", b"[]", b"{}", b'{"metadata": {}, "body": {}}', b'{"metadata": {"event_name":'
    b' "grade_change"}}', b'{"metadata": "x", "body": {}}', b"\xff\xfe",
])
def test_malformed_body_answers_400_with_reason(client, body):
    response = post_event(client, body)
    assert response.status_code == 400 and response.json["error"]


def test_caliper_envelope_is_stored_as_ignored(client, app):
    response = post_event(client, {"sensor": "x", "data": [{"type": "Event"}]})
    assert response.json == {"status": "ignored"}
    assert count_events(app) == 1


def test_grade_event_without_student_is_ignored(client):
    event = grade_event("G")
    del event["body"]["student_id"], event["body"]["user_id"]
    assert post_event(client, event).json["status"] == "ignored"


def test_body_over_limit_answers_413(client, settings):
    big = b"{" + b" " * settings.max_body_bytes + b"}"
    assert post_event(client, big).status_code == 413


def post_chunked(client, body: bytes):
    """POST a body without Content-Length, as a chunked request reaches the application."""
    return client.post(f"/webhooks/canvas?token={WEBHOOK_TOKEN}", input_stream=io.BytesIO(body),
                       content_type="application/json",
                       environ_overrides={"wsgi.input_terminated": True})


def test_body_without_content_length_is_read_to_its_end(client, app):
    response = post_chunked(client, json.dumps(grade_event("G")).encode())
    assert response.status_code == 202 and response.json == {"status": "accepted"}
    assert count_events(app) == 1


def test_body_without_content_length_over_limit_answers_413(client, app, settings):
    response = post_chunked(client, b"{" + b" " * settings.max_body_bytes + b"}")
    assert response.status_code == 413 and count_events(app) == 0


def test_body_shorter_than_its_content_length_answers_400(client, app):
    body = json.dumps(grade_event("G")).encode()
    response = client.post(f"/webhooks/canvas?token={WEBHOOK_TOKEN}", data=body,
                           content_type="application/json",
                           environ_overrides={"CONTENT_LENGTH": str(len(body) + 10)})
    assert response.status_code == 400 and "Content-Length" in response.json["error"]
    assert count_events(app) == 0


def test_wrong_token_answers_401_and_stores_nothing(client, app):
    response = post_event(client, load_fixture("grade_change"), token="wrong")
    assert response.status_code == 401 and "error" in response.json
    assert count_events(app) == 0


def test_caliper_envelope_with_metadata_key_is_ignored_not_an_error(client):
    for extra in ({"metadata": {}}, {"metadata": {"event_name": "x"}, "body": []}):
        response = post_event(client, {"data": [], **extra})
        assert response.status_code == 202 and response.json == {"status": "ignored"}


def test_database_lock_timeout_answers_503_with_retry_after(client, app, monkeypatch):
    from sqlalchemy.exc import OperationalError

    store = app.extensions["canvas_ladok"].store

    def locked(*_):
        raise OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked"))

    blocker = hold_sqlite_write_lock(app)  # so that the webhook has to queue for the lock
    monkeypatch.setattr(store, "writer_lock", locked)
    monkeypatch.setattr(store, "write_connection", locked)
    response = post_event(client, grade_event("G"))
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert response.json["error"]
    if blocker is not None:
        blocker.rollback()
        blocker.close()
    assert count_events(app) == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # SQLite's own lock
def test_event_arriving_while_another_writer_holds_the_database_waits_for_it(client, app):
    blocker = hold_sqlite_write_lock(app)
    threading.Timer(0.3, blocker.rollback).start()
    started = time.monotonic()
    assert post_event(client, grade_event("G")).json == {"status": "accepted"}
    assert time.monotonic() - started >= 0.25
    blocker.close()
    assert count_events(app) == 1


def submit_as_one_group(inbox, events) -> list:
    """Submit the events from concurrent threads, all queued before the group is written;
    each one's answer, or the exception its request got."""
    answers: dict[int, object] = {}

    def send(i, event):
        try:
            answers[i] = inbox.submit(event, None)
        except Exception as exc:  # the failure is what is checked
            answers[i] = exc

    with inbox._leader:  # hold the group back until every request is queued
        threads = [threading.Thread(target=send, args=(i, e)) for i, e in enumerate(events)]
        for thread in threads:
            thread.start()
        while len(inbox._queue) < len(events):
            time.sleep(0.01)
    for thread in threads:
        thread.join()
    return [answers[i] for i in range(len(events))]


def parsed_grade_events(count: int) -> list:
    return [parse(decode(json.dumps(grade_event(user=str(21070000000000000 + n))).encode()))
            for n in range(count)]


def stored_counts(app) -> dict[int, int]:
    with app.extensions["canvas_ladok"].store.read() as session:
        return dict(session.execute(select(Event.user_id, Event.receive_count)).all())


def test_large_group_of_concurrent_events_is_stored_once_each(app):
    """More events than one INSERT statement carries, with duplicates inside the group."""
    events = parsed_grade_events(150)
    answers = submit_as_one_group(app.extensions["canvas_ladok"].inbox, events + events[:20])
    assert answers == ["accepted"] * 150 + ["duplicate"] * 20
    counts = stored_counts(app)
    assert len(counts) == 150
    assert sorted(counts.values()) == [1] * 130 + [2] * 20


def test_group_mixing_new_and_stored_events_answers_each_rightly(app):
    inbox = app.extensions["canvas_ladok"].inbox
    a, b, c = parsed_grade_events(3)
    assert inbox.submit(a, None) == "accepted"
    assert submit_as_one_group(inbox, [b, a, c, b]) == [
        "accepted", "duplicate", "accepted", "duplicate"]
    assert sorted(stored_counts(app).values()) == [1, 2, 2]


def test_group_with_an_unstorable_event_fails_only_that_request(app):
    """The group's events are written one by one after the group fails."""
    events = parsed_grade_events(5)
    events[2].user_id = 2**70  # no database integer holds it
    answers = submit_as_one_group(app.extensions["canvas_ladok"].inbox, events)
    assert [answers[i] for i in (0, 1, 3, 4)] == ["accepted"] * 4
    assert isinstance(answers[2], Exception)
    assert count_events(app) == 4
    assert post_event(app.test_client(), grade_event(user="21070000000000099")).json == {
        "status": "accepted"}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # a WAL setting
def test_webhook_commits_checkpoint_less_often_than_sqlites_default(app):
    """The WAL grows past SQLite's default 1000 pages before the inbox checkpoints it."""
    store = app.extensions["canvas_ladok"].store
    with store.engine.connect() as conn:
        page_size = conn.exec_driver_sql("PRAGMA page_size").scalar()
    inbox = app.extensions["canvas_ladok"].inbox
    for event in parsed_grade_events(400):
        assert inbox.submit(event, None) == "accepted"
    wal_pages = os.path.getsize(f"{store.sqlite_file}-wal") / page_size
    assert 1500 < wal_pages < WAL_AUTOCHECKPOINT_PAGES + 100
