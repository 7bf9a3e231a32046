"""Export runs started at once (threads and processes) export every result exactly once.

The ledger key (Canvas user, ladok_code, component) goes out once, even across Canvas
courses that share a ladok_code and whatever runs concurrently (processes, hosts on one
PostgreSQL). Each test checks the ledger and the files actually written in every run folder.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import insert, select, update

from plugin.export.run import RunSummary, run_export
from plugin.settings import Settings
from plugin.store import state
from plugin.store.db import Store
from plugin.store.models import Assignment, Dirty, ExportRun, LedgerEntry, Submission, User
from tests.conftest import ADMIN_TOKEN
from tests.helpers import course_toml

PROJECT = Path(__file__).resolve().parents[2]
COURSE_A, COURSE_B = 565, 566
LADOK_CODE = "DV1531"
MOMENTS = (1, 2, 3, 4, 5, 6, 10)
PROJECT_MOMENT = 10
GRADER = 900
HANDED_IN = dt.datetime(2025, 10, 1, 10, 0, tzinfo=dt.UTC)
GRADED = HANDED_IN + dt.timedelta(days=2)
NOW = dt.datetime(2026, 1, 15, 12, 0, tzinfo=dt.UTC)
TSV_NAMES = ("ladok-report.tsv", "corrections.tsv")
PROCESS_TIMEOUT = 120



def config_text(course_ids: Iterable[int]) -> str:
    """A config of identical courses sharing one ladok_code; course grades go out at once."""
    parts = ['[canvas]\nurl = "https://canvas.example.edu"\n']
    for course_id in course_ids:
        parts.append(course_toml(course_id, LADOK_CODE, extra="final_grade_delay_days = 0"))
    return "".join(parts)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    """Two Canvas courses (565, 566) that report to the same Ladok course."""
    path = tmp_path / "canvas-ladok.toml"
    path.write_text(config_text((COURSE_A, COURSE_B)))
    return path


def sis_id(user_id: int) -> str:
    """The Ladok identity the test gives a Canvas user."""
    return f"19900101-{user_id:04d}"


def project_grade(user_id: int) -> str:
    """The project grade the test gives a student (A-E)."""
    return "ABCDE"[user_id % 5]


def expected_results(user_id: int, project: str | None = None) -> dict[str, str]:
    """Component code -> grade a seeded student has earned."""
    grade = project or project_grade(user_id)
    return {"2205": "G", "2215": "G", "2225": grade, LADOK_CODE: grade}


def seed_students(store: Store, course_id: int, user_ids: Iterable[int],
                  grades: Mapping[int, str] | None = None, *,
                  handed_in: dt.datetime = HANDED_IN, moments: Iterable[int] = MOMENTS) -> None:
    """Bulk-insert students new to the course who passed `moments`, due for the next run."""
    user_ids = list(user_ids)
    grades = grades or {}
    graded = handed_in + (GRADED - HANDED_IN)
    with store.write() as session:
        known = set(session.scalars(select(User.user_id).where(User.user_id.in_(
            [*user_ids, GRADER]))))
        users = [{"user_id": u, "name": f"Student {u}", "sis_user_id": sis_id(u)}
                 for u in user_ids if u not in known]
        if GRADER not in known:
            users.append({"user_id": GRADER, "name": "Teacher", "email": "teacher@example.edu"})
        if users:
            session.execute(insert(User), users)
        have = set(session.scalars(select(Assignment.assignment_id).where(
            Assignment.course_id == course_id)))
        assignments = [{"course_id": course_id, "assignment_id": 300 + m,
                        "name": f"Kmom{m:02d}", "points_possible": 10, "updated": HANDED_IN}
                       for m in MOMENTS if 300 + m not in have]
        if assignments:
            session.execute(insert(Assignment), assignments)
        session.execute(insert(Submission), [
            {"course_id": course_id, "assignment_id": 300 + m, "user_id": u,
             "grade": grades.get(u, project_grade(u)) if m == PROJECT_MOMENT else "G",
             "score": None, "points_possible": 10, "grader_id": GRADER, "posted": True,
             "excused": False, "workflow_state": "graded", "graded_at": graded,
             "submitted_times": json.dumps([handed_in.isoformat()]), "grade_since": graded,
             "updated": graded}
            for u in user_ids for m in moments
        ])
        session.execute(insert(Dirty), [{"course_id": course_id, "user_id": u, "version": 1}
                                        for u in user_ids])


def regrade_project(store: Store, course_id: int, grades: Mapping[int, str]) -> None:
    """Change students' posted project grades (a correction for exported results)."""
    later = GRADED + dt.timedelta(days=30)
    with store.write() as session:
        for user_id, grade in grades.items():
            session.execute(update(Submission).where(
                Submission.course_id == course_id, Submission.user_id == user_id,
                Submission.assignment_id == 300 + PROJECT_MOMENT,
            ).values(grade=grade, graded_at=later, grade_since=later, updated=later))
            state.mark_dirty(session, course_id, user_id)


