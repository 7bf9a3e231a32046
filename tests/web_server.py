"""A real web server (`python -m plugin web`, gunicorn with the project's config) on loopback,
in a process group of its own."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

START_TIMEOUT = 30.0


def free_port() -> int:
    """A TCP port on loopback that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stat_fields(pid: int | str) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (the state first), or None
    once the process has ended or has been reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def running() -> Iterator[tuple[int, list[str]]]:
    """(pid, stat fields) of every process that is not a zombie awaiting its reaper."""
    for entry in Path("/proc").glob("[0-9]*"):
        fields = stat_fields(entry.name)
        if fields is not None and fields[0] != "Z":
            yield int(entry.name), fields


def group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs (zombies, awaiting their reaper, do not)."""
    if not Path("/proc").is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    return any(int(fields[2]) == pgid for _, fields in running())


def children(pid: int) -> list[tuple[int, str, int]]:
    """(pid, command line, nice value) of the processes whose parent is `pid`."""
    found = []
    for child, fields in running():
        if int(fields[1]) != pid:
            continue
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue  # ended while being looked at
        found.append((child, command, int(fields[16])))
    return found


class WebServer:
    """`python -m plugin web` (or `serve`) in a process group of its own, so kill -9 reaches
    every process."""

    def __init__(self, env: dict[str, str], log: Path, command: str = "web",
                 cwd: Path | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "plugin", command, "--bind", f"127.0.0.1:{self.port}"],
                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=cwd,
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
