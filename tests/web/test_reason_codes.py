"""The JSON API keeps its English reasons and statuses and adds a stable code beside each; the
pages say the same reasons in Swedish, and name what they mention (assignments, the course,
students) instead of numbering it."""

from __future__ import annotations

import re

from plugin.export.run import run_export
from plugin.rules.reasons import MESSAGES
from tests.conftest import ADMIN_TOKEN

BEARER = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
SWEDISH = {"Accept-Language": "sv-SE,sv;q=0.9"}


def test_the_student_endpoint_adds_codes_beside_unchanged_english(client, demo):
    report = client.get("/api/courses/565/students/1102", headers=BEARER).json
    moment = next(m for m in report["moments"] if m["moment"] == "kmom05")
    assert moment["reason"] == "kmom05: no posted grade (hidden)"
    assert moment["reason_code"] == "moment.hidden" and moment["assignment_name"] == "Kmom05"
    assert moment["date_reason"] is None and moment["date_reason_code"] is None
    dated = next(m for m in report["moments"] if m["moment"] == "kmom01")
    assert dated["date_reason"].startswith("handed in ")
    assert dated["date_reason_code"] in ("date.handed_in", "date.later_events")
    first = next(m for m in report["modules"] if m["code"] == "2205")
    assert first["reason"] == "passed kmom01, kmom02, kmom03"
    assert first["reason_code"] == "module.passed"
    assert first["status"] == "new result for the next export"
    assert first["status_code"] == "status.new" and first["state"] == "new"
    second = next(m for m in report["modules"] if m["code"] == "2215")
    assert second["reason"] == "kmom05: no posted grade (hidden)"
    assert second["status"] == "not earned" and second["status_code"] == "status.not_earned"
    assert second["reason_code"] == "moment.hidden" and second["reason_codes"] == [
        "moment.hidden"]
    waiting = client.get("/api/courses/565/students/1103", headers=BEARER).json
    assert [m["reason_code"] for m in waiting["moments"]] == [
        "grade.passed", "grade.passed", "grade.passed", "moment.waiting", "moment.waiting",
        "moment.waiting", "moment.waiting"]
    assert waiting["modules"][1]["reason"] == (
        "waiting for kmom04; waiting for kmom05; waiting for kmom06")
    assert waiting["modules"][1]["reason_code"] == "list"
    assert waiting["modules"][1]["reason_codes"] == ["moment.waiting"] * 3
    grade = report["course_grade"]
    assert grade["reason"] == "waiting for kmom05" and grade["reason_code"] == "course.waiting"
    assert report["manual"] == ["kmom05 (assignment 305): no posted grade (hidden)"]
    assert report["manual_codes"] == ["note.hidden"]
    assert report["identity"] == "known" and report["identity_code"] == "known"
    assert all(c in MESSAGES for c in (moment["reason_code"], first["status_code"]))


def test_a_held_back_student_has_codes_in_the_api_and_words_on_the_page(client, demo):
    report = client.get("/api/courses/565/students/1101", headers=BEARER).json
    assert report["identity"] == "held back: no sis_user_id"
    assert report["identity_code"] == "held_back"
    preview = client.get("/api/courses/565/preview", headers=BEARER).json
    [held] = preview["held_back"]
    assert held["reason"] == "no sis_user_id" and held["code"] == "identity.missing"
    assert held["params"] == {"field": "sis_user_id"}
    [manual] = preview["manual"]
    assert manual["notes"] == ["kmom05 (assignment 305): no posted grade (hidden)"]
    assert manual["codes"] == ["note.hidden"]


def test_student_page_in_swedish_names_the_assignments(admin_client, demo):
    html = admin_client.get("/courses/565/students/1102", headers=SWEDISH).text
    assert "kmom05: inget publicerat betyg (dolt)" in html
    assert "no posted grade" not in html and "waiting for" not in html
    assert re.search(r"<td>Kmom05 <small>\(id 305\)</small></td>", html)  # not a bare 305
    assert "Extra uppgift <small>(id 399)</small>" in html  # the unmapped one, named
    assert "2205 Inlämningsuppgift 1 (2,5 hp)" in html and "2.5" not in html
    assert "väntar på kmom05" in html and "godkänd på kmom01, kmom02, kmom03" in html
    # The note names the assignment (the API's English keeps the id: see above).
    assert "kmom05 (uppgift ”Kmom05”, id 305): inget publicerat betyg (dolt)" in html
    english = admin_client.get("/courses/565/students/1102").text
    assert "Module (modul)" in english and "Examination date (examinationsdatum)" in english
    assert "2205 Inlämningsuppgift 1 (2.5 credits)" in english


def test_course_page_in_swedish_says_earned_as_ladok_does(admin_client, demo):
    html = admin_client.get("/courses/565", headers=SWEDISH).text
    assert "uppnådd, väntar på export" in html and "betyget PG är inte godkänt" in html
    assert "tillbakahållen: sis_user_id saknas" in html  # the problems column, in words
    assert "återkallad — hantera i Ladok" in html
    assert not re.search(r"\bKlar\b|\bklar\b", html)  # klarmarkerad is Ladok's state only


def test_receipt_names_the_course_and_links_its_students(admin_client, demo):
    html = admin_client.get(f"/exports/{demo}", headers=SWEDISH).text
    assert re.search(r"· (kurs DV1531|alla kurser)</p>", html)
    assert "course 565" not in html and "all</p>" not in html
    links = re.findall(r'<td><a href="/courses/(\d+)/students/(\d+)">([^<]+)</a></td>', html)
    assert links and all(course == "565" for course, _, _ in links)


def test_runs_name_their_course_by_its_ladok_code(admin_client, demo, store, settings):
    html = admin_client.get("/exports", headers=SWEDISH).text
    assert "<td>DV1531</td>" in html and "<td>565</td>" not in html  # the demo's runs
    run_export(store, settings, trigger="schedule")  # a nightly run of every course
    html = admin_client.get("/exports", headers=SWEDISH).text
    assert "<td>alla kurser</td>" in html and ">all<" not in html
