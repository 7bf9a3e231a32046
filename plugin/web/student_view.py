"""The student endpoint's report: every moment, module and course grade, and its exports."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from ..clock import iso, utcnow
from ..db import Store
from ..models import Submission
from ..rules.ledger import WITHDRAWN, Decision
from ..rules.results import ComponentResult, exportable, label
from ..settings import CourseConfig, Settings
from ..student_data import CourseData, StudentView, identity_of, load_students

WAITING = "waiting for module attestation"


def _exports(student: StudentView, code: str) -> list[dict[str, Any]]:
    rows = sorted((r for r in student.ledger_rows if r.component_code == code),
                  key=lambda r: r.version)
    return [{"version": r.version, "status": r.status, "run": r.run_id, "file": r.file,
             "grade": r.grade, "exam_date": r.exam_date,
             "exported_at": iso(r.exported_at)} for r in rows]


def _status(result: ComponentResult, student: StudentView, due: dt.datetime | None,
            identity: str | None) -> tuple[str, str]:
    """A state code for pages to word in their own language, and the status in English."""
    latest = student.ledger.get(result.code)
    pending = {d.result.code: d for d in student.plan.decisions}
    decision: Decision | None = pending.get(result.code)
    if result.code in student.plan.owned_elsewhere:
        return "elsewhere", (f"exported from Canvas course {latest.course_id} (same Ladok "
                             "course): changes here need manual handling")
    if result.is_course_grade and due is not None:
        return "waiting", f"{WAITING} (until {due.isoformat()})"
    if decision is not None and decision.status == WITHDRAWN:
        return "withdrawing", "no longer earned: will be marked withdrawn — handle in Ladok"
    if latest is not None and latest.status == WITHDRAWN and not exportable(result):
        return "withdrawn", "withdrawn — handle in Ladok"
    if decision is not None:
        what = "new result" if decision.status == "new" else "correction"
        if not identity:
            return "held", f"{what} for the next export (held back: no student identity)"
        return ("next_export" if decision.status == "new" else "correction",
                f"{what} for the next export")
    if latest is not None:
        return "exported", "exported"
    return "not_earned", "not earned"


def _component(result: ComponentResult, student: StudentView, due, identity) -> dict[str, Any]:
    state, status = _status(result, student, due, identity)
    return {
        "code": result.code, "name": result.name, "credits": result.credits,
        "earned": result.earned, "grade": result.grade, "exam_date": iso(result.date),
        "reason": result.reason, "graders": list(result.grader_ids),
        "status": status, "state": state, "due": iso(due),
        "exports": _exports(student, result.code),
    }


def student_report(store: Store, settings: Settings, course: CourseConfig,
                   user_id: int) -> dict[str, Any] | None:
    """The report for one student, or None when nothing is stored for them in the course."""
    now = utcnow()
    with store.read() as session:
        if session.scalar(select(Submission.user_id).where(
                Submission.course_id == course.canvas_id, Submission.user_id == user_id)
                .limit(1)) is None:
            return None
        data = CourseData.load(session, settings, course)
        student = next(load_students(session, data, [user_id], now))
    identity = identity_of(student.user, settings.student_id_field)
    due = student.plan.course_grade_due
    outcome = student.outcome
    return {
        "course": course.canvas_id, "user_id": user_id, "name": student.name or None,
        "student_id": identity,
        "identity": identity and "known" or f"missing: no {settings.student_id_field}",
        "moments": [{
            "moment": label(m.moment), "passed": m.passed, "reason": m.reason, "grade": m.grade,
            "exam_date": iso(m.date), "assignment_id": m.assignment_id,
            "needs_manual": m.needs_manual,
        } for m in outcome.moments],
        "modules": [_component(r, student, None, identity) for r in outcome.modules],
        "course_grade": (_component(outcome.course_grade, student, due, identity)
                         if outcome.course_grade else None),
        "unmapped_assignments": list(outcome.unmapped_assignments),
        "manual": list(outcome.manual),
    }
