"""Queueing a run's e-mail receipts inside the run's own transaction (`mail.receipts` sends them).

Decision: a run whose only news for a course is held-back students queues a receipt only when
that list changed since the course's previous receipt (they are held back at every run until
fixed).
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.rules.reasons import coded
from plugin.settings import Settings
from plugin.status import RECEIPT_PENDING
from plugin.store.models import LedgerEntry, MailReceipt


def record(session: Session, settings: Settings, run_id: int, held_back: list[dict],
           now: dt.datetime) -> int:
    """Queue the run's receipts inside the run's transaction; how many were queued."""
    if not settings.mail.enabled:
        return 0
    with_results = set(session.scalars(
        select(LedgerEntry.course_id).where(LedgerEntry.run_id == run_id).distinct()))
    queued = 0
    for course in settings.courses:
        held = [{"user_id": h["user_id"], "name": h.get("name"), "reason": h.get("reason"),
                 **coded(h.get("reason"))}  # its code: the Swedish part says it in Swedish
                for h in held_back if h.get("course") == course.canvas_id]
        if not course.notify or not (course.canvas_id in with_results
                                     or _held_back_changed(session, course.canvas_id, held)):
            continue
        session.add(MailReceipt(run_id=run_id, course_id=course.canvas_id,
                                recipients=json.dumps(list(course.notify)),
                                held_back=json.dumps(held), state=RECEIPT_PENDING, created_at=now,
                                attempts=0, next_attempt_at=now))
        queued += 1
    return queued


def _held_back_changed(session: Session, course_id: int, held: list[dict]) -> bool:
    if not held:
        return False
    last = session.scalar(select(MailReceipt.held_back).where(MailReceipt.course_id == course_id)
                          .order_by(MailReceipt.run_id.desc()).limit(1))
    before = {h["user_id"] for h in json.loads(last or "[]")}
    return before != {h["user_id"] for h in held}
