"""Staff pages rendered in a lower-priority process beside each web worker.

A course page of a large course costs milliseconds of CPU per view, a webhook delivery a
fraction of one, and under load both want the same cores. Each worker hands GET and HEAD
requests for the staff pages (LANE_ENDPOINTS) to its own render process, started at nice
+10 (page_renderer.py), and answers with what comes back; the webhook, the JSON API,
sign-in, forms and downloads stay in the worker at normal priority. When CPU is short the
kernel gives it to the webhook first: Canvas's deliveries keep their pace and a page takes a
little longer. Threads in the same process could not do this: the interpreter lock would make
a webhook thread wait for a page thread the kernel had put aside.

Pages never take a worker's threads from the webhook and /healthz: at most WAITING page
requests wait for the render process at a time (the rest answer 503 at once), none waits
longer than PAGE_WAIT, and a watch thread kills a render process that hangs and starts
another, records it for /healthz and counts it. A render process that dies by itself is
replaced at the next page, and the request it had is rendered in the worker.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from concurrent.futures import CancelledError, TimeoutError
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from flask import Flask, render_template
from flask_babel import gettext
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from plugin import metrics
from plugin.serve import gunicorn_conf
from plugin.serve.page_renderer import BEAT, Renderer

log = logging.getLogger(__name__)

LANE_ENDPOINTS = frozenset({"pages.index", "pages.course", "pages.student"})
# Page requests a worker lets wait for its render process at once: half its threads, so the
# other half always serve deliveries and health probes whatever people do.
WAITING = max(1, gunicorn_conf.threads // 2)
PAGE_WAIT = 15.0  # seconds; the page then answers 503 (its drawing goes on and is cached)
RETRY_AFTER = 5  # seconds, in a 503's Retry-After
WATCH_EVERY = 2 * BEAT


_lanes: weakref.WeakSet[PageLane] = weakref.WeakSet()  # this process's, for close_all


class PageLane:
    """WSGI middleware sending staff page views to the render process."""

    def __init__(self, app: Flask, factory: Callable[[], Flask]) -> None:
        self.app, self.inner, self.factory = app, app.wsgi_app, factory
        self._renderer: Renderer | None = None
        self._lock = threading.Lock()
        self._waiting = threading.BoundedSemaphore(WAITING)
        self._closed = threading.Event()
        _lanes.add(self)

    def start(self) -> None:
        """Start the render process now rather than at the first page, and watch it."""
        self._current()
        threading.Thread(target=self._watch, name="renderer-watch", daemon=True).start()

    def _current(self) -> Renderer:
        with self._lock:
            if self._renderer is None:
                self._renderer = Renderer(self.factory)
            return self._renderer

    def _replace(self, old: Renderer, start: bool) -> bool:
        """Drop `old`, and start its successor now if `start` (else at the next page); False
        when another thread already did."""
        with self._lock:
            current = self._renderer is old
            if current:
                self._renderer = (Renderer(self.factory)
                                  if start and not self._closed.is_set() else None)
        old.close()
        return current

    def _watch(self) -> None:
        while not self._closed.wait(WATCH_EVERY):
            renderer = self._renderer
            if renderer is None:
                continue
            if renderer.exited():
                self._replace_died(renderer)
            elif why := renderer.problem(time.monotonic()):
                self._replace_hung(renderer, why)

    def _replace_died(self, renderer: Renderer) -> None:
        # The successor starts at the next page: one that cannot start is not started again
        # and again while nobody asks for a page.
        if self._replace(renderer, start=False):
            log.warning("the page render process stopped; starting another")
            metrics.RENDERERS_REPLACED.labels("died").inc()

    def _replace_hung(self, renderer: Renderer, why: str) -> None:
        """Kill a hung render process, start another, and report it."""
        from plugin.web.health import note_renderer_hung

        log.warning("the page render process (pid %s) %s: killing it and starting another",
                    renderer.pid, why)
        renderer.kill()
        if not self._replace(renderer, start=True):
            return
        metrics.RENDERERS_REPLACED.labels("hung").inc()
        note_renderer_hung(self.app.extensions["canvas_ladok"].store, why)

    def for_lane(self, environ: dict[str, Any]) -> bool:
        """Whether the request is a staff page view."""
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return False
        try:
            endpoint, _ = self.app.url_map.bind_to_environ(environ).match()
        except (HTTPException, RequestRedirect):
            return False
        return endpoint in LANE_ENDPOINTS

    def __call__(self, environ: dict[str, Any], start_response) -> Iterable[bytes]:
        if not self.for_lane(environ):
            return self.inner(environ, start_response)
        if not self._waiting.acquire(blocking=False):
            return self._unavailable(environ, start_response, busy=True)
        try:
            return self._render(environ, start_response)
        finally:
            self._waiting.release()

    def _render(self, environ: dict[str, Any], start_response) -> Iterable[bytes]:
        renderer = self._current()
        plain = {k: v for k, v in environ.items() if isinstance(v, str)}
        future = None
        try:
            future = renderer.submit(plain)
            status, headers, body = future.result(PAGE_WAIT)
        except BrokenProcessPool:
            if renderer.hung:  # killed by the watch: the page may be what hangs it
                return self._unavailable(environ, start_response)
            self._replace_died(renderer)
            return self.inner(environ, start_response)  # this page is drawn here
        except TimeoutError:
            future.cancel()  # if still queued; a page being drawn is finished and cached
            return self._unavailable(environ, start_response)
        except (CancelledError, RuntimeError):  # still queued, or shut down, when replaced
            return self._unavailable(environ, start_response)
        start_response(status, headers)
        return [body]

    def _unavailable(self, environ: dict[str, Any], start_response,
                     busy: bool = False) -> Iterable[bytes]:
        """503 with Retry-After, as the error page in the visitor's language."""
        with self.app.request_context(environ):
            message = (gettext("Many pages are being prepared right now: try again in a few "
                               "seconds.") if busy else
                       gettext("The page could not be prepared in time: try again in a few "
                               "seconds."))
            page = render_template("error.html", code=503, message=message)
            response = self.app.finalize_request(
                (page, 503, {"Retry-After": str(RETRY_AFTER)}))
        return response(environ, start_response)

    def close(self) -> None:
        """Stop watching and end the render process."""
        self._closed.set()
        with self._lock:
            renderer, self._renderer = self._renderer, None
        if renderer is not None:
            renderer.close()


def close_all() -> None:
    """Stop every render process of this process (a web worker leaving)."""
    for lane in list(_lanes):
        lane.close()


def with_page_lane(app: Flask, factory: Callable[[], Flask]) -> Flask:
    """`app` with its staff pages rendered by `factory`'s app in a render process."""
    lane = PageLane(app, factory)
    app.wsgi_app = lane
    lane.start()
    return app
