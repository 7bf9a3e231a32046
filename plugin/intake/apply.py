"""Applying stored events: fold the inbox's accepted events into the current state.

The scheduler process does it continuously, and an export run catches up first, in batches
so each write transaction stays short. Reads never apply: they count what still waits
(`pending_events`), and a dry run folds it in memory (`intake.overlay`) through the same
`apply_event`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any, Protocol

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from plugin.canvas.events import ParsedEvent, parse
from plugin.rules.course_config import CourseConfig
from plugin.rules.submission import Observation
from plugin.settings import Settings
from plugin.status import ACCEPTED, NOT_CONFIGURED
from plugin.store import state
from plugin.store.db import APPLY_LOCK_KEY, Store
from plugin.store.models import IGNORED_EVENTS, PENDING_EVENTS, CourseState, Event

APPLY_BATCH = 100  # keeps each apply transaction short: webhooks wait for the lock


class Sink(Protocol):
    """Where the facts of events (and of Canvas's answers) go: the store, or a dry run's memory."""

    def assignment(self, course_id: int, assignment_id: int, facts: dict[str, Any],
                   when: dt.datetime | None) -> None: ...

    def user(self, user_id: int, facts: dict[str, Any]) -> None: ...

    def enrollment(self, course_id: int, user_id: int, workflow_state: str,
                   when: dt.datetime | None) -> None: ...

    def observation(self, course_id: int, assignment_id: int, user_id: int,
                    obs: Observation) -> None: ...


class StoreSink:
    """Writes facts to the store inside `session`'s transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def assignment(self, course_id: int, assignment_id: int, facts: dict[str, Any],
                   when: dt.datetime | None) -> None:
        state.upsert_assignment(self.session, course_id, assignment_id, facts, when)

    def user(self, user_id: int, facts: dict[str, Any]) -> None:
        state.upsert_user(self.session, user_id, facts)

    def enrollment(self, course_id: int, user_id: int, workflow_state: str,
                   when: dt.datetime | None) -> None:
        state.upsert_enrollment(self.session, course_id, user_id, workflow_state, when)

    def observation(self, course_id: int, assignment_id: int, user_id: int,
                    obs: Observation) -> None:
        state.record_observation(self.session, course_id, assignment_id, user_id, obs)


def apply_event(sink: Sink, event: ParsedEvent) -> None:
    """Apply a usable event's facts to the current state (or a dry run's copy of it)."""
    course = event.course_id
    if event.assignment:
        sink.assignment(course, event.assignment_id, event.assignment, event.event_time)
    if event.user and event.user_id is not None:
        sink.user(event.user_id, event.user)
    if event.enrollment_state is not None:
        sink.enrollment(course, event.user_id, event.enrollment_state, event.event_time)
    if event.observation is not None:
        sink.observation(course, event.assignment_id, event.user_id, event.observation)


def apply_rows(sink: Sink, rows) -> None:
    """Apply stored events (rows with payload and course_id), oldest first."""
    for row in rows:
        event = parse(json.loads(row.payload))
        event.course_id = row.course_id  # as resolved on receipt
        if event.ignore is None:
            apply_event(sink, event)


def _apply_rows(session: Session, rows) -> None:
    apply_rows(StoreSink(session), rows)
    session.execute(update(Event).where(Event.id.in_([r.id for r in rows])).values(applied=True))


def apply_pending(store: Store, limit: int | None = None) -> int:
    """Apply accepted events not yet applied, oldest first; returns how many were applied."""
    done = 0
    while limit is None or done < limit:
        with store.write() as session:
            store.lock(session, APPLY_LOCK_KEY)
            rows = session.execute(
                select(Event.id, Event.payload, Event.course_id)
                .where(PENDING_EVENTS).order_by(Event.id).limit(APPLY_BATCH)
            ).all()
            if not rows:
                return done
            _apply_rows(session, rows)
        done += len(rows)
    return done


def pending_events(session: Session, course_id: int | None = None) -> int:
    """How many accepted events wait to be applied: of one course, or of all."""
    stmt = select(func.count()).select_from(Event).where(PENDING_EVENTS)
    if course_id is not None:
        stmt = stmt.where(Event.course_id == course_id)
    return session.scalar(stmt)


def oldest_pending(session: Session):
    """When the oldest accepted event still waiting to be applied was received, or None."""
    return session.scalar(select(func.min(Event.received_at)).where(PENDING_EVENTS))


def replay_ignored(session: Session, course_id: int) -> int:
    """Queue for applying the stored events of a newly configured course."""
    result = session.execute(
        update(Event)
        .where(Event.course_id == course_id, IGNORED_EVENTS, Event.reason == NOT_CONFIGURED)
        .values(status=ACCEPTED, reason=None, applied=False)
    )
    return result.rowcount


def refresh_courses(store: Store, settings: Settings, courses: Iterable[CourseConfig],
                    dry_run: bool) -> set[int]:
    """Courses whose configuration is new or changed: replay and mark them (unless dry)."""
    changed = set()
    with store.read() as session:
        stored = dict(session.execute(select(CourseState.course_id, CourseState.fingerprint)).all())
    for course in courses:
        if stored.get(course.canvas_id) == course.fingerprint():
            continue
        changed.add(course.canvas_id)
        if dry_run:
            continue
        with store.write() as session:
            replay_ignored(session, course.canvas_id)
            state.mark_course_dirty(session, course.canvas_id)
            state.upsert(session, CourseState, {"course_id": course.canvas_id,
                                                "fingerprint": course.fingerprint()},
                         ("course_id",), update_columns=("fingerprint",))
    return changed
