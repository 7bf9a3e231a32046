"""Export runs, each run's receipt, and its files to download."""

from __future__ import annotations

import logging

from flask import abort, render_template, send_file
from sqlalchemy import or_, select

from plugin.export.publish import ledger_lines, materialise, run_folder
from plugin.extensions import services
from plugin.store.models import ExportRun
from plugin.web.access import current_scope, is_admin, who
from plugin.web.admin import ID, run_json
from plugin.web.page_common import page_blueprint

bp = page_blueprint("exports")
log = logging.getLogger(__name__)
RUNS_SHOWN = 500


def _scope_course() -> int | None:
    """The course of a course-scoped session; None for an administrator."""
    return None if is_admin() else current_scope().get("course")


@bp.get("/exports")
def runs():
    """Export runs, newest first: when, trigger, courses, counts."""
    course = _scope_course()
    query = select(ExportRun).order_by(ExportRun.id.desc()).limit(RUNS_SHOWN)
    if course is not None:  # its own runs and the nightly runs of every course
        query = query.where(or_(ExportRun.course_id == course, ExportRun.course_id.is_(None)))
    with services().store.read() as session:
        shown = [run_json(r) for r in session.scalars(query)]
    return render_template("export_pages/runs.html", runs=shown)


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


@bp.get(f"/exports/<{ID}:run_id>")
def receipt(run_id: int):
    """The run's receipt: results, corrections and withdrawals, held back, files."""
    run = _visible_run(run_id)
    settings = services().settings
    course = _scope_course()
    codes = None if course is None else {settings.course(course).ladok_code}
    with services().store.read() as session:
        lines = [x for x in ledger_lines(session, run_id)
                 if codes is None or x.course_code in codes]
    return render_template("export_pages/run.html", run=run_json(run), lines=lines,
                           downloadable=_downloadable(run))


@bp.get(f"/exports/<{ID}:run_id>/files/<name>")
def download(run_id: int, name: str):
    """One of the run's files, never cached, its fetching logged with who fetched it."""
    run = _visible_run(run_id)
    if not _downloadable(run) or name not in run_json(run)["files"]:
        abort(404)
    svc = services()
    materialise(svc.store, svc.settings, run_id)
    log.info("export run %s: %s downloaded by %s", run_id, name, who())
    response = send_file(run_folder(svc.settings, run_id) / name, as_attachment=True,
                         download_name=name, max_age=0)
    response.headers["Cache-Control"] = "no-store"
    return response
