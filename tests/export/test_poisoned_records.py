"""One bad record never stops the others: poisoned identities and names, unwritable runs,
a scheduler that exits."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import signal
import subprocess
import sys
import time

import pytest
import requests
from sqlalchemy import insert

from plugin.export.publish import run_folder
from plugin.export.run import run_export
from plugin.intake.apply import apply_pending
from plugin.jobs import heartbeat
from plugin.jobs.scheduler import recover
from plugin.jobs.supervisor import Supervisor, next_delay
from plugin.store.models import ExportRun, LedgerEntry, Marker
from tests.conftest import ADMIN_TOKEN, post_event, sign_in
from tests.helpers import term
from tests.web_server import children

LATER = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
POISONED_ID = "19900101\t1002"
POISONED_GRADER = "Demo\tTeacher\nINFO forged line\x1b[31m"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _poisoned_term() -> list[dict]:
    """Three students; student 2's identity holds a tab, the grader's name a tab and newline."""
    events = []
    for event in term(3):
        body = event["body"]
        if body.get("student_sis_id") == "19900101-1002":
            body["student_sis_id"] = POISONED_ID
        if body.get("user_name") == "Demo Teacher":
            body["user_name"] = POISONED_GRADER
        events.append(event)
    return events


def _post_all(client, events) -> None:
    for event in events:
        assert post_event(client, event).status_code == 202
    apply_pending(client.application.extensions["canvas_ladok"].store)


def _read(settings, run_id, name="ladok-report.tsv") -> list[list[str]]:
    with open(run_folder(settings, run_id) / name, encoding="utf-8") as fh:
        return [line.rstrip("\n").split("\t") for line in fh]


def _add_run(store, now: dt.datetime, user_id: int, student_id: str) -> int:
    """A committed run of one ledger row for `student_id`, its files not yet written."""
    with store.write() as session:
        run = ExportRun(created_at=now, course_id=565, trigger="cli",
                        files=json.dumps(["ladok-report.tsv"]), counts="{}")
        session.add(run)
        session.flush()
        session.execute(insert(LedgerEntry), [dict(
            user_id=user_id, ladok_code="DV1531", component_code="2205", version=1,
            course_id=565, run_id=run.id, status="new", file="ladok-report.tsv",
            student_id=student_id, student_name="X", component_name="Y", credits=2.5,
            grade="G", exam_date="2025-10-01", graders="[]", exported_at=now)])
        return run.id


def _add_unwritable_run(store, now: dt.datetime) -> int:
    """A committed run whose ledger row cannot be rendered (as an older version recorded)."""
    return _add_run(store, now, 4242, "19900101\t4242")


def beaten(store) -> bool:
    """Whether a scheduler has written a heartbeat (its first comes after recovery)."""
    with store.read() as session:
        row = session.get(Marker, heartbeat.SCHEDULER_KEY)
    return row is not None and row.value[:1].isdigit()


@pytest.mark.slow  # starts a scheduler process
def test_poisoned_student_and_grader_hold_back_one_student_and_export_the_rest_once(
        client, store, settings, environ, config_file, tmp_path):
    _post_all(client, _poisoned_term())
    first = run_export(store, settings, now=LATER)
    lines = _read(settings, first.run_id)
    assert first.counts["new"] == len(lines) == 5
    assert {line[2] for line in lines} == {"19900101-1001", "19900101-1003"}
    assert [h["user_id"] for h in first.held_back] == [1002]
    assert first.held_back[0]["reason"] == (
        "sis_user_id contains a tab, newline or other control character")
    assert {line[5] for line in lines} == {"Demo Teacher INFO forged line [31m"}
    again = run_export(store, settings, now=LATER + dt.timedelta(hours=1))
    assert again.nothing_new and [h["user_id"] for h in again.held_back] == [1002]

    preview = client.get("/api/courses/565/preview",
                         headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).json
    assert [(h["user_id"], h["reason"]) for h in preview["held_back"]] == [
        (1002, first.held_back[0]["reason"])]
    report = client.get("/api/courses/565/students/1002",
                        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).json
    assert "control character" in report["identity"]
    page = sign_in(client, {"kind": "admin"}).get("/courses/565?q=1002").text
    assert "held back: sis_user_id contains a tab, newline or other control character" in page

    _add_unwritable_run(store, LATER)
    env = {**os.environ, **environ, "CANVAS_LADOK_CONFIG": str(config_file)}
    scheduler = subprocess.Popen([sys.executable, "-m", "plugin", "scheduler"], cwd=ROOT,
                                 env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while scheduler.poll() is None and time.monotonic() < deadline:
            if beaten(store):  # past recovery: a beat, not only "starting"
                break
            time.sleep(0.1)
        assert scheduler.poll() is None, scheduler.stderr.read().decode()
        assert beaten(store)
    finally:
        scheduler.terminate()
        scheduler.communicate(timeout=30)


def test_control_characters_in_names_become_spaces_in_every_file(client, store, settings):
    _post_all(client, _poisoned_term())
    run = run_export(store, settings, now=LATER)
    with open(run_folder(settings, run.run_id) / "rapporteringsunderlag.csv",
              encoding="utf-8-sig") as fh:
        rows = fh.read().split("\n")
    assert len(rows) == 1 + 5 + 1  # header, results, the final newline
    assert all("Demo Teacher INFO forged line [31m" in row for row in rows[1:-1])


def test_recovery_writes_other_runs_when_one_cannot_be_rendered(store, settings, caplog):
    bad = _add_unwritable_run(store, LATER)
    good_id = _add_run(store, LATER, 4243, "19900101-4243")
    with caplog.at_level(logging.ERROR):
        recover(store, settings)
    assert not run_folder(settings, bad).exists()
    assert [line[2] for line in _read(settings, good_id)] == ["19900101-4243"]
    assert f"export run {bad}: files not written" in caplog.text
    assert "4242" not in caplog.text  # the refused value stays out of the log


def test_download_of_a_run_whose_files_cannot_be_written_answers_503(client, store):
    bad = _add_unwritable_run(store, LATER)
    response = client.get(f"/api/exports/{bad}/files/ladok-report.tsv",
                          headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert response.status_code == 503 and "could not be written" in response.json["error"]


def test_healthz_is_degraded_while_the_scheduler_is_down(client, store):
    heartbeat.beat(store)
    assert client.get("/healthz").json == {"status": "ok"}
    heartbeat.mark_stopped(store)
    assert client.get("/healthz").json["status"] == "degraded"
    heartbeat.beat(store, dt.datetime.now(dt.UTC) - dt.timedelta(minutes=6))
    body = client.get("/healthz").json
    assert body["status"] == "degraded" and "heartbeat" in body["reason"]


def test_restart_delays_double_up_to_a_minute():
    delays = [None]
    for _ in range(8):
        delays.append(next_delay(delays[-1]))
    assert delays[1:] == [1, 2, 4, 8, 16, 32, 60, 60]


@pytest.mark.slow  # starts processes
def test_supervisor_restarts_a_process_that_exits_and_logs_it(caplog):
    exits: list[int] = []
    supervisor = Supervisor([sys.executable, "-c", "raise SystemExit(3)"],
                            on_exit=exits.append, first_delay=0.01)
    with caplog.at_level(logging.WARNING, logger="plugin.jobs.supervisor"):
        supervisor.start()
        deadline = time.monotonic() + 60
        while supervisor.restarts < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        supervisor.stop()
    assert supervisor.restarts >= 3 and set(exits) == {3}
    assert "scheduler process exited with status 3: restarting" in caplog.text


def _children(pid: int, needle: str) -> list[int]:
    """Processes whose parent is `pid` and whose command line holds `needle`."""
    return [child for child, command, _ in children(pid) if needle in command]


def _wait(condition, what: str, timeout: float = 60.0):
    """Poll `condition()` until it gives something true; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, f"{what} did not happen in {timeout} s"
        time.sleep(0.1)
    return result


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_serve_restarts_a_scheduler_that_dies_and_healthz_says_degraded_meanwhile(
        start_server):
    server = start_server("serve")
    health = lambda: requests.get(f"{server.url}/healthz", timeout=10).json()  # noqa: E731
    _wait(lambda: health()["status"] == "ok", "the scheduler's first heartbeat")
    [scheduler] = _wait(lambda: _children(server.process.pid, "plugin scheduler"),
                        "a scheduler process")
    os.kill(scheduler, signal.SIGKILL)
    _wait(lambda: health()["status"] == "degraded", "/healthz saying degraded")
    _wait(lambda: [p for p in _children(server.process.pid, "plugin scheduler")
                   if p != scheduler], "a new scheduler process")
    _wait(lambda: health()["status"] == "ok", "the new scheduler's heartbeat")
    assert "scheduler process exited with status -9: restarting" in server.tail()


def test_an_export_job_whose_files_fail_is_failed_and_its_files_written_later(
        client, store, settings, monkeypatch):
    from plugin.export.writers import RunFilesWriter
    from plugin.jobs import queue, worker
    from plugin.store.models import Job

    _post_all(client, term(2))
    real_publish = RunFilesWriter.publish
    monkeypatch.setattr(RunFilesWriter, "publish", lambda self: (_ for _ in ()).throw(
        OSError(28, "No space left on device")))
    job_id, _ = queue.enqueue(store, "export", None)
    assert worker.run_pending(store, settings) == 1
    with store.read() as session:
        job = session.get(Job, job_id)
        run_id = session.query(ExportRun.id).scalar()
    assert job.state == "failed" and f"run {run_id} is recorded" in job.error
    assert not run_folder(settings, run_id).exists()
    monkeypatch.setattr(RunFilesWriter, "publish", real_publish)
    recover(store, settings)
    assert len(_read(settings, run_id)) == 5
