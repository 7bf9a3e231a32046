"""Keep a child process (the scheduler under `serve`) running: restart it when it exits."""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from collections.abc import Callable, Sequence

log = logging.getLogger(__name__)
FIRST_DELAY = 1.0
MAX_DELAY = 60.0
# A child that ran this long before exiting was healthy: its next restart waits FIRST_DELAY.
STABLE_SECONDS = 300.0
STOP_SECONDS = 20


def next_delay(previous: float | None, first: float = FIRST_DELAY,
               limit: float = MAX_DELAY) -> float:
    """The wait before the next restart: doubling from `first` up to `limit`."""
    return first if previous is None else min(previous * 2, limit)


class Supervisor:
    """Runs `command` in a thread of its own, restarting it with backoff until stopped."""

    def __init__(self, command: Sequence[str], name: str = "scheduler",
                 on_exit: Callable[[int], None] | None = None, first_delay: float = FIRST_DELAY):
        self.command, self.name, self.on_exit = list(command), name, on_exit
        self.first_delay = first_delay
        self.restarts = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._thread = threading.Thread(target=self._run, name=f"{name}-supervisor",
                                        daemon=True)

    def start(self) -> None:
        """Start the child and watch it."""
        self._thread.start()

    def _spawn(self) -> subprocess.Popen | None:
        with self._lock:
            if self._stop.is_set():
                return None
            self._process = subprocess.Popen(self.command)
            return self._process

    def _run(self) -> None:
        delay = None
        while (process := self._spawn()) is not None:
            started = time.monotonic()
            code = process.wait()
            if self._stop.is_set():
                return
            if self.on_exit is not None:
                try:
                    self.on_exit(code)
                except Exception:  # reporting the exit must not stop the restarts
                    log.exception("%s exit could not be recorded", self.name)
            if time.monotonic() - started >= STABLE_SECONDS:
                delay = None
            delay = next_delay(delay, self.first_delay)
            log.warning("%s process exited with status %s: restarting in %.0f s (restart %d)",
                        self.name, code, delay, self.restarts + 1)
            if self._stop.wait(delay):
                return
            self.restarts += 1

    def stop(self) -> None:
        """Stop restarting; end the child (SIGTERM, then SIGKILL after STOP_SECONDS)."""
        with self._lock:
            self._stop.set()
            process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._thread.is_alive():
            self._thread.join(timeout=STOP_SECONDS)
