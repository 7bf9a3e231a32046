"""The pages' system strip: events waiting, last event, last re-syncs, next export, health."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select

from plugin.clock import utcnow
from plugin.export.runs import runs_newest_first
from plugin.intake.apply import pending_events as count_pending
from plugin.settings import Settings, cron_trigger
from plugin.store.db import Store
from plugin.store.models import CourseState, Event, ExportRun


@dataclass
class SystemStatus:
    events_waiting: int
    last_event: dt.datetime | None
    last_sync: dict[int, dt.datetime | None]
    last_run: ExportRun | None
    next_run: dt.datetime | None
    last_course_run: dict[int, ExportRun | None]


def system_status(store: Store, settings: Settings, now: dt.datetime | None = None) -> SystemStatus:
    """What the strip shows, read in one session."""
    now = now or utcnow()
    with store.read() as session:
        waiting = count_pending(session)
        last_event = session.scalar(select(func.max(Event.received_at)))
        syncs = dict(session.execute(select(CourseState.course_id,
                                            CourseState.last_sync_started)).all())
        last_run = session.scalars(runs_newest_first().limit(1)).first()
        per_course = {c.canvas_id: session.scalars(runs_newest_first(c.canvas_id).limit(1)).first()
                      for c in settings.courses}
    trigger = cron_trigger(settings.export_schedule, settings.timezone)
    return SystemStatus(waiting or 0, last_event,
                        {c.canvas_id: syncs.get(c.canvas_id) for c in settings.courses},
                        last_run, trigger.get_next_fire_time(None, now), per_course)


def pending_events(store: Store) -> int:
    """Events received but not yet applied (a page says its numbers may lag)."""
    with store.read() as session:
        return count_pending(session) or 0
