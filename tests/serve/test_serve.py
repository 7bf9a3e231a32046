"""`canvas-ladok serve`: the web server, its workers and the scheduler, started and stopped as
one; a worker leaving touches nothing of the server's."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.web_server import children, group_alive

pytestmark = [pytest.mark.slow,
              pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]
STOP_LIMIT = 15.0  # seconds; gunicorn's graceful timeout (20) would be hit by a stuck worker


def processes(master: int) -> tuple[list[int], int]:
    """The web workers and the scheduler process of `master`, once all are there."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        kids = children(master)
        workers = [pid for pid, command, _ in kids if "scheduler" not in command]
        scheduler = [pid for pid, command, _ in kids if "scheduler" in command]
        if len(workers) == 2 and scheduler:
            return workers, scheduler[0]
        time.sleep(0.1)
    pytest.fail(f"no workers and scheduler under {master}: {children(master)}")


def test_a_worker_leaving_stops_neither_the_scheduler_nor_the_metrics(start_server,
                                                                     server_env):
    server = start_server("serve")
    workers, scheduler = processes(server.process.pid)
    os.kill(workers[0], signal.SIGTERM)  # leaves gracefully; gunicorn starts another
    deadline = time.monotonic() + 30
    while workers[0] in [pid for pid, _, _ in children(server.process.pid)]:
        assert time.monotonic() < deadline, "the worker did not leave"
        time.sleep(0.1)
    again, still = processes(server.process.pid)
    assert still == scheduler and workers[0] not in again
    assert os.path.isdir(server_env["PROMETHEUS_MULTIPROC_DIR"])
    assert "restarting" not in server.tail()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_stops_every_process_promptly_on_a_signal_to_it_alone(start_server, sig):
    server = start_server("serve")
    processes(server.process.pid)
    server.process.send_signal(sig)  # as a service manager does: the main process only
    deadline = time.monotonic() + STOP_LIMIT
    while group_alive(server.process.pid):
        assert time.monotonic() < deadline, f"still running:\n{server.tail()}"
        time.sleep(0.1)
    assert "restarting" not in server.tail() and "SIGKILL" not in server.tail()


def test_healthz_says_starting_not_down_until_the_new_scheduler_beats(server_env, tmp_path):
    import datetime as dt

    import requests

    from plugin.jobs import heartbeat
    from plugin.store.db import Store
    from plugin.store.migrate import upgrade
    from tests.web_server import WebServer

    store = Store(server_env["CANVAS_LADOK_DATABASE_URL"])
    upgrade(store)
    heartbeat.beat(store, dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))  # the last run's
    store.dispose()
    server = WebServer(server_env, tmp_path / "server.log", "serve")
    try:
        seen = []
        deadline = time.monotonic() + 60
        while not seen or seen[-1].get("status") != "ok":
            assert time.monotonic() < deadline, f"{seen[-3:]}\n{server.tail()}"
            try:
                seen.append(requests.get(f"{server.url}/healthz", timeout=5).json())
            except requests.RequestException:
                pass  # not listening yet, or slow on a busy machine
            time.sleep(0.05)
        assert {"status": "starting", "reason": "the scheduler process is starting"} in seen
        assert all(answer["status"] in ("starting", "ok") for answer in seen), seen
    finally:
        server.kill()
