"""The pages for people: sign-in, scopes, the course and student pages, exports, actions."""

from __future__ import annotations

import dataclasses
import logging
import re

import pytest

from plugin import create_app
from plugin.export.publish import run_folder
from plugin.jobs import queue
from plugin.jobs.worker import run_pending
from tests.conftest import ADMIN_TOKEN, post_event, sign_in

OTHER_COURSE = 1279362
PAGES = ["/", "/courses/565", "/courses/565/students/1001", "/exports", "/exports/1"]


def csrf_token(client, path: str = "/login") -> str:
    """The CSRF token of a form on `path`."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert match, f"no form on {path}"
    return match.group(1)


def post_form(client, path: str, data: dict | None = None, page: str = "/courses/565"):
    """POST a page form with the session's CSRF token."""
    return client.post(path, data={"csrf_token": csrf_token(client, page), **(data or {})})


def session_cookie(response) -> str:
    """The Set-Cookie header setting the session (not one deleting the other kind)."""
    return next(h for h in response.headers.getlist("Set-Cookie")
                if h.startswith("session=") and "01 Jan 1970" not in h)


def cell_states(html: str) -> dict[tuple[int, str], str]:
    """(Canvas user id, component code) -> state, from the students table."""
    found = re.findall(r'data-user="(\d+)" data-code="([^"]+)" data-state="([^"]+)"', html)
    return {(int(u), c): s for u, c, s in found}


def heading_count(html: str, anchor: str) -> int:
    match = re.search(rf'id="{anchor}">[^<]*\(<span class="n">(\d+)</span>\)', html)
    assert match, anchor
    return int(match.group(1))


# --- sign-in and permissions ---------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_visitors_are_sent_to_the_sign_in_page(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_an_admin_token_signs_in_and_sign_out_ends_the_session(client, demo):
    response = client.post("/login", data={"token": ADMIN_TOKEN, "next": "/courses/565",
                                           "csrf_token": csrf_token(client)})
    assert response.status_code == 302 and response.headers["Location"] == "/courses/565"
    assert client.get("/courses/565").status_code == 200
    assert "administrator (token 2)" in client.get("/").text  # who, never the token itself
    assert client.post("/logout", data={"csrf_token": csrf_token(client, "/")}).status_code == 302
    assert client.get("/courses/565").status_code == 302


def test_a_wrong_token_is_refused_and_the_next_page_stays_local(client):
    response = client.post("/login", data={"token": "nope", "csrf_token": csrf_token(client)})
    assert response.status_code == 403 and "not accepted" in response.text
    response = client.post("/login", data={"token": ADMIN_TOKEN, "next": "//evil.example/",
                                           "csrf_token": csrf_token(client)})
    assert response.headers["Location"] == "/"


