"""The student endpoint's report: every moment, module and course grade, and its exports."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.canvas.events import SHARD_FACTOR, home_shard
from plugin.clock import iso, utcnow
from plugin.export.lines import identity_of, identity_problem
from plugin.export.students import CourseData, StudentView, load_students
from plugin.intake.overlay import READ_FOLD_LIMIT, Overlay, waiting_overlay
from plugin.reports.ladok_state import ladok_view
from plugin.rules.course_config import CourseConfig
from plugin.rules.ledger import Decision
from plugin.rules.reasons import Reason
from plugin.rules.results import ComponentResult, exportable, label, renamed_assignments
from plugin.settings import Settings
from plugin.settings.ladok import connected
from plugin.status import NEW, WITHDRAWN
from plugin.store.db import Store
from plugin.store.models import Event, Submission


def _exports(student: StudentView, code: str) -> list[dict[str, Any]]:
    rows = sorted((r for r in student.ledger_rows if r.component_code == code),
                  key=lambda r: r.version)
    return [{"version": r.version, "status": r.status, "run": r.run_id, "file": r.file,
             "grade": r.grade, "exam_date": r.exam_date,
             "exported_at": iso(r.exported_at)} for r in rows]


def component_state(result: ComponentResult, student: StudentView,
                    due: dt.datetime | None, held: bool = False) -> str:
    """Where a result stands: elsewhere, held_back, attestation, withdrawing, withdrawn, new,
    correction, exported or not_earned. `held`: the student has no usable identity, so what
    would go out is held back first (and no date can be promised)."""
    latest = student.ledger.get(result.code)
    decision: Decision | None = next(
        (d for d in student.plan.decisions if d.result.code == result.code), None)
    if result.code in student.plan.owned_elsewhere:
        return "elsewhere"
    waiting = result.is_course_grade and due is not None
    if held and (waiting or decision is not None):
        return "held_back"
    if waiting:
        return "attestation"
    if decision is not None and decision.status == WITHDRAWN:
        return "withdrawing"
    if latest is not None and latest.status == WITHDRAWN and not exportable(result):
        return "withdrawn"
    if decision is not None:
        return "new" if decision.status == NEW else "correction"
    return "exported" if latest is not None else "not_earned"


def _status(result: ComponentResult, student: StudentView, due: dt.datetime | None,
            problem: str | None) -> Reason:
    state = component_state(result, student, due, problem is not None)
    latest = student.ledger.get(result.code)
    if state == "elsewhere":
        return Reason("status.elsewhere", room=latest.course_id)
    if result.code in student.plan.taken_over:
        return Reason("status.taken_over", room=latest.course_id)
    if state == "held_back":
        return Reason("status.held_back", why=problem)
    if state == "attestation":
        return Reason("status.attestation", due=due.isoformat() if due else "")
    return Reason(f"status.{state}")


def _component(result: ComponentResult, student: StudentView, due, problem,
               connected: bool = False) -> dict[str, Any]:
    status = _status(result, student, due, problem)
    ladok = {"ladok": ladok_view(student, result.code, True)} if connected else {}
    return {
        "code": result.code, "name": result.name, "credits": result.credits,
        "earned": result.earned, "grade": result.grade, "exam_date": iso(result.date),
        "reason": result.reason, "reason_code": result.reason.stable_code,
        "reason_codes": [r.stable_code for r in result.reason.parts],
        "graders": list(result.grader_ids),
        "status": status, "status_code": status.code,
        "state": component_state(result, student, due, problem is not None),
        "due": None if problem else iso(due),
        "exports": _exports(student, result.code),
        **ladok,  # only where the course is connected to Ladok: files mode answers as before
    }


def _assignment_name(data: CourseData, assignment_id: int | None) -> str | None:
    info = data.assignments.get(assignment_id) if assignment_id is not None else None
    return info.name if info is not None and info.name else None


def _has_submission(session: Session, course_id: int, user_id: int,
                    overlay: Overlay) -> bool:
    return user_id in overlay.students(course_id) or session.scalar(
        select(Submission.user_id).where(Submission.course_id == course_id,
                                         Submission.user_id == user_id).limit(1)) is not None


def _course_shard(session: Session, course_id: int) -> int | None:
    """The course's home shard, as its stored events name it (None when none is stored)."""
    payload = session.scalar(select(Event.payload).where(
        Event.course_id == course_id, Event.status == "accepted").limit(1))
    return home_shard(json.loads(payload).get("metadata") or {}) if payload else None


def stored_user_id(session: Session, course_id: int, user_id: int,
                   overlay: Overlay | None = None) -> int | None:
    """The id the course's grades are stored under: `user_id`, or the local id of a global id
    on the course's home shard (as events store it); None when nothing is stored (or waits to
    be applied)."""
    overlay = overlay or Overlay()
    if _has_submission(session, course_id, user_id, overlay):
        return user_id
    shard, local = divmod(user_id, SHARD_FACTOR)
    if not shard or not _has_submission(session, course_id, local, overlay):
        return None
    home = _course_shard(session, course_id)
    return local if home in (None, shard) else None


def student_report(store: Store, settings: Settings, course: CourseConfig,
                   user_id: int) -> dict[str, Any] | None:
    """The report for one student, or None when nothing is stored for them in the course.

    Only reads: events not yet applied are decided on as if they were (folded in memory) and
    counted in `pending_events`.
    """
    now = utcnow()
    overlay = waiting_overlay(store, settings, [course], READ_FOLD_LIMIT)
    with store.read() as session:
        user_id = stored_user_id(session, course.canvas_id, user_id, overlay)
        if user_id is None:
            return None
        data = CourseData.load(session, settings, course, overlay)
        student = next(load_students(session, data, [user_id], now))
    identity = identity_of(student.user, settings.student_id_field)
    problem = identity_problem(identity, settings.student_id_field)
    due = student.plan.course_grade_due
    outcome = student.outcome
    linked = connected(settings, course)
    return {
        "course": course.canvas_id, "user_id": user_id, "name": student.name or None,
        "student_id": identity,
        "identity": Reason("held_back", why=problem) if problem else "known",
        "identity_code": "held_back" if problem else "known",
        "moments": [{
            "moment": label(m.moment), "passed": m.passed, "reason": m.reason,
            "reason_code": m.reason.stable_code, "grade": m.grade,
            "exam_date": iso(m.date), "date_reason": m.date_reason or None,
            "date_reason_code": getattr(m.date_reason, "code", None),
            "assignment_id": m.assignment_id,
            "assignment_name": _assignment_name(data, m.assignment_id),
            "needs_manual": m.needs_manual,
            "graders": [data.people.get(g, str(g)) for g in m.grader_ids],
        } for m in outcome.moments],
        "modules": [_component(r, student, None, problem, linked) for r in outcome.modules],
        "course_grade": (_component(outcome.course_grade, student, due, problem, linked)
                         if outcome.course_grade else None),
        "unmapped_assignments": list(outcome.unmapped_assignments),
        "unmapped_names": {a: _assignment_name(data, a) for a in outcome.unmapped_assignments},
        "renamed_assignments": list(renamed_assignments(course, data.assignments)),
        "manual": list(outcome.manual),
        "manual_codes": [n.code for n in outcome.manual],
        "pending_events": overlay.events or overlay.backlog,
        "pending_counted": not overlay.backlog,
    }
