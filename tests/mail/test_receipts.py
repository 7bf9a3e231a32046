"""E-mail receipts of export runs, received by a real SMTP server on loopback."""

from __future__ import annotations

import datetime as dt
import json
import re

from sqlalchemy import select

from plugin.demo.live_events import grade_event
from plugin.export.lines import COURSE_GRADE_LABEL
from plugin.export.run import run_export
from plugin.intake.apply import apply_pending
from plugin.jobs.mail_tick import tick
from plugin.mail import receipts
from plugin.store.db import Store
from plugin.store.models import LedgerEntry, MailReceipt, User
from tests.conftest import post_event
from tests.helpers import term
from tests.mail.conftest import NOTIFY, PUBLIC_URL, send_from_stores
from tests.smtp_server import html_part, text_part

LATER = dt.datetime(2026, 3, 1, 2, 30, tzinfo=dt.UTC)
PERSONNUMMER = re.compile(r"19900101-?\d{4}")


def post_all(client, events):
    for event in events:
        assert post_event(client, event).status_code == 202
    apply_pending(client.application.extensions["canvas_ladok"].store)


def ledger(store, run_id):
    with store.read() as session:
        return session.scalars(select(LedgerEntry).where(LedgerEntry.run_id == run_id)).all()


def receipt_rows(store):
    with store.read() as session:
        return session.scalars(select(MailReceipt).order_by(MailReceipt.id)).all()


def test_receipt_lists_each_new_result_in_both_parts_and_both_languages(
        client, store, settings, smtp):
    post_all(client, term(3))
    run = run_export(store, settings, now=LATER)
    assert receipts.send_due(store, settings, LATER) == 1
    [message] = smtp.received
    assert sorted(smtp.envelopes[0][1]) == sorted(NOTIFY)
    assert message["Auto-Submitted"] == "auto-generated"
    text, html = text_part(message), html_part(message)
    swedish, english = text.split("-" * 72)
    rows = ledger(store, run.run_id)
    assert {r.status for r in rows} == {"new"} and len(rows) == run.counts["new"]
    for row in rows:
        module = (COURSE_GRADE_LABEL if row.component_code == "DV1531"
                  else f"{row.component_code} {row.component_name}")
        line = f"{row.student_name}: {module}, {row.grade}, {row.exam_date}"
        assert line in swedish
        for cell in (row.student_name, module, row.grade, row.exam_date):
            assert f"<td>{cell}</td>" in html
    for part in (text, html):
        assert f"{PUBLIC_URL}/exports/{run.run_id}" in part
        assert "Nya resultat" in part and "New results" in part
        assert "examinationsdatum" in part.lower() and "examination date" in part.lower()
    assert f"Nya resultat:               {len(rows)}" in swedish
    assert f"New results:            {len(rows)}" in english


def test_no_personnummer_in_any_receipt(client, store, settings, smtp):
    post_all(client, term(3))
    with store.write() as session:  # even a name that carries one is masked
        session.get(User, 1002).name = "Bo 19900101-1002 <i>Berg</i>"
    run_export(store, settings, now=LATER)
    receipts.send_due(store, settings, LATER)
    [message] = smtp.received
    raw = message.as_string() + text_part(message) + html_part(message)
    assert not PERSONNUMMER.search(raw)
    assert "Bo 19900101-**** <i>Berg</i>" in text_part(message)
    assert "Bo 19900101-**** &lt;i&gt;Berg&lt;/i&gt;" in html_part(message)  # escaped in HTML


def test_names_in_a_receipt_carry_no_bidi_override_or_control_character(
        client, store, settings, smtp):
    post_all(client, term(2))
    with store.write() as session:  # a right-to-left override would turn the rest around
        session.get(User, 1002).name = "Bo \u202eBerg\u202c\x1b[31m\u2066X\u2069\nY"
    run_export(store, settings, now=LATER)
    receipts.send_due(store, settings, LATER)
    [message] = smtp.received
    for part in (text_part(message), html_part(message)):
        assert "Bo Berg" in part
        assert not re.search("[\u202a-\u202e\u2066-\u2069\x1b]", part)
        assert "Y\n" not in part.split("Bo Berg", 1)[1][:20]  # no line of its own


