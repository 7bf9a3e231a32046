"""Export benchmark: a full run against a same-run baseline, a quiet run, peak RSS.

Usage: python benchmarks/export.py [--students 20000] [--database-url URL] [--profile FILE]

By default every database is a fresh SQLite file (WAL, as the service opens it) in a temporary
folder. A --database-url database is emptied and migrated again for each measurement, so it
must be one the benchmark may wipe. Setting up the data is not timed.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import pstats
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from demo_config import demo_config
from sqlalchemy import Connection, Table, select, text

from plugin.export.publish import materialise
from plugin.export.run import run_export
from plugin.export.writers import ExportLine, RunFilesWriter
from plugin.rules.course_config import CourseConfig
from plugin.settings import Settings, load_settings
from plugin.store.db import Store
from plugin.store.migrate import upgrade
from plugin.store.models import (
    Assignment,
    Base,
    CourseState,
    Dirty,
    LedgerEntry,
    Submission,
    User,
)

COURSE_ID = 565  # the demo course of config/canvas-ladok.toml
LADOK_CODE = "DV1531"
COURSE_START = dt.date(2025, 9, 1)
MOMENTS = (1, 2, 3, 4, 5, 6, 10)
GRADERS = {900 + n: (f"Lärare {n}", f"larare{n}@example.edu") for n in range(5)}
FIRST_STUDENT = 200_000
NOW = dt.datetime(2026, 3, 1, 3, 30, tzinfo=dt.UTC)
CHUNK = 10_000
LINES_PER_STUDENT = 4  # three modules and the course grade
MIB = 1024 * 1024

# The targets.
MAX_RATIO = 1.6  # aiming at 1.3
MAX_QUIET_SHARE = 0.05
MAX_RSS_SPREAD_MIB = 20.0

CONFIG_TEMPLATE = """
database_url = {database_url}
export_dir = {export_dir}
sqlite_synchronous = {synchronous}
"""


# --- configuration and database ----------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where one measurement's database, config file and export folder live."""

    config: Path
    database_url: str
    export_dir: Path


def make_target(folder: Path, label: str, database_url: str | None,
                synchronous: str) -> Target:
    """Write a config file for one measurement; a fresh SQLite file unless a URL is given."""
    url = database_url or f"sqlite:///{folder / f'{label}.db'}"
    export_dir = folder / f"exports-{label}"
    config = demo_config(folder / f"{label}.toml", CONFIG_TEMPLATE.format(
        database_url=json.dumps(url), export_dir=json.dumps(str(export_dir)),
        synchronous=json.dumps(synchronous),
    ), course="final_grade_delay_days = 0")
    return Target(config, url, export_dir)


def settings_of(target: Target) -> Settings:
    """The validated settings of a measurement (the process environment is not read)."""
    return load_settings(target.config, environ={})


def open_store(settings: Settings) -> Store:
    """A store opened the way the service opens it."""
    return Store(settings.database_url, settings.sqlite_synchronous)


def reset_schema(store: Store) -> None:
    """Drop every table the service owns, then migrate to the newest schema."""
    Base.metadata.drop_all(store.engine)
    with store.engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    upgrade(store)


# --- synthetic course data ---------------------------------------------------------------


def student_id(index: int) -> int:
    """The Canvas user id of student number `index`."""
    return FIRST_STUDENT + index


def assignment_id(moment: int) -> int:
    """The Canvas assignment id of a moment."""
    return 3000 + moment


def moment_time(index: int, moment: int) -> dt.datetime:
    """When student `index` handed in `moment` (spread over the term and the day)."""
    week = MOMENTS.index(moment) + 1
    start = dt.datetime.combine(COURSE_START, dt.time(8), tzinfo=dt.UTC)
    return start + dt.timedelta(weeks=2 * week, minutes=(index * 37) % 5000)


def final_grade(index: int) -> tuple[str, float | None]:
    """The project grade: a letter for even students, points out of 100 for odd ones."""
    if index % 2 == 0:
        return "ABCDE"[index % 5], None
    score = float(55 + index % 45)
    return f"{score:g}", score


def submission_row(index: int, moment: int) -> dict[str, Any]:
    """One posted, passing submission row."""
    handed_in = moment_time(index, moment)
    times = [handed_in] if index % 3 else [handed_in - dt.timedelta(days=3), handed_in]
    graded = handed_in + dt.timedelta(days=2, hours=index % 7)
    grade, score = final_grade(index) if moment == 10 else ("G", None)
    return {
        "course_id": COURSE_ID, "assignment_id": assignment_id(moment),
        "user_id": student_id(index), "grade": grade, "score": score,
        "points_possible": 100.0 if moment == 10 else 10.0,
        "grader_id": 900 + (index + moment) % len(GRADERS), "posted": True, "excused": False,
        "workflow_state": "graded", "graded_at": graded,
        "submitted_times": json.dumps([t.isoformat() for t in times]),
        "grade_since": graded, "updated": graded,
    }


