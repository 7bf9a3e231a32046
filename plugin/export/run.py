"""An export run: take in the waiting events, fill gaps from Canvas, decide, write the files.

Every run, real or dry, first takes in every event received before it started, then fills
what the store lacks from Canvas (assignment names, student names and identities), then
decides. A real run applies the events to the store and writes Canvas's answers there; a dry
run only reads: it folds the events (and Canvas's answers) in memory (`intake.overlay`) and
decides for every student of its courses, so its counts are the pages' counts.

The database transaction is the commit point: a run's ledger rows and its run row commit
together or not at all, under one lock (PostgreSQL advisory lock; SQLite's write lock), so
concurrent runs on any number of hosts never export a key twice. The files are rendered from
the committed ledger rows afterwards (`export.publish`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache, partial

from sqlalchemy import and_, delete, select, tuple_, update
from sqlalchemy.orm import Session

from plugin.canvas.client import CanvasClient
from plugin.clock import utcnow
from plugin.export import receipts
from plugin.export.lines import export_line, identity_of, identity_problem
from plugin.export.publish import FilesNotWritten, materialise, reason
from plugin.export.students import CourseData, StudentView, load_students
from plugin.export.undecided import undecided_course_grades
from plugin.export.writers import (
    TSV_FOR_STATUS,
    ExportLine,
    check_report_line,
    run_file_names,
)
from plugin.intake.apply import apply_pending, refresh_courses
from plugin.intake.gaps import fill_courses, fill_overlay, fill_store
from plugin.intake.overlay import Overlay, waiting_overlay
from plugin.ladok.drafts import send_drafts
from plugin.rules.course_config import CourseConfig
from plugin.rules.ledger import Decision, StudentPlan, owned_here
from plugin.rules.reasons import Reason, coded
from plugin.rules.results import mapped_by_name, renamed_assignments
from plugin.rules.text import shown
from plugin.settings import Settings
from plugin.status import CORRECTION, MANUAL, NEW, WITHDRAWN
from plugin.store import state
from plugin.store.bulk import insert_many
from plugin.store.db import EXPORT_LOCK_KEY, Store
from plugin.store.models import Dirty, ExportRun, LedgerEntry, NameMapping, Submission

log = logging.getLogger(__name__)
BATCH = 500


@dataclass
class RunSummary:
    """What a run did (or, dry, would do)."""

    run_id: int | None
    dry_run: bool
    counts: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    lines: list[ExportLine] = field(default_factory=list)
    held_back: list[dict] = field(default_factory=list)
    waiting: list[dict] = field(default_factory=list)
    manual: list[dict] = field(default_factory=list)  # dry runs only
    # Dry runs only: events received but not yet applied to the store (decided as if they were).
    pending_events: int = 0
    pending_counted: bool = True  # False: too many were waiting to fold (a read only)
    warnings: list[str] = field(default_factory=list)  # what Canvas could not fill
    unmapped: set[tuple[int, int]] = field(default_factory=set)  # dry runs only
    renamed: list[dict] = field(default_factory=list)  # dry runs only
    ladok: dict | None = None  # "drafts" mode: what the Ladok stage did (LadokSummary)

    @property
    def nothing_new(self) -> bool:
        return not any(self.counts.get(status) for status in (NEW, CORRECTION, WITHDRAWN))


class AlreadyRan(Exception):
    """The scheduled run of this local date was claimed by another run."""


def run_export(store: Store, settings: Settings, *, course_id: int | None = None,
               dry_run: bool = False, trigger: str = MANUAL, schedule_date: str | None = None,
               now: dt.datetime | None = None, job_id: int | None = None,
               progress: Callable[[dict], None] | None = None,
               on_student: Callable[[CourseData, StudentView], None] | None = None,
               canvas: CanvasClient | None = None, ask_canvas: bool = True,
               fold_limit: int | None = None) -> RunSummary:
    """Run one export (all configured courses, or one); dry runs record nothing.

    `ask_canvas`: fill gaps from Canvas (when its API is configured; a page view's dry run
    does not ask, it reads what the scheduler filled). `canvas`: the client to ask.
    `fold_limit`: a dry run with more waiting events than this folds none of them (reads).
    `on_student` sees each student evaluated (the pages read the same computation as the API).
    """
    now = now or utcnow()
    courses = [c for c in settings.courses if course_id in (None, c.canvas_id)]
    summary = RunSummary(None, dry_run)
    overlay = _take_in(store, settings, courses, summary, canvas, ask_canvas, fold_limit)
    # SQLite has one writer: progress written from inside the run's transaction would wait
    # for that very transaction, so there it is reported when the run ends.
    inner = None if store.sqlite else progress
    with store.read() if dry_run else store.write() as session:
        run = None
        if not dry_run:
            store.lock(session, EXPORT_LOCK_KEY)
            run = _claim(session, course_id, trigger, schedule_date, job_id, now)
            summary.run_id = run.id
        for course in courses:
            _export_course(session, settings, course, run, now, summary, inner, on_student,
                           overlay)
        summary.files = run_file_names(k for k, n in summary.counts.items() if n)
        if run is None:
            session.rollback()
            return summary
        run.counts = json.dumps(summary.counts)
        run.files = json.dumps(summary.files)
        receipts.record(session, settings, run.id, summary.held_back, now)  # sent later
    _ladok_stage(store, settings, summary, course_id, now)
    try:
        materialise(store, settings, summary.run_id)
    except Exception as exc:  # the run stands; its files are retried (materialise_missing)
        log.error("export run %s: files not written: %s", summary.run_id, reason(exc))
        raise FilesNotWritten(summary.run_id, exc) from exc
    if progress:
        progress({"run": summary.run_id, **summary.counts})
    return summary


def _ladok_stage(store: Store, settings: Settings, summary: RunSummary,
                 course_id: int | None, now: dt.datetime) -> None:
    """"drafts" mode: the results go into Ladok after deciding, before the files are written;
    whatever befalls it, the files are still written."""
    try:
        done = send_drafts(store, settings, summary.run_id, course_id, now)
    except Exception as exc:
        log.exception("export run %s: the Ladok stage failed", summary.run_id)
        summary.ladok = {"error": reason(exc)}
        return
    summary.ladok = done.as_dict() if done is not None else None


def _take_in(store: Store, settings: Settings, courses: list[CourseConfig],
             summary: RunSummary, canvas: CanvasClient | None, ask: bool,
             fold_limit: int | None = None) -> Overlay | None:
    """The first two steps: the waiting events, then (if `ask`) Canvas for what the store
    lacks. A real run writes both to the store (and returns None); a dry run keeps them in the
    Overlay it returns."""
    ids = [c.canvas_id for c in courses]
    if summary.dry_run:
        overlay = waiting_overlay(store, settings, courses, fold_limit)
        summary.pending_events = overlay.events or overlay.backlog
        summary.pending_counted = not overlay.backlog
        fill_one = partial(fill_overlay, store, settings, overlay=overlay, client=canvas)
    else:
        overlay = None
        refresh_courses(store, settings, courses, dry_run=False)
        apply_pending(store)
        fill_one = partial(fill_store, store, settings, client=canvas)
    if ask:
        summary.warnings = fill_courses(ids, fill_one)
    return overlay


def _claim(session: Session, course_id: int | None, trigger: str, schedule_date: str | None,
           job_id: int | None, now: dt.datetime) -> ExportRun:
    if schedule_date and session.scalar(
            select(ExportRun.id).where(ExportRun.schedule_date == schedule_date)):
        raise AlreadyRan(schedule_date)
    run = ExportRun(created_at=now, course_id=course_id, trigger=trigger,
                    schedule_date=schedule_date, job_id=job_id)
    session.add(run)
    session.flush()
    return run


def _due_students(session: Session, course: CourseConfig, now: dt.datetime,
                  overlay: Overlay | None) -> list[tuple[int, int]]:
    """(user id, dirty version) of the students to decide: every student of the course for a
    dry run (version 0), the changed ones due now for a real one."""
    if overlay is not None:
        users = set(session.scalars(select(Submission.user_id).distinct().where(
            Submission.course_id == course.canvas_id)))
        return [(u, 0) for u in sorted(users | overlay.students(course.canvas_id))]
    rows = session.execute(
        select(Dirty.user_id, Dirty.version)
        .where(Dirty.course_id == course.canvas_id,
               (Dirty.due_at.is_(None)) | (Dirty.due_at <= now))
        .order_by(Dirty.user_id)
    )
    return [tuple(r) for r in rows]


def _waiting_later(session: Session, course: CourseConfig, now: dt.datetime) -> list[dict]:
    """The course grades a real run does not look at: they wait for attestation past now."""
    rows = session.execute(select(Dirty.user_id, Dirty.due_at).where(
        Dirty.course_id == course.canvas_id, Dirty.due_at > now).order_by(Dirty.user_id))
    return [{"course": course.canvas_id, "user_id": u, "name": None,
             "course_grade_due": due.isoformat()} for u, due in rows]


def _export_course(session: Session, settings: Settings, course: CourseConfig,
                   run: ExportRun | None, now: dt.datetime, summary: RunSummary, progress,
                   on_student=None, overlay: Overlay | None = None) -> None:
    due = _due_students(session, course, now, overlay)
    if run is not None:
        summary.waiting += _waiting_later(session, course, now)
    data = CourseData.load(session, settings, course, overlay)
    if run is None:
        summary.renamed += [{"course": course.canvas_id, "note": note}
                            for note in renamed_assignments(course, data.assignments)]
        summary.manual += undecided_course_grades(session, course)
    mappings: dict[int, int] = {}
    for start in range(0, len(due), BATCH):
        batch = due[start:start + BATCH]
        kept: dict[int, dt.datetime | None] = {}
        rows: list[dict] = []
        for student in load_students(session, data, [u for u, _ in batch], now,
                                     run.id if run else None, for_export=not on_student):
            outcome = _record_decisions(data, student, run, now, summary, rows)
            if on_student:
                on_student(data, student)
            if outcome is not DONE:
                kept[student.user_id] = outcome
            if run is not None and outcome is not None:  # its results are out
                mappings.update(_name_mappings(data, student))
        if run is not None:
            if rows:  # one multi-row INSERT per batch: ORM objects cost more than the rules
                _write_ledger_rows(session, settings, course, rows)
            _settle_dirty(session, course.canvas_id, batch, kept)
        if progress:
            progress({"course": course.canvas_id, "students": start + len(batch),
                      "of": len(due), **summary.counts})
    if run is not None:
        _keep_name_mappings(session, data, mappings, run.id)


def _name_mappings(data: CourseData, student) -> dict[int, int]:
    """By-name mappings used by the student's results now exported from this course."""
    owned = owned_here(data.course, student.plan, student.ledger)
    return mapped_by_name(data.course, data.assignments, student.outcome, owned)


