"""canvas-ladok: carries course results from Canvas into Ladok."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from .settings import Settings, load_settings


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the web application; `config` may hold SETTINGS or CONFIG_PATH and Flask keys."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    from . import extensions
    from .web import admin, errors, health, i18n, lti, me, page_headers, session_cookie, webhook

    app = Flask(__name__, instance_relative_config=False)
    config = dict(config or {})
    settings = config.pop("SETTINGS", None)
    if not isinstance(settings, Settings):
        settings = load_settings(config.pop("CONFIG_PATH", None))
    app.config.update(config)
    app.config["MAX_CONTENT_LENGTH"] = None  # the webhook answers 413 itself, with JSON
    extensions.init_app(app, settings)
    errors.register(app)
    app.register_blueprint(webhook.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(admin.bp)
    session_cookie.init_sessions(app, settings)
    page_headers.init_page_headers(app, settings)
    i18n.init_i18n(app)
    lti.init_app(app)
    app.register_blueprint(me.bp)
    if settings.trusted_proxies:
        # Behind TLS termination: the scheme (Secure cookies) and host the proxies saw.
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)
    return app
