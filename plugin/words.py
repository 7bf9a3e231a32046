"""The rules' reasons in the reader's language: on pages through Flask-Babel (the request's
locale), in mails through the same catalogue loaded by Babel (no request there)."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from babel.numbers import format_decimal
from babel.support import Translations

from plugin.rules.reasons import Reason, say

CATALOGUE = Path(__file__).resolve().parent / "translations"


@lru_cache(maxsize=4)
def _translations(locale: str) -> Translations:
    return Translations.load(str(CATALOGUE), [locale])


def _said(reason: str, gettext: Callable[[str], str], decimal: Callable[[float], str]) -> str:
    """`reason` said with these words and numbers; text that is no Reason as it is."""
    if not isinstance(reason, Reason):
        return str(reason)
    return say(reason.code, reason.params, gettext, decimal)


def in_language(reason: str, locale: str) -> str:
    """`reason` in `locale`'s words and numbers (a mail: no request, no Flask-Babel)."""
    return _said(reason, _translations(locale).gettext,
                 lambda n: format_decimal(n, locale=locale))


def on_page(reason: str) -> str:
    """`reason` in the page's language (Flask-Babel's locale for this request)."""
    import flask_babel

    return _said(reason, flask_babel.gettext, flask_babel.format_decimal)


def number(value: float | None) -> str:
    """A number as the page's language writes it ("2,5" in Swedish); "" for None."""
    import flask_babel

    return "" if value is None else flask_babel.format_decimal(value)