def _keep_name_mappings(session: Session, data: CourseData, mappings: dict[int, int],
                        run_id: int) -> None:
    """Remember new by-name mappings, so a later rename does not unmap them."""
    for assignment_id, moment in mappings.items():
        info = data.assignments.get(assignment_id)
        if info is None or info.exported_moment == moment:
            continue
        state.upsert(session, NameMapping, {
            "course_id": data.course.canvas_id, "assignment_id": assignment_id,
            "moment": moment, "name": info.name, "run_id": run_id,
        }, ("course_id", "assignment_id"), update_columns=())


def _write_ledger_rows(session: Session, settings: Settings, course: CourseConfig,
                       rows: list[dict]) -> None:
    """Insert the rows; the students' other courses sharing the ladok_code are recomputed."""
    replaced = [r for r in rows if r.pop("replaces")]
    for row in replaced:  # a withdrawal by another course in this run, taken over here
        session.execute(delete(LedgerEntry).where(
            LedgerEntry.user_id == row["user_id"], LedgerEntry.ladok_code == row["ladok_code"],
            LedgerEntry.component_code == row["component_code"],
            LedgerEntry.version == row["version"], LedgerEntry.run_id == row["run_id"]))
    # The driver's executemany: the ORM's bulk path, even Core's, costs more than the rules.
    insert_many(session.connection(), LedgerEntry.__table__, rows)
    others = [c.canvas_id for c in settings.courses
              if c.ladok_code == course.ladok_code and c.canvas_id != course.canvas_id]
    if others:
        state.mark_students_dirty(session, others, sorted({r["user_id"] for r in rows}))


