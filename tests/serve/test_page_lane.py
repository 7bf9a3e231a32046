"""Staff pages are rendered by a lower-priority process beside each web worker; the webhook,
the API, forms and downloads are answered by the worker itself."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import time
from functools import partial

import pytest

from plugin import create_app
from plugin.demo.fill import fill_demo
from plugin.demo.live_events import grade_event
from plugin.serve import page_lane
from tests.conftest import ADMIN_TOKEN, WEBHOOK_TOKEN, sign_in
from tests.web_server import children, stat_fields

pytestmark = pytest.mark.slow  # every test starts render processes
CSRF = re.compile(r'name="csrf_token" value="[^"]+"')


def marked_app(settings):
    """The application, each answer saying which process gave it and at what nice value."""
    app = create_app({"SETTINGS": settings})

    @app.after_request
    def mark(response):
        response.headers["X-Process"] = f"{os.getpid()} {os.getpriority(os.PRIO_PROCESS, 0)}"
        return response

    return app


def answered_by(response) -> tuple[int, int]:
    pid, nice = response.headers["X-Process"].split()
    return int(pid), int(nice)


def lowered(nice: int) -> int:
    return min(nice + page_lane.NICE, 19)


@pytest.fixture
def laned(settings, store):
    """The served application (marked) with its render process; stopped at the end."""
    factory = partial(marked_app, settings)
    app = page_lane.with_page_lane(factory(), factory)
    yield app
    app.wsgi_app.close()
    app.extensions["canvas_ladok"].store.dispose()


@pytest.fixture
def demo(store, settings):
    return fill_demo(store, settings)


@pytest.mark.parametrize("path", ["/", "/courses/565", "/courses/565/students/1001"])
def test_staff_pages_are_rendered_by_a_lower_priority_process(laned, demo, settings, path):
    own_nice = os.getpriority(os.PRIO_PROCESS, 0)
    page = sign_in(laned.test_client(), {"kind": "admin"}).get(path)
    assert page.status_code == 200
    pid, nice = answered_by(page)
    assert pid != os.getpid()
    assert nice == lowered(own_nice)
    direct_app = marked_app(settings)
    direct = sign_in(direct_app.test_client(), {"kind": "admin"}).get(path)
    assert answered_by(direct)[0] == os.getpid()
    assert CSRF.sub("", page.text) == CSRF.sub("", direct.text)
    direct_app.extensions["canvas_ladok"].store.dispose()


def test_the_render_process_answers_sign_in_redirects_and_404_as_the_app_does(laned, demo):
    anonymous = laned.test_client().get("/courses/565")
    assert anonymous.status_code == 302
    assert anonymous.headers["Location"].startswith("/login?next=")
    scoped = sign_in(laned.test_client(), {"kind": "course", "course": 565})
    assert scoped.get("/courses/1279362").status_code == 404
    assert answered_by(scoped.get("/courses/565"))[0] != os.getpid()


def test_webhook_api_forms_and_downloads_are_answered_by_the_worker(laned, demo):
    client = sign_in(laned.test_client(), {"kind": "admin"})
    event = grade_event(565, 355, 1001, "A", dt.datetime(2025, 3, 1, 10, tzinfo=dt.UTC))
    delivered = client.post(f"/webhooks/canvas?token={WEBHOOK_TOKEN}", json=event)
    assert delivered.status_code == 202
    preview = client.get("/api/courses/565/preview",
                         headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/courses/565").text)
    form = client.post("/courses/565/resync", data={"csrf_token": csrf.group(1)})
    for response in (delivered, preview, client.get("/exports"), client.get("/healthz"), form):
        assert answered_by(response)[0] == os.getpid(), response.request.path


def test_a_render_process_that_dies_is_replaced_and_no_page_is_lost(laned, demo):
    client = sign_in(laned.test_client(), {"kind": "admin"})
    first, _ = answered_by(client.get("/courses/565"))
    os.kill(first, signal.SIGKILL)
    meanwhile = client.get("/courses/565")  # rendered by the worker while a new one starts
    assert meanwhile.status_code == 200
    later = client.get("/courses/565")
    assert later.status_code == 200
    assert answered_by(later)[0] not in (first, os.getpid())


def test_a_page_that_takes_too_long_answers_503(laned, demo, monkeypatch):
    client = sign_in(laned.test_client(), {"kind": "admin"})
    monkeypatch.setattr(page_lane, "RENDER_TIMEOUT", 0.0001)
    slow = client.get("/courses/565")
    assert slow.status_code == 503
    assert "try again" in slow.text


# --- the real server -----------------------------------------------------------------------


def render_processes(master: int, timeout: float = 30.0) -> dict[int, tuple[int, int]]:
    """worker pid -> (render process pid, its nice value), once every worker has a render
    process that has lowered its priority (it does so as it starts)."""
    deadline = time.monotonic() + timeout
    while True:
        workers = {pid: nice for pid, _, nice in children(master)}
        found = {worker: (pid, nice) for worker in workers
                 for pid, command, nice in children(worker)
                 if "spawn_main" in command and nice != workers[worker]}
        if workers and len(found) == len(workers):
            return found
        assert time.monotonic() < deadline, "no lowered render process beside every worker"
        time.sleep(0.1)


def gone(pid: int, timeout: float) -> bool:
    """Whether `pid` has ended (or is a zombie) within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while (fields := stat_fields(pid)) is not None and fields[0] != "Z":
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_each_worker_starts_a_lowered_render_process_that_ends_with_it(start_server):
    server = start_server()
    lanes = render_processes(server.process.pid)
    worker, (render, nice) = next(iter(lanes.items()))
    assert nice == lowered(os.getpriority(os.PRIO_PROCESS, worker))
    os.kill(worker, signal.SIGKILL)  # no chance to stop its pool
    assert gone(render, timeout=3 * page_lane.PARENT_CHECK + 5)
