"""A course session sees its own Canvas course only: runs, receipts, jobs and downloads, even in
a run of every course that also covers another course room sharing its Ladok code."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from plugin.demo.live_events import enrollment_event, grade_event, submission_event
from plugin.export.run import run_export
from plugin.jobs import queue
from plugin.status import EXPORT, RESYNC
from plugin.store.models import LedgerEntry
from tests.conftest import COURSE_TOML
from tests.helpers import TERM_START, course_toml, term

ROOM = 566  # a second Canvas room of the same Ladok course (DV1531) as 565
ROOM_NAME = "Rumtva Elev"  # its students' names: never on a page of course 565
ROOM_IDENTITY = "19950505-2"


@pytest.fixture
def config_file(tmp_path):
    """The test courses and a second room of DV1531."""
    path = tmp_path / "canvas-ladok.toml"
    path.write_text(COURSE_TOML + course_toml(ROOM, "DV1531", "2019-09-01",
                                              'assignments = { "355" = "kmom01" }'))
    return path


def room_term(first: int, last: int) -> list[dict]:
    """Students first..last of room 566 (Canvas users 2000 + n), each with every module
    moment of the test course passed."""
    events = [event for event in term(1, ROOM) if event["metadata"]["event_name"]
              == "assignment_updated"]
    for n in range(first, last + 1):
        user = 2000 + n
        events.append(enrollment_event(ROOM, user, f"{ROOM_NAME} {n}", TERM_START))
        for moment in (1, 2, 3, 4, 5, 6, 10):
            events.append(submission_event(ROOM, 300 + moment, user, TERM_START))
            events.append(grade_event(ROOM, 300 + moment, user, "G" if moment != 10 else "B",
                                      TERM_START, sis_id=f"{ROOM_IDENTITY}{n:03d}"))
    return events


@pytest.fixture
def runs(post_all, store, settings):
    """A nightly run of every course (565's and 566's lines), then a run of room 566 alone;
    their ids as (every course, room 566)."""
    post_all(term(2) + room_term(1, 2))
    everyone = run_export(store, settings, trigger="schedule")
    post_all(room_term(3, 3))
    room = run_export(store, settings, course_id=ROOM, trigger="manual")
    assert everyone.run_id and room.run_id and room.files
    return everyone.run_id, room.run_id


def test_the_receipt_of_a_run_of_every_course_shows_the_course_its_own_lines(
        course_client, admin_client, runs):
    everyone, _ = runs
    full = admin_client.get(f"/exports/{everyone}").text
    assert ROOM_NAME in full and "Student 1" in full  # both rooms are in the run
    own = course_client.get(f"/exports/{everyone}").text
    assert "Student 1" in own and "Student 2" in own
    assert ROOM_NAME not in own and ROOM_IDENTITY not in own
    assert "DV1600" not in own
    # Students are links to their page in the room their line came from.
    rooms = set(re.findall(r'<a href="/courses/(\d+)/students/\d+">', full))
    assert rooms == {"565", str(ROOM)}
    assert set(re.findall(r'<a href="/courses/(\d+)/students/\d+">', own)) == {"565"}
    assert "every course" in full and "course all" not in full


def test_another_rooms_run_is_404_with_its_files(course_client, admin_client, runs):
    _, room = runs
    assert admin_client.get(f"/exports/{room}").status_code == 200
    assert course_client.get(f"/exports/{room}").status_code == 404
    for name in ("ladok-report.tsv", "rapporteringsunderlag.csv"):
        assert admin_client.get(f"/exports/{room}/files/{name}").status_code == 200
        assert course_client.get(f"/exports/{room}/files/{name}").status_code == 404


def lines_of(store, run: int, course: int) -> int:
    with store.read() as session:
        return session.scalar(select(func.count()).select_from(LedgerEntry).where(
            LedgerEntry.run_id == run, LedgerEntry.course_id == course))


def test_the_runs_list_shows_the_course_its_own_runs_and_its_lines_of_shared_runs(
        course_client, admin_client, store, runs):
    everyone, room = runs
    assert lines_of(store, everyone, 565) and lines_of(store, everyone, ROOM)
    listed = course_client.get("/exports").text
    assert f'href="/exports/{everyone}"' in listed
    assert f'href="/exports/{room}"' not in listed
    assert f'href="/exports/{room}"' in admin_client.get("/exports").text
    row = re.search(rf'href="/exports/{everyone}".*?</tr>', listed, re.S).group()
    new = [int(n) for n in re.findall(r"<td>(\d+)</td>", row)]
    assert new[0] == lines_of(store, everyone, 565)  # not 566's as well


def test_another_rooms_jobs_and_jobs_of_every_course_are_404(course_client, admin_client,
                                                              store, runs):
    own, _ = queue.enqueue(store, RESYNC, 565, {"mode": "full"})
    other, _ = queue.enqueue(store, RESYNC, ROOM, {"mode": "full"})
    every, _ = queue.enqueue(store, EXPORT, None)
    assert course_client.get(f"/jobs/{own}").status_code == 200
    for job in (other, every):
        assert admin_client.get(f"/jobs/{job}").status_code == 200
        assert course_client.get(f"/jobs/{job}").status_code == 404
