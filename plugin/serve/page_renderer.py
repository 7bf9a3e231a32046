"""One page render process: started at a lower priority, showing signs of life, and told
apart from a hung one.

The render process shares three numbers with its worker: its pid, the time of its latest sign
of life (a thread of its own writes it every BEAT seconds, so a page being drawn does not stop
it) and since when it has been drawing the current page. A process stopped, frozen or holding
the interpreter lock gives no sign of life; one stuck inside a page never finishes it. Either
way its worker kills it and starts another (page_lane.py).
"""

from __future__ import annotations

import io
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.test import run_wsgi_app

NICE = 10  # added to the worker's nice value: about a tenth of the CPU when it is contested
BEAT = 0.5  # seconds between signs of life, and between checks that the worker still lives
HUNG_AFTER = 5.0  # seconds without a sign of life: hung
RENDER_LIMIT = 120.0  # seconds on one page: stuck (a cold 20,000-student course under load fits)
START_LIMIT = 60.0  # seconds a new process may take to import and build the application
PID, ALIVE_AT, BUSY_SINCE = range(3)  # the shared numbers (time.monotonic(), system-wide)

_app: Flask | None = None  # the render process's application
_life: Any = None  # the render process's view of the shared numbers


def _start(factory: Callable[[], Flask], parent: int, life: Any) -> None:
    """Render process start: lower the priority, show signs of life, build the app."""
    global _app, _life
    os.nice(NICE)
    _life = life
    life[PID] = os.getpid()
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


def _is_child(pid: int) -> bool:
    """Whether `pid` is a live child of this process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return False
    return fields[0] != "Z" and int(fields[1]) == os.getpid()


class Renderer:
    """A render process seen from its worker: a pool of one, and the numbers it shares."""

    def __init__(self, factory: Callable[[], Flask]) -> None:
        context = get_context("spawn")
        self.life = context.RawArray("d", 3)
        self.born = time.monotonic()
        self.hung = False  # set when the worker kills it for hanging
        self._pidfd: int | None = None  # once the pid is known: signals reach it and no other
        self._lock = threading.Lock()
        self.pool = ProcessPoolExecutor(1, mp_context=context, initializer=_start,
                                        initargs=(factory, os.getpid(), self.life))
        self.pool.submit(os.getpid)  # any call starts the process now, not at the first page

    @property
    def pid(self) -> int:
        """The render process's pid, 0 until it has started."""
        return int(self.life[PID])

    def submit(self, environ: dict[str, str]) -> Future:
        """Draw the page of `environ`; a future of (status, headers, body)."""
        return self.pool.submit(_render, environ)

    def _handle(self) -> int | None:
        """The process's pidfd (-1 once it is gone or closed), None before it has started."""
        if self._pidfd is None and self.pid:
            try:
                self._pidfd = os.pidfd_open(self.pid)
            except ProcessLookupError:
                self._pidfd = -1
            else:
                if not _is_child(self.pid):  # it ended and its pid went to another process
                    os.close(self._pidfd)
                    self._pidfd = -1
        return self._pidfd

    def exited(self) -> bool:
        """Whether the process has ended."""
        with self._lock:
            handle = self._handle()
            return handle == -1 or (handle is not None
                                    and bool(select.select([handle], [], [], 0)[0]))

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
        """End the process at once (SIGKILL ends a stopped process too); waiting pages fail."""
        self.hung = True
        with self._lock:
            handle = self._handle()
            if handle is not None and handle >= 0:
                try:
                    signal.pidfd_send_signal(handle, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.close()

    def close(self) -> None:
        """Let the process finish what it has and leave."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            if self._pidfd is not None and self._pidfd >= 0:
                os.close(self._pidfd)
            self._pidfd = -1
