"""End to end, as people use it: Canvas Live Events posted to a running server's webhook,
`canvas-ladok export` run at once, and the files, pages and numbers it leaves.

A fake Canvas REST API on loopback holds what the events lack (assignment names, students'
names): only a service that asks Canvas at the right moment gets them right.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from zoneinfo import ZoneInfo

import pytest

from plugin.demo.live_events import (
    assignment_event,
    global_id,
    grade_event,
    submission_event,
)
from tests.fake_canvas import FakeCanvas, LoopbackCanvas
from tests.helpers import MOMENTS, TERM_START, course_toml, term
from tests.service import Service

pytestmark = pytest.mark.slow  # servers and commands in processes of their own
STOCKHOLM = ZoneInfo("Europe/Stockholm")
LADOK = "DV1531"
MODULE_MOMENTS = {"2205": (1, 2, 3), "2215": (4, 5, 6), "2225": (10,)}


@pytest.fixture
def canvas():
    """A Canvas REST API on loopback."""
    loopback = LoopbackCanvas()
    yield loopback
    loopback.close()


@pytest.fixture
def service(server_env, tmp_path, canvas):
    """The service with course 565 (Ladok DV1531) and Canvas at the loopback fake."""
    found = Service(server_env, tmp_path, canvas.base)
    found.configure(course_toml())
    yield found
    found.stop()


def rest_course(canvas: LoopbackCanvas, students: int, course_id: int = 565,
                names: dict[int, str] | None = None) -> FakeCanvas:
    """Canvas's own view of the test course: assignments KmomNN (id 300 + NN), and students
    1001… with their Ladok identity (as the term's events give it) and name."""
    fake = FakeCanvas(canvas, course_id, students=students, base=canvas.base)
    fake.assignments[:] = [{"id": 300 + m, "name": f"Kmom{m:02d}", "points_possible": 10.0}
                           for m in MOMENTS]
    for user in fake.students:
        fake.users[user] = {"id": user, "name": (names or {}).get(user, f"Student {user - 1000}"),
                            "sis_user_id": f"19900101-{user:04d}", "integration_id": None,
                            "login_id": f"s{user}@student.example.edu"}
    return fake


def handed_in(n: int, moment: int) -> dt.date:
    """The local day student n handed in `moment` in tests.helpers.term."""
    week = MOMENTS.index(moment) + 1
    return (TERM_START + dt.timedelta(weeks=week, hours=n)).astimezone(STOCKHOLM).date()


def first_run(students: int) -> set[tuple[str, str, str, str, str]]:
    """What the first export of `term(students)` must report (course code, module, identity,
    grade, date): every earned module; course grades wait for attestation."""
    lines = set()
    for n in range(1, students + 1):
        for code, moments in MODULE_MOMENTS.items():
            if code == "2205" and n == students:
                continue  # the last student's kmom03 is PG: not a pass
            grade = "ABCDE"[n % 5] if code == "2225" else "G"
            date = max(handed_in(n, m) for m in moments).isoformat()
            lines.add((LADOK, code, f"19900101-{1000 + n:04d}", grade, date))
    return lines


def reported(service: Service, run: int, name: str = "ladok-report.tsv") -> set[tuple]:
    """A run's .tsv lines without the graders."""
    return {line[:5] for line in service.tsv(run, name)}


def named(event: dict, kind: str, ids: set[int]) -> bool:
    """Whether `event` is a `kind` event about one of the (local) ids."""
    key = "assignment_id" if kind == "assignment_updated" else "user_id"
    return event["metadata"]["event_name"] == kind and event["body"][key] in {
        global_id(i) for i in ids}


# --- 1. every export applies the waiting events, then fills gaps, then decides ------------


def test_an_export_right_after_the_events_exports_the_whole_term_in_its_first_run(
        service, canvas):
    rest_course(canvas, students=4)
    # kmom05 and kmom10 are named only in Canvas: the events carry no assignment name.
    events = [e for e in term(4) if not named(e, "assignment_updated", {305, 310})]
    server = service.start()
    service.post(server, events)

    preview = service.cli("export", "--dry-run")
    done = service.cli("export")

    assert service.runs() == [1]
    assert reported(service, 1) == first_run(4)
    assert dry_lines(preview.stdout) == first_run(4)
    assert f"events received but not yet applied (counted above as if they were): " \
           f"{len(events)}" in preview.stdout
    assert waiting_count(preview.stdout) == waiting_count(done.stdout) == 3
    assert "nothing new" in service.cli("export").stdout


def dry_lines(output: str) -> set[tuple[str, ...]]:
    """The lines `export --dry-run` says it would write (course, module, id, grade, date)."""
    return {tuple(line.split()[1:6]) for line in output.splitlines()
            if line.startswith("  new ") and line.split()[1] == LADOK}


def waiting_count(output: str) -> int:
    """The number of course grades waiting for attestation in an export's summary table."""
    return int(re.search(r"course grades waiting for attestation\s+(\d+)", output).group(1))


# --- 2. names and identities from Canvas's roster; a new course re-synced at once -------

REST_NAMES = {1001: "Astrid Ek", 1002: "Bo Lind", 1003: "Cecilia Öberg"}


def test_students_named_only_by_canvas_are_named_in_the_files_and_pages(service, canvas):
    fake = rest_course(canvas, students=3, names=REST_NAMES)
    students = set(REST_NAMES)
    # The grade events carry each student's identity but no name; no enrollment events.
    events = [e for e in term(3) if not named(e, "enrollment_created", students)]
    server = service.start()
    service.post(server, events)

    service.cli("export")

    [run] = service.runs()
    by_user = {int(r["Canvas-användar-id"]): r["Namn"] for r in service.csv_rows(run)}
    assert by_user == REST_NAMES
    header, *rows = service.xlsx_rows(run)
    assert {row[header.index("Namn")] for row in rows} == set(REST_NAMES.values())
    assert len(fake.roster_asked) == 1 and sorted(fake.roster_asked[0]) == sorted(students)
    browser = Service.signed_in(server)
    for path in ("/courses/565", f"/exports/{run}", "/courses/565/students/1002"):
        page = browser.get(f"{server.url}{path}", timeout=60).text
        assert "Bo Lind" in page and "(no name)" not in page, path


def test_a_newly_configured_course_is_resynced_in_full_without_anyone_asking(
        service, canvas):
    fake = rest_course(canvas, students=2, names=REST_NAMES)  # grades only Canvas knows of
    for user in fake.students:
        fake.grade(user, 310, "B")
    server = service.start("serve")
    deadline = time.monotonic() + 90
    while True:
        preview = Service.api(server, "/api/courses/565/preview")
        if preview["results"] or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    names = {r["student_name"] for r in preview["results"]}
    assert names == {"Astrid Ek", "Bo Lind"}
    assert {r["component_code"] for r in preview["results"]} == {"2205", "2215", "2225"}


# --- 3. dates follow the outcome, not its spelling or its visibility --------------------


def test_display_only_changes_send_no_correction(service, canvas):
    rest_course(canvas, students=3)
    events = term(3)
    later = TERM_START + dt.timedelta(weeks=12)
    for event in events:  # the project is graded out of 100 points
        if named(event, "assignment_updated", {310}):
            event["body"]["points_possible"] = 100
    server = service.start()
    service.post(server, events)
    service.cli("export")

    def at(days: int) -> dt.datetime:
        return later + dt.timedelta(days=days)

    changes = []
    for user in (1001, 1002, 1003):
        sis = f"19900101-{user:04d}"
        # Hide grades and post them again (for the whole of kmom01), a hand-in in between.
        changes += [grade_event(565, 301, user, "G", at(0), muted=True, sis_id=sis),
                    submission_event(565, 301, user, at(1)),
                    grade_event(565, 301, user, "G", at(2), sis_id=sis),
                    # kmom02's display type changed: G is re-saved as "complete".
                    submission_event(565, 302, user, at(3)),
                    grade_event(565, 302, user, "complete", at(4), sis_id=sis)]
    # Student 1's B re-saved as 85 of 100 after a late hand-in: still a B.
    changes += [submission_event(565, 310, 1001, at(5)),
                grade_event(565, 310, 1001, "85", at(6), score=85, points_possible=100,
                            sis_id="19900101-1001")]
    # Student 3's D becomes an A: a real change, a correction with the date it always had.
    changes += [grade_event(565, 310, 1003, "A", at(7), sis_id="19900101-1003")]
    service.post(server, changes)

    service.cli("export")

    assert service.runs() == [1, 2]
    assert reported(service, 2, "corrections.tsv") == {
        (LADOK, "2225", "19900101-1003", "A", handed_in(3, 10).isoformat())}
    assert reported(service, 2) == set()
    assert {r["Status"] for r in service.csv_rows(2)} == {"correction"}


# --- 4. a retake's course grade: the room that earns the last module decides -------------


def room_toml(canvas_id: int, start: str) -> str:
    return course_toml(canvas_id, LADOK, start, extra="final_grade_delay_days = 0")


def test_a_retake_course_grade_goes_out_when_the_old_room_has_left_the_config(
        service, canvas):
    old, new, user, sis = 711, 712, 1001, "19900101-1001"
    service.configure(room_toml(old, "2025-09-01") + room_toml(new, "2026-01-19"))
    for room in (old, new):
        rest_course(canvas, students=1, course_id=room)
    autumn = dt.datetime(2025, 9, 8, 9, 0, tzinfo=dt.UTC)

    def passed(room: int, moment: int, handed: dt.datetime, grade: str = "G") -> list[dict]:
        return [submission_event(room, 300 + moment, user, handed),
                grade_event(room, 300 + moment, user, grade, handed + dt.timedelta(days=1),
                            sis_id=sis)]

    setup = [assignment_event(room, 300 + m, f"Kmom{m:02d}", autumn)
             for room in (old, new) for m in MOMENTS]
    term_one = [e for w, m in enumerate((1, 2, 3, 4, 5), start=1)
                for e in passed(old, m, autumn + dt.timedelta(weeks=w))]
    term_one += passed(old, 6, autumn + dt.timedelta(weeks=6), grade="U")
    server = service.start()
    service.post(server, setup + term_one)
    service.cli("export")  # run 1: module 2205 from the old room
    project = dt.datetime(2026, 2, 1, 10, 0, tzinfo=dt.UTC)
    re_exam = dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.UTC)
    service.post(server, [submission_event(new, 310, user, project)]
                 + passed(old, 6, re_exam))  # the late re-exam, in the old room
    service.cli("export")  # run 2: module 2215 from the old room, dated 1 March
    service.post(server, [grade_event(new, 310, user, "B", dt.datetime(
        2026, 3, 25, 10, 0, tzinfo=dt.UTC), sis_id=sis)])  # the project, graded last
    service.configure(room_toml(new, "2026-01-19"))  # the old room's term is over

    service.cli("export")

    assert service.runs() == [1, 2, 3]
    assert reported(service, 2) == {(LADOK, "2215", sis, "G", "2026-03-01")}
    assert reported(service, 3) == {(LADOK, "2225", sis, "B", "2026-02-01"),
                                    (LADOK, LADOK, sis, "B", "2026-03-01")}


# --- 5. a rename onto another moment's name keeps every result --------------------------


def test_a_rename_onto_another_moments_name_withdraws_nothing(service, canvas):
    rest_course(canvas, students=3)
    server = service.start()
    service.post(server, term(3))
    service.cli("export")
    typo = TERM_START + dt.timedelta(weeks=12)
    service.post(server, [assignment_event(565, 303, "Kmom02", typo)])

    after_typo = service.cli("export")
    listed = Service.api(server, "/api/courses/565/preview")["renamed_assignments"]
    service.post(server, [assignment_event(565, 303, "Kmom03", typo + dt.timedelta(hours=1))])
    after_fix = service.cli("export")

    assert service.runs() == [1]
    assert "nothing new" in after_typo.stdout and "nothing new" in after_fix.stdout
    assert listed == [{"course": 565, "code": "note.renamed",
                       "note": 'assignment 303 renamed to "Kmom02": still '
                       'counted as kmom03; map it in `assignments` (303 = "kmom03") or '
                       "rename it back"}]
    assert Service.api(server, "/api/courses/565/preview")["renamed_assignments"] == []
