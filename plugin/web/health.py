"""GET /healthz and GET /metrics (no authentication)."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, jsonify
from sqlalchemy import func, select, text

from .. import metrics
from ..clock import utcnow
from ..extensions import services
from ..ingest import oldest_pending
from ..models import Job

bp = Blueprint("health", __name__)
QUEUE_WAIT_LIMIT = dt.timedelta(minutes=5)


def health_status(store) -> tuple[str, str | None]:
    """("ok" | "degraded" | "unavailable", the reason or None)."""
    try:
        with store.read() as session:
            session.execute(text("SELECT 1"))
            oldest = session.scalar(select(func.min(Job.created_at)).where(Job.state == "queued"))
            unapplied = oldest_pending(session)
    except Exception as exc:  # any database failure means unhealthy, whatever its type
        return "unavailable", type(exc).__name__
    now = utcnow()
    if oldest is not None and now - oldest > QUEUE_WAIT_LIMIT:
        return "degraded", "queued jobs waiting over 5 minutes"
    if unapplied is not None and now - unapplied > QUEUE_WAIT_LIMIT:
        return "degraded", "events waiting over 5 minutes to be applied"
    return "ok", None


@bp.get("/healthz")
def healthz():
    """ok when the database answers; degraded when queued jobs wait too long."""
    status, reason = health_status(services().store)
    if status == "unavailable":
        return jsonify(status=status, error=reason), 503
    if status == "degraded":
        return jsonify(status=status, reason=reason), 200
    return jsonify(status="ok"), 200


@bp.get("/metrics")
def metrics_text():
    """Prometheus text exposition."""
    body, content_type = metrics.exposition()
    return Response(body, content_type=content_type)
