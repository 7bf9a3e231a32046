"""Export runs, each run's receipt, and its files to download.

A course session sees its own course's runs and the runs of every course, and in those only
its own Canvas course's lines: another course room sharing its Ladok code stays out of view.
"""

from __future__ import annotations

import logging

from flask import abort, render_template
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.export.publish import ledger_lines
from plugin.export.runs import RUNS_SHOWN, runs_newest_first
from plugin.extensions import services
from plugin.reports.ladok_state import NOT_IN_LADOK
from plugin.store.models import ExportRun, LadokDraft, LedgerEntry
from plugin.web.access import course_allowed, current_scope, is_admin
from plugin.web.downloads import send_run_file
from plugin.web.json_shapes import run_json
from plugin.web.page_blueprints import page_blueprint
from plugin.web.urls import ID

bp = page_blueprint("export_pages")
log = logging.getLogger(__name__)


def _scope_course() -> int | None:
    """The course of a course-scoped session; None for an administrator."""
    return None if is_admin() else current_scope().get("course")


def _own_counts(session: Session, runs: list[dict], course: int) -> None:
    """Replace the counts of runs of every course by the course's own lines' counts; a
    held-back count, not kept per course, is then unknown (None)."""
    shared = [r for r in runs if r["course"] is None]
    if not shared:
        return
    counts = session.execute(
        select(LedgerEntry.run_id, LedgerEntry.status, func.count())
        .where(LedgerEntry.run_id.in_([r["id"] for r in shared]),
               LedgerEntry.course_id == course)
        .group_by(LedgerEntry.run_id, LedgerEntry.status))
    by_run: dict[int, dict] = {r["id"]: {"held_back": None} for r in shared}
    for run_id, status, n in counts:
        by_run[run_id][status] = n
    for run in shared:
        run["counts"] = by_run[run["id"]]


def _shown(session: Session, runs: list[ExportRun], course: int | None) -> list[dict]:
    """The runs as the session may see them."""
    shown = [run_json(r) for r in runs]
    if course is not None:
        _own_counts(session, shown, course)
    return shown


@bp.get("/exports")
def runs():
    """Export runs, newest first: when, trigger, courses, counts."""
    course = _scope_course()
    with services().store.read() as session:
        runs = session.scalars(runs_newest_first(course).limit(RUNS_SHOWN))
        shown = _shown(session, list(runs), course)
    codes = {c.canvas_id: c.ladok_code for c in services().settings.courses}
    return render_template("export_pages/runs.html", runs=shown, ladok_codes=codes)


def _visible_run(run_id: int) -> ExportRun:
    with services().store.read() as session:
        run = session.get(ExportRun, run_id)
    course = _scope_course()
    if run is None or (course is not None and (run.course_id not in (None, course)
                                               or services().settings.course(course) is None)):
        abort(404)
    return run


def _downloadable(run: ExportRun) -> bool:
    """Files hold every course of their run: a course session gets its own course's runs only."""
    return is_admin() or run.course_id == _scope_course()


def ladok_of_lines(session: Session, lines: list) -> dict[tuple[int, str, str], dict]:
    """What Ladok shows now (as of the last run) for the lines' results, where it was sent."""
    users = sorted({line.canvas_user_id for line in lines})
    if not users:
        return {}
    rows = session.scalars(select(LadokDraft).where(LadokDraft.user_id.in_(users)))
    return {(r.user_id, r.ladok_code, r.component_code): {
        "state": r.state if r.version is not None else NOT_IN_LADOK,
        "attested_on": r.attested_on, "problem": r.problem} for r in rows}


@bp.get(f"/exports/<{ID}:run_id>")
def run_page(run_id: int):
    """The run page (its receipt): results, corrections and withdrawals, held back, files."""
    run = _visible_run(run_id)
    course = _scope_course()
    with services().store.read() as session:
        lines = list(ledger_lines(session, run_id, course))
        [shown] = _shown(session, [run], course)
        rooms = _rooms(session, run_id, course)
        ladok = ladok_of_lines(session, lines)
    settings = services().settings
    named = settings.course(run.course_id) if run.course_id is not None else None
    return render_template("export_pages/run.html", run=shown, lines=lines, ladok=ladok,
                           downloadable=_downloadable(run), rooms=rooms,
                           ladok_code=named.ladok_code if named else None)


def _rooms(session: Session, run_id: int, course: int | None) -> dict[tuple, int]:
    """(Canvas user, Ladok code, component) -> the Canvas course of each line the session may
    open a student page of (a configured course it may see)."""
    query = select(LedgerEntry.user_id, LedgerEntry.ladok_code, LedgerEntry.component_code,
                   LedgerEntry.course_id).where(LedgerEntry.run_id == run_id)
    if course is not None:
        query = query.where(LedgerEntry.course_id == course)
    settings = services().settings
    return {(u, code, component): room for u, code, component, room in session.execute(query)
            if settings.course(room) is not None and course_allowed(room)}


@bp.get(f"/exports/<{ID}:run_id>/files/<name>")
def download(run_id: int, name: str):
    """One of the run's files, never cached, its fetching logged with who fetched it."""
    run = _visible_run(run_id)
    if not _downloadable(run):
        abort(404)
    return send_run_file(run, name)
