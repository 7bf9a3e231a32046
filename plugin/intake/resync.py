"""Re-sync a course from the Canvas REST API: repair what the events missed.

A failed re-sync changes nothing half-way in the sense that matters, and the next run resumes:
assignments and graders are written in one transaction, then each page of students in one
transaction of its own. Submissions come grouped by student, so a page never splits a student:
after a failure every student is either wholly refreshed or untouched. What was written is a set
of REST observations, each as new as the HTTP Date of its page, folded by the same rule as
events, so it is true whatever happens next and writing it again changes nothing. The
watermarks (`CourseState.last_sync_started`, `last_full_sync_started`) move only when the whole
run succeeded, so the next incremental run reads from where the last good one started.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.canvas.client import (
    CanvasClient,
    CanvasError,
    CanvasSubmission,
    StudentSubmissions,
    client_from_settings,
)
from plugin.clock import utcnow
from plugin.intake.gaps import course_facts, fill_store, store_writer
from plugin.rules.submission import Observation
from plugin.settings import Settings
from plugin.status import FULL, INCREMENTAL, SYNC_MODES
from plugin.store import state
from plugin.store.db import APPLY_LOCK_KEY, Store
from plugin.store.models import CourseState, ObservationRow, Submission

INCREMENTAL_MARGIN = dt.timedelta(hours=1)
COUNTS = ("students", "submissions", "changed", "assignments", "identities", "requests")
Progress = Callable[[dict[str, int]], object]


def resync_course(store: Store, settings: Settings, course_id: int, *, mode: str = FULL,
                  client: CanvasClient | None = None, progress: Progress | None = None
                  ) -> dict[str, int]:
    """Pull a course's assignments, graders and submissions from Canvas; returns the counts.

    `incremental` reads only submissions graded since the last good run started and
    is a full run when there was none. Students whose name or configured id is still unknown
    are then looked up once, a roster page at a time. `progress` gets the counts after each
    page. Raises CanvasError.
    """
    if mode not in SYNC_MODES:
        raise ValueError(f"mode must be one of {', '.join(SYNC_MODES)}, not {mode!r}")
    if settings.course(course_id) is None:
        raise ValueError(f"course {course_id} is not configured")
    client = client or client_from_settings(settings)
    started, first_request = utcnow(), client.requests
    since = graded_since(store, course_id) if mode == INCREMENTAL else None
    counts = dict.fromkeys(COUNTS, 0)

    def report() -> None:
        counts["requests"] = client.requests - first_request
        if progress is not None:
            progress(dict(counts))

    counts["assignments"] = course_facts(client, course_id, lambda: store_writer(store))
    report()
    _sync_students(store, client.course_students_submissions(course_id, since), course_id,
                   counts, report)
    counts["identities"] = fill_store(store, settings, course_id, client,
                                      students_only=True).get("students", 0)
    _move_watermark(store, course_id, started, full=since is None)
    report()
    return counts


def graded_since(store: Store, course_id: int) -> dt.datetime | None:
    """Where an incremental run starts: an hour before the last good run started, or earlier
    at the oldest `graded_at` of a stored unposted submission; None when never synced."""
    with store.read() as session:
        row = session.get(CourseState, course_id)
        if row is None or row.last_sync_started is None:
            return None
        oldest = session.scalar(
            select(func.min(Submission.graded_at)).where(
                Submission.course_id == course_id, Submission.posted.is_(False),
                Submission.graded_at.is_not(None))
        )
    since = row.last_sync_started - INCREMENTAL_MARGIN
    return min(since, oldest) if oldest is not None else since


def rest_observation(submission: CanvasSubmission, date: dt.datetime) -> Observation:
    """A REST read as an observation, as new as its page's HTTP Date; hidden is not posted."""
    extra = {} if submission.points_possible is None else {
        "points_possible": submission.points_possible}
    return Observation(
        kind="rest", time=date, tiebreak=submission.content_hash, grade=submission.grade,
        score=submission.score, grader_id=submission.grader_id,
        posted=submission.posted_at is not None, excused=submission.excused,
        submitted_at=submission.submitted_at, workflow_state=submission.workflow_state,
        graded_at=submission.graded_at, **extra,
    )


def _sync_students(store: Store, students: Iterable[StudentSubmissions], course_id: int,
                   counts: dict[str, int], report: Callable[[], None]) -> None:
    """Write each page of students in a transaction of its own, as soon as it is complete."""
    page: list[StudentSubmissions] = []

    def flush() -> None:
        with store.write() as session:
            store.lock(session, APPLY_LOCK_KEY)  # fold one writer at a time, as events do
            _write_page(session, course_id, page, counts)
        page.clear()
        report()

    try:
        for student in students:
            if page and student.page != page[-1].page:
                flush()
            page.append(student)
    except CanvasError:
        if page:
            flush()  # the next page failed; the students read so far are whole: keep them
        raise
    if page:
        flush()


def _write_page(session: Session, course_id: int, page: list[StudentSubmissions],
                counts: dict[str, int]) -> None:
    """Store a page of students: identities, then each submission read not stored already."""
    known = _known_reads(session, course_id, [s.user.id for s in page])
    now = utcnow()
    for student in page:
        user_id = student.user.id
        facts = student.user.facts()
        if student.user_read:  # as good as a lookup: what it lacks, a lookup would lack too
            facts["looked_up_at"] = now
        state.upsert_user(session, user_id, facts)
        for sub in student.submissions:
            if (sub.assignment_id, user_id, sub.content_hash) in known:
                continue  # the same read again folds to the same state
            obs = rest_observation(sub, student.date)
            counts["changed"] += state.record_observation(session, course_id, sub.assignment_id,
                                                          user_id, obs)
        counts["submissions"] += len(student.submissions)
    counts["students"] += len(page)


def _known_reads(session: Session, course_id: int, user_ids: list[int]) -> set[tuple]:
    rows = session.execute(
        select(ObservationRow.assignment_id, ObservationRow.user_id, ObservationRow.source_hash)
        .where(ObservationRow.course_id == course_id, ObservationRow.kind == "rest",
               ObservationRow.user_id.in_(user_ids))
    )
    return {tuple(row) for row in rows}


def _move_watermark(store: Store, course_id: int, started: dt.datetime, full: bool) -> None:
    values = {"course_id": course_id, "last_sync_started": started}
    if full:
        values["last_full_sync_started"] = started
    with store.write() as session:
        state.upsert(session, CourseState, values, ("course_id",))
