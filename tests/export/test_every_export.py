"""What every export does first (nightly, CLI, API, page; real or dry): take in the events
received before it, then fill from Canvas what the store lacks, then decide. A dry run reads
only, and counts with one name are one number everywhere."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from plugin.cli import main
from plugin.demo.live_events import global_id, grade_event
from plugin.export.run import run_export
from plugin.intake.apply import apply_pending, pending_events
from plugin.jobs import queue, worker
from plugin.jobs.scheduler import nightly
from plugin.store.models import Assignment, ExportRun, User
from tests.conftest import ADMIN_TOKEN, post_event, sign_in
from tests.fake_canvas import FakeCanvas
from tests.helpers import MOMENTS, WRITES, statements_during, term
from tests.web.test_pages import cell_states, post_form

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
UNNAMED = {305, 310}  # assignments the events do not name: only Canvas does
# term(4): every module of students 1-3, and modules 2215 and 2225 of student 4 (PG on kmom03).
TERM_RESULTS = 11


def canvas_course(rsps, students: int = 4) -> FakeCanvas:
    """Canvas's REST view of the test course: KmomNN named, students named and identified."""
    fake = FakeCanvas(rsps, students=students)
    fake.assignments[:] = [{"id": 300 + m, "name": f"Kmom{m:02d}", "points_possible": 10.0}
                           for m in MOMENTS]
    for user in fake.students:
        fake.users[user] = {**fake.user_json(user), "name": f"Rest Name {user}",
                            "sis_user_id": f"19900101-{user:04d}"}
    return fake


def received(client, students: int = 4, *, names: bool = True) -> list[dict]:
    """Post a term whose events leave two assignments unnamed (and, without `names`, every
    student); nothing is applied yet."""
    events = [e for e in term(students) if not (
        e["metadata"]["event_name"] == "assignment_updated"
        and e["body"]["assignment_id"] in {global_id(a) for a in UNNAMED})]
    if not names:
        events = [e for e in events if e["metadata"]["event_name"] != "enrollment_created"]
    for item in events:
        assert post_event(client, item).status_code == 202
    return events


def run_of(store) -> dict:
    with store.read() as session:
        run = session.scalars(select(ExportRun)).one()
    return {"trigger": run.trigger, "counts": run.counts}


# --- order: apply, fill, decide ------------------------------------------------------------


def export_by_cli(runner, client, store, settings):
    result = runner.invoke(main, ["export"])
    assert result.exit_code == 0, result.output


def export_by_job(runner, client, store, settings):
    queue.enqueue(store, "export", None)
    assert worker.run_pending(store, settings) == 1


def export_by_api(runner, client, store, settings):
    assert client.post("/api/exports", json={}, headers=AUTH).status_code == 201
    assert worker.run_pending(store, settings) == 1


def export_by_page(runner, client, store, settings):
    page = sign_in(client.application.test_client(), {"kind": "admin"})
    preview = post_form(page, "/courses/565/preview")
    count = int(re.search(r'name="expected" value="(\d+)"', preview.text).group(1))
    assert count == TERM_RESULTS  # the preview shows what the export then writes
    assert post_form(page, "/courses/565/export", {"expected": str(count)}).status_code == 302
    assert worker.run_pending(store, settings) == 1


def export_nightly(runner, client, store, settings):
    assert nightly(store, settings) is not None


TRIGGERS = [export_by_cli, export_by_job, export_by_api, export_by_page, export_nightly]


@pytest.mark.parametrize("trigger", TRIGGERS, ids=lambda t: t.__name__)
def test_every_export_applies_the_events_then_fills_gaps_then_decides(
        rsps, runner, client, store, settings, trigger):
    canvas_course(rsps)
    received(client)
    trigger(runner, client, store, settings)
    assert run_of(store)["counts"] == f'{{"new": {TERM_RESULTS}}}'
    with store.read() as session:
        assert pending_events(session) == 0
        assert session.get(Assignment, (565, 310)).name == "Kmom10"


