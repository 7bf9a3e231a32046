"""The scheduler: the nightly run claims its local date, DST, missed runs, and the job worker.

Jobs run in the scheduler process and a dead worker's job is taken over when its lease lapses;
the nightly re-sync + export runs at `export_schedule` in `timezone`, once per local date, and a
missed run is caught up at start.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import logging
import sys
import threading
import time
import types
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select, update

import plugin.intake
from plugin.clock import utcnow
from plugin.jobs import queue, worker
from plugin.jobs.scheduler import build, missed_run_due, nightly, sync_new_courses
from plugin.settings import Settings, cron_trigger
from plugin.status import RUNNING, SUCCEEDED
from plugin.store.db import Store
from plugin.store.models import CourseState, Dirty, ExportRun, Job
from tests.conftest import ADMIN_TOKEN
from tests.export.test_export_concurrency import regrade_project, seed_students

STOCKHOLM = ZoneInfo("Europe/Stockholm")
COURSES = (565, 1279362)
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def local(*args: int, fold: int = 0) -> dt.datetime:
    """A Stockholm wall-clock time."""
    return dt.datetime(*args, tzinfo=STOCKHOLM, fold=fold)


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


@dataclass
class FakeResync:
    """Stands in for plugin.intake.resync.resync_course; records (course, mode) per call."""

    calls: list[tuple[int, str]] = field(default_factory=list)
    behaviour: Callable[[int], None] | None = None

    def __call__(self, store: Store, settings: Settings, course_id: int, *, mode: str = "full",
                 client: Any = None, progress: Any = None) -> dict[str, int]:
        self.calls.append((course_id, mode))
        if self.behaviour is not None:
            self.behaviour(course_id)
        return {"students": 0}


@pytest.fixture
def resync(monkeypatch: pytest.MonkeyPatch) -> FakeResync:
    """No Canvas in these tests: the nightly re-sync is a recording fake."""
    fake = FakeResync()
    try:
        module = importlib.import_module("plugin.intake.resync")
    except Exception:  # not written yet (or broken) in this checkout: stand in for it
        module = types.ModuleType("plugin.intake.resync")
        monkeypatch.setitem(sys.modules, "plugin.intake.resync", module)
        monkeypatch.setattr(plugin.intake, "resync", module, raising=False)
    monkeypatch.setattr(module, "resync_course", fake, raising=False)
    return fake


def seed_term(store: Store) -> None:
    """Two students who passed every moment of course 565 (not yet exported)."""
    seed_students(store, 565, (1001, 1002))


def runs(store: Store) -> list[ExportRun]:
    with store.read() as session:
        return list(session.scalars(select(ExportRun).order_by(ExportRun.id)))


def dirty_students(store: Store) -> set[tuple[int, int]]:
    with store.read() as session:
        return {tuple(r) for r in session.execute(select(Dirty.course_id, Dirty.user_id))}


def add_run(store: Store, created_at: dt.datetime, trigger: str = "schedule") -> None:
    """Record a run (nothing exported) as if it ran at `created_at`."""
    schedule_date = (created_at.astimezone(STOCKHOLM).date().isoformat()
                     if trigger == "schedule" else None)
    with store.write() as session:
        session.add(ExportRun(created_at=created_at, trigger=trigger,
                              schedule_date=schedule_date, files="[]", counts="{}"))


def fire_times(expr: str, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """The trigger's fire times in [start, end), in UTC."""
    trigger = cron_trigger(expr, "Europe/Stockholm")
    out: list[dt.datetime] = []
    moment = start.astimezone(dt.UTC)  # wall-clock arithmetic would loop in a repeated hour
    for _ in range(100):
        fire = trigger.get_next_fire_time(None, moment)
        if fire is None or fire >= end:
            return out
        out.append(fire.astimezone(dt.UTC))
        moment = out[-1] + dt.timedelta(seconds=1)
    raise AssertionError(f"{expr!r} fires too often between {start} and {end}")


# --- the nightly run claims its local date ---------------------------------------------------

