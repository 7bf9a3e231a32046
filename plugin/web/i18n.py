"""English and Swedish pages (Flask-Babel): the browser's language decides."""

from __future__ import annotations

from flask import Flask, request
from flask_babel import Babel, get_locale

LANGUAGES = ("en", "sv")


def _locale() -> str:
    return request.accept_languages.best_match(LANGUAGES) or "en"


def init_i18n(app: Flask) -> None:
    """Babel with the package's catalog; `lang` for templates."""
    Babel(app, locale_selector=_locale)
    app.context_processor(lambda: {"lang": str(get_locale() or "en")})
