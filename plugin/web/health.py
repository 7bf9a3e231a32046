"""GET /healthz and GET /metrics (no authentication)."""

from __future__ import annotations

import datetime as dt
import logging

from flask import Blueprint, Response, jsonify

from plugin import metrics
from plugin.clock import utcnow
from plugin.extensions import services
from plugin.jobs import heartbeat
from plugin.reports.backlog import backlog_reason
from plugin.store.db import is_lock_timeout
from plugin.store.models import Marker
from plugin.store.state import upsert

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)
PROBE_KEY = "healthz.write"
STARTING = "the scheduler process is starting"
RENDERER_KEY = "pages.renderer_hung"
# How long /healthz says degraded after a page render process hung and was replaced: long
# enough for a monitor polling every minute or two to see it.
RENDERER_REPORTED_FOR = dt.timedelta(minutes=5)


def note_renderer_hung(store, why: str, now: dt.datetime | None = None) -> None:
    """Record, for every worker's /healthz, that a page render process hung and was replaced."""
    value = f"{(now or utcnow()).isoformat()} {why}"
    try:
        with store.write() as session:
            upsert(session, Marker, {"key": RENDERER_KEY, "value": value}, ("key",))
    except Exception as exc:  # the log line the caller wrote still says it
        log.warning("page renderer hang not recorded: %s", type(exc).__name__)


def renderer_problem(session, now: dt.datetime) -> str | None:
    """A page render process hung within RENDERER_REPORTED_FOR: what happened; else None."""
    row = session.get(Marker, RENDERER_KEY)
    if row is None or not row.value:
        return None
    at, _, why = row.value.partition(" ")
    when = dt.datetime.fromisoformat(at)
    if now - when > RENDERER_REPORTED_FOR:
        return None
    return f"a page renderer hung ({why}) and was replaced at {when:%H:%M:%S} UTC"


def _prove_write(store, now: dt.datetime) -> None:
    """Write a row, on SQLite into the very file at database_url (else raise)."""
    with store.write() as session:
        store.check_file(session.connection())
        upsert(session, Marker, {"key": PROBE_KEY, "value": now.isoformat()}, ("key",))


def health_status(store, write: bool = False) -> tuple[str, str | None]:
    """("ok" | "starting" | "degraded" | "unavailable", the reason or None); pages read it
    without `write`."""
    now = utcnow()
    try:
        if write:
            _prove_write(store, now)
        with store.read() as session:
            reasons = [found for found in (backlog_reason(session, now),
                                           heartbeat.scheduler_problem(session, now),
                                           renderer_problem(session, now)) if found]
            starting = heartbeat.is_starting(session, now)
    except Exception as exc:  # any database failure means unhealthy, whatever its type
        if is_lock_timeout(exc):  # a long export holds SQLite's lock: busy, not broken
            return "degraded", "database busy"
        return "unavailable", type(exc).__name__
    if reasons:
        return "degraded", "; ".join(reasons)
    return ("starting", STARTING) if starting else ("ok", None)


@bp.get("/healthz")
def healthz():
    """ok when the database takes a write and the scheduler beats; starting until its first
    beat; degraded or 503 if not."""
    status, reason = health_status(services().store, write=True)
    if status == "unavailable":
        return jsonify(status=status, error=reason), 503
    if status != "ok":
        return jsonify(status=status, reason=reason), 200
    return jsonify(status="ok"), 200


@bp.get("/metrics")
def metrics_text():
    """Prometheus text exposition."""
    body, content_type = metrics.exposition()
    return Response(body, content_type=content_type)
