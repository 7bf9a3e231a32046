"""Load students' stored grades and ledger state, and evaluate them with the pure rules."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from plugin.intake.overlay import Overlay
from plugin.rules.common_case import CommonCase
from plugin.rules.course_config import CourseConfig
from plugin.rules.ladok import ATTESTERAD
from plugin.rules.ledger import Exported, StudentPlan, active_results, plan_student
from plugin.rules.results import AssignmentInfo, StudentOutcome, evaluate_student
from plugin.rules.submission import SubmissionState
from plugin.settings import Settings
from plugin.settings.ladok import connected
from plugin.store.models import (
    Assignment,
    LadokDraft,
    LedgerEntry,
    NameMapping,
    User,
)
from plugin.store.state import read_states


def person_text(user_id: int, user: User | Row | None) -> str:
    """A grader as "Name <email>" where known, else the name, else the Canvas id."""
    if user is None or not user.name:
        return str(user_id)
    return f"{user.name} <{user.email}>" if user.email else user.name


@dataclass
class StudentView:
    """One student's data and what the rules make of it."""

    user_id: int
    user: User | Row | None
    submissions: dict[int, SubmissionState]
    outcome: StudentOutcome
    ledger: dict[str, Exported]
    plan: StudentPlan
    ledger_rows: list[Row] = field(default_factory=list)  # the student's ledger rows
    # Ladok connected: what Ladok shows per component code, as of the last run.
    ladok: dict[str, LadokDraft] = field(default_factory=dict)

    @cached_property
    def name(self) -> str:
        return (self.user.name if self.user and self.user.name else "") or ""


@dataclass
class CourseData:
    """Per-course data shared by all its students in one run."""

    settings: Settings
    course: CourseConfig
    assignments: dict[int, AssignmentInfo]
    people: dict[int, str]
    # A dry run's waiting events (and Canvas's answers), read over the store.
    overlay: Overlay = field(default_factory=Overlay)
    _common: CommonCase | None = field(default=None, repr=False)

    def common_case(self) -> CommonCase:
        """The short road of the rules for this course's common student (built once)."""
        if self._common is None:
            self._common = CommonCase(self.course, self.assignments)
        return self._common

    @classmethod
    def load(cls, session: Session, settings: Settings, course: CourseConfig,
             overlay: Overlay | None = None) -> CourseData:
        overlay = overlay or Overlay()
        rows = session.execute(select(Assignment.assignment_id, Assignment.name,
                                      Assignment.points_possible)
                               .where(Assignment.course_id == course.canvas_id)).all()
        facts = {a: {"name": n, "points_possible": p} for a, n, p in rows}
        facts |= overlay.named(course.canvas_id)
        kept = dict(session.execute(select(NameMapping.assignment_id, NameMapping.moment).where(
            NameMapping.course_id == course.canvas_id)).all())
        assignments = {a: AssignmentInfo(a, f.get("name"), f.get("points_possible"), kept.get(a))
                       for a, f in facts.items()}
        return cls(settings, course, assignments, {}, overlay)

    def users(self, session: Session, ids: list[int]) -> dict[int, User | Row]:
        """The users of `ids` the store (with the overlay's facts over it) knows, as plain rows
        (read like User objects: building ORM objects costs more than the rules)."""
        users = User.__table__
        stored = {u.user_id: u for u in session.execute(select(users).where(
            users.c.user_id.in_(ids)))} if ids else {}
        found = {u: self.overlay.person(u, stored.get(u)) for u in ids}
        return {u: user for u, user in found.items() if user is not None}

    def graders(self, session: Session, ids: set[int]) -> None:
        """Cache grader texts for `ids` not yet known."""
        missing = [i for i in ids if i not in self.people]
        if not missing:
            return
        users = self.users(session, missing)
        for user_id in missing:
            self.people[user_id] = person_text(user_id, users.get(user_id))


def latest_versions(rows: list[LedgerEntry | Row]) -> dict[str, Exported]:
    """The newest ledger version per component code."""
    out: dict[str, Exported] = {}
    for row in sorted(rows, key=lambda r: r.version):
        out[row.component_code] = Exported(row.version, row.status, row.grade, row.exam_date,
                                           row.exported_at, row.course_id,
                                           tuple(json.loads(row.graders or "[]")), row.run_id)
    return out


def load_students(session: Session, data: CourseData, user_ids: list[int],
                  now: dt.datetime, run_id: int | None = None,
                  for_export: bool = False) -> Iterator[StudentView]:
    """Evaluate and plan each student of `user_ids` in one course (for run `run_id`).

    The store is read as plain rows (submissions by position), which read like the ORM
    objects. `for_export`: no text only pages show (date explanations; the reasons of a
    student decided by the common case), and no `updated` time (read only to explain dates).
    """
    course = data.course
    subs: dict[int, dict[int, SubmissionState]] = defaultdict(dict)
    # Only date explanations read `updated`, and an export run gives none: left unread.
    for user_id, assignment_id, state in read_states(session, course.canvas_id, user_ids,
                                                     read_updated=not for_export):
        subs[user_id][assignment_id] = state
    wanted = set(user_ids)
    for user_id, assignment_id, folded in data.overlay.submissions_of(course.canvas_id):
        if user_id in wanted:
            subs[user_id][assignment_id] = folded
    users = data.users(session, user_ids)
    ledger: dict[int, list[Row]] = defaultdict(list)
    entries = LedgerEntry.__table__
    for row in session.execute(select(entries).where(
            entries.c.ladok_code == course.ladok_code, entries.c.user_id.in_(user_ids))):
        ledger[row.user_id].append(row)
    grader_ids = {s.grader_id for per in subs.values() for s in per.values()
                  if s.grader_id is not None and s.grader_id > 0}
    data.graders(session, grader_ids)
    common = data.common_case() if for_export else None
    in_ladok = ladok_states(session, data, user_ids)
    for user_id in user_ids:
        latest = latest_versions(ledger.get(user_id, []))
        outcome = common.evaluate(subs.get(user_id, {})) if common and not latest else None
        if outcome is None:
            outcome = evaluate_student(course, data.assignments, subs.get(user_id, {}),
                                       active_results(latest), explain_dates=not for_export)
        shown = in_ladok.get(user_id, {}) if in_ladok is not None else {}
        attested = None if in_ladok is None else attested_codes(latest, shown)
        yield StudentView(user_id, users.get(user_id), subs.get(user_id, {}), outcome, latest,
                          plan_student(course, outcome, latest, now, run_id, attested),
                          ledger.get(user_id, []), shown)


def ladok_states(session: Session, data: CourseData, user_ids: list[int]
                 ) -> dict[int, dict[str, LadokDraft]] | None:
    """What Ladok shows for the students' results, or None when the course is not connected
    to Ladok (files only)."""
    if not connected(data.settings, data.course):
        return None
    found: dict[int, dict[str, LadokDraft]] = defaultdict(dict)
    for row in session.scalars(select(LadokDraft).where(
            LadokDraft.ladok_code == data.course.ladok_code, LadokDraft.user_id.in_(user_ids))):
        found[row.user_id][row.component_code] = row
    return found


def attested_codes(latest: dict[str, Exported], shown: dict[str, LadokDraft]) -> frozenset[str]:
    """The codes whose exported version Ladok shows attested."""
    return frozenset(code for code, row in shown.items() if row.state == ATTESTERAD
                     and code in latest and row.version == latest[code].version)
