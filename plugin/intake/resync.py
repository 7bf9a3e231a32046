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

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from plugin.canvas.client import (
    CanvasClient,
    CanvasError,
    CanvasSubmission,
    StudentSubmissions,
    client_from_settings,
)
from plugin.clock import utcnow
from plugin.rules.submission import Observation
from plugin.settings import Settings
from plugin.status import FULL, INCREMENTAL, SYNC_MODES
from plugin.store import state
from plugin.store.db import APPLY_LOCK_KEY, Store
from plugin.store.models import Assignment, CourseState, ObservationRow, Submission, User

INCREMENTAL_MARGIN = dt.timedelta(hours=1)
COUNTS = ("students", "submissions", "changed", "assignments", "identities", "requests")
Progress = Callable[[dict[str, int]], object]


def resync_course(store: Store, settings: Settings, course_id: int, *, mode: str = FULL,
                  client: CanvasClient | None = None, progress: Progress | None = None
                  ) -> dict[str, int]:
    """Pull a course's assignments, graders and submissions from Canvas; returns the counts.

    `incremental` reads only submissions graded since the last good run started and
    is a full run when there was none. Students whose configured id is still unknown are then
    looked up once. `progress` gets the counts after each page. Raises CanvasError.
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

    _write_course_facts(store, client, course_id, counts)
    report()
    _sync_students(store, client.course_students_submissions(course_id, since), course_id,
                   counts, report)
    counts["identities"] = lookup_missing_identities(store, settings, course_id, client)
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


def lookup_missing_identities(store: Store, settings: Settings, course_id: int,
                              client: CanvasClient | None = None) -> int:
    """Ask Canvas once about each student of the course whose configured id is unknown and who
    was never looked up; cache the answer (a user Canvas no longer has counts as looked up)."""
    with store.read() as session:
        missing = missing_identities(session, settings.student_id_field, course_id,
                                     unasked_only=True)
    if missing:
        client = client or client_from_settings(settings)
    for user_id in missing:
        try:
            facts = client.user(user_id).facts()
        except CanvasError as exc:
            if exc.status != 404:
                raise
            facts = {}
        with store.write() as session:
            state.upsert_user(session, user_id, {**facts, "looked_up_at": utcnow()})
    return len(missing)


def missing_identities(session: Session, id_field: str, course_id: int, *,
                       unasked_only: bool = False) -> list[int]:
    """Students with a submission in the course and no value in `id_field`, by user id."""
    column = getattr(User, id_field)
    stmt = (
        select(Submission.user_id).distinct()
        .outerjoin(User, User.user_id == Submission.user_id)
        .where(Submission.course_id == course_id, or_(column.is_(None), column == ""))
        .order_by(Submission.user_id)
    )
    if unasked_only:
        stmt = stmt.where(User.looked_up_at.is_(None))
    return list(session.scalars(stmt))


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


def _write_course_facts(store: Store, client: CanvasClient, course_id: int,
                        counts: dict[str, int]) -> None:
    assignments = client.course_assignments(course_id)
    graders = client.course_graders(course_id)
    with store.write() as session:
        for a in assignments:
            state.upsert_assignment(session, course_id, a.id,
                                    {"name": a.name, "points_possible": a.points_possible}, a.date)
        for grader in graders:
            state.upsert_user(session, grader.id, grader.facts())
    counts["assignments"] = len(assignments)


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


def fill_gaps(store: Store, settings: Settings, course_id: int,
              client: CanvasClient | None = None) -> dict[str, int]:
    """Before an export: fetch assignment names and student identities the store lacks.

    Does nothing when no Canvas API is configured (the export then lists what is missing).
    """
    if not (settings.canvas_url and settings.canvas_token):
        return {}
    with store.read() as session:
        unnamed = session.scalar(
            select(Submission.assignment_id)
            .outerjoin(Assignment, (Assignment.course_id == Submission.course_id)
                       & (Assignment.assignment_id == Submission.assignment_id))
            .where(Submission.course_id == course_id, Assignment.name.is_(None)).limit(1))
    client = client or client_from_settings(settings)
    counts: dict[str, int] = {}
    if unnamed is not None:
        _write_course_facts(store, client, course_id, counts)
    counts["identities"] = lookup_missing_identities(store, settings, course_id, client)
    return counts


def prepare_export(store: Store, settings: Settings, course_id: int | None) -> list[str]:
    """Fill gaps for every course an export covers; Canvas trouble becomes a warning."""
    warnings = []
    for course in settings.courses:
        if course_id not in (None, course.canvas_id):
            continue
        try:
            fill_gaps(store, settings, course.canvas_id)
        except CanvasError as exc:
            warnings.append(f"course {course.canvas_id}: {exc}")
    return warnings
