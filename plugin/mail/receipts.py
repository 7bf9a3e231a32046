"""E-mail receipts of export runs: one message per run and course to the course's `notify` list.

The export queues a receipt in the run's own transaction (`export.receipts`: a run and its
receipts commit together) and sends nothing; the scheduler claims each due receipt with a lease
and sends it, retrying with backoff for a day while the server refuses. Decision: the first
MAX_LISTED new results are listed, every correction, withdrawal and held-back student always.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from email.message import EmailMessage
from zoneinfo import ZoneInfo

from sqlalchemy import select, tuple_, update
from sqlalchemy.orm import Session

from plugin.clock import utcnow
from plugin.mail import compose, smtp
from plugin.rules.course_config import CourseConfig
from plugin.rules.reasons import from_json
from plugin.rules.text import shown
from plugin.settings import Settings
from plugin.settings.ladok import connected
from plugin.status import RECEIPT_FAILED as FAILED
from plugin.status import RECEIPT_PENDING as PENDING
from plugin.status import RECEIPT_SENT as SENT
from plugin.store.db import Store
from plugin.store.models import ExportRun, LadokDraft, LedgerEntry, MailReceipt
from plugin.words import in_language

log = logging.getLogger(__name__)
LEASE = dt.timedelta(minutes=10)
FIRST_RETRY = dt.timedelta(minutes=1)
LONGEST_RETRY = dt.timedelta(hours=1)
GIVE_UP_AFTER = dt.timedelta(days=1)
MAX_LISTED = 200


@dataclass(frozen=True)
class Line:
    """One result in a receipt: never the student's identity, only the name."""

    name: str
    module: str
    is_course_grade: bool
    grade: str
    date: str
    before_grade: str = ""
    before_date: str = ""


def _lines(session: Session, run_id: int, course: CourseConfig) -> dict[str, list[Line]]:
    rows = session.execute(
        select(LedgerEntry).where(LedgerEntry.run_id == run_id,
                                  LedgerEntry.course_id == course.canvas_id)
        .order_by(LedgerEntry.student_name, LedgerEntry.user_id, LedgerEntry.component_code)
    ).scalars().all()
    before = _previous_versions(session, [r for r in rows if r.status == "correction"])
    out: dict[str, list[Line]] = {"new": [], "correction": [], "withdrawn": []}
    for row in rows:
        old = before.get((row.user_id, row.ladok_code, row.component_code, row.version - 1))
        out.setdefault(row.status, []).append(Line(
            name=shown(row.student_name or f"Canvas user {row.user_id}"),
            module=f"{row.component_code} {row.component_name or ''}".strip(),
            is_course_grade=row.component_code == course.ladok_code,
            grade=row.grade or "", date=row.exam_date or "",
            before_grade=(old.grade or "") if old else "",
            before_date=(old.exam_date or "") if old else ""))
    return out


def _previous_versions(session: Session, rows: list[LedgerEntry]) -> dict[tuple, LedgerEntry]:
    keys = [(r.user_id, r.ladok_code, r.component_code, r.version - 1) for r in rows]
    if not keys:
        return {}
    key = tuple_(LedgerEntry.user_id, LedgerEntry.ladok_code, LedgerEntry.component_code,
                 LedgerEntry.version)
    found = session.scalars(select(LedgerEntry).where(key.in_(keys)))
    return {(e.user_id, e.ladok_code, e.component_code, e.version): e for e in found}


def _ladok(session: Session, settings: Settings, run_id: int,
           course: CourseConfig) -> dict | None:
    """"drafts" mode: how many of the run's results Ladok confirmed, and the lines it refused
    or left for a person (as of sending); None when the course is not connected."""
    if not connected(settings, course):
        return None
    rows = session.scalars(select(LadokDraft).where(
        LadokDraft.run_id == run_id, LadokDraft.ladok_code == course.ladok_code)).all()
    names = dict(session.execute(select(LedgerEntry.user_id, LedgerEntry.student_name).where(
        LedgerEntry.run_id == run_id, LedgerEntry.course_id == course.canvas_id)).all())
    problems = [{"name": shown(names.get(r.user_id) or f"Canvas user {r.user_id}"),
                 "module": r.component_code, "message": r.problem}
                for r in rows if r.problem]
    return {"sent": sum(1 for r in rows if r.version is not None and not r.problem),
            "problems": problems}


