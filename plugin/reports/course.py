"""A course as its pages show it, from the very dry run the JSON preview computes."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property

from plugin.export.lines import identity_of, identity_problem
from plugin.export.run import RunSummary, run_export
from plugin.export.students import CourseData, StudentView
from plugin.intake.overlay import READ_FOLD_LIMIT
from plugin.reports.ladok_state import ladok_view
from plugin.reports.student import component_state
from plugin.rules.course_config import CourseConfig
from plugin.rules.reasons import Reason
from plugin.settings import Settings
from plugin.settings.ladok import connected
from plugin.status import CORRECTION, WITHDRAWN
from plugin.store.db import Store

MODULE_BUCKET = {"exported": "exported", "elsewhere": "exported", "new": "waiting",
                 "correction": "waiting", "held_back": "waiting", "attestation": "attestation"}


@dataclass
class StudentRow:
    """One line of the students table."""

    user_id: int
    name: str
    identity: str | None
    states: dict[str, str]  # component code -> state (see component_state)
    grades: dict[str, str | None]
    reasons: dict[str, str]  # why a component is not earned
    problems: list[str]
    earned: int  # modules earned
    ladok: dict[str, dict] = field(default_factory=dict)  # code -> what Ladok shows

    @property
    def waiting(self) -> bool:
        return any(s in ("new", "correction", "held_back") for s in self.states.values())


@dataclass
class CourseView:
    """Everything the course page shows for one course."""

    course: CourseConfig
    summary: RunSummary
    rows: list[StudentRow] = field(default_factory=list)
    moments: dict[int, Counter] = field(default_factory=dict)
    modules: dict[str, Counter] = field(default_factory=dict)
    assignment_names: dict[int, str] = field(default_factory=dict)
    # (language, user id) -> that student's table line as HTML: a cached view is rendered once.
    row_html: dict[tuple[str, int], str] = field(default_factory=dict)

    def add(self, data: CourseData, student: StudentView) -> None:
        """Count one evaluated student into the chart and the table."""
        if not self.assignment_names:  # unmapped assignments are named from the same load
            self.assignment_names = {i: a.name or "" for i, a in data.assignments.items()}
        outcome, due = student.outcome, student.plan.course_grade_due
        for moment in outcome.moments:
            kind = "passed" if moment.passed else "failed" if moment.grade else "ungraded"
            self.moments.setdefault(moment.moment, Counter())[kind] += 1
        identity = identity_of(student.user, data.settings.student_id_field)
        held_back = identity_problem(identity, data.settings.student_id_field)
        states, grades, reasons = {}, {}, {}
        results = outcome.modules + ((outcome.course_grade,) if outcome.course_grade else ())
        for result in results:
            state = component_state(result, student, due if result.is_course_grade else None,
                                    held_back is not None)
            states[result.code], grades[result.code] = state, result.grade
            if state == "not_earned":
                reasons[result.code] = result.reason
            self.modules.setdefault(result.code, Counter())[
                MODULE_BUCKET.get(state, "not_earned")] += 1
        problems = list(outcome.manual)
        if "held_back" in states.values():
            problems.insert(0, Reason("held_back", why=held_back))
        problems += [Reason("problem.withdrawing", code=code) for code, s in states.items()
                     if s == "withdrawing"]
        problems += [Reason("problem.elsewhere", code=code)
                     for code in student.plan.owned_elsewhere]
        linked = connected(data.settings, data.course)
        shown = {r.code: ladok_view(student, r.code, linked) for r in results}
        self.rows.append(StudentRow(student.user_id, student.name, identity, states, grades,
                                    reasons, problems, sum(m.earned for m in outcome.modules),
                                    {code: v for code, v in shown.items() if v}))

    @cached_property
    def changes(self) -> list:
        """The corrections and withdrawals among the dry run's lines (once per view, not per
        page: a large course has thousands of lines)."""
        return [line for line in self.summary.lines if line.status in (CORRECTION, WITHDRAWN)]

    @property
    def counts(self) -> dict[str, int]:
        """The dry run's counts, as the JSON preview gives them."""
        return self.summary.counts


def course_views(store: Store, settings: Settings, courses: list[CourseConfig],
                 now: dt.datetime | None = None) -> dict[int, CourseView]:
    """The views of `courses`, from one dry run over every student of each."""
    views: dict[int, CourseView] = {}
    for course in courses:
        view = CourseView(course, RunSummary(None, True))
        summary = run_export(store, settings, course_id=course.canvas_id, dry_run=True,
                             ask_canvas=False, fold_limit=READ_FOLD_LIMIT, now=now,
                             on_student=view.add)
        view.summary = summary
        views[course.canvas_id] = view
    return views