DONE = object()


def _record_decisions(data: CourseData, student, run: ExportRun | None, now: dt.datetime,
                summary: RunSummary, rows: list[dict]):
    """Add the student's due ledger rows (or, dry, lines): DONE, None if held back, or a due."""
    plan: StudentPlan = student.plan
    due = plan.course_grade_due
    if run is None:
        _note_problems(data, student, summary)
    if not plan.decisions and due is None:
        return DONE
    identity = identity_of(student.user, data.settings.student_id_field)
    problem = identity_problem(identity, data.settings.student_id_field)
    name = shown(student.name)  # once per student, not once per line
    lines = [] if problem else [_fit_line(export_line(data, student, identity, d), name)
                                for d in plan.decisions]
    problem = problem or next(filter(None, map(_unwritable_line, lines)), None)
    if problem:  # held back first: nothing of theirs goes out, so no date is promised
        summary.held_back.append({"course": data.course.canvas_id, "user_id": student.user_id,
                                  "name": shown(student.name), "reason": problem,
                                  **coded(problem)})
        summary.counts["held_back"] = summary.counts.get("held_back", 0) + 1
        return None
    if due is not None:
        summary.waiting.append({"course": data.course.canvas_id, "user_id": student.user_id,
                                "name": student.name, "course_grade_due": due.isoformat()})
    for decision, line in zip(plan.decisions, lines, strict=True):
        summary.counts[decision.status] = summary.counts.get(decision.status, 0) + 1
        if decision.replaces:  # the withdrawal it replaces is not written after all
            summary.counts[WITHDRAWN] -= 1
            summary.counts = {k: n for k, n in summary.counts.items() if n}
        if run is None:
            summary.lines.append(line)
        else:
            rows.append(_ledger_row(data, student.user_id, decision, line, run, now))
    return DONE if due is None else due


