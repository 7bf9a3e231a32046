"""One page render process: started at a lower priority, showing signs of life, and told
apart from a hung one.

The render process shares two numbers with its worker: the time of its latest sign of life
(a thread of its own writes it every BEAT seconds, so a page being drawn does not stop it) and
since when it has been drawing the current page. A process stopped, frozen or holding the
interpreter lock gives no sign of life; one stuck inside a page never finishes it. Either way
its worker kills it and starts another (page_lane.py).
"""

from __future__ import annotations

import io
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing import active_children, get_context
from typing import Any

from flask import Flask
from werkzeug.test import run_wsgi_app

NICE = 10  # added to the worker's nice value: about a tenth of the CPU when it is contested
BEAT = 0.5  # seconds between signs of life, and between checks that the worker still lives
HUNG_AFTER = 5.0  # seconds without a sign of life: hung
RENDER_LIMIT = 120.0  # seconds on one page: stuck (a cold 20,000-student course under load fits)
START_LIMIT = 60.0  # seconds a new process may take to import and build the application
ALIVE_AT, BUSY_SINCE = range(2)  # the shared numbers (time.monotonic(), system-wide)
_spawning = threading.Lock()  # one new render process at a time: each finds its own

_app: Flask | None = None  # the render process's application
_life: Any = None  # the render process's view of the shared numbers


def _start(factory: Callable[[], Flask], parent: int, life: Any) -> None:
    """Render process start: lower the priority, show signs of life, build the app."""
    global _app, _life
    os.nice(NICE)
    _life = life
    threading.Thread(target=_live, args=(parent, life), name="signs-of-life",
                     daemon=True).start()
    _app = factory()


def _live(parent: int, life: Any) -> None:
    """Write a sign of life every BEAT seconds; leave with the worker (a worker killed with
    SIGKILL cannot stop its pool)."""
    while os.getppid() == parent:
        life[ALIVE_AT] = time.monotonic()
        time.sleep(BEAT)
    os._exit(0)


def _render(environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    """One request through the render process's app: status, headers, body."""
    environ = dict(environ)
    environ.update({"wsgi.input": io.BytesIO(), "wsgi.errors": sys.stderr,
                    "wsgi.version": (1, 0), "wsgi.multithread": False,
                    "wsgi.multiprocess": True, "wsgi.run_once": False})
    _life[BUSY_SINCE] = time.monotonic()
    try:
        app_iter, status, headers = run_wsgi_app(_app, environ, buffered=True)
        try:
            body = b"".join(app_iter)
        finally:
            getattr(app_iter, "close", lambda: None)()
    finally:
        _life[BUSY_SINCE] = 0.0
    return status, list(headers.items()), body


class Renderer:
    """A render process seen from its worker: a pool of one, its process, and the numbers it
    shares. Started at once, not at the first page."""

    def __init__(self, factory: Callable[[], Flask]) -> None:
        context = get_context("spawn")
        self.life = context.RawArray("d", 2)
        self.born = time.monotonic()
        self.hung = False  # set when the worker kills it for hanging
        self.pool = ProcessPoolExecutor(1, mp_context=context, initializer=_start,
                                        initargs=(factory, os.getpid(), self.life))
        with _spawning:
            before = set(active_children())
            self.pool.submit(os.getpid)  # any call starts the process
            [self.process] = set(active_children()) - before

    @property
    def pid(self) -> int:
        return self.process.pid

    def submit(self, environ: dict[str, str]) -> Future:
        """Draw the page of `environ`; a future of (status, headers, body)."""
        return self.pool.submit(_render, environ)

    def exited(self) -> bool:
        """Whether the process has ended."""
        return not self.process.is_alive()

    def problem(self, now: float) -> str | None:
        """Why the process counts as hung at `now` (time.monotonic()), or None."""
        alive_at, busy_since = self.life[ALIVE_AT], self.life[BUSY_SINCE]
        if not alive_at:
            return (f"did not start within {START_LIMIT:.0f} s"
                    if now - self.born > START_LIMIT else None)
        if now - alive_at > HUNG_AFTER:
            return f"gave no sign of life for {now - alive_at:.0f} s"
        if busy_since and now - busy_since > RENDER_LIMIT:
            return f"spent over {RENDER_LIMIT:.0f} s on one page"
        return None

    def kill(self) -> None:
        """End it for hanging: the pages waiting for it fail."""
        self.hung = True
        self.close()

    def close(self) -> None:
        """End the process at once (SIGKILL ends a stopped or half-started process too): it
        holds nothing but its cache."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.process.kill()  # a no-op once the process has been reaped: never another's pid
