"""GET /healthz and GET /metrics (no authentication)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from sqlalchemy import text

from .. import metrics
from ..backlog import backlog_reason
from ..clock import utcnow
from ..extensions import services

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """ok when the database answers; degraded when queued jobs wait too long."""
    try:
        with services().store.read() as session:
            session.execute(text("SELECT 1"))
            reason = backlog_reason(session, utcnow())
    except Exception as exc:  # any database failure means unhealthy, whatever its type
        return jsonify(status="unavailable", error=type(exc).__name__), 503
    if reason:
        return jsonify(status="degraded", reason=reason), 200
    return jsonify(status="ok"), 200


@bp.get("/metrics")
def metrics_text():
    """Prometheus text exposition."""
    body, content_type = metrics.exposition()
    return Response(body, content_type=content_type)
