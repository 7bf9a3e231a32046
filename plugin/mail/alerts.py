"""Alerts to `mail.admins`: any process notes one; the scheduler sends each kind at most hourly.

Noting is an upsert of the kind's row (race-free across processes). Sending first claims the
hour by moving `sent_at` to now in one conditional UPDATE, so two schedulers cannot both send a
kind, and a sender that dies mid-send still holds the hour; a refused send gives the hour back.
"""

from __future__ import annotations

import datetime as dt
import logging
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select, update

from plugin.clock import utcnow
from plugin.mail import compose, smtp
from plugin.mail.receipts import retry_delay
from plugin.rules.identity import mask_in_text
from plugin.settings import Settings, redact
from plugin.store.db import Store
from plugin.store.models import MailAlert
from plugin.store.state import upsert

log = logging.getLogger(__name__)
EVERY = dt.timedelta(hours=1)
MAX_MESSAGE = 2000
# kind: (Swedish title, Swedish advice, English title, English advice)
KINDS: dict[str, tuple[str, str, str, str]] = {
    "export_failed": (
        "En export misslyckades",
        "Se felet nedan och loggen; starta exporten igen från webbsidan, API:t eller "
        "`canvas-ladok export` när orsaken är åtgärdad.",
        "An export failed",
        "See the error below and the log; start the export again from the web page, the API "
        "or `canvas-ladok export` once the cause is fixed."),
    "resync_failed": (
        "En omsynkning från Canvas misslyckades",
        "Resultat som händelserna missat kan saknas tills en omsynkning lyckas; se felet nedan.",
        "A re-sync from Canvas failed",
        "Results the events missed may be missing until a re-sync succeeds; see the error."),
    "canvas_unauthorized": (
        "Canvas avvisade API-token (401)",
        "Token har gått ut eller dragits tillbaka: skapa en ny i Canvas, sätt "
        "CANVAS_LADOK_CANVAS_TOKEN och starta om tjänsten.",
        "Canvas refused the API token (401)",
        "The token has expired or was revoked: make a new one in Canvas, set "
        "CANVAS_LADOK_CANVAS_TOKEN and restart the service."),
    "backlog": (
        "Händelser eller jobb har väntat i över 5 minuter",
        "Kör schemaläggaren? Se /healthz och dess logg.",
        "Events or jobs waiting over 5 minutes",
        "Is the scheduler process running? See /healthz and its log."),
    "scheduler_restarted": (
        "Schemaläggaren startades om",
        "Processen avslutades oväntat, eller hängde sig (inga livstecken på 5 minuter) och "
        "stoppades, och startades igen; se meddelandet nedan och loggen för orsaken.",
        "The scheduler process restarted",
        "The process exited unexpectedly, or hung (no heartbeat for 5 minutes) and was "
        "killed, and was started again; see the message below and the log for why."),
    "ladok_unreachable": (
        "Ladok kunde inte nås",
        "Filerna skrivs som vanligt och resultaten väntar som \"inte i Ladok än\"; nästa körning "
        "skickar dem. Se felet nedan och kör `canvas-ladok ladok-check`.",
        "Ladok could not be reached",
        "The files are written as usual and the results wait as \"not yet in Ladok\"; the next "
        "run sends them. See the error below and run `canvas-ladok ladok-check`."),
    "jwks_unreachable": (
        "Canvas JWT-nycklar har inte kunnat hämtas på en timme",
        "Signerade händelser avvisas när de sparade nycklarna är ett dygn gamla: kontrollera "
        "canvas.jwks_url och nätet.",
        "The Canvas JWT key set unreachable for an hour",
        "Signed events are refused once the cached keys are a day old: check canvas.jwks_url "
        "and the network."),
}


