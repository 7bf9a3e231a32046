"""Reads never write: the preview, the student report and the export list take no write lock
and change nothing; events still waiting to be applied are counted, not applied."""

from __future__ import annotations

import datetime as dt

import pytest

from plugin.cli import main
from plugin.demo.live_events import grade_event
from plugin.export.run import run_export
from tests.conftest import ADMIN_TOKEN, post_event, sign_in
from tests.helpers import WRITES, hold_sqlite_write_lock, statements_during, term

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
READS = ("/api/courses/565/preview", "/api/courses/565/students/1001", "/api/exports")
LATER = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


@pytest.fixture
def exported_then_regraded(post_all, client, store, settings):
    """A term applied and exported once, then a new project grade received, not yet applied."""
    post_all(term(3))
    run_export(store, settings, now=LATER)
    regrade = grade_event(565, 310, 1001, "A", LATER, sis_id="19900101-1001")
    assert post_event(client, regrade).status_code == 202


def read_all(client) -> list:
    return [client.get(path, headers=AUTH) for path in READS]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_reads_answer_while_another_connection_holds_the_sqlite_write_lock(
        exported_then_regraded, client, app):
    blocker = hold_sqlite_write_lock(app)
    try:
        answers = read_all(client)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert [a.status_code for a in answers] == [200, 200, 200]
    preview, student, exports = (a.json for a in answers)
    assert preview["pending_events"] == student["pending_events"] == 1
    assert len(exports["runs"]) == 1


def test_reads_send_no_write_statement_and_take_no_lock(exported_then_regraded, client, app):
    sent, answers = statements_during(app, lambda: read_all(client))
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert sent and [s for s in sent if WRITES.search(s)] == []


def test_a_read_decides_as_if_the_waiting_event_were_applied(exported_then_regraded, post_all,
                                                             client):
    def project_lines(body: dict) -> list[tuple]:
        return [(r["grade"], r["status"]) for r in body["results"]
                if (r["canvas_user_id"], r["component_code"]) == (1001, "2225")]

    def project(report: dict) -> tuple:
        return next((m["grade"], m["state"]) for m in report["modules"] if m["code"] == "2225")

    before = client.get("/api/courses/565/preview", headers=AUTH).json
    student_before = client.get("/api/courses/565/students/1001", headers=AUTH).json
    assert before["pending_events"] == student_before["pending_events"] == 1
    assert project_lines(before) == [("A", "correction")]
    assert project(student_before) == ("A", "correction")
    post_all([])  # the scheduler applies the waiting event
    after = client.get("/api/courses/565/preview", headers=AUTH).json
    assert after["pending_events"] == 0 and project_lines(after) == [("A", "correction")]
    assert {k: v for k, v in before.items() if k != "pending_events"} == {
        k: v for k, v in after.items() if k != "pending_events"}


def test_a_dry_run_from_the_command_line_says_how_many_events_wait(exported_then_regraded,
                                                                   runner):
    result = runner.invoke(main, ["export", "--dry-run", "--course", "565"])
    assert result.exit_code == 0, result.output
    assert "events received but not yet applied (counted above as if they were): 1" in result.output


def test_a_backlog_too_large_to_fold_is_shown_as_the_store_holds_it(
        exported_then_regraded, client, monkeypatch):
    from plugin.reports import course, course_cache, student
    from plugin.web import admin

    for module in (course, course_cache, student, admin):
        monkeypatch.setattr(module, "READ_FOLD_LIMIT", 0)  # the one waiting event is too many
    preview = client.get("/api/courses/565/preview", headers=AUTH).json
    report = client.get("/api/courses/565/students/1001", headers=AUTH).json
    assert (preview["pending_events"], preview["pending_counted"]) == (1, False)
    assert (report["pending_events"], report["pending_counted"]) == (1, False)
    assert not [r for r in preview["results"] if r["component_code"] == "2225"]
    page = sign_in(client.application.test_client(), {"kind": "admin"}).get("/courses/565")
    assert "1 Canvas event is still waiting to be applied: the numbers below may lag" in page.text
