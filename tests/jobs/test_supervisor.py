"""`serve` keeps its scheduler running: one that exits, or that hangs (no heartbeat for the
limit: 5 minutes), is killed if need be and started again, with backoff, logged and alerted.
The heartbeat reaches the supervisor as systemd's watchdog message, from the scheduler's own
pid only."""

from __future__ import annotations

import logging
import os
import signal
import sys
import time

import pytest
import requests

from plugin.jobs import heartbeat, supervisor
from plugin.jobs.supervisor import Beats, Supervisor, next_delay
from tests.conftest import COURSE_TOML
from tests.smtp_server import Recorder
from tests.smtp_server import start_server as start_smtp
from tests.web_server import children, gone

BEATING = ("import time\nfrom plugin.jobs.supervisor import notify\n"
           "for _ in range(30):\n    notify()\n    time.sleep(0.2)\n")
SILENT = "import time\ntime.sleep(60)\n"


def test_restart_delays_double_up_to_a_minute():
    delays = [None]
    for _ in range(8):
        delays.append(next_delay(delays[-1]))
    assert delays[1:] == [1, 2, 4, 8, 16, 32, 60, 60]


def supervised(code: str, restarts: int, **options) -> list[tuple[int, str]]:
    """What happened to `code`'s process each time, until it had been restarted `restarts`
    times."""
    exits: list[tuple[int, str]] = []
    watched = Supervisor([sys.executable, "-c", code], first_delay=0.01,
                         on_exit=lambda *exit: exits.append(exit), **options)
    watched.start()
    deadline = time.monotonic() + 60
    while watched.restarts < restarts and time.monotonic() < deadline:
        time.sleep(0.05)
    watched.stop()
    assert watched.restarts >= restarts
    return exits


@pytest.mark.slow  # starts processes
def test_supervisor_restarts_a_process_that_exits_and_logs_it(caplog):
    with caplog.at_level(logging.WARNING, logger="plugin.jobs.supervisor"):
        exits = supervised("raise SystemExit(3)", restarts=3)
    assert set(exits) == {(3, "exited with status 3")}
    assert "scheduler process exited with status 3: restarting" in caplog.text


@pytest.mark.slow  # starts processes
def test_a_child_without_heartbeats_is_killed_and_restarted():
    exits = supervised(SILENT, restarts=1, hang_after=1)
    assert exits[0] == (-signal.SIGKILL, "gave no heartbeat for 1 s and was killed")


@pytest.mark.slow  # starts processes
def test_a_child_that_beats_is_left_to_run():
    exits = supervised(BEATING, restarts=1, hang_after=3)  # beats for 6 s, twice the limit
    assert exits[0] == (0, "exited with status 0")


def test_only_the_childs_own_heartbeats_count(monkeypatch):
    beats = Beats()
    monkeypatch.setenv("NOTIFY_SOCKET", beats.address)
    supervisor.notify()  # from this process, not the one listened for
    assert not beats.heard_from(os.getpid() + 1, 0.5)
    supervisor.notify()
    assert beats.heard_from(os.getpid(), 0.5)
    beats.close()


# --- `serve` ---------------------------------------------------------------------------------

HANG_SECONDS = 25  # stands for the 5 minutes; above the scheduler's 15-second beat


def schedulers(master: int) -> list[int]:
    return [pid for pid, command, _ in children(master) if "plugin scheduler" in command]


def wait_for(condition, what: str, server, timeout: float = 90.0):
    """Poll `condition()` until it gives something true; fail with the server's log."""
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, f"{what} did not happen:\n{server.tail()}"
        time.sleep(0.2)
    return found


def healthz(server) -> dict:
    return requests.get(f"{server.url}/healthz", timeout=10).json()


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_serve_restarts_a_scheduler_that_dies_and_healthz_says_degraded_meanwhile(
        start_server):
    server = start_server("serve")
    wait_for(lambda: healthz(server)["status"] == "ok", "the first heartbeat", server)
    [scheduler] = wait_for(lambda: schedulers(server.process.pid), "a scheduler", server)
    os.kill(scheduler, signal.SIGKILL)
    wait_for(lambda: healthz(server)["status"] == "degraded", "/healthz degraded", server)
    wait_for(lambda: [p for p in schedulers(server.process.pid) if p != scheduler],
             "a new scheduler process", server)
    wait_for(lambda: healthz(server)["status"] == "ok", "the new heartbeat", server)
    assert "scheduler process exited with status -9: restarting" in server.tail()


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_serve_kills_and_restarts_a_hung_scheduler_and_alerts(start_server, server_env,
                                                             tmp_path):
    mail = Recorder()
    smtp = start_smtp(mail, "smtp")
    (tmp_path / "canvas-ladok.toml").write_text(
        COURSE_TOML + f'\n[mail]\nsmtp_url = "smtp://127.0.0.1:{smtp.port}"\n'
        'sender = "canvas-ladok@example.edu"\nadmins = ["ops@example.edu"]\n')
    server_env["HANG_SECONDS"] = str(HANG_SECONDS)
    try:
        server = start_server("serve", module="tests.jobs.short_hang_limit")
        wait_for(lambda: healthz(server)["status"] == "ok", "the first heartbeat", server)
        [hung] = schedulers(server.process.pid)
        os.kill(hung, signal.SIGSTOP)
        stopped = time.monotonic()
        assert gone(hung, timeout=HANG_SECONDS + 20), f"not killed:\n{server.tail()}"
        assert time.monotonic() - stopped > HANG_SECONDS - heartbeat.BEAT_SECONDS - 1
        wait_for(lambda: [p for p in schedulers(server.process.pid) if p != hung],
                 "a new scheduler process", server)
        wait_for(lambda: healthz(server)["status"] == "ok", "the new heartbeat", server)
        wait_for(lambda: mail.received, "the alert mail", server)
    finally:
        smtp.stop()
    log = server.tail()
    assert f"scheduler process (pid {hung}) gave no heartbeat for {HANG_SECONDS} s" in log
    assert (f"scheduler process gave no heartbeat for {HANG_SECONDS} s and was killed: "
            "restarting in 1 s (restart 1)") in log
    [alert] = mail.received
    assert "scheduler process restarted" in str(alert["Subject"])
    assert f"gave no heartbeat for {HANG_SECONDS} s and was killed" in alert.get_body(
        ("plain",)).get_content()
