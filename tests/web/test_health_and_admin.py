"""Health, metrics, and the admin API's bearer-token guard."""

from __future__ import annotations

import datetime as dt

from plugin.jobs import heartbeat
from plugin.store.models import Job
from tests.conftest import ADMIN_TOKEN, load_fixture, post_event


def test_healthz_reports_ok_when_database_answers_and_the_scheduler_beats(client, store):
    heartbeat.beat(store)
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok"}


def test_healthz_is_degraded_when_a_job_waits_over_five_minutes(client, store):
    old = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=6)
    with store.write() as session:
        session.add(Job(kind="export", state="queued", created_at=old))
    assert client.get("/healthz").json["status"] == "degraded"


def test_metrics_count_events_by_type_and_outcome(client):
    post_event(client, load_fixture("grade_change"))
    text = client.get("/metrics").get_data(as_text=True)
    assert 'canvas_ladok_events_total{event_name="grade_change",outcome="accepted"}' in text
    assert "canvas_ladok_webhook_seconds_bucket" in text


def test_admin_api_without_token_answers_401(client):
    response = client.get("/api/ping")
    assert response.status_code == 401 and response.json["error"]


def test_admin_api_with_wrong_token_answers_403(client):
    response = client.get("/api/ping", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 403 and "nope" not in response.get_data(as_text=True)


def test_admin_api_accepts_any_configured_token(client):
    for token in (ADMIN_TOKEN, "other-token"):
        response = client.get("/api/ping", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200


def test_unknown_route_answers_json_404(client):
    response = client.get("/nowhere")
    assert response.status_code == 404 and response.json["error"]


def test_healthz_says_starting_from_a_start_until_the_first_beat(client, store):
    now = dt.datetime.now(dt.UTC)
    heartbeat.beat(store, now - dt.timedelta(minutes=30))  # the last run's beat, long ago
    assert client.get("/healthz").json["status"] == "degraded"
    heartbeat.mark_starting(store)
    assert client.get("/healthz").json == {"status": "starting",
                                           "reason": "the scheduler process is starting"}
    heartbeat.beat(store)
    assert client.get("/healthz").json == {"status": "ok"}


def test_a_start_without_a_beat_for_five_minutes_is_degraded(client, store):
    heartbeat.mark_starting(store, dt.datetime.now(dt.UTC) - dt.timedelta(minutes=6))
    assert client.get("/healthz").json == {
        "status": "degraded",
        "reason": "the scheduler process did not start (no heartbeat within 5 minutes)"}


def test_the_overview_page_shows_starting(admin_client, store):
    heartbeat.mark_starting(store)
    page = admin_client.get("/").get_data(as_text=True)
    assert 'class="state state-health-starting">starting<' in page
