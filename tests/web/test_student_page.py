"""GET /me: a student's own status page after a Learner's launch, in English and Swedish."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from plugin.demo.live_events import grade_event
from plugin.export.run import run_export
from plugin.intake.apply import apply_pending
from plugin.settings import cron_trigger
from plugin.web import me
from tests.conftest import ADMIN_TOKEN, post_event, sign_in
from tests.fake_platform import config_file, environ  # noqa: F401  (the LTI-enabled tool)
from tests.helpers import term

NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
LATER = dt.datetime(2026, 1, 20, 9, 0, tzinfo=dt.UTC)  # after the demo term's grades


@pytest.fixture
def fixed_now(monkeypatch):
    monkeypatch.setattr(me, "utcnow", lambda: NOW)


def sign_in_as_student(client, user: int, course: int = 565) -> None:
    sign_in(client, {"kind": "student", "course": course, "user": user}, "x", lti=True)


def post_all(client, events) -> None:
    """POST the events and apply them, as the worker would."""
    for event in events:
        assert post_event(client, event).status_code == 202
    apply_pending(client.application.extensions["canvas_ladok"].store)


def api_report(client, user: int) -> dict:
    return client.get(f"/api/courses/565/students/{user}",
                      headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).json


def local_date(iso: str) -> str:
    return dt.datetime.fromisoformat(iso).astimezone(ZoneInfo("Europe/Stockholm")).date()


def test_page_says_what_is_missing_per_moment(client, app, settings, fixed_now):
    post_all(client, term(3))
    # Student 3 has PG on kmom03 (from the autograder); hide kmom01 and fail kmom02.
    post_all(client, [grade_event(565, 301, 1003, "G", LATER, muted=True),
                      grade_event(565, 302, 1003, "U", LATER)])
    sign_in_as_student(client, 1003)
    html = client.get("/me").get_data(as_text=True)
    assert "PG: a preliminary pass from the automatic tests" in html
    assert "the grade is hidden or removed" in html
    assert "Not passed (grade U)" in html
    assert "Not earned yet" in html
    assert "attested by the examiner" in html and "Ladok for students" in html
    assert "19900101-1003" not in html and "19900101" not in html


def test_page_says_when_each_result_went_or_goes_to_ladok(client, app, settings, fixed_now):
    post_all(client, term(3))
    store = app.extensions["canvas_ladok"].store
    run_export(store, settings)
    post_all(client, [grade_event(565, 310, 1002, "A", LATER)])  # a changed project grade
    sign_in_as_student(client, 1001)
    html = client.get("/me").get_data(as_text=True)
    report = api_report(client, 1001)
    sent = local_date(report["modules"][0]["exports"][0]["exported_at"])
    assert f"Sent to Ladok's reporting on {sent}" in html
    due = dt.datetime.fromisoformat(report["course_grade"]["due"])
    expected = cron_trigger(settings.export_schedule, settings.timezone).get_next_fire_time(
        None, max(NOW, due)).date()
    assert f"Goes to Ladok once the module results are attested, with the nightly export on " \
           f"{expected}" in html
    sign_in_as_student(client, 1002)
    html = client.get("/me").get_data(as_text=True)
    tonight = cron_trigger(settings.export_schedule, settings.timezone).get_next_fire_time(
        None, NOW).date()
    assert f"a correction goes with the nightly export on {tonight}" in html
    assert "Earned: A" in html


def test_page_for_an_earned_result_not_yet_exported_names_the_next_nightly_run(client, settings,
                                                                              fixed_now):
    post_all(client, term(1))
    sign_in_as_student(client, 1001)
    html = client.get("/me").get_data(as_text=True)
    assert "Goes to Ladok's reporting with the nightly export on 2026-03-11" in html
    assert "Earned: G" in html


def test_page_in_swedish(client, fixed_now):
    post_all(client, term(3))
    sign_in_as_student(client, 1003)
    html = client.get("/me", headers={"Accept-Language": "sv-SE,sv;q=0.9,en;q=0.5"}).get_data(
        as_text=True)
    assert 'lang="sv"' in html and "Mina resultat i DV1531" in html
    assert "preliminärt godkänt" in html and "Ladok för studenter" in html
    assert "Slutbetyg" in html


def test_student_without_grades_gets_a_page_saying_so(client):
    sign_in_as_student(client, 4242)
    response = client.get("/me")
    assert response.status_code == 200
    assert "No grades are recorded for you" in response.get_data(as_text=True)


def test_page_needs_a_student_session(client):
    assert client.get("/me").status_code == 404
    sign_in(client, {"kind": "course", "course": 565})
    assert client.get("/me").status_code == 404


def test_student_of_a_course_no_longer_configured_gets_404(client):
    sign_in_as_student(client, 1001, course=424242)
    assert client.get("/me").status_code == 404


def test_a_held_back_student_is_told_the_identity_is_missing_and_no_date(client, app,
                                                                          fixed_now):
    post_all(client, term(2))
    store = app.extensions["canvas_ladok"].store
    from plugin.store.models import User
    with store.write() as session:
        session.get(User, 1001).sis_user_id = None
    sign_in_as_student(client, 1001)
    html = client.get("/me").get_data(as_text=True)
    assert html.count("your Ladok identity is missing in Canvas") == 4  # 3 modules, the grade
    assert "nightly export on" not in html


def test_page_says_when_grades_are_still_being_processed(client):
    post_all(client, term(1))
    assert post_event(client, grade_event(565, 302, 1001, "U", LATER)).status_code == 202
    sign_in_as_student(client, 1001)
    assert "may not be shown yet" in client.get("/me").get_data(as_text=True)
