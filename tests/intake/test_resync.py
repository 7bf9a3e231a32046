"""Re-sync: REST reads folded with events, gaps repaired, bounded requests, safe failures."""

from __future__ import annotations

import datetime as dt
import math
import threading
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select, text

from plugin.canvas.client import CanvasClient, CanvasError
from plugin.canvas.events import parse
from plugin.demo.live_events import grade_event
from plugin.intake.apply import StoreSink, apply_event
from plugin.intake.resync import resync_course
from plugin.store.db import APPLY_LOCK_KEY
from plugin.store.models import Assignment, CourseState, ObservationRow, Submission, User
from plugin.store.state import to_state
from tests.fake_canvas import NOW, TOKEN, FakeCanvas

MINUTE = dt.timedelta(minutes=1)


@pytest.fixture
def canvas(settings, sleeps) -> CanvasClient:  # noqa: F811
    """The configured client, recording its waits instead of sleeping."""
    return CanvasClient(settings.canvas_url, settings.canvas_token, sleep=sleeps.append)


def post(store, event: dict) -> None:
    """Apply one Canvas event to the state as the webhook's events are."""
    with store.write() as session:
        apply_event(StoreSink(session), parse(event))


def submission(store, assignment_id: int, user_id: int) -> Submission | None:
    """The stored submission of course 565."""
    with store.read() as session:
        return session.get(Submission, (565, assignment_id, user_id))


def course_state(store) -> CourseState | None:
    """Course 565's sync watermarks."""
    with store.read() as session:
        return session.get(CourseState, 565)


def submissions_query(rsps) -> dict:  # noqa: F811
    """The query of the first submissions request."""
    url = next(c.request.url for c in rsps.calls if "/students/submissions" in c.request.url)
    return parse_qs(urlsplit(url).query)


def test_full_resync_stores_assignments_identities_and_grades(rsps, store, settings, canvas):  # noqa: F811
    FakeCanvas(rsps, students=3, assignments=2)
    counts = resync_course(store, settings, 565, client=canvas)
    assert counts == {"students": 3, "submissions": 6, "changed": 6, "assignments": 2,
                      "identities": 0, "requests": 3}
    with store.read() as session:
        assert session.get(Assignment, (565, 302)).name == "Kmom02"
        student = session.get(User, 1002)
        grader = session.get(User, 900)
    assert (student.name, student.sis_user_id, student.login_id) == (
        "Student 2", "19900101-0002", "s2@student.example.edu")
    assert student.looked_up_at is not None
    assert (grader.name, grader.email) == ("Tea Cher", "tea@example.edu")
    stored = submission(store, 301, 1001)
    assert (stored.grade, stored.posted, stored.grader_id, stored.updated) == ("G", True, 900, NOW)
    assert to_state(stored).has_posted_grade
    watermark = course_state(store)
    assert watermark.last_sync_started == watermark.last_full_sync_started is not None


@pytest.mark.parametrize("students, assignments", [(1, 2), (100, 2), (101, 2), (1000, 1),
                                                   (1, 101)])
def test_requests_are_bounded_by_pages(rsps, store, settings, canvas, students, assignments):  # noqa: F811
    FakeCanvas(rsps, students=students, assignments=assignments)
    counts = resync_course(store, settings, 565, client=canvas)
    bound = math.ceil(students / 100) + math.ceil(assignments / 100) + 2
    assert counts["requests"] == len(rsps.calls) <= bound
    assert counts["students"] == students and counts["submissions"] == students * assignments


@pytest.mark.parametrize("first", ["event", "rest"])
@pytest.mark.parametrize("event_offset, expected", [
    (MINUTE, "U"),  # the event is newer than the REST read: it wins
    (-MINUTE, "G"),  # the REST read is newer
    (dt.timedelta(0), "G"),  # a tie: the REST read wins
])
def test_event_and_rest_read_end_in_the_newest_state_in_either_order(
        rsps, store, settings, canvas, first, event_offset, expected):  # noqa: F811
    FakeCanvas(rsps, students=1, assignments=1)  # Canvas says G, read at NOW
    event = grade_event(565, 301, 1001, "U", NOW + event_offset)
    if first == "event":
        post(store, event)
        resync_course(store, settings, 565, client=canvas)
    else:
        resync_course(store, settings, 565, client=canvas)
        post(store, event)
    assert submission(store, 301, 1001).grade == expected


