"""`serve` kills and restarts a scheduler that hangs (no heartbeat for the limit: 5 minutes),
with backoff, logged and alerted; the heartbeat reaches it as systemd's watchdog message from
the scheduler's own pid."""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest
import requests

from plugin.jobs import heartbeat, supervisor
from plugin.jobs.supervisor import Beats, Supervisor
from tests.conftest import COURSE_TOML
from tests.smtp_server import Recorder
from tests.smtp_server import start_server as start_smtp
from tests.web_server import children, gone

BEATING = ("import time\nfrom plugin.jobs.supervisor import notify\n"
           "for _ in range(30):\n    notify()\n    time.sleep(0.2)\n")
SILENT = "import time\ntime.sleep(60)\n"


def supervised(code: str, hang_after: float, restarts: int = 1) -> list[tuple[int, str]]:
    """What happened to `code`'s process, each time, until it had been restarted `restarts`
    times."""
    exits: list[tuple[int, str]] = []
    watched = Supervisor([sys.executable, "-c", code], first_delay=0.01,
                         hang_after=hang_after, on_exit=lambda *exit: exits.append(exit))
    watched.start()
    deadline = time.monotonic() + 60
    while watched.restarts < restarts and time.monotonic() < deadline:
        time.sleep(0.05)
    watched.stop()
    return exits


def test_a_child_without_heartbeats_is_killed_and_restarted():
    exits = supervised(SILENT, hang_after=1)
    assert exits and exits[0] == (-signal.SIGKILL, "gave no heartbeat for 1 s and was killed")


def test_a_child_that_beats_is_left_to_run():
    exits = supervised(BEATING, hang_after=3)  # beats for 6 s, twice the limit
    assert exits and exits[0] == (0, "exited with status 0")


def test_only_the_childs_own_heartbeats_count(monkeypatch):
    beats = Beats()
    monkeypatch.setenv("NOTIFY_SOCKET", beats.address)
    supervisor.notify()  # this process, not the one listened for
    assert not beats.heard_from(os.getpid() + 1, 0.5)
    supervisor.notify()
    assert beats.heard_from(os.getpid(), 0.5)
    beats.close()


# --- `serve` ---------------------------------------------------------------------------------

HANG_SECONDS = 25  # above the scheduler's 15-second beat: it stands for the 5 minutes


def schedulers(master: int) -> list[int]:
    return [pid for pid, command, _ in children(master) if "plugin scheduler" in command]


def wait_for(condition, what: str, server, timeout: float = 90.0):
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, f"{what} did not happen:\n{server.tail()}"
        time.sleep(0.2)
    return found


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
        health = lambda: requests.get(f"{server.url}/healthz", timeout=10).json()  # noqa: E731
        wait_for(lambda: health()["status"] == "ok", "the scheduler's first heartbeat", server)
        [hung] = schedulers(server.process.pid)
        os.kill(hung, signal.SIGSTOP)
        stopped = time.monotonic()
        assert gone(hung, timeout=HANG_SECONDS + 20), f"not killed:\n{server.tail()}"
        assert time.monotonic() - stopped > HANG_SECONDS - heartbeat.BEAT_SECONDS - 1
        wait_for(lambda: [p for p in schedulers(server.process.pid) if p != hung],
                 "a new scheduler process", server)
        wait_for(lambda: health()["status"] == "ok", "the new scheduler's heartbeat", server)
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
