"""Store one Canvas event durably and apply what it says (the webhook's write path)."""

from __future__ import annotations

import json

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from . import state
from .canvas_events import ParsedEvent, parse
from .clock import utcnow
from .models import Event
from .settings import Settings

ACCEPTED, DUPLICATE, IGNORED = "accepted", "duplicate", "ignored"


def ingest(session: Session, settings: Settings, event: ParsedEvent,
           webhook_id: str | None = None) -> str:
    """Record the event in the inbox and apply it; returns accepted, duplicate or ignored."""
    if _count_duplicate(session, event.content_hash, webhook_id):
        return DUPLICATE
    if event.ignore is None and event.course_id is None and event.assignment_id is not None:
        event.course_id = state.course_of_assignment(session, event.assignment_id)
    reason = event.ignore or _course_problem(settings, event)
    row = Event(
        content_hash=event.content_hash, webhook_id=webhook_id, event_name=event.name,
        event_time=event.event_time, received_at=utcnow(), receive_count=1,
        status=IGNORED if reason else ACCEPTED, reason=reason, course_id=event.course_id,
        assignment_id=event.assignment_id, user_id=event.user_id, payload=event.canonical,
    )
    session.add(row)
    session.flush()
    if reason is None:
        apply_event(session, event)
    return IGNORED if reason else ACCEPTED


def _count_duplicate(session: Session, content_hash: str, webhook_id: str | None) -> bool:
    match = Event.content_hash == content_hash
    if webhook_id:
        match = match | (Event.webhook_id == webhook_id)
    result = session.execute(
        update(Event).where(match).values(receive_count=Event.receive_count + 1)
    )
    return result.rowcount > 0


def _course_problem(settings: Settings, event: ParsedEvent) -> str | None:
    if event.course_id is None:
        return "course unknown (no course context and assignment not seen yet)"
    if settings.course(event.course_id) is None:
        return "course not configured"
    return None


def apply_event(session: Session, event: ParsedEvent) -> None:
    """Apply a usable event's facts to the current state."""
    course = event.course_id
    if event.assignment:
        state.upsert_assignment(session, course, event.assignment_id, event.assignment,
                                event.event_time)
    if event.user and event.user_id is not None:
        state.upsert_user(session, event.user_id, event.user)
    if event.enrollment_state is not None:
        state.upsert_enrollment(session, course, event.user_id, event.enrollment_state,
                                event.event_time)
    if event.observation is not None:
        state.record_observation(session, course, event.assignment_id, event.user_id,
                                 event.observation)


def replay_ignored(session: Session, settings: Settings, course_id: int) -> int:
    """Apply stored events of a newly configured course that were ignored for that reason."""


    rows = session.scalars(
        select(Event).where(Event.course_id == course_id, Event.status == IGNORED,
                            Event.reason == "course not configured")
    ).all()
    for row in rows:
        event = parse(json.loads(row.payload))
        event.course_id = course_id
        if event.ignore is None:
            apply_event(session, event)
            row.status, row.reason = ACCEPTED, None
    return len(rows)
