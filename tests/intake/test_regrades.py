"""A re-saved passing grade keeps its examination date; a real change of the grade moves it.

The examination date is the last hand-in before the current grade was first posted. Saving the
same grade again (another score, no score at all, another grader, after a resubmission) must not
move it, or Ladok gets a "correction" that changes nothing but the date.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from plugin.demo.live_events import assignment_event, grade_event, submission_event
from plugin.export.run import run_export
from plugin.intake.apply import apply_pending
from plugin.store.models import Submission
from tests.conftest import ADMIN_TOKEN, post_event

# The student is named by no event: every export asks Canvas, which does not know them either.
pytestmark = pytest.mark.usefixtures("canvas_users_unknown")
COURSE = 201
ASSIGNMENT = 20101
STUDENT = 7001
SIS = "19900101-7001"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
CONFIG = """[canvas]
url = "https://canvas.example.edu"

[[courses]]
canvas_id = 201
ladok_code = "DV2001"
start = 2025-01-20
final_grade_delay_days = 0

  [[courses.modules]]
  code = "M1"
  name = "Inlämning"
  credits = 2.5
  scale = "GU"
  moments = ["kmom01"]
"""


def utc(day: int, month: int = 3) -> dt.datetime:
    return dt.datetime(2025, month, day, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    """Course 201 (DV2001): one G/U module M1 = kmom01, course grades at once."""
    path = tmp_path / "canvas-ladok.toml"
    path.write_text(CONFIG)
    return path


def post_all(client, *events: dict) -> None:
    for event in events:
        assert post_event(client, event).status_code == 202
    apply_pending(client.application.extensions["canvas_ladok"].store)


def resubmission(day: int) -> dict:
    """`submission_updated`: the student hands in a second attempt."""
    event = submission_event(COURSE, ASSIGNMENT, STUDENT, utc(day))
    event["metadata"]["event_name"] = "submission_updated"
    event["body"]["attempt"] = 2
    return event


def regrade(grade: str, day: int, **body) -> dict:
    """A `grade_change` to `grade` (score 9 unless given) by the same grader."""
    event = grade_event(COURSE, ASSIGNMENT, STUDENT, grade, utc(day),
                        score=body.pop("score", 9), sis_id=SIS)
    event["body"].update(body)
    return event


def posted_update_without_score(grade: str, day: int) -> dict:
    """A `submission_updated` carrying a posted grade and no `score` key at all."""
    event = submission_event(COURSE, ASSIGNMENT, STUDENT, utc(day))
    event["metadata"]["event_name"] = "submission_updated"
    del event["body"]["submitted_at"]
    event["body"].update(grade=grade, workflow_state="graded",
                         posted_at=utc(day).isoformat(), graded_at=utc(day).isoformat())
    return event


def first_posted(store) -> dt.datetime:
    """The stored time the student's current kmom01 grade was first posted."""
    with store.read() as session:
        return session.get(Submission, (COURSE, ASSIGNMENT, STUDENT)).grade_since


def tsv(settings, summary, name: str) -> list[list[str]]:
    path = Path(settings.export_dir) / str(summary.run_id) / name
    return [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def exported_g(client, store, settings):
    """Steps 1-3 of the report: handed in 2 March, G posted 12 March, exported."""
    post_all(client,
             assignment_event(COURSE, ASSIGNMENT, "Kmom01", utc(1), points_possible=10),
             submission_event(COURSE, ASSIGNMENT, STUDENT, utc(2)),
             grade_event(COURSE, ASSIGNMENT, STUDENT, "G", utc(12), score=10, sis_id=SIS))
    first = run_export(store, settings, now=utc(13))
    assert tsv(settings, first, "ladok-report.tsv") == [
        ["DV2001", "M1", SIS, "G", "2025-03-02", "900"]]
    return first


def test_same_g_re_saved_with_another_score_after_a_resubmission_keeps_the_date(
        client, store, settings, exported_g):
    post_all(client, resubmission(20), regrade("G", 22, old_grade="G", score=9, old_score=10))

    again = run_export(store, settings, now=utc(23))

    assert again.nothing_new and again.files == [], again.counts
    assert first_posted(store) == utc(12)
    report = client.get(f"/api/courses/{COURSE}/students/{STUDENT}", headers=AUTH).json
    moment = report["moments"][0]
    assert moment["exam_date"] == "2025-03-02"
    assert moment["date_reason"] == (
        "handed in 2025-03-02, the last hand-in before the grade was first posted "
        "(2025-03-12); later hand-ins (2025-03-20) and events that left the grade as it was "
        "do not move it")
    assert report["modules"][0]["status"] == "exported"


def test_same_g_posted_again_without_a_score_keeps_the_date(client, store, settings,
                                                             exported_g):
    post_all(client, resubmission(20), posted_update_without_score("G", 22))

    again = run_export(store, settings, now=utc(23))

    assert again.nothing_new, again.counts
    assert first_posted(store) == utc(12)
    report = client.get(f"/api/courses/{COURSE}/students/{STUDENT}", headers=AUTH).json
    assert report["modules"][0]["exam_date"] == "2025-03-02"


def test_same_g_re_saved_by_another_grader_keeps_the_date_and_the_exported_graders(
        client, store, settings, exported_g):
    post_all(client, resubmission(20), regrade("g", 22, grader_id=None))
    assert run_export(store, settings, now=utc(23)).nothing_new
    assert first_posted(store) == utc(12)


def test_g_then_u_then_g_starts_a_new_first_posted_time(client, store, settings, exported_g):
    post_all(client, resubmission(20), regrade("U", 21), regrade("G", 22))

    again = run_export(store, settings, now=utc(23))

    assert again.counts == {"correction": 1}
    assert first_posted(store) == utc(22)
    assert tsv(settings, again, "corrections.tsv") == [
        ["DV2001", "M1", SIS, "G", "2025-03-20", "900"]]


def test_g_withdrawn_by_a_u_then_g_again_is_a_correction_with_the_new_date(
        client, store, settings, exported_g):
    post_all(client, regrade("U", 14))
    assert run_export(store, settings, now=utc(15)).counts == {"withdrawn": 1}
    post_all(client, resubmission(20), regrade("G", 22))

    again = run_export(store, settings, now=utc(23))

    assert tsv(settings, again, "corrections.tsv") == [
        ["DV2001", "M1", SIS, "G", "2025-03-20", "900"]]


def test_g_hidden_after_export_then_shown_again_is_a_correction_with_the_same_date(
        client, store, settings, exported_g):
    post_all(client, regrade("G", 14, score=10, muted=True))
    assert run_export(store, settings, now=utc(15)).counts == {"withdrawn": 1}
    post_all(client, regrade("G", 16, score=10))

    again = run_export(store, settings, now=utc(17))

    assert again.counts == {"correction": 1}  # Ladok was told to withdraw it: tell it again
    assert tsv(settings, again, "corrections.tsv") == [
        ["DV2001", "M1", SIS, "G", "2025-03-02", "900"]]
