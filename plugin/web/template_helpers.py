"""What the page templates are given: filters, helpers and words shared by every page."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import Flask, g
from flask_babel import get_locale, gettext
from markupsafe import Markup

from plugin.extensions import services
from plugin.rules.identity import mask
from plugin.rules.text import shown
from plugin.web.access import current_scope, who
from plugin.words import number, on_page

BAR_X, BAR_WIDTH = 150, 420


def bar(counts, kinds: tuple[str, ...]) -> list[dict]:
    """The segments of one stacked bar of the progress chart: kind, count, x and width."""
    total = sum(counts.get(k, 0) for k in kinds) or 1
    out, x = [], float(BAR_X)
    for kind in kinds:
        width = BAR_WIDTH * counts.get(kind, 0) / total
        out.append({"kind": kind, "count": counts.get(kind, 0), "x": round(x, 1),
                    "width": round(width, 1)})
        x += width
    return out


def when(value: dt.datetime | str | None) -> str:
    """A time (or ISO text) as local text in the service's time zone ("—" when unknown)."""
    if not value:
        return "—"
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    zone = ZoneInfo(services().settings.timezone)
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def components(view) -> list[tuple[str, str]]:
    """(code, display name) of each module and of the course grade."""
    out = [(m.code, f"{gettext('Module')} {m.code} {m.name}") for m in view.course.modules]
    course = view.course
    final = any(m.final for m in course.modules)
    if len(course.modules) > 1 and (final or all(m.scale == "GU" for m in course.modules)):
        out.append((view.course.ladok_code,
                    gettext("Final grade (slutbetyg) %(code)s", code=view.course.ladok_code)))
    return out


STATE_MARKS = {"exported": "✓", "elsewhere": "✓", "new": "●", "correction": "●",
               "held_back": "!", "attestation": "…", "withdrawing": "!", "withdrawn": "!",
               "not_earned": "–"}


def state_words() -> dict[str, str]:
    """Each result state in words, in the page's language (translated once per request)."""
    if "state_words" not in g:
        g.state_words = {
            "exported": gettext("exported"),
            "elsewhere": gettext("exported from another course room"),
            "new": gettext("earned, waiting for export"),
            "correction": gettext("correction waiting for export"),
            "held_back": gettext("held back: no identity"),
            "attestation": gettext("waiting for module attestation"),
            "withdrawing": gettext("no longer earned: will be marked withdrawn — handle in "
                                   "Ladok"),
            "withdrawn": gettext("withdrawn — handle in Ladok"),
            "not_earned": gettext("not earned"),
        }
    return g.state_words


def health_words(reason: str | None) -> str:
    """/healthz's reason (English, a contract of the JSON answer) in the page's language: each
    known part translated, anything else as it is."""
    if not reason:
        return ""
    known = {
        "the scheduler process has not run": gettext("the scheduler process has not run"),
        "the scheduler process is down": gettext("the scheduler process is down"),
        "the scheduler process is down (no heartbeat for over 5 minutes)": gettext(
            "the scheduler process is down (no heartbeat for over 5 minutes)"),
        "the scheduler process is starting": gettext("the scheduler process is starting"),
        "queued jobs waiting over 5 minutes": gettext("queued jobs waiting over 5 minutes"),
        "events waiting over 5 minutes to be applied": gettext(
            "events waiting over 5 minutes to be applied"),
        "database busy": gettext("database busy"),
    }
    return "; ".join(known.get(part, part) for part in reason.split("; "))


def _as_shown(value):
    """What a page shows of a value: text without control or bidirectional formatting
    characters (a name from Canvas may hold them); markup made here as it is."""
    return shown(value) if isinstance(value, str) and not isinstance(value, Markup) else value


def init_templates(app: Flask) -> None:
    """The pages' template filters and helpers."""
    app.jinja_env.finalize = _as_shown  # before any template is compiled
    app.add_template_filter(when)
    app.add_template_filter(components)
    app.add_template_filter(on_page, "words")
    app.add_template_filter(number)
    app.add_template_filter(health_words)
    app.add_template_global(bar)
    app.add_template_global(mask)
    app.add_template_global(current_scope, "signed_in_scope")
    app.add_template_global(who, "signed_in_who")
    app.add_template_global(state_words)
    app.add_template_global(STATE_MARKS, "STATE_MARKS")
    app.add_template_global(BAR_X, "BAR_X")
    app.add_template_global(lambda: str(get_locale() or "en"), "current_locale")
