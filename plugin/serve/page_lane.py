"""Staff pages rendered in a lower-priority process beside each web worker.

A course page of a large course costs milliseconds of CPU per view, a webhook delivery a
fraction of one, and under load both want the same cores. Each worker hands GET and HEAD
requests for the staff pages (LANE_ENDPOINTS) to its own render process, started at nice
NICE, and answers with what comes back; the webhook, the JSON API, sign-in, forms and
downloads stay in the worker at normal priority. When CPU is short the kernel gives it to
the webhook first: Canvas's deliveries keep their pace and a page takes a little longer.
Threads in the same process could not do this: the interpreter lock would make a webhook
thread wait for a page thread the kernel had put aside.

The render process builds the same application from a picklable factory and keeps its own
cache of course views. If it dies, the request is rendered in the worker and a new render
process is started for the next one.
"""

from __future__ import annotations

import io
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, TimeoutError
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import Any

from flask import Flask
from werkzeug.exceptions import HTTPException, ServiceUnavailable
from werkzeug.routing import RequestRedirect
from werkzeug.test import run_wsgi_app

log = logging.getLogger(__name__)

NICE = 10  # added to the worker's nice value: about a tenth of the CPU when it is contested
LANE_ENDPOINTS = frozenset({"overview.index", "overview.course", "overview.student"})
RENDER_TIMEOUT = 120.0  # seconds; a cold 20,000-student course under full load fits
PARENT_CHECK = 2.0  # seconds between the render process's checks that its worker lives

_app: Flask | None = None  # the render process's application


def _start(factory: Callable[[], Flask], parent: int) -> None:
    """Render process start: lower the priority, build the app, leave with the worker."""
    global _app
    os.nice(NICE)
    _app = factory()

    def watch() -> None:  # a worker killed with SIGKILL cannot stop its pool
        while os.getppid() == parent:
            threading.Event().wait(PARENT_CHECK)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _render(environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    """One request through the render process's app: status, headers, body."""
    environ = dict(environ)
    environ.update({"wsgi.input": io.BytesIO(), "wsgi.errors": sys.stderr,
                    "wsgi.version": (1, 0), "wsgi.multithread": False,
                    "wsgi.multiprocess": True, "wsgi.run_once": False})
    app_iter, status, headers = run_wsgi_app(_app, environ, buffered=True)
    try:
        body = b"".join(app_iter)
    finally:
        getattr(app_iter, "close", lambda: None)()
    return status, list(headers.items()), body


class PageLane:
    """WSGI middleware sending staff page views to the render process."""

    def __init__(self, app: Flask, factory: Callable[[], Flask]) -> None:
        self.app, self.inner, self.factory = app, app.wsgi_app, factory
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the render process now rather than at the first page."""
        self._executor().submit(os.getpid)  # any call starts the process

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    1, mp_context=get_context("spawn"), initializer=_start,
                    initargs=(self.factory, os.getpid()))
            return self._pool

    def _restart(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is broken:
                self._pool = None
        broken.shutdown(wait=False, cancel_futures=True)

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
        plain = {k: v for k, v in environ.items() if isinstance(v, str)}
        pool = self._executor()
        try:
            status, headers, body = pool.submit(_render, plain).result(RENDER_TIMEOUT)
        except BrokenProcessPool:
            log.warning("the page render process stopped; rendering here and starting another")
            self._restart(pool)
            return self.inner(environ, start_response)
        except TimeoutError:
            busy = ServiceUnavailable("The page is taking long to prepare; try again shortly.")
            return busy(environ, start_response)
        start_response(status, headers)
        return [body]

    def close(self) -> None:
        """Stop the render process."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


def with_page_lane(app: Flask, factory: Callable[[], Flask]) -> Flask:
    """`app` with its staff pages rendered by `factory`'s app in a render process."""
    lane = PageLane(app, factory)
    app.wsgi_app = lane
    lane.start()
    return app
