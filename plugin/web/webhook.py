"""POST /webhooks/canvas: verify, store durably and deduplicate one Canvas event.

The event is applied to the grade state later, by the scheduler process (see intake.apply).
"""

from __future__ import annotations

import json
import time

from flask import Blueprint, Response, request

from plugin import metrics
from plugin.canvas.events import MalformedEvent, decode, parse
from plugin.canvas.webhook_auth import AuthError
from plugin.extensions import services
from plugin.status import ACCEPTED, DUPLICATE, IGNORED
from plugin.web.errors import error

bp = Blueprint("webhook", __name__)
# The three answers, serialised once: the same bytes jsonify() would give.
_ANSWERS = {status: json.dumps({"status": status}, separators=(",", ":")).encode() + b"\n"
            for status in (ACCEPTED, DUPLICATE, IGNORED)}


class _ShortBody(Exception):
    """The client sent less than its Content-Length."""


def _read_body(limit: int) -> bytes | None:
    """The request body, or None when it exceeds `limit` bytes."""
    length = _content_length()
    if length is None:  # chunked: the server's stream ends where the body ends
        raw = request.input_stream.read(limit + 1)
        return None if len(raw) > limit else raw
    if length > limit:
        return None
    # PEP 3333 lets an application read Content-Length bytes from the server's own stream;
    # werkzeug's guarding wrapper around it costs three times the read itself.
    raw = request.input_stream.read(length)
    if len(raw) < length:
        raise _ShortBody
    return raw


def _content_length() -> int | None:
    """The Content-Length the server checked (gunicorn refuses one that is not a number)."""
    value = request.environ.get("CONTENT_LENGTH")
    if value and value.isascii() and value.isdigit():
        return int(value)
    return request.content_length


def _token() -> str | None:
    """The ?token= value; the query string is parsed only when there is one."""
    return request.args.get("token") if request.query_string else None


@bp.post("/webhooks/canvas")
def receive():
    """Answer 202 once the event is committed; 4xx with a reason otherwise."""
    started = time.perf_counter()
    svc = services()
    try:
        raw = _read_body(svc.settings.max_body_bytes)
    except _ShortBody:
        return error(400, "body shorter than its Content-Length")
    if raw is None:
        return error(413, f"body larger than {svc.settings.max_body_bytes} bytes")
    try:
        auth = svc.authenticator.authenticate(request.headers, raw, _token())
        event = parse(decode(auth.body), details=False)
    except AuthError as exc:
        return error(exc.status, exc.message)
    except MalformedEvent as exc:
        return error(400, str(exc))
    status = svc.inbox.submit(event, auth.webhook_id)
    metrics.count_event(event.name, status)
    metrics.WEBHOOK_SECONDS.observe(time.perf_counter() - started)
    return Response(_ANSWERS[status], 202, mimetype="application/json")