def message(session: Session, settings: Settings, receipt: MailReceipt) -> EmailMessage:
    """The receipt's e-mail, built from the run's ledger rows."""
    course = settings.course(receipt.course_id) or CourseConfig(
        canvas_id=receipt.course_id, ladok_code="?", start=dt.date.min)
    run = session.get(ExportRun, receipt.run_id)
    lines = _lines(session, receipt.run_id, course)
    held = [{**h, "name": shown(h.get("name") or ""),
             "reason_sv": in_language(from_json(h, h.get("reason", "")), "sv")}
            for h in json.loads(receipt.held_back)]
    counts = {status: len(found) for status, found in lines.items()}
    counts["held_back"] = len(held)
    when = run.created_at.astimezone(ZoneInfo(settings.timezone)).strftime("%Y-%m-%d %H:%M")
    link = f"{settings.public_url}/exports/{run.id}" if settings.public_url else ""
    text, html = compose.render(
        "receipt", run=run, when=when, course=course, counts=counts, held_back=held, link=link,
        new=lines["new"][:MAX_LISTED], more=max(0, counts["new"] - MAX_LISTED),
        corrections=lines["correction"], withdrawals=lines["withdrawn"],
        id_field=settings.student_id_field, ladok=_ladok(session, settings, run.id, course))
    subject = (f"canvas-ladok {course.ladok_code}: kvitto för körning {run.id} / "
               f"receipt for run {run.id}")
    return compose.build(settings.mail.sender, json.loads(receipt.recipients), subject, text,
                         html, message_id=f"receipt.{run.id}.{receipt.course_id}.canvas-ladok")


def _due(store: Store, now: dt.datetime) -> list[int]:
    with store.read() as session:
        return list(session.scalars(
            select(MailReceipt.id).where(MailReceipt.state == PENDING,
                                         MailReceipt.next_attempt_at <= now)
            .order_by(MailReceipt.id)))


def _claim(store: Store, receipt_id: int, now: dt.datetime) -> bool:
    """Take the receipt for LEASE; False when another sender has it or it is done."""
    free = (MailReceipt.lease_until.is_(None)) | (MailReceipt.lease_until < now)
    with store.write() as session:
        return bool(session.execute(
            update(MailReceipt)
            .where(MailReceipt.id == receipt_id, MailReceipt.state == PENDING,
                   MailReceipt.next_attempt_at <= now, free)
            .values(lease_until=now + LEASE, attempts=MailReceipt.attempts + 1)).rowcount)


def retry_delay(attempts: int) -> dt.timedelta:
    """1, 2, 4 … minutes after each failed attempt, at most an hour."""
    return min(LONGEST_RETRY, FIRST_RETRY * 2 ** max(attempts - 1, 0))


def send_due(store: Store, settings: Settings, now: dt.datetime | None = None) -> int:
    """Send every due receipt this process can claim; how many the server accepted."""
    now = now or utcnow()
    sent = 0
    for receipt_id in _due(store, now):
        if not _claim(store, receipt_id, now):
            continue
        try:
            with store.read() as session:
                receipt = session.get(MailReceipt, receipt_id)
                outgoing = message(session, settings, receipt)
            answer = smtp.send(settings, outgoing)
        except smtp.MailError as exc:
            _failed(store, receipt_id, str(exc), now)
            continue
        except Exception as exc:  # a bug in one receipt never stops the others
            log.exception("receipt %s could not be built", receipt_id)
            _failed(store, receipt_id, f"cannot build the message: {type(exc).__name__}", now)
            continue
        _done(store, receipt_id, answer, now)
        log.info("receipt of run %s for course %s sent: %s", receipt.run_id, receipt.course_id,
                 answer)
        sent += 1
    return sent


def _done(store: Store, receipt_id: int, answer: str, now: dt.datetime) -> None:
    with store.write() as session:
        session.execute(update(MailReceipt).where(MailReceipt.id == receipt_id).values(
            state=SENT, sent_at=now, lease_until=None, answer=answer))


def _failed(store: Store, receipt_id: int, error: str, now: dt.datetime) -> None:
    with store.write() as session:
        receipt = session.get(MailReceipt, receipt_id)
        retry_at = now + retry_delay(receipt.attempts)
        give_up = retry_at > receipt.created_at + GIVE_UP_AFTER
        receipt.state = FAILED if give_up else PENDING
        receipt.next_attempt_at = retry_at
        receipt.lease_until = None
        receipt.answer = error
    if give_up:
        log.warning("receipt of run %s for course %s not sent after %s attempts, given up: %s",
                    receipt.run_id, receipt.course_id, receipt.attempts, error)
    else:
        log.warning("receipt of run %s for course %s not sent (attempt %s), retry at %s: %s",
                    receipt.run_id, receipt.course_id, receipt.attempts,
                    retry_at.isoformat(timespec="seconds"), error)
