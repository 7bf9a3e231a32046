"""Filling what the store lacks from Canvas: assignment names, student names and identities.

Grade events often name neither the assignment nor the student. Every export fills these gaps
after applying the waiting events and before deciding; the scheduler fills them in the
background soon after events bring unknown students or assignments; a dry run keeps Canvas's
answers in memory (an `Overlay`) and writes nothing. Students are looked up with one roster
request per page of students (never one request per student); a student asked once is not
asked again (`looked_up_at`): the weekly full re-sync reads everyone anew.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from plugin.canvas.client import CanvasClient, CanvasError, client_from_settings
from plugin.clock import utcnow
from plugin.intake.apply import Sink, StoreSink
from plugin.intake.overlay import Overlay
from plugin.settings import Settings
from plugin.store.db import Store
from plugin.store.models import Assignment, CourseState, Submission, User

log = logging.getLogger(__name__)
RETRY_AFTER = dt.timedelta(minutes=5)  # the background fill leaves Canvas alone after a fault
Writer = Callable[[], AbstractContextManager[Sink]]


@dataclass
class Gaps:
    """What one course lacks that Canvas can tell."""

    unnamed: list[int] = field(default_factory=list)  # assignments with submissions, no name
    students: list[int] = field(default_factory=list)  # no name or identity, never looked up

    def __bool__(self) -> bool:
        return bool(self.unnamed or self.students)


def canvas_configured(settings: Settings) -> bool:
    """True when the Canvas API can be asked (its URL and a token are configured)."""
    return bool(settings.canvas_url and settings.canvas_token)


def find_gaps(session: Session, settings: Settings, course_id: int,
              overlay: Overlay | None = None) -> Gaps:
    """What the course lacks in the store (with `overlay`'s facts over it, for a dry run)."""
    overlay = overlay or Overlay()
    named = overlay.named(course_id)

    def name(assignment_id: int) -> str | None:
        if assignment_id in named:
            return named[assignment_id].get("name")
        row = session.get(Assignment, (course_id, assignment_id))
        return row.name if row is not None else None

    with_submissions = set(session.scalars(
        select(Submission.assignment_id).distinct()
        .outerjoin(Assignment, (Assignment.course_id == Submission.course_id)
                   & (Assignment.assignment_id == Submission.assignment_id))
        .where(Submission.course_id == course_id, Assignment.name.is_(None))))
    with_submissions |= {a for _u, a, _s in overlay.submissions_of(course_id)}
    field_name = settings.student_id_field
    candidates = set(session.scalars(_unknown_students(course_id, field_name)))
    candidates |= overlay.students(course_id)
    users = {u.user_id: u for u in session.scalars(
        select(User).where(User.user_id.in_(candidates)))} if candidates else {}
    return Gaps([a for a in sorted(with_submissions) if not name(a)],
                [u for u in sorted(candidates)
                 if _unknown(overlay.person(u, users.get(u)), field_name)])


def _unknown_students(course_id: int, field_name: str):
    """Students of the course whose name or identity the store lacks, never looked up."""
    identity = getattr(User, field_name)
    return (select(Submission.user_id).distinct()
            .outerjoin(User, User.user_id == Submission.user_id)
            .where(Submission.course_id == course_id, User.looked_up_at.is_(None),
                   or_(User.name.is_(None), User.name == "", identity.is_(None),
                       identity == "")))


def _unknown(user: User | None, field_name: str) -> bool:
    if user is None:
        return True
    if user.looked_up_at is not None:
        return False
    return not (user.name or "").strip() or not (getattr(user, field_name) or "").strip()


def fill(client: CanvasClient, course_id: int, gaps: Gaps, write: Writer) -> dict[str, int]:
    """Ask Canvas for the gaps and hand its answers to `write()`'s sink; the counts asked."""
    counts: dict[str, int] = {}
    if gaps.unnamed:
        counts["assignments"] = course_facts(client, course_id, write)
    if gaps.students:
        counts["students"] = look_up(client, course_id, gaps.students, write)
    return counts


def course_facts(client: CanvasClient, course_id: int, write: Writer) -> int:
    """Read the course's assignments (names, points) and graders; how many assignments."""
    assignments = client.course_assignments(course_id)
    graders = client.course_graders(course_id)
    with write() as sink:
        for a in assignments:
            sink.assignment(course_id, a.id,
                            {"name": a.name, "points_possible": a.points_possible}, a.date)
        for grader in graders:
            sink.user(grader.id, grader.facts())
    return len(assignments)


def look_up(client: CanvasClient, course_id: int, user_ids: list[int], write: Writer) -> int:
    """Fill the names and identities of `user_ids` from the course's roster, a page at a time;
    each student asked is marked looked up, found or not. Returns how many were asked."""
    for asked, found in client.course_roster(course_id, user_ids):
        now = utcnow()
        with write() as sink:
            for user in found:
                sink.user(user.id, {**user.facts(), "looked_up_at": now})
            for user_id in set(asked) - {u.id for u in found}:  # Canvas has no more of them
                sink.user(user_id, {"looked_up_at": now})
    return len(user_ids)


@contextlib.contextmanager
def store_writer(store: Store) -> Iterator[Sink]:
    """A sink writing to the store in a transaction of its own."""
    with store.write() as session:
        yield StoreSink(session)


def fill_store(store: Store, settings: Settings, course_id: int,
               client: CanvasClient | None = None, *, students_only: bool = False
               ) -> dict[str, int]:
    """Fill the course's gaps in the store from Canvas (nothing without a Canvas API)."""
    if not canvas_configured(settings) and client is None:
        return {}
    with store.read() as session:
        gaps = find_gaps(session, settings, course_id)
    if students_only:
        gaps.unnamed = []
    if not gaps:
        return {}
    client = client or client_from_settings(settings)
    return fill(client, course_id, gaps, lambda: store_writer(store))


def fill_overlay(store: Store, settings: Settings, course_id: int, overlay: Overlay,
                 client: CanvasClient | None = None) -> dict[str, int]:
    """A dry run's fill: Canvas's answers go into `overlay`, the store is only read."""
    if not canvas_configured(settings) and client is None:
        return {}
    with store.read() as session:
        gaps = find_gaps(session, settings, course_id, overlay)
    if not gaps:
        return {}
    client = client or client_from_settings(settings)
    counts = fill(client, course_id, gaps, lambda: contextlib.nullcontext(overlay))
    with store.read() as session:
        overlay.settle(session)
    return counts


def fill_courses(course_ids: list[int], fill_one: Callable[[int], dict[str, int]]) -> list[str]:
    """Fill each course's gaps; Canvas trouble becomes a warning (the export lists what is
    still missing), never a failed export."""
    warnings = []
    for course_id in course_ids:
        try:
            fill_one(course_id)
        except CanvasError as exc:
            warnings.append(f"course {course_id}: {exc}")
    return warnings


class BackgroundFill:
    """The scheduler's job: fill what applied events left unknown, soon after.

    A course is looked at again only once its state changed (events applied, a re-sync), so
    an assignment Canvas no longer has is not asked for over and over; a course Canvas failed
    for rests a while.
    """

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store, self.settings = store, settings
        self.seen: dict[int, object] = {}
        self.resting_until: dict[int, dt.datetime] = {}

    def __call__(self, now: dt.datetime | None = None) -> None:
        """One round over every configured course."""
        if not canvas_configured(self.settings):
            return
        now = now or utcnow()
        changes = self._changes()
        for course in self.settings.courses:
            course_id = course.canvas_id
            if self.seen.get(course_id) == changes.get(course_id) or self.resting_until.get(
                    course_id, now) > now:
                continue
            try:
                counts = fill_store(self.store, self.settings, course_id)
            except CanvasError as exc:
                log.warning("filling names of course %s from Canvas: %s", course_id, exc)
                self.resting_until[course_id] = now + RETRY_AFTER
                continue
            # What the fill wrote counts as seen: only a later change is looked at again.
            self.seen[course_id] = self._changes().get(course_id)
            if counts:
                log.info("filled from Canvas for course %s: %s", course_id, counts)

    def _changes(self) -> dict[int, int]:
        with self.store.read() as session:
            return dict(session.execute(select(CourseState.course_id, CourseState.changes)).all())