def _fit_line(line: ExportLine, name: str) -> ExportLine:
    """The line with its name (`name`, already fitted), module name and graders as people are
    to read them."""
    component, graders = _shown_text(line.component_name), _shown_graders(line.graders)
    if name == line.student_name and component == line.component_name \
            and graders == line.graders:
        return line  # the usual case: nothing to change, no copy
    return dataclasses.replace(line, student_name=name, component_name=component,
                               graders=graders)


# A course's module names and graders recur on thousands of lines: each is fitted once.
_shown_text = lru_cache(maxsize=4096)(shown)


@lru_cache(maxsize=1024)
def _shown_graders(graders: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(map(shown, graders))


def _unwritable_line(line: ExportLine) -> str | None:
    """`_unwritable` of a line whose student id passed `identity_problem` (which refuses what
    the report refuses in it): a dated line's answer depends on its other report fields only,
    and these recur on thousands of lines, so each set is checked once."""
    if type(line.exam_date) is not dt.date:
        return _unwritable(line)
    key = (line.course_code, line.component_code, line.grade, line.graders)
    if key not in _UNWRITABLE:
        if len(_UNWRITABLE) >= 4096:
            _UNWRITABLE.clear()
        _UNWRITABLE[key] = _unwritable(line)
    return _UNWRITABLE[key]


_UNWRITABLE: dict[tuple, str | None] = {}


def _unwritable(line: ExportLine) -> str | None:
    """Why the line cannot be written to the export files (checked before recording it)."""
    try:
        check_report_line(line)
    except (ValueError, TypeError) as exc:
        # The message names the field; its value (a personnummer, say) stays out of it.
        return Reason("held.unwritable", code=line.component_code, why=reason(exc))
    return None


def _note_problems(data: CourseData, student, summary: RunSummary) -> None:
    outcome = student.outcome
    notes = list(outcome.manual) + [
        Reason("note.elsewhere", code=code, room=student.ledger[code].course_id)
        for code in student.plan.owned_elsewhere
    ] + [
        Reason("note.taken_over", code=code, room=student.ledger[code].course_id)
        for code in student.plan.taken_over
    ]
    if notes:
        summary.manual.append({"course": data.course.canvas_id, "user_id": student.user_id,
                               "name": student.name, "notes": notes})
    for assignment_id in outcome.unmapped_assignments:
        summary.unmapped.add((data.course.canvas_id, assignment_id))


def _ledger_row(data: CourseData, user_id: int, decision: Decision, line: ExportLine,
                run: ExportRun, now: dt.datetime) -> dict:
    file = TSV_FOR_STATUS.get(decision.status)  # a withdrawal is in no .tsv
    return dict(
        user_id=user_id, ladok_code=data.course.ladok_code, component_code=line.component_code,
        version=decision.version, course_id=data.course.canvas_id, run_id=run.id,
        status=decision.status, file=file, student_id=line.student_id,
        student_name=line.student_name, component_name=line.component_name,
        credits=line.credits, grade=line.grade, exam_date=line.exam_date.isoformat(),
        graders=_graders_json(line.graders), exported_at=now, replaces=decision.replaces,
    )


@lru_cache(maxsize=1024)
def _graders_json(graders: tuple[str, ...]) -> str:
    # A course has a few graders, each on thousands of lines: encode each list once.
    return json.dumps(list(graders))


def _settle_dirty(session: Session, course_id: int, batch: list[tuple[int, int]],
                  kept: dict[int, dt.datetime | None]) -> None:
    """Forget handled students unless they changed meanwhile; a waiting one keeps its due."""
    done = [(u, v) for u, v in batch if u not in kept and v]
    if done:
        session.execute(delete(Dirty).where(
            Dirty.course_id == course_id, tuple_(Dirty.user_id, Dirty.version).in_(done),
        ))
    for user_id, version in batch:
        if kept.get(user_id) is not None:
            session.execute(update(Dirty).where(
                and_(Dirty.course_id == course_id, Dirty.user_id == user_id,
                     Dirty.version == version)).values(due_at=kept[user_id]))