def test_correction_and_withdrawal_say_what_to_do_in_ladok(client, store, settings, smtp):
    post_all(client, term(3))
    run_export(store, settings, now=LATER)
    post_event(client, grade_event(565, 310, 1001, "A", LATER, sis_id="19900101-1001"))
    post_event(client, grade_event(565, 301, 1002, "U", LATER, sis_id="19900101-1002"))
    apply_pending(store)
    second = run_export(store, settings, now=LATER + dt.timedelta(hours=1))
    assert second.counts == {"correction": 1, "withdrawn": 1}
    receipts.send_due(store, settings, LATER + dt.timedelta(hours=1))
    first_receipt, receipt = smtp.received
    text, html = text_part(receipt), html_part(receipt)
    swedish, english = text.split("-" * 72)
    [correction] = [r for r in ledger(store, second.run_id) if r.status == "correction"]
    [withdrawal] = [r for r in ledger(store, second.run_id) if r.status == "withdrawn"]
    with store.read() as session:
        before = session.scalar(select(LedgerEntry).where(
            LedgerEntry.user_id == correction.user_id, LedgerEntry.version == 1,
            LedgerEntry.component_code == correction.component_code))
    fixed = (f"{correction.student_name}: {correction.component_code} "
             f"{correction.component_name}, {correction.grade}, {correction.exam_date}")
    assert f"{fixed} (tidigare {before.grade}, {before.exam_date})" in swedish
    assert f"{fixed} (was {before.grade}, {before.exam_date})" in english
    gone = (f"{withdrawal.student_name}: {withdrawal.component_code} {withdrawal.component_name}"
            f" (%s {withdrawal.grade}, {withdrawal.exam_date})")
    assert gone % "exporterat tidigare:" in swedish and gone % "exported earlier:" in english
    for part in (swedish, english, html):  # ladok report refuses those: do it by hand
        assert "ladok report" in part and "Ladok" in part
    assert "för hand i Ladok" in swedish and "by hand in Ladok" in english
    assert "Rättelser" in html and "Corrections" in html and "Withdrawn" in html
    assert first_receipt["Message-ID"] != receipt["Message-ID"]


def test_held_back_students_are_listed_once_while_they_stay_held_back(
        client, store, settings, smtp, canvas_users_unknown):
    post_all(client, term(2))
    with store.write() as session:
        session.get(User, 1001).sis_user_id = None
    run_export(store, settings, now=LATER)
    run_export(store, settings, now=LATER + dt.timedelta(days=1))  # still held back: no news
    receipts.send_due(store, settings, LATER + dt.timedelta(days=1))
    [message] = smtp.received
    text = text_part(message)
    assert "Student 1 (Canvas-användare 1001): sis_user_id saknas" in text  # Swedish part
    assert "Student 1 (Canvas user 1001): no sis_user_id" in text
    assert "Tillbakahållna studenter:   1" in text and "Held-back students:     1" in text
    assert len(receipt_rows(store)) == 1


def test_one_receipt_per_run_and_course_across_restarts_and_two_senders(
        client, store, settings, smtp):
    post_all(client, term(2))
    run = run_export(store, settings, now=LATER)
    # two scheduler processes
    stores = send_from_stores(settings, 2, lambda own: receipts.send_due(own, settings, LATER))
    restarted = Store(settings.database_url)  # a scheduler started again later
    tick(restarted, settings, LATER + dt.timedelta(days=2))
    for own in [*stores, restarted]:
        own.dispose()
    assert len(smtp.received) == 1
    [row] = receipt_rows(store)
    assert (row.run_id, row.course_id, row.state, row.attempts) == (run.run_id, 565, "sent", 1)