def test_nightly_claims_the_local_date_so_a_second_call_that_date_exports_nothing(
        store, settings, resync):
    seed_term(store)
    evening_utc_next_day_local = utc(2026, 3, 3, 23, 30)  # 00:30 on 4 March in Stockholm
    first = nightly(store, settings, now=evening_utc_next_day_local)
    assert first is not None
    (run,) = runs(store)
    assert (run.id, run.trigger, run.schedule_date) == (first, "schedule", "2026-03-04")
    assert sorted(resync.calls) == sorted((c, "full") for c in COURSES)

    regrade_project(store, 565, {1001: "A"})
    resync.calls.clear()
    assert nightly(store, settings, now=utc(2026, 3, 4, 22, 59)) is None  # 23:59 local
    assert [r.id for r in runs(store)] == [first]
    assert resync.calls == []
    assert (565, 1001) in dirty_students(store)  # the change waits for the next date's run

    next_date = nightly(store, settings, now=utc(2026, 3, 4, 23, 1))  # 00:01 on 5 March
    assert next_date is not None and next_date != first
    assert runs(store)[-1].schedule_date == "2026-03-05"


def test_two_schedulers_firing_at_once_export_the_date_once(store, settings, resync):
    seed_term(store)
    both_resyncing = threading.Barrier(2)
    resync.behaviour = lambda course: both_resyncing.wait(timeout=20)
    now = utc(2026, 3, 10, 2, 30)
    results: list[int | None] = []

    def scheduler() -> None:
        results.append(nightly(store, settings, now=now))

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 2 and results.count(None) == 1
    (run,) = runs(store)
    assert run.id in results and run.schedule_date == "2026-03-10"
    assert len(resync.calls) == 2 * len(COURSES)  # both got past the early check


def test_a_repeated_hour_exports_the_date_once(store, settings, resync):
    """On the autumn night 02:30 happens twice; both firings share one local date."""
    seed_term(store)
    first = local(2026, 10, 25, 2, 30).astimezone(dt.UTC)
    second = local(2026, 10, 25, 2, 30, fold=1).astimezone(dt.UTC)
    assert second - first == dt.timedelta(hours=1)
    assert nightly(store, settings, now=first) is not None
    assert nightly(store, settings, now=second) is None
    assert [r.schedule_date for r in runs(store)] == ["2026-10-25"]


def test_a_failing_resync_is_logged_without_the_token_and_the_export_still_runs(
        store, settings, resync, caplog):
    seed_term(store)

    def fail(course: int) -> None:
        raise RuntimeError(f"GET /api/v1/courses/{course}?access_token={settings.canvas_token}")

    resync.behaviour = fail
    with caplog.at_level(logging.INFO, logger="plugin"):
        run_id = nightly(store, settings, now=utc(2026, 3, 10, 2, 30))
    assert run_id is not None and runs(store)[0].counts != "{}"
    assert settings.canvas_token and settings.canvas_token not in caplog.text
    assert caplog.text.count("[redacted]") == len(COURSES)


def test_nightly_resyncs_fully_once_a_week_and_incrementally_between(
        store, settings, resync):
    day = utc(2026, 3, 2, 2, 30)
    nightly(store, settings, now=day)
    assert {mode for _, mode in resync.calls} == {"full"}
    with store.write() as session:
        for course in COURSES:
            session.merge(CourseState(course_id=course, last_full_sync_started=day,
                                      last_sync_started=day))
    for days, mode in ((1, "incremental"), (6, "incremental"), (7, "full")):
        resync.calls.clear()
        nightly(store, settings, now=day + dt.timedelta(days=days))
        assert sorted(resync.calls) == sorted((c, mode) for c in COURSES), days


# --- the schedule in Europe/Stockholm across DST changes -------------------------------------

@pytest.mark.parametrize("start, end, offsets", [
    (local(2026, 3, 26), local(2026, 4, 2), ["+0100"] * 3 + ["+0200"] * 4),
    (local(2026, 10, 22), local(2026, 10, 29), ["+0200"] * 3 + ["+0100"] * 4),
])
def test_the_default_schedule_fires_once_a_night_at_0330_local_across_dst(start, end, offsets):
    default = Settings(database_url="sqlite://").export_schedule
    assert default == "30 3 * * *"
    fires = fire_times(default, start, end)
    walls = [f.astimezone(STOCKHOLM) for f in fires]
    assert [w.date() for w in walls] == [start.date() + dt.timedelta(days=n) for n in range(7)]
    assert {w.strftime("%H:%M") for w in walls} == {"03:30"}
    assert [w.strftime("%z") for w in walls] == offsets


