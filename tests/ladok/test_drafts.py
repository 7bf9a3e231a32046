"""From webhook events to drafts in (the fake) Ladok: "drafts" mode, end to end.

Events go in through the app's webhook route, an export runs, and the fake Ladok over HTTPS
with a client certificate is looked at afterwards: which drafts it holds, with what grade and
date, and what the store records Ladok confirmed.
"""

from __future__ import annotations

import datetime as dt
import math

import pytest
from sqlalchemy import select

from plugin.demo.live_events import grade_event
from plugin.export.run import run_export
from plugin.ladok import drafts
from plugin.mail import receipts
from plugin.store.models import MailAlert, MailReceipt
from tests.conftest import ADMIN_TOKEN, sign_in
from tests.helpers import TERM_START, term
from tests.ladok.drafts_helpers import (
    STUDENTS,
    grade_code,
    held,
    ladok_rows,
    ledger,
    quick_clients,
)

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture(autouse=True)
def _quick(monkeypatch, sleeps):
    quick_clients(monkeypatch, sleeps)


def change(post_all, user: int, moment: int, grade: str, days: int = 60) -> None:
    post_all([grade_event(565, 300 + moment, user, grade,
                          TERM_START + dt.timedelta(days=days), sis_id=f"19900101-{user:04d}")])


def assert_in_ladok_as_in_ledger(store, fake, keys) -> None:
    """Each key's latest ledger version stands in Ladok as one result, same grade and date,
    under the result UID the store recorded."""
    entries, rows = ledger(store), ladok_rows(store)
    for key in keys:
        user, code = key
        results = held(fake, user)[code]
        assert len(results) == 1, key
        assert (grade_code(fake, results[0]), results[0].exam_date) == (
            entries[key].grade, entries[key].exam_date), key
        assert rows[key].version == entries[key].version
        assert rows[key].result_uid == results[0].uid


def test_new_results_become_drafts_in_bulk(post_all, store, settings, fake_ladok, tmp_path):
    post_all(term(STUDENTS))
    summary = run_export(store, settings)
    entries = ledger(store)
    assert entries and summary.ladok["sent"] == len(entries)
    assert_in_ladok_as_in_ledger(store, fake_ladok, entries)
    creates = fake_ladok.calls("POST", "/skapa$")
    assert len(creates) == math.ceil(len(entries) / 100)
    assert all(c.body["LarosateID"] == 99 for c in creates)
    assert (tmp_path / "exports").exists()  # the files are written too
    assert summary.ladok["waiting"] == 0 and not summary.ladok["refused"]
    # A second run sends nothing again, and reads back the states.
    again = run_export(store, settings)
    assert again.ladok["sent"] == 0 and len(fake_ladok.calls("POST", "/skapa$")) == len(creates)
    assert {r.state for r in ladok_rows(store).values()} == {"utkast"}


def test_a_corrected_draft_is_updated_with_its_last_change(post_all, store, settings,
                                                           fake_ladok):
    post_all(term(STUDENTS))
    run_export(store, settings)
    key = (1003, "2225")
    first = ladok_rows(store)[key].result_uid
    stamp = fake_ladok.data.results[first].changed
    change(post_all, 1003, 10, "A")
    summary = run_export(store, settings)
    assert summary.counts["correction"] == 1 and summary.ladok["sent"] == 1
    (update,) = fake_ladok.calls("PUT", "/uppdatera$")
    assert update.body["Resultat"][0]["SenasteResultatandring"] == stamp
    assert update.body["Resultat"][0]["ResultatUID"] == first
    assert_in_ladok_as_in_ledger(store, fake_ladok, [key])
    assert grade_code(fake_ladok, held(fake_ladok, 1003)["2225"][0]) == "A"


def test_a_correction_of_a_klarmarkerad_result_is_listed_not_sent(post_all, store, settings,
                                                                  fake_ladok):
    post_all(term(STUDENTS))
    run_export(store, settings)
    uid = ladok_rows(store)[(1003, "2225")].result_uid
    fake_ladok.klarmarkera(uid)
    before = (fake_ladok.data.results[uid].grade_id, fake_ladok.data.results[uid].exam_date)
    change(post_all, 1003, 10, "A")
    summary = run_export(store, settings)
    assert summary.counts["correction"] == 1  # in corrections.tsv as today
    assert not fake_ladok.calls("PUT", "/uppdatera$") and summary.ladok["sent"] == 0
    (listed,) = summary.ladok["by_hand"]
    assert (listed["user_id"], listed["component"]) == (1003, "2225")
    assert "klarmarkerad in Ladok" in listed["message"]
    result = fake_ladok.data.results[uid]
    assert (result.grade_id, result.exam_date) == before
    row = ladok_rows(store)[(1003, "2225")]
    assert row.state == "klarmarkerad" and "by hand" in row.problem
    assert row.version != ledger(store)[(1003, "2225")].version  # not in Ladok