def test_resync_repairs_a_gap_in_the_event_stream(rsps, store, settings, canvas):  # noqa: F811
    fake = FakeCanvas(rsps, students=2, assignments=2)
    fake.grade(1002, 302, "G", graded_at=NOW - 3 * MINUTE)
    before = NOW - 2 * MINUTE
    for assignment_id, user_id in ((301, 1001), (302, 1001), (301, 1002)):
        post(store, grade_event(565, assignment_id, user_id, "G", before))
    assert submission(store, 302, 1002) is None  # its grade_change event never arrived
    counts = resync_course(store, settings, 565, client=canvas)
    repaired = submission(store, 302, 1002)
    assert repaired.grade == "G" and to_state(repaired).has_posted_grade
    assert submission(store, 301, 1001).grade_since == before  # an unchanged grade keeps its date
    assert repaired.grade_since == NOW
    assert counts["changed"] == 4  # the gap, and submitted_at/workflow_state on the others


def test_hidden_grade_is_not_posted(rsps, store, settings, canvas):  # noqa: F811
    fake = FakeCanvas(rsps, students=1, assignments=1)
    fake.grade(1001, 301, "G", posted=False)
    resync_course(store, settings, 565, client=canvas)
    hidden = submission(store, 301, 1001)
    assert (hidden.grade, hidden.posted) == ("G", False)
    assert not to_state(hidden).has_posted_grade and hidden.grade_since is None


def test_second_identical_resync_changes_nothing(rsps, store, settings, canvas):  # noqa: F811
    FakeCanvas(rsps, students=3, assignments=2, step=dt.timedelta(seconds=1))
    resync_course(store, settings, 565, client=canvas)
    counts = resync_course(store, settings, 565, client=canvas)
    assert counts["changed"] == 0 and counts["submissions"] == 6
    with store.read() as session:
        assert session.scalar(select(func.count()).select_from(ObservationRow)) == 6


def test_incremental_reads_since_the_last_good_start(rsps, store, settings, canvas):  # noqa: F811
    fake = FakeCanvas(rsps, students=2, assignments=2, step=dt.timedelta(seconds=1))
    resync_course(store, settings, 565, mode="incremental", client=canvas)  # none yet: full
    assert "graded_since" not in submissions_query(rsps)
    first = course_state(store)
    assert first.last_full_sync_started == first.last_sync_started
    rsps.calls.reset()
    fake.grade(1002, 301, "VG", graded_at=first.last_sync_started + MINUTE)
    counts = resync_course(store, settings, 565, mode="incremental", client=canvas)
    since = first.last_sync_started - dt.timedelta(hours=1)
    assert submissions_query(rsps)["graded_since"] == [since.isoformat()]
    assert counts["submissions"] == 1 and submission(store, 301, 1002).grade == "VG"
    second = course_state(store)
    assert second.last_sync_started > first.last_sync_started
    assert second.last_full_sync_started == first.last_full_sync_started


def test_incremental_goes_back_to_the_oldest_unposted_grade(rsps, store, settings, canvas):  # noqa: F811
    fake = FakeCanvas(rsps, students=2, assignments=1, step=dt.timedelta(seconds=1))
    hidden_at = NOW - dt.timedelta(days=30)
    fake.grade(1001, 301, "G", posted=False, graded_at=hidden_at)
    resync_course(store, settings, 565, client=canvas)
    rsps.calls.reset()
    fake.grade(1001, 301, "G", posted=True, graded_at=hidden_at)  # posted later, same graded_at
    resync_course(store, settings, 565, mode="incremental", client=canvas)
    assert submissions_query(rsps)["graded_since"] == [hidden_at.isoformat()]
    assert to_state(submission(store, 301, 1001)).has_posted_grade


