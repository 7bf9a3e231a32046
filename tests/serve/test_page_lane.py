"""Staff pages are rendered by a lower-priority process beside each web worker; the webhook,
the API, forms and downloads are answered by the worker itself."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import pytest

from plugin import create_app
from plugin.demo.fill import fill_demo
from plugin.demo.live_events import grade_event
from plugin.serve import page_lane, page_renderer
from tests.conftest import ADMIN_TOKEN, WEBHOOK_TOKEN, sign_in
from tests.web_server import gone, render_processes

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
    return min(nice + page_renderer.NICE, 19)


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
    monkeypatch.setattr(page_lane, "PAGE_WAIT", 0.0001)
    slow = client.get("/courses/565")
    assert slow.status_code == 503
    assert "try again" in slow.text


# --- the real server -----------------------------------------------------------------------


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_each_worker_starts_a_lowered_render_process_that_ends_with_it(start_server):
    server = start_server()
    lanes = render_processes(server.process.pid)
    worker, (render, nice) = next(iter(lanes.items()))
    assert nice == lowered(os.getpriority(os.PRIO_PROCESS, worker))
    os.kill(worker, signal.SIGKILL)  # no chance to stop its pool
    assert gone(render, timeout=3 * page_renderer.BEAT + 5)


# --- a hung render process -------------------------------------------------------------------


@pytest.fixture
def quick_watch(monkeypatch):
    """A render process counts as hung after 2 s without a sign of life (5 s in service)."""
    monkeypatch.setattr(page_renderer, "HUNG_AFTER", 2.0)


def load(app, path: str = "/courses/565", **headers):
    return sign_in(app.test_client(), {"kind": "admin"}).get(path, headers=headers)


def test_pages_beyond_the_bound_answer_503_at_once_and_a_hung_renderer_is_replaced(
        laned, demo, quick_watch):
    hung, _ = answered_by(load(laned))
    os.kill(hung, signal.SIGSTOP)
    extra = 3
    try:
        with ThreadPoolExecutor(page_lane.WAITING + extra) as pool:
            loads = [pool.submit(load, laned) for _ in range(page_lane.WAITING + extra)]
            answers = [future.result(timeout=60) for future in loads]
    finally:
        if not gone(hung, 0):
            os.kill(hung, signal.SIGCONT)
    assert [a.status_code for a in answers] == [503] * len(answers)
    assert all(a.headers["Retry-After"] == str(page_lane.RETRY_AFTER) for a in answers)
    busy = [a for a in answers if "Many pages are being prepared" in a.text]
    late = [a for a in answers if "could not be prepared in time" in a.text]
    assert (len(busy), len(late)) == (extra, page_lane.WAITING)
    assert gone(hung, timeout=5)
    health = laned.test_client().get("/healthz").json
    assert health["status"] == "degraded"
    assert re.search(r"a page renderer hung \(gave no sign of life for \d+ s\) and was "
                     r"replaced at \d\d:\d\d:\d\d UTC", health["reason"]), health
    again = load(laned)
    assert again.status_code == 200 and answered_by(again)[0] not in (hung, os.getpid())


def test_the_503_page_speaks_the_visitors_language(laned, demo, monkeypatch):
    monkeypatch.setattr(page_lane, "PAGE_WAIT", 0.0001)
    answer = load(laned, **{"Accept-Language": "sv"})
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
    assert "Sidan kunde inte förberedas i tid" in answer.text
    assert answer.headers["Content-Security-Policy"].startswith("default-src 'self'")


def test_a_render_process_stuck_on_one_page_counts_as_hung(laned):
    renderer = laned.wsgi_app._current()
    now = time.monotonic()
    assert renderer.problem(now) is None or not renderer.pid  # starting, or alive and idle
    renderer.life[page_renderer.ALIVE_AT] = now
    renderer.life[page_renderer.BUSY_SINCE] = now - page_renderer.RENDER_LIMIT - 1
    assert renderer.problem(now) == "spent over 120 s on one page"
    renderer.life[page_renderer.BUSY_SINCE] = 0.0
    renderer.life[page_renderer.ALIVE_AT] = now - page_renderer.HUNG_AFTER - 1
    assert renderer.problem(now) == "gave no sign of life for 6 s"


def test_healthz_reports_a_replaced_renderer_for_five_minutes(client, store):
    from plugin.jobs import heartbeat
    from plugin.web.health import note_renderer_hung

    heartbeat.beat(store)
    assert client.get("/healthz").json == {"status": "ok"}
    now = dt.datetime.now(dt.UTC)
    note_renderer_hung(store, "gave no sign of life for 5 s", now - dt.timedelta(minutes=4))
    body = client.get("/healthz").json
    assert body["status"] == "degraded"
    assert body["reason"].startswith("a page renderer hung (gave no sign of life for 5 s)")
    note_renderer_hung(store, "gave no sign of life for 5 s", now - dt.timedelta(minutes=6))
    assert client.get("/healthz").json == {"status": "ok"}
