"""Re-sync benchmark: a simulated Canvas of 2,000 students x 10 assignments.

Serves Canvas through `responses` (canvas_course.py: Link paging, HTTP Date) and re-syncs
into a temporary SQLite file: a first full run, a second full run that finds nothing new, and
an incremental run. Prints the requests each made against the bound
ceil(N/100) + ceil(A/100) + 2 and the seconds per 1,000 submissions processed. Then, in a
fresh database holding only grade events that name no student, fills the names and
identities of those N students from Canvas's roster: its requests against ceil(N/100).

    python benchmarks/resync.py [--students 2000] [--assignments 10]
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import tempfile
import time

import responses
from canvas_course import BASE, serve_course
from demo_config import CONFIG
from sqlalchemy import func, select

from plugin.canvas.client import CanvasClient
from plugin.canvas.events import parse
from plugin.demo.live_events import grade_event
from plugin.intake.apply import StoreSink, apply_event
from plugin.intake.gaps import fill_store
from plugin.intake.resync import resync_course
from plugin.settings import Settings, load_settings
from plugin.store.db import Store
from plugin.store.migrate import upgrade
from plugin.store.models import User

TOKEN = "benchmark-token"


def run(store: Store, settings: Settings, client: CanvasClient, mode: str) -> dict[str, float]:
    """One re-sync, timed."""
    start = time.perf_counter()
    counts = resync_course(store, settings, 565, mode=mode, client=client)
    return {**counts, "seconds": time.perf_counter() - start}


def report(name: str, result: dict[str, float], bound: int) -> None:
    """One line per run."""
    per_1000 = (f"{result['seconds'] / result['submissions'] * 1000:6.3f} s per 1,000 "
                "submissions" if result["submissions"] else "no submissions to process")
    print(f"{name:<22} requests {result['requests']:>3} (bound {bound})  "
          f"submissions {result['submissions']:>6}  changed {result['changed']:>6}  "
          f"{result['seconds']:7.2f} s  {per_1000}")


def names(tmp: str, students: int, client: CanvasClient, rsps) -> None:
    """Fill the names of `students` students known only from grade events (no names, no
    identities), and print the requests against ceil(N/100)."""
    settings = load_settings(CONFIG, {"CANVAS_LADOK_DATABASE_URL": f"sqlite:///{tmp}/n.db",
                                      "CANVAS_LADOK_CANVAS_TOKEN": TOKEN})
    store = Store(settings.database_url)
    upgrade(store)
    when = dt.datetime(2025, 9, 29, 12, 0, tzinfo=dt.UTC)
    with store.write() as session:
        sink = StoreSink(session)
        sink.assignment(565, 301, {"name": "Kmom01", "points_possible": 10.0}, when)
        for user in range(1001, 1001 + students):
            apply_event(sink, parse(grade_event(565, 301, user, "G", when)))
    before, start = len(rsps.calls), time.perf_counter()
    counts = fill_store(store, settings, 565, client)
    took, asked = time.perf_counter() - start, len(rsps.calls) - before
    with store.read() as session:
        unnamed = session.scalar(select(func.count()).select_from(User).where(
            User.name.is_(None) | User.sis_user_id.is_(None)))
    print(f"{'names of unknown':<22} requests {asked:>3} (bound {math.ceil(students / 100)})  "
          f"students {counts.get('students', 0):>6}  still unnamed {unnamed}  {took:7.2f} s")
    store.dispose()


def main() -> None:
    """Simulate Canvas, re-sync three times, print what it cost."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=2000)
    parser.add_argument("--assignments", type=int, default=10)
    args = parser.parse_args()
    bound = math.ceil(args.students / 100) + math.ceil(args.assignments / 100) + 2
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(CONFIG, {"CANVAS_LADOK_DATABASE_URL": f"sqlite:///{tmp}/b.db",
                                          "CANVAS_LADOK_CANVAS_TOKEN": TOKEN})
        store = Store(settings.database_url)
        upgrade(store)
        with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
            serve_course(rsps, 565, args.students, args.assignments)
            client = CanvasClient(BASE, TOKEN)
            print(f"simulated Canvas: {args.students} students x {args.assignments} assignments")
            for name, mode in (("full (empty store)", "full"), ("full (nothing new)", "full"),
                               ("incremental", "incremental")):
                before = len(rsps.calls)
                result = run(store, settings, client, mode)
                assert result["requests"] == len(rsps.calls) - before
                report(name, result, bound)
            store.dispose()
            names(tmp, args.students, client, rsps)


if __name__ == "__main__":
    main()