def test_failed_resync_keeps_whole_pages_and_the_old_watermark_then_resumes(
        rsps, store, settings, canvas, sleeps):  # noqa: F811
    fake = FakeCanvas(rsps, students=250, assignments=1)
    fake.fail("/students/submissions", None, *[(503, {}, "")] * 5)
    pages = []
    with pytest.raises(CanvasError, match="course 565: Canvas kept failing .HTTP 503. after 5"):
        resync_course(store, settings, 565, client=canvas, progress=pages.append)
    assert course_state(store).last_sync_started is None  # the watermark did not move
    with store.read() as session:
        stored = session.scalars(select(Submission.user_id).order_by(Submission.user_id)).all()
    assert stored == fake.students[:100]  # page 1, every student in it whole
    assert [p["students"] for p in pages] == [0, 100]
    resync_course(store, settings, 565, client=canvas, progress=pages.append)
    assert course_state(store).last_sync_started is not None
    with store.read() as session:
        assert session.scalar(select(func.count()).select_from(Submission)) == 250


def test_refused_token_fails_before_writing_anything(rsps, store, settings, canvas):  # noqa: F811
    fake = FakeCanvas(rsps)
    fake.fail("/assignments", (401, {}, '{"errors": [{"message": "Invalid access token."}]}'))
    with pytest.raises(CanvasError) as caught:
        resync_course(store, settings, 565, client=canvas)
    assert str(caught.value) == "Canvas refused the token (401)"
    assert TOKEN not in str(caught.value)
    with store.read() as session:
        assert session.scalar(select(func.count()).select_from(Assignment)) == 0
    assert course_state(store) is None


def test_progress_is_reported_after_each_page(rsps, store, settings, canvas):  # noqa: F811
    FakeCanvas(rsps, students=250, assignments=1)
    seen = []
    counts = resync_course(store, settings, 565, client=canvas, progress=seen.append)
    assert [p["students"] for p in seen] == [0, 100, 200, 250, 250]
    assert [p["requests"] for p in seen] == [2, 4, 5, 5, 5]
    assert seen[-1] == counts


def test_resync_looks_up_students_it_did_not_read(rsps, store, settings, canvas):  # noqa: F811
    fake = FakeCanvas(rsps, students=1, assignments=1)
    fake.users[1009] = fake.user_json(1009)  # no longer listed among the course's students
    post(store, grade_event(565, 301, 1009, "G", NOW))
    counts = resync_course(store, settings, 565, client=canvas)
    assert counts["identities"] == 1
    with store.read() as session:
        assert session.get(User, 1009).sis_user_id == "19900101-0009"


def test_unknown_course_or_mode_is_refused(store, settings, canvas):
    with pytest.raises(ValueError, match="course 999 is not configured"):
        resync_course(store, settings, 999, client=canvas)
    with pytest.raises(ValueError, match="mode must be one of full, incremental"):
        resync_course(store, settings, 565, mode="partial", client=canvas)


def waiter_on_lock(store, key: int, gave_up) -> bool:
    """Wait until a session waits for PostgreSQL advisory lock `key`; False once `gave_up()`
    (which also paces the looks)."""
    with store.engine.connect() as conn:
        while not gave_up():
            if conn.scalar(text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                    "AND classid = 0 AND objid = :key"), {"key": key}):
                return True
            conn.rollback()  # a fresh snapshot of pg_locks for the next look
    return False


@pytest.mark.parametrize("database_url", [pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)  # SQLite serialises every writer already
def test_pages_wait_for_the_event_applier_on_postgresql(rsps, store, settings, canvas):  # noqa: F811
    FakeCanvas(rsps, students=1, assignments=1)
    done = threading.Event()
    with store.write() as session:  # the event applier, busy folding
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": APPLY_LOCK_KEY})
        worker = threading.Thread(target=lambda: (
            resync_course(store, settings, 565, client=canvas), done.set()))
        worker.start()
        assert waiter_on_lock(store, APPLY_LOCK_KEY,  # done, or died: it never waited
                              lambda: done.wait(0.01) or not worker.is_alive())
        assert not done.is_set()  # its page waits for the fold lock
    worker.join(30)
    assert done.is_set() and submission(store, 301, 1001).grade == "G"