def test_a_withdrawn_result_is_left_in_ladok_and_listed(post_all, store, settings, fake_ladok):
    post_all(term(STUDENTS))
    run_export(store, settings)
    uid = ladok_rows(store)[(1002, "2205")].result_uid
    requests = len(fake_ladok.seen)
    change(post_all, 1002, 1, "U")
    summary = run_export(store, settings)
    assert summary.counts["withdrawn"] == 1
    assert not fake_ladok.calls("POST", "/skapa$")[1:] and not fake_ladok.calls(
        "PUT", "/uppdatera$")
    assert all(s.method != "DELETE" for s in fake_ladok.seen[requests:])
    assert uid in fake_ladok.data.results
    assert "withdrawn" in ladok_rows(store)[(1002, "2205")].problem


def test_a_refusal_for_one_student_holds_back_no_other(post_all, store, settings, fake_ladok,
                                                        ladok_round):
    refused = next(s for s in fake_ladok.data.study_results.values()
                   if s.student.personnummer == "199001011004").student
    fake_ladok.refuse(refused, "Studenten har hinder")
    post_all(term(STUDENTS))
    summary = run_export(store, settings)
    entries = ledger(store)
    others = [k for k in entries if k[0] != 1004]
    assert_in_ladok_as_in_ledger(store, fake_ladok, others)
    assert held(fake_ladok, 1004) == {}
    listed = [r for r in summary.ladok["refused"] if r["user_id"] == 1004]
    assert listed and all("Studenten har hinder" in r["message"] for r in listed)
    assert {r["user_id"] for r in summary.ladok["refused"]} == {1004}
    assert "Studenten har hinder" in ladok_rows(store)[(1004, "2225")].problem
    with store.read() as session:  # the e-mail receipt lists it, in both languages
        receipt = session.scalars(select(MailReceipt)).one()
        mail = receipts.message(session, settings, receipt).get_body(("plain",)).get_content()
    sent = len(others)
    assert f"Ladok: {sent} resultat står som utkast" in mail
    assert f"Ladok: {sent} results stand as drafts" in mail
    assert mail.count("Studenten har hinder") == 2 * len(listed)
    # Lifted in Ladok: the next run sends them.
    fake_ladok.data.refusals.clear()
    again = run_export(store, settings)
    assert again.ladok["sent"] == len([k for k in entries if k[0] == 1004])
    assert_in_ladok_as_in_ledger(store, fake_ladok, entries)
    assert ladok_rows(store)[(1004, "2225")].problem is None


def test_a_stale_draft_is_refused_for_that_student_and_retried(post_all, store, settings,
                                                                 fake_ladok):
    post_all(term(STUDENTS))
    run_export(store, settings)
    uid = ladok_rows(store)[(1003, "2225")].result_uid
    change(post_all, 1003, 10, "A")
    fake_ladok.touch_after_read(uid)  # someone changes it in Ladok after the stage read it
    summary = run_export(store, settings)
    (listed,) = summary.ladok["refused"]
    assert listed["user_id"] == 1003 and "ändrats" in listed["message"]
    assert grade_code(fake_ladok, fake_ladok.data.results[uid]) != "A"
    retried = run_export(store, settings)
    assert retried.ladok["sent"] == 1
    assert grade_code(fake_ladok, fake_ladok.data.results[uid]) == "A"


@pytest.mark.parametrize("fault", ["5xx", "hang", "certificate"])
def test_ladok_down_for_a_run_then_back(post_all, store, settings, fake_ladok, monkeypatch,
                                        sleeps, tmp_path, fault):
    quick_clients(monkeypatch, sleeps, retries=1, timeout=1.0)
    if fault == "5xx":
        fake_ladok.fail(503, times=20)
    elif fault == "hang":
        fake_ladok.hang(times=4)  # two runs of two tries
    else:  # Ladok refuses the TLS handshake: the wrong client certificate
        quick_clients(monkeypatch, sleeps, retries=1, certificate=fake_ladok.stranger_pem)
    post_all(term(STUDENTS))
    down = run_export(store, settings)
    entries = ledger(store)
    assert down.ladok["error"] and down.ladok["sent"] == 0
    assert down.ladok["waiting"] == len(entries)
    assert all(held(fake_ladok, u) == {} for u, _ in entries)
    assert (tmp_path / "exports").exists() and down.files  # the files are written
    assert all(r.version is None for r in ladok_rows(store).values())
    again_down = run_export(store, settings)  # still down: no second alert
    assert again_down.ladok["error"]
    with store.read() as session:
        alert = session.get(MailAlert, "ladok_unreachable")
    assert alert is not None and alert.requests == 1
    assert "19900101" not in (alert.message or "")
    # Back: the next run sends them all.
    quick_clients(monkeypatch, sleeps)
    with fake_ladok.lock:
        fake_ladok._plan.clear()  # Ladok is back
    back = run_export(store, settings)
    assert back.ladok["error"] is None and back.ladok["sent"] == len(entries)
    assert_in_ladok_as_in_ledger(store, fake_ladok, entries)