def note(store: Store, settings: Settings, kind: str, message: str,
         now: dt.datetime | None = None) -> None:
    """Record that `kind` happened (for the next send); never raises into the caller."""
    if not (settings.mail.enabled and settings.mail.admins):
        return
    now = now or utcnow()
    message = mask_in_text(redact(message, settings))[:MAX_MESSAGE]
    try:
        with store.write() as session:
            upsert(session, MailAlert, {"kind": kind, "requests": 0, "attempts": 0}, ("kind",),
                   update_columns=())
            session.execute(update(MailAlert).where(MailAlert.kind == kind).values(
                message=message, requested_at=now, requests=MailAlert.requests + 1,
                pending_since=func.coalesce(MailAlert.pending_since, now)))
    except Exception:  # an alert that cannot be recorded must not break what raised it
        log.exception("could not record the %s alert", kind)


def _claim(store: Store, kind: str, now: dt.datetime) -> dict[str, Any] | None:
    """Take this hour's slot for `kind`; the pending request, or None."""
    with store.write() as session:
        taken = session.execute(
            update(MailAlert)
            .where(MailAlert.kind == kind, MailAlert.pending_since.is_not(None),
                   MailAlert.sent_at.is_(None) | (MailAlert.sent_at <= now - EVERY),
                   MailAlert.next_attempt_at.is_(None) | (MailAlert.next_attempt_at <= now))
            .values(previous_sent_at=MailAlert.sent_at, sent_at=now)).rowcount
        if not taken:
            return None
        row = session.get(MailAlert, kind)
        return {"kind": kind, "message": row.message, "requests": row.requests,
                "pending_since": row.pending_since, "requested_at": row.requested_at}


def message(settings: Settings, alert: dict[str, Any], now: dt.datetime) -> EmailMessage:
    """The alert's e-mail."""
    sv_title, sv_advice, en_title, en_advice = KINDS.get(
        alert["kind"], (alert["kind"],) * 2 + (alert["kind"],) * 2)
    zone = ZoneInfo(settings.timezone)
    since, latest = (alert[k].astimezone(zone).strftime("%Y-%m-%d %H:%M")
                     for k in ("pending_since", "requested_at"))
    text, html = compose.render(
        "alert", alert=alert, sv_title=sv_title, sv_advice=sv_advice, en_title=en_title,
        en_advice=en_advice, since=since, latest=latest, public_url=settings.public_url)
    subject = f"canvas-ladok larm / alert: {en_title}"
    return compose.build(settings.mail.sender, list(settings.mail.admins), subject, text, html,
                         now=now)


def _pending_kinds(store: Store, now: dt.datetime) -> list[str]:
    with store.read() as session:
        return list(session.scalars(select(MailAlert.kind).where(
            MailAlert.pending_since.is_not(None),
            MailAlert.sent_at.is_(None) | (MailAlert.sent_at <= now - EVERY))))


def send_due(store: Store, settings: Settings, now: dt.datetime | None = None) -> int:
    """Send each pending alert kind whose hour allows it; how many the server accepted."""
    now = now or utcnow()
    sent = 0
    for kind in _pending_kinds(store, now):
        alert = _claim(store, kind, now)
        if alert is None:
            continue
        try:
            answer = smtp.send(settings, message(settings, alert, now))
        except Exception as exc:  # refused, or a bug: give the hour back and retry later
            error = str(exc) if isinstance(exc, smtp.MailError) else type(exc).__name__
            _give_back(store, kind, error, now)
            continue
        _done(store, alert, answer)
        log.info("%s alert sent: %s", kind, answer)
        sent += 1
    return sent


def _done(store: Store, alert: dict[str, Any], answer: str) -> None:
    with store.write() as session:
        session.execute(update(MailAlert).where(MailAlert.kind == alert["kind"]).values(
            # A request noted while this one was being sent waits for the next hour.
            pending_since=case((MailAlert.requested_at > alert["requested_at"],
                                MailAlert.requested_at), else_=None),
            requests=MailAlert.requests - alert["requests"], attempts=0, next_attempt_at=None,
            answer=answer))


def _give_back(store: Store, kind: str, error: str, now: dt.datetime) -> None:
    with store.write() as session:
        row = session.get(MailAlert, kind)
        row.sent_at = row.previous_sent_at
        row.attempts += 1
        row.next_attempt_at = now + retry_delay(row.attempts)
        row.answer = error
    log.warning("%s alert not sent (attempt %s): %s", kind, row.attempts, error)
