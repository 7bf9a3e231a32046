"""Pages, JSON and files with personal data are never stored by a browser or proxy, and every
download is logged with who fetched it."""

from __future__ import annotations

import logging

import pytest

from plugin.jobs import queue
from plugin.status import RESYNC
from tests.conftest import ADMIN_TOKEN, sign_in
from tests.web.test_pages import post_form

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
FILES = ["ladok-report.tsv", "rapporteringsunderlag.csv", "rapporteringsunderlag.xlsx"]


@pytest.mark.parametrize("name", FILES)
def test_every_download_is_no_store_and_logged_with_who_fetched_it(admin_client, client, demo,
                                                                   caplog, name):
    caplog.set_level(logging.INFO)
    page = admin_client.get(f"/exports/{demo}/files/{name}")
    api = client.get(f"/api/exports/{demo}/files/{name}", headers=ADMIN)
    for response in (page, api):
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"
    assert page.data == api.data
    assert f"export run {demo}: {name} downloaded by administrator\n" in caplog.text + "\n"
    assert f"export run {demo}: {name} downloaded by administrator (token 2)" in caplog.text
    assert ADMIN_TOKEN not in caplog.text


def test_pages_with_personal_data_are_no_store(app, admin_client, demo, store):
    job, _ = queue.enqueue(store, RESYNC, 565, {"mode": "full"})
    for path in ("/", "/courses/565", "/courses/565/students/1001", "/exports",
                 f"/exports/{demo}", f"/jobs/{job}"):
        assert admin_client.get(path).headers["Cache-Control"] == "no-store", path
    assert post_form(admin_client, "/courses/565/preview").headers["Cache-Control"] == "no-store"
    student = sign_in(app.test_client(), {"kind": "student", "course": 565, "user": 1001})
    assert student.get("/me").headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ["/api/courses/565/preview", "/api/courses/565/students/1001",
                                  "/api/exports", "/api/exports/1"])
def test_api_answers_with_personal_data_are_no_store(client, demo, path):
    response = client.get(path, headers=ADMIN)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    dry_run = client.post("/api/exports", json={"dry_run": True}, headers=ADMIN)
    assert dry_run.headers["Cache-Control"] == "no-store"


def test_the_stylesheet_may_be_cached(client):
    assert client.get("/static/style.css").headers.get("Cache-Control") != "no-store"