def chunks(rows: Iterator[dict[str, Any]], size: int = CHUNK) -> Iterator[list[dict[str, Any]]]:
    """`rows` in lists of at most `size`."""
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def insert_rows(connection: Connection, table: Table, rows: Iterator[dict[str, Any]]) -> None:
    """Insert rows with executemany, a chunk at a time."""
    for chunk in chunks(rows):
        connection.execute(table.insert(), chunk)


def user_rows(students: int) -> Iterator[dict[str, Any]]:
    """The graders and the students, with names and Ladok identities."""
    for user_id, (name, email) in GRADERS.items():
        yield {"user_id": user_id, "name": name, "email": email, "sis_user_id": None}
    for index in range(students):
        yield {"user_id": student_id(index), "name": f"Student{index:05d} Testsson",
               "email": None, "sis_user_id": str(uuid.uuid5(uuid.NAMESPACE_OID, str(index)))}


def assignment_rows() -> Iterator[dict[str, Any]]:
    """One assignment per moment, named like "kmom01"."""
    for moment in MOMENTS:
        yield {"course_id": COURSE_ID, "assignment_id": assignment_id(moment),
               "name": f"kmom{moment:02d}", "points_possible": 100.0 if moment == 10 else 10.0,
               "updated": NOW - dt.timedelta(days=200)}


def seed(store: Store, course: CourseConfig, students: int) -> None:
    """Fill a migrated database with one course's students, all of them dirty."""
    with store.engine.begin() as connection:
        insert_rows(connection, CourseState.__table__, iter([
            {"course_id": COURSE_ID, "fingerprint": course.fingerprint()}]))
        insert_rows(connection, Assignment.__table__, assignment_rows())
        insert_rows(connection, User.__table__, user_rows(students))
        insert_rows(connection, Submission.__table__, (
            submission_row(i, m) for i in range(students) for m in MOMENTS))
        insert_rows(connection, Dirty.__table__, (
            {"course_id": COURSE_ID, "user_id": student_id(i), "version": 1, "due_at": None}
            for i in range(students)))


def prepare(target: Target, students: int) -> None:
    """Create (or empty) the measurement's database and seed it; not timed."""
    settings = settings_of(target)
    store = open_store(settings)
    try:
        reset_schema(store)
        seed(store, settings.courses[0], students)
    finally:
        store.dispose()


# --- measurements ------------------------------------------------------------------------


@dataclass(frozen=True)
class Took:
    """Wall-clock and CPU seconds of one call (CPU time is steadier on a shared machine)."""

    wall: float
    cpu: float


def timed(action: Callable[[], Any]) -> tuple[Took, Any]:
    """(time taken, result) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = action()
    return Took(time.perf_counter() - wall, time.process_time() - cpu), result


def ledger_export_lines(store: Store, run_id: int) -> Iterator[ExportLine]:
    """The run's ledger rows as plain column tuples, made into export lines."""
    columns = (LedgerEntry.ladok_code, LedgerEntry.component_code, LedgerEntry.student_id,
               LedgerEntry.user_id, LedgerEntry.student_name, LedgerEntry.component_name,
               LedgerEntry.credits, LedgerEntry.grade, LedgerEntry.exam_date,
               LedgerEntry.graders, LedgerEntry.status)
    query = (select(*columns).where(LedgerEntry.run_id == run_id)
             .order_by(LedgerEntry.ladok_code, LedgerEntry.student_id,
                       LedgerEntry.component_code)
             .execution_options(yield_per=2000))
    with store.read() as session:
        for row in session.execute(query):
            yield ExportLine(
                course_code=row[0], component_code=row[1], student_id=row[2],
                canvas_user_id=row[3], student_name=row[4] or "", component_name=row[5] or "",
                credits=row[6], grade=row[7] or "", exam_date=dt.date.fromisoformat(row[8]),
                graders=tuple(json.loads(row[9])), status=row[10],
            )


def baseline(store: Store, folder: Path, run_id: int) -> int:
    """Read the run's rows and write them with the run's file writers; the line count."""
    count = 0
    with RunFilesWriter(folder, f"baseline-{run_id}") as writer:
        for line in ledger_export_lines(store, run_id):
            writer.add(line)
            count += 1
        writer.publish()
    return count