def test_0230_does_not_exist_on_the_spring_forward_night_and_fires_once_after_the_gap():
    fires = fire_times("30 2 * * *", local(2026, 3, 28, 12), local(2026, 3, 30, 12))
    assert fires == [utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 0, 30)]
    # 01:30 UTC on 29 March is 03:30 CEST: the wall clock jumped from 02:00 to 03:00.
    assert fires[0].astimezone(STOCKHOLM).strftime("%H:%M%z") == "03:30+0200"


def test_0230_fires_twice_on_the_autumn_night_that_repeats_the_hour():
    fires = fire_times("30 2 * * *", local(2026, 10, 24, 12), local(2026, 10, 26, 12))
    assert utc(2026, 10, 25, 0, 30) in fires and utc(2026, 10, 25, 1, 30) in fires
    assert Counter(f.astimezone(STOCKHOLM).date() for f in fires)[dt.date(2026, 10, 25)] == 2


# --- missed runs ----------------------------------------------------------------------------

def test_no_run_is_missed_on_a_fresh_database(store, settings):
    assert missed_run_due(store, settings, utc(2030, 1, 1)) is False
    assert build(store, settings).get_job("catch-up") is None


MISSED_CASES = [  # (last scheduled run, now, a run is due)
    (local(2026, 3, 3, 3, 31), local(2026, 3, 4, 3, 29), False),
    (local(2026, 3, 3, 3, 31), local(2026, 3, 4, 3, 31), True),
    (local(2026, 3, 3, 3, 31), local(2026, 3, 3, 23, 0), False),
    (local(2026, 3, 3, 3, 31), local(2026, 3, 9, 12, 0), True),
    # Spring forward: 03:30 on 29 March is 01:30 UTC, an hour "earlier" than the day before.
    (local(2026, 3, 28, 3, 31), local(2026, 3, 29, 3, 20), False),
    (local(2026, 3, 28, 3, 31), local(2026, 3, 29, 3, 31), True),
    # Fall back: 03:30 on 25 October is 02:30 UTC.
    (local(2026, 10, 24, 3, 31), local(2026, 10, 25, 2, 59, fold=1), False),
    (local(2026, 10, 24, 3, 31), local(2026, 10, 25, 3, 31), True),
]


def test_a_run_is_missed_when_a_due_time_passed_after_the_last_scheduled_run(store, settings):
    for last, now, due in MISSED_CASES:
        with store.write() as session:
            session.execute(delete(ExportRun))
        add_run(store, last.astimezone(dt.UTC))
        assert missed_run_due(store, settings, now.astimezone(dt.UTC)) is due, (last, now)


def test_only_scheduled_runs_count_for_missed_runs(store, settings):
    add_run(store, utc(2026, 3, 3, 2, 31))
    add_run(store, utc(2026, 3, 4, 10, 0), trigger="manual")
    add_run(store, utc(2026, 3, 4, 11, 0), trigger="cli")
    assert missed_run_due(store, settings, utc(2026, 3, 4, 12, 0)) is True


def test_build_adds_a_catch_up_run_only_when_a_run_was_missed(store, settings, monkeypatch):
    now = local(2026, 3, 4, 3, 31).astimezone(dt.UTC)  # a minute after the 03:30 run
    monkeypatch.setattr(plugin.jobs.scheduler, "utcnow", lambda: now)
    add_run(store, now - dt.timedelta(seconds=55))  # today's 03:30 run was made
    fresh = build(store, settings)
    assert fresh.get_job("catch-up") is None
    assert {job.id for job in fresh.get_jobs()} == {"apply-events", "fill-gaps", "jobs",
                                                  "nightly", "heartbeat", "recover"}

    with store.write() as session:
        session.execute(update(ExportRun).values(created_at=now - dt.timedelta(days=1)))
    scheduler = build(store, settings)
    catch_up = scheduler.get_job("catch-up")
    assert catch_up is not None and catch_up.func is nightly
    assert catch_up.args == (store, settings)


# --- the job worker -------------------------------------------------------------------------

def job_row(store: Store, job_id: int) -> Job:
    with store.read() as session:
        return session.get(Job, job_id)


