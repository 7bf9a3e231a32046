"""Web sessions, CSRF, languages and security headers for the pages."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_babel import Babel
from flask_wtf.csrf import CSRFError, CSRFProtect

from plugin.settings import Settings
from plugin.web.access import SESSION_LIFETIME

LANGUAGES = ("en", "sv")
LANGUAGE_COOKIE = "lang"
csrf = CSRFProtect()
babel = Babel()


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


class PageSessionInterface(_Cookies):
    """SameSite=Lax, Secure behind HTTPS; LTI sessions SameSite=None; Secure; Partitioned."""

    def __init__(self):
        super().__init__(framed=False)
        self.lti = _Cookies(framed=True)

    def save_session(self, app: Flask, session, response) -> None:
        # The session is read here, not through flask.session, which would mark every
        # response "Vary: Cookie".
        mine, other = (self.lti, self) if session.get("lti") else (self, self.lti)
        if session.modified and (not session or self.get_cookie_name(app) in request.cookies):
            # Signed out, or a session started where the browser may hold the other kind of
            # cookie (an administrator opening a teacher's launch in a tab): that one is
            # deleted first, so the browser keeps only the session meant.
            ended = self.session_class()
            ended.modified = True
            _Cookies.save_session(other, app, ended, response)
        _Cookies.save_session(mine, app, session, response)


def protect_form() -> None:
    """The CSRF check of a form post; a Referer that is no URL fails it (400), not a 500."""
    try:
        csrf.protect()
    except ValueError:  # behind HTTPS the library parses the Referer, which may not parse
        raise CSRFError("The referrer header is not a valid URL.") from None


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
    frame = origin(settings.canvas_url)

    @app.after_request
    def _headers(response: Response) -> Response:
        if request.endpoint != "static":  # pages, JSON and files may hold personal data
            response.headers["Cache-Control"] = "no-store"
        if response.mimetype != "text/html":  # JSON and files are never framed or rendered
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
            return response
        framed = frame and (session.get("lti") or request.path.startswith("/lti/"))
        ancestors = frame if framed else "'none'"
        response.headers.setdefault(
            "Content-Security-Policy", f"default-src 'self'; frame-ancestors {ancestors}")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response
