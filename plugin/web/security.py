"""Web sessions, CSRF, languages and security headers for the pages."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from ..settings import Settings
from .access import SESSION_LIFETIME

LANGUAGES = ("en", "sv")
LANGUAGE_COOKIE = "lang"
csrf = CSRFProtect()
babel = Babel()


class PageSessionInterface(SecureCookieSessionInterface):
    """Signed cookie sessions: Secure over HTTPS; an LTI session is SameSite=None, Partitioned."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return request.is_secure or bool(session.get("lti"))

    def get_cookie_samesite(self, app: Flask) -> str:
        return "None" if session.get("lti") else "Lax"

    def get_cookie_partitioned(self, app: Flask) -> bool:
        return bool(session.get("lti"))


def select_locale() -> str:
    """The language chosen with the switch, else the browser's, else English."""
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES) or "en"


def origin(url: str) -> str | None:
    """scheme://host[:port] of `url`, or None when it has none."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def init_app(app: Flask, settings: Settings) -> None:
    """Sessions signed with the secret key, CSRF for page forms, Babel, headers, proxies."""
    app.secret_key = settings.secret_key or None
    app.session_interface = PageSessionInterface()
    app.config.update(
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME, SESSION_COOKIE_HTTPONLY=True,
        SESSION_REFRESH_EACH_REQUEST=False,
        # Page blueprints check the token themselves: the webhook, JSON API and LTI launch
        # are authenticated otherwise and take no form posts.
        WTF_CSRF_CHECK_DEFAULT=False, WTF_CSRF_TIME_LIMIT=None,
        BABEL_DEFAULT_LOCALE="en",
    )
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    if settings.trusted_proxies:
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)
    frame = origin(settings.canvas_url)

    @app.after_request
    def _headers(response: Response) -> Response:
        ancestors = frame if frame and session.get("lti") else "'none'"
        response.headers.setdefault(
            "Content-Security-Policy", f"default-src 'self'; frame-ancestors {ancestors}")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response