def lapse(store: Store, job_id: int, worker_name: str, lease_until: dt.datetime) -> None:
    """Make a job look taken by `worker_name` whose lease ends at `lease_until`."""
    with store.write() as session:
        session.execute(update(Job).where(Job.id == job_id).values(
            state=RUNNING, worker=worker_name, lease_until=lease_until,
            started_at=utcnow() - dt.timedelta(minutes=10)))


def test_a_job_whose_lease_lapsed_is_claimed_again_and_completes(store, settings):
    seed_term(store)
    job_id, _ = queue.enqueue(store, "export", 565)
    lapse(store, job_id, "dead-host:1", utcnow() - dt.timedelta(seconds=1))
    started = job_row(store, job_id).started_at

    assert worker.run_pending(store, settings, "live-host:2") == 1

    job = job_row(store, job_id)
    assert (job.state, job.worker, job.error) == (SUCCEEDED, "live-host:2", None)
    assert job.started_at == started and job.finished_at is not None
    assert job.active_key is None and job.lease_until is None
    assert queue.as_dict(job)["progress"]["run"] == runs(store)[0].id
    assert queue.renew(store, job_id, "dead-host:1") is False


def test_a_job_with_a_live_lease_is_left_to_its_worker(store, settings):
    job_id, _ = queue.enqueue(store, "export", 565)
    lapse(store, job_id, "busy-host:1", utcnow() + dt.timedelta(seconds=30))
    assert worker.run_pending(store, settings, "other-host:2") == 0
    job = job_row(store, job_id)
    assert (job.state, job.worker) == (RUNNING, "busy-host:1")
    assert queue.renew(store, job_id, "busy-host:1") is True


def test_a_failed_job_records_an_error_without_the_canvas_token(
        client, store, settings, monkeypatch, caplog):
    def unreachable_canvas(*args: Any) -> dict[str, Any]:
        raise ConnectionError(f"https://canvas.example.edu/api/v1/courses/565 "
                              f"(Authorization: Bearer {settings.canvas_token}) unreachable")

    monkeypatch.setitem(worker.HANDLERS, "resync", unreachable_canvas)
    job_id = client.post("/api/courses/565/resync", json={"mode": "full"},
                         headers=AUTH).json["job"]
    with caplog.at_level(logging.INFO, logger="plugin"):
        assert worker.run_pending(store, settings, "host:1") == 1

    shown = client.get(f"/api/jobs/{job_id}", headers=AUTH).json
    assert shown["state"] == "failed" and shown["finished_at"]
    assert shown["error"].startswith("ConnectionError: ")
    assert "[redacted]" in shown["error"]
    assert settings.canvas_token not in shown["error"]
    assert settings.canvas_token not in caplog.text
    again = client.post("/api/courses/565/resync", headers=AUTH).json["job"]
    assert again != job_id  # a finished job frees its course for a new re-sync


def test_workers_polling_at_once_run_each_job_once(store, settings, monkeypatch):
    ran: list[int] = []
    lock = threading.Lock()

    def record(store_: Store, settings_: Settings, job: Job, params: dict,
               progress: Callable[[dict], None]) -> dict[str, Any]:
        with lock:
            ran.append(job.id)
        time.sleep(0.02)
        return {"ok": 1}

    monkeypatch.setitem(worker.HANDLERS, "export", record)
    ids = [queue.enqueue(store, "export", 565)[0] for _ in range(6)]
    start = threading.Barrier(3)

    def poll(name: str) -> None:
        start.wait(timeout=20)
        for _ in range(4):
            worker.run_pending(store, settings, name)

    threads = [threading.Thread(target=poll, args=(f"host:{n}",)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(ran) == ids
    assert {job_row(store, i).state for i in ids} == {SUCCEEDED}


# --- what the scheduler does without being asked --------------------------------------------


def test_a_newly_configured_course_is_queued_for_a_full_resync(store, settings):
    with store.write() as session:  # course 1279362 was re-synced in full before
        session.add(CourseState(course_id=1279362, last_full_sync_started=utc(2026, 1, 1)))
    [job] = sync_new_courses(store, settings)
    with store.read() as session:
        queued = session.get(Job, job)
        assert (queued.kind, queued.course_id, queued.params) == (
            "resync", 565, '{"mode": "full"}')
    assert sync_new_courses(store, settings) == [job]  # still queued: the same job
    offline = dataclasses.replace(settings, canvas_token="")
    assert sync_new_courses(store, offline) == []

