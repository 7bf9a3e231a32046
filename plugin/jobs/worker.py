"""Run claimed jobs (re-syncs, exports) with a lease kept alive while they work."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from typing import Any

from plugin.jobs import queue
from plugin.settings import Settings, redact
from plugin.status import EXPORT, FULL, MANUAL, RESYNC
from plugin.store.db import Store
from plugin.store.models import Job

log = logging.getLogger(__name__)
RENEW_SECONDS = 20


def worker_name() -> str:
    """This process's name in job leases."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _resync(store: Store, settings: Settings, job: Job, params: dict, progress) -> dict:
    from plugin.intake.resync import resync_course

    return resync_course(store, settings, job.course_id, mode=params.get("mode", FULL),
                         progress=progress)


def _export(store: Store, settings: Settings, job: Job, params: dict, progress) -> dict:
    from plugin.export.run import run_export

    summary = run_export(store, settings, course_id=job.course_id, trigger=MANUAL,
                         job_id=job.id, progress=progress)
    for warning in summary.warnings:
        log.warning("export run %s: %s", summary.run_id, warning)
    return {"run": summary.run_id, **summary.counts, "files": summary.files}


HANDLERS: dict[str, Callable[..., dict[str, Any]]] = {RESYNC: _resync, EXPORT: _export}


def run_job(store: Store, settings: Settings, job: Job, worker: str) -> None:
    """Run one claimed job to its end, recording success or a redacted error."""
    import json

    stop = threading.Event()
    keeper = threading.Thread(target=_keep_lease, args=(store, job.id, worker, stop),
                              daemon=True)
    keeper.start()
    try:
        params = json.loads(job.params or "{}")
        result = HANDLERS[job.kind](store, settings, job, params,
                                    lambda counts: queue.report(store, job.id, counts))
        queue.finish(store, job.id, progress=result)
        log.info("job %s (%s) succeeded: %s", job.id, job.kind, result)
    except Exception as exc:  # a job's failure is recorded, never fatal to the scheduler
        message = redact(f"{type(exc).__name__}: {exc}", settings)
        log.warning("job %s (%s) failed: %s", job.id, job.kind, message)
        queue.finish(store, job.id, error=message)
        from plugin.canvas.client import refused_token
        from plugin.mail import alerts

        if not refused_token(exc):  # a 401 is its own alert: one cause, one alert
            alerts.note(store, settings, f"{job.kind}_failed",
                        f"job {job.id} ({job.kind}, course {job.course_id or 'all'}): {message}")
    finally:
        stop.set()


def _keep_lease(store: Store, job_id: int, worker: str, stop: threading.Event) -> None:
    while not stop.wait(RENEW_SECONDS):
        try:
            if not queue.renew(store, job_id, worker):
                return
        except Exception:  # a missed renewal is retried at the next tick
            log.exception("could not renew the lease of job %s", job_id)


def run_pending(store: Store, settings: Settings, worker: str | None = None,
                limit: int = 10) -> int:
    """Claim and run queued jobs until none is left (or `limit`); returns how many ran."""
    worker = worker or worker_name()
    done = 0
    while done < limit and (job := queue.claim(store, worker)) is not None:
        run_job(store, settings, job, worker)
        done += 1
    return done
