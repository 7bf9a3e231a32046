"""Who may use the web: the pages' signed-in scope and the admin API's bearer token."""

from __future__ import annotations

import datetime as dt
import hmac
from typing import Any

from flask import request, session

from plugin.extensions import services
from plugin.web.errors import error

SESSION_HOURS = 8
SESSION_LIFETIME = dt.timedelta(hours=SESSION_HOURS)
KINDS = ("admin", "course", "student")


def start_session(scope: dict, who: str, lti: bool = False) -> None:
    """Clear the session and start a permanent 8-hour one with `scope` for `who`."""
    session.clear()
    session.permanent = True
    session["scope"] = dict(scope)
    session["who"] = who
    if lti:
        session["lti"] = True


def current_scope() -> dict[str, Any] | None:
    """The signed-in scope, or None when nobody (valid) is signed in."""
    scope = session.get("scope")
    if not isinstance(scope, dict) or scope.get("kind") not in KINDS:
        return None
    return scope


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
    """The signed-in person's display text, for logs."""
    return str(session.get("who") or "anonymous")


def check_admin_token():
    """None when the request carries a configured admin token, else a 401/403 response."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
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
