"""The admin API: re-sync and export jobs, runs and files, preview and student reports."""

from __future__ import annotations

import datetime as dt

import pytest

from plugin.demo.live_events import grade_event
from plugin.export.run import run_export
from plugin.jobs.worker import run_pending
from tests.conftest import ADMIN_TOKEN, post_event
from tests.helpers import term

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def test_resync_returns_the_queued_job_for_the_same_course(client):
    first = client.post("/api/courses/565/resync", json={"mode": "incremental"}, headers=AUTH)
    second = client.post("/api/courses/565/resync", headers=AUTH)
    assert first.status_code == second.status_code == 202
    assert first.json["job"] == second.json["job"]
    job = client.get(f"/api/jobs/{first.json['job']}", headers=AUTH).json
    assert job["state"] == "queued" and job["kind"] == "resync" and job["course"] == 565
    assert set(job) >= {"id", "progress", "error", "started_at", "finished_at"}


@pytest.mark.parametrize("path, body, status", [
    ("/api/courses/999/resync", {}, 404),
    ("/api/courses/565/resync", {"mode": "sometimes"}, 400),
    ("/api/courses/565/resync", [1], 400),
    ("/api/exports", {"course": "565"}, 400),
    ("/api/exports", {"dry_run": "yes"}, 400),
    ("/api/exports", {"course": 999}, 404),
])
def test_bad_admin_requests_answer_4xx_with_error(client, path, body, status):
    response = client.post(path, json=body, headers=AUTH)
    assert response.status_code == status and response.json["error"]


def test_course_not_configured_answers_404_with_reason(client):
    response = client.get("/api/courses/999/preview", headers=AUTH)
    assert response.status_code == 404 and response.json["error"] == "course not configured"


def test_export_job_runs_in_the_worker_and_its_files_download(post_all, client, app, settings):
    post_all(term(3))
    created = client.post("/api/exports", json={"course": 565}, headers=AUTH)
    assert created.status_code == 201
    store = app.extensions["canvas_ladok"].store
    assert run_pending(store, settings, "test-worker") == 1
    job = client.get(f"/api/jobs/{created.json['job']}", headers=AUTH).json
    assert job["state"] == "succeeded", job
    run_id = job["progress"]["run"]
    run = client.get(f"/api/exports/{run_id}", headers=AUTH).json
    assert "ladok-report.tsv" in run["files"]
    listed = client.get("/api/exports", headers=AUTH).json["runs"]
    assert [r["id"] for r in listed] == [run_id]
    tsv = client.get(f"/api/exports/{run_id}/files/ladok-report.tsv", headers=AUTH)
    assert tsv.status_code == 200 and tsv.data.decode().startswith("DV1531\t")
    missing = client.get(f"/api/exports/{run_id}/files/secrets.txt", headers=AUTH)
    assert missing.status_code == 404


def test_another_instance_serves_a_run_without_local_files(post_all, client, app, settings):
    post_all(term(3))
    store = app.extensions["canvas_ladok"].store
    run = run_export(store, settings)
    import shutil

    shutil.rmtree(f"{settings.export_dir}/{run.run_id}")
    response = client.get(f"/api/exports/{run.run_id}/files/rapporteringsunderlag.csv",
                          headers=AUTH)
    assert response.status_code == 200 and "DV1531" in response.data.decode("utf-8-sig")


def test_dry_run_answers_200_with_results_and_creates_nothing(post_all, client):
    post_all(term(3))
    response = client.post("/api/exports", json={"dry_run": True}, headers=AUTH)
    assert response.status_code == 200
    assert response.json["results"] and response.json["counts"]["new"] > 0
    assert client.get("/api/exports", headers=AUTH).json["runs"] == []


def test_preview_lists_results_manual_grades_and_unmapped_assignments(post_all, client):
    post_all(term(3))
    event = grade_event(565, 777, 1001, "G", dt.datetime(2025, 10, 1, tzinfo=dt.UTC),
                        assignment_name="Extra quiz")
    post_event(client, event)
    hidden = grade_event(565, 301, 1003, "G", dt.datetime(2026, 1, 1, tzinfo=dt.UTC), muted=True)
    post_event(client, hidden)
    waiting = client.get("/api/courses/565/preview", headers=AUTH).json
    post_all([])  # the scheduler applies the two events
    body = client.get("/api/courses/565/preview", headers=AUTH).json
    assert (waiting["pending_events"], body["pending_events"]) == (2, 0)
    for found in (waiting, body):  # decided alike, before and after the events are applied
        assert {"course": 565, "assignment_id": 777} in found["unmapped_assignments"]
        assert any(m["user_id"] == 1003 for m in found["manual"])
        assert found["results"] and found["withdrawals"] == []
    assert {k: v for k, v in waiting.items() if k != "pending_events"} == {
        k: v for k, v in body.items() if k != "pending_events"}


def test_student_report_says_why_not_and_where_exported(post_all, client, app, settings):
    post_all(term(3))
    store = app.extensions["canvas_ladok"].store
    run = run_export(store, settings)
    report = client.get("/api/courses/565/students/1003", headers=AUTH).json
    first, second = report["modules"][0], report["modules"][1]
    assert not first["earned"] and "PG" in first["reason"]
    assert second["status"] == "exported" and second["exports"][0]["run"] == run.run_id
    assert report["course_grade"]["status"] == "not earned"
    passed = client.get("/api/courses/565/students/1001", headers=AUTH).json
    assert "waiting for module attestation" in passed["course_grade"]["status"]
    assert client.get("/api/courses/565/students/4242", headers=AUTH).status_code == 404


def test_ids_beyond_any_stored_id_answer_404(client):
    huge = 10**30
    assert client.get(f"/api/jobs/{huge}", headers=AUTH).status_code == 404
    assert client.get(f"/api/exports/{huge}", headers=AUTH).status_code == 404


def test_student_report_accepts_a_home_shard_global_user_id(post_all, client):
    post_all(term(1))
    local = client.get("/api/courses/565/students/1001", headers=AUTH)
    global_ = client.get("/api/courses/565/students/21070000000001001", headers=AUTH)
    assert local.status_code == global_.status_code == 200
    assert global_.json == local.json and global_.json["user_id"] == 1001
    other_shard = client.get("/api/courses/565/students/31070000000001001", headers=AUTH)
    assert other_shard.status_code == 404 and other_shard.json["error"]
