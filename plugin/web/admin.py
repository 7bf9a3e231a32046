"""The admin API under /api (Bearer tokens): jobs, re-syncs, exports, preview, students."""

from __future__ import annotations

import dataclasses
import json
import logging

from flask import Blueprint, abort, jsonify, request, send_file
from sqlalchemy import select

from plugin.canvas.client import prompt_client
from plugin.export.publish import materialise, reason, run_folder
from plugin.export.run import run_export
from plugin.extensions import services
from plugin.intake.overlay import READ_FOLD_LIMIT
from plugin.jobs import queue
from plugin.reports.student import student_report
from plugin.status import EXPORT, FULL, QUEUED, RESYNC, SYNC_MODES, WITHDRAWN
from plugin.store.models import ExportRun, Job
from plugin.web.access import check_admin_token, who
from plugin.web.errors import error

bp = Blueprint("admin", __name__, url_prefix="/api")
log = logging.getLogger(__name__)
ID = "int(max=9223372036854775807)"  # what a BIGINT holds: larger ids are 404 like unknown ones
bp.before_request(check_admin_token)


@bp.get("/ping")
def ping():
    """A trivial authenticated endpoint (lets clients check their token)."""
    return {"status": "ok"}


def _json_body() -> dict:
    """The request's JSON object (empty when no body); 400 for anything else."""
    if not request.get_data():
        return {}
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # silent covers bad JSON and over-long integers, not depth
        abort(400, "body is nested too deeply")
    if not isinstance(body, dict):
        abort(400, "body must be a JSON object")
    return body


def _configured(canvas_id: int):
    course = services().settings.course(canvas_id)
    if course is None:
        abort(404, "course not configured")
    return course


@bp.post(f"/courses/<{ID}:canvas_id>/resync")
def resync(canvas_id: int):
    """Queue a re-sync of the course (or return the one already queued or running)."""
    _configured(canvas_id)
    mode = _json_body().get("mode", FULL)
    if mode not in SYNC_MODES:
        return error(400, 'mode must be "full" or "incremental"')
    job_id, _ = queue.enqueue(services().store, RESYNC, canvas_id, {"mode": mode})
    return jsonify(job=job_id), 202


@bp.get(f"/jobs/<{ID}:job_id>")
def job(job_id: int):
    """A job's state and progress."""
    with services().store.read() as session:
        row = session.get(Job, job_id)
        if row is None:
            abort(404, "no such job")
        return jsonify(queue.as_dict(row))


def _export_params() -> tuple[int | None, bool]:
    body = _json_body()
    course, dry_run = body.get("course"), body.get("dry_run", False)
    if course is not None and (not isinstance(course, int) or isinstance(course, bool)):
        abort(400, "course must be a Canvas course id (integer)")
    if not isinstance(dry_run, bool):
        abort(400, "dry_run must be true or false")
    if course is not None:
        _configured(course)
    return course, dry_run


def line_json(line) -> dict:
    """An export line as JSON."""
    out = dataclasses.asdict(line)
    out["exam_date"] = line.exam_date.isoformat()
    return out


def summary_json(summary) -> dict:
    """A dry run's results as JSON; `pending_events` received, not yet applied (the results
    are decided as if they were)."""
    return {
        "dry_run": True, "counts": summary.counts, "results": [line_json(x) for x in summary.lines],
        "held_back": summary.held_back, "waiting": summary.waiting,
        "manual": [{**m, "codes": [getattr(n, "code", None) for n in m["notes"]]}
                   for m in summary.manual],
        "pending_events": summary.pending_events,
        "pending_counted": summary.pending_counted,
        "unmapped_assignments": [{"course": c, "assignment_id": a}
                                 for c, a in sorted(summary.unmapped)],
        "renamed_assignments": [{**r, "code": getattr(r["note"], "code", None)}
                                for r in summary.renamed],
        "warnings": summary.warnings,
    }


@bp.post("/exports")
def create_export():
    """Queue an export run (201), or compute a dry run now (200)."""
    course, dry_run = _export_params()
    svc = services()
    if dry_run:
        return jsonify(summary_json(run_export(svc.store, svc.settings, course_id=course,
                                               dry_run=True,
                                               canvas=prompt_client(svc.settings))))
    job_id, _ = queue.enqueue(svc.store, EXPORT, course)
    return jsonify(job=job_id, state=QUEUED, run=None), 201


def run_json(run: ExportRun) -> dict:
    """An export run as JSON."""
    return {
        "id": run.id, "created_at": run.created_at.isoformat(), "course": run.course_id,
        "trigger": run.trigger, "schedule_date": run.schedule_date, "job": run.job_id,
        "counts": json.loads(run.counts or "{}"), "files": json.loads(run.files or "[]"),
        "nothing_new": json.loads(run.files or "[]") == [],
    }


@bp.get("/exports")
def list_exports():
    """Every export run, newest first."""
    with services().store.read() as session:
        runs = session.scalars(select(ExportRun).order_by(ExportRun.id.desc()).limit(500))
        return jsonify(runs=[run_json(r) for r in runs])


def _run_or_404(run_id: int) -> ExportRun:
    with services().store.read() as session:
        run = session.get(ExportRun, run_id)
    if run is None:
        abort(404, "no such export run")
    return run


@bp.get(f"/exports/<{ID}:run_id>")
def get_export(run_id: int):
    """One export run."""
    return jsonify(run_json(_run_or_404(run_id)))


@bp.get(f"/exports/<{ID}:run_id>/files/<name>")
def get_export_file(run_id: int, name: str):
    """One of the run's files; any instance renders it from the ledger if it has no copy."""
    return send_run_file(_run_or_404(run_id), name)


def send_run_file(run: ExportRun, name: str):
    """A run's file to download: never stored by the browser or a proxy, its fetching
    logged with who fetched it; 404 for a name not among the run's files."""
    if name not in json.loads(run.files or "[]"):
        abort(404, "no such file in this run")
    svc = services()
    try:
        materialise(svc.store, svc.settings, run.id)
    except Exception as exc:  # a committed run whose files cannot be rendered: retried later
        return error(503, f"the files of run {run.id} could not be written ({reason(exc)}); "
                     "the scheduler retries them", **{"Retry-After": "300"})
    log.info("export run %s: %s downloaded by %s", run.id, name, who())
    response = send_file(run_folder(svc.settings, run.id) / name, as_attachment=True,
                         download_name=name, max_age=0)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get(f"/courses/<{ID}:canvas_id>/preview")
def preview(canvas_id: int):
    """What an export would write now for the course, and what holds results back (a read:
    events not yet applied are decided on as if applied, and counted; Canvas is not asked)."""
    _configured(canvas_id)
    svc = services()
    summary = run_export(svc.store, svc.settings, course_id=canvas_id, dry_run=True,
                         ask_canvas=False, fold_limit=READ_FOLD_LIMIT)
    body = summary_json(summary)
    body["withdrawals"] = [r for r in body["results"] if r["status"] == WITHDRAWN]
    return jsonify(body)


@bp.get(f"/courses/<{ID}:canvas_id>/students/<{ID}:user_id>")
def student(canvas_id: int, user_id: int):
    """Each moment, module and the course grade: earned or why not, and where exported."""
    course = _configured(canvas_id)
    svc = services()
    report = student_report(svc.store, svc.settings, course, user_id)
    if report is None:
        abort(404, "no grades stored for this student in this course")
    return jsonify(report)
