"""The scheduler's heartbeat: a row it rewrites while it runs, read by /healthz."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from plugin.clock import utcnow
from plugin.store.db import Store
from plugin.store.models import Marker
from plugin.store.state import upsert

SCHEDULER_KEY = "scheduler.heartbeat"
BEAT_SECONDS = 15
# On SQLite a long export holds the write lock, and a beat waits for it: a few missed beats
# are a busy scheduler, not a dead one.
DOWN_AFTER = dt.timedelta(minutes=5)
STOPPED = "stopped"
STARTING = "starting "  # followed by the time of the start


def write(store: Store, value: str) -> None:
    """Record the scheduler's state: the time of a beat, or STOPPED."""
    with store.write() as session:
        upsert(session, Marker, {"key": SCHEDULER_KEY, "value": value}, ("key",))


def beat(store: Store, now: dt.datetime | None = None) -> None:
    """Record that the scheduler is alive now."""
    write(store, (now or utcnow()).isoformat())


def mark_stopped(store: Store) -> None:
    """Record that the scheduler process has exited (its supervisor saw it go)."""
    write(store, STOPPED)


def mark_starting(store: Store, now: dt.datetime | None = None) -> None:
    """Record that a scheduler process is being started: no beat is due before its first."""
    write(store, STARTING + (now or utcnow()).isoformat())


def is_starting(session: Session, now: dt.datetime) -> bool:
    """True from a scheduler's start until its first beat (for at most 5 minutes)."""
    row = session.get(Marker, SCHEDULER_KEY)
    if row is None or not (row.value or "").startswith(STARTING):
        return False
    return now - dt.datetime.fromisoformat(row.value.removeprefix(STARTING)) <= DOWN_AFTER


def scheduler_problem(session: Session, now: dt.datetime) -> str | None:
    """Why the scheduler counts as down, or None while it beats or is starting."""
    row = session.get(Marker, SCHEDULER_KEY)
    if row is None or not row.value:
        return "the scheduler process has not run"
    if row.value == STOPPED:
        return "the scheduler process is down"
    if row.value.startswith(STARTING):
        return None if is_starting(session, now) else (
            "the scheduler process did not start (no heartbeat within 5 minutes)")
    if now - dt.datetime.fromisoformat(row.value) > DOWN_AFTER:
        return "the scheduler process is down (no heartbeat for over 5 minutes)"
    return None
