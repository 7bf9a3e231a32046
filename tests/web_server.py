"""A real web server (`python -m plugin web`, gunicorn with the project's config) on loopback,
in a process group of its own."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

START_TIMEOUT = 30.0


def free_port() -> int:
    """A TCP port on loopback that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs (zombies, awaiting their reaper, do not)."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended while being looked at
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def children(pid: int) -> list[tuple[int, str, int]]:
    """(pid, command line, nice value) of the processes whose parent is `pid`."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError):
            continue  # ended while being looked at
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append((int(stat.parent.name), command, int(fields[16])))
    return found


class WebServer:
    """`python -m plugin web` (or `serve`) in a process group of its own, so kill -9 reaches
    every process."""

    def __init__(self, env: dict[str, str], log: Path, command: str = "web") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "plugin", command, "--bind", f"127.0.0.1:{self.port}"],
                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )

    def wait_ready(self) -> None:
        """Return once /healthz answers 200; fail with the server's log otherwise."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"server exited {self.process.returncode}:\n{self.tail()}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.kill()
        pytest.fail(f"server not ready in {START_TIMEOUT}s:\n{self.tail()}")

    def kill(self) -> None:
        """SIGKILL the master and all its workers at once; wait until the group is gone."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while group_alive(self.process.pid) and time.monotonic() < deadline:
            time.sleep(0.02)

    def tail(self) -> str:
        """The end of the server's log."""
        return self.log.read_text(errors="replace")[-3000:]
