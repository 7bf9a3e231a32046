"""POST /webhooks/canvas: verify, store durably, deduplicate and apply one Canvas event."""

from __future__ import annotations

import time

from flask import Blueprint, jsonify, request

from .. import metrics
from ..canvas_events import MalformedEvent, decode, parse
from ..extensions import services
from ..webhook_auth import AuthError
from .errors import error

bp = Blueprint("webhook", __name__)


def _read_body(limit: int) -> bytes | None:
    """The request body, or None when it exceeds `limit` bytes."""
    if request.content_length is not None and request.content_length > limit:
        return None
    raw = request.stream.read(limit + 1)
    return None if len(raw) > limit else raw


@bp.post("/webhooks/canvas")
def receive():
    """Answer 202 once the event is committed; 4xx with a reason otherwise."""
    started = time.perf_counter()
    svc = services()
    raw = _read_body(svc.settings.max_body_bytes)
    if raw is None:
        return error(413, f"body larger than {svc.settings.max_body_bytes} bytes")
    try:
        auth = svc.authenticator.authenticate(request.headers, raw, request.args.get("token"))
        event = parse(decode(auth.body))
    except AuthError as exc:
        return error(exc.status, exc.message)
    except MalformedEvent as exc:
        return error(400, str(exc))
    status = svc.inbox.submit(event, auth.webhook_id)
    metrics.count_event(event.name, status)
    metrics.WEBHOOK_SECONDS.observe(time.perf_counter() - started)
    return jsonify(status=status), 202