def test_the_export_fills_the_names_of_students_the_events_did_not_name(
        rsps, client, store, settings):
    fake = canvas_course(rsps)
    received(client, names=False)
    summary = run_export(store, settings)
    rows = open(f"{settings.export_dir}/{summary.run_id}/rapporteringsunderlag.csv",
                encoding="utf-8-sig").read()
    assert all(f"Rest Name {u}" in rows for u in fake.students)
    assert len(fake.roster_asked) == 1  # one roster request for the page of four students


# --- a dry run reads only --------------------------------------------------------------------


def test_a_dry_run_decides_as_if_the_events_were_applied_and_writes_nothing(
        rsps, runner, client, app, store, settings):
    canvas_course(rsps)
    events = received(client, names=False)
    statements, api = statements_during(app, lambda: client.post(
        "/api/exports", json={"dry_run": True}, headers=AUTH).json)
    cli = runner.invoke(main, ["export", "--dry-run"])

    assert [s for s in statements if WRITES.search(s)] == []
    assert api["pending_events"] == len(events) and len(api["results"]) == TERM_RESULTS
    assert {r["student_name"] for r in api["results"]} == {
        f"Rest Name {u}" for u in range(1001, 1005)}
    assert f"(counted above as if they were): {len(events)}" in cli.output
    with store.read() as session:  # nothing applied, nothing Canvas said was kept
        assert pending_events(session) == len(events)
        assert session.scalar(select(func.count()).select_from(User)) == 0
        assert session.get(Assignment, (565, 310)) is None
    real = run_export(store, settings)
    assert sorted((r["component_code"], r["student_id"], r["grade"], r["exam_date"])
                  for r in api["results"]) == sorted(
        (line[1], line[2], line[3], line[4]) for line in tsv_lines(settings, real.run_id))


def tsv_lines(settings, run_id: int) -> list[list[str]]:
    with open(f"{settings.export_dir}/{run_id}/ladok-report.tsv", encoding="utf-8") as fh:
        return [line.rstrip("\n").split("\t") for line in fh]


# --- counts with one name ----------------------------------------------------------------------


def test_course_grades_waiting_for_attestation_are_one_number_everywhere(
        rsps, runner, client, store, settings):
    canvas_course(rsps, students=5)
    for item in term(5):
        post_event(client, item)
    apply_pending(store)
    run_export(store, settings)  # four course grades start waiting for attestation
    post_event(client, grade_event(565, 310, 1002, "A", dt.datetime(2026, 1, 10, tzinfo=dt.UTC)))
    admin = sign_in(client.application.test_client(), {"kind": "admin"})

    course_page = cell_states(admin.get("/courses/565").text)
    preview_page = post_form(admin, "/courses/565/preview").text
    json_preview = client.get("/api/courses/565/preview", headers=AUTH).json
    cli = runner.invoke(main, ["export", "--dry-run", "--course", "565"]).output

    on_course_page = sum(1 for (_u, code), s in course_page.items()
                         if code == "DV1531" and s == "attestation")
    on_preview_page = int(re.search(r"(\d+) course grades? waits? for module attestation",
                                    preview_page).group(1))
    in_cli = int(re.search(r"course grades waiting for attestation\s+(\d+)", cli).group(1))
    assert on_course_page == on_preview_page == len(json_preview["waiting"]) == in_cli == 4


def test_a_preview_says_what_canvas_could_not_tell_without_keeping_anyone_waiting(
        rsps, client):
    canvas_course(rsps).fail("/roster", (503, {}, ""), (503, {}, ""))
    received(client, names=False)
    body = client.post("/api/exports", json={"dry_run": True}, headers=AUTH).json
    roster = [c for c in rsps.calls if "user_ids" in c.request.url]
    assert len(roster) == 1  # one try: no backing off while a person waits
    assert body["warnings"] == ["course 565: course 565 roster: Canvas answered HTTP 503"]
    assert body["results"] and {r["student_name"] for r in body["results"]} == {""}
