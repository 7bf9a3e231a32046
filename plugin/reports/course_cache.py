"""A per-process cache of computed course views, so an unchanged course is not recomputed.

Computing a course view evaluates every student of the course (seconds of rules for a large
course); the pages are read far more often than the course changes. An entry is used while its
version still matches: the course's change count (every write to its submissions, assignments
and enrollments bumps it), the newest of its events waiting to be applied (a view decides as if
they were), the count of changes to stored users (names, identities), the newest export run
(ledger entries and name mappings are written only by runs, for any course sharing a Ladok
code), what the Ladok stage last recorded, and the course's configuration. Time changes a
view only where a course grade's attestation delay ends: an entry expires at the first such
time after it was computed, and in any case after TIME_BUCKET. Concurrent readers of one
course wait for one computation.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable

from sqlalchemy import func, select

from plugin.clock import utcnow
from plugin.intake.overlay import READ_FOLD_LIMIT
from plugin.ladok.drafts import RECORDED_MARKER
from plugin.reports.course import CourseView, course_views
from plugin.rules.course_config import CourseConfig
from plugin.settings import Settings
from plugin.store.db import Store
from plugin.store.models import PENDING_EVENTS, CourseState, Event, ExportRun, Marker
from plugin.store.state import USERS_CHANGED

MAX_COURSES = 32  # entries kept per process; the least recently used goes first
# A backstop for anything else that moves with time. Each process recomputes a large course
# (seconds of CPU) when it passes, so not every minute.
TIME_BUCKET = dt.timedelta(minutes=10)


def version(store: Store, settings: Settings, course: CourseConfig,
            now: dt.datetime) -> tuple:
    """Everything a course view depends on, in a few cheap reads."""
    with store.read() as session:
        changes = select(CourseState.changes).where(
            CourseState.course_id == course.canvas_id).scalar_subquery()
        users = select(Marker.value).where(Marker.key == USERS_CHANGED).scalar_subquery()
        ladok = select(Marker.value).where(Marker.key == RECORDED_MARKER).scalar_subquery()
        runs = select(func.max(ExportRun.id)).scalar_subquery()
        waiting = select(func.count(), func.max(Event.id)).where(
            PENDING_EVENTS, Event.course_id == course.canvas_id).subquery()
        row = session.execute(select(changes, users, runs, ladok, waiting)).one()
    *row, count, newest = row
    # A view decides as if the waiting events were applied (a new one changes it), unless
    # too many wait to fold: then it shows the store until the backlog is down again.
    waiting = newest if count <= READ_FOLD_LIMIT else "backlog"
    bucket = (now - dt.datetime.min.replace(tzinfo=now.tzinfo)) // TIME_BUCKET
    return (*row, waiting, course.fingerprint(), settings.student_id_field, bucket)


def _expires(view: CourseView, now: dt.datetime) -> dt.datetime | None:
    """The first course grade due after `now`: the view changes then."""
    dues = [dt.datetime.fromisoformat(w["course_grade_due"]) for w in view.summary.waiting]
    return min((d for d in dues if d > now), default=None)


class _Entry:
    __slots__ = ("key", "view", "expires")

    def __init__(self, key: tuple, view: CourseView, expires: dt.datetime | None) -> None:
        self.key, self.view, self.expires = key, view, expires

    def fresh(self, key: tuple, now: dt.datetime) -> bool:
        return self.key == key and (self.expires is None or now < self.expires)


class CourseViewCache:
    """Course views by course id, each computed once per version (single-flight per course)."""

    def __init__(self, store: Store, size: int = MAX_COURSES,
                 compute: Callable[..., dict[int, CourseView]] = course_views) -> None:
        self.store, self.size, self._compute = store, size, compute
        self._entries: OrderedDict[int, _Entry] = OrderedDict()
        self._flights: dict[int, threading.Lock] = {}
        self._lock = threading.Lock()  # guards the two dicts above; never held while computing

    def view(self, settings: Settings, course: CourseConfig) -> CourseView:
        """The course's view: the cached one while its version holds, else computed afresh."""
        now = utcnow()
        key = version(self.store, settings, course, now)
        course_id = course.canvas_id
        with self._lock:
            cached = self._hit(course_id, key, now)
            if cached is not None:
                return cached
            flight = self._flights.setdefault(course_id, threading.Lock())
        with flight:  # one computation per course; the others wait for it and take its result
            with self._lock:
                cached = self._hit(course_id, key, now)
            if cached is not None:
                return cached
            view = self._compute(self.store, settings, [course], now=now)[course_id]
            with self._lock:
                self._entries[course_id] = _Entry(key, view, _expires(view, now))
                self._entries.move_to_end(course_id)
                while len(self._entries) > self.size:
                    self._entries.popitem(last=False)
        return view

    def views(self, settings: Settings, courses: list[CourseConfig]) -> dict[int, CourseView]:
        """The views of `courses`, by course id."""
        return {course.canvas_id: self.view(settings, course) for course in courses}

    def _hit(self, course_id: int, key: tuple, now: dt.datetime) -> CourseView | None:
        entry = self._entries.get(course_id)
        if entry is None or not entry.fresh(key, now):
            return None
        self._entries.move_to_end(course_id)
        return entry.view
