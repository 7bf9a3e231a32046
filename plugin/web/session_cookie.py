"""The session cookie's attributes, chosen per session: framed in Canvas or not."""

from __future__ import annotations

import datetime as dt

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface

from ..settings import Settings

SESSION_HOURS = 8


class _Cookies(SecureCookieSessionInterface):
    """The signed cookie session with fixed attributes: framed in Canvas or not."""

    def __init__(self, framed: bool):
        # A session from an LTI launch lives in Canvas's iframe: a third-party context, where
        # a browser sends only SameSite=None cookies, which must be Secure, and keeps them per
        # site of the embedding page (Partitioned).
        self.framed = framed

    def get_cookie_samesite(self, app: Flask) -> str:
        return "None" if self.framed else "Lax"

    def get_cookie_secure(self, app: Flask) -> bool:
        return self.framed or request.is_secure

    def get_cookie_partitioned(self, app: Flask) -> bool:
        return self.framed


class SessionCookies(_Cookies):
    """SameSite=Lax, Secure behind HTTPS; LTI sessions SameSite=None; Secure; Partitioned."""

    def __init__(self):
        super().__init__(framed=False)
        self.lti = _Cookies(framed=True)

    def save_session(self, app: Flask, session, response) -> None:
        # The session is read here, not through flask.session, which would mark every
        # response "Vary: Cookie".
        if session.get("lti"):
            return self.lti.save_session(app, session, response)
        if not session and session.modified:  # signed out: delete either kind of cookie
            self.lti.save_session(app, session, response)
        return super().save_session(app, session, response)


def init_sessions(app: Flask, settings: Settings) -> None:
    """Signed cookie sessions with `CANVAS_LADOK_SECRET_KEY`, 8 hours, HttpOnly."""
    app.secret_key = settings.secret_key or None
    app.config.update(PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=SESSION_HOURS),
                      SESSION_COOKIE_HTTPONLY=True)
    app.session_interface = SessionCookies()
