"""Course grades that are earned but that no configured room can decide.

A room decides only for the students it has grades for. When every module of a student's
Ladok course was exported, the course grade not, and the student has no grades in any room
still configured for that Ladok code (the room they earned it in has left the configuration,
say, while the course grade waited for attestation), nobody would ever export it. It is never
lost silently: the dry runs (pages, preview) list it for manual handling, with the reason.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.rules.course_config import CourseConfig
from plugin.rules.ledger import ACTIVE
from plugin.rules.reasons import Reason
from plugin.store.models import LedgerEntry, Submission


def undecided_course_grades(session: Session, course: CourseConfig) -> list[dict]:
    """The course's undecided earned course grades, as manual-handling entries."""
    codes = [m.code for m in course.modules]
    if len(codes) < 2 or not course.rooms:
        return []
    elsewhere = set(session.scalars(select(LedgerEntry.user_id).distinct().where(
        LedgerEntry.ladok_code == course.ladok_code,
        LedgerEntry.course_id.not_in(course.rooms))))
    if not elsewhere:
        return []
    present = set(session.scalars(select(Submission.user_id).distinct().where(
        Submission.course_id.in_(course.rooms), Submission.user_id.in_(elsewhere))))
    latest = _latest(session, course, sorted(elsewhere - present))
    found = []
    for user_id, entries in sorted(latest.items()):
        if course.ladok_code in entries or any(code not in entries for code in codes):
            continue
        found.append(_entry(course, user_id, entries))
    return found


def _latest(session: Session, course: CourseConfig, user_ids: list[int]
            ) -> dict[int, dict[str, LedgerEntry]]:
    """Per student, the latest ledger version of each component that is not withdrawn."""
    newest: dict[int, dict[str, LedgerEntry]] = defaultdict(dict)
    for start in range(0, len(user_ids), 500):
        rows = session.scalars(select(LedgerEntry).where(
            LedgerEntry.ladok_code == course.ladok_code,
            LedgerEntry.user_id.in_(user_ids[start:start + 500])))
        for row in rows:
            known = newest[row.user_id].get(row.component_code)
            if known is None or row.version > known.version:
                newest[row.user_id][row.component_code] = row
    return {u: {c: e for c, e in found.items() if e.status in ACTIVE}
            for u, found in newest.items()}


def _entry(course: CourseConfig, user_id: int, entries: dict[str, LedgerEntry]) -> dict:
    final = next((m.code for m in course.modules if m.final), None)
    grade = entries[final].grade if final else "G"
    modules = [entries[m.code] for m in course.modules]
    date = max(dt.date.fromisoformat(e.exam_date) for e in modules if e.exam_date)
    rooms = ", ".join(str(r) for r in sorted({e.course_id for e in modules}))
    note = Reason("note.undecided", grade=grade, date=date, rooms=rooms)
    name = next((e.student_name for e in modules if e.student_name), None)
    return {"course": course.canvas_id, "user_id": user_id, "name": name, "notes": [note],
            "elsewhere": True}
