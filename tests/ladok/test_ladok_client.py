"""The Ladok client against the fake Ladok over HTTPS with client certificates: the calls and
their shapes, paging, bulk writes, refusals, retries, timeouts, TLS and redaction."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from plugin.ladok.errors import LadokCertificateError, LadokUnavailable
from plugin.ladok.model import (
    ALL_STATES,
    ATTESTERAD,
    KLARMARKERAD,
    UTKAST,
    DraftUpdate,
    NewDraft,
    by_identity,
    identity_key,
)
from plugin.rules.identity import mask
from tests.fake_ladok import KATALOG, RESULTAT, USER
from tests.ladok_pki import certificate_authority

EXAM = dt.date(2025, 10, 3)
G, AF_B = (2302, 2), (131667, 131657)  # (grade id, scale id) in the fake's scales


def drafts_for(ladok, round_, module_code="2205", grade=G, date=EXAM):
    """A new draft on the module for every student on the round."""
    module = next(m for m in round_.modules if m.code == module_code)
    return [NewDraft(sr.uid, module.uid, grade[0], grade[1], date, ref=sr.student_uid)
            for sr in ladok.study_results(module.uid, [round_.uid])]


def test_reads_the_round_its_modules_and_the_grade_scales(ladok, ladok_round):
    found = ladok.course_round(ladok_round.uid)
    assert (found.code, found.course_code, found.instance_uid) == (
        "50110", "DV1531", ladok_round.instance_uid)
    assert [(m.code, m.uid) for m in found.modules] == [
        (m.code, m.uid) for m in ladok_round.modules]
    assert found.module("2225").scale_id == 131657 and found.module("9999") is None
    scales = ladok.grade_scales()  # Ladok sends these ids as strings
    assert scales[131657].grade("fx").id == 131696 and scales[2].grade("G").passing
    assert not scales[2].grade("U").passing
    assert ladok.whoami().name == USER


def test_every_call_names_ladoks_media_types(fake_ladok, ladok, ladok_round):
    fake_ladok.data.add_students(ladok_round, 2)
    ladok.whoami()
    ladok.course_round(ladok_round.uid)
    ladok.grade_scales()
    ladok.create_drafts(drafts_for(ladok, ladok_round))
    for seen in fake_ladok.seen:
        media = KATALOG if seen.path.startswith("/kataloginformation/") else RESULTAT
        assert seen.accept == media, seen
        assert seen.body is None or seen.content_type.startswith(media), seen
    assert {s.method for s in fake_ladok.seen} == {"GET", "PUT", "POST"}


def test_a_search_reads_every_page_in_a_stable_order(fake_ladok, make_client, ladok_round):
    students = fake_ladok.data.add_students(ladok_round, 950)
    ladok = make_client(page_size=100)
    module = ladok_round.modules[0]
    found = ladok.study_results(module.uid, [ladok_round.uid])
    assert sorted(sr.student_uid for sr in found) == sorted(s.uid for s in students)
    searches = fake_ladok.calls("PUT", r"/sok$")
    assert len(searches) == 10  # ceil(950 / 100): no request per student
    for seen in searches:
        assert seen.body["OrderBy"] and seen.body["Filtrering"] == [
            "OBEHANDLADE", "UTKAST", "KLARMARKERADE"]
        assert seen.body["KurstillfallenUID"] == [ladok_round.uid]


def test_students_are_found_by_ladok_uid_or_personnummer_however_written(
        fake_ladok, ladok, ladok_round):
    student = fake_ladok.data.add_students(ladok_round, 1, first=42)[0]
    index = by_identity(ladok.study_results(ladok_round.modules[0].uid, [ladok_round.uid]))
    for written in ("19900101-0042", "199001010042", "900101-0042", student.uid.upper()):
        assert index[identity_key(written)].student_uid == student.uid


def test_drafts_are_created_and_updated_in_bulk(fake_ladok, ladok, ladok_round):
    fake_ladok.data.add_students(ladok_round, 250)
    drafts = drafts_for(ladok, ladok_round, "2225", grade=AF_B)
    created = ladok.create_drafts(drafts)
    assert len(created.confirmed) == 250 and not (created.refused or created.uncertain)
    assert len(fake_ladok.calls("POST", "/skapa$")) == 3  # at most one request per 100
    item, result = created.confirmed[0]
    assert result.state == UTKAST and result.grade_code == "B" and result.exam_date == EXAM
    assert (result.study_result_uid, result.instance_uid) == (item.study_result_uid,
                                                                item.instance_uid)
    assert fake_ladok.calls("POST", "/skapa$")[0].body["LarosateID"] == 99
    updates = [DraftUpdate(r.uid, 131661, 131657, EXAM + dt.timedelta(days=1), r.changed,
                           ref=i.ref) for i, r in created.confirmed]
    changed = ladok.update_drafts(updates)
    assert len(changed.confirmed) == 250 and len(fake_ladok.calls("PUT", "/uppdatera$")) == 3
    again = ladok.study_results(ladok_round.modules[2].uid, [ladok_round.uid])
    assert {sr.open_result().grade_code for sr in again} == {"A"}


def test_a_search_keeps_each_students_result_on_the_module_asked_for(
        fake_ladok, ladok, ladok_round):
    fake_ladok.data.add_students(ladok_round, 3)
    ladok.create_drafts(drafts_for(ladok, ladok_round, "2205"))
    ladok.create_drafts(drafts_for(ladok, ladok_round, "2225", grade=AF_B))
    project = ladok_round.modules[2].uid
    for sr in ladok.study_results(project, [ladok_round.uid]):
        assert len(sr.results) == 2  # Ladok sends the other module's draft along
        assert sr.open_result().instance_uid == project and sr.open_result().grade_code == "B"


def test_a_refusal_for_one_student_is_that_students_alone(fake_ladok, ladok, ladok_round):
    students = fake_ladok.data.add_students(ladok_round, 250)
    fake_ladok.refuse(students[137], "Studenten har hinder")
    outcome = ladok.create_drafts(drafts_for(ladok, ladok_round))
    assert len(outcome.confirmed) == 249 and not outcome.uncertain
    [(item, refusal)] = outcome.refused
    assert item.ref == students[137].uid
    assert (refusal.status, refusal.felgrupp, refusal.message) == (
        400, "commons.fel.grupp.domanregel", "Studenten har hinder")
    assert refusal.fel_uid
    assert fake_ladok.results_of(students[137]) == []
    # The refused batch is halved until the refusal stands alone: a handful of requests.
    assert len(fake_ladok.calls("POST", "/skapa$")) <= 3 + 2 * 7


def test_a_module_the_certificate_may_not_report_on_refuses_only_its_lines(
        fake_ladok, ladok, ladok_round):
    fake_ladok.data.add_students(ladok_round, 4)
    fake_ladok.deny(ladok_round.modules[0].uid)
    mixed = [d for pair in zip(drafts_for(ladok, ladok_round, "2205"),
                               drafts_for(ladok, ladok_round, "2225", grade=AF_B),
                               strict=True) for d in pair]
    outcome = ladok.create_drafts(mixed)
    assert [d for d, _ in outcome.confirmed] == mixed[1::2]
    assert [d for d, _ in outcome.refused] == mixed[0::2]
    assert {(r.status, r.felgrupp) for _, r in outcome.refused} == {
        (403, "commons.fel.grupp.auktorisering")}


def test_a_draft_changed_in_ladok_since_it_was_read_is_refused_alone(
        fake_ladok, ladok, ladok_round):
    fake_ladok.data.add_students(ladok_round, 3)
    created = ladok.create_drafts(drafts_for(ladok, ladok_round))
    fake_ladok.touch(created.confirmed[1][1].uid)
    updates = [DraftUpdate(r.uid, 2303, 2, EXAM, r.changed) for _, r in created.confirmed]
    outcome = ladok.update_drafts(updates)
    assert [u.result_uid for u, _ in outcome.confirmed] == [updates[0].result_uid,
                                                             updates[2].result_uid]
    [(stale, refusal)] = outcome.refused
    assert stale == updates[1] and refusal.status == 409 and "ändrats" in refusal.message


def test_klarmarkerad_and_attested_results_are_read_as_locked(fake_ladok, ladok, ladok_round):
    fake_ladok.data.add_students(ladok_round, 2)
    created = ladok.create_drafts(drafts_for(ladok, ladok_round))
    (_, first), (_, second) = created.confirmed
    fake_ladok.klarmarkera(first.uid)
    fake_ladok.attest(second.uid, dt.date(2025, 11, 2))
    module = ladok_round.modules[0].uid
    found = {sr.uid: sr for sr in ladok.study_results(module, [ladok_round.uid],
                                                      states=ALL_STATES)}
    ready = found[first.study_result_uid].open_result()
    assert ready.state == KLARMARKERAD and ready.locked
    attested = found[second.study_result_uid]
    assert attested.open_result() is None
    assert attested.attested_result().state == ATTESTERAD
    assert attested.attested_result().decided == dt.date(2025, 11, 2)
    refused = ladok.update_drafts([DraftUpdate(first.uid, 2303, 2, EXAM, ready.changed)])
    assert refused.refused[0][1].felgrupp == "commons.fel.grupp.felaktig_status"


def test_5xx_is_retried_with_doubling_waits(fake_ladok, ladok, sleeps):
    fake_ladok.fail(500, times=2)
    assert ladok.whoami().name == USER
    assert sleeps == [0.5, 1.0] and ladok.requests == 3


def test_5xx_that_persists_ends_as_unavailable(fake_ladok, ladok, sleeps):
    fake_ladok.fail(503, times=10)
    with pytest.raises(LadokUnavailable, match="Ladok answered 503") as info:
        ladok.grade_scales()
    assert info.value.status == 503 and ladok.requests == 5 and len(sleeps) == 4


def test_a_hung_read_times_out_and_is_retried(fake_ladok, make_client, sleeps):
    ladok = make_client(timeout=(5.0, 0.5))
    fake_ladok.hang()
    assert ladok.grade_scales()
    assert ladok.requests == 2 and sleeps == [0.5]


def test_a_write_whose_answer_is_lost_is_uncertain_and_not_sent_again(
        fake_ladok, make_client, ladok_round):
    fake_ladok.data.add_students(ladok_round, 3)
    ladok = make_client(timeout=(5.0, 0.5))
    drafts = drafts_for(ladok, ladok_round)
    fake_ladok.hang(applied=True)  # Ladok makes the drafts, the answer never comes
    outcome = ladok.create_drafts(drafts)
    assert outcome.uncertain == drafts and not outcome.confirmed
    assert isinstance(outcome.error, LadokUnavailable) and outcome.error.uncertain
    assert len(fake_ladok.calls("POST", "/skapa$")) == 1
    # The drafts are there: looking before sending again finds them.
    found = ladok.study_results(ladok_round.modules[0].uid, [ladok_round.uid])
    assert all(sr.open_result() is not None for sr in found)


def test_a_write_answered_500_is_uncertain_but_503_is_retried(fake_ladok, ladok, ladok_round,
                                                              sleeps):
    fake_ladok.data.add_students(ladok_round, 2)
    drafts = drafts_for(ladok, ladok_round)
    fake_ladok.fail(500)
    assert ladok.create_drafts(drafts).uncertain == drafts and not sleeps
    fake_ladok.fail(503)
    outcome = ladok.create_drafts(drafts)
    assert len(outcome.confirmed) == 2 and sleeps == [0.5]


def test_a_write_answered_with_something_unreadable_is_uncertain(fake_ladok, ladok,
                                                                 ladok_round):
    fake_ladok.data.add_students(ladok_round, 2)
    drafts = drafts_for(ladok, ladok_round)
    fake_ladok.garble()
    outcome = ladok.create_drafts(drafts)
    assert outcome.uncertain == drafts and "is not JSON" in str(outcome.error)
    assert len(fake_ladok.calls("POST", "/skapa$")) == 1


def test_ladok_going_away_mid_run_leaves_the_rest_unsent(fake_ladok, make_client, ladok_round):
    fake_ladok.data.add_students(ladok_round, 250)
    ladok = make_client(retries=1)
    drafts = drafts_for(ladok, ladok_round)
    fake_ladok.fail(503, times=2, after=1)  # the second batch and its one retry
    outcome = ladok.create_drafts(drafts)
    assert len(outcome.confirmed) == 100 and outcome.unsent == drafts[100:]
    assert isinstance(outcome.error, LadokUnavailable) and not outcome.uncertain
    assert len(fake_ladok.calls("POST", "/skapa$")) == 3


def test_a_write_refused_as_a_whole_is_not_split_line_by_line(fake_ladok, make_client,
                                                             ladok_round):
    fake_ladok.data.add_students(ladok_round, 150)
    drafts = drafts_for(make_client(), ladok_round)
    wrong = make_client()
    wrong.base_url += "/wrong-prefix"  # Ladok answers 404 without a rule of its own
    outcome = wrong.create_drafts(drafts)
    assert outcome.unsent == drafts and not (outcome.refused or outcome.confirmed)
    assert outcome.error.status == 404 and wrong.requests == 1


def test_a_certificate_from_another_ca_is_refused_without_retries(fake_ladok, make_client,
                                                                  sleeps):
    ladok = make_client(fake_ladok.stranger_pem)
    with pytest.raises(LadokCertificateError, match="refused the TLS connection"):
        ladok.whoami()
    assert fake_ladok.handshake_failures >= 1 and not sleeps and not fake_ladok.seen


def test_ladoks_server_certificate_must_be_trusted(fake_ladok, make_client, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    ladok = make_client(ca_file="")  # the system's CAs do not know the fake's CA
    with pytest.raises(LadokCertificateError, match="set ladok.ca_file"):
        ladok.whoami()


def test_ca_file_wins_over_requests_ca_bundle(fake_ladok, make_client, monkeypatch, tmp_path):
    other = certificate_authority("Unrelated CA").write_cert(tmp_path / "other.pem")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other))
    assert make_client().whoami().name == USER  # ca_file is the fake's CA
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(fake_ladok.ca_file))
    assert make_client(ca_file="").whoami().name == USER  # without ca_file the variable counts
    with pytest.raises(LadokCertificateError, match="not trusted"):
        make_client(ca_file=str(other)).whoami()  # with it, only ca_file is trusted


def test_a_pkcs12_certificate_with_a_password_works(fake_ladok, make_client, tmp_path):
    p12 = fake_ladok.client.write_p12(tmp_path / "integration.p12", "hemligt")
    from plugin.ladok.client import LadokClient
    from plugin.settings.certificate import load_client_certificate

    identity = load_client_certificate(p12, "hemligt")
    with LadokClient(fake_ladok.url, identity, ca_file=str(fake_ladok.ca_file)) as ladok:
        assert ladok.whoami().name == USER


def test_nothing_personal_or_secret_reaches_logs_or_errors(fake_ladok, ladok, ladok_round,
                                                           caplog):
    caplog.set_level(logging.DEBUG)
    students = fake_ladok.data.add_students(ladok_round, 3)
    fake_ladok.refuse(students[1], f"Studenten {students[1].personnummer} har hinder")
    fake_ladok.fail(502)
    outcome = ladok.create_drafts(drafts_for(ladok, ladok_round))
    refusal = outcome.refused[0][1]
    assert refusal.message == f"Studenten {mask(students[1].personnummer)} har hinder"
    assert students[1].personnummer not in refusal.message
    text = caplog.text + str(refusal) + str(outcome.error)
    key = fake_ladok.client.key
    assert "PRIVATE KEY" not in text and repr(key) not in repr(ladok.__dict__)
    for student in students:
        assert student.personnummer not in text
        assert student.personnummer[2:8] + "-" + student.personnummer[8:] not in text