@dataclass
class Timings:
    """The side-by-side timings of one database."""

    full: Took
    baseline: Took
    rerender: Took
    quiet: Took
    lines: int
    baseline_lines: int
    quiet_nothing_new: bool


def measure_times(target: Target, students: int) -> Timings:
    """Full run, baseline over its rows, re-render from the ledger, then a quiet run."""
    prepare(target, students)
    settings = settings_of(target)
    store = open_store(settings)
    try:
        full, summary = timed(lambda: run_export(store, settings, trigger="cli", now=NOW))
        base, base_lines = timed(
            lambda: baseline(store, target.export_dir.parent / "baseline", summary.run_id))
        rerender, _ = timed(lambda: materialise(store, settings, summary.run_id, force=True))
        later = NOW + dt.timedelta(days=1)
        quiet, second = timed(lambda: run_export(store, settings, trigger="cli", now=later))
    finally:
        store.dispose()
    lines = sum(summary.counts.get(k, 0) for k in ("new", "correction", "withdrawn"))
    return Timings(full, base, rerender, quiet, lines, base_lines, second.nothing_new)


def timed_rounds(target_of: Callable[[str], Target], students: int,
                 rounds: int) -> list[Timings]:
    """The side-by-side timings, once per round, each on a fresh database."""
    out = []
    for number in range(1, rounds + 1):
        log(f"timed runs, {students} students, round {number} of {rounds}")
        out.append(measure_times(target_of(f"timed-{number}"), students))
    return out


def ratio(t: Timings) -> float:
    """A round's full run / baseline, by wall-clock time."""
    return t.full.wall / t.baseline.wall