def test_a_sender_that_died_mid_send_is_taken_over_when_its_lease_lapses(
        client, store, settings, smtp):
    post_all(client, term(1))
    run_export(store, settings, now=LATER)
    [row] = receipt_rows(store)
    assert receipts._claim(store, row.id, LATER)  # then the process died
    assert receipts.send_due(store, settings, LATER + dt.timedelta(minutes=5)) == 0
    after = LATER + receipts.LEASE + dt.timedelta(seconds=1)
    assert receipts.send_due(store, settings, after) == 1
    assert receipts.send_due(store, settings, after) == 0
    assert len(smtp.received) == 1


def test_refusing_server_is_retried_with_backoff_and_the_export_is_not_delayed(
        client, store, settings, smtp):
    post_all(client, term(1))
    smtp.refuse = 3
    run = run_export(store, settings, now=LATER)
    assert run.files and smtp.sessions == 0  # the export only recorded the receipt
    tried = []
    for minutes in (0, 0.5, 1, 2, 3, 5, 7, 60, 120):
        before = smtp.sessions
        tick(store, settings, LATER + dt.timedelta(minutes=minutes))
        if smtp.sessions > before:
            tried.append(minutes)
    assert tried == [0, 1, 3, 7]  # waits of 1, 2 and 4 minutes after each refusal
    assert len(smtp.received) == 1
    [row] = receipt_rows(store)
    assert (row.state, row.attempts) == ("sent", 4) and row.answer.startswith("250")


def test_a_receipt_the_server_accepted_is_sent_once_whatever_it_answers_to_quit(
        client, store, settings, smtp):
    post_all(client, term(1))
    run_export(store, settings, now=LATER)
    smtp.quit_reply = "421 4.4.2 closing the connection"
    minute = 0
    while minute <= 26 * 60:  # past the whole retry window
        tick(store, settings, LATER + dt.timedelta(minutes=minute))
        minute += 1 if minute < 64 else 30
    assert len(smtp.received) == 1
    [row] = receipt_rows(store)
    assert (row.state, row.attempts) == ("sent", 1) and row.answer.startswith("250")


def test_receipt_is_given_up_after_a_day_of_refusals(client, store, settings, smtp):
    post_all(client, term(1))
    run_export(store, settings, now=LATER)
    smtp.refuse = 10_000
    minute = 0
    while minute <= 26 * 60:
        receipts.send_due(store, settings, LATER + dt.timedelta(minutes=minute))
        minute += 1 if minute < 64 else 30
    [row] = receipt_rows(store)
    assert row.state == "failed" and "451" in row.answer
    assert row.next_attempt_at > LATER + receipts.GIVE_UP_AFTER
    assert smtp.received == [] and 20 <= row.attempts <= 40


def test_nothing_new_or_no_notify_list_sends_nothing(client, store, settings, smtp):
    post_all(client, term(1))
    run_export(store, settings, now=LATER)
    run_export(store, settings, now=LATER + dt.timedelta(hours=1))  # nothing new
    tick(store, settings, LATER + dt.timedelta(hours=1))
    assert len(smtp.received) == 1 and len(receipt_rows(store)) == 1
    assert json.loads(receipt_rows(store)[0].recipients) == NOTIFY


def test_without_mail_configured_the_export_records_no_receipt(client, store, settings, smtp):
    from dataclasses import replace

    from plugin.jobs.scheduler import build
    from plugin.settings.sections import MailSettings

    quiet = replace(settings, mail=MailSettings())
    post_all(client, term(1))
    assert run_export(store, quiet, now=LATER).counts["new"] > 0
    assert receipt_rows(store) == []
    assert "mail" not in {job.id for job in build(store, quiet).get_jobs()}
    assert "mail" in {job.id for job in build(store, settings).get_jobs()}
