"""GET /me: a student's own status page, for a session from a Learner's launch."""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, render_template
from werkzeug.exceptions import HTTPException

from plugin.clock import utcnow
from plugin.extensions import services
from plugin.intake.apply import oldest_pending
from plugin.reports.student import student_report
from plugin.settings import cron_trigger
from plugin.web.access import current_scope
from plugin.web.page_blueprints import html_error

bp = Blueprint("me", __name__)
bp.register_error_handler(HTTPException, partial(html_error, home=False))


def next_export(now: dt.datetime) -> dt.date:
    """The local date of the next scheduled (nightly) export."""
    settings = services().settings
    trigger = cron_trigger(settings.export_schedule, settings.timezone)
    return trigger.get_next_fire_time(None, now).date()


def _local_date(iso_time: str | None, zone: str) -> dt.date | None:
    if not iso_time:
        return None
    return dt.datetime.fromisoformat(iso_time).astimezone(ZoneInfo(zone)).date()


def _sent(component: dict[str, Any], zone: str) -> dt.date | None:
    # The run that last sent this result to Ladok's reporting (corrections included).
    sent = [e for e in component["exports"] if e["status"] != "withdrawn"]
    return _local_date(sent[-1]["exported_at"], zone) if sent else None


def _due_run(component: dict[str, Any], now: dt.datetime) -> dt.date:
    # A course grade waiting for attestation goes at the first scheduled run after its delay.
    due = component.get("due")
    start = max(now, dt.datetime.fromisoformat(due)) if due else now
    return next_export(start)


@bp.get("/me")
def status():
    """The student's moments, modules and course grade, and when each goes to Ladok."""
    scope = current_scope()
    svc = services()
    if not scope or scope.get("kind") != "student":  # where a student's page comes from
        return render_template("me/elsewhere.html", lti=svc.settings.lti.enabled,
                               staff=scope is not None), 404
    course = svc.settings.course(scope["course"])
    if course is None:
        abort(404)
    report = student_report(svc.store, svc.settings, course, scope["user"])
    with svc.store.read() as session:
        processing = oldest_pending(session) is not None
    now = utcnow()
    components = ([*report["modules"], *filter(None, [report["course_grade"]])]
                  if report else [])
    when = {c["code"]: {"sent": _sent(c, course.timezone), "next": _due_run(c, now)}
            for c in components}
    return render_template("me/status.html", report=report, course=course, when=when,
                           processing=processing)
