"""A demo course in every state the pages show: exported, waiting, PG, hidden grade, no
identity, unmapped assignment, a correction and a withdrawal."""

from __future__ import annotations

import datetime as dt

from plugin.canvas.events import parse
from plugin.demo.live_events import (
    assignment_event,
    enrollment_event,
    grade_event,
    submission_event,
)
from plugin.demo.simulate import DEMO_COURSE as COURSE
from plugin.demo.simulate import DEMO_MOMENTS, demo_term
from plugin.demo.simulate import DEMO_START as TERM_START
from plugin.export.run import run_export
from plugin.intake.apply import apply_pending
from plugin.intake.inbox import GroupCommit
from plugin.settings import Settings
from plugin.status import CLI
from plugin.store.db import Store

LATER = TERM_START + dt.timedelta(weeks=10)
EXTRA_ASSIGNMENT = 399  # "Extra uppgift": matches no moment, so it is listed as unmapped


def _graded_moments(user: int, name: str, moments, when: dt.datetime, *,
                    sis_id: str | None, hidden: int | None = None) -> list[dict]:
    """Hand-ins and grades of `moments` for a new student."""
    events = [enrollment_event(COURSE, user, name, when)]
    for step, moment in enumerate(moments):
        handed_in = when + dt.timedelta(days=step, hours=1)
        grade = "B" if moment == 10 else "G"
        events.append(submission_event(COURSE, 300 + moment, user, handed_in))
        events.append(grade_event(COURSE, 300 + moment, user, grade,
                                  handed_in + dt.timedelta(days=1), sis_id=sis_id,
                                  muted=moment == hidden))
    return events


def later_events() -> list[dict]:
    """What happens after the first export: the states a course page must be able to show."""
    when = LATER
    events = [
        # Student 1's project is regraded B -> A after export: a correction.
        grade_event(COURSE, 310, 1001, "A", when, sis_id="19900101-1001"),
        # Student 2's kmom02 is changed to U after export: module 2205 is withdrawn.
        grade_event(COURSE, 302, 1002, "U", when, sis_id="19900101-1002"),
        assignment_event(COURSE, EXTRA_ASSIGNMENT, "Extra uppgift", when),
        grade_event(COURSE, EXTRA_ASSIGNMENT, 1003, "G", when, sis_id="19900101-1003"),
    ]
    # Earned every module, but Canvas has no personnummer for them: held back.
    events += _graded_moments(1101, "Nils Utan-Nummer", DEMO_MOMENTS, when, sis_id=None)
    # A grade the teacher has not posted yet (hidden): manual handling.
    events += _graded_moments(1102, "Hanna Dold", DEMO_MOMENTS, when,
                              sis_id="19950505-1102", hidden=5)
    # Module 2205 earned after the export: waiting for the next one.
    events += _graded_moments(1103, "Vera Väntar", (1, 2, 3), when, sis_id="19970707-1103")
    return events


def _submit(inbox: GroupCommit, events: list[dict]) -> None:
    for event in events:
        inbox.submit(parse(event), None)


def fill_demo(store: Store, settings: Settings, students: int = 8) -> int | None:
    """Post a term of the demo course, export it, then post what happened after; the run id."""
    inbox = GroupCommit(store, settings)
    _submit(inbox, demo_term(COURSE, students, TERM_START))
    apply_pending(store)
    summary = run_export(store, settings, course_id=COURSE, trigger=CLI)
    _submit(inbox, later_events())
    apply_pending(store)
    return summary.run_id