def median_round(rounds: list[Timings]) -> Timings:
    """The round with the median ratio (the upper one of an even count)."""
    return sorted(rounds, key=ratio)[len(rounds) // 2]


def vm_status_kib(field: str) -> int | None:
    """A /proc/self/status figure in KiB (VmHWM, VmRSS), or None off Linux."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def peak_kib() -> int:
    """This process's peak resident set size in KiB (VmHWM is reset by exec; ru_maxrss not)."""
    hwm = vm_status_kib("VmHWM")
    if hwm is not None:
        return hwm
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def rss_child(config: Path) -> None:
    """Child process: one full run on a prepared database; prints its memory figures as JSON."""
    settings = load_settings(config, environ={})
    store = open_store(settings)
    before = vm_status_kib("VmRSS") or 0
    took, summary = timed(lambda: run_export(store, settings, trigger="cli", now=NOW))
    store.dispose()
    print(json.dumps({"peak_kib": peak_kib(), "before_kib": before, "seconds": took.wall,
                      "new": summary.counts.get("new", 0)}))


def measure_rss(target: Target, students: int) -> dict[str, Any]:
    """Peak RSS of a full run over `students`, in a fresh process."""
    prepare(target, students)
    done = subprocess.run([sys.executable, __file__, "--rss-child", str(target.config)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"RSS child for {students} students failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def profile_run(target: Target, students: int, out: Path, top: int = 30) -> None:
    """Profile one full run on a fresh database; save the stats and print the top costs."""
    prepare(target, students)
    settings = settings_of(target)
    store = open_store(settings)
    profiler = cProfile.Profile()
    try:
        profiler.runcall(run_export, store, settings, trigger="cli", now=NOW)
    finally:
        store.dispose()
    profiler.dump_stats(out)
    stats = pstats.Stats(profiler).strip_dirs()
    for key in ("tottime", "cumulative"):
        print(f"\n--- profile of a full run, top {top} by {key} (stats in {out}) ---")
        stats.sort_stats(key).print_stats(top)


# --- report ------------------------------------------------------------------------------


Row = tuple[str, str, str, str, str]
HEADER: Row = ("measure", "value", "cpu", "target", "result")


def verdict(ok: bool) -> str:
    """PASS or FAIL."""
    return "PASS" if ok else "FAIL"


def seconds(took: Took) -> tuple[str, str]:
    """Wall and CPU seconds as table cells."""
    return f"{took.wall:.2f} s", f"{took.cpu:.2f} s"


def time_rows(students: int, rounds: list[Timings]) -> list[Row]:
    """The timing rows of the median round: full run, baseline, ratio, run with nothing new."""
    t = median_round(rounds)
    wall_ratio, cpu_ratio = ratio(t), t.full.cpu / t.baseline.cpu
    share, cpu_share = t.quiet.wall / t.full.wall, t.quiet.cpu / t.full.cpu
    expected = students * LINES_PER_STUDENT
    return [
        (f"full run, {students} students", *seconds(t.full), "", ""),
        ("  lines written (new)", str(t.lines), "", f"= {expected}",
         verdict(t.lines == expected)),
        ("baseline: read ledger rows + write files", *seconds(t.baseline), "", ""),
        ("  lines written", str(t.baseline_lines), "", f"= {t.lines}",
         verdict(t.baseline_lines == t.lines)),
        ("(info) materialise: re-render from ledger", *seconds(t.rerender), "", "info"),
        ("full / baseline", f"{wall_ratio:.2f}", f"{cpu_ratio:.2f}", f"<= {MAX_RATIO:g}",
         verdict(wall_ratio <= MAX_RATIO)),
        (f"  (info) per round, median of {len(rounds)}",
         ", ".join(f"{ratio(r):.2f}" for r in rounds), "", "", "info"),
        ("  own work per 1,000 students (full less baseline)", *own_work(t, students), "",
         "info"),
        ("run with nothing new", f"{t.quiet.wall * 1000:.1f} ms",
         f"{t.quiet.cpu * 1000:.1f} ms", "", ""),
        ("  nothing new / full", f"{share:.2%}", f"{cpu_share:.2%}",
         f"<= {MAX_QUIET_SHARE:.0%}", verdict(share <= MAX_QUIET_SHARE and t.quiet_nothing_new)),
    ]


def own_work(t: Timings, students: int) -> tuple[str, str]:
    """The full run's own time per 1,000 students, wall and CPU: its time less the baseline's
    (reading the rows and writing the files)."""
    per = 1000 / students
    return (f"{(t.full.wall - t.baseline.wall) * per:.3f} s",
            f"{(t.full.cpu - t.baseline.cpu) * per:.3f} s")


def rss_row(students: int, figures: dict[str, Any]) -> Row:
    """One peak RSS row, with the RSS before the run and the run's time as context."""
    note = f"before run {figures['before_kib'] / 1024:.1f} MiB, run {figures['seconds']:.1f} s"
    return (f"peak RSS, {students} students", f"{figures['peak_kib'] / 1024:.1f} MiB", "",
            note, "")


def rss_rows(small_n: int, small: dict, large_n: int, large: dict) -> list[Row]:
    """The memory rows: both peaks and their difference."""
    spread = (large["peak_kib"] - small["peak_kib"]) / 1024
    return [
        rss_row(small_n, small),
        rss_row(large_n, large),
        ("  difference", f"{spread:+.1f} MiB", "", f"|d| <= {MAX_RSS_SPREAD_MIB:g} MiB",
         verdict(abs(spread) <= MAX_RSS_SPREAD_MIB)),
    ]


def print_table(rows: list[Row]) -> None:
    """Print the rows as an aligned table."""
    widths = [max(len(r[i]) for r in [HEADER, *rows]) for i in range(len(HEADER))]
    rule = "  ".join("-" * w for w in widths)
    print(rule)
    for row in [HEADER, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if row is HEADER:
            print(rule)
    print(rule)


# --- command line ------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=20_000,
                        help="students of the timed run and the larger RSS run (default 20000)")
    parser.add_argument("--database-url", default=None,
                        help="a database the benchmark may wipe (default: temporary SQLite)")
    parser.add_argument("--sqlite-synchronous", choices=("normal", "full"), default="normal",
                        help="SQLite durability, as the service setting (default normal)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="timed rounds, each on a fresh database; the median is shown")
    parser.add_argument("--profile", type=Path, default=None,
                        help="also profile a full run with cProfile, saving the stats here")
    parser.add_argument("--rss-child", type=Path, default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def log(message: str) -> None:
    """Progress on stderr."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run every measurement and print the table; exit 1 when a target fails."""
    args = parse_args(argv)
    if args.rss_child:
        rss_child(args.rss_child)
        return 0
    small_n = args.students // 2
    with tempfile.TemporaryDirectory(prefix="export-bench-") as tmp:
        folder = Path(tmp)

        def target(label: str) -> Target:
            return make_target(folder, label, args.database_url, args.sqlite_synchronous)

        timings = timed_rounds(target, args.students, args.rounds)
        log(f"peak RSS, {small_n} students")
        small = measure_rss(target("rss-small"), small_n)
        log(f"peak RSS, {args.students} students")
        large = measure_rss(target("rss-large"), args.students)
        rows = time_rows(args.students, timings) + rss_rows(small_n, small, args.students, large)
        print_table(rows)
        if args.profile:
            log("profiling a full run")
            profile_run(target("profile"), args.students, args.profile)
    return 0 if all(row[-1] != "FAIL" for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
