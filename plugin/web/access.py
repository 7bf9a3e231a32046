"""Who the signed-in person is and what they may see (web sessions)."""

from __future__ import annotations

from typing import Any

from flask import session


def start_session(scope: dict, who: str, lti: bool = False) -> None:
    """Forget any earlier session and start a permanent (8-hour) one."""
    session.clear()
    session.permanent = True
    session.update(scope=scope, who=who)
    if lti:
        session["lti"] = True


def current_scope() -> dict[str, Any] | None:
    """The session's scope, or None when nobody is signed in."""
    scope = session.get("scope")
    return scope if isinstance(scope, dict) else None


def course_allowed(course_id: int) -> bool:
    """Whether the session may see the course's pages and actions."""
    scope = current_scope() or {}
    return scope.get("kind") == "admin" or (
        scope.get("kind") == "course" and scope.get("course") == course_id)
