"""Staff pages never hold Canvas's deliveries back: with one page renderer hung (SIGSTOP, as a
hung one would be) while people load course pages, webhook deliveries and /healthz on fresh
connections are answered at their usual pace, the hung renderer is replaced, and /healthz
says so."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import threading
import time

import pytest
import requests

from plugin.demo.fill import fill_demo
from plugin.demo.live_events import grade_event
from tests.conftest import ADMIN_TOKEN, SECRET_KEY, WEBHOOK_TOKEN
from tests.web_server import gone, render_processes

pytestmark = [pytest.mark.slow,
              pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]
ANSWER_WITHIN = 2.0  # seconds, for each delivery and each health probe
READERS = 8
DELIVERIES, PROBES = 20, 10
PAGE = "/courses/565"
CLOSE = {"Connection": "close"}  # every delivery and probe on a connection of its own


def signed_in(url: str) -> requests.cookies.RequestsCookieJar:
    """The cookies of an administrator session, signed in through /login."""
    session = requests.Session()
    form = session.get(f"{url}/login", timeout=10)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    answer = session.post(f"{url}/login", data={"token": ADMIN_TOKEN, "csrf_token": csrf},
                          allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    return session.cookies


class Readers:
    """People loading the course page again and again, each load on a new connection (so
    each lands on whichever worker accepts it), waiting for each as a browser would."""

    def __init__(self, url: str, cookies, count: int) -> None:
        self.url, self.cookies, self.stop = url, cookies, threading.Event()
        self.answers: list[tuple[float, int | str]] = []  # (seconds, status or error)
        self.threads = [threading.Thread(target=self._read, daemon=True) for _ in range(count)]
        for thread in self.threads:
            thread.start()

    def _read(self) -> None:
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                outcome = requests.get(self.url + PAGE, cookies=self.cookies, headers=CLOSE,
                                       timeout=60).status_code
            except requests.RequestException as exc:
                outcome = type(exc).__name__
            self.answers.append((time.monotonic() - started, outcome))

    def finish(self) -> list[tuple[float, int | str]]:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=5)
        return self.answers


def timed(method: str, url: str, **kwargs) -> tuple[float, requests.Response | None]:
    """(seconds, response) of one request on a fresh connection; None when it failed."""
    started = time.monotonic()
    try:
        response = requests.request(method, url, headers=CLOSE, timeout=10, **kwargs)
    except requests.RequestException:
        response = None
    return time.monotonic() - started, response


@pytest.fixture
def page_server(start_server, server_env, store, settings):
    """`canvas-ladok web` with the demo course and the pages switched on."""
    fill_demo(store, settings)
    server_env.update({"CANVAS_LADOK_SECRET_KEY": SECRET_KEY,
                       "CANVAS_LADOK_ADMIN_TOKENS": ADMIN_TOKEN})
    return start_server()


def test_a_hung_renderer_holds_back_no_delivery_or_health_probe_and_is_replaced(page_server):
    server = page_server
    cookies = signed_in(server.url)
    assert requests.get(server.url + PAGE, cookies=cookies, timeout=30).status_code == 200
    worker, (hung, _) = next(iter(render_processes(server.process.pid).items()))
    os.kill(hung, signal.SIGSTOP)
    readers = Readers(server.url, cookies, READERS)
    try:
        time.sleep(2)  # the readers' loads pile up on the hung renderer's worker
        deliveries, probes = [], []
        for n in range(DELIVERIES + PROBES):
            if n % 3 == 2:
                probes.append(timed("GET", f"{server.url}/healthz"))
            else:
                event = grade_event(565, 355, 2000 + n, "G", dt.datetime.now(dt.UTC))
                deliveries.append(timed("POST", f"{server.url}/webhooks/canvas",
                                        params={"token": WEBHOOK_TOKEN}, json=event))
            time.sleep(0.3)
        replaced = gone(hung, timeout=10)
        after = [timed("GET", f"{server.url}/healthz")[1] for _ in range(4)]
    finally:
        answers = readers.finish()
        if not gone(hung, 0):
            os.kill(hung, signal.SIGCONT)

    slow = [(round(s, 1), r.status_code if r is not None else "no answer")
            for s, r in deliveries + probes
            if s > ANSWER_WITHIN or r is None or r.status_code not in (200, 202)]
    assert not slow, f"deliveries or probes late or failed: {slow}\n{server.tail()}"
    assert len(deliveries) == DELIVERIES and len(probes) == PROBES
    assert replaced, "the hung renderer was not killed"
    for response in after:  # every worker reports it, whichever one answers
        body = response.json()
        assert body["status"] == "degraded" and "page renderer" in body["reason"], body
    said = [r.json() for _, r in probes]
    assert said[-1]["status"] == "degraded", said
    # Page loads were answered (a page, or 503 at once) and never held a reader for long.
    odd = [answer for answer in answers if answer[1] not in (200, 503)]
    assert answers and not odd, odd
    assert max(seconds for seconds, _ in answers) < 15, answers
    metrics = requests.get(f"{server.url}/metrics", timeout=10).text
    assert 'canvas_ladok_page_renderers_replaced_total{reason="hung"} 1.0' in metrics
    new = render_processes(server.process.pid)[worker][0]
    assert new != hung
    assert requests.get(server.url + PAGE, cookies=cookies, timeout=30).status_code == 200
