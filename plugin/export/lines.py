"""Export lines: what one decision about a student looks like in the files (and who it is)."""

from __future__ import annotations

import datetime as dt

from plugin.export.students import CourseData, StudentView
from plugin.export.writers import ExportLine
from plugin.rules.ledger import Decision
from plugin.rules.reasons import Reason
from plugin.rules.text import has_control
from plugin.status import WITHDRAWN
from plugin.store.models import User

COURSE_GRADE_LABEL = "Slutbetyg"


def identity_of(user: User | None, field_name: str) -> str | None:
    """The student's Ladok identity from the configured Canvas field, if known."""
    value = getattr(user, field_name, None) if user is not None else None
    return value.strip() if isinstance(value, str) and value.strip() else None


def identity_problem(identity: str | None, field_name: str) -> str | None:
    """Why a student with `identity` (from identity_of) is held back from export, or None."""
    if identity is None:
        return Reason("identity.missing", field=field_name)
    if has_control(identity):
        return Reason("identity.control", field=field_name)
    return None


def export_line(data: CourseData, student: StudentView, identity: str,
                decision: Decision) -> ExportLine:
    """The export line of one of the student's decisions in `data`'s course."""
    result = decision.result
    grade, date = result.grade, result.date
    people = data.people
    graders = tuple([people.get(g, str(g)) for g in result.grader_ids])
    if result.grader_names:  # graders exported from another Canvas course (seldom)
        graders += tuple(n for n in result.grader_names if n not in graders)
    if decision.status == WITHDRAWN:  # show what was exported, for handling in Ladok
        previous = student.ledger[result.code]
        grade, date = previous.grade, dt.date.fromisoformat(previous.exam_date)
        graders = previous.graders
    return ExportLine(
        course_code=data.course.ladok_code, component_code=result.code,
        student_id=identity, canvas_user_id=student.user_id, student_name=student.name,
        component_name=COURSE_GRADE_LABEL if result.is_course_grade else result.name,
        credits=result.credits, grade=grade or "", exam_date=date,
        graders=graders, status=decision.status,
    )