def test_a_course_grade_goes_once_ladok_shows_its_modules_attested(post_all, store, settings,
                                                                   fake_ladok):
    post_all(term(STUDENTS))
    start = dt.datetime(2026, 1, 12, 2, 0, tzinfo=dt.UTC)
    first = run_export(store, settings, now=start)
    waiting = {w["user_id"] for w in first.waiting}
    assert {1001, 1002} <= waiting  # course grades wait for their modules' attestation
    rows = ladok_rows(store)
    for code in ("2205", "2215", "2225"):
        fake_ladok.attest(rows[(1001, code)].result_uid, dt.date(2026, 1, 12))
    # The next night reads back what Ladok shows; the night after, the course grade goes.
    run_export(store, settings, now=start + dt.timedelta(days=1))
    assert ladok_rows(store)[(1001, "2225")].state == "attesterad"
    assert ladok_rows(store)[(1001, "2225")].attested_on == "2026-01-12"
    run_export(store, settings, now=start + dt.timedelta(days=2))  # sooner than 7 days
    assert (1001, "DV1531") in ledger(store)
    assert_in_ladok_as_in_ledger(store, fake_ladok, [(1001, "DV1531")])
    # Not attested in Ladok: later than the fixed delay, it still waits.
    late = run_export(store, settings, now=start + dt.timedelta(days=9))
    assert (1002, "DV1531") not in ledger(store)
    assert 1002 in {w["user_id"] for w in late.waiting}


def test_pages_show_what_ladok_shows(app, client, post_all, store, settings, fake_ladok):
    post_all(term(STUDENTS))
    first = run_export(store, settings)
    rows = ladok_rows(store)
    fake_ladok.klarmarkera(rows[(1001, "2205")].result_uid)
    fake_ladok.attest(rows[(1001, "2215")].result_uid, dt.date(2026, 1, 20))
    run_export(store, settings)  # reads back
    report = client.get("/api/courses/565/students/1001", headers=AUTH).json
    shown = {m["code"]: m["ladok"] for m in report["modules"]}
    assert shown["2205"]["state"] == "klarmarkerad" and shown["2225"]["state"] == "utkast"
    assert shown["2215"] == {"state": "attesterad", "attested_on": "2026-01-20",
                             "problem": None}
    sv = {"Accept-Language": "sv"}
    admin = sign_in(app.test_client(), {"kind": "admin"})
    course = admin.get("/courses/565", headers=sv).text
    assert "Ladok: klarmarkerad" in course and "Ladok: attesterad 2026-01-20" in course
    student = admin.get("/courses/565/students/1001", headers=sv).text
    assert "Ladok: utkast" in student and "Ladok: klarmarkerad" in student
    receipt = admin.get(f"/exports/{first.run_id}", headers=sv).text
    assert "I Ladok" in receipt and "Ladok: attesterad" in receipt
    me = sign_in(app.test_client(), {"kind": "student", "course": 565, "user": 1001})
    mine = me.get("/me", headers=sv).text
    assert "Ladok: attesterad" in mine and "Ladok: utkast" in mine
    # The course page's cached view renews when the Ladok stage records, run or no new run.
    fake_ladok.attest(rows[(1001, "2225")].result_uid, dt.date(2026, 1, 21))
    drafts.send_drafts(store, settings, None)
    assert "Ladok: attesterad 2026-01-21" in admin.get("/courses/565", headers=sv).text
    # A result Ladok has not confirmed yet says so.
    fake_ladok.fail(503, times=50)
    change(post_all, 1001, 10, "A")
    run_export(store, settings)
    report = client.get("/api/courses/565/students/1001", headers=AUTH).json
    assert {m["code"]: m["ladok"] for m in report["modules"]}["2225"]["state"] == "not_in_ladok"
    assert "inte i Ladok än" in admin.get("/courses/565", headers=sv).text


def test_a_write_whose_answer_was_lost_is_found_not_sent_again(post_all, store, settings,
                                                                 fake_ladok, monkeypatch, sleeps):
    quick_clients(monkeypatch, sleeps, retries=1, timeout=1.0)
    post_all(term(STUDENTS))
    reads = 5  # the round, the grade scales, three modules' study results (one page each)
    fake_ladok.hang(times=1, after=reads, applied=True)  # Ladok creates them; the answer is lost
    lost = run_export(store, settings)
    entries = ledger(store)
    assert lost.ladok["error"] and lost.ladok["sent"] == 0
    assert [c.method for c in fake_ladok.seen[reads:]] == ["POST"]  # not sent blindly again
    again = run_export(store, settings)
    assert again.ladok["recorded"] == len(entries) and again.ladok["sent"] == 0
    assert len(fake_ladok.calls("POST", "/skapa$")) == 1
    assert_in_ladok_as_in_ledger(store, fake_ladok, entries)
