"""Alerts to mail.admins: each kind at most once an hour, from whichever process noted it."""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging

import requests
import responses
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import select

from plugin.canvas import client as canvas_client
from plugin.canvas.webhook_auth import AuthError, AuthSettings, WebhookAuthenticator
from plugin.intake.apply import apply_pending
from plugin.jobs import queue, worker
from plugin.jobs.mail_tick import listen, tick
from plugin.mail import alerts
from plugin.serve.server import note_scheduler_restart
from plugin.store.models import Job, MailAlert
from tests.conftest import post_event
from tests.fake_canvas import FakeCanvas
from tests.helpers import term
from tests.mail.conftest import ADMINS, send_from_stores
from tests.smtp_server import SMTP_PASSWORD, html_part, text_part

NOW = dt.datetime(2026, 3, 1, 3, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)


def titles(message) -> str:
    return str(message["Subject"])


def sent_kinds(smtp) -> list[str]:
    """The kind of each received alert, by its English title in the subject."""
    by_title = {english: kind for kind, (_, _, english, _) in alerts.KINDS.items()}
    return [by_title[titles(m).split("alert: ", 1)[1]] for m in smtp.received]


def test_each_kind_is_sent_at_most_once_an_hour_to_the_admins(store, settings, smtp):
    for kind in alerts.KINDS:
        alerts.note(store, settings, kind, f"{kind} happened", NOW)
        alerts.note(store, settings, kind, f"{kind} happened again", NOW + MINUTE)
    assert alerts.send_due(store, settings, NOW + 2 * MINUTE) == len(alerts.KINDS)
    for kind in alerts.KINDS:
        alerts.note(store, settings, kind, f"{kind} still happening", NOW + 10 * MINUTE)
    for minutes in (3, 30, 61):  # within the hour after each was sent
        assert alerts.send_due(store, settings, NOW + minutes * MINUTE) == 0
    assert alerts.send_due(store, settings, NOW + 62 * MINUTE) == len(alerts.KINDS)
    assert alerts.send_due(store, settings, NOW + 200 * MINUTE) == 0  # nothing new noted
    assert sorted(sent_kinds(smtp)) == sorted(list(alerts.KINDS) * 2)
    assert all(sorted(rcpts) == sorted(ADMINS) for _, rcpts in smtp.envelopes)
    first = text_part(smtp.received[0])
    assert "happened again" in first and "2 gånger" in first and "2 times" in first
    swedish, english = alerts.KINDS[sent_kinds(smtp)[0]][0], alerts.KINDS[sent_kinds(smtp)[0]][2]
    assert swedish in first and english in first and english in html_part(smtp.received[0])


def test_two_schedulers_send_one_alert(store, settings, smtp):
    alerts.note(store, settings, "backlog", "queued jobs waiting over 5 minutes", NOW)
    stores = send_from_stores(settings, 3, lambda own: alerts.send_due(own, settings, NOW))
    for own in stores:
        own.dispose()
    assert sent_kinds(smtp) == ["backlog"]


def test_refused_alert_gives_the_hour_back_and_is_retried(store, settings, smtp):
    smtp.refuse = 1
    alerts.note(store, settings, "scheduler_restarted", "exited with status -9", NOW)
    assert alerts.send_due(store, settings, NOW) == 0
    assert alerts.send_due(store, settings, NOW + MINUTE / 2) == 0  # waiting a minute
    assert alerts.send_due(store, settings, NOW + MINUTE) == 1
    with store.read() as session:
        row = session.get(MailAlert, "scheduler_restarted")
        assert row.sent_at == NOW + MINUTE and row.pending_since is None
        assert row.answer.startswith("250")


def test_a_resync_job_refused_by_canvas_raises_the_401_alert_alone(
        rsps, store, settings, smtp, monkeypatch):
    monkeypatch.setattr(canvas_client, "UNAUTHORIZED_LISTENERS", [])
    listen(store, settings)  # as the scheduler process does at start
    FakeCanvas(rsps).fail("/assignments", (401, {}, '{"errors": [{"message": "Invalid"}]}'))
    job_id, _ = queue.enqueue(store, "resync", 565, {"mode": "full"})
    assert worker.run_pending(store, settings) == 1
    tick(store, settings, NOW)
    assert sent_kinds(smtp) == ["canvas_unauthorized"]  # one cause, one alert
    for message in smtp.received:
        assert "Canvas refused the token (401)" in text_part(message)
    assert settings.canvas_token not in "".join(m.as_string() for m in smtp.received)
    with store.read() as session:
        assert session.get(Job, job_id).state == "failed"


def test_a_resync_job_failing_otherwise_alerts_as_a_failed_resync(
        rsps, store, settings, smtp, monkeypatch):
    monkeypatch.setattr(canvas_client, "UNAUTHORIZED_LISTENERS", [])
    listen(store, settings)
    FakeCanvas(rsps).fail("/assignments", (404, {}, '{"errors": [{"message": "gone"}]}'))
    queue.enqueue(store, "resync", 565, {"mode": "full"})
    assert worker.run_pending(store, settings) == 1
    tick(store, settings, NOW)
    assert sent_kinds(smtp) == ["resync_failed"]


