"""Renaming an assignment after its results went to Ladok keeps it counted, and says so.

An assignment mapped to a moment by its name ("Kmom01") keeps that mapping once a result that
used it was exported: renaming it to "Extra uppgift" must not withdraw every student's module
and course grade. Before any export a rename unmaps it as before; the config's explicit
`assignments` map always wins.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from plugin.demo.live_events import assignment_event
from plugin.export.run import run_export
from plugin.intake.apply import apply_pending
from plugin.settings import load_settings
from plugin.store.models import NameMapping
from tests.conftest import ADMIN_TOKEN, post_event
from tests.helpers import term

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
LATER = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
RENAMED = 'assignment 301 renamed to "Extra uppgift": still counted as kmom01; map it in ' \
          '`assignments` (301 = "kmom01") or rename it back'


def post_all(client, events) -> None:
    for event in events:
        assert post_event(client, event).status_code == 202
    apply_pending(client.application.extensions["canvas_ladok"].store)


def rename(client, title: str, when: dt.datetime = LATER) -> None:
    post_all(client, [assignment_event(565, 301, title, when)])


def preview(client) -> dict:
    response = client.get("/api/courses/565/preview", headers=AUTH)
    assert response.status_code == 200
    return response.json


def with_assignments(config_file, environ, tmp_path, entries: str):
    """The test settings with more explicit `assignments` entries for course 565."""
    text = config_file.read_text().replace('"355" = "kmom01"', f'"355" = "kmom01", {entries}')
    path = tmp_path / "explicit.toml"
    path.write_text(text)
    return load_settings(path, environ)


def test_rename_after_export_keeps_every_result_and_lists_the_rename(client, store, settings):
    post_all(client, term(2))
    first = run_export(store, settings, now=LATER)
    assert first.counts["new"] == 5
    with store.read() as session:
        kept = {(r.assignment_id, r.moment, r.name) for r in session.scalars(select(NameMapping))}
    assert (301, 1, "Kmom01") in kept

    rename(client, "Extra uppgift")
    again = run_export(store, settings, now=LATER + dt.timedelta(hours=1))

    assert again.nothing_new, again.counts
    body = preview(client)
    assert body["renamed_assignments"] == [{"course": 565, "note": RENAMED, "code": "note.renamed"}]
    assert body["unmapped_assignments"] == [] and body["withdrawals"] == []
    report = client.get("/api/courses/565/students/1001", headers=AUTH).json
    assert report["renamed_assignments"] == [RENAMED]
    assert report["moments"][0]["reason"] == (
        'kmom01: passed with G (assignment renamed to "Extra uppgift": still counted as kmom01)')
    assert report["modules"][0]["status"] == "exported"


def test_rename_back_ends_the_listing(client, store, settings):
    post_all(client, term(2))
    assert run_export(store, settings, now=LATER).counts["new"] == 5
    rename(client, "Extra uppgift")
    rename(client, "Kmom 1", LATER + dt.timedelta(minutes=5))
    assert preview(client)["renamed_assignments"] == []
    assert run_export(store, settings, now=LATER + dt.timedelta(hours=1)).nothing_new


def test_rename_before_any_export_unmaps_and_lists_the_assignment(client, store, settings):
    post_all(client, term(2))
    rename(client, "Extra uppgift")

    body = preview(client)
    run = run_export(store, settings, now=LATER)

    assert {"course": 565, "assignment_id": 301} in body["unmapped_assignments"]
    assert body["renamed_assignments"] == []
    assert run.counts["new"] == 4  # 2215 and 2225 for both; 2205 waits for kmom01
    report = client.get("/api/courses/565/students/1001", headers=AUTH).json
    assert report["modules"][0]["reason"].startswith("waiting for kmom01")
    assert 301 in report["unmapped_assignments"]


def test_explicit_assignments_entry_wins_over_a_kept_name_mapping(
        client, store, settings, config_file, environ, tmp_path):
    post_all(client, term(2))
    run_export(store, settings, now=LATER)
    rename(client, "Extra uppgift")

    fixed = with_assignments(config_file, environ, tmp_path, '"301" = "kmom01"')
    assert run_export(store, fixed, dry_run=True, now=LATER).renamed == []
    moved = with_assignments(config_file, environ, tmp_path, '"301" = "kmom02", "302" = "kmom09"')
    dry = run_export(store, moved, dry_run=True, now=LATER)
    assert dry.renamed == []
    assert [(line.canvas_user_id, line.component_code, line.status) for line in dry.lines] == [
        (1001, "2205", "withdrawn")]  # kmom01 has no assignment left: the explicit map wins