def export_in_threads(store: Store, settings: Settings, course_ids: list[int | None],
                      now: dt.datetime = NOW) -> list[RunSummary]:
    """Start one export run per entry at the same instant, each in a thread of its own."""
    barrier = threading.Barrier(len(course_ids))

    def one(course_id: int | None) -> RunSummary:
        barrier.wait(timeout=30)
        return run_export(store, settings, course_id=course_id, now=now)

    with ThreadPoolExecutor(len(course_ids)) as pool:
        return list(pool.map(one, course_ids))


def cli_env(config_file: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment of a `python -m plugin` process using the test database and config."""
    return {**os.environ, **environ, "CANVAS_LADOK_CONFIG": str(config_file)}


def start_cli_export(env: Mapping[str, str], *args: str) -> subprocess.Popen[str]:
    """Start `python -m plugin export [args]` in a process of its own."""
    return subprocess.Popen([sys.executable, "-m", "plugin", "export", *args], cwd=PROJECT,
                            env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def finish(process: subprocess.Popen[str]) -> str:
    """Wait for a CLI process; fail with its output unless it succeeded."""
    out, err = process.communicate(timeout=PROCESS_TIMEOUT)
    assert process.returncode == 0, f"exit {process.returncode}\n{out}\n{err}"
    return out


TsvLine = tuple[int, str, tuple[str, ...]]  # (run id, file name, the line's fields)


def read_tsv_lines(export_dir: Path) -> list[TsvLine]:
    """Every line of every .tsv in every visible run folder."""
    lines: list[TsvLine] = []
    if not export_dir.is_dir():
        return lines
    for folder in sorted(export_dir.iterdir()):
        if folder.name.startswith(".") or not folder.is_dir():
            continue
        for name in TSV_NAMES:
            path = folder / name
            if path.exists():
                text = path.read_text(encoding="utf-8")
                assert text == "" or text.endswith("\n"), f"{path} ends mid-line"
                lines += [(int(folder.name), name, tuple(row.split("\t")))
                          for row in text.splitlines()]
    return lines


def ledger_rows(store: Store) -> list[LedgerEntry]:
    """The whole ledger."""
    with store.read() as session:
        return list(session.scalars(select(LedgerEntry).order_by(LedgerEntry.id)))


def assert_each_result_exported_once(store: Store, settings: Settings) -> list[LedgerEntry]:
    """Ledger keys in one run each, versions in order, and each line in exactly one file."""
    rows = ledger_rows(store)
    keys = Counter((r.user_id, r.ladok_code, r.component_code, r.version) for r in rows)
    assert [k for k, n in keys.items() if n > 1] == []
    runs_of_key: dict[tuple, set[int]] = defaultdict(set)
    history: dict[tuple, list[LedgerEntry]] = defaultdict(list)
    for row in rows:
        runs_of_key[(row.user_id, row.ladok_code, row.component_code, row.version)].add(
            row.run_id)
        history[(row.user_id, row.ladok_code, row.component_code)].append(row)
    assert all(len(runs) == 1 for runs in runs_of_key.values())
    for key, versions in history.items():
        versions.sort(key=lambda r: r.version)
        assert [r.version for r in versions] == list(range(1, len(versions) + 1)), key
        assert [r.status for r in versions].count("new") == 1, key
        assert versions[0].status == "new", key
        assert len({r.run_id for r in versions}) == len(versions), key

    lines = read_tsv_lines(Path(settings.export_dir))
    expected = Counter((r.run_id, r.file, (r.ladok_code, r.component_code, r.student_id,
                                           r.grade, r.exam_date))
                       for r in rows if r.file)
    written = Counter((run_id, name, fields[:5]) for run_id, name, fields in lines)
    assert written == expected
    anywhere = Counter((name, fields) for _, name, fields in lines)
    assert [line for line, n in anywhere.items() if n > 1] == []
    reported = Counter((fields[0], fields[1], fields[2])
                       for _, name, fields in lines if name == "ladok-report.tsv")
    assert [key for key, n in reported.items() if n > 1] == []
    return rows


def latest_grades(rows: Iterable[LedgerEntry]) -> dict[tuple[int, str], str]:
    """(user, component) -> grade of the newest ledger version."""
    latest: dict[tuple[int, str], LedgerEntry] = {}
    for row in sorted(rows, key=lambda r: r.version):
        latest[(row.user_id, row.component_code)] = row
    return {key: row.grade for key, row in latest.items()}


def wanted_grades(students: Mapping[int, str | None]) -> dict[tuple[int, str], str]:
    """(user, component) -> grade for students and their project grades (None: default)."""
    return {(u, code): grade for u, project in students.items()
            for code, grade in expected_results(u, project).items()}


def run_count(store: Store) -> int:
    with store.read() as session:
        return len(session.scalars(select(ExportRun.id)).all())


def test_runs_started_at_once_in_threads_export_each_result_once(store, settings):
    seed_students(store, COURSE_A, range(1000, 1120))
    first = export_in_threads(store, settings, [None, None, COURSE_A, None])
    assert sum(s.counts.get("new", 0) for s in first) == 120 * 4
    assert len({s.run_id for s in first}) == 4

    regrade_project(store, COURSE_A, {u: "A" if project_grade(u) != "A" else "B"
                                      for u in range(1000, 1040)})
    seed_students(store, COURSE_A, range(1120, 1150))
    second = export_in_threads(store, settings, [COURSE_A, None, None, COURSE_A])
    assert sum(s.counts.get("new", 0) for s in second) == 30 * 4
    assert sum(s.counts.get("correction", 0) for s in second) == 40 * 2

    rows = assert_each_result_exported_once(store, settings)
    regraded = {u: "A" if project_grade(u) != "A" else "B" for u in range(1000, 1040)}
    students = {u: regraded.get(u) for u in range(1000, 1150)}
    assert latest_grades(rows) == wanted_grades(students)


@pytest.mark.slow
def test_runs_started_at_once_in_processes_and_threads_export_each_result_once(
        store, settings, config_file, environ):
    seed_students(store, COURSE_A, range(1000, 1060))
    assert run_export(store, settings).counts == {"new": 60 * 4}
    regraded = {u: "A" for u in range(1001, 1060, 5)}
    regrade_project(store, COURSE_A, regraded)
    seed_students(store, COURSE_A, range(1060, 1140))
    seed_students(store, COURSE_B, range(2000, 2040))

    env = cli_env(config_file, environ)
    processes = [start_cli_export(env), start_cli_export(env),
                 start_cli_export(env, "--course", str(COURSE_A))]
    in_threads = export_in_threads(store, settings, [None, COURSE_B, COURSE_A],
                                   now=dt.datetime.now(dt.UTC))
    outputs = [finish(p) for p in processes]

    assert all("Export run" in out for out in outputs)
    assert all(s.run_id is not None for s in in_threads)
    assert run_count(store) == 1 + 3 + 3
    rows = assert_each_result_exported_once(store, settings)
    students: dict[int, str | None] = {u: None for u in [*range(1000, 1140),
                                                          *range(2000, 2040)]}
    students.update(regraded)
    assert latest_grades(rows) == wanted_grades(students)
    corrections = [r for r in rows if r.status == "correction"]
    assert sorted((r.user_id, r.component_code) for r in corrections) == sorted(
        (u, code) for u in regraded for code in ("2225", LADOK_CODE))


def test_courses_sharing_a_ladok_code_export_a_students_module_once(store, settings):
    both = range(1000, 1050)
    seed_students(store, COURSE_A, both)
    seed_students(store, COURSE_B, both)
    seed_students(store, COURSE_B, range(1050, 1060))
    run = run_export(store, settings, now=NOW)
    assert run.counts == {"new": 60 * 4}
    rows = assert_each_result_exported_once(store, settings)
    assert {r.course_id for r in rows if r.user_id < 1050} == {COURSE_A}
    assert {r.course_id for r in rows if r.user_id >= 1050} == {COURSE_B}
    assert latest_grades(rows) == wanted_grades({u: None for u in range(1000, 1060)})


def test_courses_sharing_a_ladok_code_exported_one_after_the_other_export_once(
        store, settings):
    seed_students(store, COURSE_A, range(1000, 1020))
    first = run_export(store, settings, course_id=COURSE_A, now=NOW)
    assert first.counts == {"new": 20 * 4}
    seed_students(store, COURSE_B, range(1000, 1020))
    second = run_export(store, settings, course_id=COURSE_B, now=NOW + dt.timedelta(days=1))
    assert second.nothing_new and second.files == []
    third = run_export(store, settings, now=NOW + dt.timedelta(days=2))
    assert third.nothing_new
    rows = assert_each_result_exported_once(store, settings)
    assert len(rows) == 20 * 4 and {r.course_id for r in rows} == {COURSE_A}


def test_courses_sharing_a_ladok_code_exported_at_once_export_once(store, settings):
    shared = range(1000, 1100)
    seed_students(store, COURSE_A, shared)
    seed_students(store, COURSE_B, shared)
    runs = export_in_threads(store, settings, [COURSE_A, COURSE_B, COURSE_B, COURSE_A])
    assert sum(s.counts.get("new", 0) for s in runs) == 100 * 4
    assert all(not s.counts.get("correction") for s in runs)
    rows = assert_each_result_exported_once(store, settings)
    assert latest_grades(rows) == wanted_grades({u: None for u in shared})


def test_a_student_starting_again_in_a_course_sharing_the_ladok_code_keeps_exported_results(
        store, settings):
    seed_students(store, COURSE_A, [1000])
    assert run_export(store, settings, course_id=COURSE_A, now=NOW).counts == {"new": 4}
    # Next term the student is in the new course round and hands in the first moment again.
    seed_students(store, COURSE_B, [1000], handed_in=NOW, moments=(1,))

    again = run_export(store, settings, now=NOW + dt.timedelta(days=1))

    assert again.nothing_new, again.counts  # today: 4 results "withdrawn — handle in Ladok"
    assert {r.status for r in ledger_rows(store)} == {"new"}


def test_a_module_earned_in_two_courses_sharing_a_ladok_code_goes_out_once_in_a_run(
        store, settings):
    seed_students(store, COURSE_A, [1000])
    seed_students(store, COURSE_B, [1000], handed_in=NOW - dt.timedelta(days=10))

    run = run_export(store, settings, now=NOW)

    lines = read_tsv_lines(Path(settings.export_dir))
    keys = Counter((fields[1], fields[2]) for _, _, fields in lines)
    assert keys and set(keys.values()) == {1}, run.counts  # today: new + correction at once


def test_courses_sharing_a_ladok_code_do_not_correct_each_other_back_and_forth(
        store, settings):
    seed_students(store, COURSE_A, [1000])
    seed_students(store, COURSE_B, [1000], handed_in=NOW - dt.timedelta(days=10))
    run_export(store, settings, course_id=COURSE_A, now=NOW)
    run_export(store, settings, course_id=COURSE_B, now=NOW + dt.timedelta(days=1))

    later = []
    for day, course in enumerate((COURSE_A, COURSE_B, COURSE_A), start=2):
        with store.write() as session:  # any event about the student marks them for a run
            state.mark_dirty(session, course, 1000)
        later.append(run_export(store, settings, now=NOW + dt.timedelta(days=day)).counts)

    assert later == [{}, {}, {}]  # today: 4 corrections in every run, alternating dates


# --- retakes: rooms sharing a Ladok code make one Ladok course --------------------------


def fail_moment(store: Store, course_id: int, user_ids: Iterable[int], moment: int) -> None:
    """Students' posted grade on `moment` becomes U (what they earned there is no more)."""
    later = GRADED + dt.timedelta(days=40)
    with store.write() as session:
        for user_id in user_ids:
            session.execute(update(Submission).where(
                Submission.course_id == course_id, Submission.user_id == user_id,
                Submission.assignment_id == 300 + moment,
            ).values(grade="U", grade_since=later, updated=later))
            state.mark_dirty(session, course_id, user_id)


def student_report(client, course_id: int, user_id: int) -> dict:
    response = client.get(f"/api/courses/{course_id}/students/{user_id}",
                          headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert response.status_code == 200, response.json
    return response.json


def test_a_retake_gets_one_course_grade_from_the_room_that_earns_the_last_module(
        store, settings, client):
    seed_students(store, COURSE_A, [1000], moments=(1, 2, 3))
    assert run_export(store, settings, now=NOW).counts == {"new": 1}
    seed_students(store, COURSE_B, [1000], handed_in=NOW, moments=(4, 5, 6, PROJECT_MOMENT))

    run = run_export(store, settings, now=NOW + dt.timedelta(days=3))

    assert run.counts == {"new": 3}
    assert run_export(store, settings, now=NOW + dt.timedelta(days=4)).nothing_new
    rows = assert_each_result_exported_once(store, settings)
    owners = {(r.component_code, r.course_id, r.grade, r.exam_date) for r in rows}
    assert owners == {("2205", COURSE_A, "G", "2025-10-01"),
                      ("2215", COURSE_B, "G", "2026-01-15"),
                      ("2225", COURSE_B, "A", "2026-01-15"),
                      (LADOK_CODE, COURSE_B, "A", "2026-01-15")}
    preview = run_export(store, settings, course_id=COURSE_B, dry_run=True)
    assert preview.manual[0]["notes"] == [
        f"2205: exported from Canvas course {COURSE_A}, which shares the Ladok code: it counts "
        "here for the course grade, and that course reports it"]
    report = student_report(client, COURSE_B, 1000)
    assert report["course_grade"]["reason"] == (
        f"grade A from final module 2225; module 2205 exported from Canvas course {COURSE_A}")
    assert report["modules"][0]["status"].startswith(
        f"exported from Canvas course {COURSE_A}, which shares the Ladok code")
    assert student_report(client, COURSE_A, 1000)["course_grade"]["reason"] == (
        f"decided in Canvas course {COURSE_B} (same Ladok course), which exported it")


def test_the_room_earning_the_last_module_in_a_run_decides_the_course_grade(
        store, settings, client):
    seed_students(store, COURSE_B, [1000], handed_in=NOW, moments=(1, 2, 3))
    seed_students(store, COURSE_A, [1000], moments=(4, 5, 6, PROJECT_MOMENT))
    run_export(store, settings, now=NOW)  # A's modules dated October, B's module January
    run_export(store, settings, now=NOW + dt.timedelta(days=1))

    rows = assert_each_result_exported_once(store, settings)

    grade = next(r for r in rows if r.component_code == LADOK_CODE)
    assert (grade.course_id, grade.grade, grade.exam_date) == (COURSE_B, "A", "2026-01-15")
    assert student_report(client, COURSE_A, 1000)["course_grade"]["reason"] == (
        f"decided in Canvas course {COURSE_B} (same Ladok course), which exported it")


def test_a_key_withdrawn_by_its_room_while_another_room_earns_it_moves_there(
        store, settings, client):
    seed_students(store, COURSE_A, [1000], moments=(1, 2, 3))
    run_export(store, settings, course_id=COURSE_A, now=NOW)
    seed_students(store, COURSE_B, [1000], handed_in=NOW, moments=(1, 2, 3))
    assert run_export(store, settings, now=NOW + dt.timedelta(days=1)).nothing_new

    fail_moment(store, COURSE_A, [1000], 1)
    run = run_export(store, settings, now=NOW + dt.timedelta(days=2))

    assert run.counts == {"correction": 1}  # the correction takes the withdrawal's place
    rows = assert_each_result_exported_once(store, settings)
    assert [(r.version, r.status, r.course_id, r.exam_date) for r in rows] == [
        (1, "new", COURSE_A, "2025-10-01"), (2, "correction", COURSE_B, "2026-01-15")]
    assert read_tsv_lines(Path(settings.export_dir))[-1][1:] == (
        "corrections.tsv", (LADOK_CODE, "2205", sis_id(1000), "G", "2026-01-15",
                            "Teacher <teacher@example.edu>"))
    assert student_report(client, COURSE_B, 1000)["modules"][0]["status"] == "exported"
    assert run_export(store, settings, now=NOW + dt.timedelta(days=3)).nothing_new


def test_a_key_withdrawn_in_one_run_is_taken_over_in_the_next(store, settings, client):
    seed_students(store, COURSE_A, [1000], moments=(1, 2, 3))
    run_export(store, settings, course_id=COURSE_A, now=NOW)
    seed_students(store, COURSE_B, [1000], handed_in=NOW, moments=(1, 2, 3))
    fail_moment(store, COURSE_A, [1000], 1)
    assert run_export(store, settings, course_id=COURSE_A, now=NOW).counts == {"withdrawn": 1}

    status = student_report(client, COURSE_B, 1000)["modules"][0]["status"]
    preview = run_export(store, settings, course_id=COURSE_B, dry_run=True,
                         now=NOW + dt.timedelta(days=1))
    run = run_export(store, settings, course_id=COURSE_B, now=NOW + dt.timedelta(days=1))

    assert preview.manual == [{"course": COURSE_B, "user_id": 1000, "name": "Student 1000",
                               "notes": [f"2205: Canvas course {COURSE_A} withdrew it and this "
                                         "course earns it: this course reports it as a "
                                         "correction from now on"]}]

    assert status == (f"correction for the next export: Canvas course {COURSE_A} withdrew it "
                      "and this course earns it, so this course reports it from now on")
    assert run.counts == {"correction": 1}
    rows = assert_each_result_exported_once(store, settings)
    assert [(r.status, r.course_id) for r in rows] == [
        ("new", COURSE_A), ("withdrawn", COURSE_A), ("correction", COURSE_B)]


def test_retakes_and_take_overs_run_at_once_export_each_key_once(store, settings):
    students = range(1000, 1040)
    seed_students(store, COURSE_A, students, moments=(1, 2, 3))
    run_export(store, settings, now=NOW)
    retaking = range(1000, 1010)
    seed_students(store, COURSE_B, retaking, handed_in=NOW)
    seed_students(store, COURSE_B, range(1010, 1040), handed_in=NOW,
                  moments=(4, 5, 6, PROJECT_MOMENT))
    fail_moment(store, COURSE_A, retaking, 1)

    export_in_threads(store, settings, [None, COURSE_A, COURSE_B, None])
    export_in_threads(store, settings, [COURSE_B, None], now=NOW + dt.timedelta(days=1))

    rows = assert_each_result_exported_once(store, settings)
    latest: dict[tuple[int, str], LedgerEntry] = {}
    for row in sorted(rows, key=lambda r: r.version):
        latest[(row.user_id, row.component_code)] = row
    assert latest_grades(rows) == wanted_grades({u: None for u in students})
    assert {k: r.course_id for k, r in latest.items()} == {
        (u, code): COURSE_A if code == "2205" and u >= 1010 else COURSE_B
        for u in students for code in expected_results(u)}
    assert all(r.status != "withdrawn" for r in latest.values())


def test_an_earned_course_grade_no_configured_room_decides_is_listed(store, settings, tmp_path,
                                                                      environ):
    from plugin.settings import load_settings

    waiting = tmp_path / "waiting.toml"  # course grades wait a week for attestation
    waiting.write_text(config_text((COURSE_A, COURSE_B)).replace(
        "final_grade_delay_days = 0", "final_grade_delay_days = 7"))
    seed_students(store, COURSE_A, [1000, 1001])
    seed_students(store, COURSE_B, [1001], moments=(1,))  # 1001 has grades in room B too
    both = load_settings(waiting, environ)
    assert run_export(store, both, now=NOW).counts == {"new": 6}  # the grades wait a week
    later = tmp_path / "later.toml"  # room A's term is over: it leaves the configuration
    later.write_text(waiting.read_text().split("[[courses]]")[0] + "[[courses]]" + (
        waiting.read_text().split("[[courses]]")[2]))
    only_b = load_settings(later, environ)
    assert [c.canvas_id for c in only_b.courses] == [COURSE_B]

    preview = run_export(store, only_b, dry_run=True, now=NOW + dt.timedelta(days=8))

    undecided = [m for m in preview.manual if m["user_id"] == 1000]
    assert undecided == [{
        "course": COURSE_B, "user_id": 1000, "name": "Student 1000", "elsewhere": True,
        "notes": [f"course grade: earned (A, 2025-10-01) but decided by no configured room: "
                  f"its modules were exported from Canvas course {COURSE_A}, no longer "
                  "configured, and the student has no grades in a configured room; add that "
                  "course to the configuration again, or report the course grade in Ladok "
                  "by hand"]}]
    assert [line.component_code for line in preview.lines] == [LADOK_CODE]  # 1001: room B
