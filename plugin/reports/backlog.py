"""Whether queued jobs or accepted events have waited too long (health and alerts)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.intake.apply import oldest_pending
from plugin.status import QUEUED
from plugin.store.models import Job

WAIT_LIMIT = dt.timedelta(minutes=5)


def backlog_reason(session: Session, now: dt.datetime) -> str | None:
    """What has waited over WAIT_LIMIT, in words, or None."""
    oldest = session.scalar(select(func.min(Job.created_at)).where(Job.state == QUEUED))
    if oldest is not None and now - oldest > WAIT_LIMIT:
        return "queued jobs waiting over 5 minutes"
    unapplied = oldest_pending(session)
    if unapplied is not None and now - unapplied > WAIT_LIMIT:
        return "events waiting over 5 minutes to be applied"
    return None
