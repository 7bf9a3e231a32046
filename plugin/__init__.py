"""canvas-ladok: carries course results from Canvas into Ladok."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the web application; `config` may hold SETTINGS or CONFIG_PATH and Flask keys."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    from plugin import extensions, logs
    from plugin.settings import Settings, load_settings
    from plugin.web import (
        actions,
        admin,
        errors,
        export_pages,
        health,
        lti,
        me,
        pages,
        security,
        signin,
        template_helpers,
        webhook,
    )
    from plugin.web.bodies import WholeChunkedBody

    logs.install()
    app = Flask(__name__, instance_relative_config=False)
    config = dict(config or {})
    settings = config.pop("SETTINGS", None)
    if not isinstance(settings, Settings):
        settings = load_settings(config.pop("CONFIG_PATH", None))
    app.config.update(config)
    # No route reads a body above max_body_bytes: a longer Content-Length is answered 413
    # before anything is read, a chunked body once it passes the limit.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.wsgi_app = WholeChunkedBody(app.wsgi_app, settings.max_body_bytes)
    if settings.trusted_proxies:  # X-Forwarded-* from that many proxies in front
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n,
                                x_prefix=n)
    extensions.init_app(app, settings)
    security.init_app(app, settings)
    template_helpers.init_templates(app)
    errors.register(app)
    app.register_blueprint(webhook.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(admin.bp)
    for blueprint in (signin.bp, pages.bp, export_pages.bp, actions.bp, me.bp):
        app.register_blueprint(blueprint)
    lti.init_app(app)
    return app
