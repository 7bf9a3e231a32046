"""The course actions (POST forms): re-sync, preview an export, export now; a job's progress."""

from __future__ import annotations

import logging

from flask import abort, redirect, render_template, request, url_for
from flask_babel import gettext

from plugin.canvas.client import prompt_client
from plugin.export.run import run_export
from plugin.export.writers import TSV_FOR_STATUS
from plugin.extensions import services
from plugin.jobs import queue
from plugin.status import EXPORT, FULL, INCREMENTAL, QUEUED, RESYNC, RUNNING
from plugin.store.models import Job
from plugin.web.access import course_allowed, is_admin, who
from plugin.web.page_blueprints import course_or_404, page_blueprint
from plugin.web.urls import ID

bp = page_blueprint("actions")
log = logging.getLogger(__name__)


@bp.post(f"/courses/<{ID}:canvas_id>/resync")
def resync(canvas_id: int):
    """Queue a full re-sync of the course (or join the one queued) and show its progress."""
    course_or_404(canvas_id)
    mode = INCREMENTAL if request.form.get("mode") == INCREMENTAL else FULL
    job_id, _ = queue.enqueue(services().store, RESYNC, canvas_id, {"mode": mode})
    log.info("re-sync of course %s requested by %s (job %s)", canvas_id, who(), job_id)
    return redirect(url_for("actions.job", job_id=job_id))


def _dry_run(canvas_id: int):
    svc = services()
    return run_export(svc.store, svc.settings, course_id=canvas_id, dry_run=True,
                      canvas=prompt_client(svc.settings))


def _preview_page(course, summary, notice: str | None = None, status: int = 200):
    return render_template("actions/preview.html", course=course, summary=summary,
                           files=TSV_FOR_STATUS, notice=notice), status


@bp.post(f"/courses/<{ID}:canvas_id>/preview")
def preview(canvas_id: int):
    """A dry run: exactly the lines an export of the course would write now."""
    course = course_or_404(canvas_id)
    return _preview_page(course, _dry_run(canvas_id))


@bp.post(f"/courses/<{ID}:canvas_id>/export")
def export_now(canvas_id: int):
    """Queue the export the preview showed, if it still has the count that was confirmed."""
    course = course_or_404(canvas_id)
    expected = request.form.get("expected", "")
    if not expected.isdigit():
        abort(400, gettext("Confirm the number of lines from the preview."))
    summary = _dry_run(canvas_id)
    if len(summary.lines) != int(expected):
        notice = gettext("The results changed since your preview: check the lines again.")
        return _preview_page(course, summary, notice, 409)
    job_id, _ = queue.enqueue(services().store, EXPORT, canvas_id)
    log.info("export of course %s (%s lines) requested by %s (job %s)", canvas_id, expected,
             who(), job_id)
    return redirect(url_for("actions.job", job_id=job_id))


@bp.get(f"/jobs/<{ID}:job_id>")
def job(job_id: int):
    """A job's state and progress; the page refreshes itself while the job runs."""
    with services().store.read() as session:
        row = session.get(Job, job_id)
        shown = queue.as_dict(row) if row is not None else None
    if shown is None or not (course_allowed(shown["course"]) if shown["course"] else is_admin()):
        abort(404)
    return render_template("actions/job.html", job=shown, running=shown["state"] in (QUEUED,
                                                                              RUNNING))
