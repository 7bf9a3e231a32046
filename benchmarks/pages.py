"""Pages benchmark: the course page of a 2,000-student course against the JSON preview, and
webhook throughput while people load course pages.

1. In one process, on one temporary SQLite file holding the demo course with --students
   students (a term of events posted through the inbox and applied): GET /courses/565 as a
   signed-in administrator against GET /api/courses/565/preview, alternating, --rounds times;
   prints each one's median time and the ratio (target <= 1.5).
2. The served app (`canvas-ladok web`: gunicorn with the project's settings, each worker with
   its page renderer) on loopback, on the same database. First --readers clients load the
   course page for --seconds, so each renderer has computed the course once (a cold
   2,000-student course is a second of CPU at low priority). Then webhook throughput (unique
   signed grade events, the ingest benchmark's load generator) alone, and while --readers
   clients load the course page without pause over keep-alive connections; alternating,
   --rounds times; prints events/s of each, the pages loaded and their median time, and the
   median ratio (target >= 0.8).

    python benchmarks/pages.py [--students 2000] [--rounds 5] [--seconds 6]
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import socket
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import ingest  # noqa: E402  (the ingest benchmark's server and load generator)
from demo_config import demo_config  # noqa: E402

COURSE = 565
ADMIN_TOKEN = "bench-admin-token"


def fill(settings, students: int) -> None:
    """The demo term for `students` students, stored and applied."""
    from plugin.canvas.events import parse
    from plugin.cli import open_store
    from plugin.demo.simulate import demo_term
    from plugin.intake.apply import apply_pending
    from plugin.intake.inbox import GroupCommit

    store = open_store(settings)
    inbox = GroupCommit(store, settings)
    for event in demo_term(COURSE, students):
        inbox.submit(parse(event), None)
    apply_pending(store)
    store.dispose()


def timed(client, path: str, **kwargs) -> float:
    started = time.perf_counter()
    response = client.get(path, **kwargs)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        sys.exit(f"{path} answered {response.status_code}")
    return elapsed


def page_against_preview(settings, rounds: int) -> None:
    """Part 1: the course page's time against the JSON preview's, side by side."""
    from plugin import create_app

    app = create_app({"SETTINGS": settings})
    client = app.test_client()
    client.set_cookie("session", session_cookie(settings))
    bearer = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    timed(client, f"/courses/{COURSE}")  # warm-up: templates compiled, caches filled
    timed(client, f"/api/courses/{COURSE}/preview", headers=bearer)
    pages, previews = [], []
    for _ in range(rounds):
        pages.append(timed(client, f"/courses/{COURSE}"))
        previews.append(timed(client, f"/api/courses/{COURSE}/preview", headers=bearer))
    page, preview = statistics.median(pages), statistics.median(previews)
    for name, median, times in (("course page", page, pages), ("JSON preview", preview, previews)):
        each = ", ".join(f"{x * 1000:.0f}" for x in times)
        print(f"{name:<13} median {median * 1000:8.1f} ms  ({each})")
    print(f"ratio page / preview {page / preview:.2f} (target <= 1.5)")
    app.extensions["canvas_ladok"].store.dispose()


def session_cookie(settings) -> str:
    """An administrator session's signed cookie, started as /login starts one."""
    from flask import session

    from plugin import create_app
    from plugin.web.access import start_session

    app = create_app({"SETTINGS": settings})
    with app.test_request_context("/"):
        start_session({"kind": "admin"}, "benchmark", token=ADMIN_TOKEN)
        cookie = app.session_interface.get_signing_serializer(app).dumps(dict(session))
    app.extensions["canvas_ladok"].store.dispose()
    return cookie


