"""The scheduler's mail job: note a backlog, then send due alerts and receipts."""

from __future__ import annotations

import datetime as dt
import logging

from plugin.canvas.client import on_unauthorized
from plugin.clock import utcnow
from plugin.mail import alerts, receipts
from plugin.reports.backlog import backlog_reason
from plugin.settings import Settings
from plugin.store.db import Store

log = logging.getLogger(__name__)
EVERY_SECONDS = 30


def tick(store: Store, settings: Settings, now: dt.datetime | None = None) -> None:
    """One round; a failing part is logged and never stops the others."""
    now = now or utcnow()
    for part in (_check_backlog, alerts.send_due, receipts.send_due):
        try:
            part(store, settings, now)
        except Exception:  # e.g. the database briefly unavailable: the next tick retries
            log.exception("mail: %s failed", part.__name__)


def _check_backlog(store: Store, settings: Settings, now: dt.datetime) -> None:
    with store.read() as session:
        reason = backlog_reason(session, now)
    if reason:
        alerts.note(store, settings, "backlog", reason, now)


def listen(store: Store, settings: Settings) -> None:
    """In this process, note an alert whenever Canvas refuses the token."""
    on_unauthorized(lambda text: alerts.note(store, settings, "canvas_unauthorized", text))
