"""The session cookie's attributes, chosen per session: framed in Canvas or not."""

from __future__ import annotations

import datetime as dt

from flask import Flask, request, session
from flask.sessions import SecureCookieSessionInterface

from ..settings import Settings

SESSION_HOURS = 8


def _framed() -> bool:
    # A session from an LTI launch lives in Canvas's iframe: a third-party context, where a
    # browser sends only SameSite=None cookies, which must be Secure, and keeps them per site
    # of the embedding page (Partitioned).
    return bool(session.get("lti"))


class SessionCookies(SecureCookieSessionInterface):
    """SameSite=Lax, Secure behind HTTPS; LTI sessions SameSite=None; Secure; Partitioned."""

    def get_cookie_samesite(self, app: Flask) -> str:
        return "None" if _framed() else "Lax"

    def get_cookie_secure(self, app: Flask) -> bool:
        return _framed() or request.is_secure

    def get_cookie_partitioned(self, app: Flask) -> bool:
        return _framed()


def init_sessions(app: Flask, settings: Settings) -> None:
    """Signed cookie sessions with `CANVAS_LADOK_SECRET_KEY`, 8 hours, HttpOnly."""
    app.secret_key = settings.secret_key or None
    app.config.update(PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=SESSION_HOURS),
                      SESSION_COOKIE_HTTPONLY=True)
    app.session_interface = SessionCookies()