def test_five_failed_sign_ins_a_minute_answer_429_even_for_the_right_token(client):
    token = csrf_token(client)
    for _ in range(5):
        assert client.post("/login", data={"token": "wrong", "csrf_token": token}).status_code \
            == 403
    response = client.post("/login", data={"token": ADMIN_TOKEN, "csrf_token": token})
    assert response.status_code == 429
    other = client.post("/login", data={"token": ADMIN_TOKEN, "csrf_token": token},
                        environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert other.status_code == 302  # another address is not held back


def test_sign_in_failures_older_than_a_minute_no_longer_count(client, monkeypatch):
    import datetime as dt

    from plugin.web import sign_in_limit

    start = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
    monkeypatch.setattr(sign_in_limit, "utcnow", lambda: start)
    token = csrf_token(client)
    for _ in range(5):
        client.post("/login", data={"token": "wrong", "csrf_token": token})
    assert client.post("/login", data={"token": ADMIN_TOKEN, "csrf_token": token}) \
        .status_code == 429
    monkeypatch.setattr(sign_in_limit, "utcnow", lambda: start + dt.timedelta(seconds=61))
    assert client.post("/login", data={"token": ADMIN_TOKEN, "csrf_token": token}) \
        .status_code == 302


def test_a_form_without_its_csrf_token_answers_400(admin_client, demo):
    assert admin_client.post("/courses/565/preview").status_code == 400
    assert admin_client.post("/courses/565/resync", data={"csrf_token": "forged"}) \
        .status_code == 400
    assert admin_client.post("/login", data={"token": ADMIN_TOKEN}).status_code == 400
    response = admin_client.post("/courses/565/export")
    assert response.status_code == 400 and "expired" in response.text
    assert admin_client.get("/jobs/1").status_code == 404  # nothing was queued


@pytest.mark.parametrize("path", PAGES)
def test_an_administrator_sees_every_page(admin_client, demo, path):
    assert admin_client.get(path).status_code == 200


def test_a_course_session_sees_its_course_only(course_client, demo):
    assert course_client.get("/courses/565").status_code == 200
    assert course_client.get("/courses/565/students/1001").status_code == 200
    for path in (f"/courses/{OTHER_COURSE}", f"/courses/{OTHER_COURSE}/students/1001",
                 "/courses/999"):
        assert course_client.get(path).status_code == 404
    token = csrf_token(course_client)
    for action in ("resync", "preview", "export"):
        response = course_client.post(f"/courses/{OTHER_COURSE}/{action}",
                                      data={"csrf_token": token, "expected": "0"})
        assert response.status_code == 404
    overview = course_client.get("/").text
    assert "/courses/565" in overview and f"/courses/{OTHER_COURSE}" not in overview


def test_a_student_session_gets_404_on_every_staff_page(app, demo):
    client = sign_in(app.test_client(), {"kind": "student", "course": 565, "user": 1001})
    for path in PAGES:
        assert client.get(path).status_code == 404


def test_without_a_secret_key_pages_answer_503_and_the_webhook_and_api_work_on(settings, store):
    app = create_app({"SETTINGS": dataclasses.replace(settings, secret_key=""),
                      "TESTING": True})
    client = app.test_client()
    response = client.get("/")
    assert response.status_code == 503 and "CANVAS_LADOK_SECRET_KEY" in response.text
    assert client.get("/login").status_code == 503
    from tests.helpers import term
    assert post_event(client, term(1)[0]).status_code == 202
    assert client.get("/api/ping", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) \
        .status_code == 200
    app.extensions["canvas_ladok"].store.dispose()


# --- headers and cookies -------------------------------------------------------------------


def test_pages_send_the_security_headers(admin_client, demo):
    headers = admin_client.get("/courses/565").headers
    assert headers["Content-Security-Policy"] == "default-src 'self'; frame-ancestors 'none'"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"


def test_session_cookie_is_httponly_lax_and_secure_only_behind_https(settings, store):
    app = create_app({"SETTINGS": dataclasses.replace(settings, trusted_proxies=1),
                      "TESTING": True})
    for proto, secure in (("http", False), ("https", True)):
        client = app.test_client()
        token = csrf_token(client)
        response = client.post("/login", data={"token": ADMIN_TOKEN, "csrf_token": token},
                               headers={"X-Forwarded-Proto": proto,
                                        "Referer": f"{proto}://localhost/login"})
        cookie = session_cookie(response)
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert ("Secure" in cookie) is secure
        assert "Expires=" in cookie  # a permanent session: it ends after 8 hours
    app.extensions["canvas_ladok"].store.dispose()


def test_an_lti_session_is_framed_by_canvas_and_its_cookie_is_partitioned(app, demo):
    from flask import session

    from plugin.web.access import start_session

    with app.test_request_context("/"):
        start_session({"kind": "course", "course": 565}, "Teacher Tess", lti=True)
        response = app.make_response("x")
        app.session_interface.save_session(app, session, response)
        cookie = response.headers["Set-Cookie"]
    assert "SameSite=None" in cookie and "Secure" in cookie and "Partitioned" in cookie
    client = sign_in(app.test_client(), {"kind": "course", "course": 565}, lti=True)
    csp = client.get("/courses/565").headers["Content-Security-Policy"]
    assert csp == "default-src 'self'; frame-ancestors https://canvas.example.edu"


# --- the course page -----------------------------------------------------------------------


def test_course_page_counts_agree_with_the_json_preview(admin_client, demo):
    html = admin_client.get("/courses/565").text
    preview = admin_client.get("/api/courses/565/preview",
                               headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).json
    assert heading_count(html, "held-back") == len(preview["held_back"]) == 1
    assert heading_count(html, "manual") == len(preview["manual"]) == 1
    assert heading_count(html, "unmapped") == len(preview["unmapped_assignments"]) == 1
    assert heading_count(html, "changes") == len(
        [r for r in preview["results"] if r["status"] != "new"]) == 2
    states = cell_states(html)
    held = {h["user_id"] for h in preview["held_back"]}
    pending = {(k, c) for (k, c), s in states.items()
               if s in ("new", "correction", "withdrawing") and k not in held}
    assert pending == {(r["canvas_user_id"], r["component_code"]) for r in preview["results"]}


def test_course_page_shows_every_state_in_words(admin_client, demo):
    html = admin_client.get("/courses/565").text
    states = cell_states(html)
    assert set(states.values()) >= {"exported", "new", "correction", "withdrawing",
                                    "attestation", "not_earned"}
    for words in ("exported", "earned, waiting for export", "correction waiting for export",
                  "no longer earned: will be marked withdrawn — handle in Ladok",
                  "waiting for module attestation",
                  "grade PG is not a pass", "no posted grade (hidden)", "Nils Utan-Nummer",
                  'assignments = { "399" = "kmomNN" }', "Extra uppgift"):
        assert words in html, words
    assert "<svg" in html and "<script" not in html and "style=" not in html


def test_personnummer_are_masked_on_pages(admin_client, demo):
    for path in ("/courses/565", "/courses/565/students/1001", f"/exports/{demo}"):
        html = admin_client.get(path).text
        assert "19900101-****" in html, path
        assert "19900101-1001" not in html, path


@pytest.mark.parametrize("query, expected", [
    ({"show": "problems"}, {1002, 1101, 1102}),
    ({"show": "waiting"}, {1001, 1101, 1102, 1103}),
    ({"q": "väntar"}, {1103}),
    ({"q": "1004"}, {1004}),
    ({"show": "problems", "q": "nils"}, {1101}),
])
def test_students_table_filters_and_searches(admin_client, demo, query, expected):
    html = admin_client.get("/courses/565", query_string=query).text
    assert {u for u, _ in cell_states(html)} == expected


def test_students_table_sorts_by_name_id_or_progress(admin_client, demo):
    def order(sort):
        html = admin_client.get("/courses/565", query_string={"sort": sort}).text
        return list(dict.fromkeys(int(u) for u in re.findall(r'data-user="(\d+)"', html)))

    assert order("id") == sorted(order("id"))
    by_name = order("name")
    assert by_name[0] == 1102  # Hanna Dold
    assert order("progress")[-1] == 1103  # one module earned, the fewest
    assert order("nonsense") == by_name


# --- the student page ----------------------------------------------------------------------


def test_student_page_says_why_not_and_where_exported(admin_client, demo):
    html = admin_client.get("/courses/565/students/1008").text
    assert "kmom03: grade PG is not a pass" in html and "Demo Teacher" in html
    html = admin_client.get("/courses/565/students/1001").text
    assert f'href="/exports/{demo}"' in html and "correction waiting for export" in html
    html = admin_client.get("/courses/565/students/1003").text
    assert "waiting for module attestation" in html and "this may go out from 20" in html
    assert admin_client.get("/courses/565/students/4242").status_code == 404


def test_student_page_of_a_held_back_student_names_the_missing_field(admin_client, demo):
    html = admin_client.get("/courses/565/students/1101").text
    assert "missing: no sis_user_id in Canvas" in html


def test_a_held_back_student_is_shown_held_back_first_and_promised_no_date(admin_client, demo):
    report = admin_client.get("/api/courses/565/students/1101",
                              headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).json
    grade = report["course_grade"]
    assert grade["earned"] and grade["state"] == "held_back" and grade["due"] is None
    assert grade["status"] == ("held back: no sis_user_id; it goes out with the first export "
                               "after the identity is in Canvas")
    assert {m["state"] for m in report["modules"]} == {"held_back"}
    html = admin_client.get("/courses/565/students/1101").text
    assert "waiting for module attestation" not in html and "may go out from" not in html
    course = admin_client.get("/courses/565").text
    assert {s for (u, _c), s in cell_states(course).items() if u == 1101} == {"held_back"}
    row = re.search(r'data-user="1101".*?<td class="problems">([^<]*)</td>', course, re.S)
    assert row.group(1).startswith("held back: no sis_user_id")


def test_the_course_grades_date_is_explained_by_its_modules(admin_client, demo):
    html = admin_client.get("/courses/565/students/1003").text
    assert html.count("the latest date of its moments") == 3  # the three modules
    assert html.count("the latest date of its modules, wherever earned") == 1


# --- exports and downloads -----------------------------------------------------------------


def test_export_runs_and_the_receipt(admin_client, demo):
    assert f'href="/exports/{demo}"' in admin_client.get("/exports").text
    html = admin_client.get(f"/exports/{demo}").text
    assert "ladok-report.tsv" in html and "Student 3" in html
    assert "19900101-****" in html
    assert admin_client.get("/exports/9999").status_code == 404


def test_a_download_is_not_cached_equals_the_file_and_is_logged(admin_client, demo, settings,
                                                                caplog):
    caplog.set_level(logging.INFO)
    response = admin_client.get(f"/exports/{demo}/files/ladok-report.tsv")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.data == (run_folder(settings, demo) / "ladok-report.tsv").read_bytes()
    assert "ladok-report.tsv downloaded by administrator" in caplog.text
    assert admin_client.get(f"/exports/{demo}/files/other.txt").status_code == 404


def test_a_course_session_downloads_its_course_run_but_not_a_run_of_every_course(
        app, course_client, demo, store, settings):
    assert course_client.get(f"/exports/{demo}/files/ladok-report.tsv").status_code == 200
    from plugin.export.run import run_export
    everyone = run_export(store, settings, trigger="schedule")
    if everyone.files:
        assert course_client.get(f"/exports/{everyone.run_id}/files/{everyone.files[0]}") \
            .status_code == 404
    assert course_client.get(f"/exports/{everyone.run_id}").status_code == 200


# --- actions -------------------------------------------------------------------------------


def test_resync_queues_a_job_whose_page_shows_its_progress(admin_client, demo, store):
    response = post_form(admin_client, "/courses/565/resync")
    assert response.status_code == 302
    job_id = int(response.headers["Location"].rsplit("/", 1)[1])
    page = admin_client.get(f"/jobs/{job_id}").text
    assert "queued" in page and 'http-equiv="refresh"' in page
    queue.report(store, job_id, {"students": 40, "submissions": 280})
    page = admin_client.get(f"/jobs/{job_id}").text
    assert re.search(r'<th scope="row">Students</th><td>40</td>', page)
    assert re.search(r'<th scope="row">Submissions read</th><td>280</td>', page)
    swedish = admin_client.get(f"/jobs/{job_id}", headers={"Accept-Language": "sv"}).text
    assert re.search(r'<th scope="row">Lästa inlämningar</th><td>280</td>', swedish)
    assert "submissions" not in swedish and "students" not in swedish  # no raw keys


def test_job_page_says_a_failure_in_words_and_progress_in_a_fixed_order(
        admin_client, demo, store):
    job_id, _ = queue.enqueue(store, "export", 565)
    queue.finish(store, job_id, progress={"withdrawn": 1, "new": 3, "held_back": 1,
                                          "correction": 2, "files": ["ladok-report.tsv"]})
    page = admin_client.get(f"/jobs/{job_id}", headers={"Accept-Language": "sv"}).text
    labels = re.findall(r'<th scope="row">([^<]+)</th>', page)
    assert labels == ["Nya resultat", "Rättelser", "Återkallade", "Tillbakahållna (saknar "
                      "identitet)", "Filer"]
    failed, _ = queue.enqueue(store, "resync", 565)
    queue.finish(store, failed, error="CanvasError: GET /courses/565: 503 Service Unavailable")
    page = admin_client.get(f"/jobs/{failed}", headers={"Accept-Language": "sv"}).text
    assert "Canvas svarade med ett fel eller gick inte att nå." in page
    assert "<code>GET /courses/565: 503 Service Unavailable</code>" in page
    assert "CanvasError" not in page


def test_preview_shows_exactly_the_lines_and_export_now_needs_the_count(
        admin_client, demo, store, settings, canvas_users_unknown):
    from plugin.export.run import run_export

    expected = run_export(store, settings, course_id=565, dry_run=True).lines
    assert len(expected) == 5  # 3 new, a correction and a withdrawal
    html = post_form(admin_client, "/courses/565/preview").text
    rows = re.findall(r'<tr><td>[^<]*</td><td>DV1531</td><td>(\w+)</td><td class="id">([^<]+)'
                      r"</td><td>[^<]*</td><td>(\w+)</td><td>([\d-]+)</td>", html)
    assert sorted(rows) == sorted((x.component_code, x.student_id[:8] + "-****", x.grade,
                                   x.exam_date.isoformat()) for x in expected)
    assert f'name="expected" value="{len(expected)}"' in html
    wrong = post_form(admin_client, "/courses/565/export", {"expected": len(expected) + 1})
    assert wrong.status_code == 409 and "changed since your preview" in wrong.text
    right = post_form(admin_client, "/courses/565/export", {"expected": len(expected)})
    assert right.status_code == 302
    run_pending(store, settings)
    job_page = admin_client.get(right.headers["Location"]).text
    run_id = int(re.search(r'href="/exports/(\d+)"', job_page).group(1))
    assert run_id != demo
    receipt = admin_client.get(f"/exports/{run_id}").text
    assert "Student 1" in receipt and "handle in Ladok" in receipt


# --- overview and language -----------------------------------------------------------------


def test_overview_shows_courses_counts_and_the_system_strip(admin_client, demo, client):
    from tests.helpers import term

    post_event(client, term(1)[0])  # received, not yet applied
    html = admin_client.get("/").text
    for words in ("DV1531", "DV1600", "Events waiting to be applied", "Last event received",
                  "Next scheduled export", "Health", f"run {demo}", "11 students"):
        assert words in html, words
    assert re.search(r"Events waiting to be applied</dt><dd>1<", html)


def test_swedish_from_the_browser_or_the_switch(admin_client, demo):
    html = admin_client.get("/courses/565", headers={"Accept-Language": "sv-SE,sv"}).text
    assert "Slutbetyg" in html and "Examinationsdatum" in html and "Förhandsgranska" in html
    response = admin_client.get("/language/sv?next=/exports")
    assert response.headers["Location"] == "/exports"
    assert "Exportkörningar" in admin_client.get("/exports").text
    admin_client.get("/language/en?next=/")
    assert "Export runs" in admin_client.get("/exports").text


def test_the_committed_catalog_is_the_compiled_po():
    import io
    from pathlib import Path

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    folder = Path(__file__).resolve().parents[2] / "plugin/translations/sv/LC_MESSAGES"
    with (folder / "messages.po").open("rb") as fh:
        catalog = read_po(fh)
    fresh = io.BytesIO()
    write_mo(fresh, catalog)
    assert (folder / "messages.mo").read_bytes() == fresh.getvalue()


def test_every_page_message_has_a_swedish_translation():
    from pathlib import Path

    from babel.messages.pofile import read_po

    path = Path(__file__).resolve().parents[2] / "plugin/translations/sv/LC_MESSAGES"
    with (path / "messages.po").open("rb") as fh:
        catalog = read_po(fh)
    missing = [m.id for m in catalog if m.id and not (m.string if isinstance(m.string, str)
                                                      else all(m.string))]
    assert missing == []


def test_the_demo_command_fills_the_course_in_every_state(runner, store, settings):
    from plugin.cli import main

    result = runner.invoke(main, ["demo"])
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:8000/" in result.output
    from plugin.reports.course import course_views

    view = course_views(store, settings, [settings.course(565)])[565]
    states = {s for row in view.rows for s in row.states.values()}
    assert states >= {"exported", "new", "correction", "withdrawing", "attestation",
                      "not_earned"}
    assert view.summary.held_back and view.summary.manual and view.summary.unmapped
    assert view.moments[3]["failed"] == 1  # the PG


def test_students_table_comes_in_pages_that_keep_the_filter(admin_client, demo, monkeypatch):
    from plugin.web import pages

    monkeypatch.setattr(pages, "PAGE_SIZE", 4)

    def users(**query):
        html = admin_client.get("/courses/565", query_string={"sort": "id", **query}).text
        return list(dict.fromkeys(u for u, _ in cell_states(html))), html

    first, html = users()
    assert len(first) == 4 and "11 students match" in html and "page 1 of 3" in html
    assert 'page=2' in html and "sort=id" in html
    last, _ = users(page=3)
    assert len(last) == 3 and not set(first) & set(last)
    assert users(page=99)[0] == last and users(page=-1)[0] == first
    only, html = users(show="waiting", page=1)
    assert len(only) == 4 and "page 1 of 1" not in html


@pytest.mark.parametrize("query", [
    {"page": "abc"}, {"page": "9" * 40}, {"show": "<script>"}, {"sort": "\x00"},
    {"q": "x" * 5000}, {"q": "%"},
])
def test_odd_table_parameters_fall_back_to_defaults(admin_client, demo, query):
    response = admin_client.get("/courses/565", query_string=query)
    assert response.status_code == 200
    assert "<script>" not in response.text


@pytest.mark.parametrize("path", ["/courses/99999999999999999999999", "/exports/abc",
                                  "/language/xx", "/jobs/0"])
def test_unknown_things_are_404_pages_not_errors(admin_client, path):
    response = admin_client.get(path)
    assert response.status_code == 404
