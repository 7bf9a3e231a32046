"""The Canvas client: bulk reads with paging, the HTTP Date, faults, and a token kept secret."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
import requests
import responses

from plugin.canvas.client import CanvasClient, CanvasError
from tests.fake_canvas import (
    API,
    BASE,
    NOW,
    RATE_LIMITED,
    TOKEN,
    FakeCanvas,
)


@pytest.fixture
def client(sleeps) -> CanvasClient:
    """A client for the fake Canvas that records its waits instead of sleeping."""
    return CanvasClient(BASE, TOKEN, sleep=sleeps.append)


def test_submissions_page_by_link_headers_with_each_page_date(rsps, client):
    fake = FakeCanvas(rsps, students=250, assignments=3, step=dt.timedelta(seconds=5))
    students = list(client.course_students_submissions(565))
    assert [s.user.id for s in students] == fake.students
    assert len(rsps.calls) == 3
    first, second = rsps.calls[0].request, rsps.calls[1].request
    assert ("per_page=100" in first.url and "grouped=true" in first.url
            and "student_ids%5B%5D=all" in first.url and "include%5B%5D=user" in first.url)
    assert "page=2" in second.url and "grouped=true" in second.url
    assert first.headers["Authorization"] == f"Bearer {TOKEN}"
    assert first.req_kwargs["timeout"] == (10.0, 10.0)
    assert sorted({(s.page, s.date) for s in students}) == [
        (1, NOW), (2, NOW + dt.timedelta(seconds=5)), (3, NOW + dt.timedelta(seconds=10))]


def test_student_facts_and_submission_fields(rsps, client):
    fake = FakeCanvas(rsps, students=1, assignments=2)
    fake.grade(1001, 302, "PG", posted=False, score=3.5, grader_id=-77, excused=None)
    (student,) = client.course_students_submissions(565)
    assert student.user.facts() == {
        "name": "Student 1", "email": None, "sis_user_id": "19900101-0001",
        "integration_id": None, "login_id": "s1@student.example.edu"}
    first, second = student.submissions
    assert (first.assignment_id, first.grade, first.grader_id, first.excused) == (
        301, "G", 900, False)
    assert first.posted_at == NOW - dt.timedelta(days=2)
    assert first.submitted_at == NOW - dt.timedelta(days=3)
    assert (second.grade, second.score, second.posted_at, second.grader_id) == (
        "PG", 3.5, None, -77)
    assert first.content_hash != second.content_hash


def test_same_submission_read_twice_has_the_same_hash(rsps, client):
    FakeCanvas(rsps, students=1, assignments=1, step=dt.timedelta(seconds=1))
    (one,) = client.course_students_submissions(565)
    (two,) = client.course_students_submissions(565)
    assert one.submissions == two.submissions and one.date != two.date


def test_graded_since_is_sent_in_utc(rsps, client):
    FakeCanvas(rsps)
    since = dt.datetime(2025, 9, 1, 14, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    list(client.course_students_submissions(565, graded_since=since))
    assert "graded_since=2025-09-01T12%3A00%3A00%2B00%3A00" in rsps.calls[0].request.url


def test_assignments_graders_and_roster(rsps, client):
    FakeCanvas(rsps, assignments=120)
    assignments = client.course_assignments(565)
    assert len(assignments) == 120 and len(rsps.calls) == 2
    assert (assignments[0].id, assignments[0].name, assignments[0].points_possible) == (
        301, "Kmom01", 10.0)
    (grader,) = client.course_graders(565)
    url = rsps.calls[-1].request.url
    assert "enrollment_type%5B%5D=teacher" in url and "enrollment_type%5B%5D=ta" in url
    assert (grader.id, grader.name, grader.email) == (900, "Tea Cher", "tea@example.edu")
    [(asked, found)] = client.course_roster(565, [1002, 1099])
    url = rsps.calls[-1].request.url
    assert "user_ids%5B%5D=1002" in url and "enrollment_state%5B%5D=completed" in url
    assert asked == [1002, 1099]
    assert [(u.id, u.name, u.sis_user_id) for u in found] == [(1002, "Student 2",
                                                               "19900101-0002")]


def test_a_roster_lookup_asks_for_a_page_of_students_at_a_time(rsps, client):
    fake = FakeCanvas(rsps, students=250)
    pages = list(client.course_roster(565, fake.students))
    assert [len(asked) for asked, _ in pages] == [100, 100, 50]
    assert sum(len(found) for _, found in pages) == 250
    assert len(rsps.calls) == 3 and fake.roster_asked == [a for a, _ in pages]


@pytest.mark.parametrize("answer, wait", [
    (RATE_LIMITED, 1.0),
    ((403, {"Retry-After": "4"}, "403 Forbidden (Rate Limit Exceeded)"), 4.0),
    ((429, {"Retry-After": "7"}, '{"errors": "Rate Limit Exceeded"}'), 7.0),
    ((429, {}, ""), 1.0),
])
def test_rate_limit_waits_then_retries(rsps, client, sleeps, answer, wait):
    fake = FakeCanvas(rsps)
    fake.fail("/assignments", answer)
    assert len(client.course_assignments(565)) == 2
    assert sleeps == [wait] and len(rsps.calls) == 2


def test_rate_limit_waits_double_and_are_bounded(rsps, client, sleeps):
    fake = FakeCanvas(rsps)
    fake.fail("/assignments", *[RATE_LIMITED] * 3, (429, {"Retry-After": "3600"}, ""))
    client.course_assignments(565)
    assert sleeps == [1.0, 2.0, 4.0, 60.0]


def test_rate_limit_that_never_ends_fails_clearly(rsps, client, sleeps):
    fake = FakeCanvas(rsps)
    fake.fail("/assignments", *[RATE_LIMITED] * 20)
    with pytest.raises(CanvasError, match=r"^course 565: Canvas rate limit still exceeded "
                                          r"after 8 waits \(403\)$"):
        client.course_assignments(565)
    assert len(sleeps) == 8 and max(sleeps) <= 60


def test_low_remaining_quota_slows_down(rsps, client, sleeps):
    rsps.add(responses.GET, f"{API}/courses/565/assignments", json=[],
             headers={"X-Rate-Limit-Remaining": "25.5"})
    client.course_assignments(565)
    assert sleeps == [pytest.approx(2.0 * (1 - 25.5 / 100))]


@pytest.mark.parametrize("fault", [
    (500, {}, "oops"), (502, {}, "bad gateway"), (503, {}, "unavailable"),
    requests.exceptions.ReadTimeout("read timed out"),
    requests.exceptions.ConnectTimeout("connect timed out"),
    requests.exceptions.ConnectionError("connection reset"),
])
def test_server_errors_and_timeouts_are_retried_with_backoff(rsps, client, sleeps, fault):
    fake = FakeCanvas(rsps, students=2)
    fake.fail("/students/submissions", fault, fault)
    assert len(list(client.course_students_submissions(565))) == 2
    assert sleeps == [0.5, 1.0] and len(rsps.calls) == 3


def test_retry_after_on_503_is_honoured(rsps, client, sleeps):
    fake = FakeCanvas(rsps)
    fake.fail("/assignments", (503, {"Retry-After": "5"}, ""))
    client.course_assignments(565)
    assert sleeps == [5.0]


@pytest.mark.parametrize("fault, message", [
    ((503, {}, ""), "HTTP 503"),
    (requests.exceptions.ReadTimeout("read timed out"), "ReadTimeout"),
])
def test_retries_exhausted_fail_clearly(rsps, client, sleeps, fault, message):
    fake = FakeCanvas(rsps)
    fake.fail("/students/submissions", *[fault] * 10)
    with pytest.raises(CanvasError) as caught:
        list(client.course_students_submissions(565))
    assert str(caught.value) == f"course 565: Canvas kept failing ({message}) after 5 attempts"
    assert len(rsps.calls) == 5 and sleeps == [0.5, 1.0, 2.0, 4.0]


@pytest.mark.parametrize("answer, message", [
    ((401, {"WWW-Authenticate": 'Bearer realm="canvas-lms"'},
      '{"errors": [{"message": "Invalid access token."}]}'), "Canvas refused the token (401)"),
    ((401, {}, "not json"), "Canvas refused the token (401)"),
    ((404, {}, '{"errors": [{"message": "The specified resource does not exist."}]}'),
     "course 565 not found in Canvas (404)"),
    ((403, {}, '{"status": "unauthorized"}'), "Canvas denied access to course 565 (403)"),
    ((400, {}, '{"errors": "bad"}'), "course 565: Canvas answered HTTP 400"),
    ((200, {}, "<html>maintenance</html>"), "course 565: unusable answer from Canvas"),
])
def test_refusals_fail_at_once_with_a_clear_message(rsps, client, sleeps, caplog, answer,
                                                    message):
    caplog.set_level(logging.DEBUG)
    fake = FakeCanvas(rsps)
    fake.fail("/students/submissions", answer)
    with pytest.raises(CanvasError) as caught:
        list(client.course_students_submissions(565))
    assert str(caught.value).startswith(message)
    assert caught.value.status == answer[0] and len(rsps.calls) == 1 and sleeps == []
    assert TOKEN not in str(caught.value) and TOKEN not in repr(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert "Request: GET" in caplog.text and TOKEN not in caplog.text


def test_unknown_course_roster_is_a_clear_404(rsps, client):
    FakeCanvas(rsps).fail("/roster", (404, {}, '{"errors": [{"message": "not found"}]}'))
    with pytest.raises(CanvasError, match=r"^course 565 roster not found in Canvas \(404\)$"
                       ) as caught:
        list(client.course_roster(565, [7]))
    assert caught.value.status == 404


def test_token_is_masked_in_every_log_record(rsps, client, caplog):
    caplog.set_level(logging.DEBUG)
    FakeCanvas(rsps)
    client.course_assignments(565)
    logging.getLogger("canvasapi.requester").warning("sent Bearer %s", TOKEN)
    logging.getLogger("plugin.canvas.client").error(f"token={TOKEN}")
    assert TOKEN not in caplog.text
    assert "sent Bearer [REDACTED]" in caplog.text and "token=[REDACTED]" in caplog.text


def test_missing_configuration_is_a_clear_error():
    with pytest.raises(CanvasError, match="canvas.url is not configured"):
        CanvasClient("", TOKEN)
    with pytest.raises(CanvasError, match="CANVAS_LADOK_CANVAS_TOKEN is not set"):
        CanvasClient(BASE, " ")
