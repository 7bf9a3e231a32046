"""GET /healthz and GET /metrics (no authentication)."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, jsonify

from .. import heartbeat, metrics
from ..backlog import backlog_reason
from ..clock import utcnow
from ..db import is_lock_timeout
from ..extensions import services
from ..models import Marker
from ..state import upsert

bp = Blueprint("health", __name__)
PROBE_KEY = "healthz.write"


def _prove_write(now: dt.datetime) -> None:
    """Write a row, on SQLite into the very file at database_url (else raise)."""
    store = services().store
    with store.write() as session:
        store.check_file(session.connection())
        upsert(session, Marker, {"key": PROBE_KEY, "value": now.isoformat()}, ("key",))


def _degradation(now: dt.datetime) -> str | None:
    """Why the service is degraded, or None."""
    with services().store.read() as session:
        return backlog_reason(session, now) or heartbeat.scheduler_problem(session, now)


@bp.get("/healthz")
def healthz():
    """ok when the database takes a write and the scheduler beats; degraded or 503 if not."""
    now = utcnow()
    try:
        _prove_write(now)
        reason = _degradation(now)
    except Exception as exc:  # any database failure means unhealthy, whatever its type
        if is_lock_timeout(exc):  # a long export holds SQLite's lock: busy, not broken
            return jsonify(status="degraded", reason="database busy"), 200
        return jsonify(status="unavailable", error=type(exc).__name__), 503
    if reason:
        return jsonify(status="degraded", reason=reason), 200
    return jsonify(status="ok"), 200


@bp.get("/metrics")
def metrics_text():
    """Prometheus text exposition."""
    body, content_type = metrics.exposition()
    return Response(body, content_type=content_type)
