"""The scheduler process: runs queued jobs, and the nightly re-sync + export."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import signal
import threading
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import func, select

from plugin.canvas.client import refused_token
from plugin.clock import utcnow
from plugin.export.publish import FilesNotWritten, materialise_missing
from plugin.export.run import AlreadyRan, run_export
from plugin.intake.apply import apply_pending
from plugin.intake.gaps import BackgroundFill, canvas_configured
from plugin.jobs import heartbeat, mail_tick, queue, supervisor, worker
from plugin.mail import alerts
from plugin.settings import Settings, cron_trigger, redact
from plugin.status import FULL, INCREMENTAL, RESYNC, SCHEDULE
from plugin.store.db import Store
from plugin.store.models import CourseState, ExportRun

log = logging.getLogger(__name__)
POLL_SECONDS = 2
APPLY_SECONDS = 1
FILL_SECONDS = 5  # names and identities the applied events left unknown: asked of Canvas
FULL_SYNC_EVERY = dt.timedelta(days=7)
STALE_TEMP = dt.timedelta(hours=6)
RECOVER_SECONDS = 300


def last_scheduled_run(store: Store) -> dt.datetime | None:
    """When the last scheduled export ran, if ever."""
    with store.read() as session:
        return session.scalar(select(func.max(ExportRun.created_at))
                              .where(ExportRun.trigger == SCHEDULE))


def missed_run_due(store: Store, settings: Settings, now: dt.datetime) -> bool:
    """True when a scheduled time passed after the last recorded scheduled run."""
    last = last_scheduled_run(store)
    if last is None:
        return False
    trigger = cron_trigger(settings.export_schedule, settings.timezone)
    due = trigger.get_next_fire_time(None, last + dt.timedelta(seconds=1))
    return due is not None and due <= now


def _sync_mode(store: Store, course_id: int, now: dt.datetime) -> str:
    with store.read() as session:
        row = session.get(CourseState, course_id)
    last_full = row.last_full_sync_started if row else None
    return FULL if last_full is None or now - last_full >= FULL_SYNC_EVERY else INCREMENTAL


def nightly(store: Store, settings: Settings, now: dt.datetime | None = None) -> int | None:
    """Re-sync every course, then export; the local date is claimed so it runs once."""
    from plugin.intake.resync import resync_course

    now = now or utcnow()
    local_date = now.astimezone(ZoneInfo(settings.timezone)).date().isoformat()
    with store.read() as session:
        if session.scalar(select(ExportRun.id).where(ExportRun.schedule_date == local_date)):
            log.info("scheduled export of %s already ran", local_date)
            return None
    for course in settings.courses:
        try:
            counts = resync_course(store, settings, course.canvas_id,
                                   mode=_sync_mode(store, course.canvas_id, now))
            log.info("re-sync of course %s: %s", course.canvas_id, counts)
        except Exception as exc:  # the export still runs on what the events brought
            message = redact(str(exc), settings)
            log.warning("re-sync of course %s failed: %s", course.canvas_id, message)
            if not refused_token(exc):  # a 401 is its own alert: one cause, one alert
                alerts.note(store, settings, "resync_failed",
                            f"nightly re-sync of course {course.canvas_id}: {message}")
    try:
        summary = run_export(store, settings, trigger=SCHEDULE, schedule_date=local_date,
                             now=now)
    except AlreadyRan:
        log.info("scheduled export of %s claimed by another scheduler", local_date)
        return None
    except FilesNotWritten as exc:  # logged by the run; recover() writes them later
        alerts.note(store, settings, "export_failed", f"nightly export of {local_date}: {exc}")
        return exc.run_id
    except Exception as exc:
        alerts.note(store, settings, "export_failed", f"nightly export of {local_date}: "
                    f"{redact(f'{type(exc).__name__}: {exc}', settings)}")
        raise
    log.info("scheduled export run %s: %s files=%s", summary.run_id, summary.counts or
             "nothing new", summary.files)
    return summary.run_id


def clean_stale_temp(settings: Settings, now: float | None = None) -> None:
    """Remove hidden temp folders a crashed run left behind (old enough to be dead)."""
    root = Path(settings.export_dir)
    if not root.is_dir():
        return
    limit = (now or time.time()) - STALE_TEMP.total_seconds()
    for path in root.glob(".*"):
        if path.is_dir() and path.stat().st_mtime < limit:
            shutil.rmtree(path, ignore_errors=True)


def recover(store: Store, settings: Settings) -> None:
    """Complete committed runs whose files are missing; drop stale temp folders."""
    done = materialise_missing(store, settings)
    if done:
        log.info("wrote the files of runs %s", done)
    clean_stale_temp(settings)


def beat(store: Store) -> None:
    """Tell the web side and the supervisor (`serve`) that the scheduler is alive; a missed
    beat is logged, not fatal."""
    try:
        heartbeat.beat(store)
    except Exception as exc:  # e.g. the lock held by a long export: the next beat retries
        log.warning("heartbeat not written: %s", type(exc).__name__)
        return
    supervisor.notify()


def never_synced(store: Store, settings: Settings) -> list[int]:
    """Configured courses never re-synced in full: newly added ones (or a fresh install)."""
    with store.read() as session:
        synced = set(session.scalars(select(CourseState.course_id).where(
            CourseState.last_full_sync_started.is_not(None))))
    return [c.canvas_id for c in settings.courses if c.canvas_id not in synced]


def sync_new_courses(store: Store, settings: Settings) -> list[int]:
    """Queue a full re-sync of each course never synced (with a Canvas API configured)."""
    if not canvas_configured(settings):
        return []
    jobs = [queue.enqueue(store, RESYNC, course_id, {"mode": FULL})[0]
            for course_id in never_synced(store, settings)]
    if jobs:
        log.info("newly configured courses: full re-sync queued (jobs %s)", jobs)
    return jobs


def build(store: Store, settings: Settings) -> BlockingScheduler:
    """The APScheduler 3 scheduler with the job poller and the nightly export."""
    scheduler = BlockingScheduler(timezone=ZoneInfo(settings.timezone))
    name = worker.worker_name()
    scheduler.add_job(apply_pending, "interval", seconds=APPLY_SECONDS, args=(store,),
                      id="apply-events", max_instances=1, coalesce=True)
    scheduler.add_job(BackgroundFill(store, settings), "interval", seconds=FILL_SECONDS,
                      id="fill-gaps", max_instances=1, coalesce=True)
    scheduler.add_job(worker.run_pending, "interval", seconds=POLL_SECONDS,
                      args=(store, settings, name), id="jobs", max_instances=1, coalesce=True)
    scheduler.add_job(beat, "interval", seconds=heartbeat.BEAT_SECONDS, args=(store,),
                      id="heartbeat", max_instances=1, coalesce=True)
    scheduler.add_job(recover, "interval", seconds=RECOVER_SECONDS, args=(store, settings),
                      id="recover", max_instances=1, coalesce=True)
    scheduler.add_job(nightly, cron_trigger(settings.export_schedule, settings.timezone),
                      args=(store, settings), id="nightly", max_instances=1, coalesce=True,
                      misfire_grace_time=6 * 3600)
    if settings.mail.enabled:
        scheduler.add_job(mail_tick.tick, "interval", seconds=mail_tick.EVERY_SECONDS,
                          args=(store, settings), id="mail", max_instances=1, coalesce=True,
                          next_run_time=utcnow())  # what waited during a restart goes now
    if missed_run_due(store, settings, utcnow()):
        log.info("a scheduled export was missed: running it now")
        scheduler.add_job(nightly, args=(store, settings), id="catch-up")
    return scheduler


def run_scheduler(settings: Settings, store: Store) -> None:
    """Run until stopped."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # not every 2-second poll
    mail_tick.listen(store, settings)
    scheduler = build(store, settings)

    def _stop(*_) -> None:
        if not scheduler.running:  # still recovering: nothing to finish
            raise SystemExit(0)
        # Not here: the signal may land while the main loop is inside the job pool's
        # submit(), holding the lock that shutdown() takes.
        threading.Thread(target=scheduler.shutdown, kwargs={"wait": False},
                         name="scheduler-stop").start()

    # On SIGTERM stop taking work; a job already running finishes before the process exits.
    signal.signal(signal.SIGTERM, _stop)
    try:
        recover(store, settings)
        sync_new_courses(store, settings)
        beat(store)  # the first beat says: recovered, taking work
        log.info("scheduler started: export at %r in %s", settings.export_schedule,
                 settings.timezone)
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