def test_failed_export_job_alerts_with_its_error(client, store, settings, smtp, tmp_path):
    for event in term(1):
        post_event(client, event)
    apply_pending(store)
    blocker = tmp_path / "exports"
    blocker.write_text("a file where the export folder should be")
    queue.enqueue(store, "export", None)
    worker.run_pending(store, settings)
    tick(store, settings, NOW)
    [message] = smtp.received
    assert sent_kinds(smtp) == ["export_failed"]
    with store.read() as session:
        error = session.scalar(select(Job.error).where(Job.kind == "export"))
    assert error and error in text_part(message)


def test_events_or_jobs_waiting_over_five_minutes_alert_once(store, settings, smtp):
    queue.enqueue(store, "resync", 565)
    with store.read() as session:
        queued = session.scalar(select(Job.created_at))
    tick(store, settings, queued + 4 * MINUTE)
    assert smtp.received == []
    for minutes in (6, 7, 30):
        tick(store, settings, queued + minutes * MINUTE)
    assert sent_kinds(smtp) == ["backlog"]
    assert "queued jobs waiting over 5 minutes" in text_part(smtp.received[0])


def test_scheduler_restart_hook_alerts(store, settings, smtp):
    note_scheduler_restart(settings, -9)
    alerts.send_due(store, settings, NOW)
    assert sent_kinds(smtp) == ["scheduler_restarted"]
    assert "exited with status -9" in text_part(smtp.received[0])


def rs256_shaped_token(kid: str = "k1") -> bytes:
    """A JWT whose header names RS256 and a key id (the key set is needed to check it)."""
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'RS256', 'kid': kid})}.{part({'a': 1})}.c2ln".encode()


def test_key_set_unreachable_for_an_hour_is_reported_once_it_is(rsps):
    url = "https://canvas.example.edu/api/lti/security/jwks"
    rsps.get(url, body=requests.ConnectionError("down"))
    now = [1_700_000_000.0]
    reported: list[float] = []
    auth = WebhookAuthenticator(AuthSettings(jwks_url=url), session=requests.Session(),
                                clock=lambda: now[0], on_unreachable=reported.append)
    start = now[0]
    for elapsed in range(0, 3600 + 1, 60):
        now[0] = start + elapsed
        try:
            auth.authenticate({}, rs256_shaped_token(), None)
        except AuthError as exc:
            assert exc.status == 503
        assert reported == ([] if elapsed < 3600 else [3600.0])
    key = json.loads(RSAAlgorithm.to_jwk(rsa.generate_private_key(65537, 2048).public_key()))
    rsps.replace(responses.GET, url, json={"keys": [{**key, "kid": "k1", "alg": "RS256"}]})
    now[0] += 60
    fetched = len(rsps.calls)
    for _ in range(2):  # reachable (the forged signature is refused), then down again
        try:
            auth.authenticate({}, rs256_shaped_token(), None)
        except AuthError:
            pass
        rsps.replace(responses.GET, url, body=requests.ConnectionError("down"))
        now[0] += 3600
    assert len(rsps.calls) == fetched + 2
    assert reported == [3600.0]  # the outage clock started again when the set came back


def test_web_process_records_the_key_set_alert_for_the_scheduler(app, store, settings, smtp):
    authenticator = app.extensions["canvas_ladok"].authenticator
    authenticator._on_unreachable(3720.0)  # what the authenticator calls after an hour down
    alerts.send_due(store, settings, NOW)
    assert sent_kinds(smtp) == ["jwks_unreachable"]
    assert "unreachable for 62 minutes" in text_part(smtp.received[0])


def test_no_password_in_any_log_and_no_personnummer_in_alerts(store, settings, smtp, caplog,
                                                              monkeypatch):
    with caplog.at_level(logging.DEBUG):
        alerts.note(store, settings, "export_failed",
                    f"ValueError: student_id '19900101-1234\\t' ({SMTP_PASSWORD})", NOW)
        alerts.send_due(store, settings, NOW)
        bad = settings.__class__(**{**settings.__dict__, "smtp_password": "wrong-password"})
        alerts.note(store, bad, "backlog", "events waiting", NOW)
        alerts.send_due(store, bad, NOW)  # refused login: logged and recorded
    [message] = smtp.received
    text = text_part(message)
    assert "19900101-****" in text and "19900101-1234" not in message.as_string()
    assert "[redacted]" in text and SMTP_PASSWORD not in message.as_string()
    with store.read() as session:
        answers = " ".join(a or "" for a in session.scalars(select(MailAlert.answer)))
    assert "refused the login" in answers and "refused the login" in caplog.text
    for secret in (SMTP_PASSWORD, "wrong-password"):
        assert secret not in caplog.text and secret not in answers


def test_nightly_resync_refused_by_canvas_alerts_and_the_export_still_runs(
        rsps, store, settings, smtp, monkeypatch):
    from plugin.jobs.scheduler import nightly

    monkeypatch.setattr(canvas_client, "UNAUTHORIZED_LISTENERS", [])
    listen(store, settings)
    for course in settings.courses:
        FakeCanvas(rsps, course_id=course.canvas_id).fail(
            "/assignments", (401, {}, '{"errors": [{"message": "Invalid"}]}'))
    assert nightly(store, settings, now=NOW) is not None
    tick(store, settings, NOW)
    assert sent_kinds(smtp) == ["canvas_unauthorized"]  # not also a failed re-sync per course
    [alert] = smtp.received
    assert "2 times" in text_part(alert) and "Canvas refused the token (401)" in text_part(alert)
