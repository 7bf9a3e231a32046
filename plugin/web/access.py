"""Who may use the web: the pages' signed-in scope and the admin API's bearer token."""

from __future__ import annotations

import datetime as dt
import hmac
from typing import Any

from flask import g, request, session

from plugin.clock import utcnow
from plugin.extensions import services
from plugin.web import session_records
from plugin.web.errors import error
from plugin.web.session_records import SessionRecord, token_digest, token_still_configured

SESSION_HOURS = 8
SESSION_LIFETIME = dt.timedelta(hours=SESSION_HOURS)
KINDS = ("admin", "course", "student")


def start_session(scope: dict, who: str, lti: bool = False, token: str | None = None) -> None:
    """End the browser's earlier session and start a clean 8-hour one with `scope` for `who`
    (an administrator's with the `token` that signed them in)."""
    end_session()
    settings = services().settings
    digest = token_digest(settings.secret_key, token) if token else None
    record = SessionRecord(dict(scope), who, digest)
    key = session_records.open_record(services().store, record, SESSION_LIFETIME, utcnow())
    session.permanent = True
    session["key"] = key
    if lti:
        session["lti"] = True
    g.signed_in = record


def end_session() -> None:
    """End the browser's session everywhere: its record goes, so copies of the cookie stop
    working too; the cookie itself is deleted with the response."""
    key = session.get("key")
    if isinstance(key, str):
        session_records.close(services().store, key)
    session.clear()
    g.signed_in = None


def _signed_in() -> SessionRecord | None:
    """The session's record (looked up once per request), or None."""
    if "signed_in" not in g:
        g.signed_in = _look_up()
    return g.signed_in


def _look_up() -> SessionRecord | None:
    key = session.get("key")
    if not isinstance(key, str):
        return None
    record = session_records.find(services().store, key, utcnow())
    if record is None or not _still_valid(record):
        session.clear()  # ended, expired or its token removed: the cookie goes too
        return None
    return record


def _still_valid(record: SessionRecord) -> bool:
    if record.scope.get("kind") not in KINDS:
        return False
    if record.scope["kind"] != "admin":
        return True
    settings = services().settings
    return token_still_configured(record, settings.secret_key, settings.admin_tokens)


def current_scope() -> dict[str, Any] | None:
    """The signed-in scope, or None when nobody (valid) is signed in."""
    record = _signed_in()
    return None if record is None else record.scope


def signed_in_as() -> tuple[dict[str, Any], str] | None:
    """(scope, who) of the signed-in person, or None."""
    record = _signed_in()
    return None if record is None else (record.scope, record.who)


def is_admin() -> bool:
    """True for an administrator session (all courses, all actions)."""
    scope = current_scope()
    return scope is not None and scope["kind"] == "admin"


def course_allowed(course_id: int) -> bool:
    """True when the session may see course `course_id`'s pages and act on it."""
    scope = current_scope()
    if scope is None:
        return False
    return scope["kind"] == "admin" or (scope["kind"] == "course"
                                        and scope.get("course") == course_id)


def who() -> str:
    """Who is asking, for logs and the page header: the signed-in person, or the admin API's
    caller by the place of their token in the list (never its value)."""
    if request.blueprint == "admin":
        number = admin_token_number(bearer_token())
        return f"administrator (token {number})" if number else "anonymous"
    record = _signed_in()
    return "anonymous" if record is None else record.who


def bearer_token() -> str:
    """The request's `Authorization: Bearer` token, or ""."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def check_admin_token():
    """None when the request carries a configured admin token, else a 401/403 response."""
    token = bearer_token()
    if not token:
        return error(401, "admin token required (Authorization: Bearer ...)",
                     **{"WWW-Authenticate": "Bearer"})
    if admin_token_number(token) is None:
        return error(403, "admin token not accepted")
    return None


def admin_token_number(token: str) -> int | None:
    """Which of the admin tokens `token` is (1-based), compared in constant time; or None."""
    given = token.strip().encode()
    matches = [hmac.compare_digest(given, t.encode()) for t in services().settings.admin_tokens]
    return matches.index(True) + 1 if given and any(matches) else None
