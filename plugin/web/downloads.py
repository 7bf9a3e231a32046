"""A run's file to download, from the API and the pages alike."""

from __future__ import annotations

import json
import logging

from flask import abort, send_file

from plugin.export.publish import materialise, reason, run_folder
from plugin.extensions import services
from plugin.store.models import ExportRun
from plugin.web.access import who
from plugin.web.errors import error

log = logging.getLogger(__name__)


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
