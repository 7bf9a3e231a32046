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
from ..status import QUEUED

bp = Blueprint("health", __name__)
QUEUE_WAIT_LIMIT = dt.timedelta(minutes=5)


@bp.get("/healthz")
def healthz():
    """ok when the database answers; degraded when queued jobs wait too long."""
    try:
        with services().store.read() as session:
            session.execute(text("SELECT 1"))
            oldest = session.scalar(select(func.min(Job.created_at)).where(Job.state == QUEUED))
            unapplied = oldest_pending(session)
    except Exception as exc:  # any database failure means unhealthy, whatever its type
        return jsonify(status="unavailable", error=type(exc).__name__), 503
    now = utcnow()
    if oldest is not None and now - oldest > QUEUE_WAIT_LIMIT:
        return jsonify(status="degraded", reason="queued jobs waiting over 5 minutes"), 200
    if unapplied is not None and now - unapplied > QUEUE_WAIT_LIMIT:
        return jsonify(status="degraded", reason="events waiting over 5 minutes to be applied"), 200
    return jsonify(status="ok"), 200


@bp.get("/metrics")
def metrics_text():
    """Prometheus text exposition."""
    body, content_type = metrics.exposition()
    return Response(body, content_type=content_type)
