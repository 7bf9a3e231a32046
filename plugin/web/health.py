"""GET /healthz and GET /metrics (no authentication)."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, jsonify

from plugin import metrics
from plugin.clock import utcnow
from plugin.extensions import services
from plugin.jobs import heartbeat
from plugin.reports.backlog import backlog_reason
from plugin.store.db import is_lock_timeout
from plugin.store.models import Marker
from plugin.store.state import upsert

bp = Blueprint("health", __name__)
PROBE_KEY = "healthz.write"
STARTING = "the scheduler process is starting"


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
            reason = backlog_reason(session, now) or heartbeat.scheduler_problem(session, now)
            starting = heartbeat.is_starting(session, now)
    except Exception as exc:  # any database failure means unhealthy, whatever its type
        if is_lock_timeout(exc):  # a long export holds SQLite's lock: busy, not broken
            return "degraded", "database busy"
        return "unavailable", type(exc).__name__
    if reason:
        return "degraded", reason
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
