"""Keep a child process (the scheduler under `serve`) running: restart it when it exits, and
kill and restart it when it hangs.

The child proves it is alive with systemd's watchdog message: `WATCHDOG=1` sent to the datagram
socket named in NOTIFY_SOCKET (`notify`, at each heartbeat it records). The supervisor listens
on a socket of its own, takes a message only from the pid the kernel says sent it, and counts
a child that sent none for `hang_after` seconds as hung: stopped, deadlocked or stuck.
"""

from __future__ import annotations

import logging
import os
import secrets
import select
import socket
import struct
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
CHECK_SECONDS = 1.0  # how often a watched child's silence is measured
WATCHDOG = b"WATCHDOG=1"
_UCRED = struct.Struct("iII")  # pid, uid, gid of a datagram's sender


def next_delay(previous: float | None, first: float = FIRST_DELAY,
               limit: float = MAX_DELAY) -> float:
    """The wait before the next restart: doubling from `first` up to `limit`."""
    return first if previous is None else min(previous * 2, limit)


def notify(state: str = WATCHDOG.decode()) -> None:
    """Send `state` to the supervisor named in NOTIFY_SOCKET, if any (the sd_notify protocol)."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(state.encode(), address)
    except OSError as exc:
        log.warning("could not tell the supervisor %s: %s", state, exc)


class Beats:
    """The supervisor's end of the watchdog messages: an abstract datagram socket that is
    told each sender's pid by the kernel (SO_PASSCRED), so no other process can speak for
    the child."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        name = f"canvas-ladok-supervisor-{os.getpid()}-{secrets.token_hex(8)}"
        self.sock.bind("\0" + name)
        self.address = "@" + name

    def heard_from(self, pid: int, timeout: float) -> bool:
        """Whether `pid` sent WATCHDOG=1 within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            if not select.select([self.sock], [], [], left)[0]:
                return False
            data, ancillary, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(_UCRED.size))
            senders = [_UCRED.unpack(cred[:_UCRED.size])[0]
                       for level, kind, cred in ancillary
                       if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS]
            if pid in senders and WATCHDOG in data.split(b"\n"):
                return True
        return False

    def close(self) -> None:
        self.sock.close()


class Supervisor:
    """Runs `command` in a thread of its own, restarting it with backoff until stopped; with
    `hang_after`, a child silent that long (no WATCHDOG=1) is killed and restarted too.
    `on_exit(status, what happened)` is called before each restart."""

    def __init__(self, command: Sequence[str], name: str = "scheduler",
                 on_exit: Callable[[int, str], None] | None = None,
                 first_delay: float = FIRST_DELAY, hang_after: float | None = None):
        self.command, self.name, self.on_exit = list(command), name, on_exit
        self.first_delay, self.hang_after = first_delay, hang_after
        self.restarts = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._beats = Beats() if hang_after else None
        self._thread = threading.Thread(target=self._run, name=f"{name}-supervisor",
                                        daemon=True)

    def start(self) -> None:
        """Start the child and watch it."""
        self._thread.start()

    def _spawn(self) -> subprocess.Popen | None:
        with self._lock:
            if self._stop.is_set():
                return None
            env = None if self._beats is None else {**os.environ,
                                                    "NOTIFY_SOCKET": self._beats.address}
            self._process = subprocess.Popen(self.command, env=env)
            return self._process

    def _wait(self, process: subprocess.Popen) -> tuple[int, str]:
        """The child's exit status and what happened: it exited, or it hung and was killed."""
        hung = threading.Event()
        watch = threading.Thread(target=self._watch, args=(process, hung), daemon=True,
                                 name=f"{self.name}-heartbeat")
        if self._beats is not None:
            watch.start()
        # Wait here, parked in waitpid, rather than polling: gunicorn's SIGCHLD handler in
        # this same process reaps any child it can, and a poll that loses the race to it
        # reads the lost status as 0.
        code = process.wait()
        if watch.is_alive():
            watch.join()  # within CHECK_SECONDS: the next child's heartbeats are its own
        if hung.is_set():
            return code, f"gave no heartbeat for {self.hang_after:.0f} s and was killed"
        return code, f"exited with status {code}"

    def _watch(self, process: subprocess.Popen, hung: threading.Event) -> None:
        """Kill `process` (setting `hung`) once it has sent no heartbeat for `hang_after`."""
        heard = time.monotonic()
        while process.returncode is None:
            if self._beats.heard_from(process.pid, CHECK_SECONDS):
                heard = time.monotonic()
            elif (time.monotonic() - heard > self.hang_after and process.returncode is None
                  and not self._stop.is_set()):
                log.warning("%s process (pid %s) gave no heartbeat for %.0f s: killing it",
                            self.name, process.pid, self.hang_after)
                hung.set()
                process.kill()  # SIGKILL: a stopped or deadlocked process ends too
                return

    def _run(self) -> None:
        delay = None
        while (process := self._spawn()) is not None:
            started = time.monotonic()
            code, what = self._wait(process)
            if self._stop.is_set():
                return
            if self.on_exit is not None:
                try:
                    self.on_exit(code, what)
                except Exception:  # reporting the exit must not stop the restarts
                    log.exception("%s exit could not be recorded", self.name)
            if time.monotonic() - started >= STABLE_SECONDS:
                delay = None
            delay = next_delay(delay, self.first_delay)
            log.warning("%s process %s: restarting in %.0f s (restart %d)",
                        self.name, what, delay, self.restarts + 1)
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
        if self._beats is not None:
            self._beats.close()