class Readers:
    """`count` threads loading the course page without pause until stopped."""

    def __init__(self, port: int, cookie: str, count: int) -> None:
        self.port, self.path = port, f"/courses/{COURSE}"
        self.cookie, self.stop = cookie, threading.Event()
        self.times: list[float] = []  # seconds per page answered 200
        self.threads = [threading.Thread(target=self._read, daemon=True) for _ in range(count)]
        for thread in self.threads:
            thread.start()

    def _read(self) -> None:
        # Raw keep-alive HTTP, as the webhook load generator speaks: the client's own CPU per
        # page stays small, so it takes little from the load generator beside it.
        request = (f"GET {self.path} HTTP/1.1\r\nHost: {ingest.HOST}\r\n"
                   f"Cookie: session={self.cookie}\r\n\r\n").encode()
        sock = None
        while not self.stop.is_set():
            if sock is None:
                sock, buffer = socket.create_connection((ingest.HOST, self.port), 120), bytearray()
            started = time.perf_counter()
            sock.sendall(request)
            response = ingest.read_response(sock, buffer)
            if response.status == 200:
                self.times.append(time.perf_counter() - started)
            if response.closing:
                sock.close()
                sock = None
        if sock is not None:
            sock.close()

    def finish(self) -> list[float]:
        """Stop the readers; the page times they saw."""
        self.stop.set()
        for thread in self.threads:
            thread.join()
        return self.times


def webhook_under_reads(env: dict[str, str], cookie: str, args) -> None:
    """Part 2: webhook events/s alone and while readers load course pages."""
    secret = env["CANVAS_LADOK_WEBHOOK_SECRET"]
    server = ingest.Server("real", env)
    ratios = []
    try:
        probe = ingest.Signer(secret, server.port).request(
            f"msg_probe_{time.time_ns()}", ingest.grade_event(1, datetime.now(UTC)))
        server.wait_ready(probe)
        warm = Readers(server.port, cookie, args.readers)  # each worker's render process
        time.sleep(args.seconds)                           # computes the course view once
        print(f"warm-up: {len(warm.finish())} course pages loaded in {args.seconds:.0f} s")
        for round_no in range(1, args.rounds + 1):
            alone = ingest.python_load(server.port, secret, args.seconds, args.connections,
                                       1, 2 * round_no)
            readers = Readers(server.port, cookie, args.readers)
            busy = ingest.python_load(server.port, secret, args.seconds, args.connections,
                                      1, 2 * round_no + 1)
            pages = readers.finish()
            ratio = busy.events_per_second / alone.events_per_second
            ratios.append(ratio)
            page_ms = statistics.median(pages) * 1000 if pages else float("nan")
            p90_ms = statistics.quantiles(pages, n=10)[-1] * 1000 if len(pages) > 1 else page_ms
            print(f"round {round_no}: webhook alone {alone.events_per_second:7.0f} events/s; "
                  f"with {args.readers} page readers {busy.events_per_second:7.0f} events/s "
                  f"(p99 {busy.p99_ms:.1f} ms); {len(pages)} course pages loaded, "
                  f"median {page_ms:.0f} ms, p90 {p90_ms:.0f} ms; ratio {ratio:.2f}")
    finally:
        server.stop()
    print(f"webhook with readers / alone: median {statistics.median(ratios):.2f} "
          f"(target >= 0.8)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--connections", type=int, default=4, help="webhook connections")
    parser.add_argument("--readers", type=int, default=4, help="clients loading course pages")
    args = parser.parse_args()

    from plugin.settings import load_settings

    with tempfile.TemporaryDirectory(prefix="canvas-ladok-pages-") as tmp_name:
        tmp = Path(tmp_name)
        config = demo_config(tmp / "canvas-ladok.toml")  # maps assignment 355 to kmom01
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("CANVAS_LADOK_") and k != "PROMETHEUS_MULTIPROC_DIR"}
        env.update({
            "CANVAS_LADOK_CONFIG": str(config),
            "CANVAS_LADOK_DATABASE_URL": f"sqlite:///{tmp / 'pages.db'}",
            "CANVAS_LADOK_EXPORT_DIR": str(tmp / "exports"),
            "CANVAS_LADOK_WEBHOOK_SECRET": "whsec_" + base64.b64encode(
                secrets.token_bytes(24)).decode(),
            "CANVAS_LADOK_ADMIN_TOKENS": ADMIN_TOKEN,
            "CANVAS_LADOK_SECRET_KEY": secrets.token_hex(32),
        })
        settings = load_settings(config, env)
        started = time.perf_counter()
        fill(settings, args.students)
        print(f"{args.students} students stored in {time.perf_counter() - started:.1f} s; "
              f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
        page_against_preview(settings, max(args.rounds, 5))
        webhook_under_reads(env, session_cookie(settings), args)


if __name__ == "__main__":
    main()
